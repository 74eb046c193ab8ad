/**
 * People at the wicket (issue 16), the pure rules: a person's record and its validation, QR guest
 * pass tokens (format, the decision: valid, unused, right access point, within validity), the
 * external face-recogniser payload, face descriptor matching and the multi-factor rule.
 * Pure TypeScript: no Node-RED, no sqlite, no network, no Date.now() (every rule takes `now`).
 */
import { parseTime, validityWindow, type Validated } from './validity';
import { readTsOf } from './read-age';

// ---------- person ----------
export interface Person {
  id: number;
  name: string;
  /** house / flat, or the department */
  unit: string;
  note: string;
  /** iVMS / reader card numbers (normalised: trimmed, leading zeros kept, upper case) */
  cards: string[];
  /** gate / door ids the person may pass; empty = every access point */
  accessPoints: string[];
  validFrom: number | null;
  validTo: number | null;
  disabled: boolean;
  photos: number;
  faces: number;
  createdAt: number;
  updatedAt: number;
  author: string;
}

export interface PersonDraft {
  name: string;
  unit: string;
  note: string;
  cards: string[];
  accessPoints: string[];
  validFrom: number | null;
  validTo: number | null;
  disabled: boolean;
}

export const MAX_NAME = 120;
export const MAX_CARDS = 20;
export const MAX_ACCESS_POINTS = 50;
const ACCESS_POINT = /^[A-Za-z0-9_.-]{1,64}$/;
const CARD = /^[A-Za-z0-9_-]{1,32}$/;

export const normalizeCard = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v).trim().toUpperCase() : '');

