/**
 * `camerasOf(hub)`: the cameras of a runtime (one per `camera` config node) and their ffmpeg
 * pipelines:
 *  - detect: the sub-stream (or the main stream) decoded to 160×90 gray frames at 5 fps on stdout
 *    (motion by `MotionDetector`, src/core/motion.ts) and a JPEG per second on fd 3 (the latest
 *    snapshot; 'camera-frame' while motion lasts — with a sub-stream, a fourth ffmpeg reads a JPEG a
 *    second from the main stream while motion lasts, so the frames are full resolution);
 *  - record: the copy-only segment ring and motion clips (recorder.ts), while recording is on;
 *  - live: fMP4 for the browser (live.ts), only while someone watches.
 * Emits 'camera-state' (online / offline + reason, motion, recording, pipelines), 'camera-motion'
 * (the snapshot at the start), 'camera-frame', 'clip-ready'; listens to 'upload-state'. A camera
 * offline sets `degradedOf(hub)` `camera:<name>`. Motion starts are recorded as access events of
 * kind `motion` (decision 'repeat': no passage, no refusal). Recording on/off and pre/post-roll
 * persist in sqlite (camera_settings); clips in camera_clips, kept by age and size.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Hub, Service } from '../services/hub';
import { degradedOf } from '../services/degraded';
import { eventsOf } from '../services/events-service';
import { MotionDetector, Polygon } from '../core/motion';
import type { CameraPipeline, CameraState } from '../core/contracts';
import { CameraStore, ClipRow, ClipUpload } from '../store/camera-store';
import { JpegSplitter, Pipeline, PipelineStatus, rtspInput, withCredentials } from './ffmpeg';
import { Recorder } from './recorder';
import { LiveStream } from './live';
import { redactUrl } from '../devices/http';

/** A camera name: one MQTT topic level, also a file name. */
export const CAMERA_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const CAMERA_NAME_TEXT = 'letters, digits, _ and - (1–64; one MQTT topic level)';
export const PIPELINES: readonly CameraPipeline[] = ['detect', 'record', 'live'];
/** a running detect pipeline without a frame this long is restarted */
const STALL_MS = 15_000;
/** pre-roll / post-roll limits (s) */
export const ROLL_LIMITS = { preRoll: [0, 60], postRoll: [0, 300] } as const;

export interface CameraDef {
  name: string;
  title?: string;
  url: string;
  subUrl?: string;
  user?: string;
  password?: string;
  enabled: boolean;
  /** the ftp-target config node's id, or null */
  ftp: string | null;
  detect: { pixelThreshold: number; minArea: number; mask: Polygon[]; cooldownMs: number; width?: number; height?: number; fps?: number };
  /** defaults until a guard changes them */
  preRoll: number;
  postRoll: number;
  recording: boolean;
  retention: { maxAgeDays: number; maxSizeMb: number };
}

/** What GET /api/cameras lists per camera. */
export interface CameraView {
  name: string;
  title: string;
  enabled: boolean;
  online: boolean;
  reason: string | null;
  motion: boolean;
  recording: boolean;
  preRoll: number;
  postRoll: number;
  lastMotionAt: number | null;
  ftp: string | null;
  viewers: number;
  pipelines: Record<CameraPipeline, PipelineStatus>;
}

export interface ClipView {
  id: number;
  start: number;
  end: number;
  size: number;
  upload: ClipUpload;
  remotePath: string | null;
}

export class CameraError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class Camera {
  detector: MotionDetector;
  detect: Pipeline;
  recorder: Recorder;
  live: LiveStream;
  /** with a sub-stream: the main stream's JPEGs (one a second) while motion lasts, for 'camera-frame' */
  mainFrames: Pipeline | null = null;
  online = false;
  reason: string | null = 'starting';
  motion = false;
  lastMotionAt: number | null = null;
  recording: boolean;
  preRoll: number;
  postRoll: number;
  latestJpeg: Buffer | null = null;
  frames = 0;
  lastFrameAt = 0;
  stopped = false;
  private watchdog: NodeJS.Timeout | null = null;
  readonly width: number;
  readonly height: number;

