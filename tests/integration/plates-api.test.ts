/** passesRouter + eventsRouter on a real express app on 127.0.0.1 over a real sqlite file. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type http from 'http';
import express from 'express';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';
import { PlateChecker } from '../../src/services/plate-checker';
import { passesRouter } from '../../src/api/passes';
import { eventsRouter } from '../../src/api/events';
import { silentLogger } from '../../src/core/log';

const NOW = Date.parse('2024-06-10T09:00:00Z');

describe('passes and events API', () => {
  let dir: string;
  let hub: Hub;
  let server: http.Server;
  let base: string;
  const clock = { t: NOW, now: () => clock.t, setTimeout: (f: () => void, ms: number) => setTimeout(f, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

  const call = async (method: string, url: string, body?: unknown, raw?: string) => {
    const res = await fetch(base + url, { method, headers: { 'content-type': 'application/json' }, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* csv */
    }
    return { status: res.status, json, text, headers: res.headers };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-papi-'));
    hub = Hub.open({ dbPath: path.join(dir, 'a.db'), timezone: 'Europe/Moscow', clock, logger: silentLogger });
    passesOf(hub);
    eventsOf(hub);
    await hub.ready();
    const db = await hub.db();
    const added = [];
    for (const [canonical, raw, digits, house] of [
      ['A123BC77', 'А123ВС77', '123', '10'],
      ['K555MM799', 'К555ММ799', '555', '20'],
      ['B663KT777', 'в663кт777', '663', '21'],
    ]) {
      const r = await db.run('INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES (?,?,?,?,?,?,?)', [
        'AllowedList1',
        canonical,
        raw,
        digits,
        house,
        NOW,
        NOW,
      ]);
      added.push({ id: r.lastID, list: 'AllowedList1', canonical, raw, digits, house, firstSeen: NOW, lastSeen: NOW });
    }
    passesOf(hub).mirrorChanged(added, [], []);
    const app = express();
    app.use((req, _res, next) => {
      (req as any).user = { username: 'guard1' };
      next();
    });
    app.use('/api', passesRouter(hub));
    app.use('/api', eventsRouter(hub));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('temporary pass CRUD: add (digits and plate), refusals, list, extend, cancel', async () => {
    const a = await call('POST', '/api/passes/temporary', { digits: '321', house: '30', note: 'курьер', preset: 'today' });
    expect(a.status).toBe(201);
    expect(a.json.pass).toMatchObject({ kind: 'digits', digits: '321', house: '30', author: 'guard1', active: true, validTo: Date.parse('2024-06-10T20:59:59.999Z') });
    const b = await call('POST', '/api/passes/temporary', { plate: 'е777ее77', preset: 'days', days: 3 });
    expect(b.status).toBe(201);
    expect(b.json.pass).toMatchObject({ kind: 'plate', canonical: 'E777EE77', display: 'Е777ЕЕ77' });

    for (const bad of [
      { digits: '12a' },
      { digits: '' },
      { digits: '12' },
      { plate: 'A123BC77', preset: 'range', from: '2024-06-12', to: '2024-06-11' },
      { digits: '123', preset: 'days', days: 'x' },
    ]) {
      const r = await call('POST', '/api/passes/temporary', bad);
      expect(r.status).toBe(400);
      expect(typeof r.json.error).toBe('string');
    }
    expect((await call('POST', '/api/passes/temporary', undefined, '{bad json')).status).toBe(400);
    expect((await call('POST', '/api/passes/temporary', [1, 2])).status).toBe(400);

    const list = await call('GET', '/api/passes/temporary');
    expect(list.json.passes.map((p: any) => p.id).sort()).toEqual([a.json.pass.id, b.json.pass.id].sort());

    const ext = await call('POST', `/api/passes/temporary/${a.json.pass.id}/extend`, { days: 1 });
    expect(ext.status).toBe(200);
    expect(ext.json.pass.validTo).toBe(Date.parse('2024-06-11T20:59:59.999Z'));
    expect((await call('POST', `/api/passes/temporary/${a.json.pass.id}/extend`, { days: 0 })).status).toBe(400);

    const c = await call('POST', `/api/passes/temporary/${b.json.pass.id}/cancel`);
    expect(c.json.pass).toMatchObject({ cancelledBy: 'guard1', active: false });
    expect((await call('POST', `/api/passes/temporary/${b.json.pass.id}/cancel`)).status).toBe(409);
    expect((await call('POST', '/api/passes/temporary/99999/cancel')).status).toBe(404);
    expect((await call('POST', '/api/passes/temporary/abc/cancel')).status).toBe(400);

    expect((await call('GET', '/api/passes/temporary')).json.passes).toHaveLength(1);
    expect((await call('GET', '/api/passes/temporary?all=1')).json.passes).toHaveLength(2);
  });

  test('the same digits (or plate) issued twice for an overlapping time: 409 with the existing pass unless confirmed', async () => {
    const first = await call('POST', '/api/passes/temporary', { digits: '654', house: '8', preset: 'today' });
    expect(first.status).toBe(201);
    const again = await call('POST', '/api/passes/temporary', { digits: '654', house: '9', preset: 'days', days: 2 });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/already exists/);
    expect(again.json.existing).toMatchObject({ id: first.json.pass.id, digits: '654', house: '8', author: 'guard1' });
    // nothing was stored by the refused request
    expect((await call('GET', '/api/passes/temporary')).json.passes.filter((p: any) => p.digits === '654')).toHaveLength(1);
    const confirmed = await call('POST', '/api/passes/temporary', { digits: '654', house: '9', preset: 'today', confirm: true });
    expect(confirmed.status).toBe(201);
    expect((await call('GET', '/api/passes/temporary')).json.passes.filter((p: any) => p.digits === '654')).toHaveLength(2);
    // a full plate the same way; another plate or other digits are no duplicate
    expect((await call('POST', '/api/passes/temporary', { plate: 'К654КК77', preset: 'today' })).status).toBe(201);
    expect((await call('POST', '/api/passes/temporary', { plate: 'k654kk 77', preset: 'today' })).status).toBe(409);
    expect((await call('POST', '/api/passes/temporary', { digits: '655', preset: 'today' })).status).toBe(201);
    // a cancelled pass does not count; a later window that does not overlap does not either
    await call('POST', `/api/passes/temporary/${first.json.pass.id}/cancel`);
    await call('POST', `/api/passes/temporary/${confirmed.json.pass.id}/cancel`);
    expect((await call('POST', '/api/passes/temporary', { digits: '654', preset: 'today' })).status).toBe(201);
    expect((await call('POST', '/api/passes/temporary', { digits: '654', preset: 'range', from: '2024-06-20', to: '2024-06-21' })).status).toBe(201);
  });

  test('search: digits, partial plates in both alphabets, active passes only, SQL-ish strings harmless', async () => {
    const r = await call('GET', '/api/passes/search?q=321');
    expect(r.json.results).toEqual([expect.objectContaining({ source: 'temporary', digits: '321', house: '30', author: 'guard1', display: '*321*' })]);
    const c = await call('GET', `/api/passes/search?q=${encodeURIComponent('вс7')}`);
    expect(c.json.results).toEqual([expect.objectContaining({ source: 'mirror', plate: 'A123BC77', display: 'А123ВС77', raw: 'А123ВС77', house: '10', list: 'AllowedList1' })]);
    expect((await call('GET', '/api/passes/search?q=kt77')).json.results.map((x: any) => x.plate)).toEqual(['B663KT777']);
    expect((await call('GET', '/api/passes/search?q=E777')).json.results).toEqual([]); // cancelled
    for (const q of ["' OR 1=1 --", '%', '_', '"; DROP TABLE temp_passes; --', '']) {
      const s = await call('GET', `/api/passes/search?q=${encodeURIComponent(q)}`);
      expect(s.status).toBe(200);
      expect(s.json.results).toEqual([]);
    }
    expect((await call('GET', '/api/passes/search?q=7&limit=2')).json.results).toHaveLength(2);
    expect((await call('GET', '/api/passes/search?q=7&limit=0')).status).toBe(400);
  });

  test('events: filters combine, digits vs plate query, paging, CSV', async () => {
    const pc = new PlateChecker(hub, { repeatWindowMs: 0 });
    const inputs: Array<[unknown, string, string]> = [
      ['А123ВС77', 'gatepost/lpr/cam1', 'main'],
      ['К555ММ799', 'gatepost/lpr/cam2', 'main'],
      ['Х123ХХ01', 'gatepost/lpr/cam1', 'side'],
      ['{"plate":', 'gatepost/lpr/cam1', 'main'],
      ['=HYPERLINK("x")', 'gatepost/lpr/cam2', 'main'],
    ];
    let last;
    for (const [payload, topic, gate] of inputs) {
      clock.t += 1000;
      last = await pc.check({ payload, topic, gate });
    }
    await last!.recorded;
    const all = await call('GET', '/api/events');
    expect(all.json.total).toBe(5);
    expect(all.json.rows[0].ts).toBeGreaterThan(all.json.rows[4].ts);
    expect((await call('GET', '/api/events?q=123')).json.rows.map((r: any) => r.plate)).toEqual(['X123XX01', 'A123BC77']);
    expect((await call('GET', `/api/events?q=${encodeURIComponent('ВС7')}`)).json.rows.map((r: any) => r.plate)).toEqual(['A123BC77']);
    expect((await call('GET', '/api/events?q=123&gate=side')).json.total).toBe(1);
    expect((await call('GET', '/api/events?camera=cam1&decision=allowed')).json.rows.map((r: any) => r.plate)).toEqual(['A123BC77']);
    expect((await call('GET', '/api/events?source=mirror')).json.total).toBe(2);
    expect((await call('GET', '/api/events?decision=rejected')).json.total).toBe(2);
    expect((await call('GET', `/api/events?from=${NOW + 2500}&to=${NOW + 3500}`)).json.rows.map((r: any) => r.plate)).toEqual(['X123XX01']);
    const page = await call('GET', '/api/events?limit=2&offset=2');
    expect(page.json).toMatchObject({ total: 5 });
    expect(page.json.rows).toHaveLength(2);
    for (const q of ["' OR 1=1 --", '%', '_']) expect((await call('GET', `/api/events?q=${encodeURIComponent(q)}`)).json.total).toBe(0);
    expect((await call('GET', '/api/events?decision=maybe')).status).toBe(400);
    expect((await call('GET', '/api/events?from=yesterday')).status).toBe(400);

    const csv = await call('GET', '/api/events.csv?camera=cam2');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toContain('attachment');
    const lines = csv.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0].split(',').slice(0, 4)).toEqual(['id', 'time', 'ts', 'camera']);
    expect(lines).toHaveLength(3);
    expect(csv.text).toContain('K555MM799');
    expect(csv.text).toContain(`"'=HYPERLINK(""x"")"`); // a formula-looking input is defused
  });
});
