/**
 * `eposelokOf(hub)`: the E-Poselok mirror's sync state and the sync itself.
 *
 * - `sync(source, opts)` fetches the list, applies it to `mirror_passes` as one diff transaction
 *   (MirrorStore) and then, synchronously, updates the in-memory pass index
 *   (`passesOf(hub).mirrorChanged`). Syncs run one at a time. Any failure (HTTP, timeout, not
 *   JSON, HTML page, no lists, database) keeps the last good mirror; a suspicious shrink is
 *   applied only with `confirm`.
 * - `registerSyncer(fn)`: the e-poselok-sync node registers how a sync is run (its client and
 *   settings); `syncNow({ confirm })` (REST API, dashboard) calls it.
 * - state: last success, last error, pass count, pending confirmation, stale flag; emitted as
 *   'eposelok-state' on every change. When the last good sync gets older than `staleAfterMs`
 *   an 'alarm' is emitted once (until the next good sync).
 */
import type { Hub, Service } from './hub';
import { passesOf } from './passes-service';
import { MirrorStore } from '../store/mirror-store';
import type { ListFetch } from '../devices/eposelok-client';

export type SyncTrigger = 'start' | 'interval' | 'input' | 'api' | 'test';

export interface SyncReport {
  /** the mirror is in step with the list (applied, or nothing to do) */
  ok: boolean;
  /** a suspicious shrink waits for a confirmed sync */
  needsConfirm: boolean;
  trigger: SyncTrigger;
  startedAt: number;
  durationMs: number;
  added: number;
  removed: number;
  updated: number;
  unchanged: number;
  /** passes in the received list (after normalisation and de-duplication) */
  total: number;
  /** passes in the mirror after this run */
  count: number;
  invalid: number;
  duplicates: number;
  lists: Record<string, number | 'missing'> | null;
  error: string | null;
  errorKind: string | null;
  /** the shrink explanation when needsConfirm */
  message?: string;
}

export interface EposelokState {
  configured: boolean;
  syncing: boolean;
  /** the last attempt succeeded (null: none yet) */
  ok: boolean | null;
  count: number;
  lastSuccessAt: number | null;
  lastAttemptAt: number | null;
  /** the error of the last attempt when it failed; null once a sync succeeds (what is true now) */
  lastError: string | null;
  lastErrorAt: number | null;
  /** the most recent failure, kept after later successes (history) */
  lastFailure: { error: string; at: number } | null;
  stale: boolean;
  staleAfterMs: number;
  pendingConfirm: { message: string; at: number; removed: number; total: number } | null;
  lastReport: SyncReport | null;
}

export interface ListSource {
  fetchList(): Promise<ListFetch>;
}

export interface SyncOptions {
  confirm?: boolean;
  trigger?: SyncTrigger;
  /** share (0..1) of the mirror a list may remove without confirmation (default 0.5) */
  maxShrink?: number;
}

export type Syncer = (opts: { confirm: boolean; trigger: SyncTrigger }) => Promise<SyncReport>;

/** syncNow without a registered syncer (no e-poselok-sync node deployed). */
export class EposelokNotConfigured extends Error {
  readonly status = 503;
  constructor() {
    super('E-Poselok sync is not configured (no e-poselok-sync node)');
  }
}

export const DEFAULT_STALE_MS = 3 * 3600 * 1000;

export class EposelokService implements Service {
  private store: MirrorStore | null = null;
  private started: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private syncer: Syncer | null = null;
  private running = 0;
  private staleTimer: unknown = null;
  private staleSince: number;
  private closed = false;
  private st: Omit<EposelokState, 'stale' | 'configured' | 'syncing'> = {
    ok: null,
    count: 0,
    lastSuccessAt: null,
    lastAttemptAt: null,
    lastError: null,
    lastErrorAt: null,
    lastFailure: null,
    staleAfterMs: DEFAULT_STALE_MS,
    pendingConfirm: null,
    lastReport: null,
  };
  private alarmed = false;

  constructor(private readonly hub: Hub) {
    this.staleSince = hub.clock.now();
  }

  async init(): Promise<void> {
    this.started = (async () => {
      const db = await this.hub.db();
      this.store = new MirrorStore(db);
      const [count, last] = await Promise.all([this.store.count(), this.store.lastOutcomes()]);
      this.st.count = count;
      if (last.success) this.st.lastSuccessAt = last.success.ts;
      if (last.failure) this.st.lastFailure = { error: last.failure.error ?? '', at: last.failure.ts };
      const newest = Math.max(last.success?.ts ?? -1, last.failure?.ts ?? -1);
      if (newest >= 0) {
        this.st.lastAttemptAt = newest;
        this.st.ok = newest === last.success?.ts;
      }
      // the error is current only when the newest run failed
      if (last.failure && !this.st.ok) {
        this.st.lastError = last.failure.error;
        this.st.lastErrorAt = last.failure.ts;
      }
    })();
    return this.started;
  }

