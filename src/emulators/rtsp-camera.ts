/**
 * A synthetic RTSP camera on 127.0.0.1: Debian's GStreamer RTSP server through python3-gi
 * (rtsp_camera.py beside this file, run with /usr/bin/python3), H.264 baseline 640×360 @ 5 fps,
 * a keyframe a second. Motion is switched on demand (`motion(true)`: the test pattern scrolls);
 * optional RTSP basic auth (a wrong password gets 401); an image mode streams a still picture
 * (a QR code PNG …) in front of an empty grey scene: `show(false)` (or `hidden: true` at start)
 * leaves the empty scene, `show(true)` brings the picture in — a guest holding up a code, a real
 * scene change the camera's motion detector sees. Used by tests, the demo mode and the benchmarks.
 *
 *   const cam = await startRtspCamera({ user: 'u', password: 'p' });
 *   cam.url          // rtsp://127.0.0.1:<port>/cam (no credentials)
 *   await cam.motion(true);
 *   await cam.close();   // the server quits (also when this process dies: it reads our pipe)
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const PYTHON = '/usr/bin/python3';
export const RTSP_CAMERA_SCRIPT = path.join(__dirname, 'rtsp_camera.py');

export interface RtspCameraOptions {
  port?: number;
  path?: string;
  size?: string;
  fps?: number;
  user?: string;
  password?: string;
  /** a picture file (PNG/JPEG) streamed as a still */
  image?: string;
  /** image mode: start with the empty scene (the picture comes with show(true)) */
  hidden?: boolean;
  /** start with motion */
  moving?: boolean;
  bitrate?: number;
}

export interface RtspCamera {
  url: string;
  port: number;
  proc: ChildProcess;
  motion(on: boolean): Promise<void>;
  /**
   * When the picture last changed after `motion()`: the moment (ms on `monotonicMs()`'s clock) the
   * first frame that moves (on) or stands still (off) left the camera's source — the honest start of
   * motion for latency measurements (the command itself takes effect at the next frame, up to one
   * frame interval later). null until a change was seen.
   */
  lastChange: { on: boolean; at: number } | null;
  /** resolves with the time (monotonicMs) of the next picture change to `on` */
  nextChange(on: boolean): Promise<number>;
  /** image mode: the picture in front of the empty scene (true) or the empty scene only (false) */
  show(on: boolean): Promise<void>;
  /** stops serving (a stream that ends mid-way); resolves when the server exited */
  close(): Promise<void>;
}

/** CLOCK_MONOTONIC in ms — the clock of `RtspCamera.lastChange` (the camera prints Python's time.monotonic()). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

let available: string | null | undefined;
/** null when the GStreamer RTSP server can run here, else why not. */
export function rtspCameraUnavailable(): string | null {
  if (available !== undefined) return available;
  if (!fs.existsSync(PYTHON)) return (available = `${PYTHON} not found`);
  const r = spawnSync(PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { timeout: 15000, encoding: 'utf8' });
  available = r.status === 0 ? null : 'GStreamer RTSP server not installed (python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly …)';
  return available;
}

export async function startRtspCamera(opts: RtspCameraOptions = {}): Promise<RtspCamera> {
  const args = [RTSP_CAMERA_SCRIPT, '--port', String(opts.port ?? 0), '--path', opts.path ?? '/cam', '--size', opts.size ?? '640x360', '--fps', String(opts.fps ?? 5)];
  if (opts.user) args.push('--user', opts.user, '--password', opts.password ?? '');
  if (opts.image) args.push('--image', opts.image);
  if (opts.image && opts.hidden) args.push('--hidden');
  if (opts.moving) args.push('--motion');
  if (opts.bitrate) args.push('--bitrate', String(opts.bitrate));
  const proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  const changeWaiters: Array<{ on: boolean; resolve: (at: number) => void }> = [];
  let cam: RtspCamera | null = null;
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^CHANGE motion (on|off) ([\d.]+)/.exec(line);
      if (!m || !cam) continue;
      const change = { on: m[1] === 'on', at: Number(m[2]) };
      cam.lastChange = change;
      for (const w of changeWaiters.filter((x) => x.on === change.on)) {
        changeWaiters.splice(changeWaiters.indexOf(w), 1);
        w.resolve(change.at);
      }
    }
    for (const w of [...waiters]) {
      if (w.test()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  proc.stdin!.on('error', () => undefined);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`RTSP camera did not start: ${err.trim().slice(-500)}`)), 20000);
    const check = () => {
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`RTSP camera exited (${code}): ${err.trim().slice(-500)}`));
    });
  });
  const command = (line: string) =>
    new Promise<void>((resolve) => {
      const want = countOf(out, `OK ${line}\n`) + 1;
      waiters.push({ test: () => countOf(out, `OK ${line}\n`) >= want, resolve });
      proc.stdin!.write(`${line}\n`);
    });
  cam = {
    url: `rtsp://127.0.0.1:${port}${opts.path ?? '/cam'}`,
    port,
    proc,
    lastChange: null,
    nextChange: (on) => new Promise<number>((resolve) => changeWaiters.push({ on, resolve })),
    motion: (on) => command(on ? 'motion on' : 'motion off'),
    show: (on) => command(on ? 'show on' : 'show off'),
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin!.end();
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  return cam;
}

function countOf(s: string, sub: string): number {
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}
