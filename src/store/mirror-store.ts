/**
 * Repository of the E-Poselok mirror: the only writer of `mirror_passes` and `sync_runs`.
 * A new list is diffed against the committed mirror (before any write, in slices), checked
 * against the shrink limit, then applied so that readers see the old mirror or the new one,
 * never half of it, and a refused or failed apply leaves the mirror as it was:
 *  - a small diff (≤ SWAP_MIN_CHANGES rows) in place, in one short write transaction;
 *  - a large one (a list replaced) built beside the mirror in short writes and swapped in by one
 *    short transaction (applyBeside) — a single transaction over 150k rows held the write queue
 *    for ~0.8 s, and every plate's event (a decision waits for its commit) with it.
 * `last_seen` is the last sync that wrote the row (inserted or changed it); every row of the
 * mirror was in the last applied list (sync_runs) — rewriting all of them each hour held the
 * write queue ~40 ms per 100k passes.
 */
import type { Db, Tx, RunResult } from './db';
import type { MirrorPass } from '../core/contracts';
import { diffMirrorSteps, ListEntry, MirrorDiff, suspiciousShrink } from '../core/eposelok-list';
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
/** rows per read of the committed mirror (one sqlite all(): its rows become objects in one callback, ~6 ms per 1000) */
const LOAD_CHUNK = 1000;
/**
 * A diff that writes more rows than this is built beside the mirror and swapped in (applyBeside);
 * a smaller one is applied in place in one transaction (≈ 5 µs of sqlite per row here: ≤ ~10 ms).
 */
export const SWAP_MIN_CHANGES = 2000;
/**
 * Rows per insert / copy statement: one JSON text each (bounded memory, one SQL text for the
 * statement cache); while a copy is built each is a short write (~6 ms) that events can follow.
 */
const INSERT_CHUNK = 1000;

