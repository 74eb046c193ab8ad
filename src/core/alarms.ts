/**
 * The one alarm model and its pure rules (no clock, no I/O: every function takes `now`).
 *
 *  - `Alert`: type, severity, subject, time, message, optional JPEG — what the dashboard shows and
 *    the chats receive, whatever raised it (`alertOfAlarm` maps the hub's `Alarm` union, the other
 *    rules below make the rest: refused plate, gate held open, E-Poselok stale, camera motion);
 *  - `AlertSettings`: the site's rules (persisted by the alarm service, edited on the dashboard);
 *  - `FloodControl`: per chat at most N messages a minute, repeats of a type grouped into one
 *    summary («ещё 12 отказов за 5 мин»), non-critical alerts held during the chat's quiet hours
 *    and summed up after them;
 *  - `HeldOpenWatch`, `StaleWatch`: a gate open longer than N minutes, no good E-Poselok sync for N hours.
 */
import type { AlarmSeverity, FeatureAlarm, GateKind, GateStateName } from './contracts';

/** The types a chat can subscribe to; flows may add their own tags (`telegram-notify`). */
export const ALERT_TYPES = ['plate-refused', 'gate-held', 'gate-fault', 'eposelok-stale', 'device-offline', 'camera-motion', 'ivms-after-hours', 'system'] as const;
export type KnownAlertType = (typeof ALERT_TYPES)[number];
export const CHAT_ROLES = ['admin', 'guard', 'viewer'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];
/** subscribes a chat to every type */
export const ALL_TYPES = '*';
const TAG = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export const isAlertTag = (v: unknown): v is string => typeof v === 'string' && (v === ALL_TYPES || TAG.test(v));

export interface Alert {
  type: string;
  severity: AlarmSeverity;
  /** what it is about: a gate, a device, a camera, a person */
  subject: string;
  ts: number;
  message: string;
  image?: Buffer;
}

/** The alarm shapes of the hub (kept structural here: the core does not import services). */
export type AlarmLike =
  | { source: 'gate'; gate: string; ts: number; message: string }
  | { source: 'health'; what: string; ts: number; message: string }
  | { source: 'eposelok'; kind: 'shrink' | 'stale'; ts: number; message: string }
  | FeatureAlarm;

/** A hub alarm in the alert model; null when another rule covers it (E-Poselok stale: StaleWatch; motion: camera-motion). */
export function alertOfAlarm(a: AlarmLike): Alert | null {
  if (!a || typeof a !== 'object') return null;
  switch (a.source) {
    case 'gate':
      return { type: 'gate-fault', severity: 'critical', subject: String(a.gate), ts: a.ts, message: String(a.message ?? '') };
    case 'health': {
      const what = String(a.what ?? '');
      const device = /^(gate|camera|ivms|ftp|relay|intercom|eposelok|sokol|device)(:|$)/.test(what);
      return { type: device ? 'device-offline' : 'system', severity: device ? 'critical' : 'warning', subject: what, ts: a.ts, message: String(a.message ?? '') };
    }
    case 'eposelok':
      if (a.kind === 'stale') return null;
      return { type: 'eposelok-stale', severity: 'warning', subject: 'E-Poselok', ts: a.ts, message: String(a.message ?? '') };
    default: {
      const f = a as FeatureAlarm;
      if (f.source === 'camera' && f.kind === 'motion') return null;
      const type = f.source === 'ivms' && f.kind === 'after-hours' ? 'ivms-after-hours' : tagOf(`${f.source}-${f.kind}`);
      const severity: AlarmSeverity = f.severity === 'info' || f.severity === 'critical' ? f.severity : 'warning';
      return { type, severity, subject: String(f.subject ?? f.source), ts: Number(f.ts), message: String(f.message ?? ''), image: Buffer.isBuffer(f.image) ? f.image : undefined };
    }
  }
}

