/**
 * The one sqlite access layer of gatepost (sqlite3, WAL).
 *
 * Two connections to one file:
 *  - the writer: every write goes through one promise queue, so a transaction is never
 *    interleaved with another caller's statements (a rolled-back sync cannot take an event
 *    write down with it);
 *  - the reader: queries (search, history, reports) run beside the writer thanks to WAL and
 *    never wait for a long write transaction.
 * Statements are prepared once and cached per connection.
 */
import * as fs from 'fs';
import * as path from 'path';
import sqlite3 from 'sqlite3';
import { MIGRATIONS, Migration } from './migrations';

export type Params = unknown[] | Record<string, unknown>;
export interface RunResult {
  lastID: number;
  changes: number;
}

/** Statement access inside a write transaction. */
export interface Tx {
  run(sql: string, params?: Params): Promise<RunResult>;
  get<T = any>(sql: string, params?: Params): Promise<T | undefined>;
  all<T = any>(sql: string, params?: Params): Promise<T[]>;
}

class Conn {
  private cache = new Map<string, sqlite3.Statement>();
  constructor(readonly raw: sqlite3.Database) {}

  static open(file: string, mode: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const raw = new sqlite3.Database(file, mode, (err) => (err ? reject(err) : resolve(new Conn(raw))));
    });
  }

  private stmt(sql: string): sqlite3.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.raw.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.stmt(sql).run(params as any, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ lastID: this.lastID, changes: this.changes });
      });
    });
  }
  get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      // reset first: a cached statement that already returned a row would otherwise answer nothing;
      // and after: a statement left on a row keeps the connection's read snapshot open (WAL), so every
      // later read on it would see the database as it was then
      const st = this.stmt(sql);
      st.reset(() => st.get(params as any, (err: Error | null, row: T) => st.reset(() => (err ? reject(err) : resolve(row)))));
    });
  }
  all<T>(sql: string, params: Params = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.stmt(sql).all(params as any, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    });
  }
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.raw.exec(sql, (err) => (err ? reject(err) : resolve())));
  }
  async close(): Promise<void> {
    for (const s of this.cache.values()) await new Promise<void>((r) => s.finalize(() => r()));
    this.cache.clear();
    await new Promise<void>((resolve, reject) => this.raw.close((err) => (err ? reject(err) : resolve())));
  }
}

/** An open that failed because of the disk or the file system (start degraded), not the file's content. */
const DISK_OPEN_ERROR = /SQLITE_(CANTOPEN|READONLY|IOERR|FULL|PERM)|\b(EROFS|EACCES|EPERM|ENOSPC|EDQUOT|EIO|EFBIG)\b/;

