/**
 * Validity windows of temporary passes in the site's time zone (IANA name, DST-aware, without
 * relying on the machine's TZ), and the validation of a new temporary pass. Pure TypeScript:
 * every function takes `now` (from the injected Clock) and the zone.
 *
 * Presets: 'today' (from now to 23:59:59.999 of the current local day), 'days' (N local days,
 * today counting as the first), 'range' (from–to; a date-only `to` means the end of that day).
 */
import { normalizePlate } from './plate';

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    fmtCache.set(tz, f);
  }
  return f;
}

/** True when tz is a time zone this runtime knows. */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface LocalParts {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Wall-clock parts of an instant in a zone. */
export function localParts(ts: number, tz: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(ts))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second };
}

/** Offset of the zone at an instant, ms (local = utc + offset). */
function offsetAt(ts: number, tz: string): number {
  const p = localParts(ts, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (ts - (((ts % 1000) + 1000) % 1000));
}

/** The instant of a local wall-clock time (the earlier one when ambiguous, shifted forward inside a gap). */
export function zonedTime(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number, tz: string): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const o1 = offsetAt(guess - offsetAt(guess, tz), tz);
  let t = guess - o1;
  const o2 = offsetAt(t, tz);
  if (o2 !== o1) {
    const t2 = guess - o2;
    t = offsetAt(t2, tz) === o2 ? Math.min(t, t2) : Math.max(t, t2);
  }
  return t;
}

/** Start (00:00:00.000 local) of the local day `addDays` days after the day of ts. */
export function startOfLocalDay(ts: number, tz: string, addDays = 0): number {
  const p = localParts(ts, tz);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + addDays));
  return zonedTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 0, 0, 0, 0, tz);
}

/** Last millisecond (23:59:59.999 local) of the local day `addDays` days after the day of ts. */
export function endOfLocalDay(ts: number, tz: string, addDays = 0): number {
  return startOfLocalDay(ts, tz, addDays + 1) - 1;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL_DT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A time from user input: epoch ms (number or digit string), an ISO time with offset/Z, a local
 * 'YYYY-MM-DDTHH:mm' (site zone), or a date 'YYYY-MM-DD' (start of that local day, or its end
 * with `endOfDay`). null when it cannot be read.
 */
export function parseTime(v: unknown, tz: string, endOfDay = false): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (/^\d{10,15}$/.test(s)) return Number(s);
  let m = DATE_ONLY.exec(s);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
    const start = zonedTime(y, mo, d, 0, 0, 0, 0, tz);
    return endOfDay ? endOfLocalDay(start, tz) : start;
  }
  m = LOCAL_DT.exec(s);
  if (m) {
    const n = m.slice(1).map((x) => Number(x ?? 0));
    if (n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59) return null;
    return zonedTime(n[0], n[1], n[2], n[3], n[4], n[5] || 0, 0, tz);
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s)) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

export type ValidityPreset = 'today' | 'days' | 'range';

export interface TempPassInput {
  plate?: unknown;
  digits?: unknown;
  house?: unknown;
  note?: unknown;
  preset?: unknown;
  days?: unknown;
  from?: unknown;
  to?: unknown;
}

export interface TempPassDraft {
  kind: 'plate' | 'digits';
  raw: string;
  canonical: string | null;
  digits: string | null;
  house: string;
  note: string;
  validFrom: number;
  validTo: number;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: string };

export const MAX_DAYS = 366;
const MAX_TEXT = 200;

function text(v: unknown, name: string): string | { error: string } {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' && typeof v !== 'number') return { error: `${name} must be text` };
  const s = String(v).trim();
  if (s.length > MAX_TEXT) return { error: `${name} is longer than ${MAX_TEXT} characters` };
  return s;
}

