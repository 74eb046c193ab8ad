/**
 * `accessLogOf(hub)`: the iVMS-4200 access log.
 *
 * `ingest(source, rows)` takes attlog rows as read (column-mapped, text as stored) and, for the
 * rows of this source not stored yet (dedupe by serialNo: the rescan window reads rows again),
 * repairs the mojibake (raw kept), maps direction and credential kind, turns the stored wall
 * clock into epoch ms in the site's zone, and writes in ONE transaction both the access events
 * (eventsOf(hub).recordBatch: the same events table, retention, REST and 'event' on the bus as
 * every credential) and the log rows (ivms_rows, each person's last passage, the doors). Calls
 * run one after the other. `highWater(source)` is the largest serialNo stored.
 *
 * Reports: the log (filters, pages), the doors, who is inside (`summary`) and the work time
 * (`workTime`), all from sqlite — usable while SQL Server is down.
 *
 * After hours: with `GATEPOST_ACCESS_AFTER_HOURS=HH:MM` (or `setAfterHours`) people still inside
 * at/after that local time raise one FeatureAlarm (source 'ivms', kind 'after-hours') per person
 * per day; checked every minute and after each ingest.
 */
import type { Hub, Service } from './hub';
import { eventsOf } from './events-service';
import { isValidTimeZone } from '../core/validity';
import type { AccessEventPayload, FeatureAlarm, IvmsRow } from '../core/contracts';
import type { EventRecord } from '../store/events-store';
import { AccessFilter, AccessLogRow, AccessStore } from '../store/access-store';
import {
  AccessDirection,
  AccessRow,
  DEFAULT_MAX_SHIFT_MS,
  LocalTime,
  normalizeIvmsRow,
  parseHourMinute,
  PresenceSummary,
  whoIsInside,
  WorkDay,
  workDaysOf,
  WorkTotals,
  workTotals,
} from '../core/attlog';

const DAY_MS = 86400000;
const COLLATOR = new Intl.Collator('ru');
const AFTER_HOURS_CHECK_MS = 60000;
const ALARMED_KEY = 'access.after-hours.alarmed';

export interface IngestOptions {
  /** the site's direction labels (merged over the defaults) */
  directionMap?: Record<string, AccessDirection>;
  /** IANA zone of the stored wall clock (default: the hub's) */
  timezone?: string;
}

export interface IngestResult {
  inserted: number;
  /** rows stored before (the rescan window) or repeated in this batch */
  duplicates: number;
  events: AccessEventPayload[];
  /** rows that could not be read at all (no integer serialNo), logged */
  skipped?: number;
}

export interface WorkTimeReport {
  from: string;
  to: string;
  days: WorkDay[];
  totals: WorkTotals[];
  total: { people: number; days: number; insideMs: number; flaggedDays: number };
}

export class AccessLogService implements Service {
  private store: AccessStore | null = null;
  private started: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private zones = new Map<string, LocalTime>();
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** minutes after local midnight, or null (off) */
  private afterHours: number | null;
  /** the people already alarmed today (kept in the meta table: once a day also across restarts) */
  private alarmed: { day: string; persons: Set<string> } = { day: '', persons: new Set() };
  private closed = false;
  /** rows ingested since start */
  ingested = 0;

  constructor(private readonly hub: Hub) {
    eventsOf(hub); // created first, so it closes after this service
    const env = process.env.GATEPOST_ACCESS_AFTER_HOURS;
    this.afterHours = parseHourMinute(env);
    if (env && env !== 'off' && this.afterHours === null) hub.logger.warn(`GATEPOST_ACCESS_AFTER_HOURS=${JSON.stringify(env)} is not HH:MM: the after-hours alarm is off`);
  }

  async init(): Promise<void> {
    this.started = (async () => {
      this.store = new AccessStore(await this.hub.db());
      try {
        const saved = JSON.parse((await this.store.getMeta(ALARMED_KEY)) ?? 'null') as { day?: unknown; persons?: unknown } | null;
        if (saved && typeof saved.day === 'string' && Array.isArray(saved.persons)) this.alarmed = { day: saved.day, persons: new Set(saved.persons.map(String)) };
      } catch {
        /* none kept, or unreadable: start afresh */
      }
      this.prune().catch((err) => this.hub.logger.error(`access log retention prune failed: ${err.message}`));
      this.pruneTimer = setInterval(() => this.prune().catch((err) => this.hub.logger.error(`access log retention prune failed: ${err.message}`)), DAY_MS);
      this.pruneTimer.unref();
      this.timer = setInterval(() => this.checkAfterHours().catch((err) => this.hub.logger.error(`after-hours check failed: ${err.message}`)), AFTER_HOURS_CHECK_MS);
      this.timer.unref();
    })();
    return this.started;
  }

