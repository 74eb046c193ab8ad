/**
 * A SQL Server stand-in for tests, the demo mode and the benchmarks: a TDS 7.4 server on
 * 127.0.0.1 backed by sqlite (in memory or a file) that answers what a SQL client sends —
 * PRELOGIN (no TLS: encryption NOT_SUP), LOGIN7 (users and passwords; error 18456 when refused),
 * SQL_BATCH and RPC `sp_executesql` with typed parameters, results as COLMETADATA/ROW/DONE in as
 * many packets as needed, ERROR tokens, ATTENTION (cancel) acknowledged. The T-SQL is translated
 * to SQLite by ./translate.ts; the iVMS `attlog` table is created by `createAttlog()`.
 *
 * Fault injection (`setFault`, or over HTTP with `controlPort`): login refused, the connection
 * dropped in the middle of a result, slow answers, a server error on the next queries, queries
 * that never answer; `down()` / `up()` stop and restart the server on the same port.
 */
import net from 'net';
import http from 'http';
import type { AddressInfo } from 'net';
import sqlite3 from 'sqlite3';
import * as P from './protocol';
import { declaredParams, splitStatements, translate } from './translate';

export interface TdsFault {
  /** every login fails with error 18456 */
  loginRefused?: boolean;
  /** the socket is destroyed after about half of the next result's packets */
  dropMidResult?: boolean;
  /** delay before every answer, ms */
  latencyMs?: number;
  /** queries fail with this SQL Server error (default 4060-style message) */
  serverError?: { number?: number; message?: string } | boolean;
  /** queries never answer (the client times out and cancels; the cancel is acknowledged) */
  hang?: boolean;
  /** affect only the next N queries (or logins for loginRefused), then clear */
  count?: number;
}

export interface TdsLogged {
  ts: number;
  kind: 'login' | 'batch' | 'rpc' | 'attention';
  user?: string;
  sql?: string;
  params?: Record<string, unknown>;
}

export interface TdsEmulatorOptions {
  /** sqlite file, or ':memory:' (default) */
  file?: string;
  /** user → password; default { sa: 'Passw0rd!' } */
  users?: Record<string, string>;
  /** the database name reported to clients (default 'thirdparty') */
  database?: string;
  /** also serve an HTTP control API on this port (0 = any free port) */
  controlPort?: number;
}

/** One attlog row to insert; missing serialNo → max + 1. authDateTime: 'YYYY-MM-DD HH:MM:SS[.mmm]' (site wall clock). */
export type AttlogInsert = Partial<
  Record<
    'serialNo' | 'employeeID' | 'authDateTime' | 'authDate' | 'authTime' | 'direction' | 'deviceName' | 'deviceSN' | 'personName' | 'cardNo' | 'doorName' | 'readerName' | 'verifyMode',
    string | number | null
  >
>;

const ATTLOG_COLUMNS: Array<[string, string]> = [
  ['serialNo', 'INT PRIMARY KEY'],
  ['employeeID', 'NVARCHAR(32)'],
  ['authDateTime', 'DATETIME2'],
  ['authDate', 'NVARCHAR(10)'],
  ['authTime', 'NVARCHAR(8)'],
  ['direction', 'NVARCHAR(16)'],
  ['deviceName', 'NVARCHAR(64)'],
  ['deviceSN', 'NVARCHAR(64)'],
  ['personName', 'NVARCHAR(64)'],
  ['cardNo', 'NVARCHAR(32)'],
  ['doorName', 'NVARCHAR(64)'],
  ['readerName', 'NVARCHAR(64)'],
  ['verifyMode', 'NVARCHAR(32)'],
];

const PROGRAM = 'Microsoft SQL Server';
const SERVER_NAME = 'GATEPOST-TDS';
const CUR_SELECT = 0xc1;

class Cancelled extends Error {}

interface Result {
  cols: P.Column[];
  rows: unknown[][];
}

function openDb(file: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(db)));
  });
}

