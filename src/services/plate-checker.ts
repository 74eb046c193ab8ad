/**
 * The plate decision pipeline used by the plate-check node (and benchmarks): parse the input,
 * resolve camera → gate/direction, normalise, repeat window, mirror → temporary passes (in
 * memory, synchronous) → E-Poselok online check (short timeout) → deny; then hand the event to
 * `eventsOf(hub).record()` without waiting for the write. Every input is recorded, malformed
 * ones as 'rejected' with the reason and the truncated raw input.
 */
import type { Hub } from './hub';
import type { Decision, MatchPolicy, OnlineChecker } from '../core/contracts';
import { checkOnline, decideLocal, outcomeOfOnline, Outcome, RepeatWindow } from '../core/decision';
import { cameraOfTopic, imageOf, LprInput, parseLprInput } from '../core/lpr-input';
import { EXACT } from '../core/match';
import { normalizePlate } from '../core/plate';
import { parseCameraMap as parseCoreCameraMap, CameraRoute } from '../core/camera-map';
import type { EventRecord } from '../store/events-store';
import { eventsOf } from './events-service';
import { passesOf } from './passes-service';

export type { CameraRoute };

export interface PlateCheckOptions {
  /** camera → gate/direction; null/empty = no mapping */
  cameras?: Record<string, CameraRoute> | null;
  defaultGate?: string;
  defaultDirection?: 'entry' | 'exit';
  policy?: MatchPolicy;
  repeatWindowMs?: number;
  onlineTimeoutMs?: number;
  checker?: OnlineChecker | null;
}

export interface PlateCheckInput {
  payload: unknown;
  topic?: unknown;
  gate?: unknown;
  camera?: unknown;
}

export type Output = 1 | 2 | 3;

export interface PlateCheckResult {
  decision: Decision;
  output: Output;
  /** resolves when the event is in the database */
  recorded: Promise<EventRecord>;
}

export interface PlateCheckCounters {
  allowed: number;
  denied: number;
  repeat: number;
  rejected: number;
}

/**
 * Reads the camera map property (src/core/camera-map.ts): text `cam1=main:entry, cam3=wicket` or a
 * JSON object. Empty, unset or an unresolved `${VAR}` means "no mapping" (null). Throws when malformed.
 */
export function parseCameraMap(v: unknown): Record<string, CameraRoute> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' && (typeof v !== 'object' || Array.isArray(v))) throw new Error('camera map must be text (cam1=main:entry, cam2=wicket) or a JSON object');
  const map = parseCoreCameraMap(v as string | Record<string, unknown>);
  return map.size ? Object.fromEntries(map) : null;
}

const WEEK = 7 * 86400000;

export class PlateChecker {
  readonly counters: PlateCheckCounters = { allowed: 0, denied: 0, repeat: 0, rejected: 0 };
  private repeats: RepeatWindow;
  private opts: Required<Omit<PlateCheckOptions, 'checker' | 'cameras' | 'defaultDirection'>> & PlateCheckOptions;

  constructor(
    private readonly hub: Hub,
    options: PlateCheckOptions = {},
  ) {
    this.opts = {
      ...options,
      defaultGate: options.defaultGate || 'main',
      policy: options.policy ?? EXACT,
      repeatWindowMs: options.repeatWindowMs ?? 15000,
      onlineTimeoutMs: options.onlineTimeoutMs ?? 1500,
    };
    this.repeats = new RepeatWindow(this.opts.repeatWindowMs);
    passesOf(hub);
    eventsOf(hub);
  }

  setChecker(checker: OnlineChecker | null): void {
    this.opts.checker = checker;
  }

  private reject(base: Partial<Decision>, reason: string, input: string, started: number, now: number): PlateCheckResult {
    const d: EventRecord = {
      eventId: 0,
      ts: now,
      plate: '',
      raw: input,
      digits: null,
      decision: 'rejected',
      source: 'none',
      reason,
      latencyMs: performance.now() - started,
      ...base,
      input,
    };
    this.counters.rejected++;
    this.hub.logger.warn(`plate-check: input rejected (${reason})${d.camera ? ' camera ' + d.camera : ''}`);
    return this.finish(d, 3);
  }

  private finish(rec: EventRecord, output: Output, image?: Buffer): PlateCheckResult {
    const recorded = eventsOf(this.hub).record(rec, image);
    recorded.catch(() => undefined); // logged by the events service
    // record() has set eventId (and the image reference) synchronously
    const { input: _input, ...decision } = rec;
    return { decision, output, recorded };
  }

