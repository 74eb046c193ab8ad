/**
 * Footprint guards (issue 17), behaviour only (the figures are in bench/footprint.bench.ts):
 *  - the built runtime with the shipped flows and demo mode loads none of the heavy optional
 *    modules (iVMS mssql, Telegram grammy, TensorFlow / face-api, ZXing, FTP) at start: they
 *    load only when their feature is configured (`memory.heavyModulesLoaded` of /api/system,
 *    read from the runtime's require.cache);
 *  - /api/system reports where the memory goes (start stages, heap, the pass index);
 *  - a data dir with 20k mirror passes: right after /api/health 200 (the index may still be
 *    loading) a listed plate sent over MQTT is allowed from the mirror and an unlisted one denied.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, tempDir } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { heavyModulesLoaded, HEAVY_OPTIONAL_MODULES } from '../../src/runtime/memory';
import { Hub } from '../../src/services/hub';
import { silentLogger } from '../../src/core/log';

jest.setTimeout(120_000);

describe('heavyModulesLoaded', () => {
  test("finds a heavy module's code in a require cache, not its package.json (Node-RED's node scan reads those)", () => {
    expect(heavyModulesLoaded({ '/a/node_modules/grammy/package.json': {}, '/a/node_modules/express/index.js': {} })).toEqual([]);
    expect(heavyModulesLoaded({ '/a/node_modules/mssql/index.js': {}, '/a/node_modules/@tensorflow/tfjs/dist/index.js': {} })).toEqual(['mssql', '@tensorflow/tfjs']);
    expect(HEAVY_OPTIONAL_MODULES).toEqual(expect.arrayContaining(['mssql', 'grammy', '@tensorflow/tfjs', '@zxing/library']));
  });
});

describe('the runtime at start (shipped flows, demo mode)', () => {
  let rt: GatepostHandle;
  beforeAll(async () => {
    // demo mode without its emulated iVMS database: that one configures the access log, which needs mssql
    rt = await startGatepost({ env: { GATEPOST_DEMO: 'on', GATEPOST_DEMO_IVMS: 'off', GATEPOST_BACKUP_KEEP: '0' } });
  });
  afterAll(async () => {
    await rt?.stop();
    rt?.cleanup();
  });

  test('no heavy optional module is loaded; /api/system says where the memory goes', async () => {
    const sys = await apiOf(rt, '/api/system');
    expect(sys.memory.heavyModulesLoaded).toEqual([]);
    expect(sys.memory.rssMb).toBeGreaterThan(0);
    expect(sys.memory.heapUsedMb).toBeGreaterThan(0);
    expect(sys.memory.stages.map((s: { stage: string }) => s.stage)).toEqual(['modules loaded', 'broker started', 'node-red loaded', 'database open', 'node-red started', 'flows deployed', 'ready']);
    expect(sys.memory.passIndex).toMatchObject({ loaded: expect.any(Boolean), mirror: expect.any(Number) });
  });
});

describe('a data dir with 20k mirror passes', () => {
  const N = 20_000;
  const L = 'ABEKMHOPCTYX';
  const plateOf = (i: number) => `${L[i % 12]}${String(Math.floor(i / 12) % 1000).padStart(3, '0')}${L[Math.floor(i / 12000) % 12]}${L[Math.floor(i / 144000) % 12]}77`;
  let rt: GatepostHandle;
  let lpr: MqttClient;

  beforeAll(async () => {
    const dataDir = path.join(tempDir('gp-footprint-'), 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const hub = Hub.open({ dbPath: path.join(dataDir, 'gatepost.db'), logger: silentLogger });
    const db = await hub.db();
    await db.transaction(async (tx) => {
      for (let i = 0; i < N; i += 100) {
        const rows: unknown[] = [];
        for (let k = i; k < i + 100; k++) rows.push('AllowedList1', plateOf(k), plateOf(k), plateOf(k).slice(1, 4), '1', 1, 1);
        await tx.run(`INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES ${Array(100).fill('(?,?,?,?,?,?,?)').join(',')}`, rows);
      }
    });
    await hub.close();
    rt = await startGatepost({ dataDir, env: { GATEPOST_BACKUP_KEEP: '0' } });
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword });
  });
  afterAll(async () => {
    await end(lpr);
    await rt?.stop();
    rt?.cleanup();
  });

  test('plates sent right after health 200 are decided from the whole list', async () => {
    const seen = collector(lpr);
    await subscribe(lpr, 'gatepost/decision/#');
    const listed = plateOf(N - 1);
    lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: listed, requestId: 'fp-listed' }), { qos: 1 });
    lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'X999XX99', requestId: 'fp-unlisted' }), { qos: 1 });
    const a = JSON.parse((await seen.wait((m) => m.payload.includes('fp-listed'), 20_000)).payload);
    const b = JSON.parse((await seen.wait((m) => m.payload.includes('fp-unlisted'), 20_000)).payload);
    expect(a).toMatchObject({ plate: listed, decision: 'allowed', source: 'mirror' });
    expect(b).toMatchObject({ decision: 'denied' });
    const sys = await apiOf(rt, '/api/system');
    expect(sys.memory.passIndex).toMatchObject({ loaded: true, mirror: N });
  });
});
