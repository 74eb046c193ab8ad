/**
 * /api/access over a real express app on 127.0.0.1 and a real sqlite file: doors, the log with
 * every filter (clean and garbled search spellings, odd and SQL-ish strings harmless), paging,
 * CSV of the log and of the work time, the summary and the work-time report.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type http from 'http';
import express from 'express';
import { Hub } from '../../src/services/hub';
import { accessLogOf } from '../../src/services/access-log-service';
import { accessRouter, searchTerms } from '../../src/api/access';
import { garble } from '../../src/core/mojibake';
import type { IvmsRow } from '../../src/core/contracts';
import { silentLogger } from '../../src/core/log';
import type { Clock } from '../../src/core/clock';

const row = (serialNo: number, authLocal: string, personName: string, employeeID: string, direction: string, doorName = 'Проходная', over: Partial<IvmsRow> = {}): IvmsRow => ({
  serialNo,
  authLocal,
  authDate: null,
  authTime: null,
  direction,
  deviceName: 'DS-K1T671',
  deviceSN: 'SN1',
  personName,
  cardNo: `C${employeeID.padStart(4, '0')}`,
  doorName,
  readerName: null,
  employeeID,
  verifyMode: null,
  ...over,
});

describe('/api/access', () => {
  let dir: string;
  let hub: Hub;
  let server: http.Server;
  let base: string;
  const get = async (url: string) => {
    const res = await fetch(base + url);
    const body = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body, json: (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(body) : null };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-accapi-'));
    const clock: Clock = { now: () => Date.parse('2024-03-12T18:00:00Z'), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) }; // 21:00 Moscow
    hub = Hub.open({ dbPath: path.join(dir, 'g.db'), timezone: 'Europe/Moscow', logger: silentLogger, clock });
    await accessLogOf(hub).ingest('sql', [
      row(1, '2024-03-11T08:00:00', garble('Иванов Иван'), '1', 'vhod'),
      row(2, '2024-03-11T17:00:00', garble('Иванов Иван', 'drop'), '1', 'vihod'),
      row(3, '2024-03-11T22:00:00', 'Сидоров Олег', '3', 'vhod', garble('Склад'), { verifyMode: 'face' }),
      row(4, '2024-03-12T06:00:00', 'Сидоров Олег', '3', 'vihod', garble('Склад'), { verifyMode: 'face' }),
      row(5, '2024-03-12T09:00:00', 'Петрова Анна 100%_x', '5', 'vhod'),
      row(6, '2024-03-12T09:30:00', garble('Ильина Ирина'), '6', 'vhod', 'Склад', { cardNo: '00777' }),
      row(7, '2024-03-12T18:00:00', garble('Ильина Ирина'), '6', 'vihod', 'Склад', { cardNo: '00777' }),
    ]);
    const app = express();
    app.use('/api', accessRouter(hub));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('doors: clean names with the stored spelling', async () => {
    const r = await get('/access/doors');
    expect(r.json.doors.map((d: any) => [d.door, d.doorRaw])).toEqual([
      ['Проходная', 'Проходная'],
      ['Склад', garble('Склад')],
    ]);
  });

  test('the log: newest first, local time, filters, paging', async () => {
    const all = await get('/access/events');
    expect(all.json.total).toBe(7);
    expect(all.json.rows.map((r: any) => r.serialNo)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(all.json.rows[6]).toMatchObject({ local: '2024-03-11 08:00:00', time: '2024-03-11T05:00:00.000Z', personName: 'Иванов Иван', personNameRaw: garble('Иванов Иван'), direction: 'in' });
    const ids = async (qs: string) => (await get(`/access/events?${qs}`)).json.rows.map((r: any) => r.serialNo);
    expect(await ids(`door=${encodeURIComponent('Склад')}`)).toEqual([7, 6, 4, 3]);
    expect(await ids(`door=${encodeURIComponent(garble('Склад'))}`)).toEqual([7, 6, 4, 3]);
    expect(await ids('kind=face')).toEqual([4, 3]);
    expect(await ids('direction=out')).toEqual([7, 4, 2]);
    expect(await ids(`from=2024-03-12T00:00&to=2024-03-12T09:15`)).toEqual([5, 4]);
    expect(await ids(`from=2024-03-11&to=2024-03-11`)).toEqual([3, 2, 1]);
    expect(await ids('person=id:6')).toEqual([7, 6]);
    expect(await ids('limit=2&offset=1')).toEqual([6, 5]);
    // search: name (clean and garbled spelling, any case), card, employee ID
    expect(await ids(`q=${encodeURIComponent('ирина')}`)).toEqual([7, 6]);
    expect(await ids(`q=${encodeURIComponent(garble('Ирина'))}`)).toEqual([7, 6]);
    expect(await ids(`q=${encodeURIComponent('ИВАНОВ')}`)).toEqual([2, 1]);
    expect(await ids('q=00777')).toEqual([7, 6]);
    expect(await ids('q=C0003')).toEqual([4, 3]);
    // odd strings: plain characters, never SQL
    for (const odd of ["'", "' OR 1=1 --", '"; DROP TABLE ivms_rows; --', '\\', '%%', 'a%b', '_a', '\u0000', '😀', ')(']) {
      const r = await get(`/access/events?q=${encodeURIComponent(odd)}`);
      expect(r.status).toBe(200);
      expect(r.json.total).toBe(0);
    }
    // LIKE wildcards are plain characters: only the name that holds them literally
    expect(await ids('q=%25')).toEqual([5]);
    expect(await ids('q=_')).toEqual([5]);
    expect(await ids(`q=${encodeURIComponent('100%_x')}`)).toEqual([5]);
    expect((await get('/access/events')).json.total).toBe(7);
  });

  test('bad filters: 400 with a reason', async () => {
    for (const qs of ['kind=plate', 'direction=up', 'from=yesterday', 'limit=0', 'limit=5000', `q=${'x'.repeat(200)}`, 'door[]=a']) {
      const r = await get(`/access/events?${qs}`);
      expect(r.status).toBe(400);
      expect(r.json.error).toBeTruthy();
    }
    expect((await get('/access/worktime?from=2024-03-12&to=2024-03-01')).status).toBe(400);
    expect((await get('/access/worktime?from=2023-01-01&to=2024-03-01')).status).toBe(400);
    expect((await get('/access/worktime?from=12.03.2024')).status).toBe(400);
    expect((await get('/access/summary?afterHours=25:00')).status).toBe(400);
  });

  test('CSV of the log', async () => {
    const r = await get(`/access/events.csv?door=${encodeURIComponent('Склад')}`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/text\/csv/);
    const lines = r.body
      .replace(/^\ufeff/, '')
      .trim()
      .split('\r\n');
    expect(lines[0].split(',')).toEqual(expect.arrayContaining(['local', 'direction', 'door', 'personName', 'cardNo']));
    expect(lines).toHaveLength(5);
    expect(lines[1]).toContain('Ильина Ирина');
    expect(lines[1]).toContain('2024-03-12 18:00:00');
  });

  test('summary: who is inside, after hours highlighted', async () => {
    const s = (await get('/access/summary?afterHours=20:00')).json;
    expect(s.inside).toBe(1);
    expect(s.afterHours).toBe(1);
    expect(s.people[0]).toMatchObject({ name: 'Петрова Анна 100%_x', inside: true, afterHours: true, door: 'Проходная', local: '2024-03-12 09:00:00' });
    expect(s.people.find((p: any) => p.person === 'id:3')).toMatchObject({ inside: false, direction: 'out', door: 'Склад' });
    expect((await get('/access/summary?afterHours=off')).json.afterHours).toBe(0);
  });

  test('work time: per person per day, night shift on its first day, flags, totals, CSV', async () => {
    const w = (await get('/access/worktime?from=2024-03-11&to=2024-03-12')).json;
    const days = w.days.map((d: any) => [d.name, d.day, d.insideMs / 3600000, d.flags]);
    expect(days).toEqual([
      ['Иванов Иван', '2024-03-11', 9, []],
      ['Ильина Ирина', '2024-03-12', 8.5, []],
      ['Петрова Анна 100%_x', '2024-03-12', 0, ['inside']],
      ['Сидоров Олег', '2024-03-11', 8, []],
    ]);
    expect(w.total).toEqual({ people: 4, days: 4, insideMs: 25.5 * 3600000, flaggedDays: 0 });
    expect((await get(`/access/worktime?from=2024-03-11&to=2024-03-12&person=${encodeURIComponent(garble('Сидоров'))}`)).json.days.map((d: any) => d.name)).toEqual(['Сидоров Олег']);
    expect((await get('/access/worktime?from=2024-03-11&to=2024-03-12&person=id:1')).json.days).toHaveLength(1);
    expect((await get("/access/worktime?from=2024-03-11&to=2024-03-12&person=' OR 1=1 --")).json.days).toEqual([]);
    const csv = await get('/access/worktime.csv?from=2024-03-11&to=2024-03-12');
    const lines = csv.body
      .replace(/^\ufeff/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('person,name,day,firstIn,lastOut,hours,pairs,passages,flags');
    expect(lines[4]).toBe('id:3,Сидоров Олег,2024-03-11,2024-03-11 22:00:00,2024-03-12 06:00:00,8.00,1,1,');
  });

  test('search terms: as typed, repaired, garbled', () => {
    expect(searchTerms('Ирина')).toEqual(['ирина', garble('Ирина').toLowerCase(), garble('Ирина', 'drop').toLowerCase()]);
    expect(searchTerms('  ')).toEqual([]);
  });
});