  /**
   * Decides one plate message. Local decisions complete synchronously (the promise is already
   * settled on return); only the online step awaits.
   */
  async check(input: PlateCheckInput): Promise<PlateCheckResult> {
    const started = performance.now();
    const now = this.hub.clock.now();
    const parsed = parseLprInput(input.payload);
    const topicCamera = cameraOfTopic(input.topic);
    const camera = topicCamera ?? (typeof input.camera === 'string' && input.camera ? input.camera : undefined) ?? (parsed.ok ? parsed.value.camera : undefined);
    const msgGate = typeof input.gate === 'string' && input.gate ? input.gate : undefined;
    const base: Partial<Decision> = { camera };
    const cameras = this.opts.cameras;
    let gate: string | undefined;
    let direction: 'entry' | 'exit' | undefined;
    if (cameras && camera !== undefined) {
      const route = cameras[camera];
      // a camera outside the map is refused unless the message itself names the gate (Frigate, LPR programs that know it)
      const namedGate = msgGate ?? (parsed.ok ? parsed.value.gate : undefined);
      if (!route && !namedGate) {
        base.gate = this.opts.defaultGate;
        return this.reject(base, `unknown camera "${camera.slice(0, 64)}"`, parsed.ok ? parsed.value.plate : parsed.input, started, now);
      }
      gate = route?.gate;
      direction = route?.direction;
    }
    gate = gate ?? msgGate ?? (parsed.ok ? parsed.value.gate : undefined) ?? this.opts.defaultGate;
    base.gate = gate;
    if (!parsed.ok) return this.reject(base, parsed.reason, parsed.input, started, now);
    const v: LprInput = parsed.value;
    direction = direction ?? v.direction ?? this.opts.defaultDirection;
    if (direction) base.direction = direction;
    if (v.requestId) base.requestId = v.requestId;
    if (v.confidence !== undefined) base.confidence = v.confidence;
    const plate = normalizePlate(v.plate);
    if (!plate) return this.reject(base, `not a plate: "${v.plate.slice(0, 32)}"`, v.plate, started, now);

    let image: Buffer | undefined;
    if (v.image) {
      const img = imageOf(v.image);
      if (img.kind === 'url') base.image = img.url;
      else if (img.kind === 'jpeg') image = img.bytes;
      else this.hub.logger.warn(`plate-check: ${plate.canonical}: ${img.reason} (image dropped)`);
    }
    const ts = v.ts !== undefined && v.ts > now - WEEK && v.ts < now + 300000 ? v.ts : now;
    const rec: EventRecord = {
      eventId: 0,
      ts,
      ...base,
      plate: plate.canonical,
      raw: v.plate,
      digits: plate.digits,
      decision: 'denied',
      source: 'none',
      reason: '',
      latencyMs: 0,
    };

    if (this.repeats.check(gate, plate.canonical, now)) {
      rec.decision = 'repeat';
      rec.reason = `repeat read within ${Math.round(this.opts.repeatWindowMs / 1000)} s`;
      rec.latencyMs = performance.now() - started;
      this.counters.repeat++;
      return this.finish(rec, 3, image);
    }

    const passes = passesOf(this.hub);
    let outcome: Outcome | null = passes.isReady ? decideLocal(plate, passes.index, this.opts.policy, now) : null;
    if (!passes.isReady) this.hub.logger.warn('plate-check: passes not loaded yet, local lists skipped');
    if (!outcome) {
      const checker = this.opts.checker;
      if (checker) {
        const r = await checkOnline(checker, plate, this.opts.onlineTimeoutMs, this.hub.clock);
        outcome = outcomeOfOnline(r);
        if (r.status === 'unavailable') this.hub.logger.warn(`plate-check: E-Poselok online check unavailable: ${r.error ?? 'unknown error'}`);
      } else {
        outcome = { decision: 'denied', source: 'none', reason: 'no pass (no online check configured)' };
      }
    }
    Object.assign(rec, outcome);
    rec.latencyMs = performance.now() - started;
    if (rec.decision === 'allowed') this.counters.allowed++;
    else this.counters.denied++;
    return this.finish(rec, rec.decision === 'allowed' ? 1 : 2, image);
  }
}