  async ready(): Promise<void> {
    await this.started;
  }

  private async mirror(): Promise<MirrorStore> {
    await this.started;
    if (!this.store) throw new Error('E-Poselok service not started');
    return this.store;
  }

  /** The current state (stale computed now). */
  state(): EposelokState {
    return { ...this.st, configured: this.syncer !== null, syncing: this.running > 0, stale: this.isStale() };
  }

  private isStale(now = this.hub.clock.now()): boolean {
    if (!this.syncer) return false;
    const ref = Math.max(this.st.lastSuccessAt ?? -Infinity, this.staleSince);
    return now - ref > this.st.staleAfterMs;
  }

  /**
   * Registers how a sync is run (the e-poselok-sync node); returns the unregister function.
   * `staleAfterMs`: the stale alarm limit (default 3 h).
   */
  registerSyncer(fn: Syncer, opts: { staleAfterMs?: number } = {}): () => void {
    if (this.syncer && this.syncer !== fn) this.hub.logger.warn('e-poselok: a second sync was registered; the newest one is used');
    this.syncer = fn;
    const limit = Number(opts.staleAfterMs);
    this.st.staleAfterMs = Number.isFinite(limit) && limit > 0 ? limit : DEFAULT_STALE_MS;
    this.staleSince = this.hub.clock.now();
    this.alarmed = false;
    this.scheduleStaleCheck();
    this.changed();
    return () => {
      if (this.syncer !== fn) return;
      this.syncer = null;
      this.clearStaleTimer();
      this.changed();
    };
  }

  /** Runs the registered sync now (REST API, dashboard). */
  async syncNow(opts: { confirm?: boolean; trigger?: SyncTrigger } = {}): Promise<SyncReport> {
    const fn = this.syncer;
    if (!fn) throw new EposelokNotConfigured();
    return fn({ confirm: opts.confirm === true, trigger: opts.trigger ?? 'api' });
  }

