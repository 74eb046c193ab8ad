/**
 * Motion detection by frame differencing (pure: no I/O, no clock — the caller passes each frame's
 * time). ffmpeg decodes a camera to small gray frames (e.g. 160×90); `MotionDetector.push` compares
 * each frame with the previous one:
 *  - a pixel changed when |now − before| > `pixelThreshold` (0–255);
 *  - the frame has motion when the changed pixels outside the mask are at least `minArea` (a
 *    fraction 0–1 of the pixels outside the mask);
 *  - motion starts at the first frame with motion and ends `cooldownMs` after the last one.
 * The mask lists polygons (coordinates 0–1 of the frame's width and height) whose pixels are
 * ignored — a tree in the wind, a road outside the fence.
 */

export interface MotionOptions {
  width: number;
  height: number;
  /** 1–255: how much a gray level must change for the pixel to count */
  pixelThreshold: number;
  /** 0–1: the fraction of the (unmasked) frame that must change */
  minArea: number;
  /** ms without motion before motion ends */
  cooldownMs: number;
  /** polygons to ignore, each [[x, y], …] with x, y in 0–1 */
  mask?: Polygon[];
}

export type Point = [number, number];
export type Polygon = Point[];

export interface MotionResult {
  /** fraction of the unmasked pixels that changed */
  changed: number;
  /** this frame has motion */
  moving: boolean;
  /** motion is on (after this frame) */
  on: boolean;
  /** 'start' / 'end' when the state changed with this frame */
  edge: 'start' | 'end' | null;
}

/** Is (x, y) inside the polygon (even-odd rule)? */
export function insidePolygon(x: number, y: number, poly: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** A mask as bytes per pixel: 1 = counted, 0 = ignored (pixel centres tested against the polygons). */
export function maskOf(width: number, height: number, polygons: readonly Polygon[] = []): Uint8Array {
  const m = new Uint8Array(width * height).fill(1);
  if (!polygons.length) return m;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = (x + 0.5) / width;
      const py = (y + 0.5) / height;
      if (polygons.some((p) => insidePolygon(px, py, p))) m[y * width + x] = 0;
    }
  }
  return m;
}

/**
 * The mask text of a camera's settings: polygons separated by `;`, points by spaces, a point as
 * `x,y` in 0–1, e.g. `0,0 0.5,0 0.5,0.3; 0.8,0.8 1,0.8 1,1`. Throws a clear Error on bad text.
 */
export function parseMask(text: string | undefined | null): Polygon[] {
  const s = String(text ?? '').trim();
  if (!s) return [];
  return s.split(';').map((part, i) => {
    const pts = part
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((p) => {
        const m = /^(-?[\d.]+),(-?[\d.]+)$/.exec(p);
        const x = m ? Number(m[1]) : NaN;
        const y = m ? Number(m[2]) : NaN;
        if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) throw new Error(`mask polygon ${i + 1}: point "${p}" must be x,y with both in 0–1`);
        return [x, y] as Point;
      });
    if (pts.length < 3) throw new Error(`mask polygon ${i + 1} needs at least 3 points (got ${pts.length})`);
    return pts;
  });
}

export class MotionDetector {
  private prev: Uint8Array | null = null;
  private readonly mask: Uint8Array;
  private readonly counted: number;
  private lastMotionAt = -Infinity;
  private state = false;

  constructor(readonly options: MotionOptions) {
    const { width, height, pixelThreshold, minArea, cooldownMs } = options;
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new Error('frame width and height must be positive integers');
    if (!(pixelThreshold >= 1 && pixelThreshold <= 255)) throw new Error('pixel threshold must be 1–255');
    if (!(minArea > 0 && minArea <= 1)) throw new Error('minimum area must be above 0 and at most 1');
    if (!(cooldownMs >= 0)) throw new Error('cooldown must be 0 or more');
    this.mask = maskOf(width, height, options.mask);
    let n = 0;
    for (const v of this.mask) n += v;
    this.counted = n;
  }

  get on(): boolean {
    return this.state;
  }

  /** Forgets the previous frame (the stream restarted): the next frame is a new reference. */
  reset(): void {
    this.prev = null;
  }

  /** One gray frame (width × height bytes) taken at `ts` (ms). */
  push(frame: Uint8Array, ts: number): MotionResult {
    const { width, height, pixelThreshold, minArea, cooldownMs } = this.options;
    const size = width * height;
    if (frame.length < size) throw new Error(`frame has ${frame.length} bytes, expected ${size}`);
    let changed = 0;
    const prev = this.prev;
    if (prev && this.counted > 0) {
      const mask = this.mask;
      for (let i = 0; i < size; i++) {
        const d = frame[i] - prev[i];
        if ((d > pixelThreshold || d < -pixelThreshold) && mask[i]) changed++;
      }
    }
    // keep a copy: the caller may reuse its buffer
    if (!this.prev) this.prev = new Uint8Array(size);
    this.prev.set(frame.subarray(0, size));
    const ratio = prev && this.counted > 0 ? changed / this.counted : 0;
    const moving = ratio >= minArea;
    let edge: MotionResult['edge'] = null;
    if (moving) {
      this.lastMotionAt = ts;
      if (!this.state) {
        this.state = true;
        edge = 'start';
      }
    } else if (this.state && ts - this.lastMotionAt >= cooldownMs) {
      this.state = false;
      edge = 'end';
    }
    return { changed: ratio, moving, on: this.state, edge };
  }

  /** Motion ends without a frame (the stream stopped): 'end' when it was on. */
  stop(): 'end' | null {
    this.prev = null;
    if (!this.state) return null;
    this.state = false;
    return 'end';
  }
}