  constructor(
    readonly def: CameraDef,
    readonly owner: string,
    private readonly svc: CameraService,
    mediaDir: string,
  ) {
    const log = svc.log;
    this.width = def.detect.width ?? 160;
    this.height = def.detect.height ?? 90;
    const fps = def.detect.fps ?? 5;
    this.recording = def.recording;
    this.preRoll = def.preRoll;
    this.postRoll = def.postRoll;
    this.detector = new MotionDetector({
      width: this.width,
      height: this.height,
      pixelThreshold: def.detect.pixelThreshold,
      minArea: def.detect.minArea,
      cooldownMs: def.detect.cooldownMs,
      mask: def.detect.mask,
    });
    const main = () => withCredentials(def.url, def.user, def.password);
    const frameSize = this.width * this.height;
    this.detect = new Pipeline({
      name: `camera ${def.name} detect`,
      extraPipes: 1,
      args: () => [
        '-loglevel',
        'error',
        // no frame held back: one decoding thread (frame threads delay by a frame each), no input buffering
        '-threads',
        '1',
        '-flags',
        'low_delay',
        '-fflags',
        'nobuffer',
        ...rtspInput(withCredentials(def.subUrl || def.url, def.user, def.password)),
        '-map',
        '0:v:0',
        '-an',
        '-vf',
        // at most `fps` frames a second; select passes a frame at once (the fps filter holds one back)
        `select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${(1 / fps - 0.02).toFixed(3)})',scale=${this.width}:${this.height},format=gray`,
        '-fps_mode',
        'passthrough',
        '-f',
        'rawvideo',
        'pipe:1',
        '-map',
        '0:v:0',
        '-an',
        '-vf',
        'fps=1',
        '-q:v',
        '5',
        '-f',
        'image2pipe',
        '-c:v',
        'mjpeg',
        'pipe:3',
      ],
      onStart: (child) => {
        this.detector.reset();
        let pending: Buffer = Buffer.alloc(0);
        child.stdout!.on('data', (d: Buffer) => {
          pending = pending.length ? Buffer.concat([pending, d]) : d;
          while (pending.length >= frameSize) {
            this.frame(pending.subarray(0, frameSize));
            pending = pending.subarray(frameSize);
          }
        });
        const jpegs = new JpegSplitter((j) => this.jpeg(j));
        (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => jpegs.push(d));
      },
      onStatus: (s) => this.detectStatus(s),
      log,
    });
    if (def.subUrl) {
      this.mainFrames = new Pipeline({
        name: `camera ${def.name} frames`,
        args: () => [
          '-loglevel',
          'error',
          '-threads',
          '1',
          ...rtspInput(main()),
          '-map',
          '0:v:0',
          '-an',
          '-vf',
          "select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.98)'",
          '-fps_mode',
          'passthrough',
          '-q:v',
          '4',
          '-f',
          'image2pipe',
          '-c:v',
          'mjpeg',
          'pipe:1',
        ],
        onStart: (child) => {
          const jpegs = new JpegSplitter((j) => {
            this.mainFrames?.markRunning();
            if (this.motion) this.svc.hub.emit('camera-frame', { camera: def.name, ts: this.svc.hub.clock.now(), jpeg: j });
          });
          child.stdout!.on('data', (d: Buffer) => jpegs.push(d));
        },
        log,
      });
    }
    const dir = path.join(mediaDir, def.name);
    this.recorder = new Recorder({
      name: def.name,
      dir,
      url: main,
      preRoll: () => this.preRoll,
      postRoll: () => this.postRoll,
      onStatus: () => svc.publish(this),
      onClip: (c) => svc.clipDone(this, c),
      log,
    });
    this.live = new LiveStream({ name: def.name, url: main, onStatus: () => svc.publish(this), log });
  }

  start(): void {
    if (!this.def.enabled) {
      this.reason = 'disabled';
      this.svc.publish(this);
      return;
    }
    this.detect.start();
    if (this.recording) this.recorder.start();
    this.svc.publish(this);
    // a stream that stalls without closing (the camera hangs): ffmpeg would wait forever
    this.watchdog = setInterval(() => {
      if (this.detect.status.running && Date.now() - this.lastFrameAt > STALL_MS) {
        this.svc.log.warn(`camera ${this.def.name}: no video for ${STALL_MS / 1000} s; detect restarted`);
        void this.detect.restart().then(() => (this.detect.status.lastError = `no video for ${STALL_MS / 1000} s`));
      }
    }, 5000);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await Promise.all([this.detect.stop(), this.recorder.stop(), this.live.stop(), this.mainFrames?.stop()]);
    if (this.motion) this.setMotion(false, this.svc.hub.clock.now());
  }