function textOf(v: unknown, name: string, max: number): string | { error: string } {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' && typeof v !== 'number') return { error: `${name} must be text` };
  const s = String(v).trim();
  if (s.length > max) return { error: `${name} is longer than ${max} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return { error: `${name} must not contain control characters` };
  return s;
}

function listOf(v: unknown, name: string, max: number, re: RegExp, norm: (x: unknown) => string): string[] | { error: string } {
  if (v === undefined || v === null || v === '') return [];
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[,\s]+/) : null;
  if (!items) return { error: `${name} must be a list` };
  const out: string[] = [];
  for (const x of items) {
    const s = norm(x);
    if (!s) continue;
    if (!re.test(s)) return { error: `${name}: "${String(x).slice(0, 40)}" is not valid` };
    if (!out.includes(s)) out.push(s);
  }
  if (out.length > max) return { error: `${name}: at most ${max}` };
  return out;
}

/**
 * Validates a person (a new one, or `base` changed by the fields present in `input`). Validity:
 * `validFrom`/`validTo` as times (epoch ms, ISO, local date); empty = open.
 */
export function validatePerson(input: Record<string, unknown>, tz: string, base?: PersonDraft): Validated<PersonDraft> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { ok: false, error: 'a person must be a JSON object' };
  const has = (k: string) => Object.prototype.hasOwnProperty.call(input, k);
  const d: PersonDraft = base
    ? { ...base, cards: [...base.cards], accessPoints: [...base.accessPoints] }
    : { name: '', unit: '', note: '', cards: [], accessPoints: [], validFrom: null, validTo: null, disabled: false };
  for (const [k, max] of [
    ['name', MAX_NAME],
    ['unit', 200],
    ['note', 500],
  ] as const) {
    if (!has(k) && base) continue;
    const v = textOf(input[k], k, max);
    if (typeof v !== 'string') return { ok: false, error: v.error };
    d[k] = v;
  }
  if (!d.name) return { ok: false, error: 'a person needs a name' };
  if (has('cards') || !base) {
    const c = listOf(input.cards, 'cards', MAX_CARDS, CARD, normalizeCard);
    if (!Array.isArray(c)) return { ok: false, error: c.error };
    d.cards = c;
  }
  if (has('accessPoints') || !base) {
    const a = listOf(input.accessPoints, 'accessPoints', MAX_ACCESS_POINTS, ACCESS_POINT, (x) => (typeof x === 'string' ? x.trim() : ''));
    if (!Array.isArray(a)) return { ok: false, error: a.error };
    d.accessPoints = a;
  }
  for (const k of ['validFrom', 'validTo'] as const) {
    if (!has(k)) continue;
    const v = input[k];
    if (v === null || v === '' || v === undefined) d[k] = null;
    else {
      const t = parseTime(v, tz, k === 'validTo');
      if (t === null) return { ok: false, error: `${k} is not a valid time` };
      d[k] = t;
    }
  }
  if (d.validFrom !== null && d.validTo !== null && d.validTo < d.validFrom) return { ok: false, error: 'validTo is before validFrom' };
  if (has('disabled')) {
    if (typeof input.disabled !== 'boolean') return { ok: false, error: 'disabled must be true or false' };
    d.disabled = input.disabled;
  }
  return { ok: true, value: d };
}

/** Why a person may not pass `accessPoint` now, or null when they may. */
export function personRefusal(p: Pick<Person, 'disabled' | 'validFrom' | 'validTo' | 'accessPoints'>, accessPoint: string | undefined, now: number): string | null {
  if (p.disabled) return 'person disabled';
  if (p.validFrom !== null && now < p.validFrom) return 'person not yet valid';
  if (p.validTo !== null && now > p.validTo) return 'person no longer valid';
  if (accessPoint && p.accessPoints.length && !p.accessPoints.includes(accessPoint)) return `person not allowed at ${accessPoint}`;
  return null;
}

// ---------- QR tokens ----------
/** The text a QR guest pass carries: a prefix and 24 base64url characters (144 random bits). */
export const QR_PREFIX = 'GPQ1.';
export const QR_TOKEN_BYTES = 18;
const QR_TOKEN = /^GPQ1\.[A-Za-z0-9_-]{24}$/;
export const MAX_QR_TEXT = 2048;

/** The token text for random bytes (the caller takes them from crypto). */
export function qrTokenOf(random: Uint8Array): string {
  if (random.length < 16) throw new Error('a QR token needs at least 128 random bits');
  return QR_PREFIX + Buffer.from(random).toString('base64url');
}

/** Whether a read text has the shape of a gatepost QR token (anything else is a foreign code). */
export const isQrToken = (text: string): boolean => QR_TOKEN.test(text);

/** A QR token's state as stored, plus the temporary pass it is bound to (if any). */
export interface QrTokenState {
  id: number;
  passId: number | null;
  personId: number | null;
  label: string;
  accessPoints: string[];
  validFrom: number;
  validTo: number;
  maxUses: number;
  uses: number;
  revokedAt: number | null;
  /** the temporary pass's state when the token is bound to one */
  pass?: { cancelledAt: number | null; validFrom: number; validTo: number } | null;
}

export type QrVerdict = { ok: true } | { ok: false; reason: 'malformed' | 'foreign' | 'revoked' | 'pass cancelled' | 'not yet valid' | 'expired' | 'used' | 'wrong access point'; detail: string };

/**
 * The decision for a QR read: `text` as read, `token` the stored state of its hash (undefined =
 * unknown). Order: shape, known, revoked, its pass cancelled, validity (the pass's when bound to
 * one, else the token's), access point, uses left.
 */
export function decideQr(text: string, token: QrTokenState | undefined, accessPoint: string | undefined, now: number): QrVerdict {
  if (!text || text.length > MAX_QR_TEXT) return { ok: false, reason: 'malformed', detail: 'empty or oversized QR text' };
  if (!isQrToken(text)) return { ok: false, reason: 'foreign', detail: 'not a gatepost QR pass' };
  if (!token) return { ok: false, reason: 'foreign', detail: 'unknown QR pass' };
  if (token.revokedAt !== null) return { ok: false, reason: 'revoked', detail: `QR pass ${token.id} revoked` };
  if (token.pass === null) return { ok: false, reason: 'pass cancelled', detail: `temporary pass ${token.passId} no longer exists` };
  if (token.pass && token.pass.cancelledAt !== null) return { ok: false, reason: 'pass cancelled', detail: `temporary pass ${token.passId} cancelled` };
  const from = token.pass ? Math.max(token.validFrom, token.pass.validFrom) : token.validFrom;
  const to = token.pass ? token.pass.validTo : token.validTo;
  if (now < from) return { ok: false, reason: 'not yet valid', detail: `QR pass ${token.id} valid from ${new Date(from).toISOString()}` };
  if (now > to) return { ok: false, reason: 'expired', detail: `QR pass ${token.id} expired ${new Date(to).toISOString()}` };
  if (accessPoint && token.accessPoints.length && !token.accessPoints.includes(accessPoint))
    return { ok: false, reason: 'wrong access point', detail: `QR pass ${token.id} is not for ${accessPoint}` };
  if (token.uses >= token.maxUses) return { ok: false, reason: 'used', detail: `QR pass ${token.id} already used ${token.uses}/${token.maxUses} (replay)` };
  return { ok: true };
}

export interface QrDraft {
  label: string;
  accessPoints: string[];
  validFrom: number;
  validTo: number;
  maxUses: number;
}
export const MAX_QR_USES = 1000;

/**
 * Validates a new QR pass. Bound to a temporary pass (`pass` given): its validity is the pass's;
 * else the window of `preset`/`days`/`from`/`to` (as a temporary pass: today by default).
 */
export function validateQrPass(input: Record<string, unknown>, now: number, tz: string, pass?: { validFrom: number; validTo: number }): Validated<QrDraft> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { ok: false, error: 'body must be a JSON object' };
  const label = textOf(input.label ?? input.note, 'label', 200);
  if (typeof label !== 'string') return { ok: false, error: label.error };
  const uses = input.maxUses === undefined || input.maxUses === null || input.maxUses === '' ? 1 : Number(input.maxUses);
  if (!Number.isInteger(uses) || uses < 1 || uses > MAX_QR_USES) return { ok: false, error: `maxUses must be a whole number 1..${MAX_QR_USES}` };
  const ap = listOf(input.accessPoints, 'accessPoints', MAX_ACCESS_POINTS, ACCESS_POINT, (x) => (typeof x === 'string' ? x.trim() : ''));
  if (!Array.isArray(ap)) return { ok: false, error: ap.error };
  let from: number;
  let to: number;
  if (pass) {
    if (pass.validTo < now) return { ok: false, error: 'the temporary pass is already over' };
    from = pass.validFrom;
    to = pass.validTo;
  } else {
    const w = validityWindow(input, now, tz);
    if (!w.ok) return w;
    from = w.value.from;
    to = w.value.to;
  }
  return { ok: true, value: { label, accessPoints: ap, validFrom: from, validTo: to, maxUses: uses } };
}

/** The reader name of `gatepost/qr/<reader>` / `gatepost/face/<camera>` (null when the topic is not one). */
export function readerOfTopic(topic: unknown, kind: 'qr' | 'face'): string | null {
  if (typeof topic !== 'string') return null;
  const m = new RegExp(`^gatepost/${kind}/([^/]{1,64})$`).exec(topic);
  return m ? m[1] : null;
}

/** The QR text of a reader's message: a string / Buffer payload, or JSON `{ text | code | data }`. */
export function qrTextOf(payload: unknown): Validated<string> {
  const r = qrReadOf(payload);
  return r.ok ? { ok: true, value: r.value.text } : r;
}

/** A reader's payload: the text, and the time the reader saw it when it says (`{"text": "…", "ts": …}`: epoch ms / s or ISO). */
export function qrReadOf(payload: unknown): Validated<{ text: string; ts?: number }> {
  let v: unknown = payload;
  let ts: number | undefined;
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.startsWith('{')) {
      try {
        v = JSON.parse(s);
      } catch {
        return { ok: false, error: 'payload looks like JSON but does not parse' };
      }
    } else v = s;
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    v = o.text ?? o.code ?? o.data ?? o.qr;
    const t = readTsOf(o.ts);
    if (t === null) return { ok: false, error: '"ts" must be epoch ms or an ISO time' };
    ts = t;
  }
  if (typeof v !== 'string') return { ok: false, error: 'no QR text in the payload (a string, or JSON with "text")' };
  const s = v.trim();
  if (!s) return { ok: false, error: 'empty QR text' };
  if (s.length > MAX_QR_TEXT) return { ok: false, error: `QR text longer than ${MAX_QR_TEXT} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(s)) return { ok: false, error: 'QR text is binary or not UTF-8' };
  return { ok: true, value: ts === undefined ? { text: s } : { text: s, ts } };
}

