#!/usr/bin/python3
"""A synthetic RTSP camera for tests, the demo mode and benchmarks (GStreamer's RTSP server).

Serves rtsp://127.0.0.1:<port>/<path> (H.264 baseline over RTP; clients use TCP) from
videotestsrc, or a still picture (--image file.png) frozen into a live stream. In image mode the
picture stands in front of an empty scene (a plain grey background): `show off` (or --hidden at
start) leaves the empty scene, `show on` puts the picture back — a person holding up a code to
the camera, a real change of the scene (motion) that the camera's detector sees.

Control: one command per line on stdin; the server quits when stdin closes (so it never outlives
its parent):
  motion on | motion off   the test pattern scrolls (motion) or stands still
  show on | show off       image mode: the picture in front of the empty scene, or the empty scene
  quit                     stop serving (a stream that ends mid-way)
Prints `READY <port>` on stdout once it listens, `OK <command>` after each command, and
`CHANGE motion on|off <ms>` (time.monotonic() in ms) when the first frame that moves / stands still
leaves the source (a motion command takes effect at the next frame: honest latency measurements
start there). H.264 goes out access unit aligned, so the payloader sends a frame's last packets at
once instead of holding them until the next frame (200 ms at 5 fps).

Options: --port N (0 = any free port), --path /cam, --size 640x360, --fps 5, --user U --password P
(RTSP basic auth: a wrong password is refused with 401), --image file.png, --hidden (image mode:
start with the empty scene), --motion (start moving), --bitrate kbit/s.
"""
import argparse
import sys
import threading
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

SPEED = 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--path', default='/cam')
    ap.add_argument('--size', default='640x360')
    ap.add_argument('--fps', type=int, default=5)
    ap.add_argument('--user')
    ap.add_argument('--password')
    ap.add_argument('--image')
    ap.add_argument('--hidden', action='store_true')
    ap.add_argument('--motion', action='store_true')
    ap.add_argument('--bitrate', type=int, default=800)
    a = ap.parse_args()
    w, h = a.size.split('x')
    Gst.init(None)
    state = {'moving': a.motion, 'sources': [], 'shown': not a.hidden, 'pictures': [], 'pending': set(), 'announce': None}

    caps = 'video/x-raw,width=%s,height=%s,framerate=%d/1' % (w, h, a.fps)
    enc = ('x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=%d ! video/x-h264,profile=baseline,stream-format=byte-stream,alignment=au ! '
           'rtph264pay name=pay0 pt=96 config-interval=1' % (a.fps, a.bitrate))
    if a.image:
        # the empty scene (sink_0) and the picture (sink_1, alpha 1 shown / 0 hidden) mixed live
        src = ('compositor name=mix background=black ! %s ! videoconvert ! video/x-raw,format=I420 ! %s '
               'videotestsrc is-live=true pattern=solid-color foreground-color=0xff6e6e6e ! %s ! mix.sink_0 '
               'filesrc location="%s" ! decodebin ! videoconvert ! videoscale ! video/x-raw,width=%s,height=%s ! '
               'imagefreeze is-live=true ! videorate ! %s ! mix.sink_1 ' % (caps, enc, caps, a.image, w, h, caps))
    else:
        src = ('videotestsrc name=src is-live=true pattern=smpte75 horizontal-speed=%d ! %s ! ' % (SPEED if a.motion else 0, caps))
    launch = '( %s )' % src if a.image else '( %s%s )' % (src, enc)

    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    # one media per client: a client joining a shared media restarts its timestamps (a PLAY seeks),
    # which a real camera never does to the clients already watching
    factory.set_shared(False)
    gi.require_version('GstRtsp', '1.0')
    from gi.repository import GstRtsp
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    def on_configure(_factory, media):
        mix = media.get_element().get_by_name('mix')
        if mix is not None:
            pad = mix.get_static_pad('sink_1')
            if pad is not None:
                pad.set_property('alpha', 1.0 if state['shown'] else 0.0)
                state['pictures'].append(pad)
                media.connect('unprepared', lambda _m: pad in state['pictures'] and state['pictures'].remove(pad))
        el = media.get_element().get_by_name('src')
        if el is not None:
            el.set_property('horizontal-speed', SPEED if state['moving'] else 0)
            state['sources'].append(el)
            el.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, lambda _pad, _info: on_frame(el))
            media.connect('unprepared', lambda _m: (state['pending'].discard(el), el in state['sources'] and state['sources'].remove(el)))

    def on_frame(el):
        # runs as a frame leaves the source (after the live clock wait). A speed change is applied
        # here, so the next frame filled is the first one that moves (or stands still); when that
        # frame leaves, `CHANGE motion on|off <ms>` (CLOCK_MONOTONIC) tells when the picture changed
        ann = state['announce']
        if ann is not None and el in ann[1]:
            state['announce'] = None
            print('CHANGE %s %.1f' % (ann[0], time.monotonic() * 1000), flush=True)
        if el in state['pending']:
            state['pending'].discard(el)
            el.set_property('horizontal-speed', SPEED if state['moving'] else 0)
            if state['announce'] is None or state['announce'][0] != ('motion on' if state['moving'] else 'motion off'):
                state['announce'] = ('motion on' if state['moving'] else 'motion off', set())
            state['announce'][1].add(el)
        return Gst.PadProbeReturn.OK

    factory.connect('media-configure', on_configure)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string('media.factory.role', 'user')
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password or ''), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role('user', 'media.factory.access', True)
        perms.add_permission_for_role('user', 'media.factory.construct', True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(a.path, factory)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print('ERROR cannot listen', flush=True)
        sys.exit(2)
    print('READY %d' % server.get_bound_port(), flush=True)

    def command(line):
        line = line.strip()
        if line in ('motion on', 'motion off'):
            state['moving'] = line == 'motion on'
            # applied by on_frame as the current frame leaves the source
            state['pending'].update(state['sources'])
        elif line in ('show on', 'show off'):
            state['shown'] = line == 'show on'
            for pad in state['pictures']:
                pad.set_property('alpha', 1.0 if state['shown'] else 0.0)
        elif line == 'quit':
            loop.quit()
            return False
        print('OK %s' % line, flush=True)
        return False

    def read_stdin():
        for line in sys.stdin:
            GLib.idle_add(command, line)
        GLib.idle_add(loop.quit)

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        loop.run()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
