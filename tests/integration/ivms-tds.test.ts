/**
 * The TDS test server (src/emulators/tds) driven by the real clients — `mssql` (tedious) and
 * FreeTDS `tsql` — and the iVMS reader (src/devices/ivms-source.ts, src/services/ivms-reader.ts)
 * against it, with a real sqlite hub: parameterised queries and their types, 5,000-row results
 * over many packets, SQL errors with their numbers, cancel (attention), column maps, refused table
 * names, back-filled rows found by the rescan window, nothing stored twice.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sql from 'mssql';
import { TdsEmulator } from '../../src/emulators/tds';
import { IvmsSource, IvmsError, quoteTable } from '../../src/devices/ivms-source';
import { IvmsReader } from '../../src/services/ivms-reader';
import { Hub } from '../../src/services/hub';
import { eventsOf } from '../../src/services/events-service';
import { accessLogOf } from '../../src/services/access-log-service';
import { silentLogger } from '../../src/core/log';
import type { AccessEventPayload, IvmsState } from '../../src/core/contracts';
import { runDoctor } from '../../src/ops/doctor';
import { loadConfig } from '../../src/runtime/config';

const USER = 'ivms';
const PASSWORD = 'S3cret-pass!';

function poolFor(emu: TdsEmulator, over: Partial<sql.config> = {}): sql.ConnectionPool {
  return new sql.ConnectionPool({
    server: '127.0.0.1',
    port: emu.port,
    user: USER,
    password: PASSWORD,
    database: 'thirdparty',
    options: { encrypt: false, trustServerCertificate: true, useUTC: true },
    requestTimeout: 3000,
    connectionTimeout: 3000,
    ...over,
  });
}

function tsql(port: number, script: string, user = USER, password = PASSWORD): Promise<string> {
  return new Promise((resolve) => {
    const p = execFile('tsql', ['-H', '127.0.0.1', '-p', String(port), '-U', user, '-P', password], { env: { ...process.env, TDSVER: '7.4' }, timeout: 20000 }, (err, stdout, stderr) =>
      resolve(`${stdout}\n${stderr}${err ? String(err) : ''}`),
    );
    p.stdin!.end(script);
  });
}

describe('TDS server with the real clients', () => {
  let emu: TdsEmulator;
  let pool: sql.ConnectionPool;
  beforeAll(async () => {
    emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
    await emu.createAttlog();
    await emu.insertRows([
      { authDateTime: '2026-01-02 08:01:02.345', personName: 'Иванов Иван', doorName: 'Проходная', direction: 'vhod', cardNo: '0001' },
      { authDateTime: '2026-01-02 18:30:00', personName: 'Петров Пётр', doorName: 'Склад', direction: 'vihod', cardNo: '0002' },
    ]);
    const many = Array.from({ length: 5000 }, (_, i) => ({
      authDateTime: `2026-01-03 09:${String(Math.floor(i / 100) % 60).padStart(2, '0')}:00`,
      personName: `Person ${i}`,
      cardNo: String(10000 + i),
      doorName: 'Gate',
    }));
    await emu.insertRows(many);
    pool = await poolFor(emu).connect();
  });
  afterAll(async () => {
    await pool?.close();
    await emu?.close();
  });

  test('parameterised queries: TOP (@n), bracketed db.schema.table, int / bigint / nvarchar(max) / datetime2 parameters, types back', async () => {
    const r = await pool
      .request()
      .input('n', sql.Int, 2)
      .input('after', sql.BigInt, 0)
      .query('SELECT TOP (@n) [serialNo], [authDateTime], [personName], [doorName] FROM [thirdparty].[dbo].[attlog] WHERE [serialNo] > @after ORDER BY [serialNo]');
    expect(r.recordset).toHaveLength(2);
    expect(r.recordset[0]).toEqual({ serialNo: 1, authDateTime: new Date('2026-01-02T08:01:02.345Z'), personName: 'Иванов Иван', doorName: 'Проходная' });
    const byName = await pool
      .request()
      .input('name', sql.NVarChar(sql.MAX), 'Петров Пётр')
      .input('since', sql.DateTime2(3), new Date('2026-01-02T12:00:00Z'))
      .query('SELECT serialNo, cardNo FROM dbo.attlog WHERE personName = @name AND authDateTime >= @since');
    expect(byName.recordset).toEqual([{ serialNo: 2, cardNo: '0002' }]);
    const empty = await pool.request().input('x', sql.Int, 999999).query('SELECT serialNo, personName FROM attlog WHERE serialNo > @x');
    expect(empty.recordset).toHaveLength(0);
    expect(Object.keys(empty.recordset.columns)).toEqual(['serialNo', 'personName']);
    const max = await pool.request().query('SELECT MAX(serialNo) AS m, COUNT(*) AS c FROM attlog');
    expect(max.recordset[0]).toEqual({ m: 5002, c: 5002 });
  });

  test('5,000 rows in one result (many packets) and parallel queries on two connections', async () => {
    const [a, b] = await Promise.all([pool.request().query('SELECT * FROM attlog WHERE serialNo > 2 ORDER BY serialNo'), pool.request().query('SELECT personName FROM attlog ORDER BY serialNo DESC')]);
    expect(a.recordset).toHaveLength(5000);
    expect(a.recordset[4999].personName).toBe('Person 4999');
    expect(b.recordset).toHaveLength(5002);
    expect(b.recordset[0].personName).toBe('Person 4999');
  });

  test('SQL_BATCH with several statements (request.batch) and SQL errors with their numbers', async () => {
    const b = await pool.request().batch('SET NOCOUNT ON; SELECT TOP 1 serialNo FROM attlog ORDER BY serialNo; SELECT 5 AS five');
    expect(b.recordsets).toEqual([[{ serialNo: 1 }], [{ five: 5 }]]);
    await expect(pool.request().query('SELECT * FROM nosuch')).rejects.toMatchObject({ number: 208, message: "Invalid object name 'nosuch'." });
    await expect(pool.request().query('SELECT nosuch FROM attlog')).rejects.toMatchObject({ number: 207 });
    await expect(pool.request().query('SELECT * FROM attlog WHERE serialNo = @missing')).rejects.toMatchObject({ number: 137 });
    emu.setFault({ serverError: { number: 1205, message: 'Transaction was deadlocked' }, count: 1 });
    await expect(pool.request().query('SELECT 1 AS one FROM attlog')).rejects.toMatchObject({ number: 1205, message: 'Transaction was deadlocked' });
    // the connection is still good
    expect((await pool.request().query('SELECT COUNT(*) AS c FROM attlog')).recordset[0].c).toBe(5002);
  });

  test('cancel: a query that never answers times out, the attention is acknowledged, the connection serves the next query', async () => {
    const before = emu.log.filter((l) => l.kind === 'attention').length;
    emu.setFault({ hang: true, count: 1 });
    const one = await poolFor(emu, { requestTimeout: 500, pool: { max: 1 } }).connect();
    try {
      await expect(one.request().query('SELECT * FROM attlog')).rejects.toMatchObject({ code: 'ETIMEOUT' });
      expect(emu.log.filter((l) => l.kind === 'attention').length).toBe(before + 1);
      const r = await one.request().query('SELECT COUNT(*) AS c FROM attlog');
      expect(r.recordset[0].c).toBe(5002);
      // an explicit cancel of a slow query
      emu.setFault({ latencyMs: 5000, count: 1 });
      const req = one.request();
      const p = req.query('SELECT serialNo FROM attlog');
      setTimeout(() => req.cancel(), 100);
      await expect(p).rejects.toMatchObject({ code: 'ECANCEL' });
      expect((await one.request().query('SELECT MAX(serialNo) AS m FROM attlog')).recordset[0].m).toBe(5002);
    } finally {
      emu.clearFault();
      await one.close();
    }
  });

  test('login refused: wrong password and the injected fault are ELOGIN (18456); the password is not in the message', async () => {
    const bad = poolFor(emu, { password: 'wrong-password' });
    await expect(bad.connect()).rejects.toMatchObject({ code: 'ELOGIN' });
    emu.setFault({ loginRefused: true, count: 1 });
    const src = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD, table: 'dbo.attlog' });
    const err = await src.maxSerial().catch((e) => e as IvmsError);
    expect(err).toBeInstanceOf(IvmsError);
    expect(err).toMatchObject({ kind: 'login' });
    expect((err as Error).message).not.toContain(PASSWORD);
    expect(await src.maxSerial()).toBe(5002); // the fault was for one login only
    await src.close();
  });

  test('FreeTDS tsql (an independent client) runs queries against the same server', async () => {
    const out = await tsql(emu.port, 'SELECT TOP 2 serialNo, personName, doorName FROM dbo.attlog ORDER BY serialNo\ngo\nSELECT COUNT(*) AS c FROM [attlog]\ngo\nquit\n');
    expect(out).toMatch(/serialNo\s+personName\s+doorName/);
    expect(out).toMatch(/1\s+Иванов Иван\s+Проходная/);
    expect(out).toMatch(/2\s+Петров Пётр\s+Склад/);
    expect(out).toMatch(/\(2 rows affected\)/);
    expect(out).toMatch(/\b5002\b/);
    const refused = await tsql(emu.port, 'SELECT 1\ngo\nquit\n', USER, 'nope');
    expect(refused).toMatch(/Login failed for user 'ivms'/);
  });
});

describe('iVMS reader against the TDS server', () => {
  let emu: TdsEmulator;
  let dir: string;
  beforeEach(async () => {
    emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ivms-'));
  });
  afterEach(async () => {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reads with a column map from an oddly named table; the stored wall clock comes back unchanged', async () => {
    const cols = { serialNo: 'SerialNum', authDateTime: 'EventTime', personName: 'Person Name', doorName: 'Door', direction: 'Dir', cardNo: 'Card', employeeID: null as null };
    await emu.createAttlog('Access Log-2', cols);
    await emu.insertRows(
      [
        { serialNo: 10, authDateTime: '2026-03-01 23:59:59.999', personName: 'Сидоров', doorName: 'Вход 1', direction: 'in', cardNo: '77' },
        { serialNo: 11, authDateTime: '2026-03-02 00:00:00', personName: 'Smith', doorName: 'Gate', direction: 'out', cardNo: '78' },
      ],
      'Access Log-2',
      cols,
    );
    const src = new IvmsSource({
      host: '127.0.0.1',
      port: emu.port,
      user: USER,
      password: PASSWORD,
      table: 'thirdparty.dbo.Access Log-2',
      columns: {
        serialNo: 'SerialNum',
        authDateTime: 'EventTime',
        personName: 'Person Name',
        doorName: 'Door',
        direction: 'Dir',
        cardNo: 'Card',
        authDate: '',
        authTime: '',
        deviceName: '',
        deviceSN: '',
        readerName: '',
      },
    });
    try {
      expect(await src.maxSerial()).toBe(11);
      const rows = await src.readAfter(0);
      expect(rows).toEqual([
        {
          serialNo: 10,
          authLocal: '2026-03-01T23:59:59.999',
          authDate: null,
          authTime: null,
          direction: 'in',
          deviceName: null,
          deviceSN: null,
          personName: 'Сидоров',
          cardNo: '77',
          doorName: 'Вход 1',
          readerName: null,
          employeeID: null,
          verifyMode: null,
        },
        {
          serialNo: 11,
          authLocal: '2026-03-02T00:00:00.000',
          authDate: null,
          authTime: null,
          direction: 'out',
          deviceName: null,
          deviceSN: null,
          personName: 'Smith',
          cardNo: '78',
          doorName: 'Gate',
          readerName: null,
          employeeID: null,
          verifyMode: null,
        },
      ]);
      expect((await src.readRange(11, 11)).map((r) => r.serialNo)).toEqual([11]);
      expect(await src.readSerials(0, 100)).toEqual([10, 11]);
      expect(await src.readAfter(10, 1)).toHaveLength(1);
      // the query the server saw: bracket-quoted names, values as parameters
      const q = emu.log.filter((l) => l.kind === 'rpc' && /SerialNum/.test(l.sql ?? '')).pop()!;
      expect(q.sql).toContain('[thirdparty].[dbo].[Access Log-2]');
      expect(q.params).toMatchObject({ after: 10, limit: 1 });
    } finally {
      await src.close();
    }
  });

  test('odd table and column names are refused before anything is sent', () => {
    const base = { host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD };
    for (const table of ['attlog; DROP TABLE attlog', 'att]log', "att'log", 'a.b.c.d', '', 'dbo.', 'x--y/*']) {
      expect(() => new IvmsSource({ ...base, table })).toThrow(IvmsError);
    }
    expect(() => new IvmsSource({ ...base, columns: { personName: 'name]; DROP TABLE x --' } })).toThrow(/column personName/);
    expect(() => new IvmsSource({ ...base, columns: { serialNo: '' } })).toThrow(/serialNo/);
    expect(quoteTable('dbo.attlog')).toBe('[dbo].[attlog]');
    expect(emu.log).toHaveLength(0);
  });

  test('a configured column the table lacks is a clear configuration error; unconfigured missing columns are left out', async () => {
    await emu.createAttlog('attlog', { employeeID: null, verifyMode: null, readerName: null });
    await emu.insertRows([{ serialNo: 1, personName: 'A', doorName: 'D' }], 'attlog', { employeeID: null, verifyMode: null, readerName: null });
    const ok = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD });
    const bad = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD, columns: { employeeID: 'EmpNo' } });
    try {
      expect(await ok.readAfter(0)).toEqual([expect.objectContaining({ serialNo: 1, personName: 'A', doorName: 'D', employeeID: null, readerName: null })]);
      await expect(bad.readAfter(0)).rejects.toMatchObject({ kind: 'config', message: expect.stringContaining('has no column employeeID → "EmpNo"') });
    } finally {
      await ok.close();
      await bad.close();
    }
  });

  test('the poller stores every row once, finds back-filled rows with the rescan window, emits events and a truthful state', async () => {
    await emu.createAttlog();
    const fmt = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');
    const now = Date.now();
    await emu.insertRows(
      [1, 2, 3, 5, 6].map((serialNo) => ({
        serialNo,
        authDateTime: fmt(new Date(now - (10 - serialNo) * 60000)),
        personName: `P${serialNo}`,
        doorName: 'Проходная',
        direction: 'vhod',
        cardNo: String(serialNo),
      })),
    );
    const hub = Hub.open({ dbPath: path.join(dir, 'gatepost.db'), timezone: 'UTC', logger: silentLogger });
    const src = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD, batchSize: 2 });
    const events: AccessEventPayload[] = [];
    const states: IvmsState[] = [];
    const reader = new IvmsReader(hub, src, { source: 'src1', pollMs: 50, rescanEveryMs: 0, timezone: 'UTC', onEvents: (e) => events.push(...e), onState: (s) => states.push(s) });
    try {
      await reader.pollNow(); // 1,2
      await reader.pollNow(); // 3,5
      await reader.pollNow(); // 6
      await reader.pollNow(); // nothing new
      expect(events.map((e) => e.requestId)).toEqual(['ivms:src1:1', 'ivms:src1:2', 'ivms:src1:3', 'ivms:src1:5', 'ivms:src1:6']);
      expect(reader.state).toMatchObject({ source: 'src1', connected: true, lastSerial: 6, lastError: null });
      // iVMS back-fills serial 4 (an old time) and adds 7
      await emu.insertRows([{ serialNo: 4, authDateTime: fmt(new Date(now - 3 * 3600_000)), personName: 'Late', doorName: 'Склад', direction: 'vihod', cardNo: '4' }]);
      await emu.insertRows([{ serialNo: 7, authDateTime: fmt(new Date(now)), personName: 'P7', doorName: 'Проходная', direction: 'vhod' }]);
      await reader.pollNow();
      await reader.pollNow();
      expect(events.map((e) => e.requestId).sort()).toEqual(['ivms:src1:1', 'ivms:src1:2', 'ivms:src1:3', 'ivms:src1:4', 'ivms:src1:5', 'ivms:src1:6', 'ivms:src1:7']);
      expect(reader.stats.rescued).toBe(1);
      // polls and rescans again: no duplicates in the store
      for (let i = 0; i < 3; i++) await reader.pollNow();
      const stored = await eventsOf(hub).query({ kind: 'card', limit: 100 });
      expect(stored.total).toBe(7);
      expect(stored.rows.map((e) => e.personName).sort()).toEqual(['Late', 'P1', 'P2', 'P3', 'P5', 'P6', 'P7']);
      expect(await accessLogOf(hub).highWater('src1')).toBe(7);
      expect(states[states.length - 1]).toMatchObject({ connected: true, lastSerial: 7 });
    } finally {
      await reader.stop();
      await src.close();
    }
  });
});

describe('gatepost doctor: the iVMS SQL Server check (TCP, login, table)', () => {
  test('ok with the right account, LOGIN REFUSED with a wrong one (password not shown), DOES NOT ANSWER when closed, skipped when unset', async () => {
    const emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ivms-doctor-'));
    try {
      await emu.createAttlog();
      await emu.insertRows([{ serialNo: 41, personName: 'X' }]);
      const base = { GATEPOST_DATA_DIR: path.join(dir, 'data'), GATEPOST_HTTP_PORT: '0', GATEPOST_MQTT_PORT: '0', GATEPOST_BIND: '127.0.0.1' };
      const cfg = loadConfig(base);
      fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
      const check = async (env: Record<string, string>) => (await runDoctor({ cfg, env: { ...base, ...env }, mode: 'cli', timeoutMs: 2000 })).find((c) => c.id === 'mssql')!;
      const ivms = { GATEPOST_IVMS_HOST: '127.0.0.1', GATEPOST_IVMS_PORT: String(emu.port), GATEPOST_IVMS_USER: USER, GATEPOST_IVMS_PASSWORD: PASSWORD, GATEPOST_IVMS_TABLE: 'dbo.attlog' };
      expect(await check(ivms)).toMatchObject({ verdict: 'ok', en: expect.stringContaining('logged in, dbo.attlog: last serialNo 41') });
      const refused = await check({ ...ivms, GATEPOST_IVMS_PASSWORD: 'Wrong-Secret-1' });
      expect(refused).toMatchObject({ verdict: 'fail', en: expect.stringContaining('LOGIN REFUSED') });
      expect(refused.en + refused.ru).not.toContain('Wrong-Secret-1');
      expect(await check({ ...ivms, GATEPOST_IVMS_TABLE: 'nosuch' })).toMatchObject({ verdict: 'fail', en: expect.stringContaining('TABLE NOT READABLE') });
      const port = emu.port;
      await emu.down();
      expect(await check({ ...ivms, GATEPOST_IVMS_PORT: String(port) })).toMatchObject({ verdict: 'fail', en: expect.stringContaining('DOES NOT ANSWER') });
      expect(await check({})).toMatchObject({ verdict: 'skip' });
    } finally {
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