/**
 * The message that goes with a QR guest pass sent to a chat (the PNG's caption): who it is for,
 * validity, uses and the doors. `when` formats a time in the site's zone.
 */
export function qrPassText(q: { id: number; label: string; validFrom: number; validTo: number; maxUses: number; accessPoints: string[] }, lang: 'ru' | 'en', when: (ts: number) => string): string {
  const doors = q.accessPoints.length ? q.accessPoints.join(', ') : lang === 'en' ? 'any door' : 'любая дверь';
  return lang === 'en'
    ? [
        `🎫 Guest pass #${q.id}${q.label ? `: ${q.label}` : ''}`,
        `Valid ${when(q.validFrom)} – ${when(q.validTo)}`,
        `Entries: ${q.maxUses}`,
        `Door: ${doors}`,
        'Show this QR code to the camera or the reader at the door.',
      ].join('\n')
    : [
        `🎫 Гостевой пропуск №${q.id}${q.label ? `: ${q.label}` : ''}`,
        `Действует ${when(q.validFrom)} – ${when(q.validTo)}`,
        `Проходов: ${q.maxUses}`,
        `Дверь: ${doors}`,
        'Покажите этот QR-код камере или считывателю у двери.',
      ].join('\n');
}

// ---------- faces ----------
/** What an external recogniser publishes on `gatepost/face/<camera>` (docs/MQTT.md). */
export interface FaceReport {
  personId?: string;
  name?: string;
  /** 0..1 */
  confidence: number;
  ts?: number;
  /** a base64 JPEG (or a data: URL) or a URL */
  image?: string;
  /** the descriptor distance when the recogniser measured one */
  distance?: number;
}

