/**
 * E-Poselok against the project's emulator on 127.0.0.1 and a real sqlite file: normal sync
 * with churn, every fault mode (mirror unchanged), suspicious shrink + confirm, sync while plates
 * are checked, 50k passes, the online client's timeout and breaker, stale alarm, REST router.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import http from 'http';
import express from 'express';
import type { AddressInfo } from 'net';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eposelokOf } from '../../src/services/eposelok-service';
import { EposelokClient } from '../../src/devices/eposelok-client';
import { startEposelokEmulator, EposelokEmulator, EposelokFault, syntheticPasses, demoPasses, EposelokLists } from '../../src/emulators/eposelok';
import { normalizePlate } from '../../src/core/plate';
import { EXACT } from '../../src/core/match';
import { eposelokRouter } from '../../src/api/eposelok';
import type { Logger } from '../../src/core/log';

const TOKEN = 'tok-Секрет/42';
const CAM = 'cam-77';

interface Logged {
  level: string;
  msg: string;
}
function captureLogger(): Logger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const l = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { lines, debug: l('debug'), info: l('info'), warn: l('warn'), error: l('error') };
}

describe('E-Poselok sync and online check', () => {
  let dir: string;
  let hub: Hub;
  let emu: EposelokEmulator;
  let client: EposelokClient;
  let log: ReturnType<typeof captureLogger>;

  const lists = (plates: Array<[string, string]>, list2: Array<[string, string]> = []): EposelokLists => ({
    AllowedList1: plates.map(([Plate, Number]) => ({ Number, Plate })),
    AllowedList2: list2.map(([Plate, Number]) => ({ Number, Plate })),
  });
  const mirrorRows = async () => (await (await hub.db()).all('SELECT id, list, canonical, raw, house FROM mirror_passes ORDER BY id')) as any[];
  const allowedNow = (raw: string) => passesOf(hub).match(normalizePlate(raw)!, EXACT) !== null;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-epo-'));
    log = captureLogger();
    hub = Hub.open({ dbPath: path.join(dir, 'e.db'), logger: log });
    await passesOf(hub).ready();
    await eposelokOf(hub).ready();
    emu = await startEposelokEmulator({ name: 'sosnovka', token: TOKEN, camId: CAM, passes: demoPasses() });
    client = new EposelokClient(
      { name: 'sosnovka', token: TOKEN, camId: CAM, listBase: emu.url, checkBase: emu.url, listTimeoutMs: 1000, checkTimeoutMs: 300, breakerFailures: 3, breakerResetMs: 400 },
      log,
    );
  });
  afterEach(async () => {
    await emu.close();
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('first sync of the demo list, then a sync with churn; index and database follow', async () => {
    const svc = eposelokOf(hub);
    const states: any[] = [];
    hub.on('eposelok-state', (s) => states.push(s));
    const r1 = await svc.sync(client, { trigger: 'test' });
    expect(r1).toMatchObject({ ok: true, needsConfirm: false, removed: 0, unchanged: 0, error: null });
    expect(r1.added).toBe(r1.total);
    expect(r1.total).toBeGreaterThanOrEqual(50);
    expect((await mirrorRows()).length).toBe(r1.total);
    expect(allowedNow('В 841 НТ 16')).toBe(true); // spaces + Cyrillic in the list
    expect(allowedNow('1234AB7')).toBe(true); // a foreign plate
    expect(states.at(-1)).toMatchObject({ ok: true, count: r1.total, stale: false, lastError: null, configured: false });
    expect(states.at(-1).lastSuccessAt).toEqual(expect.any(Number));

    // churn: 3 gone, 2 new, one re-spelled, the rest the same
    const demo = demoPasses();
    const l1 = demo.AllowedList1!;
    const gone = l1.splice(0, 3);
    l1.push({ Number: '99', Plate: 'Х999ХХ18' }, { Number: '98', Plate: 'У 998 УУ 18' });
    const respelled = l1[0];
    const before = (await mirrorRows()).find((r) => r.canonical === normalizePlate(respelled.Plate)!.canonical && r.house === respelled.Number);
    respelled.Plate = normalizePlate(respelled.Plate)!.canonical.toLowerCase();
    emu.setPasses(demo);
    const r2 = await svc.sync(client, { trigger: 'test' });
    expect(r2).toMatchObject({ ok: true, added: 2, removed: 3, updated: 1, total: r1.total - 1, count: r1.total - 1 });
    expect(r2.unchanged).toBe(r1.total - 3 - 1);
    for (const g of gone) expect(allowedNow(g.Plate)).toBe(false);
    expect(allowedNow('X999XX18')).toBe(true);
    expect(allowedNow('у998уу18')).toBe(true);
    const rows = await mirrorRows();
    expect(rows.length).toBe(r1.total - 1);
    const after = rows.find((r) => r.id === before.id);
    expect(after.raw).toBe(respelled.Plate); // same row (same id), raw text updated
    const runs = await (await hub.db()).all('SELECT ok, added, removed, total FROM sync_runs ORDER BY id');
    expect(runs).toEqual([
      { ok: 1, added: r1.total, removed: 0, total: r1.total },
      { ok: 1, added: 2, removed: 3, total: r1.total - 1 },
    ]);
  });

  const faults: Array<[string, EposelokFault, RegExp]> = [
    ['HTTP 500', { status: 500, pathPrefix: '/cgi-bin/standalone' }, /HTTP 500/],
    ['HTML error page', { html: true, status: 200, pathPrefix: '/cgi-bin/standalone' }, /HTML page/],
    ['invalid JSON', { invalidJson: true }, /not JSON/],
    ['connection reset', { reset: true }, /list fetch .* failed/],
    ['timeout', { hang: true }, /timeout/],
    ['JSON without the lists', { noLists: true }, /without AllowedList1\/AllowedList2/],
    ['empty lists', { emptyLists: true }, /suspicious shrink/],
    ['shrunken list', { shrinkTo: 0.3 }, /suspicious shrink/],
  ];
  test.each(faults)('%s keeps the last good mirror and reports the failure', async (_name, fault, expected) => {
    const svc = eposelokOf(hub);
    const good = await svc.sync(client, { trigger: 'test' });
    expect(good.ok).toBe(true);
    const snapshot = await mirrorRows();
    const alarms: any[] = [];
    hub.on('alarm', (a) => alarms.push(a));
    emu.setFault(fault);
    const r = await svc.sync(client, { trigger: 'test' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(expected);
    expect(r.count).toBe(good.total);
    expect(await mirrorRows()).toEqual(snapshot);
    expect(allowedNow('В 841 НТ 16')).toBe(true);
    expect(passesOf(hub).index.mirrorSize).toBe(good.total);
    const st = svc.state();
    expect(st).toMatchObject({ ok: false, count: good.total, lastSuccessAt: expect.any(Number), lastError: r.error });
    const run = await (await hub.db()).get('SELECT ok, error, pending_confirm FROM sync_runs ORDER BY id DESC LIMIT 1');
    expect(run.ok).toBe(0);
    expect(run.error).toMatch(expected);
    if (r.needsConfirm) {
      expect(run.pending_confirm).toBe(1);
      expect(st.pendingConfirm).toMatchObject({ removed: expect.any(Number) });
      expect(alarms).toEqual([expect.objectContaining({ source: 'eposelok', kind: 'shrink' })]);
    }
    // nothing secret in any log line
    for (const l of log.lines) {
      expect(l.msg).not.toContain(TOKEN);
      expect(l.msg).not.toContain(encodeURIComponent(TOKEN));
    }
    // after the fault the next sync works again
    emu.clearFault();
    expect((await svc.sync(client, { trigger: 'test' })).ok).toBe(true);
  });

  test('a wrong token is an error (403), not an empty list', async () => {
    await eposelokOf(hub).sync(client, { trigger: 'test' });
    const bad = new EposelokClient({ name: 'sosnovka', token: 'wrong', listBase: emu.url, checkBase: emu.url }, log);
    const r = await eposelokOf(hub).sync(bad, { trigger: 'test' });
    expect(r).toMatchObject({ ok: false, errorKind: 'http' });
    expect(passesOf(hub).index.mirrorSize).toBeGreaterThan(50);
  });

  test('Windows-1251 and BOM bodies, one list missing', async () => {
    const svc = eposelokOf(hub);
    emu.setPasses(lists([['А 001 АА 18', 'Дом 1']], [['в002вв18', '№2']]));
    emu.setFault({ win1251: true });
    const r1 = await svc.sync(client, { trigger: 'test' });
    expect(r1).toMatchObject({ ok: true, added: 2 });
    expect((await mirrorRows()).map((r) => [r.canonical, r.house])).toEqual([
      ['A001AA18', 'Дом 1'],
      ['B002BB18', '№2'],
    ]);
    emu.setFault({ bom: true });
    expect(await svc.sync(client, { trigger: 'test' })).toMatchObject({ ok: true, added: 0, removed: 0, unchanged: 2 });
    emu.setFault({ missingList: 'AllowedList2' });
    const r3 = await svc.sync(client, { trigger: 'test' });
    expect(r3).toMatchObject({ ok: true, removed: 1, lists: { AllowedList1: 1, AllowedList2: 'missing' } });
  });

  test('a suspicious shrink is applied only when confirmed', async () => {
    const svc = eposelokOf(hub);
    const full = syntheticPasses(100);
    emu.setPasses(full);
    expect((await svc.sync(client, { trigger: 'test' })).count).toBe(100);
    emu.setPasses({ AllowedList1: full.AllowedList1!.slice(0, 40), AllowedList2: [] });
    const held = await svc.sync(client, { trigger: 'test' });
    expect(held).toMatchObject({ ok: false, needsConfirm: true, removed: 60, count: 100 });
    expect(held.message).toMatch(/60 of 100/);
    expect(passesOf(hub).index.mirrorSize).toBe(100);
    const confirmed = await svc.sync(client, { trigger: 'test', confirm: true });
    expect(confirmed).toMatchObject({ ok: true, removed: 60, count: 40 });
    expect(svc.state().pendingConfirm).toBeNull();
    expect(passesOf(hub).index.mirrorSize).toBe(40);
    // a stricter limit (10 %) holds back even a 20 % shrink
    emu.setPasses({ AllowedList1: full.AllowedList1!.slice(0, 32), AllowedList2: [] });
    expect(await svc.sync(client, { trigger: 'test', maxShrink: 0.1 })).toMatchObject({ needsConfirm: true, removed: 8 });
  });

  test('plates are checked continuously during syncs: a pass in the old and the new list never misses', async () => {
    const svc = eposelokOf(hub);
    const base = syntheticPasses(20000, 3);
    emu.setPasses(base);
    await svc.sync(client, { trigger: 'test' });
    const stable = base.AllowedList1!.slice(0, 2000).map((i) => normalizePlate(i.Plate)!);
    let checks = 0;
    let misses = 0;
    let running = true;
    const checker = (async () => {
      while (running) {
        for (let k = 0; k < 200; k++) {
          const p = stable[(checks + k) % stable.length];
          if (!passesOf(hub).match(p, EXACT)) misses++;
        }
        checks += 200;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let round = 0; round < 3; round++) {
      // churn 10 % outside the stable set each round
      const next = syntheticPasses(20000, 3);
      next.AllowedList1 = [...next.AllowedList1!.slice(0, 16000), ...syntheticPasses(2000, 50 + round).AllowedList1!];
      emu.setPasses(next);
      const r = await svc.sync(client, { trigger: 'test' });
      expect(r.ok).toBe(true);
    }
    running = false;
    await checker;
    expect(checks).toBeGreaterThan(1000);
    expect(misses).toBe(0);
  });

  test('50k passes: first sync, no-change sync and the index', async () => {
    const svc = eposelokOf(hub);
    emu.setPasses(syntheticPasses(50000, 9));
    const r = await svc.sync(client, { trigger: 'test' });
    expect(r).toMatchObject({ ok: true, added: 50000, total: 50000, invalid: 0 });
    expect(passesOf(hub).index.mirrorSize).toBe(50000);
    const again = await svc.sync(client, { trigger: 'test' });
    expect(again).toMatchObject({ ok: true, added: 0, removed: 0, unchanged: 50000 });
    const n = await (await hub.db()).get('SELECT COUNT(*) AS n FROM mirror_passes');
    expect(n.n).toBe(50000);
  });

  describe('online check client', () => {
    test('allowed / denied, URL-encoded plate, Cyrillic form, camId and name checked', async () => {
      emu.setPasses(
        lists([
          ['А 123 ВС 77', '1'],
          ['1234 AB-7', '2'],
        ]),
      );
      expect((await client.check(normalizePlate('a123bc77')!)).status).toBe('allowed');
      expect((await client.check(normalizePlate('A124BC77')!)).status).toBe('denied');
      expect((await client.check(normalizePlate('1234 AB-7')!)).status).toBe('allowed');
      const cyr = new EposelokClient({ ...client.config, plateForm: 'cyrillic' }, log);
      expect((await cyr.check(normalizePlate('A123BC77')!)).status).toBe('allowed');
      const req = await emu.waitForRequest((r) => r.url.includes('%D0%90123'));
      expect(req.url).toContain('plate=%D0%90123%D0%92%D0%A177');
      expect(req.url).toContain(`CamId=${CAM}`);
      expect(req.url).toContain('pnam=sosnovka');
      expect(req.url).toContain(`id=${encodeURIComponent(TOKEN)}`);
      const wrongCam = new EposelokClient({ ...client.config, camId: 'other' }, log);
      expect((await wrongCam.check(normalizePlate('A123BC77')!)).status).toBe('unavailable');
      const s = client.checkStats();
      expect(s).toMatchObject({ allowed: 2, denied: 1, checks: 3 });
      expect(s.lastLatencyMs).toBeGreaterThan(0);
    });

    test('timeout → unavailable; 3 failures open the breaker (skipped at once); half-open retry closes it', async () => {
      emu.setFault({ hang: true, pathPrefix: '/cgi-bin/cars' });
      const p = normalizePlate('K001KK18')!;
      for (let i = 0; i < 3; i++) {
        const r = await client.check(p);
        expect(r.status).toBe('unavailable');
        expect(r.error).toMatch(/timeout/);
        expect(r.latencyMs).toBeGreaterThanOrEqual(250);
      }
      expect(client.breaker.state).toBe('open');
      const before = emu.requests.length;
      const skipped = await client.check(p);
      expect(skipped).toMatchObject({ status: 'skipped', latencyMs: 0 });
      expect(emu.requests.length).toBe(before); // no request went out
      emu.clearFault();
      await new Promise((r) => setTimeout(r, 450));
      expect(client.breaker.state).toBe('half-open');
      expect((await client.check(p)).status).toBe('denied');
      expect(client.breaker.state).toBe('closed');
      // HTTP errors and resets count too; errors are never 'allowed'
      emu.setFault({ status: 500, pathPrefix: '/cgi-bin/cars' });
      expect((await client.check(p)).status).toBe('unavailable');
      emu.setFault({ reset: true, pathPrefix: '/cgi-bin/cars' });
      expect((await client.check(p)).status).toBe('unavailable');
      emu.setFault({ html: true, status: 502, pathPrefix: '/cgi-bin/cars' });
      expect((await client.check(p)).status).toBe('unavailable');
      expect(client.breaker.state).toBe('open');
      expect(log.lines.some((l) => l.level === 'warn' && /circuit breaker open/.test(l.msg))).toBe(true);
      for (const l of log.lines) expect(l.msg).not.toContain(TOKEN);
    });
  });

  test('stale alarm once the last good sync is older than the limit; a good sync clears it', async () => {
    const svc = eposelokOf(hub);
    const alarms: any[] = [];
    hub.on('alarm', (a) => alarms.push(a));
    const unregister = svc.registerSyncer((o) => svc.sync(client, { trigger: o.trigger, confirm: o.confirm }), { staleAfterMs: 150 });
    expect(svc.state()).toMatchObject({ configured: true, stale: false });
    await svc.syncNow({ trigger: 'test' });
    emu.setFault({ status: 503 });
    await svc.syncNow({ trigger: 'test' });
    await new Promise((r) => setTimeout(r, 300));
    expect(alarms).toEqual([expect.objectContaining({ source: 'eposelok', kind: 'stale' })]);
    expect(svc.state().stale).toBe(true);
    emu.clearFault();
    await svc.syncNow({ trigger: 'test' });
    expect(svc.state().stale).toBe(false);
    unregister();
    expect(svc.state().configured).toBe(false);
  });

  test('a pass that moves to another house in a growing list is an update, not a shrink (mirror, index, database)', async () => {
    const svc = eposelokOf(hub);
    emu.setPasses(lists([['А 001 АА 18', 'Дом 1']]));
    expect(await svc.sync(client, { trigger: 'test' })).toMatchObject({ ok: true, added: 1 });
    const [before] = await mirrorRows();
    const grown: Array<[string, string]> = [['А 001 АА 18', 'Дом 2']];
    for (let i = 0; i < 19; i++) grown.push([`К ${100 + i} КК 18`, `Дом ${10 + i}`]);
    emu.setPasses(lists(grown));
    const r = await svc.sync(client, { trigger: 'test' });
    expect(r).toMatchObject({ ok: true, needsConfirm: false, added: 19, removed: 0, updated: 1, count: 20 });
    const rows = await mirrorRows();
    expect(rows).toHaveLength(20);
    // the same row (id), now under the new house; the plate lets in with the new house
    expect(rows.find((x) => x.canonical === 'A001AA18')).toMatchObject({ id: before.id, house: 'Дом 2' });
    expect(passesOf(hub).match(normalizePlate('А001АА18')!, EXACT)).toMatchObject({ entry: { ref: `mirror:${before.id}`, house: 'Дом 2' } });
    expect(svc.state().pendingConfirm).toBeNull();
  });

  test('after a successful sync the state says so: lastError cleared, the failure kept in lastFailure', async () => {
    const svc = eposelokOf(hub);
    emu.setFault({ status: 500 });
    await svc.sync(client, { trigger: 'test' });
    const failed = svc.state();
    expect(failed).toMatchObject({ ok: false, lastError: expect.stringContaining('500'), lastFailure: { error: expect.stringContaining('500') } });
    emu.clearFault();
    await svc.sync(client, { trigger: 'test' });
    expect(svc.state()).toMatchObject({ ok: true, lastError: null, lastErrorAt: null, lastFailure: { error: failed.lastError, at: failed.lastErrorAt } });
    // and after a restart, read from the database
    const file = path.join(dir, 'e.db');
    await Hub.closeAll();
    hub = Hub.open({ dbPath: file, logger: log });
    await eposelokOf(hub).ready();
    expect(eposelokOf(hub).state()).toMatchObject({ ok: true, lastError: null, lastFailure: { error: failed.lastError } });
  });

  test('state survives a restart (count, last success, last error from the database)', async () => {
    await eposelokOf(hub).sync(client, { trigger: 'test' });
    emu.setFault({ status: 500 });
    await eposelokOf(hub).sync(client, { trigger: 'test' });
    const before = eposelokOf(hub).state();
    const file = path.join(dir, 'e.db');
    await Hub.closeAll();
    hub = Hub.open({ dbPath: file, logger: log });
    await eposelokOf(hub).ready();
    expect(eposelokOf(hub).state()).toMatchObject({ count: before.count, lastSuccessAt: before.lastSuccessAt, lastError: before.lastError, ok: false });
  });

  describe('REST router on 127.0.0.1', () => {
    let server: http.Server;
    let base: string;
    beforeEach(async () => {
      const app = express();
      app.use((req, _res, next) => (((req as any).user = { username: 'guard1' }), next()));
      app.use('/api', eposelokRouter(hub));
      server = await new Promise<http.Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/eposelok`;
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const post = (body: string) => fetch(`${base}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

    test('state, sync without a syncer (503), sync, shrink needing confirmation, confirm, failure (502), bad bodies (400)', async () => {
      let res = await fetch(`${base}/state`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ configured: false, count: 0, lastSuccessAt: null, stale: false });
      res = await post('{}');
      expect(res.status).toBe(503);
      const svc = eposelokOf(hub);
      svc.registerSyncer((o) => svc.sync(client, { trigger: o.trigger, confirm: o.confirm }));
      res = await post('{}');
      expect(res.status).toBe(200);
      const ok = await res.json();
      expect(ok).toMatchObject({ ok: true, report: { ok: true, trigger: 'api' }, state: { configured: true, ok: true } });
      const count = ok.state.count;
      emu.setFault({ emptyLists: true });
      res = await post('{}');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: false, needsConfirm: true, message: expect.stringMatching(/would be removed/), state: { count, pendingConfirm: { removed: count } } });
      res = await post('{"confirm": true}');
      expect(await res.json()).toMatchObject({ ok: true, state: { count: 0, pendingConfirm: null } });
      emu.setFault({ html: true });
      res = await post('');
      expect(res.status).toBe(502);
      expect((await res.json()).error).toMatch(/HTML/);
      expect((await post('[1]')).status).toBe(400);
      expect((await post('{"confirm": "yes"}')).status).toBe(400);
      expect((await post('{bad')).status).toBe(400);
      expect(log.lines.some((l) => /manual sync by guard1/.test(l.msg))).toBe(true);
    });
  });
});
