/**
 * Frigate (0.16+) licence-plate reads → gatepost plate messages. Pure TypeScript: no Node-RED,
 * no MQTT client, time through an injected Clock.
 *
 * Two Frigate sources are understood:
 *  - `frigate/tracked_object_update` with `type: "lpr"`:
 *    `{ type, id, name, plate, score, camera, timestamp, plate_box }` (timestamp in seconds);
 *  - `frigate/events` (`{ type: new|update|end, before, after }`): the `after` object's
 *    `recognized_license_plate` (+ `recognized_license_plate_score`), `camera`, `id`,
 *    `current_zones`, `entered_zones`.
 *
 * `FrigatePlateTracker` keeps a small per-object state so that one Frigate object (one car)
 * yields one plate message, however many updates Frigate publishes for it, and so that a zone
 * filter can use the zones learnt from `frigate/events` for a read that came from
 * `tracked_object_update` (which carries no zones).
 */
import type { Clock } from './clock';

/** One plate read extracted from a Frigate message. */
export interface FrigatePlateRead {
  source: 'tracked_object_update' | 'events';
  /** Frigate's tracked object id */
  id: string;
  camera: string;
  /** the plate text as Frigate read it ('' when the message carries no plate yet) */
  plate: string;
  score?: number;
  /** epoch ms of the read (Frigate's timestamp / frame_time), if given */
  ts?: number;
  /** zones the object is in now or has entered ([] for tracked_object_update) */
  zones: string[];
  /** Frigate event type for `frigate/events` (new | update | end) */
  eventType?: string;
}

export type FrigateParseResult =
  | { kind: 'read'; read: FrigatePlateRead }
  /** a valid Frigate message that carries no plate for us (another update type, a person) */
  | { kind: 'ignored'; reason: string }
  /** a malformed message */
  | { kind: 'error'; reason: string };

/** Largest Frigate payload accepted (events with thumbnails can be large; plates never are). */
export const FRIGATE_MAX_BYTES = 256 * 1024;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' && Number.isFinite(x) ? String(x) : undefined);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((z): z is string => typeof z === 'string') : []);

/** Frigate times are seconds (float); anything that already looks like ms is kept. */
function toMs(t: unknown): number | undefined {
  const n = num(t);
  if (n === undefined || n <= 0) return undefined;
  return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
}

/** Decodes a payload (Buffer, string or already-parsed object) to a JSON object. */
function decode(payload: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let value: unknown = payload;
  if (Buffer.isBuffer(payload) || payload instanceof Uint8Array) {
    if (payload.length > FRIGATE_MAX_BYTES) return { ok: false, reason: `payload too large (${payload.length} bytes)` };
    value = Buffer.from(payload).toString('utf8');
  }
  if (typeof value === 'string') {
    if (value.length > FRIGATE_MAX_BYTES) return { ok: false, reason: `payload too large (${value.length} chars)` };
    if (!value.trim()) return { ok: false, reason: 'empty payload' };
    try {
      value = JSON.parse(value);
    } catch {
      return { ok: false, reason: 'payload is not JSON' };
    }
  }
  if (!isObj(value)) return { ok: false, reason: 'payload is not a JSON object' };
  return { ok: true, value };
}

/** Which Frigate source a topic is: the last path segment after the (configurable) prefix. */
export function frigateTopicKind(topic: string | undefined): 'tracked_object_update' | 'events' | undefined {
  if (!topic) return undefined;
  if (/(^|\/)tracked_object_update$/.test(topic)) return 'tracked_object_update';
  if (/(^|\/)events$/.test(topic)) return 'events';
  return undefined;
}

/**
 * Parses one Frigate MQTT message. The topic picks the format; without a recognisable topic the
 * payload shape decides (`type: "lpr"` → tracked_object_update, `after` → events).
 */
export function parseFrigateMessage(topic: string | undefined, payload: unknown): FrigateParseResult {
  const d = decode(payload);
  if (!d.ok) return { kind: 'error', reason: d.reason };
  const p = d.value;
  let kind = frigateTopicKind(topic);
  if (!kind) kind = isObj(p.after) ? 'events' : p.type === 'lpr' ? 'tracked_object_update' : undefined;
  if (!kind) return { kind: 'error', reason: `not a Frigate LPR message (topic "${topic ?? ''}")` };

  if (kind === 'tracked_object_update') {
    if (p.type !== 'lpr') return { kind: 'ignored', reason: `tracked_object_update of type "${String(p.type)}"` };
    const id = str(p.id);
    const camera = str(p.camera);
    if (!id) return { kind: 'error', reason: 'lpr update without an object id' };
    if (!camera) return { kind: 'error', reason: 'lpr update without a camera' };
    if (p.plate !== undefined && p.plate !== null && typeof p.plate !== 'string') return { kind: 'error', reason: 'lpr update: plate is not a string' };
    const score = num(p.score);
    return {
      kind: 'read',
      read: { source: 'tracked_object_update', id, camera, plate: ((p.plate as string | null) ?? '').trim(), score, ts: toMs(p.timestamp), zones: [] },
    };
  }

  const after = p.after;
  if (!isObj(after)) return { kind: 'error', reason: 'events message without an "after" object' };
  const id = str(after.id);
  const camera = str(after.camera);
  if (!id) return { kind: 'error', reason: 'events message without an object id' };
  if (!camera) return { kind: 'error', reason: 'events message without a camera' };
  const rlp = after.recognized_license_plate;
  if (rlp !== undefined && rlp !== null && typeof rlp !== 'string') return { kind: 'error', reason: 'recognized_license_plate is not a string' };
  const zones = [...new Set([...strings(after.current_zones), ...strings(after.entered_zones)])];
  return {
    kind: 'read',
    read: {
      source: 'events',
      id,
      camera,
      plate: ((rlp as string | null) ?? '').trim(),
      score: num(after.recognized_license_plate_score),
      ts: toMs(after.frame_time) ?? toMs(after.start_time),
      zones,
      eventType: str(p.type),
    },
  };
}

