/**
 * The plate decision pipeline through the services, on a real sqlite file and a real HTTP
 * emulator on 127.0.0.1 for the E-Poselok online check: order, online allowed / denied / HTTP
 * error / timeout / breaker open, repeat reads, malformed input, images, retention, migrations.
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
    const v1 = await Db.open(file, MIGRATIONS.filter((m) => m.version === 1));
    expect(await v1.version()).toBe(1);
    await v1.run("INSERT INTO events (ts, camera, decision, source) VALUES (1, 'cam1', 'allowed', 'mirror')");
    await v1.close();
    const db = await Db.open(file);
    expect(await db.version()).toBeGreaterThanOrEqual(2);
    expect(await indexNames(db)).toEqual(expect.arrayContaining(['events_camera_ts', 'events_source_ts']));
    expect(await db.get("SELECT camera FROM events WHERE ts = 1")).toEqual({ camera: 'cam1' });
    const plan = await db.all("EXPLAIN QUERY PLAN SELECT id FROM events WHERE camera = 'cam1' ORDER BY ts DESC");
    expect(JSON.stringify(plan)).toContain('events_camera_ts');
    await db.close();
  });

  test('from schema v2 with data: v3 indexes events by requestId and keeps the rows', async () => {
    const file = path.join(dir, 'v2.db');
    const v2 = await Db.open(file, MIGRATIONS.filter((m) => m.version <= 2));
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
