/**
 * The plate decision pipeline through the services, on a real sqlite file and a real HTTP
 * emulator on 127.0.0.1 for the E-Poselok online check: order, online allowed / denied / HTTP
 * error / timeout / breaker open, repeat reads, malformed input, images, retention, migrations;
 * fallback passages delivered by gatepost-lpr (recorded as given, once per requestId).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { Db } from '../../src/store/db';
import { MIGRATIONS } from '../../src/store/migrations';
import { EventsStore } from '../../src/store/events-store';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';
import { PlateChecker } from '../../src/services/plate-checker';
import { silentLogger } from '../../src/core/log';
import type { Clock } from '../../src/core/clock';
import type { HttpEmulator } from '../../src/emulators/http-emulator';
import { startOnlineEmulator, TestOnlineChecker } from '../helpers/plates-online';

const NOW = Date.parse('2024-06-10T09:00:00Z');

function clockAt(t: number): Clock & { t: number } {
  const c = {
    t,
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
  return c;
}

async function insertMirror(hub: Hub, rows: Array<[string, string, string, string | null, string]>): Promise<void> {
  const db = await hub.db();
  const added = [];
  for (const [list, canonical, raw, digits, house] of rows) {
    const r = await db.run('INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES (?,?,?,?,?,?,?)', [list, canonical, raw, digits, house, NOW, NOW]);
    added.push({ id: r.lastID, list, canonical, raw, digits, house, firstSeen: NOW, lastSeen: NOW });
  }
  passesOf(hub).mirrorChanged(added, [], []);
}

describe('plate decisions through the services', () => {
  let dir: string;
  let hub: Hub;
  let clock: ReturnType<typeof clockAt>;
  let emu: HttpEmulator;
  let online: TestOnlineChecker;
  let checker: PlateChecker;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-plates-'));
    clock = clockAt(NOW);
    hub = Hub.open({ dbPath: path.join(dir, 'g.db'), timezone: 'Europe/Moscow', clock, logger: silentLogger });
    passesOf(hub);
    eventsOf(hub);
    await hub.ready();
    emu = await startOnlineEmulator(new Set(['E777EE77']));
    online = new TestOnlineChecker(emu.url, 600, 2, 60000);
    checker = new PlateChecker(hub, { defaultGate: 'main', repeatWindowMs: 15000, onlineTimeoutMs: 300, checker: online });
    await insertMirror(hub, [['AllowedList1', 'A123BC77', 'А123ВС77', '123', '10']]);
    await passesOf(hub).addTemp({ digits: '321', house: '30', preset: 'today' }, 'guard');
  });
  afterEach(async () => {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a decision is in the event history as soon as it is taken (a read writes the pending batch first)', async () => {
    const a = await checker.check({ payload: 'a123bc77', topic: 'gatepost/lpr/cam1' });
    // no wait for the batch timer: whoever got the decision may ask for its event at once
    const page = await eventsOf(hub).query({ limit: 1 });
    expect(page.rows[0]).toMatchObject({ id: a.decision.eventId, decision: 'allowed' });
    const b = await checker.check({ payload: 'x000xx00', topic: 'gatepost/lpr/cam1' });
    expect(await eventsOf(hub).get(b.decision.eventId)).toMatchObject({ id: b.decision.eventId, decision: 'denied' });
  });

  test('mirror → temporary → online → deny, each recorded with its source and reason', async () => {
    const a = await checker.check({ payload: 'a123bc77', topic: 'gatepost/lpr/cam1' });
    expect(a.output).toBe(1);
    expect(a.decision).toMatchObject({ decision: 'allowed', source: 'mirror', plate: 'A123BC77', gate: 'main', camera: 'cam1', house: '10', policy: 'exact', pass: { ref: 'mirror:1' } });
    expect(a.decision.eventId).toBeGreaterThan(0);
    expect(emu.requests).toHaveLength(0); // local lists answer without asking E-Poselok

    const t = await checker.check({ payload: { plate: 'Х321ХХ99', confidence: 0.9 } });
    expect(t).toMatchObject({ output: 1, decision: { source: 'temporary', house: '30', reason: expect.stringContaining('digits 321') } });

    const o = await checker.check({ payload: 'Е777ЕЕ77' });
    expect(o).toMatchObject({ output: 1, decision: { decision: 'allowed', source: 'online' } });
    expect(emu.requests.at(-1)!.url).toContain('plate=E777EE77');

    const d = await checker.check({ payload: 'К001КК01' });
    expect(d).toMatchObject({ output: 2, decision: { decision: 'denied', source: 'none', reason: 'no pass (E-Poselok online check denied)' } });

    await Promise.all([a.recorded, t.recorded, o.recorded, d.recorded]);
    const { rows, total } = await eventsOf(hub).query({});
    expect(total).toBe(4);
    expect(rows.map((r) => [r.plate, r.decision, r.source])).toEqual([
      ['K001KK01', 'denied', 'none'],
      ['E777EE77', 'allowed', 'online'],
      ['X321XX99', 'allowed', 'temporary'],
      ['A123BC77', 'allowed', 'mirror'],
    ]);
    expect(rows[2]).toMatchObject({ confidence: 0.9, passRef: expect.stringMatching(/^temp:\d+$/), house: '30' });
    expect(rows[1].passRef).toBe('online');
    expect(rows[3].latencyMs).toBeGreaterThanOrEqual(0);
  });

  test('HTTP error, timeout and an open breaker deny with the reason; nothing opens', async () => {
    emu.setFault({ status: 502, count: 1 });
    const e = await checker.check({ payload: 'Е777ЕЕ77' });
    expect(e).toMatchObject({ output: 2, decision: { decision: 'denied', reason: expect.stringContaining('HTTP 502') } });

    emu.setFault({ hang: true });
    const started = Date.now();
    const t = await checker.check({ payload: 'Е777ЕЕ77', gate: 'side' });
    expect(t).toMatchObject({ output: 2, decision: { decision: 'denied', reason: expect.stringContaining('timeout') } });
    expect(Date.now() - started).toBeLessThan(550); // our 300 ms bound, not the client's 600 ms
    // the client's own request fails a little later: two failures open the test breaker
    for (let i = 0; online.consecutiveFailures < 2 && i < 100; i++) await new Promise((r) => setTimeout(r, 20));
    emu.clearFault();

    // the next check is skipped without a request
    const before = emu.requests.length;
    const s = await checker.check({ payload: 'Е777ЕЕ77', gate: 'third' });
    expect(s).toMatchObject({ output: 2, decision: { decision: 'denied', reason: expect.stringContaining('skipped: circuit breaker open') } });
    expect(emu.requests.length).toBe(before);
  });

  test('repeat reads are one passage; after the window the plate is decided again', async () => {
    const first = await checker.check({ payload: 'А123ВС77' });
    expect(first.output).toBe(1);
    clock.t += 5000;
    const again = await checker.check({ payload: 'A123BC77 RUS' });
    expect(again).toMatchObject({ output: 3, decision: { decision: 'repeat', plate: 'A123BC77' } });
    const otherGate = await checker.check({ payload: 'A123BC77', gate: 'exit' });
    expect(otherGate.output).toBe(1);
    clock.t += 10000; // 15 s after the first decision
    const later = await checker.check({ payload: 'A123BC77' });
    expect(later).toMatchObject({ output: 1, decision: { decision: 'allowed' } });
    await later.recorded;
    const { rows } = await eventsOf(hub).query({ decision: 'repeat' });
    expect(rows).toHaveLength(1);
  });

  test('malformed input is recorded as rejected with the reason and the truncated input; the pipeline keeps working', async () => {
    const bad: unknown[] = ['', Buffer.from([0xff, 0x00, 0xfe]), 'x'.repeat(70000), '{"plate":', { plate: true }, { plate: ['x'] }, 'hello', [1]];
    for (const payload of bad) {
      const r = await checker.check({ payload });
      expect(r.output).toBe(3);
      expect(r.decision.decision).toBe('rejected');
      expect(r.decision.reason.length).toBeGreaterThan(3);
    }
    const ok = await checker.check({ payload: 'А123ВС77' });
    expect(ok.output).toBe(1);
    await ok.recorded;
    const { rows, total } = await eventsOf(hub).query({ decision: 'rejected' });
    expect(total).toBe(bad.length);
    expect(rows.every((r) => r.input !== null && r.input.length <= 300 && r.source === 'none')).toBe(true);
    expect(rows.find((r) => r.reason.startsWith('invalid JSON'))?.input).toBe('{"plate":');
    expect(checker.counters).toMatchObject({ rejected: bad.length, allowed: 1 });
  });

  test('camera map: the camera gives gate and direction; an unknown camera is rejected', async () => {
    const mapped = new PlateChecker(hub, { cameras: { cam1: { gate: 'north', direction: 'exit' } }, repeatWindowMs: 0 });
    const r = await mapped.check({ payload: 'А123ВС77', topic: 'gatepost/lpr/cam1', gate: 'ignored' });
    expect(r.decision).toMatchObject({ gate: 'north', direction: 'exit', camera: 'cam1', decision: 'allowed' });
    const u = await mapped.check({ payload: 'А123ВС77', topic: 'gatepost/lpr/cam9' });
    expect(u).toMatchObject({ output: 3, decision: { decision: 'rejected', reason: 'unknown camera "cam9"' } });
    // a camera outside the map that names its gate (a Frigate bridge, an LPR program) is taken at its word
    const named = await mapped.check({ payload: JSON.stringify({ plate: 'К001КК01', gate: 'east' }), topic: 'gatepost/lpr/cam9' });
    expect(named.decision).toMatchObject({ gate: 'east', camera: 'cam9', decision: 'denied' });
    const none = await mapped.check({ payload: 'К001КК01', gate: 'side' }); // not from a camera
    expect(none.decision).toMatchObject({ gate: 'side', decision: 'denied', reason: 'no pass (no online check configured)' });
  });

  test('images: a URL is a reference, base64 JPEG is written under <db dir>/images/YYYY/MM/DD', async () => {
    const u = await checker.check({ payload: { plate: 'А123ВС77', image: 'http://127.0.0.1:1/snap.jpg' } });
    expect(u.decision.image).toBe('http://127.0.0.1:1/snap.jpg');
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 8, 7, 0xff, 0xd9]);
    const j = await checker.check({ payload: JSON.stringify({ plate: 'К001КК01', image: 'data:image/jpeg;base64,' + jpeg.toString('base64') }) });
    expect(j.decision.image).toBe(`images/2024/06/10/${j.decision.eventId}.jpg`);
    await j.recorded;
    expect(fs.readFileSync(path.join(dir, j.decision.image!))).toEqual(jpeg);
    const row = (await eventsOf(hub).query({ q: 'K001KK01' })).rows[0];
    expect(row.image).toBe(j.decision.image);
  });

  test("'event' is emitted after recording with the eventId; retention prunes old events", async () => {
    const seen: any[] = [];
    hub.on('event', (e) => seen.push(e));
    const r = await checker.check({ payload: 'А123ВС77' });
    await r.recorded;
    expect(seen).toEqual([expect.objectContaining({ eventId: r.decision.eventId, plate: 'A123BC77', decision: 'allowed' })]);
    expect(seen[0].input).toBeUndefined();

    const db = await hub.db();
    const old = NOW - 4 * 365 * 86400000;
    await db.transaction(async (tx) => {
      for (let i = 0; i < 30; i++) await tx.run("INSERT INTO events (ts, decision, source, reason) VALUES (?, 'denied', 'none', 'old')", [old + i]);
    });
    expect(await eventsOf(hub).prune()).toBe(30);
    expect((await eventsOf(hub).query({})).total).toBe(1);
  });
});

describe('fallback passages (gatepost-lpr queue) through the services', () => {
  let dir: string;
  let dbPath: string;
  let hub: Hub;
  let clock: ReturnType<typeof clockAt>;
  let emu: HttpEmulator;
  let checker: PlateChecker;
  const HOUR = 3600000;
  const TOPIC = 'gatepost/lpr/cam1/fallback';
  /** a queue entry as gatepost-lpr's deliverQueue publishes it */
  const passage = (requestId: string, over: Record<string, unknown> = {}, fallback: Record<string, unknown> = {}) => ({
    plate: 'А123ВС77',
    ts: NOW - 30 * HOUR,
    requestId,
    gate: 'main',
    confidence: 0.9,
    fallback: { decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok', latencyMs: 41.2, ...fallback },
    ...over,
  });

  const open = async () => {
    hub = Hub.open({ dbPath, timezone: 'Europe/Moscow', clock, logger: silentLogger });
    passesOf(hub);
    eventsOf(hub);
    await hub.ready();
    checker = new PlateChecker(hub, { defaultGate: 'main', repeatWindowMs: 15000, onlineTimeoutMs: 300, checker: new TestOnlineChecker(emu.url, 600, 2, 60000) });
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-fallback-'));
    dbPath = path.join(dir, 'g.db');
    clock = clockAt(NOW);
    emu = await startOnlineEmulator(new Set(['E777EE77']));
    await open();
    await insertMirror(hub, [['AllowedList1', 'A123BC77', 'А123ВС77', '123', '10']]);
  });
  afterEach(async () => {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an allowed passage is recorded as given, with its original ts, on output 3; not decided again, no repeat window', async () => {
    const seen: any[] = [];
    hub.on('event', (e) => seen.push(e));
    const f = await checker.check({ payload: JSON.stringify(passage('req-1')), topic: TOPIC });
    expect(f.output).toBe(3);
    expect(f.decision).toMatchObject({
      ts: NOW - 30 * HOUR,
      requestId: 'req-1',
      camera: 'cam1',
      gate: 'main',
      plate: 'A123BC77',
      raw: 'А123ВС77',
      confidence: 0.9,
      decision: 'allowed',
      source: 'online',
      reason: 'fallback: E-Poselok allowed (relay ok)',
      latencyMs: 41.2,
      fallback: { relay: 'ok' },
    });
    expect(f.decision.pass).toBeUndefined(); // not matched against the mirror: it was not decided here
    expect(f.decision.eventId).toBeGreaterThan(0);
    await f.recorded;
    expect(emu.requests).toHaveLength(0);
    expect(checker.counters).toMatchObject({ allowed: 0, denied: 0, repeat: 0, rejected: 0, fallback: 1 });
    expect(seen).toEqual([expect.objectContaining({ eventId: f.decision.eventId, decision: 'allowed', fallback: { relay: 'ok' } })]);

    // the same car read live right after: decided normally (the fallback did not open a repeat window)
    const live = await checker.check({ payload: 'А123ВС77', topic: 'gatepost/lpr/cam1' });
    expect(live).toMatchObject({ output: 1, decision: { decision: 'allowed', source: 'mirror', ts: NOW } });
    expect(live.decision.fallback).toBeUndefined();
    await live.recorded;

    const { rows, total } = await eventsOf(hub).query({});
    expect(total).toBe(2);
    expect(rows[1]).toMatchObject({
      id: f.decision.eventId,
      ts: NOW - 30 * HOUR,
      time: new Date(NOW - 30 * HOUR).toISOString(),
      plate: 'A123BC77',
      gate: 'main',
      camera: 'cam1',
      decision: 'allowed',
      source: 'online',
      passRef: 'online',
      reason: 'fallback: E-Poselok allowed (relay ok)',
      requestId: 'req-1',
      latencyMs: 41.2,
      input: null,
    });
    // history filters see it at the time it happened
    expect((await eventsOf(hub).query({ from: NOW - 31 * HOUR, to: NOW - 29 * HOUR })).rows.map((r) => r.id)).toEqual([f.decision.eventId]);
  });

  test('denied and rejected passages are recorded with their source; a relay error is kept in the reason', async () => {
    const d = await checker.check({ payload: passage('req-d', { plate: 'Е777ЕЕ77' }, { decision: 'denied', reason: 'fallback: E-Poselok denied', relay: undefined }), topic: TOPIC });
    expect(d).toMatchObject({ output: 3, decision: { decision: 'denied', source: 'online', reason: 'fallback: E-Poselok denied', plate: 'E777EE77' } });
    const x = await checker.check({ payload: passage('req-x', {}, { decision: 'rejected', source: 'none', reason: 'fallback not configured: no relay', relay: undefined }), topic: TOPIC });
    expect(x).toMatchObject({ output: 3, decision: { decision: 'rejected', source: 'none', reason: 'fallback: not configured: no relay' } });
    const e = await checker.check({ payload: passage('req-e', {}, { relay: 'error: connect ECONNREFUSED' }), topic: TOPIC });
    expect(e.decision.reason).toBe('fallback: E-Poselok allowed (relay error: connect ECONNREFUSED)');
    await Promise.all([d.recorded, x.recorded, e.recorded]);
    expect(emu.requests).toHaveLength(0); // E-Poselok is not asked again, although it would allow Е777ЕЕ77
    expect(checker.counters).toMatchObject({ denied: 0, rejected: 0, fallback: 3 });
    expect((await eventsOf(hub).query({ source: 'online' })).total).toBe(2);
  });

  test('the same requestId is recorded once: twice at once, again later, and again after a restart on the same file', async () => {
    const payload = JSON.stringify(passage('5b2f9c8e-0d1e-4c55-9a0e-6f1d2f3a4b5c'));
    const [a, b] = await Promise.all([checker.check({ payload, topic: TOPIC }), checker.check({ payload: Buffer.from(payload), topic: TOPIC })]);
    const first = a.decision.fallback?.duplicate ? b : a;
    const dup = first === a ? b : a;
    expect(first.decision.fallback).toEqual({ relay: 'ok' });
    expect(dup).toMatchObject({ output: 3, decision: { eventId: first.decision.eventId, decision: 'allowed', fallback: { relay: 'ok', duplicate: true } } });
    await first.recorded;
    const again = await checker.check({ payload, topic: TOPIC });
    expect(again.decision).toMatchObject({ eventId: first.decision.eventId, fallback: { duplicate: true } });
    expect(checker.counters.fallback).toBe(1);
    expect((await eventsOf(hub).query({})).total).toBe(1);

    await Hub.closeAll();
    clock.t += 2 * HOUR;
    await open();
    const afterRestart = await checker.check({ payload, topic: 'gatepost/lpr/cam2/fallback' });
    expect(afterRestart).toMatchObject({ output: 3, decision: { eventId: first.decision.eventId, fallback: { duplicate: true } } });
    await afterRestart.recorded;
    await eventsOf(hub).flush();
    const { rows, total } = await eventsOf(hub).query({});
    expect(total).toBe(1);
    expect(rows[0]).toMatchObject({ id: first.decision.eventId, camera: 'cam1', ts: NOW - 30 * HOUR });

    // another passage is recorded as usual
    const other = await checker.check({ payload: passage('req-other'), topic: TOPIC });
    expect(other.decision.fallback).toEqual({ relay: 'ok' });
    await other.recorded;
    expect((await eventsOf(hub).query({})).total).toBe(2);
  });

  test('a live read carrying the same requestId does not swallow the fallback passage', async () => {
    const live = await checker.check({ payload: { plate: 'К001КК01', requestId: 'shared' }, topic: 'gatepost/lpr/cam1' });
    expect(live.output).toBe(2);
    await live.recorded;
    const f = await checker.check({ payload: passage('shared'), topic: TOPIC });
    expect(f.decision.fallback).toEqual({ relay: 'ok' });
    await f.recorded;
    expect((await eventsOf(hub).query({})).total).toBe(2);
  });

  test('malformed fallback messages are rejected, counted and recorded; a later good delivery is still recorded', async () => {
    const bad: unknown[] = [
      passage('req-bad', { requestId: undefined }),
      passage('req-bad', {}, { decision: 'maybe' }),
      { ...passage('req-bad'), fallback: 'allowed' },
      passage('req-bad', { ts: NOW - 40 * 24 * HOUR }),
      passage('req-bad', { ts: NOW + HOUR }),
      passage('req-bad', { plate: '---' }),
      'А123ВС77',
      '{"plate":',
    ];
    for (const payload of bad) {
      const r = await checker.check({ payload, topic: TOPIC });
      expect(r.output).toBe(3);
      expect(r.decision).toMatchObject({ decision: 'rejected', source: 'none', ts: NOW, reason: expect.stringMatching(/^fallback refused: /) });
      expect(r.decision.requestId).toBeUndefined();
      await r.recorded;
    }
    expect(checker.counters).toMatchObject({ rejected: bad.length, fallback: 0 });
    const rejected = await eventsOf(hub).query({ decision: 'rejected' });
    expect(rejected.total).toBe(bad.length);
    expect(rejected.rows.every((r) => r.input !== null && r.input.length <= 300 && r.requestId === null)).toBe(true);
    expect(rejected.rows.map((r) => r.reason)).toEqual(
      expect.arrayContaining([
        'fallback refused: no "requestId"',
        'fallback refused: "fallback.decision" must be allowed, denied or rejected',
        'fallback refused: "fallback" must be an object',
        'fallback refused: "ts" is older than 30 days',
        'fallback refused: "ts" is in the future',
        'fallback refused: not a plate: "---"',
        'fallback refused: payload must be a JSON object',
      ]),
    );

    const good = await checker.check({ payload: passage('req-bad'), topic: TOPIC });
    expect(good.decision).toMatchObject({ decision: 'allowed', requestId: 'req-bad', fallback: { relay: 'ok' } });
    expect(good.decision.fallback?.duplicate).toBeUndefined();
  });

  test('camera map: the gate in the passage wins; an unknown camera is no reason to refuse it', async () => {
    const mapped = new PlateChecker(hub, { cameras: { cam1: { gate: 'north', direction: 'exit' } }, repeatWindowMs: 15000 });
    const own = await mapped.check({ payload: passage('m-1', { gate: 'south' }), topic: TOPIC, gate: 'ignored' });
    expect(own.decision).toMatchObject({ gate: 'south', direction: 'exit', camera: 'cam1', decision: 'allowed' });
    const fromMap = await mapped.check({ payload: passage('m-2', { gate: undefined, direction: 'entry' }), topic: TOPIC });
    expect(fromMap.decision).toMatchObject({ gate: 'north', direction: 'entry' });
    const unknown = await mapped.check({ payload: passage('m-3', { gate: undefined }), topic: 'gatepost/lpr/cam9/fallback', gate: 'side' });
    expect(unknown).toMatchObject({ output: 3, decision: { gate: 'side', camera: 'cam9', decision: 'allowed', fallback: { relay: 'ok' } } });
    const unknownNoGate = await mapped.check({ payload: passage('m-4', { gate: undefined }), topic: 'gatepost/lpr/cam9/fallback' });
    expect(unknownNoGate.decision).toMatchObject({ gate: 'main', decision: 'allowed' });
    expect(mapped.counters).toMatchObject({ rejected: 0, fallback: 4 });
  });
});

