/**
 * The plate decision pipeline used by the plate-check node (and benchmarks): parse the input,
 * resolve camera → gate/direction, normalise, repeat window, mirror → temporary passes (in
 * memory, synchronous) → E-Poselok online check (short timeout) → deny; then hand the event to
 * `eventsOf(hub).record()` without waiting for the write. Every input is recorded, malformed
 * ones as 'rejected' with the reason and the truncated raw input.
 *
 * Fallback passages (topic `gatepost/lpr/<camera>/fallback`: decided by `gatepost-lpr` while
 * gatepost was down) are not decided: they are recorded as given, with their original `ts`,
 * once per requestId, always on output 3; the repeat window is not touched.
 */
import { DEFAULT_MAX_AGE_MS, MAX_AHEAD_MS, readAgeRefusal, RETAINED_READ } from '../core/read-age';
import type { Hub } from './hub';
import type { Decision, MatchPolicy, OnlineChecker } from '../core/contracts';
import { checkOnline, decideLocal, outcomeOfOnline, Outcome, RepeatWindow } from '../core/decision';
import { FALLBACK_REFUSED, fallbackReason, imageOf, isTopicLevel, LprInput, lprTopicOf, parseFallbackInput, parseLprInput } from '../core/lpr-input';
import { EXACT } from '../core/match';
import { implausibleRead, normalizePlate } from '../core/plate';
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
  /**
   * A read whose `ts` is older than this is denied as a `stale read` (default 30 s): a camera
   * sending its backlog after an outage must not open the gate for cars long gone.
   */
  maxAgeMs?: number;
  onlineTimeoutMs?: number;
  checker?: OnlineChecker | null;
  /**
   * While the pass index is still loading (the first seconds after a start) a decision waits for
   * it at most this long (default INDEX_WAIT_MS); then it goes to the online check, or is denied
   * with the reason "pass list still loading" — never decided from a half-loaded index.
   */
  indexWaitMs?: number;
}

export interface PlateCheckInput {
  payload: unknown;
  topic?: unknown;
  gate?: unknown;
  camera?: unknown;
  /** the MQTT retain flag (`msg.retain` of mqtt in): a retained plate is a replay, never a live read */
  retain?: unknown;
}

export type Output = 1 | 2 | 3;

export interface PlateCheckResult {
  decision: Decision;
  output: Output;
  /** resolves when the event is in the database */
  recorded: Promise<EventRecord>;
  /** resolves when the write is over: committed, failed, or held for retry on a failing disk */
  settled: Promise<void>;
}

export interface PlateCheckCounters {
  allowed: number;
  denied: number;
  repeat: number;
  rejected: number;
  /** fallback passages recorded (duplicates not counted) */
  fallback: number;
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

/** Default of PlateCheckOptions.maxAgeMs; MAX_AHEAD_MS: a read this far ahead is `clock skew` (src/core/read-age.ts). */
export { DEFAULT_MAX_AGE_MS, MAX_AHEAD_MS };
/**
 * At most this long a decision waits for its event's write before it goes out anyway (a hung
 * database must not keep the barrier closed; a failing disk ends the wait at once: held).
 */
export const DURABLE_WAIT_MS = 2000;
/** Default of PlateCheckOptions.indexWaitMs. */
export const INDEX_WAIT_MS = 3000;
/** The reason of a denial decided before the pass index was loaded, without an online check. */
export const INDEX_LOADING_REASON = 'pass list still loading: not checked (no online check configured)';

export class PlateChecker {
  readonly counters: PlateCheckCounters = { allowed: 0, denied: 0, repeat: 0, rejected: 0, fallback: 0 };
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
      maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
      onlineTimeoutMs: options.onlineTimeoutMs ?? 1500,
      indexWaitMs: options.indexWaitMs ?? INDEX_WAIT_MS,
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
    // urgent: check() waits for this commit before the decision goes out
    const events = eventsOf(this.hub);
    const recorded = events.record(rec, image, { urgent: true });
    recorded.catch(() => undefined); // logged by the events service
    // record() has set eventId (and the image reference) synchronously
    const { input: _input, ...decision } = rec;
    return { decision, output, recorded, settled: events.settled(rec) };
  }

  /** The image of a plate message: an http(s) URL is kept as a reference, base64 JPEG as bytes. */
  private image(v: LprInput, base: Partial<Decision>, plate: string): Buffer | undefined {
    if (!v.image) return undefined;
    const img = imageOf(v.image);
    if (img.kind === 'url') base.image = img.url;
    else if (img.kind === 'jpeg') return img.bytes;
    else this.hub.logger.warn(`plate-check: ${plate}: ${img.reason} (image dropped)`);
    return undefined;
  }

