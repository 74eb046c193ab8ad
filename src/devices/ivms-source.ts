/**
 * The iVMS-4200 attlog reader: the SQL Server table iVMS writes access events into, read with the
 * `mssql` driver (tedious). Table and column names come from configuration: each is validated
 * (letters, digits, `_`, `$`, `#`, `@`, space, `-`; no brackets, quotes or semicolons) and
 * bracket-quoted; every value is a parameter. Rows come back column-mapped as `IvmsRow` with the
 * text exactly as stored (mojibake included: the access-log service repairs it).
 *
 * Times: iVMS stores the site's wall clock in `authDateTime` (DATETIME/DATETIME2, no zone). The pool
 * runs with `useUTC: true`, so the driver's Date carries that wall clock in its UTC parts, and
 * `authLocal` is 'YYYY-MM-DDTHH:MM:SS.mmm' without a zone; the site's time zone is applied later.
 *
 * Errors are `IvmsError` with a kind (config / login / network / timeout / sql) and a readable
 * message; the password is never part of a message.
 */
import type * as sql from 'mssql';
import { lazy } from '../core/lazy';

/** mssql (and tedious), loaded when a source first connects */
const mssql = lazy((): typeof sql => require('mssql'));
import { IVMS_COLUMNS } from '../core/contracts';
import type { IvmsColumn, IvmsRow } from '../core/contracts';

export interface IvmsSqlConfig {
  host: string;
  port: number;
  database: string;
  /** 'attlog', 'dbo.attlog' or 'thirdparty.dbo.attlog' */
  table: string;
  user: string;
  password: string;
  encrypt: boolean;
  trustServerCertificate: boolean;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** rows per read (TOP n) */
  batchSize: number;
  /** iVMS column → the site's column name; a column mapped to '' is absent from the table */
  columns: Partial<Record<IvmsColumn, string>>;
}

export const IVMS_DEFAULTS: Omit<IvmsSqlConfig, 'host' | 'user' | 'password'> = {
  port: 1433,
  database: 'thirdparty',
  table: 'dbo.attlog',
  encrypt: false,
  trustServerCertificate: true,
  connectTimeoutMs: 5000,
  requestTimeoutMs: 15000,
  batchSize: 500,
  columns: {},
};

export type IvmsErrorKind = 'config' | 'login' | 'network' | 'timeout' | 'sql';

export class IvmsError extends Error {
  constructor(
    readonly kind: IvmsErrorKind,
    message: string,
    readonly number?: number,
  ) {
    super(message);
    this.name = 'IvmsError';
  }
}

const IDENT = /^[\p{L}_][\p{L}\p{N}_$#@ -]{0,127}$/u;

/** A configured SQL identifier, validated and bracket-quoted; throws IvmsError('config'). */
export function quoteIdent(name: string, what: string): string {
  const n = name.trim();
  if (!IDENT.test(n) || n !== name) throw new IvmsError('config', `${what} "${name}" is not a valid SQL Server name (letters, digits, _ $ # @ space -)`);
  return `[${n}]`;
}

/** 'attlog' | 'dbo.attlog' | 'db.dbo.attlog' → '[dbo].[attlog]' …; throws IvmsError('config'). */
export function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length < 1 || parts.length > 3) throw new IvmsError('config', `table "${table}" must be name, schema.name or database.schema.name`);
  return parts.map((p) => quoteIdent(p, 'table')).join('.');
}

/**
 * The configured column names (iVMS defaults for unset ones), validated. `explicit`: the columns the
 * configuration names (these must exist); the others are read when the table has them.
 */
export function columnNames(map: Partial<Record<IvmsColumn, string>>): { names: Partial<Record<IvmsColumn, string>>; explicit: Set<IvmsColumn> } {
  const names: Partial<Record<IvmsColumn, string>> = {};
  const explicit = new Set<IvmsColumn>();
  for (const c of IVMS_COLUMNS) {
    const given = map[c];
    if (given !== undefined && given.trim() === '') continue; // absent from this table
    const name = given === undefined ? c : given.trim();
    if (given !== undefined) explicit.add(c);
    quoteIdent(name, `column ${c}`);
    names[c] = name;
  }
  if (!names.serialNo) throw new IvmsError('config', 'the serialNo column is required');
  explicit.add('serialNo');
  return { names, explicit };
}

