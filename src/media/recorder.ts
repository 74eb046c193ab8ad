/**
 * Motion recording of one camera, copy only (no transcoding):
 *  - a segment ring: `ffmpeg -c copy -f segment -segment_wrap N -segment_list ring.csv` writes
 *    `ringNNN.ts` segments of ~2 s (cut at keyframes) in `<dir>/ring/`; finished segments are read
 *    from the list file (the ring overwrites: never list the folder);
 *  - on motion a clip opens: the finished segments of the last `preRoll` seconds are copied aside,
 *    then every segment that finishes while motion lasts and until `postRoll` seconds after the
 *    last motion; the copies are joined with the concat demuxer into one MP4 (`+faststart`).
 * A clip is at most `maxClipS` seconds: longer motion makes the next clip.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FFMPEG, Pipeline, PipelineStatus, rtspInput, spawnFfmpeg } from './ffmpeg';

export interface RecordedClip {
  file: string;
  start: number;
  end: number;
  size: number;
}

export interface RecorderOptions {
  name: string;
  /** the camera's media folder (ring/, clips/, work/ are made below it) */
  dir: string;
  /** the main stream URL with credentials */
  url: () => string;
  preRoll: () => number;
  postRoll: () => number;
  segmentSeconds?: number;
  maxClipS?: number;
  onStatus?: (s: PipelineStatus) => void;
  onClip: (clip: RecordedClip) => void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  now?: () => number;
}

interface Segment {
  file: string;
  wallStart: number;
  wallEnd: number;
}

interface OpenClip {
  id: string;
  dir: string;
  parts: Segment[];
  /** the last motion (ms); null while motion is on */
  motionOffAt: number | null;
  openedAt: number;
  from: number;
}

const WRAP = 60;

export class Recorder {
  readonly pipeline: Pipeline;
  private ring: Segment[] = [];
  private lastEnd = -1;
  private poll: NodeJS.Timeout | null = null;
  private clip: OpenClip | null = null;
  private motionOn = false;
  private finishing: Promise<void> = Promise.resolve();
  private readonly ringDir: string;
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly o: RecorderOptions) {
    this.ringDir = path.join(o.dir, 'ring');
    this.now = o.now ?? Date.now;
    const seg = String(o.segmentSeconds ?? 2);
    this.pipeline = new Pipeline({
      name: `camera ${o.name} record`,
      args: () => {
        fs.mkdirSync(this.ringDir, { recursive: true });
        fs.rmSync(path.join(this.ringDir, 'ring.csv'), { force: true });
        this.lastEnd = -1;
        this.ring = [];
        return [
          '-loglevel',
          'error',
          ...rtspInput(o.url()),
          '-map',
          '0:v:0',
          '-c',
          'copy',
          '-f',
          'segment',
          '-segment_time',
          seg,
          '-segment_format',
          'mpegts',
          '-segment_wrap',
          String(WRAP),
          '-segment_list',
          path.join(this.ringDir, 'ring.csv'),
          '-segment_list_type',
          'csv',
          '-segment_list_size',
          String(WRAP - 5),
          path.join(this.ringDir, 'ring%03d.ts'),
        ];
      },
      onStatus: (s) => {
        if (!s.running) this.streamStopped();
        o.onStatus?.(s);
      },
      log: o.log,
    });
  }

  get active(): boolean {
    return this.pipeline.active;
  }

  start(): void {
    if (this.pipeline.active) return;
    this.pipeline.start();
    this.poll = setInterval(() => this.readList(), 400);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    await this.pipeline.stop();
    this.streamStopped();
    await this.finishing;
  }

  /** Motion started (on) or ended (off) at ts. */
  motion(on: boolean, ts: number): void {
    this.motionOn = on;
    if (!this.pipeline.active) return;
    if (on) {
      if (!this.clip) this.openClip(ts);
      else this.clip.motionOffAt = null;
    } else if (this.clip) this.clip.motionOffAt = ts;
  }

  private openClip(ts: number): void {
    const from = ts - this.o.preRoll() * 1000;
    const id = `${ts}-${++this.seq}`;
    const dir = path.join(this.o.dir, 'work', id);
    fs.mkdirSync(dir, { recursive: true });
    this.clip = { id, dir, parts: [], motionOffAt: null, openedAt: ts, from };
    for (const s of this.ring) if (s.wallEnd > from) this.take(s);
  }

  private take(s: Segment): void {
    const c = this.clip!;
    const dst = path.join(c.dir, `part${String(c.parts.length).padStart(5, '0')}.ts`);
    try {
      fs.copyFileSync(path.join(this.ringDir, s.file), dst);
      c.parts.push({ ...s, file: dst });
    } catch (err) {
      this.o.log.warn(`camera ${this.o.name}: segment ${s.file} lost: ${(err as Error).message}`);
    }
  }

  /** Reads the segment list: new finished segments join the ring (and an open clip). */
  private readList(): void {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.ringDir, 'ring.csv'), 'utf8');
    } catch {
      return;
    }
    const now = this.now();
    for (const line of text.split('\n')) {
      const m = /^([^,]+),([\d.]+),([\d.]+)/.exec(line.trim());
      if (!m) continue;
      const start = Number(m[2]);
      const end = Number(m[3]);
      if (!(end > this.lastEnd)) continue;
      this.lastEnd = end;
      const seg: Segment = { file: path.basename(m[1]), wallStart: now - (end - start) * 1000, wallEnd: now };
      this.ring.push(seg);
      if (this.ring.length > WRAP - 10) this.ring.shift();
      this.pipeline.markRunning();
      if (this.clip) {
        this.take(seg);
        const c = this.clip;
        const over = c.motionOffAt !== null && seg.wallEnd >= c.motionOffAt + this.o.postRoll() * 1000;
        const tooLong = now - c.openedAt >= (this.o.maxClipS ?? 300) * 1000;
        if (over || tooLong) {
          this.finish();
          if (tooLong && this.motionOn) this.openClip(now);
        }
      }
    }
  }

  private streamStopped(): void {
    if (this.clip) this.finish();
  }

  private finish(): void {
    const c = this.clip;
    this.clip = null;
    if (!c) return;
    this.finishing = this.finishing.then(() => this.join(c)).catch((err) => this.o.log.error(`camera ${this.o.name}: clip failed: ${err.message}`));
  }

  private async join(c: OpenClip): Promise<void> {
    try {
      if (!c.parts.length) return;
      const clipsDir = path.join(this.o.dir, 'clips');
      fs.mkdirSync(clipsDir, { recursive: true });
      const start = c.parts[0].wallStart;
      const end = c.parts[c.parts.length - 1].wallEnd;
      const list = path.join(c.dir, 'list.txt');
      fs.writeFileSync(list, c.parts.map((p) => `file '${p.file.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
      const stamp = new Date(start).toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
      const out = path.join(clipsDir, `${this.o.name}-${stamp}-${c.id.split('-')[1]}.mp4`);
      const child = spawnFfmpeg(['-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', '-movflags', '+faststart', '-y', out], { bin: FFMPEG });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      const code = await new Promise<number | null>((resolve) => {
        child.once('error', () => resolve(-1));
        child.once('exit', (cd) => resolve(cd));
      });
      if (code !== 0 || !fs.existsSync(out)) throw new Error(`ffmpeg could not join the segments: ${err.trim().split('\n').pop() ?? code}`);
      this.o.onClip({ file: out, start, end, size: fs.statSync(out).size });
    } finally {
      fs.rmSync(c.dir, { recursive: true, force: true });
    }
  }
}
