/**
 * The iVMS attlog poller (one per `ivms-sql` source): reads the SQL Server table incrementally by
 * serialNo from the high-water mark persisted in sqlite (accessLogOf(hub).highWater), hands the
 * rows to accessLogOf(hub).ingest (dedupe, mojibake repair, access events), and rescans a window
 * for rows that arrive late with serials below the mark (iVMS back-fills after a reconnect).
 *
 * The rescan window, precisely: every `rescanEveryMs` the serial range [from, H] is checked, where
 * H is the high-water mark and `from` is the lower of
 *   (a) the high-water mark this reader held `rescanWindowMs` ago (+1) — the serials that became
 *       current in the window (since the reader started, when it runs for less than that), and
 *   (b) the smallest serialNo of the rows whose authDateTime is within the last `rescanWindowMs`
 *       of the site's wall clock;
 * at most 50,000 serials. Only the serial numbers are read; serials not seen yet are then read in
 * full and ingested (the store dedupes anything read twice).
 *
 * While SQL Server is unreachable: reconnect with exponential backoff (1 s … 60 s), the
 * degraded entry `ivms:<source>`, and 'ivms-state' with connected false and the last error; the
 * local history stays fully usable (it is all in sqlite).
 */
import type { Hub } from './hub';
import { degradedOf } from './degraded';
import { accessLogOf } from './access-log-service';
import type { AccessEventPayload, IvmsRow, IvmsState } from '../core/contracts';

/** What the poller needs of a source (IvmsSource implements it). */
export interface IvmsReadable {
  readAfter(serial: number, limit?: number): Promise<IvmsRow[]>;
  readRange(fromSerial: number, toSerial: number, limit?: number): Promise<IvmsRow[]>;
  readSerials(fromSerial: number, toSerial: number, limit?: number): Promise<number[]>;
  minSerialSince(sinceLocal: string): Promise<number | null>;
  readonly config: { batchSize: number };
}

export interface IvmsReaderOptions {
  /** the source id (the ivms-sql config node id) */
  source: string;
  pollMs?: number;
  rescanWindowMs?: number;
  rescanEveryMs?: number;
  directionMap?: Record<string, 'in' | 'out'>;
  /** IANA zone of the stored wall clock (default: the hub's) */
  timezone?: string;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** each batch of newly stored events */
  onEvents?: (events: AccessEventPayload[], rows: IvmsRow[]) => void;
  onState?: (s: IvmsState) => void;
}

export const IVMS_POLL_MS = 1000;
export const IVMS_RESCAN_WINDOW_MS = 2 * 3600 * 1000;
export const IVMS_RESCAN_EVERY_MS = 10 * 1000;
const MAX_RESCAN_SERIALS = 50000;

/** The site's wall clock `ms` ago ('YYYY-MM-DDTHH:MM:SS') in `tz`. */
export function siteWallClock(epochMs: number, tz?: string): string {
  const f = new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return f.format(new Date(epochMs)).replace(' ', 'T');
}

export class IvmsReader {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = true;
  /** stop() was called: no state, no errors any more */
  private closed = false;
  private highWater: number | null = null;
  private loaded = false;
  private samples: Array<{ t: number; hw: number }> = [];
  private startHw: number | null = null;
  private known = new Set<number>();
  private lastRescan = 0;
  private failures = 0;
  private readonly opts: Required<Omit<IvmsReaderOptions, 'directionMap' | 'timezone' | 'onEvents' | 'onState'>> & IvmsReaderOptions;
  state: IvmsState;
  /** rows stored since start, rows found by the rescan */
  readonly stats = { polls: 0, inserted: 0, duplicates: 0, rescued: 0, errors: 0 };

  constructor(
    private readonly hub: Hub,
    private readonly src: IvmsReadable,
    opts: IvmsReaderOptions,
  ) {
    this.opts = { pollMs: IVMS_POLL_MS, rescanWindowMs: IVMS_RESCAN_WINDOW_MS, rescanEveryMs: IVMS_RESCAN_EVERY_MS, backoffMinMs: 1000, backoffMaxMs: 60000, ...opts };
    this.state = { source: opts.source, connected: false, lastSerial: null, lagMs: null, lastError: null, lastErrorAt: null, ts: hub.clock.now() };
  }

