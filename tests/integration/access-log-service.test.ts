/**
 * The iVMS access-log ingest (accessLogOf(hub)) on real sqlite files: dedupe by (source, serialNo)
 * across calls, restarts and sources; mojibake repaired with the raw text kept; direction and kind
 * mapped; the stored wall clock read in the site's zone; each row an access event (events table,
 * 'event' on the bus) committed together with the log row; the high-water mark persisted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { eventsOf } from '../../src/services/events-service';
import { accessLogOf } from '../../src/services/access-log-service';
import { garble } from '../../src/core/mojibake';
import type { AccessEventPayload, FeatureAlarm, IvmsRow } from '../../src/core/contracts';
import { silentLogger } from '../../src/core/log';
import type { Clock } from '../../src/core/clock';

function row(serialNo: number, over: Partial<IvmsRow> = {}): IvmsRow {
  return {
    serialNo,
    authLocal: '2024-03-11T08:00:00.000',
    authDate: null,
    authTime: null,
    direction: 'vhod',
    deviceName: 'DS-K1T671',
    deviceSN: 'SN1',
    personName: 'Иванов Иван',
    cardNo: '0001',
    doorName: 'Проходная',
    readerName: null,
    employeeID: '1',
    verifyMode: null,
    ...over,
  };
}

function fixedClock(t: number): Clock & { t: number } {
  return {
    t,
    now() {
      return this.t;
    },
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}

describe('access log ingest', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-acclog-'));
    file = path.join(dir, 'gatepost.db');
  });
  afterEach(async () => {
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('stores new rows once (rescans, repeated serials, restarts), keeps the high-water mark, emits one event per new row', async () => {
    let hub = Hub.open({ dbPath: file, logger: silentLogger, timezone: 'Europe/Moscow' });
    let log = accessLogOf(hub);
    const emitted: AccessEventPayload[] = [];
    hub.on('event', (e) => emitted.push(e));
    expect(await log.highWater('sql1')).toBeNull();
    const r1 = await log.ingest('sql1', [row(1), row(2, { direction: 'vihod' }), row(3)]);
    expect(r1.inserted).toBe(3);
    expect(r1.duplicates).toBe(0);
    expect(r1.events.map((e) => e.requestId)).toEqual(['ivms:sql1:1', 'ivms:sql1:2', 'ivms:sql1:3']);
    expect(emitted.map((e) => e.eventId)).toEqual(r1.events.map((e) => e.eventId));
    // the rescan window brings 2 and 3 again, with a gap-filled 5 and a late 4, and 5 twice
    const r2 = await log.ingest('sql1', [row(2), row(3), row(5), row(4), row(5)]);
    expect(r2).toMatchObject({ inserted: 2, duplicates: 3 });
    expect(r2.events.map((e) => e.requestId)).toEqual(['ivms:sql1:4', 'ivms:sql1:5']);
    expect(await log.highWater('sql1')).toBe(5);
    // another source has its own serials
    expect((await log.ingest('sql2', [row(1)])).inserted).toBe(1);
    expect(await log.highWater('sql2')).toBe(1);
    expect(emitted).toHaveLength(6);
    await Hub.closeAll();

    hub = Hub.open({ dbPath: file, logger: silentLogger, timezone: 'Europe/Moscow' });
    log = accessLogOf(hub);
    expect(await log.highWater('sql1')).toBe(5);
    expect((await log.ingest('sql1', [row(1), row(5), row(6)])).inserted).toBe(1);
    expect((await log.query({})).total).toBe(7);
    const events = await eventsOf(hub).query({ kind: 'card' });
    expect(events.total).toBe(7);
    expect(new Set(events.rows.map((r) => r.id)).size).toBe(7);
  });

  test('repairs mojibake, keeps the raw text, maps direction and kind, reads the wall clock in the site zone', async () => {
    const hub = Hub.open({ dbPath: file, logger: silentLogger, timezone: 'Europe/Moscow' });
    const log = accessLogOf(hub);
    const r = await log.ingest(
      'sql1',
      [
        row(10, { employeeID: '2', personName: garble('Ильин Игорь'), doorName: garble('Склад'), direction: garble('Вход'), verifyMode: 'face' }),
        row(11, { employeeID: '2', personName: garble('Ильин Игорь', 'drop'), doorName: garble('Склад', '?'), direction: 'Выход', verifyMode: 'fingerPrint', authLocal: '2024-03-11T18:30:15.250' }),
        row(12, { personName: 'Smith John', employeeID: null, direction: 'side-door', verifyMode: 'card', authLocal: null, authDate: '2024-03-12', authTime: '07:05:00' }),
        row(13, { personName: 'Петрова Анна', employeeID: '7', direction: 'inside', authLocal: null }),
      ],
      { directionMap: { inside: 'in' } },
    );
    expect(r.inserted).toBe(4);
    const rows = (await log.query({})).rows.sort((a, b) => a.serialNo - b.serialNo);
    expect(rows.map((x) => x.personName)).toEqual(['Ильин Игорь', 'Ильин Игорь', 'Smith John', 'Петрова Анна']);
    expect(rows[0].personNameRaw).toBe(garble('Ильин Игорь'));
    expect(rows[1].personNameRaw).toBe(garble('Ильин Игорь', 'drop'));
    expect(rows.map((x) => x.door)).toEqual(['Склад', 'Склад', 'Проходная', 'Проходная']);
    expect(rows.map((x) => x.direction)).toEqual(['in', 'out', null, 'in']);
    expect(rows[2].directionRaw).toBe('side-door');
    expect(rows.map((x) => x.kind)).toEqual(['face', 'fingerprint', 'card', 'card']);
    // Moscow is UTC+3
    expect(rows[0].ts).toBe(Date.parse('2024-03-11T05:00:00Z'));
    expect(rows[1].ts).toBe(Date.parse('2024-03-11T15:30:15.250Z'));
    expect(rows[2].ts).toBe(Date.parse('2024-03-12T04:05:00Z'));
    // no time at all: recorded anyway (ingest time) and said so
    expect(rows[3].timeMissing).toBe(true);
    expect(r.events[3].reason).toMatch(/no time/);
    expect(r.events[2].reason).toMatch(/side-door/);
    // the access events
    expect(r.events.map((e) => [e.kind, e.gate, e.direction, e.personName, e.personId, e.credential, e.decision, e.source])).toEqual([
      ['face', 'Склад', 'entry', 'Ильин Игорь', '2', '0001', 'allowed', 'device'],
      ['fingerprint', 'Склад', 'exit', 'Ильин Игорь', '2', '0001', 'allowed', 'device'],
      ['card', 'Проходная', undefined, 'Smith John', undefined, '0001', 'allowed', 'device'],
      ['card', 'Проходная', 'entry', 'Петрова Анна', '7', '0001', 'allowed', 'device'],
    ]);
    // the timezone option overrides the hub's
    await log.ingest('sql3', [row(1, { authLocal: '2024-03-11T08:00:00' })], { timezone: 'UTC' });
    expect((await log.query({ source: 'sql3' })).rows[0].ts).toBe(Date.parse('2024-03-11T08:00:00Z'));
    // doors, search in clean and garbled spelling, odd strings harmless
    expect((await log.doors()).map((d) => d.door)).toEqual(['Проходная', 'Склад']);
    expect((await log.query({ q: ['игорь'] })).total).toBe(2);
    // a person is found by any spelling seen: both of Ilyin's rows
    expect((await log.query({ q: [garble('Игорь').toLowerCase()] })).total).toBe(2);
    expect((await log.query({ q: ["'; drop table ivms_rows; --"] })).total).toBe(0);
    expect((await log.query({ q: ['%'] })).total).toBe(0);
    expect((await log.query({ door: 'Склад', direction: 'out' })).total).toBe(1);
  });

  test('bad rows are skipped with a log line, the others stored', async () => {
    const lines: string[] = [];
    const hub = Hub.open({ dbPath: file, logger: { ...silentLogger, warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) }, timezone: 'UTC' });
    const log = accessLogOf(hub);
    const r = await log.ingest('s', [row(NaN), { ...row(2), personName: null, employeeID: null, cardNo: null, doorName: null, direction: null }, row(3, { authLocal: 'garbage' })]);
    expect(r).toMatchObject({ inserted: 2, duplicates: 0, skipped: 1 });
    expect(lines.join('\n')).toMatch(/without a valid serialNo/);
    // an unknown zone is refused as a whole (nothing stored, the reader reports the error)
    await expect(log.ingest('s', [row(50)], { timezone: 'Mars/Olympus' })).rejects.toThrow(/unknown time zone/);
    expect(await log.highWater('s')).toBe(3);
    const rows = (await log.query({})).rows;
    expect(rows.find((x) => x.serialNo === 2)?.person).toBeNull();
    expect(rows.find((x) => x.serialNo === 3)?.timeMissing).toBe(true);
  });

  test('summary, work time and the after-hours alarm once per person per day', async () => {
    const clock = fixedClock(Date.parse('2024-03-11T18:30:00Z')); // 21:30 Moscow
    const hub = Hub.open({ dbPath: file, logger: silentLogger, timezone: 'Europe/Moscow', clock });
    const log = accessLogOf(hub);
    log.setAfterHours('20:00');
    const alarms: FeatureAlarm[] = [];
    hub.on('alarm', (a) => 'kind' in a && a.source === 'ivms' && alarms.push(a as FeatureAlarm));
    await log.ingest('s', [
      row(1, { employeeID: '1', personName: 'Иванов Иван', authLocal: '2024-03-11T08:00:00' }),
      row(2, { employeeID: '1', personName: 'Иванов Иван', authLocal: '2024-03-11T17:00:00', direction: 'vihod' }),
      row(3, { employeeID: '2', personName: garble('Ильина Ирина'), authLocal: '2024-03-11T09:00:00' }),
      row(4, { employeeID: '3', personName: 'Сидоров', authLocal: '2024-03-10T22:00:00' }),
      row(5, { employeeID: '3', personName: 'Сидоров', authLocal: '2024-03-11T06:00:00', direction: 'vihod', doorName: 'Склад' }),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const s = await log.summary();
    expect(s.inside).toBe(1);
    expect(s.people[0]).toMatchObject({ name: 'Ильина Ирина', inside: true, afterHours: true, door: 'Проходная' });
    expect(s.people.find((p) => p.person === 'id:3')).toMatchObject({ inside: false, direction: 'out', door: 'Склад' });
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ source: 'ivms', kind: 'after-hours', subject: 'Ильина Ирина' });
    expect(await log.checkAfterHours()).toEqual([]);
    expect(alarms).toHaveLength(1);
    // a restart the same day does not alarm again
    await Hub.closeAll();
    const hub2 = Hub.open({ dbPath: file, logger: silentLogger, timezone: 'Europe/Moscow', clock });
    const log2 = accessLogOf(hub2);
    log2.setAfterHours('20:00');
    expect(await log2.checkAfterHours()).toEqual([]);
    // the next evening (she entered again that morning) she is alarmed again, once
    const alarms2: FeatureAlarm[] = [];
    hub2.on('alarm', (a) => 'kind' in a && a.source === 'ivms' && alarms2.push(a as FeatureAlarm));
    clock.t += 24 * 3600000;
    await log2.ingest('s', [row(6, { employeeID: '2', personName: 'Ильина Ирина', authLocal: '2024-03-12T09:00:00' })]);
    await log2.checkAfterHours();
    await log2.checkAfterHours();
    expect(alarms2.map((a) => a.subject)).toEqual(['Ильина Ирина']);
    expect((await log2.summary()).people[0]).toMatchObject({ person: 'id:2', afterHours: true });

    const w = await log2.workTime('2024-03-10', '2024-03-11');
    const byPerson = (p: string) => w.days.filter((d) => d.person === p).map((d) => [d.day, d.insideMs / 3600000, d.flags]);
    expect(byPerson('id:1')).toEqual([['2024-03-11', 9, []]]);
    expect(byPerson('id:3')).toEqual([['2024-03-10', 8, []]]);
    expect(byPerson('id:2')).toEqual([['2024-03-11', 0, ['missing-exit']]]);
    expect(w.total).toMatchObject({ people: 3, days: 3, insideMs: 17 * 3600000, flaggedDays: 1 });
    expect((await log2.workTime('2024-03-11', '2024-03-11', 'id:3')).days).toEqual([]);
  });
});
