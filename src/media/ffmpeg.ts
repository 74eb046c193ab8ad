/**
 * Supervised ffmpeg processes (one per camera and purpose: detect, record, live).
 *
 * No orphan ffmpeg, whatever happens to gatepost:
 *  - each ffmpeg runs in its own process group (detached) and is stopped by signalling the group
 *    (SIGTERM, then SIGKILL after a grace period);
 *  - it is started through `setpriv --pdeathsig KILL` (util-linux), so the kernel kills it when the
 *    gatepost process dies, even by SIGKILL (no handler runs then);
 *  - the process' 'exit' handler kills every group still running (a crash, process.exit);
 *  - `-nostdin`: ffmpeg never reads the terminal.
 *
 * A pipeline restarts with a backoff (1 s, 2 s, 4 s … 30 s; back to 1 s after a minute of running)
 * when ffmpeg exits, and turns ffmpeg's stderr into a readable reason (`ffmpegReason`).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import type { Readable } from 'stream';
import { redactUrl } from '../devices/http';

export const FFMPEG = process.env.GATEPOST_FFMPEG || 'ffmpeg';
export const FFPROBE = process.env.GATEPOST_FFPROBE || 'ffprobe';

let setprivOk: boolean | null = null;
/** util-linux setpriv with --pdeathsig (Linux): the parent-death watchdog. */
export function hasSetpriv(): boolean {
  if (setprivOk === null) {
    try {
      setprivOk = process.platform === 'linux' && spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }).status === 0;
    } catch {
      setprivOk = false;
    }
  }
  return setprivOk;
}

/** Process groups started here and still running (killed on exit). */
const LIVE = new Set<number>();
let exitHooked = false;
function track(pid: number): void {
  LIVE.add(pid);
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const p of LIVE) killGroup(p, 'SIGKILL');
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** The pids of the ffmpeg processes this process runs now (tests, /api). */
export function runningFfmpeg(): number[] {
  return [...LIVE];
}

/** Spawns ffmpeg (own process group, parent-death signal, -nostdin added). Extra fds: `extraPipes` (fd 3, 4, …). */
export function spawnFfmpeg(args: string[], opts: { extraPipes?: number; bin?: string } = {}): ChildProcess {
  const bin = opts.bin ?? FFMPEG;
  const full = ['-hide_banner', '-nostdin', ...args];
  const stdio: Array<'pipe' | 'ignore'> = ['ignore', 'pipe', 'pipe'];
  for (let i = 0; i < (opts.extraPipes ?? 0); i++) stdio.push('pipe');
  const child = hasSetpriv() ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...full], { detached: true, stdio }) : spawn(bin, full, { detached: true, stdio });
  if (child.pid) {
    const pid = child.pid;
    track(pid);
    child.once('exit', () => LIVE.delete(pid));
  }
  return child;
}

/** Stops a child's process group: SIGTERM, SIGKILL after `graceMs`; resolves when it exited. */
export function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const t = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
    t.unref();
    child.once('exit', () => {
      clearTimeout(t);
      // anything left in the group (there should be nothing)
      killGroup(pid, 'SIGKILL');
      resolve();
    });
    killGroup(pid, 'SIGTERM');
  });
}

/** ffmpeg's input options for an RTSP camera (TCP, 5 s socket timeout, a quick probe). */
export function rtspInput(url: string, opts: { fastProbe?: boolean } = {}): string[] {
  const a = ['-rtsp_transport', 'tcp', '-timeout', '5000000'];
  if (opts.fastProbe !== false) a.push('-analyzeduration', '500000', '-probesize', '500000');
  a.push('-i', url);
  return a;
}

/** An RTSP URL with the camera's user/password put in (encoded); the URL's own stay when none are given. */
export function withCredentials(url: string, user?: string, password?: string): string {
  if (!user && !password) return url;
  try {
    const u = new URL(url);
    if (user) u.username = encodeURIComponent(user);
    if (password) u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    return url;
  }
}

/** A readable reason from ffmpeg's stderr lines (the last telling one), URLs and passwords removed. */
export function ffmpegReason(stderr: string, exitCode: number | null): string {
  const s = stderr.toLowerCase();
  if (/401 unauthorized|authorization failed|403 forbidden/.test(s)) return 'camera refused the password';
  if (/connection refused/.test(s)) return 'no answer (connection refused)';
  if (/connection timed out|operation timed out|timed out|timeout/.test(s)) return 'no answer (timed out)';
  if (/no route to host|network is unreachable|name or service not known|temporary failure in name resolution/.test(s)) return 'no answer (host unreachable)';
  if (/404 not found|stream not found/.test(s)) return 'no such stream on the camera (404)';
  if (/invalid data found|could not find codec parameters|does not contain any stream/.test(s)) return 'the camera sends no usable video';
  if (/no such file or directory|permission denied/.test(s) && /\.(ts|csv|mp4)/.test(s)) return 'cannot write the recording folder';
  if (/end of file|connection reset|broken pipe|error number -10054|stream ends prematurely/.test(s)) return 'stream ended';
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (last) return redactText(last).slice(0, 160);
  return exitCode === 0 ? 'stream ended' : `ffmpeg exited (code ${exitCode})`;
}

