/**
 * Repository of the E-Poselok mirror: the only writer of `mirror_passes` and `sync_runs`.
 * A new list is applied as one diff in one write transaction (the diff against the committed
 * mirror is computed before it, in slices; then check the shrink limit, delete / insert /
 * update, record the run), so readers see the old mirror or the
 * new one, never half of it, and a refused or failed apply leaves the mirror as it was.
 */
import type { Db, Tx } from './db';
import type { MirrorPass } from '../core/contracts';
import { diffMirrorSteps, ListEntry, suspiciousShrink } from '../core/eposelok-list';
import { runSliced, Steps } from '../core/steps';
import { mirrorOfRow } from './passes-store';

export interface SyncRunRow {
  id: number;
  ts: number;
  ok: boolean;
  added: number;
  removed: number;
  unchanged: number;
  total: number;
  durationMs: number | null;
  error: string | null;
  pendingConfirm: boolean;
}

export interface ApplyOptions {
  now: number;
  /** share of the mirror (0..1) a list may remove without confirmation (default 0.5) */
  maxShrink?: number;
  /** apply even a suspicious shrink */
  confirm?: boolean;
  /** performance.now() when the sync started (for the run's duration) */
  startedPerf?: number;
}

export type ApplyResult =
  | {
      applied: true;
      runId: number;
      added: MirrorPass[];
      removedIds: number[];
      updated: MirrorPass[];
      unchanged: number;
      total: number;
      /** mirror size before */
      before: number;
    }
  | { applied: false; reason: string; added: number; removed: number; unchanged: number; total: number; before: number };

/** Delete chunk sizes: a bounded set of distinct SQL texts for the statement cache (≤ 2048 parameters). */
const CHUNKS = [2048, 256, 32, 4, 1];
const LOAD_CHUNK = 5000;

/**
 * The committed mirror, per database: loaded (in chunks, so no single long stall of the
 * event loop) by the first apply after a while, then kept in step after every committed apply. Safe because this store is the
 * only writer of mirror_passes and applies are serialised by the database's write queue.
 */
const caches = new WeakMap<Db, Promise<MirrorPass[]>>();
/**
 * The cache is a second copy of the mirror (~20 MB for 100k passes) beside the pass index: it is
 * dropped this long after the last apply (syncs are hourly; the next one reloads it in chunks).
 */
export const MIRROR_CACHE_KEEP_MS = 10_000;
const cacheTimers = new WeakMap<Db, NodeJS.Timeout>();
function keepCacheAwhile(db: Db): void {
  clearTimeout(cacheTimers.get(db));
  const t = setTimeout(() => {
    caches.delete(db);
    cacheTimers.delete(db);
  }, MIRROR_CACHE_KEEP_MS);
  t.unref();
  cacheTimers.set(db, t);
}
/** applies of one database run one after another (each diffs against the previous one's result) */
const applyChains = new WeakMap<Db, Promise<unknown>>();
function* chunks<T>(items: T[]): Generator<T[]> {
  let i = 0;
  while (i < items.length) {
    const left = items.length - i;
    const size = CHUNKS.find((c) => c <= left)!;
    yield items.slice(i, i + size);
    i += size;
  }
}

const MIRROR_COLUMNS = 'id, list, canonical, raw, digits, house, first_seen, last_seen';
const RUN_RETENTION_MS = 400 * 24 * 3600 * 1000;

export class MirrorStore {
  constructor(private readonly db: Db) {}

  async count(): Promise<number> {
    const r = await this.db.getAfterWrites<{ n: number }>('SELECT COUNT(*) AS n FROM mirror_passes');
    return r?.n ?? 0;
  }

  async loadAll(): Promise<MirrorPass[]> {
    return (await this.db.all(`SELECT ${MIRROR_COLUMNS} FROM mirror_passes`)).map(mirrorOfRow);
  }

  /** Applies a new list as one diff transaction (see ApplyResult); throws on a database error (rolled back). */
  /** The committed mirror (cached; see `caches`). */
  private committed(): Promise<MirrorPass[]> {
    let c = caches.get(this.db);
    if (!c) {
      c = (async () => {
        const out: MirrorPass[] = [];
        let after = -1;
        for (;;) {
          const rows = await this.db.all(`SELECT ${MIRROR_COLUMNS} FROM mirror_passes WHERE id > ? ORDER BY id LIMIT ${LOAD_CHUNK}`, [after]);
          for (const r of rows) out.push(mirrorOfRow(r));
          if (rows.length < LOAD_CHUNK) break;
          after = rows[rows.length - 1].id;
        }
        return out;
      })();
      caches.set(this.db, c);
      c.catch(() => caches.delete(this.db));
    }
    return c;
  }