/** Any text as an alert tag (lower case, safe characters). */
export function tagOf(s: string): string {
  const t = String(s)
    .toLowerCase()
    .replace(/[^a-z0-9_.:-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  return t || 'flow';
}

// ───────────────────────── settings ─────────────────────────

export interface AlertSettings {
  refused: { enabled: boolean; /** gate ids; empty: every gate */ gates: string[]; /** 'HH:MM' window; both null: always */ from: string | null; to: string | null };
  /** gate open or held longer than this raises 'gate-held' (0: off) */
  heldOpenMinutes: number;
  /** no good E-Poselok sync for this long raises 'eposelok-stale' (0: off) */
  staleHours: number;
  /** camera motion (with its snapshot) is an alert */
  motion: boolean;
  /** at most this many messages a minute per chat */
  perMinute: number;
  /** repeats of a type within this many minutes are grouped */
  groupMinutes: number;
  /** an undelivered message older than this is dropped (logged) */
  maxAgeHours: number;
  /** a verification code is valid this long */
  codeMinutes: number;
  /** language of the messages */
  lang: 'ru' | 'en';
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  refused: { enabled: true, gates: [], from: null, to: null },
  heldOpenMinutes: 10,
  staleHours: 6,
  motion: true,
  perMinute: 20,
  groupMinutes: 5,
  maxAgeHours: 24,
  codeMinutes: 10,
  lang: 'ru',
};

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
export const minutesOf = (hhmm: string): number => {
  const m = HHMM.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
};

function num(v: unknown, name: string, min: number, max: number, problems: string[], dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v === 'boolean' || v === null || v === '' || !Number.isFinite(n) || n < min || n > max) {
    problems.push(`${name} must be a number ${min}..${max}`);
    return dflt;
  }
  return n;
}

function hhmm(v: unknown, name: string, problems: string[]): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || !HHMM.test(v)) {
    problems.push(`${name} must be HH:MM`);
    return null;
  }
  return v;
}

/** Validates a (partial) settings object over `base`; problems listed, nothing silently changed. */
export function parseAlertSettings(input: unknown, base: AlertSettings = DEFAULT_ALERT_SETTINGS): { value: AlertSettings; problems: string[] } {
  const p: string[] = [];
  const i = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  if (!input || typeof input !== 'object' || Array.isArray(input)) p.push('settings must be an object');
  const r = (i.refused && typeof i.refused === 'object' ? i.refused : {}) as Record<string, unknown>;
  const gates = r.gates === undefined ? base.refused.gates : r.gates;
  if (!Array.isArray(gates) || gates.some((g) => typeof g !== 'string' || !g.trim())) p.push('refused.gates must be a list of gate ids');
  const value: AlertSettings = {
    refused: {
      enabled: r.enabled === undefined ? base.refused.enabled : r.enabled === true,
      gates: Array.isArray(gates) ? gates.filter((g) => typeof g === 'string' && g.trim()).map((g) => String(g).trim()) : base.refused.gates,
      from: r.from === undefined ? base.refused.from : hhmm(r.from, 'refused.from', p),
      to: r.to === undefined ? base.refused.to : hhmm(r.to, 'refused.to', p),
    },
    heldOpenMinutes: num(i.heldOpenMinutes, 'heldOpenMinutes', 0, 24 * 60, p, base.heldOpenMinutes),
    staleHours: num(i.staleHours, 'staleHours', 0, 24 * 30, p, base.staleHours),
    motion: i.motion === undefined ? base.motion : i.motion === true,
    perMinute: Math.round(num(i.perMinute, 'perMinute', 1, 60, p, base.perMinute)),
    groupMinutes: num(i.groupMinutes, 'groupMinutes', 0, 24 * 60, p, base.groupMinutes),
    maxAgeHours: num(i.maxAgeHours, 'maxAgeHours', 0.01, 24 * 30, p, base.maxAgeHours),
    codeMinutes: num(i.codeMinutes, 'codeMinutes', 1, 24 * 60, p, base.codeMinutes),
    lang: i.lang === undefined ? base.lang : i.lang === 'en' ? 'en' : i.lang === 'ru' ? 'ru' : (p.push("lang must be 'ru' or 'en'"), base.lang),
  };
  if ((value.refused.from === null) !== (value.refused.to === null)) p.push('refused.from and refused.to are set together');
  return { value, problems: p };
}

/** Is the local minute-of-day inside [from, to) (a window may cross midnight; from = to: never)? */
export function inWindow(minute: number, from: number, to: number): boolean {
  if (!Number.isFinite(from) || !Number.isFinite(to) || from === to) return false;
  return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

/** Local minute of the day of `ts` in `tz`. */
export function localMinute(ts: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(ts));
  const h = Number(parts.find((x) => x.type === 'hour')?.value ?? 0);
  const m = Number(parts.find((x) => x.type === 'minute')?.value ?? 0);
  return (h % 24) * 60 + m;
}

/** Does a refused plate at `gate` at local `minute` raise an alert under the settings? */
export function refusedAlerts(s: AlertSettings, gate: string | undefined, minute: number): boolean {
  if (!s.refused.enabled) return false;
  if (s.refused.gates.length && !s.refused.gates.includes(gate ?? '')) return false;
  if (s.refused.from && s.refused.to) return inWindow(minute, minutesOf(s.refused.from), minutesOf(s.refused.to));
  return true;
}