  private detectStatus(s: PipelineStatus): void {
    if (this.stopped) return;
    if (s.running) {
      this.online = true;
      this.reason = null;
    } else {
      this.online = false;
      this.reason = s.lastError ?? 'stopped';
      if (this.detector.stop() === 'end') this.setMotion(false, this.svc.hub.clock.now());
    }
    this.svc.publish(this);
  }

  private frame(f: Buffer): void {
    this.frames++;
    this.lastFrameAt = Date.now();
    if (this.frames === 1 || !this.detect.status.running) this.detect.markRunning();
    const ts = this.svc.hub.clock.now();
    const r = this.detector.push(f, ts);
    if (r.edge) this.setMotion(r.edge === 'start', ts);
  }

  private jpeg(j: Buffer): void {
    this.latestJpeg = j;
    // with a sub-stream the full-resolution frames come from the main stream (mainFrames)
    if (this.motion && !this.mainFrames) this.svc.hub.emit('camera-frame', { camera: this.def.name, ts: this.svc.hub.clock.now(), jpeg: j });
  }

  setMotion(on: boolean, ts: number): void {
    if (this.motion === on) return;
    this.motion = on;
    if (on) this.lastMotionAt = ts;
    this.recorder.motion(on, ts);
    if (on && !this.stopped) this.mainFrames?.start();
    else void this.mainFrames?.stop();
    this.svc.motion(this, on, ts);
  }

  view(): CameraView {
    return {
      name: this.def.name,
      title: this.def.title || this.def.name,
      enabled: this.def.enabled,
      online: this.online,
      reason: this.reason,
      motion: this.motion,
      recording: this.recording,
      preRoll: this.preRoll,
      postRoll: this.postRoll,
      lastMotionAt: this.lastMotionAt,
      ftp: this.def.ftp,
      viewers: this.live.viewerCount,
      pipelines: { detect: { ...this.detect.status }, record: { ...this.recorder.pipeline.status }, live: { ...this.live.pipeline.status } },
    };
  }
}

export class CameraService implements Service {
  private cameras = new Map<string, Camera>();
  private store: CameraStore | null = null;
  private offUpload: (() => void) | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  readonly mediaDir: string;

  constructor(readonly hub: Hub) {
    const db = hub.options.dbPath;
    this.mediaDir = process.env.GATEPOST_MEDIA_DIR || (db === ':memory:' ? path.join(os.tmpdir(), `gatepost-media-${process.pid}`) : path.join(path.dirname(path.resolve(db)), 'media'));
    this.offUpload = hub.on('upload-state', (u) => {
      if (u.clipId === null || u.clipId === undefined) return;
      this.store?.setUpload(u.clipId, u.state, u.remotePath, u.error).catch((err) => this.log.warn(`clip ${u.clipId}: upload state not saved: ${err.message}`));
    });
    this.retentionTimer = setInterval(() => void this.retention().catch(() => undefined), 10 * 60_000);
    this.retentionTimer.unref();
  }

  get log() {
    return this.hub.logger;
  }

  async init(): Promise<void> {
    this.store = new CameraStore(await this.hub.db());
  }

  private async storeOf(): Promise<CameraStore> {
    if (!this.store) this.store = new CameraStore(await this.hub.db());
    return this.store;
  }

  /** Starts (or replaces) the camera of a config node. A name taken by another node is refused (409). */
  async define(def: CameraDef, owner: string): Promise<void> {
    if (!CAMERA_NAME.test(def.name)) throw new CameraError(400, `camera name "${def.name}" must be ${CAMERA_NAME_TEXT}`);
    const cur = this.cameras.get(def.name);
    if (cur && cur.owner !== owner) throw new CameraError(409, `camera "${def.name}" is already defined by another camera node`);
    if (cur) await this.remove(def.name, owner);
    const cam = new Camera(def, owner, this, this.mediaDir);
    this.cameras.set(def.name, cam);
    const saved = await (await this.storeOf()).settings(def.name).catch(() => null);
    if (saved?.recording !== null && saved?.recording !== undefined) cam.recording = saved.recording;
    if (saved?.preRoll !== null && saved?.preRoll !== undefined) cam.preRoll = saved.preRoll;
    if (saved?.postRoll !== null && saved?.postRoll !== undefined) cam.postRoll = saved.postRoll;
    if (this.cameras.get(def.name) !== cam) return; // removed meanwhile
    this.log.info(`camera ${def.name}: ${redactUrl(def.url)}${def.subUrl ? ` (detection on ${redactUrl(def.subUrl)})` : ''}${def.enabled ? '' : ', disabled'}`);
    cam.start();
  }