// the camera map is shared with plate-check: src/core/camera-map.ts
export { parseCameraMap } from './camera-map';
export type { CameraRoute } from './camera-map';

import type { CameraRoute } from './camera-map';

export interface FrigateTrackerOptions {
  /** reads below this score are held back (0..1, default 0) */
  minScore?: number;
  /** only objects that are (or were) in one of these zones produce a plate ([] = any) */
  zones?: string[];
  /** only these Frigate cameras ([] = any) */
  cameras?: string[];
  /** camera → gate/direction */
  cameraMap?: Map<string, CameraRoute>;
  /** how long an object is remembered after its last message, ms (default 10 min) */
  ttlMs?: number;
  /** most objects remembered at once (default 5000) */
  maxObjects?: number;
}

/** The plate message the tracker emits (the payload of `gatepost/lpr/<camera>`). */
export interface FrigatePlateMessage {
  topic: string;
  camera: string;
  gate?: string;
  payload: {
    plate: string;
    confidence?: number;
    gate?: string;
    direction?: 'entry' | 'exit';
    ts: number;
    requestId: string;
    frigateId: string;
  };
}

export type TrackerResult =
  | { kind: 'emit'; message: FrigatePlateMessage }
  | { kind: 'ignored'; reason: string }
  | { kind: 'duplicate'; reason: string }
  | { kind: 'pending'; reason: string }
  | { kind: 'error'; reason: string };

interface ObjState {
  camera: string;
  plate: string;
  score?: number;
  ts?: number;
  zones: Set<string>;
  emitted: boolean;
  lastSeen: number;
}

/** A camera name as an MQTT topic level (no wildcards or separators). */
export function topicSafe(camera: string): string {
  return camera.replace(/[+#/\s]/g, '_') || '_';
}

export class FrigatePlateTracker {
  private objects = new Map<string, ObjState>();
  private readonly ttlMs: number;
  private readonly maxObjects: number;
  private readonly zones: Set<string>;
  private readonly cameras: Set<string>;

  constructor(
    private readonly clock: Clock,
    private readonly opts: FrigateTrackerOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10 * 60 * 1000;
    this.maxObjects = opts.maxObjects ?? 5000;
    this.zones = new Set((opts.zones ?? []).map((z) => z.trim()).filter(Boolean));
    this.cameras = new Set((opts.cameras ?? []).map((c) => c.trim()).filter(Boolean));
  }

  /** Objects remembered now (for status and tests). */
  get size(): number {
    return this.objects.size;
  }

  /** Feeds one Frigate MQTT message. */
  ingest(topic: string | undefined, payload: unknown): TrackerResult {
    const parsed = parseFrigateMessage(topic, payload);
    if (parsed.kind !== 'read') return parsed;
    return this.ingestRead(parsed.read);
  }

  ingestRead(read: FrigatePlateRead): TrackerResult {
    const now = this.clock.now();
    this.expire(now);
    if (this.cameras.size && !this.cameras.has(read.camera)) return { kind: 'ignored', reason: `camera ${read.camera} is not watched` };

    let st = this.objects.get(read.id);
    if (!st) {
      st = { camera: read.camera, plate: '', zones: new Set(), emitted: false, lastSeen: now };
      this.objects.set(read.id, st);
      if (this.objects.size > this.maxObjects) {
        const oldest = this.objects.keys().next().value as string;
        this.objects.delete(oldest);
      }
    }
    st.lastSeen = now;
    // move to the end: the map stays ordered by last activity, so expiry stops at the first live one
    this.objects.delete(read.id);
    this.objects.set(read.id, st);
    for (const z of read.zones) st.zones.add(z);
    // keep the most confident plate seen for the object
    if (read.plate && (!st.plate || (read.score ?? 0) >= (st.score ?? 0))) {
      st.plate = read.plate;
      st.score = read.score;
      st.ts = read.ts;
    }

    if (st.emitted) return { kind: 'duplicate', reason: `object ${read.id} already produced plate ${st.plate}` };
    if (!st.plate) return { kind: 'ignored', reason: `object ${read.id}: no plate read yet` };
    const minScore = this.opts.minScore ?? 0;
    if (minScore > 0 && (st.score ?? 0) < minScore) return { kind: 'pending', reason: `object ${read.id}: score ${st.score ?? 'n/a'} below ${minScore}` };
    if (this.zones.size && ![...st.zones].some((z) => this.zones.has(z))) {
      return { kind: 'pending', reason: `object ${read.id}: not in zone ${[...this.zones].join('/')} (yet)` };
    }
    st.emitted = true;
    const route = this.opts.cameraMap?.get(st.camera);
    const payload: FrigatePlateMessage['payload'] = {
      plate: st.plate,
      ts: st.ts ?? now,
      requestId: `frigate-${read.id}`,
      frigateId: read.id,
    };
    if (st.score !== undefined) payload.confidence = st.score;
    if (route?.gate) payload.gate = route.gate;
    if (route?.direction) payload.direction = route.direction;
    return { kind: 'emit', message: { topic: `gatepost/lpr/${topicSafe(st.camera)}`, camera: st.camera, gate: route?.gate, payload } };
  }

  private expire(now: number): void {
    for (const [id, st] of this.objects) {
      if (now - st.lastSeen <= this.ttlMs) break; // Map keeps insertion order; refreshed entries move below
      this.objects.delete(id);
    }
  }
}
