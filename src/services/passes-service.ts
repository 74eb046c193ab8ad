/**
 * `passesOf(hub)`: the in-memory index of active passes (E-Poselok mirror + temporary passes),
 * loaded from sqlite at init and kept in step: the E-Poselok sync calls
 * `mirrorChanged(added, removedIds, updated)` after committing its diff; temporary passes are
 * added / cancelled / extended here (stored first, then indexed, then 'passes-changed' emitted).
 * Lookups (`match`) and `search` are synchronous and never touch sqlite.
 */
import type { Hub, Service } from './hub';
import type { MatchPolicy, MirrorPass, Plate, TempPass } from '../core/contracts';
import { PassAmbiguity, PassEntry, PassIndex, PassMatch } from '../core/pass-index';
import { displayPlate } from '../core/plate';
import { extendedValidTo, TempPassInput, validateTempPass } from '../core/validity';
import { PassesStore } from '../store/passes-store';
import { runSliced } from '../core/steps';

/** A refused request (bad input 400, unknown pass 404). */
export class PassError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
    /** a new pass that would duplicate this one (409): the client shows it and may confirm */
    readonly existing?: TempPassView,
  ) {
    super(message);
  }
}

export interface PassSearchResult {
  id: number;
  source: 'mirror' | 'temporary';
  plate: string | null;
  display: string;
  raw: string;
  house: string;
  digits: string | null;
  list?: string;
  kind?: 'plate' | 'digits';
  validFrom?: number;
  validTo?: number;
  note?: string;
  author?: string;
}

export function resultOfEntry(e: PassEntry): PassSearchResult {
  const r: PassSearchResult = {
    id: e.id,
    source: e.source,
    plate: e.canonical,
    display: e.canonical ? displayPlate(e.canonical) : `*${e.digits ?? ''}*`,
    raw: e.raw,
    house: e.house,
    digits: e.digits,
  };
  if (e.list !== undefined) r.list = e.list;
  if (e.kind !== undefined) r.kind = e.kind;
  if (e.validFrom !== undefined) r.validFrom = e.validFrom;
  if (e.validTo !== undefined) r.validTo = e.validTo;
  if (e.note !== undefined) r.note = e.note;
  if (e.author !== undefined) r.author = e.author;
  return r;
}

/** A temporary pass with its display form and whether it is usable now. */
export interface TempPassView extends TempPass {
  display: string;
  active: boolean;
}

const SWEEP_MS = 60000;

/** The 'passes-changed' bus payload. */
export type PassesChanged = { source: 'mirror'; added: number; removed: number; updated: number } | { source: 'temporary'; action: 'add' | 'cancel' | 'extend'; pass: TempPass };

export class PassesService implements Service {
  readonly index = new PassIndex();
  private store: PassesStore | null = null;
  private loading = true;
  private pendingMirror: Array<() => Promise<void>> = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;

  constructor(private readonly hub: Hub) {}

  /** how long the load at start took and the heap it added (approximate: other work runs beside it) */
  loadStats: { ms: number; heapMb: number } | null = null;

  async init(): Promise<void> {
    this.started = (async () => {
      const db = await this.hub.db();
      this.store = new PassesStore(db);
      const t0 = performance.now();
      const heap0 = process.memoryUsage().heapUsed;
      const now = this.hub.clock.now();
      const temp = await this.store.loadLiveTemp(now);
      // the mirror page by page, a macrotask between pages: the load runs beside the start (Node-RED,
      // the flows) and beside early plates without stalling them; decisions wait for it (plate-checker.ts)
      for await (const page of this.store.mirrorPages()) {
        this.index.upsertMirrors(page);
        await new Promise<void>((r) => setImmediate(r));
      }
      for (const t of temp) this.index.upsertTemp(t, now);
      this.loadStats = { ms: Math.round(performance.now() - t0), heapMb: Math.round((process.memoryUsage().heapUsed - heap0) / 104857.6) / 10 };
      // changes announced while the snapshot was loading (idempotent replays), before any
      // decision uses the index
      for (const fn of this.pendingMirror.splice(0)) await fn().catch(() => undefined);
      this.loading = false;
      for (const fn of this.readyWaiters.splice(0)) fn();
      this.sweepTimer = setInterval(() => this.index.sweep(this.hub.clock.now()), SWEEP_MS);
      this.sweepTimer.unref();
      this.hub.logger.info(`passes loaded: ${this.index.mirrorSize} mirror, ${this.index.tempSize} temporary`);
    })();
    return this.started;
  }