// ───────────────────────── texts ─────────────────────────

const TYPE_TEXT: Record<string, { ru: string; en: string; icon: string }> = {
  'plate-refused': { ru: 'Отказ в проезде', en: 'Passage refused', icon: '🚫' },
  'gate-held': { ru: 'Ворота долго открыты', en: 'Gate open too long', icon: '⏳' },
  'gate-fault': { ru: 'Неисправность ворот', en: 'Gate fault', icon: '⚠️' },
  'eposelok-stale': { ru: 'E-Poselok: список устарел', en: 'E-Poselok: list stale', icon: '📋' },
  'device-offline': { ru: 'Устройство не отвечает', en: 'Device offline', icon: '🔌' },
  'camera-motion': { ru: 'Движение', en: 'Motion', icon: '🎥' },
  'ivms-after-hours': { ru: 'Человек внутри в нерабочее время', en: 'Person inside after hours', icon: '🌙' },
  system: { ru: 'Система', en: 'System', icon: 'ℹ️' },
};

export function typeLabel(type: string, lang: 'ru' | 'en'): string {
  return TYPE_TEXT[type]?.[lang] ?? type;
}

export function plural(n: number, one: string, few: string, many: string): string {
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

/** Local 'DD.MM HH:MM:SS' of `ts` in `tz`. */
export function localStamp(ts: number, tz: string): string {
  const f = new Intl.DateTimeFormat('ru-RU', { timeZone: tz, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return f.format(new Date(ts)).replace(',', '');
}

/** The chat message of an alert: icon, type, subject, message and the time it was raised (delivery may be later). */
export function alertText(a: Alert, lang: 'ru' | 'en', tz: string): string {
  const icon = TYPE_TEXT[a.type]?.icon ?? (a.severity === 'critical' ? '❗' : 'ℹ️');
  const head = `${icon} ${typeLabel(a.type, lang)}${a.subject ? `: ${a.subject}` : ''}`;
  return `${head}\n${a.message ? `${a.message}\n` : ''}🕒 ${localStamp(a.ts, tz)}`.slice(0, 4000);
}

/** «ещё 12 отказов за 5 мин» / "12 more refusals in 5 min". */
export function groupText(g: { type: string; count: number; first: number; last: number; quiet?: boolean }, lang: 'ru' | 'en'): string {
  const mins = Math.max(1, Math.round((g.last - g.first) / 60000));
  if (lang === 'en') {
    const what = g.type === 'plate-refused' ? (g.count === 1 ? 'refusal' : 'refusals') : `"${typeLabel(g.type, 'en')}" ${g.count === 1 ? 'alert' : 'alerts'}`;
    return `${g.quiet ? 'during quiet hours: ' : ''}${g.count} more ${what} in ${mins} min`;
  }
  const what = g.type === 'plate-refused' ? plural(g.count, 'отказ', 'отказа', 'отказов') : `${plural(g.count, 'оповещение', 'оповещения', 'оповещений')} «${typeLabel(g.type, 'ru')}»`;
  return `${g.quiet ? 'за тихие часы: ' : ''}ещё ${g.count} ${what} за ${mins} мин`;
}

// ───────────────────────── flood control ─────────────────────────

export interface ChatLimits {
  perMinute: number;
  groupMs: number;
  /** quiet hours, minutes of the local day; null: none */
  quiet: { from: number; to: number } | null;
  /** the local minute of `now` (for quiet hours) */
  minute: number;
}

export interface Group {
  chatId: number;
  type: string;
  count: number;
  first: number;
  last: number;
  quiet: boolean;
}

interface ChatFlood {
  sent: number[];
  lastSent: Map<string, number>;
  groups: Map<string, Group>;
}

/**
 * Per chat: `offer` says whether an alert is sent now or folded into its type's group; `due`
 * returns the groups to send as one summary message each (repeats once the group window has
 * passed, rate-limited ones once a slot frees, quiet-hour ones after the quiet hours).
 */
export class FloodControl {
  private chats = new Map<number, ChatFlood>();

  private chat(id: number): ChatFlood {
    let c = this.chats.get(id);
    if (!c) this.chats.set(id, (c = { sent: [], lastSent: new Map(), groups: new Map() }));
    return c;
  }

  /** `repeats: false`: a flow's own messages (each says something else) are not folded as repeats, only rate-limited and held in quiet hours. */
  offer(chatId: number, a: Pick<Alert, 'type' | 'severity'>, now: number, lim: ChatLimits, repeats = true): 'send' | 'grouped' {
    const c = this.chat(chatId);
    c.sent = c.sent.filter((t) => now - t < 60_000);
    const quiet = a.severity !== 'critical' && !!lim.quiet && inWindow(lim.minute, lim.quiet.from, lim.quiet.to);
    const last = c.lastSent.get(a.type);
    const repeat = repeats && last !== undefined && now - last < lim.groupMs;
    const g = c.groups.get(a.type);
    if (quiet || repeat || g || c.sent.length >= Math.max(1, lim.perMinute)) {
      if (g) {
        g.count += 1;
        g.last = now;
        g.quiet = g.quiet || quiet;
      } else c.groups.set(a.type, { chatId, type: a.type, count: 1, first: now, last: now, quiet });
      return 'grouped';
    }
    c.sent.push(now);
    c.lastSent.set(a.type, now);
    return 'send';
  }

  /** Groups ready to be summed up now (removed; each counts as one sent message). */
  due(now: number, limitsOf: (chatId: number) => ChatLimits | null): Group[] {
    const out: Group[] = [];
    for (const [chatId, c] of this.chats) {
      const lim = limitsOf(chatId);
      if (!lim) {
        this.chats.delete(chatId);
        continue;
      }
      c.sent = c.sent.filter((t) => now - t < 60_000);
      const quietNow = !!lim.quiet && inWindow(lim.minute, lim.quiet.from, lim.quiet.to);
      for (const [type, g] of c.groups) {
        if (c.sent.length >= Math.max(1, lim.perMinute)) break;
        if (quietNow) continue;
        const last = c.lastSent.get(type);
        if (last !== undefined && now - last < lim.groupMs) continue;
        c.groups.delete(type);
        c.sent.push(now);
        c.lastSent.set(type, now);
        out.push(g);
      }
    }
    return out;
  }

  forget(chatId: number): void {
    this.chats.delete(chatId);
  }

  pending(chatId: number): number {
    let n = 0;
    for (const g of this.chats.get(chatId)?.groups.values() ?? []) n += g.count;
    return n;
  }
}

// ───────────────────────── gate held open, E-Poselok stale ─────────────────────────

/** One alert per episode of a gate staying open/held longer than the limit. */
export class HeldOpenWatch {
  private open = new Map<string, { since: number; name: string; kind: GateKind; alerted: boolean }>();

  state(s: { gate: string; name: string; kind: GateKind; state: GateStateName; since: number }, now: number): void {
    if (s.state === 'open' || s.state === 'held') {
      const cur = this.open.get(s.gate);
      if (!cur) this.open.set(s.gate, { since: Number.isFinite(s.since) ? Math.min(s.since, now) : now, name: s.name, kind: s.kind, alerted: false });
    } else this.open.delete(s.gate);
  }

  check(now: number, minutes: number): Array<{ gate: string; name: string; kind: GateKind; since: number }> {
    if (!(minutes > 0)) return [];
    const out: Array<{ gate: string; name: string; kind: GateKind; since: number }> = [];
    for (const [gate, o] of this.open) {
      if (!o.alerted && now - o.since >= minutes * 60_000) {
        o.alerted = true;
        out.push({ gate, name: o.name, kind: o.kind, since: o.since });
      }
    }
    return out;
  }
}

/** One alert when E-Poselok has had no good sync for the limit; re-armed by a good sync. */
export class StaleWatch {
  private lastOk: number | null = null;
  private configured = false;
  private alerted = false;

  constructor(private readonly startedAt: number) {}

  state(s: { configured: boolean; lastSuccessAt: number | null }): void {
    this.configured = !!s.configured;
    if (s.lastSuccessAt !== null && (this.lastOk === null || s.lastSuccessAt > this.lastOk)) {
      this.lastOk = s.lastSuccessAt;
      this.alerted = false;
    }
  }

  check(now: number, hours: number): { since: number | null } | null {
    if (!this.configured || !(hours > 0) || this.alerted) return null;
    const ref = this.lastOk ?? this.startedAt;
    if (now - ref < hours * 3_600_000) return null;
    this.alerted = true;
    return { since: this.lastOk };
  }
}

// ───────────────────────── verification codes ─────────────────────────

/** Failed code confirmations: after `max` wrong codes within `windowMs`, confirmations are refused until the window passes. */
export class AttemptLimiter {
  private fails: number[] = [];
  constructor(
    private readonly max = 5,
    private readonly windowMs = 10 * 60_000,
  ) {}
  blockedFor(now: number): number {
    this.fails = this.fails.filter((t) => now - t < this.windowMs);
    return this.fails.length >= this.max ? this.fails[0] + this.windowMs - now : 0;
  }
  fail(now: number): void {
    this.fails.push(now);
  }
  reset(): void {
    this.fails = [];
  }
}