export class TdsEmulator {
  readonly log: TdsLogged[] = [];
  port = 0;
  controlUrl: string | null = null;
  private fault: TdsFault | null = null;
  private server: net.Server;
  private control: http.Server | null = null;
  private sockets = new Set<net.Socket>();
  private db!: sqlite3.Database;
  private declared = new Map<string, P.ColType>();
  readonly users: Record<string, string>;
  readonly database: string;
  private listeners: Array<(l: TdsLogged) => void> = [];

  constructor(private opts: TdsEmulatorOptions = {}) {
    this.users = { ...(opts.users ?? { sa: 'Passw0rd!' }) };
    this.database = opts.database ?? 'thirdparty';
    this.server = net.createServer((s) => this.onConnection(s));
  }

  get url(): string {
    return `mssql://127.0.0.1:${this.port}/${this.database}`;
  }

  async listen(port = 0): Promise<this> {
    if (!this.db) this.db = await openDb(this.opts.file ?? ':memory:');
    await this.loadDeclared();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    if (this.opts.controlPort !== undefined && !this.control) await this.startControl(this.opts.controlPort);
    return this;
  }

  /** Stops accepting and drops every connection (SQL Server down); `up()` listens again on the same port. */
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }

  async up(): Promise<void> {
    if (this.server.listening) return;
    this.server = net.createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Drops every open connection (the server keeps listening). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    await this.down();
    if (this.control) {
      this.control.closeAllConnections?.();
      await new Promise<void>((r) => this.control!.close(() => r()));
      this.control = null;
    }
    if (this.db) await new Promise<void>((r) => this.db.close(() => r()));
  }

  setFault(f: TdsFault | null): void {
    this.fault = f && Object.keys(f).length ? { ...f } : null;
  }
  clearFault(): void {
    this.fault = null;
  }
  get currentFault(): TdsFault | null {
    return this.fault;
  }

  onLog(fn: (l: TdsLogged) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((l) => l !== fn));
  }

  // ───────────── data ─────────────

  /** Runs SQLite directly (setup, assertions). */
  exec(sql: string, params: unknown[] | Record<string, unknown> = []): Promise<Array<Record<string, unknown>>> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as Array<Record<string, unknown>>)));
    }).then(async (rows) => {
      if (/^\s*(create|alter|drop)\b/i.test(sql)) await this.loadDeclared();
      return rows as Array<Record<string, unknown>>;
    });
  }

  /** Creates the iVMS attlog table (`columns` renames columns: iVMS name → the site's name; null leaves one out). */
  async createAttlog(table = 'attlog', columns: Partial<Record<string, string | null>> = {}): Promise<void> {
    const defs = ATTLOG_COLUMNS.filter(([c]) => columns[c] !== null).map(([c, t]) => `"${(columns[c] ?? c).replace(/"/g, '""')}" ${t}`);
    const q = `"${table.replace(/"/g, '""')}"`;
    await this.exec(`CREATE TABLE IF NOT EXISTS ${q} (${defs.join(', ')})`);
    const dt = columns.authDateTime === null ? null : (columns.authDateTime ?? 'authDateTime');
    if (dt) await this.exec(`CREATE INDEX IF NOT EXISTS "${table.replace(/"/g, '')}_authdt" ON ${q} ("${dt.replace(/"/g, '""')}")`);
  }

  /** Inserts attlog rows (in one transaction); returns their serial numbers. */
  async insertRows(rows: AttlogInsert[], table = 'attlog', columns: Partial<Record<string, string | null>> = {}): Promise<number[]> {
    const q = `"${table.replace(/"/g, '""')}"`;
    const serialCol = columns.serialNo ?? 'serialNo';
    const [{ m }] = (await this.exec(`SELECT MAX("${serialCol}") AS m FROM ${q}`)) as Array<{ m: number | null }>;
    let next = (m ?? 0) + 1;
    const serials: number[] = [];
    await this.exec('BEGIN');
    try {
      for (const r of rows) {
        const serial = r.serialNo !== undefined && r.serialNo !== null ? Number(r.serialNo) : next;
        next = Math.max(next, serial + 1);
        const entries = Object.entries({ ...r, serialNo: serial }).filter(([k]) => columns[k] !== null);
        const dtKey = 'authDateTime';
        const values = entries.map(([k, v]) => (k === dtKey && typeof v === 'string' ? normaliseDateTime(v) : v));
        await this.exec(`INSERT INTO ${q} (${entries.map(([k]) => `"${(columns[k] ?? k).replace(/"/g, '""')}"`).join(', ')}) VALUES (${entries.map(() => '?').join(', ')})`, values);
        serials.push(serial);
      }
      await this.exec('COMMIT');
    } catch (err) {
      await this.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return serials;
  }

  private async loadDeclared(): Promise<void> {
    if (!this.db) return;
    const tables = (await new Promise<Array<{ name: string }>>((resolve, reject) =>
      this.db.all("SELECT name FROM sqlite_master WHERE type = 'table'", (err, rows) => (err ? reject(err) : resolve(rows as Array<{ name: string }>))),
    )) as Array<{ name: string }>;
    const map = new Map<string, P.ColType>();
    for (const { name } of tables) {
      const cols = await new Promise<Array<{ name: string; type: string }>>((resolve, reject) =>
        this.db.all(`PRAGMA table_info("${name.replace(/"/g, '""')}")`, (err, rows) => (err ? reject(err) : resolve(rows as Array<{ name: string; type: string }>))),
      );
      for (const c of cols) map.set(c.name.toLowerCase(), colTypeOf(c.type));
    }
    this.declared = map;
  }

  // ───────────── control over HTTP ─────────────

  private async startControl(port: number): Promise<void> {
    this.control = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const send = (status: number, payload?: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          res.end(payload === undefined ? '' : JSON.stringify(payload));
        };
        const path = (req.url ?? '/').split('?')[0];
        void (async () => {
          try {
            if (path === '/__emulator/fault') {
              if (req.method === 'DELETE') {
                this.clearFault();
                return send(204);
              }
              if (req.method === 'POST' || req.method === 'PUT') this.setFault(body ? (JSON.parse(body) as TdsFault) : null);
              return send(200, { fault: this.fault });
            }
            if (path === '/__emulator/rows' && req.method === 'POST') {
              const rows = JSON.parse(body) as AttlogInsert[] | AttlogInsert;
              return send(200, { serials: await this.insertRows(Array.isArray(rows) ? rows : [rows]) });
            }
            if (path === '/__emulator/requests') return send(200, this.log.slice(-500));
            if (path === '/__emulator/down' && req.method === 'POST') {
              await this.down();
              return send(204);
            }
            if (path === '/__emulator/up' && req.method === 'POST') {
              await this.up();
              return send(204);
            }
            return send(404, { errors: ['unknown control path'] });
          } catch (err) {
            return send(400, { errors: [(err as Error).message] });
          }
        })();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.control!.once('error', reject);
      this.control!.listen(port, '127.0.0.1', () => resolve());
    });
    this.controlUrl = `http://127.0.0.1:${(this.control.address() as AddressInfo).port}`;
  }

  // ───────────── connections ─────────────

  private record(l: TdsLogged): void {
    this.log.push(l);
    if (this.log.length > 5000) this.log.splice(0, this.log.length - 5000);
    for (const fn of this.listeners) fn(l);
  }

  /** The fault for this query (count consumed), or null. */
  private takeFault(kind: 'login' | 'query'): TdsFault | null {
    const f = this.fault;
    if (!f) return null;
    const applies = kind === 'login' ? !!f.loginRefused : !!(f.dropMidResult || f.latencyMs || f.serverError || f.hang);
    if (!applies) return kind === 'query' && f.latencyMs ? f : null;
    if (f.count !== undefined) {
      f.count -= 1;
      if (f.count <= 0) this.fault = null;
    }
    return f;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const conn = new Connection(this, socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.closed = true;
    });
    socket.on('error', () => socket.destroy());
  }

  /** @internal */
  async handleLogin(c: Connection, login: P.Login7): Promise<void> {
    this.record({ ts: Date.now(), kind: 'login', user: login.userName });
    const f = this.takeFault('login');
    if (f?.latencyMs) await sleep(f.latencyMs);
    const w = new P.Writer();
    const ok = !f?.loginRefused && Object.prototype.hasOwnProperty.call(this.users, login.userName) && this.users[login.userName] === login.password;
    if (!ok) {
      P.message(w, 'error', 18456, `Login failed for user '${login.userName}'.`, 14, SERVER_NAME);
      P.done(w, P.TOKEN.DONE, P.DONE.ERROR, 0, 0);
      await c.send(P.PKT.REPLY, w.buffer);
      c.socket.end();
      return;
    }
    c.packetSize = Math.min(32767, Math.max(512, login.packetSize || 4096));
    const db = login.database || this.database;
    P.envChange(w, 1, db, 'master');
    P.envChangeCollation(w);
    P.message(w, 'info', 5701, `Changed database context to '${db}'.`, 0, SERVER_NAME);
    P.envChange(w, 2, 'us_english', '');
    P.loginAck(w, PROGRAM);
    P.envChange(w, 4, String(c.packetSize), '4096');
    P.done(w, P.TOKEN.DONE, P.DONE.FINAL, 0, 0);
    c.loggedIn = true;
    await c.send(P.PKT.REPLY, w.buffer);
  }

  /** @internal A SQL_BATCH or an RPC; writes the whole answer. */
  async handleRequest(c: Connection, kind: 'batch' | 'rpc', payload: Buffer): Promise<void> {
    let statements: string[] = [];
    let params: Record<string, unknown> = {};
    const w = new P.Writer();
    try {
      if (kind === 'batch') {
        const sql = P.parseSqlBatch(payload);
        this.record({ ts: Date.now(), kind, sql });
        statements = splitStatements(sql);
      } else {
        const rpc = P.parseRpc(payload);
        if (rpc.procId !== 10 && rpc.procName?.toLowerCase() !== 'sp_executesql') throw new SqlError(2812, `Could not find stored procedure '${rpc.procName ?? `#${rpc.procId}`}'.`);
        const [stmt, decl, ...rest] = rpc.params;
        const sql = String(stmt?.value ?? '');
        const names = decl ? declaredParams(String(decl.value ?? '')).map((d) => d.name) : [];
        params = {};
        rest.forEach((p, i) => (params[(p.name || `@${names[i] ?? i}`).replace(/^@/, '')] = p.value));
        this.record({ ts: Date.now(), kind, sql, params });
        statements = splitStatements(sql);
      }
    } catch (err) {
      const e = err instanceof SqlError ? err : new SqlError(8009, `The incoming tabular data stream (TDS) protocol stream is incorrect. ${(err as Error).message}`);
      P.message(w, 'error', e.number, e.message, 16, SERVER_NAME);
      P.done(w, P.TOKEN.DONE, P.DONE.ERROR, 0, 0);
      return c.send(P.PKT.REPLY, w.buffer);
    }

    const isQuery = statements.some((s) => translate(s).kind === 'query' && !/^select\s+1\s*$/i.test(s));
    const f = isQuery ? this.takeFault('query') : null;
    try {
      if (f?.latencyMs) await c.wait(f.latencyMs);
      if (f?.hang) await c.wait(24 * 3600 * 1000);
    } catch (err) {
      if (!(err instanceof Cancelled)) throw err;
      // cancelled before any answer: an empty answer to the request, then the acknowledgement
      const empty = new P.Writer();
      P.done(empty, P.TOKEN.DONE, P.DONE.FINAL, 0, 0);
      await c.send(P.PKT.REPLY, empty.buffer);
      return c.ackAttention();
    }
    if (c.closed) return;

    const doneToken = kind === 'rpc' ? P.TOKEN.DONEINPROC : P.TOKEN.DONE;
    let failed = false;
    if (f?.serverError) {
      const se = typeof f.serverError === 'object' ? f.serverError : {};
      P.message(w, 'error', se.number ?? 50000, se.message ?? 'Emulated SQL Server error', 16, SERVER_NAME);
      P.done(w, doneToken, P.DONE.ERROR | P.DONE.MORE, CUR_SELECT, 0);
      failed = true;
    } else {
      for (const s of statements) {
        const t = translate(s);
        if (t.kind === 'noop') {
          if (t.use) P.envChange(w, 1, t.use, this.database);
          P.done(w, doneToken, P.DONE.MORE, 0, 0);
          continue;
        }
        try {
          const res = await this.run(t.sql, t.params, params);
          P.colMetadata(w, res.cols);
          for (const r of res.rows) P.row(w, res.cols, r);
          P.done(w, doneToken, P.DONE.MORE | P.DONE.COUNT, CUR_SELECT, res.rows.length);
        } catch (err) {
          const e = err instanceof SqlError ? err : sqlErrorOf((err as Error).message);
          P.message(w, 'error', e.number, e.message, 16, SERVER_NAME);
          P.done(w, doneToken, P.DONE.ERROR | P.DONE.MORE, CUR_SELECT, 0);
          failed = true;
          break;
        }
      }
    }
    if (kind === 'rpc') {
      P.returnStatus(w, failed ? 1 : 0);
      P.done(w, P.TOKEN.DONEPROC, failed ? P.DONE.ERROR : P.DONE.FINAL, 0xe0, 0);
    } else {
      P.done(w, P.TOKEN.DONE, failed ? P.DONE.ERROR : P.DONE.FINAL, 0, 0);
    }
    await c.send(P.PKT.REPLY, w.buffer, !!f?.dropMidResult);
    if (c.cancelRequested) await c.ackAttention();
  }

  private run(sql: string, names: string[], values: Record<string, unknown>): Promise<Result> {
    const bind: Record<string, unknown> = {};
    for (const n of names) {
      const key = Object.keys(values).find((k) => k.toLowerCase() === n.toLowerCase());
      if (key === undefined) return Promise.reject(new SqlError(137, `Must declare the scalar variable "@${n}".`));
      const v = values[key];
      bind[`$${n}`] = typeof v === 'boolean' ? (v ? 1 : 0) : Buffer.isBuffer(v) ? v : v;
    }
    return new Promise<Result>((resolve, reject) => {
      this.db.all(sql, bind, (err, rows: Array<Record<string, unknown>>) => {
        if (err) return reject(err);
        if (rows.length) return resolve(this.shape(Object.keys(rows[0]), rows));
        // no row: learn the column names from a one-row outer join over the same query
        this.db.all(`SELECT __q.* FROM (SELECT 1) AS __one LEFT JOIN (${sql}) AS __q ON 1`, bind, (err2, probe: Array<Record<string, unknown>>) => {
          if (err2 || !probe.length) return resolve({ cols: [], rows: [] });
          resolve({ cols: this.shape(Object.keys(probe[0]), []).cols, rows: [] });
        });
      });
    });
  }

  private shape(names: string[], rows: Array<Record<string, unknown>>): Result {
    const cols: P.Column[] = names.map((name) => {
      const sample = rows.map((r) => r[name]).filter((v) => v !== null && v !== undefined);
      let type = this.declared.get(name.toLowerCase()) ?? null;
      const texts = sample.some((v) => typeof v === 'string');
      if (type && type !== 'nvarchar' && type !== 'datetime2' && texts) type = 'nvarchar';
      if (!type) {
        if (texts || !sample.length) type = 'nvarchar';
        else if (sample.every((v) => typeof v === 'number' && Number.isInteger(v))) type = 'int';
        else type = 'float';
      }
      if (type === 'int' && sample.some((v) => typeof v === 'number' && Math.abs(v) > 0x7fffffff)) type = 'bigint';
      return { name, type };
    });
    return { cols, rows: rows.map((r) => names.map((n) => r[n])) };
  }
}

