/**
 * Parsing of plate messages (LPR MQTT topic `gatepost/lpr/<camera>` or any flow): payload a
 * plain-text plate, a Buffer, or JSON `{plate, confidence?, gate?, direction?, ts?, image?,
 * requestId?, camera?}` as a string or an already parsed object. Never throws: bad input gives
 * `{ ok: false, reason, input }` with the raw input truncated for the record.
 *
 * Fallback passages (`gatepost/lpr/<camera>/fallback`, published by `gatepost-lpr` when it
 * delivers its queue) are the same JSON plus the decision already taken: `parseFallbackInput`.
 */
import { readTsOf } from './read-age';
export const MAX_INPUT_BYTES = 64 * 1024;
/** how much of a rejected input is kept in the event store */
export const KEPT_INPUT_CHARS = 256;

export interface LprInput {
  plate: string;
  confidence?: number;
  gate?: string;
  camera?: string;
  direction?: 'entry' | 'exit';
  ts?: number;
  image?: string;
  requestId?: string;
}

/** A refusal keeps the message's `requestId` when it has a readable one: the sender finds its answer. */
export type LprParse = { ok: true; value: LprInput } | { ok: false; reason: string; input: string; requestId?: string };

// eslint-disable-next-line no-control-regex -- it finds control characters on purpose (binary input is refused)
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function truncate(s: string): string {
  return s.length > KEPT_INPUT_CHARS ? s.slice(0, KEPT_INPUT_CHARS) + '…' : s;
}
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are shown escaped in the kept input
  return truncate(s.replace(/[\u0000-\u001F\u007F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
function hexOf(b: Uint8Array): string {
  return 'hex:' + Buffer.from(b.subarray(0, 64)).toString('hex') + (b.length > 64 ? '…' : '');
}
const fail = (reason: string, input: string): { ok: false; reason: string; input: string } => ({ ok: false, reason, input });

/**
 * A gate or camera id: it becomes one level of an MQTT topic (`gatepost/decision/<gate>`), so
 * no `/`, no wildcard `+` `#`, no control characters, 1–64 characters.
 */
export function isTopicLevel(v: unknown): v is string {
  // eslint-disable-next-line no-control-regex -- control characters never make a topic level
  return typeof v === 'string' && v.length > 0 && v.length <= 64 && !/[/+#\u0000-\u001F\u007F]/.test(v);
}

/** An LPR topic: `gatepost/lpr/<camera>` (a plate) or `gatepost/lpr/<camera>/fallback` (a fallback passage). */
export function lprTopicOf(topic: unknown): { camera: string; fallback: boolean } | undefined {
  if (typeof topic !== 'string') return undefined;
  const m = /^gatepost\/lpr\/([^/]+)(\/fallback)?$/.exec(topic);
  return m ? { camera: m[1], fallback: m[2] !== undefined } : undefined;
}

/** The camera of an LPR topic `gatepost/lpr/<camera>` or `gatepost/lpr/<camera>/fallback` (or undefined). */
export function cameraOfTopic(topic: unknown): string | undefined {
  return lprTopicOf(topic)?.camera;
}

function str(v: unknown, max: number): string | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.length > max) return null;
  return v;
}

function fromObject(o: Record<string, unknown>, input: string): LprParse {
  if (typeof o.plate !== 'string') return fail(o.plate === undefined ? 'JSON payload has no "plate"' : '"plate" must be a string', input);
  const plate = o.plate;
  if (!plate.trim()) return fail('empty plate', input);
  if (plate.length > 64 || CONTROL.test(plate)) return fail('"plate" is not a plate (too long or control characters)', input);
  const value: LprInput = { plate };
  if (o.confidence !== undefined && o.confidence !== null) {
    const c = typeof o.confidence === 'string' && o.confidence.trim() ? Number(o.confidence) : o.confidence;
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || c > 100) return fail('"confidence" must be a number 0..1 (or 0..100)', input);
    value.confidence = c > 1 ? c / 100 : c;
  }
  for (const k of ['gate', 'camera', 'requestId'] as const) {
    const v = str(o[k], 128);
    if (v === null) return fail(`"${k}" must be a short string`, input);
    if (v !== undefined && k !== 'requestId' && !isTopicLevel(v)) return fail(`"${k}" must be one MQTT topic level (no / + # or control characters)`, input);
    if (v !== undefined) value[k] = v;
  }
  if (o.direction !== undefined && o.direction !== null && o.direction !== '') {
    const d = String(o.direction).toLowerCase();
    if (d === 'entry' || d === 'in') value.direction = 'entry';
    else if (d === 'exit' || d === 'out') value.direction = 'exit';
    else return fail('"direction" must be entry or exit', input);
  }
  const ts = readTsOf(o.ts); // epoch ms, epoch seconds from some LPR products, or ISO
  if (ts === null) return fail('"ts" must be epoch ms or an ISO time', input);
  if (ts !== undefined) value.ts = ts;
  if (o.image !== undefined && o.image !== null && o.image !== '') {
    if (typeof o.image !== 'string') return fail('"image" must be a URL or base64 JPEG', input);
    value.image = o.image;
  }
  return { ok: true, value };
}

/** A payload read as far as its shape: a JSON object, plain text, or a failure. */
type Decoded = { ok: true; obj: Record<string, unknown>; input: string } | { ok: true; obj?: undefined; text: string; input: string } | { ok: false; reason: string; input: string };

function decodeText(s: string): Decoded {
  if (s.length > MAX_INPUT_BYTES) return fail(`input over ${MAX_INPUT_BYTES / 1024} KB`, printable(s));
  const t = s.trim();
  if (!t) return fail('empty input', '');
  // a plate never starts with { [ or " — such text is JSON (or broken JSON), never a plate
  if (t.startsWith('{') || t.startsWith('[') || t.startsWith('"')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch (err) {
      return fail(`invalid JSON: ${(err as Error).message.slice(0, 80)}`, printable(t));
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      return fail(`wrong type: JSON payload must be an object, not ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`, printable(t));
    return { ok: true, obj: parsed as Record<string, unknown>, input: printable(t) };
  }
  return { ok: true, text: t, input: printable(t) };
}

function decode(payload: unknown): Decoded {
  if (payload === undefined || payload === null) return fail('empty input', '');
  if (Buffer.isBuffer(payload) || payload instanceof Uint8Array) {
    const b = payload as Uint8Array;
    if (b.length > MAX_INPUT_BYTES) return fail(`input over ${MAX_INPUT_BYTES / 1024} KB`, hexOf(b));
    let s: string;
    try {
      s = utf8.decode(b);
    } catch {
      return fail('binary input (not UTF-8)', hexOf(b));
    }
    if (CONTROL.test(s.trim())) return fail('binary input (control characters)', hexOf(b));
    return decodeText(s);
  }
  if (typeof payload === 'string') return decodeText(payload);
  if (typeof payload === 'object' && !Array.isArray(payload)) {
    let input: string;
    try {
      input = JSON.stringify(payload);
    } catch {
      return fail('payload object cannot be serialised', '[object]');
    }
    if (input.length > MAX_INPUT_BYTES) return fail(`input over ${MAX_INPUT_BYTES / 1024} KB`, printable(input));
    return { ok: true, obj: payload as Record<string, unknown>, input: printable(input) };
  }
  return fail(`payload of type ${Array.isArray(payload) ? 'array' : typeof payload} is not a plate message`, printable(String(payload)));
}

/** Reads a plate message payload. */
export function parseLprInput(payload: unknown): LprParse {
  const d = decode(payload);
  if (!d.ok) return d;
  if (d.obj) {
    const r = fromObject(d.obj, d.input);
    const rid = d.obj.requestId;
    if (!r.ok && typeof rid === 'string' && rid.length <= 128 && !CONTROL.test(rid)) return { ...r, requestId: rid };
    return r;
  }
  if (CONTROL.test(d.text)) return fail('binary input (control characters)', d.input);
  if (d.text.length > 64) return fail('text too long for a plate', d.input);
  return { ok: true, value: { plate: d.text } };
}

// ------------------------------------------------------------------------------ fallback passages

/** What `gatepost-lpr` decided itself while gatepost was unreachable. */
export interface FallbackOutcome {
  decision: 'allowed' | 'denied' | 'rejected';
  /** the fallback path has only the E-Poselok online check: an allowed passage is always 'online' */
  source: 'online' | 'none';
  reason: string;
  /** what the relay said: 'ok', 'skipped', 'error: …' */
  relay?: string;
  latencyMs?: number;
}

export interface FallbackInput extends LprInput {
  requestId: string;
  ts: number;
  fallback: FallbackOutcome;
}

export type FallbackParse = { ok: true; value: FallbackInput } | { ok: false; reason: string; input: string };

/** A fallback passage may be this old when it is delivered (the queue waits while gatepost is down). */
export const FALLBACK_MAX_AGE_MS = 30 * 86400000;
/** ...and this far in the future (clocks of the two hosts differ a little). */
export const FALLBACK_MAX_AHEAD_MS = 5 * 60000;
/** Every recorded fallback passage's reason starts with this (and only those: the dedupe relies on it). */
export const FALLBACK_REASON_PREFIX = 'fallback: ';
/** The reasons of refused fallback messages start with this. */
export const FALLBACK_REFUSED = 'fallback refused: ';

const FALLBACK_DECISIONS = ['allowed', 'denied', 'rejected'] as const;
const FALLBACK_SOURCES = ['online', 'none'] as const;

/**
 * Reads a fallback passage (`gatepost/lpr/<camera>/fallback`): the plate fields of
 * `parseLprInput` plus a required `requestId` and `ts` (not older than FALLBACK_MAX_AGE_MS, not
 * more than FALLBACK_MAX_AHEAD_MS ahead of `now`) and the `fallback` object
 * `{decision, source, reason?, relay?, latencyMs?}`. A refusal's reason starts with FALLBACK_REFUSED.
 */
export function parseFallbackInput(payload: unknown, now: number): FallbackParse {
  const refuse = (reason: string, input: string): FallbackParse => ({ ok: false, reason: FALLBACK_REFUSED + reason, input });
  const d = decode(payload);
  if (!d.ok) return refuse(d.reason, d.input);
  if (!d.obj) return refuse('payload must be a JSON object', d.input);
  const base = fromObject(d.obj, d.input);
  if (!base.ok) return refuse(base.reason, base.input);
  const v = base.value;
  if (v.requestId === undefined) return refuse('no "requestId"', d.input);
  if (v.ts === undefined) return refuse('no "ts"', d.input);
  if (v.ts > now + FALLBACK_MAX_AHEAD_MS) return refuse('"ts" is in the future', d.input);
  if (v.ts < now - FALLBACK_MAX_AGE_MS) return refuse(`"ts" is older than ${FALLBACK_MAX_AGE_MS / 86400000} days`, d.input);
  const f = d.obj.fallback;
  if (f === undefined || f === null) return refuse('no "fallback" object', d.input);
  if (typeof f !== 'object' || Array.isArray(f)) return refuse('"fallback" must be an object', d.input);
  const o = f as Record<string, unknown>;
  if (!FALLBACK_DECISIONS.includes(o.decision as never)) return refuse('"fallback.decision" must be allowed, denied or rejected', d.input);
  if (!FALLBACK_SOURCES.includes(o.source as never)) return refuse('"fallback.source" must be online or none', d.input);
  const out: FallbackOutcome = { decision: o.decision as FallbackOutcome['decision'], source: o.source as FallbackOutcome['source'], reason: '' };
  if (out.decision === 'allowed' && out.source !== 'online') return refuse('an allowed fallback passage must have "fallback.source" online', d.input);
  for (const k of ['reason', 'relay'] as const) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'string' || x.length > 256 || CONTROL.test(x)) return refuse(`"fallback.${k}" must be a short string`, d.input);
    if (x) out[k] = x;
  }
  if (o.latencyMs !== undefined && o.latencyMs !== null) {
    if (typeof o.latencyMs !== 'number' || !Number.isFinite(o.latencyMs) || o.latencyMs < 0) return refuse('"fallback.latencyMs" must be a number ≥ 0', d.input);
    out.latencyMs = o.latencyMs;
  }
  return { ok: true, value: { ...v, requestId: v.requestId, ts: v.ts, fallback: out } };
}