export class Db {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly writer: Conn,
    private reader: Conn,
  ) {}

  /**
   * Why this database takes no writes (a read-only or failing disk at start: openDegraded), or
   * null. Every write then fails with SQLITE_READONLY, which the callers treat as a disk fault
   * (events are held in memory and retried; decisions go on).
   */
  readOnly: string | null = null;

  /**
   * Opens (creating if needed) the database file, sets WAL and runs pending migrations. When the
   * disk refuses (read-only, full, failing) the database is opened degraded instead of not at
   * all: gatepost must start and keep deciding (openDegraded).
   */
  static async open(file: string, migrations: Migration[] = MIGRATIONS): Promise<Db> {
    try {
      return await Db.openWritable(file, migrations);
    } catch (err) {
      if (file === ':memory:' || !DISK_OPEN_ERROR.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`)) throw err;
      return Db.openDegraded(file, migrations, err as Error);
    }
  }

  /**
   * The database of a disk that takes no writes: the file as it is, read-only and `immutable`
   * (no WAL, no locks: nothing is written beside it) when its schema is current; otherwise (no
   * file, an older schema that cannot be migrated now) an empty in-memory database — passes then
   * come from E-Poselok's online check and new syncs only. Writes fail with SQLITE_READONLY.
   */
  private static async openDegraded(file: string, migrations: Migration[], cause: Error): Promise<Db> {
    const latest = Math.max(0, ...migrations.map((m) => m.version));
    const why = `${cause.message.replace(/^SQLITE_\w+: /, '')} (${(cause as NodeJS.ErrnoException).code ?? 'disk'})`;
    if (fs.existsSync(file)) {
      try {
        const uri = `file:${encodeURI(path.resolve(file))}?immutable=1`;
        const conn = await Conn.open(uri, sqlite3.OPEN_READONLY | sqlite3.OPEN_URI);
        await conn.exec('PRAGMA query_only=ON;');
        const version = (await conn.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
        if (version === latest) {
          const db = new Db(file, conn, conn);
          db.readOnly = `the database cannot be written: ${why}; read-only copy in use`;
          return db;
        }
        await conn.close();
      } catch {
        // unreadable too: the empty database below
      }
    }
    const mem = await Conn.open(':memory:', sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE);
    const db = new Db(file, mem, mem);
    await db.migrate(migrations);
    await mem.exec('PRAGMA query_only=ON;');
    db.readOnly = `the database cannot be opened for writing: ${why}; an empty in-memory database is in use (passes from E-Poselok online only)`;
    return db;
  }

  private static async openWritable(file: string, migrations: Migration[]): Promise<Db> {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const writer = await Conn.open(file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE);
    await writer.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;');
    const db = new Db(file, writer, writer);
    await db.migrate(migrations);
    if (file !== ':memory:') {
      const reader = await Conn.open(file, sqlite3.OPEN_READONLY);
      await reader.exec('PRAGMA busy_timeout=5000; PRAGMA query_only=ON;');
      db.reader = reader;
    }
    return db;
  }

  /** The schema version now in the file (0 = empty). */
  async version(): Promise<number> {
    const row = await this.reader.get<{ user_version: number }>('PRAGMA user_version');
    return row?.user_version ?? 0;
  }

  private async migrate(migrations: Migration[]): Promise<void> {
    const current = (await this.writer.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      await this.writer.exec('BEGIN IMMEDIATE');
      try {
        await this.writer.exec(m.up);
        await this.writer.exec(`PRAGMA user_version = ${Number(m.version)}`);
        await this.writer.exec('COMMIT');
      } catch (err) {
        await this.writer.exec('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('database is closed'));
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A single write statement, queued behind any running transaction. */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.enqueue(() => this.writer.run(sql, params));
  }

  /** Runs fn inside BEGIN IMMEDIATE … COMMIT on the writer; rolls back if fn throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      await this.writer.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.writer);
        await this.writer.exec('COMMIT');
        return result;
      } catch (err) {
        await this.writer.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Read queries run on the reader connection and never wait for the write queue. */
  get<T = any>(sql: string, params?: Params): Promise<T | undefined> {
    return this.reader.get<T>(sql, params);
  }
  all<T = any>(sql: string, params?: Params): Promise<T[]> {
    return this.reader.all<T>(sql, params);
  }

  /** A read that must see every write queued before it (read-your-writes). */
  getAfterWrites<T = any>(sql: string, params?: Params): Promise<T | undefined> {
    return this.enqueue(() => this.writer.get<T>(sql, params));
  }

  /** Size of the database file and its WAL, in bytes. */
  sizeBytes(): number {
    if (this.file === ':memory:') return 0;
    let total = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        total += fs.statSync(f).size;
      } catch {
        /* absent */
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => undefined);
    this.closed = true;
    await this.writer.exec('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    if (this.reader !== this.writer) await this.reader.close();
    await this.writer.close();
  }
}

/**
 * An online copy of a database file through sqlite's backup API (its own read connection: the
 * running gatepost keeps writing — WAL — and the copy is one consistent snapshot). The copy is a
 * plain rollback-journal file with no -wal beside it.
 */
export async function backupDatabase(srcFile: string, destFile: string): Promise<{ pages: number }> {
  fs.mkdirSync(path.dirname(path.resolve(destFile)), { recursive: true });
  fs.rmSync(destFile, { force: true });
  const src = await Conn.open(srcFile, sqlite3.OPEN_READONLY);
  try {
    await src.exec('PRAGMA busy_timeout=5000;');
    const pages = await new Promise<number>((resolve, reject) => {
      // node sqlite3's Database#backup(filename, cb) has no typings
      const b: any = (src.raw as any).backup(destFile, (err: Error | null) => {
        if (err) return reject(err);
        // -1: every page in one step, so a write meanwhile cannot restart the copy
        b.step(-1, (e: Error | null) => {
          if (e) return b.finish(() => reject(e));
          const n = Number(b.pageCount) || 0;
          b.finish((fe: Error | null) => (fe ? reject(fe) : resolve(n)));
        });
      });
    });
    // the copy of a WAL database is in WAL mode too: make it a self-contained single file
    const dest = await Conn.open(destFile, sqlite3.OPEN_READWRITE);
    try {
      await dest.exec('PRAGMA journal_mode=DELETE;');
    } finally {
      await dest.close();
    }
    return { pages };
  } finally {
    await src.close();
  }
}

/**
 * `PRAGMA quick_check` of a database file (read-only; nothing is created). Returns [] when the
 * file is sound (or absent), else sqlite's findings (at most `max`); a file that is no database at
 * all gives one finding with the open error.
 */
export async function quickCheck(file: string, max = 20): Promise<string[]> {
  if (!fs.existsSync(file)) return [];
  const run = async (name: string, mode: number): Promise<string[]> => {
    const conn = await Conn.open(name, mode);
    try {
      await conn.exec('PRAGMA busy_timeout=5000;');
      // not a cached statement: on a damaged file the prepare itself fails, and only a callback gets that error
      const rows = await new Promise<Array<Record<string, unknown>>>((resolve, reject) =>
        conn.raw.all(`PRAGMA quick_check(${Math.max(1, Math.floor(max))})`, (err: Error | null, r: Array<Record<string, unknown>>) => (err ? reject(err) : resolve(r))),
      );
      const found = rows.map((r) => String(Object.values(r)[0]));
      return found.length === 1 && found[0] === 'ok' ? [] : found;
    } finally {
      await conn.close().catch(() => undefined);
    }
  };
  try {
    return await run(file, sqlite3.OPEN_READONLY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!DISK_OPEN_ERROR.test(`${e.code ?? ''} ${e.message}`)) return [e.message];
  }
  // the disk refuses (read-only media: a WAL database needs its -shm file): the file as it is
  try {
    return await run(`file:${encodeURI(path.resolve(file))}?immutable=1`, sqlite3.OPEN_READONLY | sqlite3.OPEN_URI);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // still the disk, not the file: nothing to say about the file (Db.open starts degraded)
    return DISK_OPEN_ERROR.test(`${e.code ?? ''} ${e.message}`) ? [] : [e.message];
  }
}
