/**
 * Live view of one camera without transcoding: ffmpeg copies the main stream into fragmented MP4
 * (`-movflags frag_keyframe+empty_moov+default_base_moof`, a fragment per keyframe), shared by
 * every viewer and running only while someone watches (stopped `lingerMs` after the last one
 * leaves). A viewer first gets a text message `{"mime":"video/mp4; codecs=\"avc1.PPCCLL\""}`, then
 * the init segment (ftyp + moov), then the fragments (moof + mdat) since the last keyframe (so the
 * first frame shows at once, even for a viewer joining a running stream), then each new fragment
 * (a keyframe or 200 ms of video) — what Media Source Extensions need.
 */
import { Mp4BoxSplitter, Pipeline, PipelineStatus, avcCodecOf, moofStartsWithKeyframe, rtspInput } from './ffmpeg';

export interface LiveViewer {
  sendText(text: string): void;
  sendBinary(data: Buffer): void;
  /** bytes queued and not yet sent (a viewer too slow is closed) */
  buffered(): number;
  close(reason: string): void;
}

export interface LiveOptions {
  name: string;
  url: () => string;
  onStatus?: (s: PipelineStatus) => void;
  log: { info(m: string): void; warn(m: string): void };
  lingerMs?: number;
}

const SLOW_VIEWER_BYTES = 8 * 1024 * 1024;

export class LiveStream {
  readonly pipeline: Pipeline;
  private viewers = new Map<LiveViewer, { started: boolean }>();
  private init: Buffer | null = null;
  private mime: string | null = null;
  private pendingMoof: Buffer | null = null;
  /** the fragments since the last one that starts with a keyframe: a new viewer starts with them */
  private gop: Buffer[] = [];
  private linger: NodeJS.Timeout | null = null;

  constructor(private readonly o: LiveOptions) {
    this.pipeline = new Pipeline({
      name: `camera ${o.name} live`,
      // a fragment at each keyframe and at least every 200 ms: a frame reaches the browser at once
      args: () => [
        '-loglevel',
        'error',
        '-fflags',
        'nobuffer',
        ...rtspInput(o.url(), { probe: 'live' }),
        '-map',
        '0:v:0',
        '-c',
        'copy',
        '-f',
        'mp4',
        '-movflags',
        'frag_keyframe+empty_moov+default_base_moof',
        '-frag_duration',
        '200000',
        'pipe:1',
      ],
      onStart: (child) => {
        this.init = null;
        this.mime = null;
        this.pendingMoof = null;
        this.gop = [];
        // a new ffmpeg makes a new init segment: viewers start over
        for (const st of this.viewers.values()) st.started = false;
        const split = new Mp4BoxSplitter((type, box) => this.box(type, box));
        child.stdout!.on('data', (d: Buffer) => split.push(d));
      },
      onStatus: o.onStatus,
      log: o.log,
    });
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  add(v: LiveViewer): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    this.viewers.set(v, { started: false });
    if (this.init && this.pipeline.active) this.begin(v);
    this.pipeline.start();
  }

  remove(v: LiveViewer): void {
    if (!this.viewers.delete(v)) return;
    if (this.viewers.size || this.linger) return;
    this.linger = setTimeout(() => {
      this.linger = null;
      if (this.viewers.size) return;
      // the next viewer gets the init segment of the next ffmpeg, never a stale one
      this.init = null;
      this.mime = null;
      void this.pipeline.stop();
    }, this.o.lingerMs ?? 5000);
    this.linger.unref();
  }

  async stop(): Promise<void> {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    for (const v of [...this.viewers.keys()]) v.close('camera stopped');
    this.viewers.clear();
    await this.pipeline.stop();
  }

  /** A viewer starts: the mime, the init segment and the fragments from the last keyframe (none before one). */
  private begin(v: LiveViewer): void {
    const st = this.viewers.get(v);
    if (!st || st.started || !this.init || !this.mime || !this.gop.length) return;
    v.sendText(JSON.stringify({ mime: this.mime }));
    v.sendBinary(this.init);
    for (const f of this.gop) v.sendBinary(f);
    st.started = true;
  }

  private box(type: string, box: Buffer): void {
    if (type === 'ftyp') {
      this.init = box;
      return;
    }
    if (type === 'moov') {
      this.init = this.init ? Buffer.concat([this.init, box]) : box;
      this.mime = `video/mp4; codecs="${avcCodecOf(box) ?? 'avc1.42e01e'}"`;
      this.pipeline.markRunning();
      return;
    }
    if (type === 'moof') {
      this.pendingMoof = box;
      return;
    }
    if (type === 'mdat' && this.pendingMoof) {
      const key = moofStartsWithKeyframe(this.pendingMoof);
      const frag = Buffer.concat([this.pendingMoof, box]);
      this.pendingMoof = null;
      if (key) this.gop = [frag];
      else if (this.gop.length && this.gop.length < 300) this.gop.push(frag);
      for (const [v, st] of this.viewers) {
        if (!st.started) {
          this.begin(v);
          continue; // begin() sent this fragment with the others
        }
        if (v.buffered() > SLOW_VIEWER_BYTES) {
          this.viewers.delete(v);
          v.close('too slow');
          continue;
        }
        v.sendBinary(frag);
      }
    }
  }
}