  /** Stops and forgets the camera (its config node closed). */
  async remove(name: string, owner?: string): Promise<void> {
    const cam = this.cameras.get(name);
    if (!cam || (owner && cam.owner !== owner)) return;
    this.cameras.delete(name);
    await cam.stop();
    degradedOf(this.hub).clear(`camera:${name}`);
  }

  names(): string[] {
    return [...this.cameras.keys()].sort();
  }

  list(): CameraView[] {
    return this.names().map((n) => this.cameras.get(n)!.view());
  }

  get(name: string): CameraView | null {
    return this.cameras.get(name)?.view() ?? null;
  }

  private cam(name: string): Camera {
    const c = this.cameras.get(name);
    if (!c) throw new CameraError(404, `no camera "${String(name).slice(0, 64)}"`);
    return c;
  }

  /** The defined camera's ftp target (for uploads), or null. */
  def(name: string): CameraDef | null {
    return this.cameras.get(name)?.def ?? null;
  }

  async setRecording(name: string, on: boolean, by: string): Promise<CameraView> {
    const c = this.cam(name);
    await (await this.storeOf()).saveSettings(name, { recording: on }, this.hub.clock.now());
    c.recording = on;
    this.log.info(`camera ${name}: recording ${on ? 'on' : 'off'} (${by})`);
    if (on && c.def.enabled) c.recorder.start();
    if (!on) await c.recorder.stop();
    this.publish(c);
    return c.view();
  }