  /**
   * Decides one plate message and resolves once its event is committed to the database (WAL):
   * whatever the caller does next — publish the decision, pulse the relay — is never ahead of the
   * record, so a kill -9 loses no published decision. The events service writes such records at
   * once and groups those that arrive during a write into the next one (group commit). When the
   * disk is failing (events held for retry) or the commit takes longer than DURABLE_WAIT_MS, the
   * decision goes out anyway: a full disk must never keep the barrier closed (the event is kept
   * in memory and written when the disk is back; the 'disk' alarm is raised).
   * A fallback passage (topic `gatepost/lpr/<camera>/fallback`) is recorded, not decided.
   */
  async check(input: PlateCheckInput): Promise<PlateCheckResult> {
    const r = await this.decide(input);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([r.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, DURABLE_WAIT_MS)))]);
    clearTimeout(timer);
    return r;
  }

  /**
   * The decision itself. Local decisions complete synchronously (the promise is already settled
   * on return); only the online step awaits.
   */
  private async decide(input: PlateCheckInput): Promise<PlateCheckResult> {
    const started = performance.now();
    const now = this.hub.clock.now();
    const topic = lprTopicOf(input.topic);
    if (topic?.fallback) return this.fallback(input, topic.camera, started, now);
    const parsed = parseLprInput(input.payload);
    const topicCamera = topic?.camera;
    const msgCamera = typeof input.camera === 'string' && input.camera ? input.camera : undefined;
    const camera = topicCamera ?? (isTopicLevel(msgCamera) ? msgCamera : undefined) ?? (parsed.ok ? parsed.value.camera : undefined);
    const msgGate = typeof input.gate === 'string' && input.gate ? input.gate : undefined;
    const base: Partial<Decision> = { camera };
    const requestId = parsed.ok ? parsed.value.requestId : parsed.requestId;
    if (requestId) base.requestId = requestId;
    const rawInput = parsed.ok ? parsed.value.plate : parsed.input;
    // a retained plate is replayed to every new subscription (each full deploy): never a live read
    if (input.retain === true) {
      base.gate = this.opts.defaultGate;
      return this.reject(base, RETAINED_READ, rawInput, started, now);
    }
    if (msgGate !== undefined && !isTopicLevel(msgGate)) {
      base.gate = this.opts.defaultGate;
      return this.reject(base, '"gate" must be one MQTT topic level (no / + # or control characters)', rawInput, started, now);
    }
    if (msgCamera !== undefined && !isTopicLevel(msgCamera)) {
      base.gate = this.opts.defaultGate;
      return this.reject(base, '"camera" must be one MQTT topic level (no / + # or control characters)', rawInput, started, now);
    }
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
    const junk = implausibleRead(v.plate);
    const plate = junk ? null : normalizePlate(v.plate);
    if (!plate) return this.reject(base, `not a plate: "${v.plate.slice(0, 32)}"${junk ? ` (${junk})` : ''}`, v.plate, started, now);

    const image = this.image(v, base, plate.canonical);
    const rec: EventRecord = {
      eventId: 0,
      ts: v.ts ?? now,
      ...base,
      plate: plate.canonical,
      raw: v.plate,
      digits: plate.digits,
      decision: 'denied',
      source: 'none',
      reason: '',
      latencyMs: 0,
    };

    // a read too old (a backlog) or from the future (a wrong camera clock) opens nothing; it does
    // not start a repeat window either. Recorded at the decision time, the read's age in the reason.
    const late = readAgeRefusal(v.ts, now, this.opts.maxAgeMs);
    if (late) {
      rec.ts = now;
      rec.reason = late.reason;
      rec.latencyMs = performance.now() - started;
      this.counters.denied++;
      this.hub.logger.warn(`plate-check: ${plate.canonical} at ${gate}: ${rec.reason}`);
      return this.finish(rec, 2, image);
    }

    if (this.repeats.check(gate, plate.canonical, now)) {
      rec.decision = 'repeat';
      rec.reason = `repeat read within ${Math.round(this.opts.repeatWindowMs / 1000)} s`;
      rec.latencyMs = performance.now() - started;
      this.counters.repeat++;
      return this.finish(rec, 3, image);
    }

    const passes = passesOf(this.hub);
    // the index loads beside the start: a plate read meanwhile waits for it (bounded), then is decided locally
    const loaded = passes.isReady || (await passes.whenLoaded(this.opts.indexWaitMs));
    let outcome: Outcome | null = loaded ? decideLocal(plate, passes.index, this.opts.policy, this.hub.clock.now()) : null;
    if (!loaded) this.hub.logger.warn(`plate-check: ${plate.canonical}: the pass list is still loading after ${this.opts.indexWaitMs} ms; local lists skipped`);
    if (!outcome) {
      const checker = this.opts.checker;
      if (checker) {
        const r = await checkOnline(checker, plate, this.opts.onlineTimeoutMs, this.hub.clock);
        outcome = outcomeOfOnline(r);
        if (r.status === 'unavailable') this.hub.logger.warn(`plate-check: E-Poselok online check unavailable: ${r.error ?? 'unknown error'}`);
        if (!loaded && outcome.decision !== 'allowed') outcome = { ...outcome, reason: `${outcome.reason} (pass list still loading)` };
      } else {
        outcome = { decision: 'denied', source: 'none', reason: loaded ? 'no pass (no online check configured)' : INDEX_LOADING_REASON };
      }
    }
    Object.assign(rec, outcome);
    rec.latencyMs = performance.now() - started;
    if (rec.decision === 'allowed') this.counters.allowed++;
    else this.counters.denied++;
    return this.finish(rec, rec.decision === 'allowed' ? 1 : 2, image);
  }

  /**
   * Records a fallback passage as `gatepost-lpr` decided it: original `ts`, its decision, source
   * and reason (prefixed `fallback: `, relay result appended), once per requestId. Output 3
   * always: the car has passed (or not) already, nothing may be pulsed; the repeat window is not
   * touched. The gate in the payload wins over the camera map (the passage happened there); an
   * unknown camera is no reason to refuse it. Malformed messages are rejected like bad plates.
   */
  private async fallback(input: PlateCheckInput, camera: string, started: number, now: number): Promise<PlateCheckResult> {
    const parsed = parseFallbackInput(input.payload, now);
    const route = this.opts.cameras?.[camera];
    const msgGate = typeof input.gate === 'string' && input.gate ? input.gate : undefined;
    const base: Partial<Decision> = { camera };
    const gate = (parsed.ok ? parsed.value.gate : undefined) ?? route?.gate ?? msgGate ?? this.opts.defaultGate;
    base.gate = gate;
    // a refused fallback keeps no requestId: it must not count as "recorded" for a later delivery
    if (!parsed.ok) return this.reject(base, parsed.reason, parsed.input, started, now);
    const v = parsed.value;
    const plate = normalizePlate(v.plate);
    if (!plate) return this.reject(base, `${FALLBACK_REFUSED}not a plate: "${v.plate.slice(0, 32)}"`, v.plate, started, now);
    const direction = v.direction ?? route?.direction ?? this.opts.defaultDirection;
    if (direction) base.direction = direction;
    if (v.confidence !== undefined) base.confidence = v.confidence;
    const image = this.image(v, base, plate.canonical);
    const f = v.fallback;
    const rec: EventRecord & { requestId: string } = {
      eventId: 0,
      ts: v.ts,
      ...base,
      requestId: v.requestId,
      plate: plate.canonical,
      raw: v.plate,
      digits: plate.digits,
      decision: f.decision,
      source: f.source,
      reason: fallbackReason(f),
      latencyMs: f.latencyMs ?? performance.now() - started,
      fallback: f.relay ? { relay: f.relay } : {},
    };
    const r = await eventsOf(this.hub).recordFallback(rec, image);
    if (r.duplicateOf !== null) {
      this.hub.logger.info(`plate-check: fallback passage ${v.requestId} (${plate.canonical}) already recorded as event ${r.duplicateOf}; not recorded again`);
      const dup: EventRecord = { ...rec, eventId: r.duplicateOf, fallback: { ...rec.fallback, duplicate: true } };
      const { input: _input, ...decision } = dup;
      return { decision, output: 3, recorded: Promise.resolve(dup), settled: Promise.resolve() };
    }
    this.counters.fallback++;
    this.hub.logger.info(`plate-check: fallback passage recorded: ${plate.canonical} ${f.decision} at ${gate} (${new Date(v.ts).toISOString()})`);
    r.recorded.catch(() => undefined); // logged by the events service
    const { input: _input, ...decision } = rec;
    return {
      decision,
      output: 3,
      recorded: r.recorded,
      settled: r.recorded.then(
        () => undefined,
        () => undefined,
      ),
    };
  }
}