  private readyWaiters: Array<() => void> = [];

  /** Resolves once the index is loaded. */
  async ready(): Promise<void> {
    await this.started;
  }

  /**
   * Resolves true once the index is loaded, or false after `ms` (a decision waits this long at
   * most; it never decides from a half-loaded index).
   */
  whenLoaded(ms: number): Promise<boolean> {
    if (!this.loading) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        const i = this.readyWaiters.indexOf(onLoaded);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        resolve(v);
      };
      const onLoaded = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.readyWaiters.push(onLoaded);
    });
  }
  get isReady(): boolean {
    return !this.loading;
  }

  /** The pass that lets this plate in now (synchronous; mirror first, then temporary). */
  match(plate: Plate, policy: MatchPolicy, now = this.hub.clock.now()): PassMatch | PassAmbiguity | null {
    return this.index.match(plate, policy, now);
  }

  /**
   * Called by the E-Poselok sync right after it committed a diff of `mirror_passes`. The removed
   * passes stop matching before this returns; the index is then updated in slices (a 100k diff
   * never holds the event loop for long — `PassIndex.mirrorDiffSteps`), one diff after the
   * other. Resolves when the index holds the whole diff ('passes-changed' is emitted then).
   */
  mirrorChanged(added: MirrorPass[], removedIds: number[], updated: MirrorPass[]): Promise<void> {
    const revoked = this.index.revokeMirror(removedIds);
    const apply = () => runSliced(this.index.mirrorDiffSteps(added, removedIds, updated, revoked));
    let applied: Promise<void>;
    if (this.loading) applied = new Promise<void>((resolve, reject) => this.pendingMirror.push(() => apply().then(resolve, reject)));
    // nothing being applied: the first slice runs now (a small diff is in the index on return)
    else if (this.applying === 0) applied = apply();
    else applied = this.mirrorApplies.then(apply);
    this.applying++;
    const settled = applied.catch((err) => this.hub.logger.error(`pass index: mirror update failed: ${(err as Error).message}`)).finally(() => this.applying--);
    this.mirrorApplies = settled;
    return applied.then(() => {
      this.hub.emit('passes-changed', { source: 'mirror', added: added.length, removed: removedIds.length, updated: updated.length });
    });
  }
  /** the mirror diffs being applied to the index, one after the other */
  private mirrorApplies: Promise<unknown> = Promise.resolve();
  private applying = 0;

  /** Active passes matching a query (digits or partial plate, Latin or Cyrillic). */
  search(q: unknown, limit = 50, source?: 'mirror' | 'temporary'): PassSearchResult[] {
    const n = Math.min(Math.max(Math.floor(Number(limit)) || 50, 1), 500);
    return this.index.search(q, n, this.hub.clock.now(), source).map(resultOfEntry);
  }

  private view(p: TempPass, now = this.hub.clock.now()): TempPassView {
    return {
      ...p,
      display: p.canonical ? displayPlate(p.canonical) : `*${p.digits ?? ''}*`,
      active: p.cancelledAt === null && p.validFrom <= now && now <= p.validTo,
    };
  }

  private async st(): Promise<PassesStore> {
    await this.started;
    return this.store!;
  }

  /**
   * Adds a temporary pass; PassError(400) with a clear message for invalid input (nothing stored).
   * A pass for the same digits (or the same plate) whose validity overlaps a pass not cancelled
   * is refused with PassError(409, existing) unless `confirm` — two guards issuing "123" for the
   * same evening is nearly always one visitor.
   */
  async addTemp(input: TempPassInput, author: string, opts: { confirm?: boolean } = {}): Promise<TempPassView> {
    const store = await this.st();
    const now = this.hub.clock.now();
    const v = validateTempPass(input, now, this.hub.timezone);
    if (!v.ok) throw new PassError(v.error, 400);
    if (!opts.confirm) {
      const d = v.value;
      const key = d.kind === 'digits' ? d.digits : d.canonical;
      const [dup] = key ? await store.overlappingTemp(d.kind, key, d.validFrom, d.validTo) : [];
      if (dup) {
        const shown = dup.canonical ? displayPlate(dup.canonical) : dup.digits;
        throw new PassError(`a temporary pass for ${shown} already exists (pass ${dup.id}, house ${dup.house || '-'}, by ${dup.author}); confirm to issue another`, 409, this.view(dup, now));
      }
    }
    const p = await store.insertTemp(v.value, author || 'anonymous', now);
    this.index.upsertTemp(p, this.hub.clock.now());
    this.hub.emit('passes-changed', { source: 'temporary', action: 'add', pass: p });
    this.hub.logger.info(`temporary pass ${p.id} added by ${p.author}: ${p.canonical ?? '*' + p.digits} house ${p.house || '-'} until ${new Date(p.validTo).toISOString()}`);
    return this.view(p);
  }

  async listTemp(opts: { all?: boolean; limit?: number; offset?: number } = {}): Promise<TempPassView[]> {
    const store = await this.st();
    const now = this.hub.clock.now();
    return (await store.listTemp({ ...opts, now })).map((p) => this.view(p, now));
  }

  async getTemp(id: number): Promise<TempPassView | null> {
    const store = await this.st();
    const p = await store.getTemp(id, true);
    return p ? this.view(p) : null;
  }

  private async existing(id: unknown): Promise<TempPass> {
    const n = Number(id);
    if (!Number.isInteger(n) || n <= 0) throw new PassError('id must be a positive whole number', 400);
    const p = await (await this.st()).getTemp(n, true);
    if (!p) throw new PassError(`temporary pass ${n} not found`, 404);
    return p;
  }

  async cancelTemp(id: unknown, by: string): Promise<TempPassView> {
    const store = await this.st();
    const p = await this.existing(id);
    if (p.cancelledAt !== null) throw new PassError(`temporary pass ${p.id} is already cancelled`, 409);
    const now = this.hub.clock.now();
    await store.cancelTemp(p.id, by || 'anonymous', now);
    const after = (await store.getTemp(p.id, true))!;
    this.index.upsertTemp(after, now);
    this.hub.emit('passes-changed', { source: 'temporary', action: 'cancel', pass: after });
    this.hub.logger.info(`temporary pass ${p.id} cancelled by ${by}`);
    return this.view(after, now);
  }

  async extendTemp(id: unknown, input: { days?: unknown; to?: unknown }, by: string): Promise<TempPassView> {
    const store = await this.st();
    const p = await this.existing(id);
    if (p.cancelledAt !== null) throw new PassError(`temporary pass ${p.id} is cancelled`, 409);
    const now = this.hub.clock.now();
    const v = extendedValidTo(p, input ?? {}, now, this.hub.timezone);
    if (!v.ok) throw new PassError(v.error, 400);
    await store.setTempValidTo(p.id, v.value);
    const after = (await store.getTemp(p.id, true))!;
    this.index.upsertTemp(after, now);
    this.hub.emit('passes-changed', { source: 'temporary', action: 'extend', pass: after });
    this.hub.logger.info(`temporary pass ${p.id} extended by ${by} until ${new Date(after.validTo).toISOString()}`);
    return this.view(after, now);
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }
}

export const passesOf = (hub: Hub): PassesService => hub.service('passes', (h) => new PassesService(h));
