/**
 * `qrFramesOf(hub)`: gatepost reads QR codes itself from camera frames (issue 16). Started by a
 * qr-check node that has "read camera frames" on; subscribes to the hub's 'camera-frame' (JPEG at
 * motion start and ~1/s while motion lasts, issue 14), decodes it (ffmpeg → gray, @zxing/library)
 * and emits 'qr-read' { reader: camera, text, ts, jpeg }. One frame is decoded at a time per
 * camera (frames arriving meanwhile are skipped: the next one will do); the same text from the
 * same camera within `repeatMs` is one read (a code held up to the camera is not read every second).
 */
import type { Hub, Service } from './hub';
import type { CameraFrame } from '../core/contracts';
import { decodeImage } from '../media/image';
import { decodeQr } from '../media/qr-decoder';

export interface QrFrameRead {
  reader: string;
  text: string;
  ts: number;
  jpeg: Buffer;
}

export interface QrFramesStats {
  frames: number;
  decoded: number;
  skipped: number;
  failed: number;
  reads: number;
  lastError: string | null;
}

export class QrFramesService implements Service {
  private off: (() => void) | null = null;
  private busy = new Set<string>();
  private lastText = new Map<string, { text: string; ts: number }>();
  private users = 0;
  readonly stats: QrFramesStats = { frames: 0, decoded: 0, skipped: 0, failed: 0, reads: 0, lastError: null };
  repeatMs = 5000;

  constructor(private readonly hub: Hub) {}

  /** Starts reading (counted: every start needs its stop). */
  start(): () => void {
    if (this.users++ === 0) {
      this.off = this.hub.on('camera-frame', (f) => void this.frame(f));
      this.hub.logger.info('QR reading from camera frames started');
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.users === 0) {
        this.off?.();
        this.off = null;
      }
    };
  }

  get running(): boolean {
    return this.off !== null;
  }

  /** Decodes one frame (also used directly by tests and the benchmark). */
  async frame(f: CameraFrame): Promise<string | null> {
    this.stats.frames++;
    if (!f || typeof f.camera !== 'string' || !Buffer.isBuffer(f.jpeg)) {
      this.stats.failed++;
      this.stats.lastError = 'camera-frame without camera or JPEG';
      return null;
    }
    if (this.busy.has(f.camera)) {
      this.stats.skipped++;
      return null;
    }
    this.busy.add(f.camera);
    try {
      const img = await decodeImage(f.jpeg, { gray: true, maxSide: 1280 });
      const text = decodeQr(img);
      this.stats.decoded++;
      if (!text) return null;
      const last = this.lastText.get(f.camera);
      const ts = Number.isFinite(f.ts) ? f.ts : this.hub.clock.now();
      if (last && last.text === text && Math.abs(ts - last.ts) < this.repeatMs) return text;
      this.lastText.set(f.camera, { text, ts });
      this.stats.reads++;
      this.hub.emit('qr-read', { reader: f.camera, text, ts, jpeg: f.jpeg });
      return text;
    } catch (err) {
      this.stats.failed++;
      this.stats.lastError = (err as Error).message;
      this.hub.logger.warn(`QR frame of ${f.camera} not decoded: ${(err as Error).message}`);
      return null;
    } finally {
      this.busy.delete(f.camera);
    }
  }

  async close(): Promise<void> {
    this.off?.();
    this.off = null;
  }
}

export const qrFramesOf = (hub: Hub): QrFramesService => hub.service('qr-frames', (h) => new QrFramesService(h));
