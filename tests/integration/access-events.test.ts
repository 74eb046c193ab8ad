/**
 * One access event for every credential: the schema v4 migration keeps every row (plates stay
 * `plate`, fallback passages become `fallback`), card/face passages are recorded beside plates,
 * and /api/events filters by kind, person and access point — real sqlite files, a real express
 * app on 127.0.0.1.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type http from 'http';
import express from 'express';
import { Db } from '../../src/store/db';
import { MIGRATIONS } from '../../src/store/migrations';
import { Hub } from '../../src/services/hub';
import { eventsOf } from '../../src/services/events-service';
import { eventsRouter } from '../../src/api/events';
import { CREDENTIAL_KINDS, DECISION_SOURCES, type AccessEventPayload } from '../../src/core/contracts';
import { silentLogger } from '../../src/core/log';

const ROOT = path.resolve(__dirname, '..', '..');
const T0 = Date.parse('2024-06-10T09:00:00Z');

describe('access events', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-access-'))));
  afterEach(async () => {
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the v4 migration keeps every v3 row: plates become kind plate, fallback passages kind fallback', async () => {
    const file = path.join(dir, 'old.db');
    const v3 = await Db.open(
      file,
      MIGRATIONS.filter((m) => m.version <= 3),
    );
    const cols = 'id, ts, camera, gate, plate_raw, canonical, digits, decision, source, reason, request_id';
    await v3.run(`INSERT INTO events (${cols}) VALUES (1, ?, 'cam1', 'main', 'А123ВС77', 'A123BC77', '123', 'allowed', 'mirror', 'mirror pass', NULL)`, [T0]);
    await v3.run(`INSERT INTO events (${cols}) VALUES (2, ?, 'cam1', 'main', 'В663КТ777', 'B663KT777', '663', 'allowed', 'online', 'fallback: E-Poselok allowed (relay ok)', 'r-1')`, [T0 + 1]);
    await v3.run(`INSERT INTO events (${cols}) VALUES (3, ?, 'cam1', 'main', '{', NULL, NULL, 'rejected', 'none', 'fallback refused: invalid JSON', NULL)`, [T0 + 2]);
    await v3.close();

    const hub = Hub.open({ dbPath: file, logger: silentLogger });
    const events = eventsOf(hub);
    await hub.ready();
    await expect((await hub.db()).get<{ user_version: number }>('PRAGMA user_version')).resolves.toEqual({ user_version: Math.max(...MIGRATIONS.map((m) => m.version)) });
    const all = await events.query({});
    expect(all.total).toBe(3);
    expect(all.rows.map((r) => [r.id, r.kind, r.plate])).toEqual([
      [3, 'plate', null],
      [2, 'fallback', 'B663KT777'],
      [1, 'plate', 'A123BC77'],
    ]);
    expect((await events.query({ kind: 'fallback' })).rows.map((r) => r.id)).toEqual([2]);
  });

  describe('recorded beside plates, filtered over the API', () => {
    let hub: Hub;
    let server: http.Server;
    let base: string;
    const get = async (url: string) => {
      const res = await fetch(base + url);
      return { status: res.status, json: (await res.json()) as any };
    };

    beforeEach(async () => {
      hub = Hub.open({ dbPath: path.join(dir, 'a.db'), timezone: 'Europe/Moscow', logger: silentLogger });
      const events = eventsOf(hub);
      await hub.ready();
      const seen: AccessEventPayload[] = [];
      hub.on('event', (e) => seen.push(e));
      await events.record({
        eventId: 0,
        ts: T0,
        camera: 'cam1',
        gate: 'main',
        plate: 'A123BC77',
        raw: 'А123ВС77',
        digits: '123',
        decision: 'allowed',
        source: 'mirror',
        reason: 'mirror pass',
        latencyMs: 0.2,
      });
      await events.recordAccess({
        kind: 'card',
        ts: T0 + 1000,
        accessPoint: 'wicket',
        device: 'reader-1',
        direction: 'entry',
        decision: 'allowed',
        source: 'device',
        reason: 'card valid',
        personId: 'p-17',
        personName: 'Иванов Иван',
        credential: '0012345678',
      });
      await events.recordAccess({ kind: 'face', ts: T0 + 2000, accessPoint: 'door-2', device: 'face-1', decision: 'denied', source: 'device', reason: 'unknown face' });
      await events.recordAccess({
        kind: 'card',
        ts: T0 + 3000,
        accessPoint: 'main',
        decision: 'denied',
        source: 'device',
        reason: 'card blocked',
        personId: 'p-9',
        personName: 'Петров Пётр',
        credential: '0099',
      });
      // the live stream gets every kind, plates too
      expect(seen.map((e) => e.kind)).toEqual(['plate', 'card', 'face', 'card']);
      const app = express();
      app.use('/api', eventsRouter(hub));
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      await new Promise((r) => server.close(r));
    });

    test('no filter: every kind, newest first; plates keep their fields', async () => {
      const r = await get('/api/events');
      expect(r.json.total).toBe(4);
      expect(r.json.rows.map((e: any) => e.kind)).toEqual(['card', 'face', 'card', 'plate']);
      expect(r.json.rows[3]).toMatchObject({ kind: 'plate', plate: 'A123BC77', display: 'А123ВС77', gate: 'main', personId: null });
      expect(r.json.rows[2]).toMatchObject({
        kind: 'card',
        gate: 'wicket',
        camera: 'reader-1',
        direction: 'entry',
        personId: 'p-17',
        personName: 'Иванов Иван',
        credential: '0012345678',
        source: 'device',
      });
    });

    test('filters: kind, person (id or part of the name), access point; bad kind refused; the kinds list', async () => {
      expect((await get('/api/events?kind=card')).json.rows.map((e: any) => e.credential)).toEqual(['0099', '0012345678']);
      expect((await get('/api/events?kind=plate')).json.rows.map((e: any) => e.plate)).toEqual(['A123BC77']);
      expect((await get('/api/events?person=p-9')).json.rows.map((e: any) => e.personName)).toEqual(['Петров Пётр']);
      expect((await get('/api/events?person=' + encodeURIComponent('иванов'))).json.rows.map((e: any) => e.personId)).toEqual(['p-17']);
      expect((await get('/api/events?accessPoint=main')).json.rows.map((e: any) => e.kind)).toEqual(['card', 'plate']);
      expect((await get('/api/events?accessPoint=main&kind=card&decision=denied')).json.total).toBe(1);
      expect((await get('/api/events?q=a123')).json.rows.map((e: any) => e.kind)).toEqual(['plate']);
      const bad = await get('/api/events?kind=retina');
      expect(bad.status).toBe(400);
      expect(bad.json.error).toMatch(/kind must be one of plate, card, face/);
      expect((await get('/api/events/kinds')).json).toEqual({ kinds: [...CREDENTIAL_KINDS] });
    });
  });

  test('the dashboard has a Russian and an English name for every kind and source', () => {
    const { GATEPOST_STRINGS } = require(path.join(ROOT, 'dashboard', 'i18n.js'));
    for (const lang of ['ru', 'en']) {
      for (const k of CREDENTIAL_KINDS) expect(GATEPOST_STRINGS[lang][`kind.${k}`]).toEqual(expect.any(String));
      for (const s of DECISION_SOURCES) expect(GATEPOST_STRINGS[lang][`source.${s}`]).toEqual(expect.any(String));
    }
    const vue = fs.readFileSync(path.join(ROOT, 'dashboard', 'history-events.vue'), 'utf8');
    expect(vue).toContain("gp.api('/api/events/kinds')");
  });
});