  private get degradedKey(): string {
    return `ivms:${this.opts.source}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling; waits up to 3 s for a poll in flight (its result is still stored, its errors ignored). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const until = Date.now() + 3000;
    while (this.running && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    degradedOf(this.hub).clear(this.degradedKey);
  }

  /** Polls now (tests, manual trigger); resolves after the poll. */
  async pollNow(): Promise<void> {
    if (this.running) {
      while (this.running) await new Promise((r) => setTimeout(r, 10));
      return;
    }
    await this.tick(false);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(true), ms);
    this.timer.unref?.();
  }

  private setState(patch: Partial<IvmsState>): void {
    if (this.closed) return;
    const prev = this.state;
    const next = { ...prev, ...patch, ts: this.hub.clock.now() };
    this.state = next;
    if (next.connected && !next.lastError) degradedOf(this.hub).clear(this.degradedKey);
    if (prev.connected !== next.connected || prev.lastSerial !== next.lastSerial || prev.lastError !== next.lastError || prev.lagMs !== next.lagMs) {
      this.hub.emit('ivms-state', next);
      this.opts.onState?.(next);
    }
  }

  private async tick(scheduled: boolean): Promise<void> {
    if (this.running) return;
    this.running = true;
    let again = this.opts.pollMs;
    try {
      this.stats.polls++;
      const log = accessLogOf(this.hub);
      if (!this.loaded) {
        this.highWater = await log.highWater(this.opts.source);
        this.loaded = true;
      }
      const batch = this.src.config.batchSize;
      const rows = await this.src.readAfter(this.highWater ?? 0, batch);
      if (rows.length) {
        await this.ingest(rows, true);
        if (rows.length >= batch) again = 0; // catching up
      }
      const now = this.hub.clock.now();
      if (this.highWater !== null) {
        if (this.startHw === null) this.startHw = this.highWater;
        const last = this.samples[this.samples.length - 1];
        if (!last || last.hw !== this.highWater) this.samples.push({ t: now, hw: this.highWater });
      }
      if (again > 0 && now - this.lastRescan >= this.opts.rescanEveryMs) {
        await this.rescan(now);
        this.lastRescan = now;
      }
      this.failures = 0;
      this.setState({ connected: true, lastSerial: this.highWater, lastError: null });
    } catch (err) {
      if (this.closed) return;
      this.stats.errors++;
      this.failures++;
      const msg = (err as Error).message;
      again = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(10, this.failures - 1));
      const kind = (err as { kind?: string }).kind;
      const connected = kind === 'sql'; // SQL error: connected, the query failed
      degradedOf(this.hub).set(this.degradedKey, `iVMS SQL Server: ${msg}`);
      if (this.state.lastError !== msg) this.hub.logger.warn(`ivms ${this.opts.source}: ${msg} (retry in ${Math.round(again / 1000)} s)`);
      this.setState({ connected, lastError: msg, lastErrorAt: this.hub.clock.now() });
    } finally {
      this.running = false;
      if (scheduled || !this.timer) this.schedule(again);
    }
  }

  /** Stores rows; `live`: read incrementally (the lag is measured on these, not on rescued old rows). */
  private async ingest(rows: IvmsRow[], live = false): Promise<number> {
    const res = await accessLogOf(this.hub).ingest(this.opts.source, rows, { directionMap: this.opts.directionMap, timezone: this.opts.timezone });
    for (const r of rows) {
      this.known.add(r.serialNo);
      if (this.highWater === null || r.serialNo > this.highWater) this.highWater = r.serialNo;
    }
    this.stats.inserted += res.inserted;
    this.stats.duplicates += res.duplicates;
    if (res.events.length) {
      const now = this.hub.clock.now();
      const newest = Math.max(...res.events.map((e) => e.ts));
      this.setState({ ...(live ? { lagMs: Math.max(0, now - newest) } : {}), lastSerial: this.highWater, connected: true, lastError: null });
      this.opts.onEvents?.(res.events, rows);
    }
    return res.inserted;
  }

  /** The rescan window's lower serial (see the module comment), or null when there is nothing to rescan. */
  private async rescanFrom(now: number): Promise<number | null> {
    if (this.highWater === null) return null;
    const cut = now - this.opts.rescanWindowMs;
    while (this.samples.length > 1 && this.samples[1].t <= cut) this.samples.shift();
    const ago = this.samples.length && this.samples[0].t <= cut ? this.samples[0].hw : (this.startHw ?? this.highWater);
    let from = ago + 1;
    const since = await this.src.minSerialSince(siteWallClock(cut, this.opts.timezone ?? this.hub.timezone));
    if (since !== null) from = Math.min(from, since);
    return Math.max(from, this.highWater - MAX_RESCAN_SERIALS);
  }

  private async rescan(now: number): Promise<void> {
    const from = await this.rescanFrom(now);
    if (from === null || this.highWater === null || from > this.highWater) return;
    for (const k of this.known) if (k < from) this.known.delete(k);
    const serials = await this.src.readSerials(from, this.highWater, MAX_RESCAN_SERIALS);
    const missing = serials.filter((s) => !this.known.has(s));
    if (!missing.length) return;
    const want = new Set(missing);
    const batch = this.src.config.batchSize;
    let lo = missing[0];
    const hi = missing[missing.length - 1];
    while (lo <= hi) {
      const rows = await this.src.readRange(lo, hi, batch);
      if (!rows.length) break;
      const fresh = rows.filter((r) => want.has(r.serialNo));
      if (fresh.length) this.stats.rescued += await this.ingest(fresh);
      for (const r of rows) this.known.add(r.serialNo);
      lo = rows[rows.length - 1].serialNo + 1;
    }
  }
}