  /** Applies a new list as one diff transaction (see ApplyResult); throws on a database error (rolled back, mirror unchanged). */
  applyList(entries: ListEntry[], opts: ApplyOptions): Promise<ApplyResult> {
    const prev = applyChains.get(this.db) ?? Promise.resolve();
    const run = prev.then(() => this.applyNow(entries, opts));
    applyChains.set(
      this.db,
      run.catch(() => undefined),
    );
    return run;
  }

  private async applyNow(entries: ListEntry[], opts: ApplyOptions): Promise<ApplyResult> {
    const now = opts.now;
    const current = await this.committed();
    // the diff in slices, before the write transaction (events are written meanwhile): `current`
    // is the committed mirror and cannot change before this apply (applies are chained, and
    // this store is the only writer of mirror_passes)
    const diff = await runSliced(diffMirrorSteps(current, entries));
    const result = await this.db.transaction(async (tx): Promise<ApplyResult> => {
      const reason = opts.confirm ? null : suspiciousShrink(current.length, diff, opts.maxShrink ?? 0.5);
      if (reason) {
        return { applied: false, reason, added: diff.added.length, removed: diff.removed.length, unchanged: diff.unchanged + diff.updated.length, total: diff.total, before: current.length };
      }
      const removedIds = diff.removed.map((p) => p.id);
      for (const ids of chunks(removedIds)) {
        await tx.run(`DELETE FROM mirror_passes WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
      }
      // every pass still listed was seen now
      await tx.run('UPDATE mirror_passes SET last_seen = ?', [now]);
      const updated: MirrorPass[] = [];
      for (const u of diff.updated) {
        const house = u.house ?? u.pass.house;
        const list = u.list ?? u.pass.list;
        await tx.run('UPDATE mirror_passes SET raw = ?, house = ?, list = ? WHERE id = ?', [u.raw, house, list, u.pass.id]);
        updated.push({ ...u.pass, raw: u.raw, house, list, lastSeen: now });
      }
      const added = await insertEntries(tx, diff.added, now);
      const durationMs = opts.startedPerf !== undefined ? performance.now() - opts.startedPerf : null;
      const run = await tx.run('INSERT INTO sync_runs (ts, ok, added, removed, unchanged, total, duration_ms, error, pending_confirm) VALUES (?, 1, ?, ?, ?, ?, ?, NULL, 0)', [
        now,
        added.length,
        removedIds.length,
        diff.unchanged + updated.length,
        diff.total,
        durationMs,
      ]);
      return { applied: true, runId: run.lastID, added, removedIds, updated, unchanged: diff.unchanged + updated.length, total: diff.total, before: current.length };
    });
    // only a committed transaction moves the cache: the mirror after this commit, built in
    // slices after this returns (the caller updates the pass index at once; the next apply
    // waits for the cache)
    if (result.applied) caches.set(this.db, runSliced(mirrorAfter(current, result.removedIds, result.updated, result.added)));
    keepCacheAwhile(this.db);
    return result;
  }

  /** Records a run that changed nothing (failed, or waiting for confirmation). */
  async recordRun(r: {
    ts: number;
    ok: boolean;
    error: string | null;
    durationMs: number | null;
    pendingConfirm?: boolean;
    added?: number;
    removed?: number;
    unchanged?: number;
    total?: number;
  }): Promise<number> {
    const res = await this.db.run('INSERT INTO sync_runs (ts, ok, added, removed, unchanged, total, duration_ms, error, pending_confirm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      r.ts,
      r.ok ? 1 : 0,
      r.added ?? 0,
      r.removed ?? 0,
      r.unchanged ?? 0,
      r.total ?? 0,
      r.durationMs,
      r.error,
      r.pendingConfirm ? 1 : 0,
    ]);
    if (res.lastID % 100 === 0) await this.db.run('DELETE FROM sync_runs WHERE ts < ?', [r.ts - RUN_RETENTION_MS]);
    return res.lastID;
  }

  async lastRuns(limit = 20): Promise<SyncRunRow[]> {
    const rows = await this.db.all('SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?', [Math.min(Math.max(limit, 1), 1000)]);
    return rows.map(runOfRow);
  }

  /** The newest successful run and the newest failed one (for the state after a restart). */
  async lastOutcomes(): Promise<{ success: SyncRunRow | null; failure: SyncRunRow | null }> {
    const s = await this.db.getAfterWrites('SELECT * FROM sync_runs WHERE ok = 1 ORDER BY id DESC LIMIT 1');
    const f = await this.db.getAfterWrites('SELECT * FROM sync_runs WHERE ok = 0 ORDER BY id DESC LIMIT 1');
    return { success: s ? runOfRow(s) : null, failure: f ? runOfRow(f) : null };
  }
}

/** Rows per insert statement: one JSON text per chunk (bounded memory, one SQL text for the statement cache). */
const INSERT_CHUNK = 10_000;
/**
 * Inserts a chunk of passes given as one JSON array of [list, canonical, raw, digits, house]:
 * one parameter to bind instead of 7 per row (binding runs on the event loop; json_each runs
 * in sqlite, off it), and no RETURNING rows to convert and match back.
 */
const INSERT_JSON_SQL =
  'INSERT INTO mirror_passes (id, list, canonical, raw, digits, house, first_seen, last_seen) ' +
  "SELECT ? + j.key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), ?, ? " +
  'FROM json_each(?) AS j';

const SURROGATE = /[\ud800-\udfff]/;
const ESCAPED_SURROGATE = /\\ud[89a-f]/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/**
 * The text as sqlite stores a bound JS string: a lone surrogate (e.g. a raw plate cut at 64
 * UTF-16 units inside an emoji) becomes U+FFFD. (In JSON it would be an escape that sqlite
 * decodes to invalid UTF-8 instead.)
 */
const asBound = (s: string): string => (SURROGATE.test(s) ? s.replace(LONE_SURROGATE, '\ufffd') : s);

async function insertEntries(tx: Tx, entries: ListEntry[], now: number): Promise<MirrorPass[]> {
  const out: MirrorPass[] = [];
  if (!entries.length) return out;
  // the ids sqlite picks itself for rows inserted without one (largest id + 1, + 2, … in this
  // order); given explicitly, so the inserted rows need not be read back
  const top = (await tx.get<{ m: number | null }>('SELECT MAX(id) AS m FROM mirror_passes'))?.m ?? 0;
  for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
    const part = entries.slice(i, i + INSERT_CHUNK);
    const first = top + 1 + i;
    const rows: Array<[string, string, string, string | null, string]> = [];
    for (const e of part) rows.push([e.list, e.canonical, e.raw, e.digits, e.house]);
    let json = JSON.stringify(rows);
    // JSON escapes a lone surrogate as \udXXX: only then is any text rewritten (rare; a text that
    // merely contains such an escape sequence just takes this path too, unchanged)
    if (ESCAPED_SURROGATE.test(json)) json = JSON.stringify(rows.map((r) => r.map((v) => (v === null ? null : asBound(v)))));
    const res = await tx.run(INSERT_JSON_SQL, [first, now, now, json]);
    if (res.changes !== part.length) throw new Error(`mirror insert wrote ${res.changes} of ${part.length} rows`);
    for (let k = 0; k < part.length; k++) {
      const e = part[k];
      out.push({ id: first + k, list: e.list, canonical: e.canonical, raw: e.raw, digits: e.digits, house: e.house, firstSeen: now, lastSeen: now });
    }
  }
  return out;
}

/** The committed mirror after an apply: `current` without the removed, the updated replaced, the added appended. */
function* mirrorAfter(current: readonly MirrorPass[], removedIds: readonly number[], updated: readonly MirrorPass[], added: readonly MirrorPass[]): Steps<MirrorPass[]> {
  const gone = new Set(removedIds);
  yield;
  const changed = new Map(updated.map((u) => [u.id, u]));
  const next: MirrorPass[] = [];
  for (let i = 0; i < current.length; i++) {
    if (i % 5000 === 4999) yield;
    const p = current[i];
    if (!gone.has(p.id)) next.push(changed.get(p.id) ?? p);
  }
  for (const p of added) next.push(p);
  return next;
}

function runOfRow(r: any): SyncRunRow {
  return {
    id: r.id,
    ts: r.ts,
    ok: !!r.ok,
    added: r.added,
    removed: r.removed,
    unchanged: r.unchanged,
    total: r.total,
    durationMs: r.duration_ms ?? null,
    error: r.error ?? null,
    pendingConfirm: !!r.pending_confirm,
  };
}