  /** Fetches the list from `source` and applies it (one sync at a time; never throws). */
  sync(source: ListSource, opts: SyncOptions = {}): Promise<SyncReport> {
    const run = this.chain.then(async () => {
      this.running++;
      try {
        return await this.runSync(source, opts);
      } finally {
        this.running--;
        // one state event per sync, after it finished
        this.changed();
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runSync(source: ListSource, opts: SyncOptions): Promise<SyncReport> {
    const startedAt = this.hub.clock.now();
    const startedPerf = performance.now();
    const trigger = opts.trigger ?? 'api';
    const report: SyncReport = {
      ok: false,
      needsConfirm: false,
      trigger,
      startedAt,
      durationMs: 0,
      added: 0,
      removed: 0,
      updated: 0,
      unchanged: 0,
      total: 0,
      count: this.st.count,
      invalid: 0,
      duplicates: 0,
      lists: null,
      error: null,
      errorKind: null,
    };
    const log = this.hub.logger;
    let store: MirrorStore;
    try {
      store = await this.mirror();
    } catch (err) {
      return this.failed(null, report, startedPerf, `database: ${(err as Error).message}`, 'database');
    }
    let fetched: ListFetch;
    try {
      fetched = await source.fetchList();
    } catch (err) {
      return this.failed(store, report, startedPerf, (err as Error).message, String((err as { kind?: unknown } | undefined)?.kind ?? 'error'));
    }
    const parse = fetched.parse;
    report.total = parse.entries.length;
    report.invalid = parse.invalid.length;
    report.duplicates = parse.duplicates;
    report.lists = { ...parse.lists };
    if (parse.invalid.length) {
      const sample = parse.invalid
        .slice(0, 5)
        .map((i) => `${i.list}[${i.index}] ${i.reason}: ${i.item}`)
        .join('; ');
      log.warn(`e-poselok: ${parse.invalid.length} invalid list item(s) skipped: ${sample}${parse.invalid.length > 5 ? '; …' : ''}`);
    }
    for (const [name, n] of Object.entries(parse.lists)) if (n === 'missing') log.info(`e-poselok: ${name} missing in the answer (treated as empty)`);
    if (parse.encoding === 'windows-1251') log.info('e-poselok: list body decoded as Windows-1251');

    let result;
    const appliedAt = this.hub.clock.now();
    try {
      result = await store.applyList(parse.entries, { now: appliedAt, maxShrink: opts.maxShrink, confirm: opts.confirm === true, startedPerf });
    } catch (err) {
      return this.failed(store, report, startedPerf, `database: ${(err as Error).message}`, 'database');
    }
    if (!result.applied) {
      report.needsConfirm = true;
      report.message = result.reason;
      report.added = result.added;
      report.removed = result.removed;
      report.unchanged = result.unchanged;
      report.count = result.before;
      const msg = `suspicious shrink, not applied: ${result.reason}; confirm with a manual sync`;
      this.st.pendingConfirm = { message: result.reason, at: startedAt, removed: result.removed, total: result.total };
      this.hub.emit('alarm', { source: 'eposelok', kind: 'shrink', ts: this.hub.clock.now(), message: `E-Poselok: ${msg}` });
      return this.failed(store, report, startedPerf, msg, 'shrink', true);
    }
    // the index follows the committed diff: the removed passes stop matching at once, the rest
    // is applied in slices (no lookup sees a removed pass; the next sync waits for this one)
    await passesOf(this.hub).mirrorChanged(result.added, result.removedIds, result.updated);
    report.ok = true;
    report.added = result.added.length;
    report.removed = result.removedIds.length;
    report.updated = result.updated.length;
    report.unchanged = result.unchanged - result.updated.length;
    report.count = result.total;
    report.durationMs = performance.now() - startedPerf;
    this.st.ok = true;
    this.st.count = result.total;
    this.st.lastSuccessAt = appliedAt;
    this.st.lastAttemptAt = appliedAt;
    this.st.pendingConfirm = null;
    this.st.lastError = null;
    this.st.lastErrorAt = null;
    this.st.lastReport = report;
    this.alarmed = false;
    this.scheduleStaleCheck();
    log.info(
      `e-poselok sync (${trigger}): +${report.added} −${report.removed} ~${report.updated} =${report.unchanged}, ${report.count} passes, ${Math.round(report.durationMs)} ms` +
        (opts.confirm && result.before && result.removedIds.length / result.before > (opts.maxShrink ?? 0.5) ? ' (large shrink confirmed)' : ''),
    );
    return report;
  }

  private async failed(store: MirrorStore | null, report: SyncReport, startedPerf: number, error: string, kind: string, pending = false): Promise<SyncReport> {
    report.ok = false;
    report.error = error;
    report.errorKind = kind;
    report.durationMs = performance.now() - startedPerf;
    const now = this.hub.clock.now();
    this.st.ok = false;
    this.st.lastAttemptAt = now;
    this.st.lastError = error;
    this.st.lastErrorAt = now;
    this.st.lastFailure = { error, at: now };
    this.st.lastReport = report;
    if (pending) this.hub.logger.warn(`e-poselok: ${error}`);
    else this.hub.logger.error(`e-poselok sync failed (${kind}), the last good list is kept: ${error}`);
    try {
      await store?.recordRun({
        ts: now,
        ok: false,
        error,
        durationMs: report.durationMs,
        pendingConfirm: pending,
        added: report.added,
        removed: report.removed,
        unchanged: report.unchanged,
        total: report.total,
      });
    } catch (err) {
      this.hub.logger.error(`e-poselok: sync run not recorded: ${(err as Error).message}`);
    }
    return report;
  }

  private clearStaleTimer(): void {
    if (this.staleTimer !== null) this.hub.clock.clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }

  private scheduleStaleCheck(): void {
    this.clearStaleTimer();
    if (!this.syncer || this.closed) return;
    const ref = Math.max(this.st.lastSuccessAt ?? -Infinity, this.staleSince);
    const due = ref + this.st.staleAfterMs + 1 - this.hub.clock.now();
    // long limits are re-checked at least every 10 minutes (timer drift, clock changes)
    const t = this.hub.clock.setTimeout(() => this.checkStale(), Math.min(Math.max(due, 0), 600_000));
    (t as { unref?: () => void } | undefined)?.unref?.();
    this.staleTimer = t;
  }

  /** Raises the stale alarm once when the last good sync got too old; re-arms the timer. */
  checkStale(): boolean {
    this.staleTimer = null;
    const stale = this.isStale();
    if (stale && !this.alarmed) {
      this.alarmed = true;
      const age = this.st.lastSuccessAt === null ? 'never synced' : `last good sync ${Math.round((this.hub.clock.now() - this.st.lastSuccessAt) / 60000)} min ago`;
      const message = `E-Poselok list is stale (${age}, limit ${Math.round(this.st.staleAfterMs / 60000)} min)`;
      this.hub.logger.warn(`e-poselok: ${message}`);
      this.hub.emit('alarm', { source: 'eposelok', kind: 'stale', ts: this.hub.clock.now(), message });
      this.changed();
    }
    if (!stale) this.scheduleStaleCheck();
    else if (!this.closed && this.syncer) {
      const t = this.hub.clock.setTimeout(() => this.checkStale(), 600_000);
      (t as { unref?: () => void } | undefined)?.unref?.();
      this.staleTimer = t;
    }
    return stale;
  }

  private changed(): void {
    if (this.closed) return;
    this.hub.emit('eposelok-state', this.state());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clearStaleTimer();
    await this.chain.catch(() => undefined);
  }
}

export const eposelokOf = (hub: Hub): EposelokService => hub.service('eposelok', (h) => new EposelokService(h));