/** The window of a preset, or an error. */
export function validityWindow(input: Pick<TempPassInput, 'preset' | 'days' | 'from' | 'to'>, now: number, tz: string): Validated<{ from: number; to: number }> {
  const preset = input.preset === undefined || input.preset === '' ? (input.to !== undefined ? 'range' : input.days !== undefined ? 'days' : 'today') : input.preset;
  if (preset === 'today') return { ok: true, value: { from: now, to: endOfLocalDay(now, tz) } };
  if (preset === 'days') {
    const n = Number(input.days);
    if (!Number.isInteger(n) || n < 1 || n > MAX_DAYS) return { ok: false, error: `days must be a whole number 1..${MAX_DAYS}` };
    return { ok: true, value: { from: now, to: endOfLocalDay(now, tz, n - 1) } };
  }
  if (preset === 'range') {
    const from = input.from === undefined || input.from === '' || input.from === null ? now : parseTime(input.from, tz);
    if (from === null) return { ok: false, error: 'from is not a valid time' };
    const to = parseTime(input.to, tz, true);
    if (to === null) return { ok: false, error: 'to is not a valid time' };
    if (to < from) return { ok: false, error: 'the validity window ends before it starts' };
    if (to < now) return { ok: false, error: 'the validity window is already over' };
    if (to - from > MAX_DAYS * 86400000) return { ok: false, error: `the validity window is longer than ${MAX_DAYS} days` };
    return { ok: true, value: { from, to } };
  }
  return { ok: false, error: `unknown preset "${String(preset)}" (expected today, days or range)` };
}

/**
 * Validates a new temporary pass: a full plate or the 3-digit number (`digits`, or a `plate` of
 * exactly three digits), house, note and the validity window. Nothing else is accepted.
 */
export function validateTempPass(input: TempPassInput, now: number, tz: string): Validated<TempPassDraft> {
  if (!input || typeof input !== 'object') return { ok: false, error: 'a temporary pass needs a plate or digits' };
  const house = text(input.house, 'house');
  if (typeof house !== 'string') return { ok: false, error: house.error };
  const note = text(input.note, 'note');
  if (typeof note !== 'string') return { ok: false, error: note.error };
  const plateIn = input.plate === undefined || input.plate === null ? '' : input.plate;
  const digitsIn = input.digits === undefined || input.digits === null ? '' : input.digits;
  if (typeof plateIn !== 'string' || (typeof digitsIn !== 'string' && typeof digitsIn !== 'number')) return { ok: false, error: 'plate and digits must be text' };
  const plateText = plateIn.trim();
  const digitsText = String(digitsIn).trim();
  if (plateText && digitsText) return { ok: false, error: 'give either a plate or digits, not both' };
  const win = validityWindow(input, now, tz);
  const subject = plateText || digitsText;
  if (!subject) return { ok: false, error: 'a temporary pass needs a plate or digits' };
  let draft: Omit<TempPassDraft, 'house' | 'note' | 'validFrom' | 'validTo'>;
  if (digitsText || /^[\d\s]+$/.test(plateText)) {
    const d = subject.replace(/\s+/g, '');
    if (!/^\d{3}$/.test(d)) return { ok: false, error: `digits must be exactly 3 digits (got "${subject.slice(0, 20)}")` };
    draft = { kind: 'digits', raw: subject, canonical: null, digits: d };
  } else {
    const p = normalizePlate(plateText);
    if (!p || p.canonical.length < 5 || !/[A-Z\p{L}]/u.test(p.canonical)) return { ok: false, error: `"${plateText.slice(0, 20)}" is not a plate (or give the 3 digits)` };
    draft = { kind: 'plate', raw: plateText, canonical: p.canonical, digits: p.digits };
  }
  if (!win.ok) return win;
  return { ok: true, value: { ...draft, house, note, validFrom: win.value.from, validTo: win.value.to } };
}

/** New end of a pass extended by N local days (from the later of its end and now) or to a time. */
export function extendedValidTo(current: { validTo: number; validFrom: number }, input: { days?: unknown; to?: unknown }, now: number, tz: string): Validated<number> {
  if (input.to !== undefined && input.to !== null && input.to !== '') {
    const to = parseTime(input.to, tz, true);
    if (to === null) return { ok: false, error: 'to is not a valid time' };
    if (to < current.validFrom || to < now) return { ok: false, error: 'the new end is before the pass starts or already over' };
    return { ok: true, value: to };
  }
  const n = input.days === undefined ? 1 : Number(input.days);
  if (!Number.isInteger(n) || n < 1 || n > MAX_DAYS) return { ok: false, error: `days must be a whole number 1..${MAX_DAYS}` };
  // a running pass gains N more local days; an expired one is valid again for N days from today
  return { ok: true, value: current.validTo >= now ? endOfLocalDay(current.validTo, tz, n) : endOfLocalDay(now, tz, n - 1) };
}