/** Full config from partial settings: defaults applied, names validated. */
export function ivmsConfig(c: Partial<IvmsSqlConfig> & Pick<IvmsSqlConfig, 'host' | 'user' | 'password'>): IvmsSqlConfig {
  const cfg: IvmsSqlConfig = { ...IVMS_DEFAULTS, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)), columns: { ...(c.columns ?? {}) } } as IvmsSqlConfig;
  if (!cfg.host) throw new IvmsError('config', 'host is not set');
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) throw new IvmsError('config', `port ${cfg.port} is not a TCP port`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1 || cfg.batchSize > 10000) throw new IvmsError('config', `batch size ${cfg.batchSize} must be 1…10000`);
  quoteTable(cfg.table);
  if (cfg.database) quoteIdent(cfg.database, 'database');
  columnNames(cfg.columns);
  return cfg;
}

/** The driver's error as an IvmsError (kind + a message without secrets). */
export function classifyError(err: unknown, cfg?: Pick<IvmsSqlConfig, 'host' | 'port' | 'password'>): IvmsError {
  if (err instanceof IvmsError) return err;
  const e = err as { code?: string; number?: number; message?: string; originalError?: { code?: string; message?: string } };
  const code = e.code ?? e.originalError?.code ?? '';
  let msg = String(e.message ?? err);
  if (cfg?.password) msg = msg.split(cfg.password).join('***');
  const where = cfg ? `${cfg.host}:${cfg.port}` : 'SQL Server';
  if (code === 'ELOGIN' || e.number === 18456) return new IvmsError('login', `login refused by ${where}: ${msg}`, e.number);
  if (code === 'ETIMEOUT') return new IvmsError('timeout', `${where} did not answer in time: ${msg}`, e.number);
  if (
    code === 'ESOCKET' ||
    code === 'ECONNCLOSED' ||
    code === 'ENOTOPEN' ||
    code === 'ECONNRESET' ||
    code === 'EINSTLOOKUP' ||
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|socket|Connection lost/i.test(msg)
  )
    return new IvmsError('network', `${where} unreachable: ${msg}`, e.number);
  if (code === 'EREQUEST' || typeof e.number === 'number') return new IvmsError('sql', `SQL error${e.number ? ` ${e.number}` : ''}: ${msg}`, e.number);
  if (code === 'ECONNCLOSED' || code === 'EINVALIDSTATE' || code === 'ECANCEL') return new IvmsError('network', `${where}: ${msg}`);
  return new IvmsError('network', `${where}: ${msg}`);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** The stored wall clock of a DATETIME value read with useUTC ('YYYY-MM-DDTHH:MM:SS.mmm'). */
export function wallClock(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return null;
    return `${pad(v.getUTCFullYear(), 4)}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())}T${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}.${pad(v.getUTCMilliseconds(), 3)}`;
  }
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?/.exec(String(v).trim());
  if (!m) return null;
  return `${m[1]}T${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '000').padEnd(3, '0').slice(0, 3)}`;
}

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return wallClock(v);
  return String(v);
}

export class IvmsSource {
  readonly config: IvmsSqlConfig;
  private readonly tableSql: string;
  private readonly wanted: { names: Partial<Record<IvmsColumn, string>>; explicit: Set<IvmsColumn> };
  /** the columns found in the table (after the first query), and their select list */
  private cols: Partial<Record<IvmsColumn, string>> = {};
  private selectList: string | null = null;
  private pool: sql.ConnectionPool | null = null;
  private connecting: Promise<sql.ConnectionPool> | null = null;
  private closed = false;

  constructor(config: Partial<IvmsSqlConfig> & Pick<IvmsSqlConfig, 'host' | 'user' | 'password'>) {
    this.config = ivmsConfig(config);
    this.tableSql = quoteTable(this.config.table);
    this.wanted = columnNames(this.config.columns);
    this.cols = { ...this.wanted.names };
  }