/** Any rtsp://user:pass@ or http URL in a text with its password hidden. */
export function redactText(text: string): string {
  return text.replace(/\b(rtsps?|https?):\/\/[^\s'"]+/gi, (u) => redactUrl(u));
}

export interface PipelineStatus {
  running: boolean;
  restarts: number;
  lastError: string | null;
}

export interface PipelineOptions {
  name: string;
  /** the ffmpeg arguments of each start (read again at every start) */
  args: () => string[];
  extraPipes?: number;
  /** a started child: attach to its stdout / extra pipes */
  onStart?: (child: ChildProcess) => void;
  /** the status changed (running, restarts, lastError) */
  onStatus?: (s: PipelineStatus) => void;
  log?: { info(m: string): void; warn(m: string): void };
  /** backoff ms: first, max (default 1000, 30000) */
  backoff?: [number, number];
}

/** One supervised ffmpeg: start(), stop(), restart(); restarted with backoff when it exits. */
export class Pipeline {
  private child: ChildProcess | null = null;
  private wanted = false;
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  private startedAt = 0;
  private stderrTail = '';
  private ranThisTime = false;
  readonly status: PipelineStatus = { running: false, restarts: 0, lastError: null };

  constructor(private readonly opts: PipelineOptions) {
    this.delay = (opts.backoff ?? [1000, 30000])[0];
  }

  get active(): boolean {
    return this.wanted;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.spawn();
  }

  /** ffmpeg gave its first output: the pipeline runs. */
  markRunning(): void {
    this.ranThisTime = true;
    if (this.status.running) return;
    this.status.running = true;
    this.status.lastError = null;
    this.emit();
  }

  async stop(): Promise<void> {
    this.wanted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.child;
    this.child = null;
    if (c) await stopChild(c);
    if (this.status.running) {
      this.status.running = false;
      this.emit();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    this.delay = (this.opts.backoff ?? [1000, 30000])[0];
    this.start();
  }

  private emit(): void {
    this.opts.onStatus?.({ ...this.status });
  }

  private spawn(): void {
    this.timer = null;
    if (!this.wanted) return;
    this.stderrTail = '';
    let child: ChildProcess;
    try {
      child = spawnFfmpeg(this.opts.args(), { extraPipes: this.opts.extraPipes });
    } catch (err) {
      this.exited(`cannot start ffmpeg: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    child.on('error', (err) => {
      // ENOENT: no ffmpeg (or setpriv) installed
      if (this.child === child) {
        this.child = null;
        this.exited(`cannot start ffmpeg: ${err.message}`);
      }
    });
    (child.stderr as Readable).on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    for (const s of [child.stdout, ...child.stdio.slice(3)]) (s as Readable | null)?.on('error', () => undefined);
    this.opts.onStart?.(child);
    const runStarted = Date.now();
    this.ranThisTime = false;
    child.once('exit', (code) => {
      if (this.child !== child) return; // stopped on purpose
      this.child = null;
      let reason = ffmpegReason(this.stderrTail, code);
      // a server that accepts and then says nothing: ffmpeg gives up after its 5 s socket timeout
      // with "Invalid data found" — no answer rather than bad video
      if (!this.ranThisTime && reason === 'the camera sends no usable video' && Date.now() - runStarted >= 4500) reason = 'no answer (timed out)';
      this.exited(reason);
    });
  }

  private exited(reason: string): void {
    const [first, max] = this.opts.backoff ?? [1000, 30000];
    if (Date.now() - this.startedAt > 60_000) this.delay = first;
    this.status.running = false;
    this.status.lastError = reason;
    this.status.restarts++;
    this.emit();
    if (!this.wanted) return;
    this.opts.log?.warn(`${this.opts.name}: ${reason}; restarting in ${Math.round(this.delay / 1000)} s`);
    this.timer = setTimeout(() => this.spawn(), this.delay);
    this.timer.unref();
    this.delay = Math.min(max, this.delay * 2);
  }
}

/** Splits a byte stream into JPEG images (SOI … EOI), as ffmpeg's image2pipe mjpeg writes them. */
export class JpegSplitter {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onImage: (jpeg: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const start = this.buf.indexOf(SOI);
      if (start < 0) {
        this.buf = Buffer.alloc(0);
        return;
      }
      const end = this.buf.indexOf(EOI, start + 2);
      if (end < 0) {
        if (start > 0) this.buf = this.buf.subarray(start);
        if (this.buf.length > 20 * 1024 * 1024) this.buf = Buffer.alloc(0);
        return;
      }
      this.onImage(Buffer.from(this.buf.subarray(start, end + 2)));
      this.buf = this.buf.subarray(end + 2);
    }
  }
}
const SOI = Buffer.from([0xff, 0xd8, 0xff]);
const EOI = Buffer.from([0xff, 0xd9]);

/** Splits an MP4 byte stream into top-level boxes (size + type), for the live view's fMP4. */
export class Mp4BoxSplitter {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onBox: (type: string, box: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      let size = this.buf.readUInt32BE(0);
      let header = 8;
      if (size === 1) {
        if (this.buf.length < 16) return;
        size = Number(this.buf.readBigUInt64BE(8));
        header = 16;
      }
      if (size < header) {
        // not MP4 (or lost sync): drop what we have
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < size) return;
      const type = this.buf.toString('latin1', 4, 8);
      this.onBox(type, Buffer.from(this.buf.subarray(0, size)));
      this.buf = this.buf.subarray(size);
    }
  }
}

/** The RFC 6381 codec string of an fMP4 init segment's H.264 track (`avc1.PPCCLL`), or null. */
export function avcCodecOf(init: Buffer): string | null {
  const i = init.indexOf('avcC', 0, 'latin1');
  if (i < 0 || i + 8 > init.length) return null;
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}`;
}
