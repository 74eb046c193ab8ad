/**
 * The iVMS-4200 access log, pure domain code (no sqlite, no Node-RED, no clock: `now` is given):
 *  - a row as iVMS stored it → a clean access row (mojibake repaired, raw kept, direction and
 *    credential kind mapped, the site's wall-clock time turned into epoch ms);
 *  - work time: per person per work day the first entry, the last exit and the time inside summed
 *    over paired entry → exit passages. A shift belongs to the day it starts, so a night shift
 *    (in 22:00, out 06:00) is one pair of its first day. An entry with no exit (or an exit with no
 *    entry) is flagged, never guessed;
 *  - who is inside: per person the last passage, how many are inside, who is inside after hours.
 */
import type { IvmsRow } from './contracts';
import { repairMojibake } from './mojibake';
import { localParts, zonedTime } from './validity';

export type AccessDirection = 'in' | 'out';
/** The credential kinds iVMS reports. */
export type IvmsKind = 'card' | 'face' | 'fingerprint';

/** Direction labels seen in iVMS setups (case-insensitive; a site's own map is merged over these). */
export const DEFAULT_DIRECTION_MAP: Readonly<Record<string, AccessDirection>> = {
  vhod: 'in',
  вход: 'in',
  in: 'in',
  entry: 'in',
  enter: 'in',
  '1': 'in',
  vihod: 'out',
  vyhod: 'out',
  выход: 'out',
  out: 'out',
  exit: 'out',
  '0': 'out',
};

/** The direction of a label (clean text) through the site's map and the defaults; null when unknown. */
export function mapDirection(label: string | null, siteMap?: Record<string, AccessDirection>): AccessDirection | null {
  if (label === null) return null;
  const key = label.trim().toLowerCase();
  if (!key) return null;
  if (siteMap) {
    for (const [k, v] of Object.entries(siteMap)) if (k.trim().toLowerCase() === key && (v === 'in' || v === 'out')) return v;
  }
  return DEFAULT_DIRECTION_MAP[key] ?? null;
}

/** The credential kind of iVMS's verify mode: face / fingerprint when it says so, else card. */
export function kindOfVerifyMode(mode: string | null): IvmsKind {
  const m = (mode ?? '').toLowerCase();
  if (/face|лиц/.test(m)) return 'face';
  if (/finger|\bfp\b|отпеч|пальц/.test(m)) return 'fingerprint';
  return 'card';
}

/** 'HH:MM' → minutes after midnight; null for empty/invalid ('off', ''). */
export function parseHourMinute(v: string | null | undefined): number | null {
  const m = /^\s*(\d{1,2})(?::(\d{2}))?\s*$/.exec(v ?? '');
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2] ?? 0);
  if (h > 23 || mi > 59) return null;
  return h * 60 + mi;
}

/**
 * Wall-clock arithmetic of one time zone with the zone's offset cached per hour (Intl is slow:
 * reports over a million passages ask for the local day of every one of them).
 */
export class LocalTime {
  private offsets = new Map<number, number>();
  private starts = new Map<string, number>();
  constructor(readonly tz: string) {}

  /** local = utc + offset, for the hour that holds ts */
  private offset(ts: number): number {
    const h = Math.floor(ts / 3600000);
    let o = this.offsets.get(h);
    if (o === undefined) {
      const p = localParts(h * 3600000, this.tz);
      o = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - h * 3600000;
      if (this.offsets.size > 100000) this.offsets.clear();
      this.offsets.set(h, o);
    }
    return o;
  }

  private days = new Map<number, string>();
  /** 'YYYY-MM-DD' of ts in the zone (cached per hour: offsets change on whole hours or half hours, never within a 30-minute slot) */
  day(ts: number): string {
    const slot = Math.floor(ts / 1800000);
    let d = this.days.get(slot);
    if (d === undefined) {
      d = new Date(slot * 1800000 + this.offset(slot * 1800000)).toISOString().slice(0, 10);
      if (this.days.size > 100000) this.days.clear();
      this.days.set(slot, d);
    }
    return d;
  }

  /** minutes after local midnight */
  minuteOfDay(ts: number): number {
    const d = new Date(ts + this.offset(ts));
    return d.getUTCHours() * 60 + d.getUTCMinutes();
  }

