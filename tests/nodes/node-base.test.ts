/**
 * The node base (nodes/common/node-base.ts): one user-of-message rule, config migrations, invalid
 * config → red status + done(err) (never silently clamped), failures reach Catch nodes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { sink, until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { migrateConfig, userOf } from '../../nodes/common/node-base';

helper.init(require.resolve('node-red'));
const plateCheck = require('../../nodes/plate-check/plate-check');
const tempStore = require('../../nodes/temp-pass-store/temp-pass-store');
const frigate = require('../../nodes/frigate-lpr/frigate-lpr');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

test('userOf: one rule for msg.user and Dashboard 2.0 clients', () => {
  expect(userOf({ user: ' guard7 ' })).toBe('guard7');
  expect(userOf({ user: { username: 'anna' } })).toBe('anna');
  expect(userOf({ user: { name: 'Boris' } })).toBe('Boris');
  expect(userOf({ _client: { user: { username: 'vera' } } })).toBe('vera');
  expect(userOf({ _client: { user: { userId: 'u-1' } } })).toBe('u-1');
  expect(userOf({ _client: { socketId: 'sock-9' } })).toBe('sock-9');
  expect(userOf({ user: {} })).toBe('');
  expect(userOf({ payload: 'x' })).toBeNull();
  expect(userOf({ user: 'x'.repeat(100) })).toHaveLength(64);
});

test('migrateConfig: the steps a config has not had yet, in order; the input is not changed', () => {
  const steps = [(c: Record<string, unknown>) => ({ ...c, renamed: c.old, old: undefined }), (c: Record<string, unknown>) => ({ ...c, added: c.added ?? 'default' })];
  const v0 = { old: 'value' };
  expect(migrateConfig(v0, steps)).toEqual({ renamed: 'value', old: undefined, added: 'default', configVersion: 2 });
  expect(v0).toEqual({ old: 'value' });
  expect(migrateConfig({ configVersion: 1, renamed: 'kept' }, steps)).toEqual({ renamed: 'kept', added: 'default', configVersion: 2 });
  expect(migrateConfig({ configVersion: 2, renamed: 'kept' }, steps)).toEqual({ renamed: 'kept', configVersion: 2 });
});

describe('nodes on the base', () => {
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-nbase-'));
    helper.settings({ gatepost: { dbPath: path.join(dir, 'n.db'), timezone: 'Europe/Moscow' } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const tab = (nodes: Array<{ id: string; type: string; [k: string]: unknown }>): any[] => [
    { id: 'tab', type: 'tab' },
    ...nodes,
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  test('plate-check: an out-of-range repeat window is a configuration error (red status, done(err)), not clamped', async () => {
    await helper.load(
      [plateCheck, catchNode],
      tab([
        { id: 'pc', z: 'tab', type: 'plate-check', gate: 'main', repeatWindow: '99999', wires: [['o1'], ['o2'], ['o3']] },
        { id: 'o1', z: 'tab', type: 'helper' },
        { id: 'o2', z: 'tab', type: 'helper' },
        { id: 'o3', z: 'tab', type: 'helper' },
      ]),
    );
    const pc = helper.getNode('pc') as any;
    const caught = sink('caught');
    const outs = [sink('o1'), sink('o2'), sink('o3')];
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: 'А123ВС77' });
    await until(() => caught.length === 1);
    expect(caught[0].error.message).toMatch(/plate-check: configuration invalid: repeat window \(s\) must be at most 3600 \(got 99999\)/);
    expect(outs.map((o) => o.length)).toEqual([0, 0, 0]);
  });

  test('plate-check: empty and unset ${VAR} values take the defaults', async () => {
    await helper.load(
      [plateCheck, catchNode],
      tab([
        { id: 'pc', z: 'tab', type: 'plate-check', gate: 'main', repeatWindow: '', maxAge: '${GATEPOST_NOT_SET_X}', wires: [['o1'], ['o2'], ['o3']] },
        { id: 'o1', z: 'tab', type: 'helper' },
        { id: 'o2', z: 'tab', type: 'helper' },
        { id: 'o3', z: 'tab', type: 'helper' },
      ]),
    );
    const denied = sink('o2');
    (helper.getNode('pc') as any).receive({ topic: 'gatepost/lpr/cam1', payload: 'А123ВС77' });
    await until(() => denied.length === 1);
    expect(denied[0].payload).toMatchObject({ decision: 'denied' });
  });

  test('temp-pass-store: a refused pass goes to the output with payload.error AND to Catch nodes', async () => {
    await helper.load(
      [tempStore, catchNode],
      tab([
        { id: 'tp', z: 'tab', type: 'temp-pass-store', preset: 'today', days: '1', wires: [['out']] },
        { id: 'out', z: 'tab', type: 'helper' },
      ]),
    );
    const out = sink('out');
    const caught = sink('caught');
    (helper.getNode('tp') as any).receive({ topic: 'add', payload: { digits: '12a' } });
    await until(() => out.length === 1 && caught.length === 1);
    expect(typeof out[0].payload.error).toBe('string');
    expect(caught[0].error.message).toMatch(/refused/);
  });

  test('temp-pass-store and frigate-lpr: invalid config → red status and every message fails', async () => {
    await helper.load(
      [tempStore, frigate, catchNode],
      tab([
        { id: 'tp', z: 'tab', type: 'temp-pass-store', preset: 'tomorrow', days: '1', wires: [[]] },
        { id: 'f', z: 'tab', type: 'frigate-lpr', minScore: '60', ttl: '600', cameraMap: '', wires: [[], []] },
      ]),
    );
    const caught = sink('caught');
    const tp = helper.getNode('tp') as any;
    const f = helper.getNode('f') as any;
    expect(tp.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    expect(f.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    tp.receive({ topic: 'list' });
    f.receive({ topic: 'frigate/events', payload: {} });
    await until(() => caught.length === 2);
    expect(caught.map((m: any) => m.error.message).sort()).toEqual([
      expect.stringMatching(/frigate-lpr: configuration invalid: minimum score must be at most 1 \(got 60\)/),
      expect.stringMatching(/temp-pass-store: configuration invalid: default validity must be one of today, days/),
    ]);
  });
});

describe('gatepost-gate editor', () => {
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ged-'));
    helper.settings({ gatepost: { dbPath: path.join(dir, 'n.db') } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('GET /gatepost/drivers lists the registry: every relay driver with its labels and form rows', async () => {
    await helper.load(require('../../nodes/gatepost-gate/gatepost-gate'), [
      { id: 'g', type: 'gatepost-gate', gateId: 'garage', driver: 'shelly-relay', url: 'http://127.0.0.1:9', channel: '0' } as any,
    ]);
    const res = await helper.request().get('/gatepost/drivers').expect(200);
    expect(res.body.map((d: any) => d.name)).toEqual(['sarapul-relay', 'sokol-door', 'rest-relay', 'shelly-relay']);
    expect(res.body[3]).toEqual({ name: 'shelly-relay', label: { en: 'Shelly Gen2 relay (HTTP RPC)', ru: 'Реле Shelly Gen2 (HTTP RPC)' }, fields: ['url', 'channel'] });
    const html = fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'gatepost-gate', 'gatepost-gate.html'), 'utf8');
    for (const f of ['url', 'channel', 'relay', 'rest', 'token', 'login']) expect(html).toContain(`gp-f-${f}`);
  });
});
