/**
 * Parsing of plate messages (LPR MQTT topic `gatepost/lpr/<camera>` or any flow): payload a
 * plain-text plate, a Buffer, or JSON `{plate, confidence?, gate?, direction?, ts?, image?,
 * requestId?, camera?}` as a string or an already parsed object. Never throws: bad input gives
 * `{ ok: false, reason, input }` with the raw input truncated for the record.
 */
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

export type LprParse = { ok: true; value: LprInput } | { ok: false; reason: string; input: string };

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function truncate(s: string): string {
  return s.length > KEPT_INPUT_CHARS ? s.slice(0, KEPT_INPUT_CHARS) + '…' : s;
}
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return truncate(s.replace(/[\u0000-\u001F\u007F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
function hexOf(b: Uint8Array): string {
  return 'hex:' + Buffer.from(b.subarray(0, 64)).toString('hex') + (b.length > 64 ? '…' : '');
}
const fail = (reason: string, input: string): LprParse => ({ ok: false, reason, input });

/** The camera of an LPR topic `gatepost/lpr/<camera>` (or undefined). */
export function cameraOfTopic(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return undefined;
  const m = /^gatepost\/lpr\/([^/]+)$/.exec(topic);
  return m ? m[1] : undefined;
}

function str(v: unknown, max: number): string | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.length > max) return null;
  return v;
}

function fromObject(o: Record<string, unknown>, input: string): LprParse {
  if (typeof o.plate !== 'string' && typeof o.plate !== 'number') return fail(o.plate === undefined ? 'JSON payload has no "plate"' : '"plate" must be a string', input);
  const plate = String(o.plate);
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
    if (v !== undefined) value[k] = v;
  }
  if (o.direction !== undefined && o.direction !== null && o.direction !== '') {
    const d = String(o.direction).toLowerCase();
    if (d === 'entry' || d === 'in') value.direction = 'entry';
    else if (d === 'exit' || d === 'out') value.direction = 'exit';
    else return fail('"direction" must be entry or exit', input);
  }
  if (o.ts !== undefined && o.ts !== null && o.ts !== '') {
    const t = typeof o.ts === 'number' ? o.ts : typeof o.ts === 'string' ? (/^\d+$/.test(o.ts) ? Number(o.ts) : Date.parse(o.ts)) : NaN;
    if (!Number.isFinite(t) || t <= 0) return fail('"ts" must be epoch ms or an ISO time', input);
    value.ts = t < 1e11 ? t * 1000 : t; // epoch seconds from some LPR products
  }
  if (o.image !== undefined && o.image !== null && o.image !== '') {
    if (typeof o.image !== 'string') return fail('"image" must be a URL or base64 JPEG', input);
    value.image = o.image;
  }
  return { ok: true, value };
}

function fromText(s: string): LprParse {
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
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail(`wrong type: JSON payload must be an object, not ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`, printable(t));
    return fromObject(parsed as Record<string, unknown>, printable(t));
  }
  if (CONTROL.test(t)) return fail('binary input (control characters)', printable(t));
  if (t.length > 64) return fail('text too long for a plate', printable(t));
  return { ok: true, value: { plate: t } };
}

/** Reads a plate message payload. */
export function parseLprInput(payload: unknown): LprParse {
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
    return fromText(s);
  }
  if (typeof payload === 'string') return fromText(payload);
  if (typeof payload === 'object' && !Array.isArray(payload)) {
    let input: string;
    try {
      input = JSON.stringify(payload);
    } catch {
      return fail('payload object cannot be serialised', '[object]');
    }
    if (input.length > MAX_INPUT_BYTES) return fail(`input over ${MAX_INPUT_BYTES / 1024} KB`, printable(input));
    return fromObject(payload as Record<string, unknown>, printable(input));
  }
  return fail(`payload of type ${Array.isArray(payload) ? 'array' : typeof payload} is not a plate message`, printable(String(payload)));
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