  /** Where it reads, without secrets: 'host:port/database table'. */
  get label(): string {
    return `${this.config.host}:${this.config.port}/${this.config.database} ${this.config.table}`;
  }

  get connected(): boolean {
    return !!this.pool?.connected;
  }

  private async connect(): Promise<sql.ConnectionPool> {
    if (this.closed) throw new IvmsError('network', 'the iVMS source is closed');
    if (this.pool?.connected) return this.pool;
    if (this.connecting) return this.connecting;
    const c = this.config;
    const pool = new (mssql().ConnectionPool)({
      server: c.host,
      port: c.port,
      database: c.database || undefined,
      user: c.user,
      password: c.password,
      connectionTimeout: c.connectTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      pool: { max: 2, min: 0, idleTimeoutMillis: 60000 },
      options: { encrypt: c.encrypt, trustServerCertificate: c.trustServerCertificate, useUTC: true, appName: 'gatepost', enableArithAbort: true },
    });
    pool.on('error', () => undefined); // surfaced by the next query
    this.connecting = pool
      .connect()
      .then((p) => {
        this.pool = p;
        return p;
      })
      .catch(async (err) => {
        await pool.close().catch(() => undefined);
        throw classifyError(err, c);
      })
      .finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async query(text: string, params: Array<[string, sql.ISqlTypeFactory | sql.ISqlType, unknown]>): Promise<Array<Record<string, unknown>>> {
    const pool = await this.connect();
    try {
      const req = pool.request();
      for (const [n, t, v] of params) req.input(n, t as sql.ISqlTypeFactoryWithNoParams, v);
      const res = await req.query(text);
      return res.recordset ?? [];
    } catch (err) {
      const e = classifyError(err, this.config);
      if (e.kind === 'network' || e.kind === 'timeout') await this.reset();
      if (e.kind === 'sql') this.selectList = null; // the table may have changed: learn its columns again
      throw e;
    }
  }

  /** Drops the pool (the next call reconnects). */
  async reset(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close().catch(() => undefined);
  }

  /**
   * The table's columns, learnt once (`SELECT TOP 0 *`): an unconfigured column the table lacks is
   * left out (tables differ: employeeID, verifyMode …); a configured one that is missing is a
   * configuration error.
   */
  private async columns(): Promise<string> {
    if (this.selectList) return this.selectList;
    const pool = await this.connect();
    let present: string[];
    try {
      const res = await pool.request().query(`SELECT TOP 0 * FROM ${this.tableSql}`);
      present = Object.keys(res.recordset?.columns ?? {});
    } catch (err) {
      throw classifyError(err, this.config);
    }
    const lower = new Map(present.map((p) => [p.toLowerCase(), p]));
    const cols: Partial<Record<IvmsColumn, string>> = {};
    const missing: string[] = [];
    for (const [c, name] of Object.entries(this.wanted.names) as Array<[IvmsColumn, string]>) {
      const actual = lower.get(name.toLowerCase());
      if (actual) cols[c] = actual;
      else if (this.wanted.explicit.has(c)) missing.push(`${c} → "${name}"`);
    }
    if (missing.length) throw new IvmsError('config', `${this.config.table} has no column ${missing.join(', ')} (columns: ${present.join(', ')})`);
    this.cols = cols;
    this.selectList = Object.values(cols)
      .map((n) => quoteIdent(n!, 'column'))
      .join(', ');
    return this.selectList;
  }

  private mapRow(r: Record<string, unknown>): IvmsRow {
    const get = (c: IvmsColumn): unknown => {
      const name = this.cols[c];
      if (!name) return null;
      if (name in r) return r[name];
      const k = Object.keys(r).find((x) => x.toLowerCase() === name.toLowerCase());
      return k ? r[k] : null;
    };
    return {
      serialNo: Number(get('serialNo')),
      authLocal: wallClock(get('authDateTime')),
      authDate: text(get('authDate')),
      authTime: text(get('authTime')),
      direction: text(get('direction')),
      deviceName: text(get('deviceName')),
      deviceSN: text(get('deviceSN')),
      personName: text(get('personName')),
      cardNo: text(get('cardNo')),
      doorName: text(get('doorName')),
      readerName: text(get('readerName')),
      employeeID: text(get('employeeID')),
      verifyMode: text(get('verifyMode')),
    };
  }

  private limit(n: number | undefined): number {
    const l = n ?? this.config.batchSize;
    return Math.max(1, Math.min(10000, Math.floor(l)));
  }

  /** Rows with serialNo > `serial`, in serialNo order, at most `limit` (default: the batch size). */
  async readAfter(serial: number, limit?: number): Promise<IvmsRow[]> {
    const list = await this.columns();
    const s = quoteIdent(this.cols.serialNo!, 'column');
    const rows = await this.query(`SELECT TOP (@limit) ${list} FROM ${this.tableSql} WHERE ${s} > @after ORDER BY ${s}`, [
      ['limit', mssql().Int, this.limit(limit)],
      ['after', mssql().BigInt, Math.floor(serial)],
    ]);
    return rows.map((r) => this.mapRow(r));
  }

  /** Rows with fromSerial ≤ serialNo ≤ toSerial, in serialNo order, at most `limit`. */
  async readRange(fromSerial: number, toSerial: number, limit?: number): Promise<IvmsRow[]> {
    const list = await this.columns();
    const s = quoteIdent(this.cols.serialNo!, 'column');
    const rows = await this.query(`SELECT TOP (@limit) ${list} FROM ${this.tableSql} WHERE ${s} >= @from AND ${s} <= @to ORDER BY ${s}`, [
      ['limit', mssql().Int, this.limit(limit)],
      ['from', mssql().BigInt, Math.floor(fromSerial)],
      ['to', mssql().BigInt, Math.floor(toSerial)],
    ]);
    return rows.map((r) => this.mapRow(r));
  }

  /** The serial numbers in [fromSerial, toSerial], ascending, at most `limit` (the rescan reads only these first). */
  async readSerials(fromSerial: number, toSerial: number, limit = 50000): Promise<number[]> {
    const s = quoteIdent(this.cols.serialNo!, 'column');
    const rows = await this.query(`SELECT TOP (@limit) ${s} FROM ${this.tableSql} WHERE ${s} >= @from AND ${s} <= @to ORDER BY ${s}`, [
      ['limit', mssql().Int, Math.max(1, Math.min(100000, Math.floor(limit)))],
      ['from', mssql().BigInt, Math.floor(fromSerial)],
      ['to', mssql().BigInt, Math.floor(toSerial)],
    ]);
    return rows.map((r) => Number(Object.values(r)[0]));
  }

  /**
   * The smallest serialNo among rows whose authDateTime ≥ `sinceLocal` (the site's wall clock,
   * 'YYYY-MM-DDTHH:MM:SS'), or null: where the rescan window starts.
   */
  async minSerialSince(sinceLocal: string): Promise<number | null> {
    await this.columns();
    const dt = this.cols.authDateTime;
    if (!dt) return null;
    const ms = Date.parse(`${sinceLocal.slice(0, 19)}Z`);
    if (!Number.isFinite(ms)) throw new IvmsError('config', `bad time ${sinceLocal}`);
    const rows = await this.query(`SELECT MIN(${quoteIdent(this.cols.serialNo!, 'column')}) AS m FROM ${this.tableSql} WHERE ${quoteIdent(dt, 'column')} >= @since`, [
      ['since', mssql().DateTime2(3), new Date(ms)],
    ]);
    const m = rows[0]?.m;
    return m === null || m === undefined ? null : Number(m);
  }

  /** The largest serialNo in the table, or null when it is empty. */
  async maxSerial(): Promise<number | null> {
    const rows = await this.query(`SELECT MAX(${quoteIdent(this.cols.serialNo!, 'column')}) AS m FROM ${this.tableSql}`, []);
    const m = rows[0]?.m;
    return m === null || m === undefined ? null : Number(m);
  }

  /** Connects (if needed) and runs `SELECT 1`: throws the classified error. */
  async ping(): Promise<void> {
    await this.query('SELECT 1 AS ok', []);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.connecting) await this.connecting.catch(() => undefined);
    await this.reset();
  }
}
