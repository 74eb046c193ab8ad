/**
 * Fault suite: the iVMS access log (real sqlite files, a real express app on 127.0.0.1).
 *  - junk attlog rows (wrong types, huge text, NUL, control characters, impossible dates, bad
 *    serials) pushed over POST /api/access/rows: every row with a serial is stored (with its time or
 *    the ingest time, flagged), nothing crashes, the API answers after;
 *  - SQL-ish and wildcard search strings on every text filter: 200, no row matched that does not
 *    hold the text literally, the tables intact;
 *  - the rescan and the next poll ingesting overlapping rows at the same time: each serial once;
 *  - the process closing in the middle of ingests: after a restart the same rows ingested again
 *    are stored exactly once, and access events and log rows stay equal (one transaction).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type http from 'http';
import express from 'express';
import { Hub } from '../../src/services/hub';
import { accessLogOf } from '../../src/services/access-log-service';
import { eventsOf } from '../../src/services/events-service';
import { accessRouter } from '../../src/api/access';
import { garble } from '../../src/core/mojibake';
import type { IvmsRow } from '../../src/core/contracts';
import { silentLogger } from '../../src/core/log';
import { reportFault } from '../helpers/faults';

const row = (serialNo: number, over: Partial<IvmsRow> = {}): IvmsRow => ({
  serialNo,
  authLocal: `2024-05-0${1 + (serialNo % 9)}T0${serialNo % 10}:00:00.000`,
  authDate: null,
  authTime: null,
  direction: serialNo % 2 ? 'vhod' : 'vihod',
  deviceName: 'dev',
  deviceSN: 'sn',
  personName: garble(`Иванов ${serialNo % 50}`),
  cardNo: String(1000 + (serialNo % 50)),
  doorName: garble('Проходная'),
  readerName: null,
  employeeID: String(serialNo % 50),
  verifyMode: null,
  ...over,
});

describe('faults: access log', () => {
  let dir: string;
  const servers: http.Server[] = [];
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-fault-acc-'))));
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serve(hub: Hub): Promise<{ base: string; server: http.Server }> {
    const app = express();
    // as the runtime: the logged-in admin
    app.use((req, _res, next) => {
      (req as any).user = { username: 'admin', permissions: '*' };
      next();
    });
    app.use('/api', accessRouter(hub));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    servers.push(server);
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, server };
  }

  test('junk rows: every row with a serial stored, nothing crashes', async () => {
    const hub = Hub.open({ dbPath: path.join(dir, 'g.db'), timezone: 'Europe/Moscow', logger: silentLogger });
    const { base } = await serve(hub);
    const junkValues: unknown[] = [
      null,
      42,
      -1,
      1.5,
      true,
      {},
      [],
      'x'.repeat(100_000),
      '\u0000\u0001\u0002',
      '\ud800',
      "'; DROP TABLE ivms_rows; --",
      '<script>',
      '💥'.repeat(100),
      garble('Ё'),
      '\u0098\u0098',
    ];
    const dates: unknown[] = ['2024-02-30T10:00:00', '9999-99-99T99:99:99', '', 'yesterday', 123, null, '2024-05-01T25:00:00', '1900-01-01T00:00:00'];
    const rows: Record<string, unknown>[] = [];
    let serial = 0;
    for (const v of junkValues) for (const col of ['personName', 'doorName', 'direction', 'cardNo', 'employeeID', 'verifyMode', 'readerName']) rows.push({ ...row(++serial), [col]: v });
    for (const d of dates) rows.push({ ...row(++serial), authLocal: d, authDate: d, authTime: d });
    const withSerial = rows.length;
    const bad = [{ serialNo: 'x' }, { serialNo: null }, { serialNo: 1.5 }, { serialNo: 2 ** 60 }];
    let survived = 0;
    // a batch with a row without a usable serial is refused whole (400), nothing half-stored
    const refused = await fetch(`${base}/access/rows`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ source: 'j', rows: [...rows.slice(0, 3), ...bad] }) });
    expect(refused.status).toBe(400);
    for (const body of [
      '',
      '{',
      '[]',
      '{"source":"a b"}',
      '{"source":"j","rows":{}}',
      '{"source":"j","rows":[1]}',
      '{"source":"j","rows":[],"timezone":"Mars/Base"}',
      '{"source":"j","rows":[],"directionMap":{"x":"up"}}',
    ]) {
      const r = await fetch(`${base}/access/rows`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      if (r.status === 400) survived++;
    }
    const r = await fetch(`${base}/access/rows`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ source: 'j', rows }) });
    expect(r.status).toBe(200);
    const res = (await r.json()) as { inserted: number };
    expect(res.inserted).toBe(withSerial);
    const stored = (await (await fetch(`${base}/access/events?limit=1000`)).json()) as { total: number; rows: any[] };
    expect(stored.total).toBe(withSerial);
    expect(stored.rows.filter((x) => x.timeMissing).length).toBeGreaterThanOrEqual(dates.length - 1);
    expect((await eventsOf(hub).query({ kind: 'card', limit: 1 })).total).toBeGreaterThan(0);
    // still answering
    expect((await fetch(`${base}/access/summary`)).status).toBe(200);
    expect((await fetch(`${base}/access/worktime?from=2024-05-01&to=2024-05-09`)).status).toBe(200);
    reportFault({
      attack: 'iVMS rows: junk values in every column, impossible dates, junk bodies',
      tried: withSerial + 9,
      survived: survived + 1 + stored.total,
      lost: withSerial - stored.total,
      note: `${stored.rows.filter((x) => x.timeMissing).length} rows kept with the ingest time`,
    });
  });

  test('SQL-ish and wildcard search strings are plain text on every filter', async () => {
    const hub = Hub.open({ dbPath: path.join(dir, 'g.db'), timezone: 'Europe/Moscow', logger: silentLogger });
    await accessLogOf(hub).ingest(
      's',
      Array.from({ length: 200 }, (_, i) => row(i + 1)),
    );
    await accessLogOf(hub).ingest('s', [row(999, { personName: 'Percent 100% _under_ [x] \\back', employeeID: 'X999', cardNo: 'C999' })]);
    const { base } = await serve(hub);
    const odd = [
      "'",
      "''",
      "' OR '1'='1",
      "1' OR 1=1 --",
      '"; DROP TABLE ivms_rows; --',
      "'; DELETE FROM events; --",
      '%',
      '_',
      '%_%',
      '[x]',
      '\\',
      '*',
      '?',
      'a%',
      '%a',
      'NULL',
      'null',
      '0 OR 1',
      ') OR (1=1',
      'UNION SELECT * FROM ivms_rows',
      '\u0000',
      '%00',
      '😀',
      'ё'.repeat(128),
    ];
    let tried = 0;
    let ok = 0;
    for (const s of odd) {
      for (const k of ['q', 'door', 'person', 'source']) {
        tried++;
        const r = await fetch(`${base}/access/events?${k}=${encodeURIComponent(s)}&limit=1000`);
        if (r.status !== 200) continue;
        const body = (await r.json()) as { rows: any[] };
        const literal = body.rows.every((x) => k !== 'q' || [x.personName, x.personNameRaw, x.cardNo, x.employeeID].some((v) => v && String(v).toLowerCase().includes(s.toLowerCase())));
        if (literal && (k === 'q' ? true : body.rows.length === 0)) ok++;
      }
      tried++;
      const w = await fetch(`${base}/access/worktime?from=2024-05-01&to=2024-05-09&person=${encodeURIComponent(s)}`);
      if (w.status === 200) ok++;
    }
    const after = (await (await fetch(`${base}/access/events`)).json()) as { total: number };
    expect(after.total).toBe(201);
    expect((await eventsOf(hub).query({ kind: 'card' })).total).toBe(201);
    expect(ok).toBe(tried);
    reportFault({ attack: 'access log: SQL-ish / wildcard strings in q, door, person, source, worktime person', tried, survived: ok, lost: 201 - after.total });
  });

  test('rescan and next poll at once; a stop in the middle of ingests; after the restart exactly once', async () => {
    const file = path.join(dir, 'g.db');
    let hub = Hub.open({ dbPath: file, timezone: 'Europe/Moscow', logger: silentLogger });
    let log = accessLogOf(hub);
    const all = Array.from({ length: 6000 }, (_, i) => row(i + 1));
    // the rescan window (1..3000) and the next poll (2001..4000) together, twice
    const rs = await Promise.all([log.ingest('s', all.slice(0, 3000)), log.ingest('s', all.slice(2000, 4000)), log.ingest('s', all.slice(0, 3000))]);
    expect(rs.reduce((n, r) => n + r.inserted, 0)).toBe(4000);
    // a stop while three more batches are on their way
    const pending = [log.ingest('s', all.slice(4000, 5000)), log.ingest('s', all.slice(5000, 6000)), log.ingest('s', all.slice(3500, 4500))];
    const closing = Hub.closeAll();
    const outcomes = await Promise.allSettled(pending);
    await closing;
    hub = Hub.open({ dbPath: file, timezone: 'Europe/Moscow', logger: silentLogger });
    log = accessLogOf(hub);
    const hw = await log.highWater('s');
    // the reader starts from the rescan window before its high-water mark: everything again
    await log.ingest('s', all);
    const stored = (await log.query({ limit: 1 })).total;
    const events = (await eventsOf(hub).query({ kind: 'card', limit: 1 })).total;
    const db = await hub.db();
    const dup = await db.all('SELECT serial_no, COUNT(*) AS n FROM ivms_rows GROUP BY source, serial_no HAVING n > 1');
    const orphan = await db.all("SELECT COUNT(*) AS n FROM events e WHERE e.kind = 'card' AND NOT EXISTS (SELECT 1 FROM ivms_rows r WHERE r.id = e.id)");
    expect(stored).toBe(6000);
    expect(events).toBe(6000);
    expect(dup).toEqual([]);
    expect(orphan[0].n).toBe(0);
    reportFault({
      attack: 'access log: overlapping rescans + a stop in the middle of ingests, then the same rows again',
      tried: 6000,
      survived: stored,
      lost: 6000 - stored,
      note: `${outcomes.filter((o) => o.status === 'fulfilled').length}/3 batches committed before the stop; high-water ${hw}`,
    });
  });
});