  async setRolls(name: string, s: { preRoll?: unknown; postRoll?: unknown }): Promise<CameraView> {
    const c = this.cam(name);
    const out: { preRoll?: number; postRoll?: number } = {};
    for (const k of ['preRoll', 'postRoll'] as const) {
      if (s[k] === undefined) continue;
      const v = s[k];
      const [min, max] = ROLL_LIMITS[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
        throw new CameraError(400, `${k} must be a whole number of seconds from ${min} to ${max} (got ${JSON.stringify(v)?.slice(0, 40)})`);
      out[k] = v;
    }
    if (out.preRoll === undefined && out.postRoll === undefined) throw new CameraError(400, 'give preRoll and/or postRoll (seconds)');
    await (await this.storeOf()).saveSettings(name, out, this.hub.clock.now());
    if (out.preRoll !== undefined) c.preRoll = out.preRoll;
    if (out.postRoll !== undefined) c.postRoll = out.postRoll;
    this.publish(c);
    return c.view();
  }

  async restartPipeline(name: string, pipeline: string): Promise<void> {
    const c = this.cam(name);
    if (!(PIPELINES as readonly string[]).includes(pipeline)) throw new CameraError(400, `pipeline must be one of ${PIPELINES.join(', ')}`);
    if (!c.def.enabled) throw new CameraError(409, `camera "${name}" is disabled`);
    this.log.info(`camera ${name}: ${pipeline} restarted by request`);
    if (pipeline === 'detect') await c.detect.restart();
    else if (pipeline === 'record') {
      if (!c.recording) throw new CameraError(409, `recording is off on camera "${name}"`);
      await c.recorder.pipeline.restart();
    } else if (c.live.viewerCount) await c.live.pipeline.restart();
  }

  async clips(name: string, limit = 50): Promise<ClipView[]> {
    this.cam(name);
    const rows = await (await this.storeOf()).clips(name, limit);
    return rows.map((r) => ({ id: r.id, start: r.start, end: r.end, size: r.size, upload: r.upload, remotePath: r.remotePath }));
  }

  async clip(name: string, id: number): Promise<ClipRow> {
    const r = await (await this.storeOf()).clip(id);
    if (!r || r.camera !== name || r.removed || !fs.existsSync(r.file)) throw new CameraError(404, `no clip ${id} of camera "${String(name).slice(0, 64)}"`);
    return r;
  }

  snapshot(name: string): Buffer | null {
    return this.cam(name).latestJpeg;
  }

  /** The live stream of a camera (a viewer adds itself). */
  live(name: string): LiveStream {
    const c = this.cam(name);
    if (!c.def.enabled) throw new CameraError(409, `camera "${name}" is disabled`);
    return c.live;
  }

  /** The bench: frames the detector got so far. */
  frames(name: string): number {
    return this.cam(name).frames;
  }

  /** Test hook and the bench: the pids of a camera's running ffmpeg. */
  pids(name: string): Record<CameraPipeline, number | null> {
    const c = this.cam(name);
    return { detect: c.detect.pid, record: c.recorder.pipeline.pid, live: c.live.pipeline.pid };
  }

  /** @internal a camera's state changed */
  publish(c: Camera): void {
    if (c.stopped) return;
    const v = c.view();
    const state: CameraState = { camera: v.name, online: v.online, reason: v.reason, recording: v.recording, motion: v.motion, pipelines: v.pipelines, ts: this.hub.clock.now() };
    if (c.def.enabled && !v.online && v.reason && v.reason !== 'starting') degradedOf(this.hub).set(`camera:${v.name}`, `camera ${v.name}: ${v.reason}`);
    else degradedOf(this.hub).clear(`camera:${v.name}`);
    this.hub.emit('camera-state', state);
  }

  /** @internal motion started or ended */
  motion(c: Camera, on: boolean, ts: number): void {
    const name = c.def.name;
    this.log.info(`camera ${name}: motion ${on ? 'started' : 'ended'}${on && c.recording ? ' (recording)' : ''}`);
    const snapshot = on ? (c.latestJpeg ?? undefined) : undefined;
    this.hub.emit('camera-motion', { camera: name, on, ts, snapshot });
    if (on && c.latestJpeg) this.hub.emit('camera-frame', { camera: name, ts, jpeg: c.latestJpeg });
    if (!c.stopped) this.publish(c);
    if (on) {
      eventsOf(this.hub)
        .recordAccess({ kind: 'motion', ts, device: name, decision: 'repeat', source: 'device', reason: 'motion detected' })
        .catch((err) => this.log.warn(`camera ${name}: motion event not recorded: ${err.message}`));
    }
  }

  /** @internal a clip was joined */
  clipDone(c: Camera, clip: { file: string; start: number; end: number; size: number }): void {
    void (async () => {
      const store = await this.storeOf();
      const clipId = await store.addClip({ camera: c.def.name, start: clip.start, end: clip.end, size: clip.size, file: clip.file });
      this.log.info(`camera ${c.def.name}: clip ${clipId} ${Math.round((clip.end - clip.start) / 1000)} s, ${Math.round(clip.size / 1024)} KiB`);
      this.hub.emit('clip-ready', { clipId, camera: c.def.name, file: clip.file, start: clip.start, end: clip.end, size: clip.size, target: c.def.ftp });
      await this.retention(c.def.name);
    })().catch((err) => this.log.error(`camera ${c.def.name}: clip not saved: ${err.message}`));
  }

  /** Local retention: clips older than maxAgeDays or beyond maxSizeMb are deleted (oldest first); a clip being uploaded is kept. */
  async retention(only?: string): Promise<number> {
    const store = await this.storeOf();
    let removed = 0;
    for (const c of this.cameras.values()) {
      if (only && c.def.name !== only) continue;
      const { maxAgeDays, maxSizeMb } = c.def.retention;
      const clips = await store.localClips(c.def.name);
      let total = clips.reduce((s, x) => s + x.size, 0);
      const oldest = this.hub.clock.now() - maxAgeDays * 86_400_000;
      for (const x of clips) {
        const tooOld = maxAgeDays > 0 && x.end < oldest;
        const tooBig = maxSizeMb > 0 && total > maxSizeMb * 1024 * 1024;
        if (!tooOld && !tooBig) continue;
        if (x.upload === 'queued' || x.upload === 'uploading') continue;
        fs.rmSync(x.file, { force: true });
        await store.markRemoved(x.id);
        total -= x.size;
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.offUpload?.();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.all([...this.cameras.keys()].map((n) => this.remove(n)));
  }
}

export const camerasOf = (hub: Hub): CameraService => hub.service('cameras', (h) => new CameraService(h));