function colTypeOf(decl: string): P.ColType {
  const d = decl.toUpperCase();
  if (/BIGINT/.test(d)) return 'bigint';
  if (/INT/.test(d)) return 'int';
  if (/BIT/.test(d)) return 'bit';
  if (/DATE|TIME/.test(d)) return 'datetime2';
  if (/REAL|FLOA|DOUB|DEC|NUM|MONEY/.test(d)) return 'float';
  return 'nvarchar';
}

function normaliseDateTime(v: string): string {
  const ms = P.wallClockMs(v);
  return ms === null ? v : P.wallClockText(ms);
}

/** sqlite's error in SQL Server's words where it maps (no such table → 208, no such column → 207, else 102). */
function sqlErrorOf(msg: string): SqlError {
  const m = /no such table: (\S+)/.exec(msg);
  if (m) return new SqlError(208, `Invalid object name '${m[1]}'.`);
  const c = /no such column: (\S+)/.exec(msg);
  if (c) return new SqlError(207, `Invalid column name '${c[1]}'.`);
  return new SqlError(102, msg.replace(/^SQLITE_ERROR: /, ''));
}

class SqlError extends Error {
  constructor(
    readonly number: number,
    message: string,
  ) {
    super(message);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One client connection: packet reassembly, the message queue, attention. */
class Connection {
  packetSize = 4096;
  loggedIn = false;
  closed = false;
  cancelRequested = false;
  private buf: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partType = 0;
  private queue: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;

  constructor(
    private server: TdsEmulator,
    readonly socket: net.Socket,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt16BE(2);
      if (len < 8) {
        this.socket.destroy();
        return;
      }
      if (this.buf.length < len) break;
      const type = this.buf[0];
      const status = this.buf[1];
      const body = this.buf.subarray(8, len);
      this.buf = this.buf.subarray(len);
      if (type === P.PKT.ATTENTION) {
        this.onAttention();
        continue;
      }
      this.partType = type;
      this.parts.push(Buffer.from(body));
      if (status & P.STATUS_EOM) {
        const payload = Buffer.concat(this.parts);
        this.parts = [];
        const t = this.partType;
        this.queue = this.queue
          .then(() => this.handle(t, payload))
          .catch(() => {
            this.socket.destroy();
          });
      }
    }
  }

  private onAttention(): void {
    this.cancelRequested = true;
    this.server['record']({ ts: Date.now(), kind: 'attention' });
    if (this.wake) this.wake();
    // idle connection: acknowledge at once (queue keeps the order with a running answer)
    this.queue = this.queue.then(() => (this.cancelRequested ? this.ackAttention() : undefined));
  }

  /** Waits ms, or throws Cancelled when the client sends ATTENTION meanwhile. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        reject(new Cancelled());
      };
      if (this.cancelRequested || this.closed) this.wake();
    });
  }

  async ackAttention(): Promise<void> {
    if (!this.cancelRequested) return;
    this.cancelRequested = false;
    const w = new P.Writer();
    P.done(w, P.TOKEN.DONE, P.DONE.ATTN, 0, 0);
    await this.send(P.PKT.REPLY, w.buffer);
  }

  private async handle(type: number, payload: Buffer): Promise<void> {
    if (this.closed) return;
    switch (type) {
      case P.PKT.PRELOGIN:
        return this.send(P.PKT.REPLY, P.preloginReply());
      case P.PKT.LOGIN7:
        return this.server.handleLogin(this, P.parseLogin7(payload));
      case P.PKT.SQL_BATCH:
      case P.PKT.RPC:
        if (!this.loggedIn) {
          this.socket.destroy();
          return;
        }
        return this.server.handleRequest(this, type === P.PKT.RPC ? 'rpc' : 'batch', payload);
      default:
        this.socket.destroy();
    }
  }

  /** Writes a message as packets (backpressure respected); `drop` destroys the socket half-way. */
  async send(type: number, payload: Buffer, drop = false): Promise<void> {
    const pkts = P.packets(type, payload, this.packetSize);
    const dropAt = drop ? Math.max(1, Math.floor(pkts.length / 2)) : -1;
    for (let i = 0; i < pkts.length; i++) {
      if (this.closed || this.socket.destroyed) return;
      if (i === dropAt || (drop && pkts.length === 1)) {
        if (pkts.length === 1) this.socket.write(pkts[0].subarray(0, Math.max(9, pkts[0].length >> 1)));
        this.socket.destroy();
        return;
      }
      if (!this.socket.write(pkts[i])) await new Promise<void>((r) => this.socket.once('drain', () => r()).once('close', () => r()));
    }
  }
}