  /** 'YYYY-MM-DDTHH:MM:SS' local */
  wallClock(ts: number): string {
    return new Date(ts + this.offset(ts)).toISOString().slice(0, 19);
  }

  /** The instant of a local wall-clock time (DST gaps/overlaps as validity.zonedTime, per hour cached). */
  epoch(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
    const key = `${year}-${month}-${day}-${hour}`;
    let start = this.starts.get(key);
    if (start === undefined) {
      start = zonedTime(year, month, day, hour, 0, 0, 0, this.tz);
      if (this.starts.size > 100000) this.starts.clear();
      this.starts.set(key, start);
    }
    return start + minute * 60000 + second * 1000 + ms;
  }

  /** Start of the local day 'YYYY-MM-DD' (+ addDays). */
  dayStart(day: string, addDays = 0): number {
    const [y, m, d] = day.split('-').map(Number);
    const t = new Date(Date.UTC(y, m - 1, d + addDays));
    return this.epoch(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), 0, 0, 0, 0);
  }
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?/;
const DATE_RE = /^(\d{4})[-./](\d{2})[-./](\d{2})$|^(\d{2})[-./](\d{2})[-./](\d{4})$/;
const TIME_RE = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

/** The epoch ms of iVMS's wall-clock time (authLocal, else authDate + authTime) in the site's zone; null when neither reads. */
export function timeOfRow(row: Pick<IvmsRow, 'authLocal' | 'authDate' | 'authTime'>, lt: LocalTime): number | null {
  const valid = (y: number, mo: number, d: number, h: number, mi: number, s: number) => mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 59 && y >= 1970;
  const m = LOCAL_RE.exec(row.authLocal ?? '');
  if (m) {
    const n = m.slice(1, 7).map((x) => Number(x ?? 0));
    const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
    if (valid(n[0], n[1], n[2], n[3], n[4], n[5])) return lt.epoch(n[0], n[1], n[2], n[3], n[4], n[5], ms);
  }
  const d = DATE_RE.exec((row.authDate ?? '').trim());
  const t = TIME_RE.exec((row.authTime ?? '').trim());
  if (d && t) {
    const [y, mo, dd] = d[1] ? [Number(d[1]), Number(d[2]), Number(d[3])] : [Number(d[6]), Number(d[5]), Number(d[4])];
    const [h, mi, s] = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
    if (valid(y, mo, dd, h, mi, s)) return lt.epoch(y, mo, dd, h, mi, s, 0);
  }
  return null;
}

/** Who a row is about: the employee ID, else the (clean) name, else the card; null when none. */
export function personKeyOf(employeeID: string | null, name: string | null, cardNo: string | null): string | null {
  const e = employeeID?.trim();
  if (e) return `id:${e}`;
  const n = name?.trim().toLowerCase();
  if (n) return `name:${n}`;
  const c = cardNo?.trim();
  if (c) return `card:${c}`;
  return null;
}

/** One iVMS row made clean, ready to store (raw text beside the clean). */
export interface AccessRow {
  serialNo: number;
  /** epoch ms; when the row had no readable time: the time it was ingested (`timeMissing`) */
  ts: number;
  timeMissing: boolean;
  authLocal: string | null;
  direction: AccessDirection | null;
  directionRaw: string | null;
  kind: IvmsKind;
  personKey: string | null;
  personName: string | null;
  personNameRaw: string | null;
  employeeID: string | null;
  cardNo: string | null;
  door: string | null;
  doorRaw: string | null;
  reader: string | null;
  readerRaw: string | null;
  device: string | null;
  deviceRaw: string | null;
  deviceSN: string | null;
  verifyMode: string | null;
  /** lower-case clean and raw name, card number and employee ID, for search */
  searchKey: string;
}

const trimmed = (v: string | null | undefined): string | null => {
  if (v === null || v === undefined) return null;
  const t = String(v).trim();
  return t === '' ? null : t;
};