  private async ready(): Promise<AccessStore> {
    await this.started;
    if (this.closed || !this.store) throw new Error('access log service is not open');
    return this.store;
  }

  /** The wall-clock helper of a zone (the hub's by default). */
  localTime(tz = this.hub.timezone): LocalTime {
    let lt = this.zones.get(tz);
    if (!lt) this.zones.set(tz, (lt = new LocalTime(tz)));
    return lt;
  }

  /** The hour (minutes after local midnight) after which people inside are highlighted and alarmed; null: off. */
  get afterHoursMinutes(): number | null {
    return this.afterHours;
  }
  setAfterHours(v: string | number | null): void {
    this.afterHours = typeof v === 'number' ? v : parseHourMinute(v);
  }

  ingest(source: string, rows: IvmsRow[], opts: IngestOptions = {}): Promise<IngestResult> {
    const run = this.chain.then(() => this.ingestNow(source, rows, opts));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async ingestNow(source: string, rows: IvmsRow[], opts: IngestOptions): Promise<IngestResult> {
    const store = await this.ready();
    if (!rows.length) return { inserted: 0, duplicates: 0, events: [] };
    if (opts.timezone && !isValidTimeZone(opts.timezone)) throw new Error(`access log ${source}: unknown time zone "${opts.timezone}"`);
    const now = this.hub.clock.now();
    const lt = this.localTime(opts.timezone || this.hub.timezone);
    // one row per serial (the last copy wins), then the serials not stored yet
    const bySerial = new Map<number, IvmsRow>();
    let bad = 0;
    for (const r of rows) {
      if (!Number.isSafeInteger(r?.serialNo)) {
        bad++;
        continue;
      }
      bySerial.set(r.serialNo, r);
    }
    if (bad) this.hub.logger.warn(`access log ${source}: ${bad} rows without a valid serialNo skipped`);
    const stored = await store.existing(source, [...bySerial.keys()]);
    const fresh: AccessRow[] = [];
    for (const [serial, r] of bySerial) {
      if (stored.has(serial)) continue;
      try {
        fresh.push(normalizeIvmsRow(r, { lt, now, directionMap: opts.directionMap }));
      } catch (err) {
        bad++;
        this.hub.logger.error(`access log ${source}: row ${serial} could not be read: ${(err as Error).message}`);
      }
    }
    const duplicates = rows.length - bad - fresh.length;
    if (!fresh.length) return { inserted: 0, duplicates, events: [], skipped: bad };
    fresh.sort((a, b) => a.serialNo - b.serialNo);
    const recs = fresh.map((r) => this.recordOf(source, r));
    await eventsOf(this.hub).recordBatch(recs, (tx, written) =>
      AccessStore.insertRows(
        tx,
        source,
        written.map((rec, i) => ({ id: rec.eventId, row: fresh[i] })),
        now,
      ),
    );
    this.ingested += fresh.length;
    if (this.afterHours !== null) this.checkAfterHours().catch((err) => this.hub.logger.error(`after-hours check failed: ${err.message}`));
    return {
      inserted: fresh.length,
      duplicates,
      skipped: bad,
      events: recs.map((rec) => {
        const { input: _input, ...ev } = rec;
        return ev;
      }),
    };
  }

  private recordOf(source: string, r: AccessRow): EventRecord {
    return {
      eventId: 0,
      ts: r.ts,
      kind: r.kind,
      gate: r.door ?? undefined,
      camera: r.reader ?? r.device ?? undefined,
      direction: r.direction === 'in' ? 'entry' : r.direction === 'out' ? 'exit' : undefined,
      plate: '',
      raw: r.cardNo ?? '',
      digits: null,
      decision: 'allowed',
      source: 'device',
      reason: `ivms ${source} #${r.serialNo}${r.timeMissing ? ' (no time in the row: ingest time)' : ''}${r.direction === null && r.directionRaw ? ` (direction "${r.directionRaw}" not mapped)` : ''}`,
      latencyMs: NaN,
      requestId: `ivms:${source}:${r.serialNo}`,
      personId: r.employeeID ?? undefined,
      personName: r.personName ?? undefined,
      credential: r.cardNo ?? undefined,
    };
  }

  /** The largest serialNo stored for this source (null: none). */
  async highWater(source: string): Promise<number | null> {
    const store = await this.ready();
    await this.chain;
    return store.highWater(source);
  }

  async query(f: AccessFilter): Promise<{ rows: AccessLogRow[]; total: number }> {
    return (await this.ready()).query(f);
  }

  async *pages(f: AccessFilter, pageSize?: number): AsyncGenerator<AccessLogRow[]> {
    yield* (await this.ready()).pages(f, pageSize);
  }

  async doors(): Promise<Array<{ door: string; doorRaw: string | null; firstTs: number; lastTs: number }>> {
    return (await this.ready()).doors();
  }

  /** Person keys matching a search (name / card / employee ID; clean or raw). */
  async personsMatching(q: string[]): Promise<string[]> {
    return (await this.ready()).personsMatching(q);
  }

  /** Who is inside now. */
  async summary(opts: { afterHours?: number | null; staleMs?: number } = {}): Promise<PresenceSummary & { afterHoursAt: number | null; ts: number }> {
    const store = await this.ready();
    const now = this.hub.clock.now();
    const afterHours = opts.afterHours !== undefined ? opts.afterHours : this.afterHours;
    const s = whoIsInside(await store.lastPassages(), { lt: this.localTime(), now, afterHours, staleMs: opts.staleMs });
    return { ...s, afterHoursAt: afterHours, ts: now };
  }

  /**
   * Work time per person per local day in ['YYYY-MM-DD', 'YYYY-MM-DD'] (site zone). Passages up
   * to a shift's length around the period are read too, so a shift across the period's edges
   * pairs; a shift belongs to the day it starts.
   */
  async workTime(fromDay: string, toDay: string, person?: string | string[]): Promise<WorkTimeReport> {
    const store = await this.ready();
    const lt = this.localTime();
    const from = lt.dayStart(fromDay) - DEFAULT_MAX_SHIFT_MS;
    const to = lt.dayStart(toDay, 1) + DEFAULT_MAX_SHIFT_MS;
    const now = this.hub.clock.now();
    const persons = Array.isArray(person) ? person : person ? [person] : undefined;
    const all = await store.passagesByPerson(from, to, persons);
    // people by name (one collation per person, not per day), each one's days in order
    const people = [...all.entries()].sort((a, b) => COLLATOR.compare(a[1].name ?? a[0], b[1].name ?? b[0]));
    const days: WorkDay[] = [];
    for (const [p, { name, passages }] of people) for (const d of workDaysOf(p, name, passages, { lt, now, fromDay, toDay })) days.push(d);
    const totals = workTotals(days);
    return {
      from: fromDay,
      to: toDay,
      days,
      totals,
      total: {
        people: totals.length,
        days: days.length,
        insideMs: totals.reduce((s, t) => s + t.insideMs, 0),
        flaggedDays: totals.reduce((s, t) => s + t.flaggedDays, 0),
      },
    };
  }

  /** Raises the after-hours alarm once per person per local day. Returns the alarms raised. */
  async checkAfterHours(): Promise<FeatureAlarm[]> {
    if (this.afterHours === null || this.closed) return [];
    const s = await this.summary();
    const lt = this.localTime();
    const today = lt.day(s.ts);
    if (this.alarmed.day !== today) this.alarmed = { day: today, persons: new Set() };
    const raised: FeatureAlarm[] = [];
    for (const p of s.people) {
      if (!p.afterHours) continue;
      if (this.alarmed.persons.has(p.person)) continue;
      this.alarmed.persons.add(p.person);
      const who = p.name ?? p.employeeID ?? p.cardNo ?? p.person;
      const alarm: FeatureAlarm = {
        source: 'ivms',
        kind: 'after-hours',
        severity: 'warning',
        subject: who,
        ts: s.ts,
        message: `${who} is still inside after ${String(Math.floor(this.afterHours / 60)).padStart(2, '0')}:${String(this.afterHours % 60).padStart(2, '0')} (entered ${lt.wallClock(p.ts).replace('T', ' ')}${p.door ? `, ${p.door}` : ''})`,
      };
      raised.push(alarm);
      this.hub.emit('alarm', alarm);
    }
    if (raised.length && this.store) await this.store.setMeta(ALARMED_KEY, JSON.stringify({ day: today, persons: [...this.alarmed.persons] }));
    return raised;
  }

  /** Deletes log rows older than the retention (hub.retentionYears), like the events. */
  async prune(now = this.hub.clock.now()): Promise<number> {
    const store = await this.ready();
    const years = this.hub.retentionYears;
    if (!(years > 0)) return 0;
    return store.prune(now - Math.round(years * 365.25 * DAY_MS));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.timer = this.pruneTimer = null;
    await this.chain.catch(() => undefined);
    this.closed = true;
  }
}

export const accessLogOf = (hub: Hub): AccessLogService => hub.service('access-log', (h) => new AccessLogService(h));