describe('migrations', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-mig-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const indexNames = async (db: Db) => (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index'")).map((r) => r.name);

  test('from an empty database to the latest version', async () => {
    const db = await Db.open(path.join(dir, 'empty.db'));
    expect(await db.version()).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(await indexNames(db)).toEqual(expect.arrayContaining(['events_camera_ts', 'events_source_ts', 'temp_passes_created_at', 'events_request_id']));
    await db.close();
  });

  test('from schema v1 with data: v2 adds the indices and keeps the rows', async () => {
    const file = path.join(dir, 'v1.db');
    const v1 = await Db.open(
      file,
      MIGRATIONS.filter((m) => m.version === 1),
    );
    expect(await v1.version()).toBe(1);
    await v1.run("INSERT INTO events (ts, camera, decision, source) VALUES (1, 'cam1', 'allowed', 'mirror')");
    await v1.close();
    const db = await Db.open(file);
    expect(await db.version()).toBeGreaterThanOrEqual(2);
    expect(await indexNames(db)).toEqual(expect.arrayContaining(['events_camera_ts', 'events_source_ts']));
    expect(await db.get('SELECT camera FROM events WHERE ts = 1')).toEqual({ camera: 'cam1' });
    const plan = await db.all("EXPLAIN QUERY PLAN SELECT id FROM events WHERE camera = 'cam1' ORDER BY ts DESC");
    expect(JSON.stringify(plan)).toContain('events_camera_ts');
    await db.close();
  });

  test('from schema v2 with data: v3 indexes events by requestId and keeps the rows', async () => {
    const file = path.join(dir, 'v2.db');
    const v2 = await Db.open(
      file,
      MIGRATIONS.filter((m) => m.version <= 2),
    );
    expect(await v2.version()).toBe(2);
    await v2.run("INSERT INTO events (ts, decision, source, reason, request_id) VALUES (1, 'allowed', 'online', 'fallback: E-Poselok allowed', 'r-1')");
    await v2.close();
    const db = await Db.open(file);
    expect(await db.version()).toBeGreaterThanOrEqual(3);
    expect(await indexNames(db)).toContain('events_request_id');
    const store = new EventsStore(db);
    expect(await store.findByRequestId('r-1', 'fallback: ')).toBe(1);
    expect(await store.findByRequestId('r-1', 'E-Poselok')).toBeUndefined();
    expect(await store.findByRequestId('r-2')).toBeUndefined();
    const plan = await db.all("EXPLAIN QUERY PLAN SELECT id FROM events WHERE request_id = ? AND substr(reason, 1, 10) = 'fallback: ' ORDER BY id LIMIT 1", ['r-1']);
    expect(JSON.stringify(plan)).toContain('events_request_id');
    await db.close();
  });
});
