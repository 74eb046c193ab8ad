/**
 * Live view of one camera without transcoding: ffmpeg copies the main stream into fragmented MP4
 * (`-movflags frag_keyframe+empty_moov+default_base_moof`, a fragment per keyframe), shared by
 * every viewer and running only while someone watches (stopped `lingerMs` after the last one
 * leaves). A viewer first gets a text message `{"mime":"video/mp4; codecs=\"avc1.PPCCLL\""}`, then
 * the init segment (ftyp + moov), then whole fragments (moof + mdat) from the next keyframe on —
 * what Media Source Extensions need.
 */
import { Mp4BoxSplitter, Pipeline, PipelineStatus, avcCodecOf, rtspInput } from './ffmpeg';

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
  private linger: NodeJS.Timeout | null = null;

  constructor(private readonly o: LiveOptions) {
    this.pipeline = new Pipeline({
      name: `camera ${o.name} live`,
      args: () => ['-loglevel', 'error', '-fflags', 'nobuffer', ...rtspInput(o.url()), '-map', '0:v:0', '-c', 'copy', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1'],
      onStart: (child) => {
        this.init = null;
        this.mime = null;
        this.pendingMoof = null;
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
    if (this.init) this.begin(v);
    this.pipeline.start();
  }

  remove(v: LiveViewer): void {
    if (!this.viewers.delete(v)) return;
    if (this.viewers.size || this.linger) return;
    this.linger = setTimeout(() => {
      this.linger = null;
      if (!this.viewers.size) void this.pipeline.stop();
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

  private begin(v: LiveViewer): void {
    const st = this.viewers.get(v);
    if (!st || !this.init || !this.mime) return;
    v.sendText(JSON.stringify({ mime: this.mime }));
    v.sendBinary(this.init);
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
      for (const v of this.viewers.keys()) this.begin(v);
      return;
    }
    if (type === 'moof') {
      this.pendingMoof = box;
      return;
    }
    if (type === 'mdat' && this.pendingMoof) {
      const frag = Buffer.concat([this.pendingMoof, box]);
      this.pendingMoof = null;
      for (const [v, st] of this.viewers) {
        if (!st.started) this.begin(v);
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