/** An iVMS row → a clean access row. `now`: the ingest time (used when the row has no time). */
export function normalizeIvmsRow(row: IvmsRow, opts: { lt: LocalTime; now: number; directionMap?: Record<string, AccessDirection> }): AccessRow {
  const personNameRaw = trimmed(row.personName);
  const doorRaw = trimmed(row.doorName);
  const readerRaw = trimmed(row.readerName);
  const deviceRaw = trimmed(row.deviceName);
  const directionRaw = trimmed(row.direction);
  const personName = repairMojibake(personNameRaw);
  const employeeID = trimmed(repairMojibake(row.employeeID));
  const cardNo = trimmed(row.cardNo);
  const ts = timeOfRow(row, opts.lt);
  const search = [personName, personNameRaw !== personName ? personNameRaw : null, cardNo, employeeID].filter((x): x is string => !!x);
  return {
    serialNo: row.serialNo,
    ts: ts ?? opts.now,
    timeMissing: ts === null,
    authLocal: row.authLocal,
    direction: mapDirection(repairMojibake(directionRaw), opts.directionMap),
    directionRaw,
    kind: kindOfVerifyMode(repairMojibake(row.verifyMode)),
    personKey: personKeyOf(employeeID, personName, cardNo),
    personName,
    personNameRaw,
    employeeID,
    cardNo,
    door: repairMojibake(doorRaw) ?? repairMojibake(readerRaw) ?? repairMojibake(deviceRaw),
    doorRaw,
    reader: repairMojibake(readerRaw),
    readerRaw,
    device: repairMojibake(deviceRaw),
    deviceRaw,
    deviceSN: trimmed(row.deviceSN),
    verifyMode: trimmed(row.verifyMode),
    searchKey: search.join('\u0001').toLowerCase(),
  };
}

// ─────────────────────────────── work time ───────────────────────────────

/** A passage for the work-time report (one person). Direction null: not mapped (ignored for pairing, counted). */
export interface Passage {
  ts: number;
  direction: AccessDirection | null;
  door?: string | null;
}

export type WorkFlag = 'missing-exit' | 'missing-entry' | 'inside';

/** One person's work day. */
export interface WorkDay {
  person: string;
  name: string | null;
  /** the local day the shift started, 'YYYY-MM-DD' */
  day: string;
  firstIn: number | null;
  lastOut: number | null;
  /** ms inside, summed over complete entry → exit pairs that started this day */
  insideMs: number;
  pairs: number;
  passages: number;
  /** missing-exit: an entry with no exit (not counted); missing-entry: an exit with no entry; inside: entered and not out yet (now) */
  flags: WorkFlag[];
}

export interface WorkTotals {
  person: string;
  name: string | null;
  days: number;
  insideMs: number;
  flaggedDays: number;
}

export interface WorkTimeOptions {
  lt: LocalTime;
  now: number;
  /** an entry → exit longer than this is not a pair (both flagged); default 16 h */
  maxShiftMs?: number;
  /** the same direction again within this is a repeated swipe, merged; default 60 s */
  repeatMs?: number;
  /** only days in ['YYYY-MM-DD', 'YYYY-MM-DD'] are reported (passages around them still pair) */
  fromDay?: string;
  toDay?: string;
}

export const DEFAULT_MAX_SHIFT_MS = 16 * 3600000;
export const DEFAULT_REPEAT_MS = 60000;