/**
 * The reason recorded for a fallback passage: FALLBACK_REASON_PREFIX + the reason `gatepost-lpr`
 * gave (its own "fallback" prefix not repeated) + the relay result, e.g.
 * `fallback: E-Poselok allowed (relay ok)`.
 */
export function fallbackReason(f: FallbackOutcome): string {
  const given = f.reason.replace(/^fallback\b:?\s*/i, '').trim() || f.decision;
  return `${FALLBACK_REASON_PREFIX}${given}${f.relay ? ` (relay ${f.relay})` : ''}`;
}

/** An image reference: an http(s) URL stays a reference; base64 JPEG gives the bytes; else an error. */
export function imageOf(image: string): { kind: 'url'; url: string } | { kind: 'jpeg'; bytes: Buffer } | { kind: 'invalid'; reason: string } {
  if (/^https?:\/\/\S+$/i.test(image) && image.length <= 2048) return { kind: 'url', url: image };
  const m = /^data:image\/jpe?g;base64,(.*)$/is.exec(image);
  const b64 = (m ? m[1] : image).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { kind: 'invalid', reason: 'image is neither an http(s) URL nor base64 JPEG' };
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return { kind: 'invalid', reason: 'image base64 is not a JPEG' };
  return { kind: 'jpeg', bytes };
}