export function parseFaceReport(payload: unknown): Validated<FaceReport> {
  let v: unknown = payload;
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return { ok: false, error: 'face payload is not JSON' };
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'face payload must be a JSON object' };
  const o = v as Record<string, unknown>;
  const r: FaceReport = { confidence: NaN };
  if (o.personId !== undefined && o.personId !== null && o.personId !== '') {
    if (typeof o.personId !== 'string' && typeof o.personId !== 'number') return { ok: false, error: 'personId must be text or a number' };
    r.personId = String(o.personId).slice(0, 64);
  }
  if (typeof o.name === 'string' && o.name.trim()) r.name = o.name.trim().slice(0, MAX_NAME);
  if (!r.personId && !r.name) return { ok: false, error: 'face payload needs personId or name' };
  const c = Number(o.confidence);
  if (o.confidence === undefined || o.confidence === null || !Number.isFinite(c) || c < 0 || c > 1) return { ok: false, error: 'confidence must be a number 0..1' };
  r.confidence = c;
  if (o.ts !== undefined && o.ts !== null) {
    const ts = typeof o.ts === 'number' ? o.ts : parseTime(o.ts, 'UTC');
    if (ts === null || !Number.isFinite(ts) || ts <= 0) return { ok: false, error: 'ts must be epoch ms or an ISO time' };
    r.ts = ts;
  }
  if (typeof o.image === 'string' && o.image) r.image = o.image;
  if (o.distance !== undefined && Number.isFinite(Number(o.distance))) r.distance = Number(o.distance);
  return { ok: true, value: r };
}

/** Euclidean distance of two descriptors (face-api's measure: same person ≲ 0.5). */
export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

export interface FaceMatch {
  personId: number;
  distance: number;
}

/**
 * The enrolled person nearest to `probe`, when within `threshold`; null otherwise. A second
 * person nearly as near (within `margin`) makes it ambiguous: no match (never the wrong door).
 */
export function matchFace(probe: ArrayLike<number>, enrolled: Iterable<{ personId: number; descriptor: ArrayLike<number> }>, threshold: number, margin = 0.03): FaceMatch | null {
  const best = new Map<number, number>();
  for (const e of enrolled) {
    const d = descriptorDistance(probe, e.descriptor);
    if (d < (best.get(e.personId) ?? Infinity)) best.set(e.personId, d);
  }
  const ranked = [...best.entries()].sort((x, y) => x[1] - y[1]);
  if (!ranked.length || ranked[0][1] > threshold) return null;
  if (ranked.length > 1 && ranked[1][1] - ranked[0][1] < margin) return null;
  return { personId: ranked[0][0], distance: ranked[0][1] };
}

// ---------- multi-factor ----------
export type SecondFactor = 'none' | 'qr' | 'card' | 'qr-or-card';
export const SECOND_FACTORS: readonly SecondFactor[] = ['none', 'qr', 'card', 'qr-or-card'];

/**
 * Whether a face may open the door: with `second` = none, yes; else the same person must have
 * shown the required credential at this access point within `windowMs` before (`factors`: the
 * recent allowed reads, newest last).
 */
export function secondFactorMet(
  second: SecondFactor,
  personId: number,
  accessPoint: string | undefined,
  factors: ReadonlyArray<{ kind: 'qr' | 'card'; personId: number | null; accessPoint?: string; ts: number }>,
  now: number,
  windowMs: number,
): boolean {
  if (second === 'none') return true;
  return factors.some(
    (f) =>
      f.personId === personId && (!accessPoint || !f.accessPoint || f.accessPoint === accessPoint) && now - f.ts <= windowMs && now >= f.ts - 1000 && (second === 'qr-or-card' || f.kind === second),
  );
}

/** The pass window for a QR pass issued together with a person (exported for the API's validation). */
export { validityWindow };
