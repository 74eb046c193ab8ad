/**
 * Decisions while the pass index is still loading (issue 17): the index loads beside the start,
 * page by page, so a plate can arrive before it is complete. Real sqlite files with 30k mirror
 * passes; PlateChecker as the plate-check node uses it.
 *  - a plate read during the load waits for it (bounded) and is decided from the whole index:
 *    a listed car is allowed from the mirror, an unlisted one denied;
 *  - when the wait runs out (indexWaitMs 0 here) nobody is let in from a half-loaded index: a
 *    listed car too is denied, with the reason "pass list still loading";
 *  - the paged load builds the same index as the old one-query load (every pass, searchable).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';
import { PlateChecker, INDEX_LOADING_REASON } from '../../src/services/plate-checker';
import { PassesStore } from '../../src/store/passes-store';
import { silentLogger } from '../../src/core/log';

jest.setTimeout(60_000);

const N = 30_000;
const L = 'ABEKMHOPCTYX';
/** distinct canonical plates: letter, 3 digits, 2 letters, region 77..96 */
const plateOf = (i: number) =>
  `${L[i % 12]}${String(Math.floor(i / 12) % 1000).padStart(3, '0')}${L[Math.floor(i / 12000) % 12]}${L[Math.floor(i / 144000) % 12]}${77 + (Math.floor(i / 1728000) % 20)}`;

let dir: string;
let dbPath: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-index-loading-'));
  dbPath = path.join(dir, 'gatepost.db');
  const hub = Hub.open({ dbPath, logger: silentLogger });
  const db = await hub.db();
  await db.transaction(async (tx) => {
    for (let i = 0; i < N; i += 100) {
      const rows: unknown[] = [];
      for (let k = i; k < i + 100; k++) {
        const p = plateOf(k);
        rows.push('AllowedList1', p, p, p.slice(1, 4), String(k % 300), 1, 1);
      }
      await tx.run(`INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES ${Array(100).fill('(?,?,?,?,?,?,?)').join(',')}`, rows);
    }
  });
  await Hub.closeAll();
});

afterEach(async () => {
  await Hub.closeAll();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const LISTED = plateOf(N - 1); // on the last page: loaded last
const UNLISTED = 'X999XX99';

test('a plate read while the index loads waits for it and is decided from the whole index', async () => {
  const hub = Hub.open({ dbPath, logger: silentLogger });
  const checker = new PlateChecker(hub, { repeatWindowMs: 0 });
  expect(passesOf(hub).isReady).toBe(false);
  const [listed, unlisted] = await Promise.all([checker.check({ payload: LISTED, topic: 'gatepost/lpr/cam1' }), checker.check({ payload: UNLISTED, topic: 'gatepost/lpr/cam1' })]);
  expect(passesOf(hub).isReady).toBe(true);
  expect(listed.decision).toMatchObject({ plate: LISTED, decision: 'allowed', source: 'mirror' });
  expect(listed.output).toBe(1);
  expect(unlisted.decision).toMatchObject({ plate: UNLISTED, decision: 'denied', source: 'none', reason: 'no pass (no online check configured)' });
  await eventsOf(hub).flush();
  const rows = await eventsOf(hub).query({ limit: 10 });
  expect(rows.rows.map((r: any) => [r.plate ?? r.canonical, r.decision]).sort()).toEqual([
    [LISTED, 'allowed'],
    [UNLISTED, 'denied'],
  ]);
});

test('when the wait for the index runs out, nobody is let in from a half-loaded index (clear reason)', async () => {
  const hub = Hub.open({ dbPath, logger: silentLogger });
  const checker = new PlateChecker(hub, { repeatWindowMs: 0, indexWaitMs: 0 });
  expect(passesOf(hub).isReady).toBe(false);
  const listed = await checker.check({ payload: LISTED, topic: 'gatepost/lpr/cam1' });
  const unlisted = await checker.check({ payload: UNLISTED, topic: 'gatepost/lpr/cam1' });
  expect(listed.decision).toMatchObject({ decision: 'denied', source: 'none', reason: INDEX_LOADING_REASON });
  expect(listed.output).toBe(2);
  expect(unlisted.decision).toMatchObject({ decision: 'denied', reason: INDEX_LOADING_REASON });
  // once loaded, the same checker decides from the index
  await passesOf(hub).ready();
  const again = await checker.check({ payload: LISTED, topic: 'gatepost/lpr/cam1' });
  expect(again.decision).toMatchObject({ decision: 'allowed', source: 'mirror' });
});

test('whenLoaded: true once loaded, false after the bounded wait', async () => {
  const hub = Hub.open({ dbPath, logger: silentLogger });
  const passes = passesOf(hub);
  expect(await passes.whenLoaded(0)).toBe(false);
  expect(await passes.whenLoaded(60_000)).toBe(true);
  expect(passes.loadStats).toMatchObject({ ms: expect.any(Number), heapMb: expect.any(Number) });
  expect(await passes.whenLoaded(0)).toBe(true);
});

test('the paged load indexes every pass, like the one-query load', async () => {
  const hub = Hub.open({ dbPath, logger: silentLogger });
  const passes = passesOf(hub);
  await passes.ready();
  expect(passes.index.mirrorSize).toBe(N);
  const all = await new PassesStore(await hub.db()).loadMirror();
  expect(all).toHaveLength(N);
  expect(new Set(all.map((p) => p.id)).size).toBe(N);
  for (const k of [0, 1, 1999, 2000, 2001, N - 1]) {
    expect(passes.search(plateOf(k), 5).map((r) => r.plate)).toContain(plateOf(k));
  }
  // one stored copy of the repeated short texts, and the raw text is the canonical one when equal
  const e = passes.index.get(`mirror:${all[5].id}`)!;
  const f = passes.index.get(`mirror:${all[5 + 300].id}`)!;
  expect(e.house).toBe(f.house);
  expect(e.raw).toBe(e.canonical);
});