type Applied = Extract<ApplyResult, { applied: true }>;
/** What an apply writes: worked out before any write (applyNow). */
interface Plan {
  diff: MirrorDiff;
  removedIds: number[];
  gone: ReadonlySet<number>;
  /** the ids of the passes that stay (the updated ones among them), in mirror order */
  staying: number[];
  /** the updated passes as they will be */
  updated: MirrorPass[];
  /** the largest id left after the removals: the added ones follow it */
  top: number;
  now: number;
  opts: ApplyOptions;
}
type Written = { runId: number; added: MirrorPass[] };

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
    // the cached copy goes a while after this apply whatever its outcome (a refused shrink, a failure); again below after a commit
    keepCacheAwhile(this.db);
    // the diff in slices, before any write (events are written meanwhile): `current` is the
    // committed mirror and cannot change before this apply (applies are chained, and this store
    // is the only writer of mirror_passes)
    const diff = await runSliced(diffMirrorSteps(current, entries));
    const reason = opts.confirm ? null : suspiciousShrink(current.length, diff, opts.maxShrink ?? 0.5);
    if (reason) {
      return { applied: false, reason, added: diff.added.length, removed: diff.removed.length, unchanged: diff.unchanged + diff.updated.length, total: diff.total, before: current.length };
    }
    // what the apply writes, worked out once for either way of writing it (in slices: 100k removals took ~45 ms in one go)
    const plan = await runSliced(planSteps(current, diff, now, opts));
    const { removedIds, updated } = plan;
    const changes = removedIds.length + diff.added.length + updated.length;
    const { runId, added } = changes > SWAP_MIN_CHANGES ? await this.applyBeside(plan) : await this.applyInPlace(plan);
    const result: Applied = { applied: true, runId, added, removedIds, updated, unchanged: diff.unchanged + updated.length, total: diff.total, before: current.length };
    // only a committed apply moves the cache: the mirror after this commit, built in slices after
    // this returns (the caller updates the pass index at once; the next apply waits for the cache)
    caches.set(this.db, runSliced(mirrorAfter(current, plan.gone, updated, added)));
    keepCacheAwhile(this.db);
    return result;
  }

  /** A small diff: delete / update / insert and the run's row in one short write transaction. */
  private applyInPlace(plan: Plan): Promise<Written> {
    return this.db.transaction(async (tx): Promise<Written> => {
      for (const ids of chunks(plan.removedIds)) {
        await tx.run(`DELETE FROM mirror_passes WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
      }
      for (const u of plan.updated) await tx.run('UPDATE mirror_passes SET raw = ?, house = ?, list = ?, last_seen = ? WHERE id = ?', [u.raw, u.house, u.list, plan.now, u.id]);
      const added = await insertEntries((sql, params) => tx.run(sql, params), 'mirror_passes', plan);
      return { runId: await recordApplied(tx, added.length, plan), added };
    });
  }

  /**
   * A large diff (a list replaced, a first sync): the new mirror is built beside the old one in
   * `mirror_next`, in statements of INSERT_CHUNK rows, each its own short write — the events of the
   * plates decided meanwhile are written between them instead of waiting a second behind one
   * long transaction. Then one short transaction drops the old table, renames the new one and
   * records the run: readers see the old mirror or the new one, never half of it. An apply cut
   * short (a crash, a disk error) leaves the old mirror as it was and at most a `mirror_next`,
   * which the next large apply drops first.
   */
  private async applyBeside(plan: Plan): Promise<Written> {
    const db = this.db;
    // the schema as the writer sees it (the reader's snapshot may predate the last swap)
    const schema = await db.getAfterWrites<{ j: string }>("SELECT json_group_array(json_object('type', type, 'name', name, 'sql', sql)) AS j FROM sqlite_master WHERE tbl_name = 'mirror_passes'");
    const objects: Array<{ type: string; name: string; sql: string | null }> = JSON.parse(schema?.j ?? '[]');
    const table = objects.find((o) => o.type === 'table');
    if (!table?.sql) throw new Error('mirror_passes missing');
    // the copy's indexes: the same definitions under the other of two name suffixes (index names
    // are global, and the old table's live until the swap); automatic ones (sql NULL) come with the table
    const indexes = objects.filter((o) => o.type === 'index' && o.sql);
    const suffix = indexes.some((i) => i.name.endsWith('_a')) ? '_b' : '_a';
    const indexSql = indexes.map((i) => {
      const m = /^CREATE\s+(UNIQUE\s+)?INDEX\s+"?(\w+)"?\s+ON\s+"?mirror_passes"?\s*(\(.*)$/is.exec(i.sql!);
      if (!m) throw new Error(`unexpected index definition: ${i.sql}`);
      return `CREATE ${m[1] ?? ''}INDEX ${m[2].replace(/_[ab]$/, '')}${suffix} ON mirror_next ${m[3]}`;
    });
    const { staying } = plan;
    try {
      await db.run('DROP TABLE IF EXISTS mirror_next');
      await db.run(table.sql.replace(/^CREATE TABLE\s+("?)mirror_passes\1/i, 'CREATE TABLE mirror_next'));
      for (const sql of indexSql) await db.run(sql);
      // the passes that stay: copied row for row (every column, whatever later migrations add), then the changed ones rewritten
      for (let i = 0; i < staying.length; i += INSERT_CHUNK) {
        await db.run('INSERT INTO mirror_next SELECT * FROM mirror_passes WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(staying.slice(i, i + INSERT_CHUNK))]);
      }
      for (let i = 0; i < plan.updated.length; i += INSERT_CHUNK) {
        const rows = plan.updated.slice(i, i + INSERT_CHUNK).map((u) => [u.id, asBound(u.raw), u.house, u.list]);
        await db.run(
          "UPDATE mirror_next SET raw = json_extract(j.value, '$[1]'), house = json_extract(j.value, '$[2]'), list = json_extract(j.value, '$[3]'), last_seen = ? " +
            "FROM json_each(?) AS j WHERE mirror_next.id = json_extract(j.value, '$[0]')",
          [plan.now, JSON.stringify(rows)],
        );
      }
      const added = await insertEntries((sql, params) => db.run(sql, params), 'mirror_next', plan);
      const expected = staying.length + added.length;
      return await db.transaction(async (tx): Promise<Written> => {
        const n = (await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM mirror_next'))?.n;
        if (n !== expected) throw new Error(`mirror copy holds ${n} of ${expected} rows`);
        await tx.run('DROP TABLE mirror_passes');
        await tx.run('ALTER TABLE mirror_next RENAME TO mirror_passes');
        return { runId: await recordApplied(tx, added.length, plan), added };
      });
    } catch (err) {
      await db.run('DROP TABLE IF EXISTS mirror_next').catch(() => undefined);
      throw err;
    }
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

/**
 * Inserts a chunk of passes given as one JSON array of [list, canonical, raw, digits, house]:
 * one parameter to bind instead of 7 per row (binding runs on the event loop; json_each runs
 * in sqlite, off it), and no RETURNING rows to convert and match back.
 */
const insertJsonSql = (table: string) =>
  `INSERT INTO ${table} (id, list, canonical, raw, digits, house, first_seen, last_seen) ` +
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

/** Inserts the plan's added entries into `table` with the ids after `plan.top`, in statements of INSERT_CHUNK rows. */
async function insertEntries(run: (sql: string, params: unknown[]) => Promise<RunResult>, table: 'mirror_passes' | 'mirror_next', plan: Plan): Promise<MirrorPass[]> {
  const { top, now } = plan;
  const entries = plan.diff.added;
  const out: MirrorPass[] = [];
  for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
    const part = entries.slice(i, i + INSERT_CHUNK);
    const first = top + 1 + i;
    const rows: Array<[string, string, string, string | null, string]> = [];
    for (const e of part) rows.push([e.list, e.canonical, e.raw, e.digits, e.house]);
    let json = JSON.stringify(rows);
    // JSON escapes a lone surrogate as \udXXX: only then is any text rewritten (rare; a text that
    // merely contains such an escape sequence just takes this path too, unchanged)
    if (ESCAPED_SURROGATE.test(json)) json = JSON.stringify(rows.map((r) => r.map((v) => (v === null ? null : asBound(v)))));
    const res = await run(insertJsonSql(table), [first, now, now, json]);
    if (res.changes !== part.length) throw new Error(`mirror insert wrote ${res.changes} of ${part.length} rows`);
    for (let k = 0; k < part.length; k++) {
      const e = part[k];
      out.push({ id: first + k, list: e.list, canonical: e.canonical, raw: e.raw, digits: e.digits, house: e.house, firstSeen: now, lastSeen: now });
    }
  }
  return out;
}

/** The run's row in sync_runs, inside the apply's transaction. */
async function recordApplied(tx: Tx, added: number, plan: Plan): Promise<number> {
  const { diff, opts } = plan;
  const durationMs = opts.startedPerf !== undefined ? performance.now() - opts.startedPerf : null;
  const run = await tx.run('INSERT INTO sync_runs (ts, ok, added, removed, unchanged, total, duration_ms, error, pending_confirm) VALUES (?, 1, ?, ?, ?, ?, ?, NULL, 0)', [
    plan.now,
    added,
    plan.removedIds.length,
    diff.unchanged + diff.updated.length,
    diff.total,
    durationMs,
  ]);
  return run.lastID;
}

/** rows of the mirror handled between two yields of the `…Steps` generators here */
const STEP_ROWS = 5000;

/** What an apply writes (Plan), worked out in steps from the committed mirror and the diff. */
function* planSteps(current: readonly MirrorPass[], diff: MirrorDiff, now: number, opts: ApplyOptions): Steps<Plan> {
  const removedIds: number[] = [];
  const gone = new Set<number>();
  for (let i = 0; i < diff.removed.length; i++) {
    const id = diff.removed[i].id;
    removedIds.push(id);
    gone.add(id);
    if (i % STEP_ROWS === STEP_ROWS - 1) yield;
  }
  const updated: MirrorPass[] = [];
  for (let i = 0; i < diff.updated.length; i++) {
    const u = diff.updated[i];
    updated.push({ ...u.pass, raw: u.raw, house: u.house ?? u.pass.house, list: u.list ?? u.pass.list, lastSeen: now });
    if (i % STEP_ROWS === STEP_ROWS - 1) yield;
  }
  // new ids: those sqlite would pick itself after the removals (largest id left + 1, + 2, …)
  const staying: number[] = [];
  let top = 0;
  for (let i = 0; i < current.length; i++) {
    const id = current[i].id;
    if (!gone.has(id)) {
      staying.push(id);
      if (id > top) top = id;
    }
    if (i % STEP_ROWS === STEP_ROWS - 1) yield;
  }
  return { diff, removedIds, gone, updated, staying, top, now, opts };
}

/** The committed mirror after an apply: `current` without the removed, the updated replaced, the added appended. */
function* mirrorAfter(current: readonly MirrorPass[], gone: ReadonlySet<number>, updated: readonly MirrorPass[], added: readonly MirrorPass[]): Steps<MirrorPass[]> {
  const changed = new Map(updated.map((u) => [u.id, u]));
  const next: MirrorPass[] = [];
  for (let i = 0; i < current.length; i++) {
    if (i % STEP_ROWS === STEP_ROWS - 1) yield;
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