/** The work days of one person from their passages (any order). */
export function workDaysOf(person: string, name: string | null, passages: Passage[], opts: WorkTimeOptions): WorkDay[] {
  const maxShift = opts.maxShiftMs ?? DEFAULT_MAX_SHIFT_MS;
  const repeat = opts.repeatMs ?? DEFAULT_REPEAT_MS;
  const sorted = passages.slice().sort((a, b) => a.ts - b.ts);
  const days = new Map<string, WorkDay>();
  const dayOf = (ts: number): WorkDay => {
    const day = opts.lt.day(ts);
    let d = days.get(day);
    if (!d) days.set(day, (d = { person, name, day, firstIn: null, lastOut: null, insideMs: 0, pairs: 0, passages: 0, flags: [] }));
    return d;
  };
  const flag = (d: WorkDay, f: WorkFlag) => {
    if (!d.flags.includes(f)) d.flags.push(f);
  };
  let open: Passage | null = null;
  let lastOut: Passage | null = null;
  for (const p of sorted) {
    dayOf(p.ts).passages++;
    if (p.direction === 'in') {
      if (open && p.ts - open.ts <= repeat) continue; // a repeated swipe: the first entry counts
      if (open) flag(dayOf(open.ts), 'missing-exit');
      open = p;
      const d = dayOf(p.ts);
      if (d.firstIn === null) d.firstIn = p.ts;
      lastOut = null;
    } else if (p.direction === 'out') {
      if (!open) {
        if (lastOut && p.ts - lastOut.ts <= repeat) {
          // a repeated exit swipe: the last one is the exit
          const d = dayOf(lastOut.ts);
          if (d.lastOut === lastOut.ts) d.lastOut = p.ts;
          lastOut = p;
          continue;
        }
        const d = dayOf(p.ts);
        flag(d, 'missing-entry');
        d.lastOut = p.ts;
        lastOut = p;
        continue;
      }
      if (p.ts - open.ts > maxShift) {
        flag(dayOf(open.ts), 'missing-exit');
        const d = dayOf(p.ts);
        flag(d, 'missing-entry');
        d.lastOut = p.ts;
      } else {
        const d = dayOf(open.ts);
        d.insideMs += p.ts - open.ts;
        d.pairs++;
        d.lastOut = p.ts;
      }
      open = null;
      lastOut = p;
    }
  }
  if (open) flag(dayOf(open.ts), opts.now - open.ts <= maxShift ? 'inside' : 'missing-exit');
  const out = [...days.values()].filter((d) => (!opts.fromDay || d.day >= opts.fromDay) && (!opts.toDay || d.day <= opts.toDay) && (d.firstIn !== null || d.lastOut !== null));
  return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

/** Totals per person over the reported days. */
export function workTotals(days: WorkDay[]): WorkTotals[] {
  const by = new Map<string, WorkTotals>();
  for (const d of days) {
    let t = by.get(d.person);
    if (!t) by.set(d.person, (t = { person: d.person, name: d.name, days: 0, insideMs: 0, flaggedDays: 0 }));
    t.days++;
    t.insideMs += d.insideMs;
    if (d.flags.some((f) => f !== 'inside')) t.flaggedDays++;
  }
  return [...by.values()];
}

// ─────────────────────────────── who is inside ───────────────────────────────

/** A person's last passage. */
export interface LastPassage {
  person: string;
  name: string | null;
  employeeID: string | null;
  cardNo: string | null;
  ts: number;
  direction: AccessDirection | null;
  door: string | null;
}

export interface PresenceEntry extends LastPassage {
  /** the last passage was an entry, not longer ago than staleMs */
  inside: boolean;
  /** the last passage was an entry longer ago than staleMs: not counted as inside (a forgotten exit swipe) */
  stale: boolean;
  /** inside after the configured hour (or since an earlier day) */
  afterHours: boolean;
}

export interface PresenceSummary {
  inside: number;
  afterHours: number;
  people: PresenceEntry[];
}

export interface PresenceOptions {
  lt: LocalTime;
  now: number;
  /** minutes after local midnight from which people still inside are highlighted; null: off */
  afterHours: number | null;
  /** an entry older than this no longer counts as inside; default 24 h */
  staleMs?: number;
}

export const DEFAULT_STALE_MS = 24 * 3600000;

/** Who is inside: per person the last passage; inside first (earliest entry first), then the rest (newest first). */
export function whoIsInside(lasts: LastPassage[], opts: PresenceOptions): PresenceSummary {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const today = opts.lt.day(opts.now);
  const pastHour = opts.afterHours !== null && opts.lt.minuteOfDay(opts.now) >= opts.afterHours;
  const people = lasts.map((l): PresenceEntry => {
    const entered = l.direction === 'in';
    const stale = entered && opts.now - l.ts > staleMs;
    const inside = entered && !stale;
    const afterHours = inside && opts.afterHours !== null && (pastHour || opts.lt.day(l.ts) < today);
    return { ...l, inside, stale, afterHours };
  });
  people.sort((a, b) => (a.inside !== b.inside ? (a.inside ? -1 : 1) : a.inside ? a.ts - b.ts : b.ts - a.ts));
  return { inside: people.filter((p) => p.inside).length, afterHours: people.filter((p) => p.afterHours).length, people };
}
