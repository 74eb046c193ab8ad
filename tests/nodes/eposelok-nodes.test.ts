/** e-poselok-config + e-poselok-sync with node-red-node-test-helper, the emulator and a real sqlite file. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { sink, until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { startEposelokEmulator, EposelokEmulator, syntheticPasses } from '../../src/emulators/eposelok';
import { eposelokOf } from '../../src/services/eposelok-service';
import { normalizePlate } from '../../src/core/plate';

helper.init(require.resolve('node-red'));
const eposelokNodes = require('../../nodes/e-poselok-sync/e-poselok-sync');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

describe('e-poselok nodes', () => {
  let dir: string;
  let emu: EposelokEmulator;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-enodes-'));
    helper.settings({ gatepost: { dbPath: path.join(dir, 'n.db') } } as any);
    emu = await startEposelokEmulator({ name: 'sosnovka', token: 'tk-1', camId: 'c9', passes: syntheticPasses(100) });
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (syncOnStart = false, cfg: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab' },
    { id: 'cfg', type: 'e-poselok-config', settlement: 'sosnovka', listBase: emu.url, checkBase: emu.url, listTimeout: '2', checkTimeout: '0.5', ...cfg },
    { id: 'sync', z: 'tab', type: 'e-poselok-sync', eposelok: 'cfg', interval: '60', maxShrink: '50', staleHours: '3', syncOnStart, wires: [['report'], ['state']] },
    { id: 'report', z: 'tab', type: 'helper' },
    { id: 'state', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
  const creds = { cfg: { token: 'tk-1', camId: 'c9' } };

  test('syncs on start; report on output 1, retained state on output 2, status with the count; config exposes the checker', async () => {
    await helper.load([eposelokNodes, catchNode], flow(true), creds);
    const report = sink('report');
    const state = sink('state');
    await until(() => report.length === 1 && state.some((s) => s.payload.count === 100));
    expect(report[0]).toMatchObject({ topic: 'gatepost/eposelok/sync', payload: { ok: true, trigger: 'start', added: 100, count: 100 } });
    const st = state.at(-1)!;
    expect(st).toMatchObject({ topic: 'gatepost/eposelok/state', retain: true, payload: { ok: true, count: 100, stale: false, configured: true } });
    const node = helper.getNode('sync') as any;
    await until(() => node.status.lastCall?.args[0]?.fill === 'green');
    expect(node.status.lastCall.args[0]).toMatchObject({ fill: 'green', shape: 'dot', text: expect.stringMatching(/^100 .* · <1 min$/) });
    // the config node's checker (for plate-check) answers from the same emulator
    const cfg = helper.getNode('cfg') as any;
    const plate = normalizePlate(syntheticPasses(100).AllowedList1![0].Plate)!;
    expect((await cfg.checker.check(plate)).status).toBe('allowed');
    const req = emu.requests.find((r) => r.url.startsWith('/cgi-bin/cars/'))!;
    expect(req.url).toContain('id=tk-1');
    expect(req.url).toContain('CamId=c9');
    // the API's syncNow goes through the node as well
    const r = await eposelokOf(Hub.open({ dbPath: path.join(dir, 'n.db') })).syncNow({ trigger: 'api' });
    expect(r.ok).toBe(true);
    await until(() => report.length === 2);
    expect(report[1].payload).toMatchObject({ trigger: 'api', unchanged: 100 });
  });

  test('sync on input; an HTTP error: report with the error, done(err) to Catch, yellow status, mirror kept', async () => {
    await helper.load([eposelokNodes, catchNode], flow(false), creds);
    const report = sink('report');
    const caught = sink('caught');
    const node = helper.getNode('sync') as any;
    node.receive({ payload: 'sync', _msgid: 'm1' });
    await until(() => report.length === 1);
    expect(report[0]).toMatchObject({ _msgid: 'm1', payload: { ok: true, trigger: 'input', count: 100 } });
    emu.setFault({ status: 500 });
    node.receive({ payload: 'sync' });
    await until(() => report.length === 2 && caught.length === 1);
    expect(report[1].payload).toMatchObject({ ok: false, error: expect.stringMatching(/HTTP 500/), count: 100 });
    expect(caught[0].error.message).toMatch(/last good list is kept/);
    await until(() => node.status.lastCall?.args[0]?.fill === 'yellow');
    expect(node.status.lastCall.args[0].text).toMatch(/error · 100 /);
  });

  test('a suspicious shrink waits for msg.confirm = true', async () => {
    await helper.load([eposelokNodes, catchNode], flow(false), creds);
    const report = sink('report');
    const caught = sink('caught');
    const node = helper.getNode('sync') as any;
    node.receive({ payload: 1 });
    await until(() => report.length === 1);
    emu.setFault({ shrinkTo: 0.2 });
    node.receive({ payload: 1, confirm: 'true' }); // only boolean true confirms
    await until(() => report.length === 2);
    expect(report[1].payload).toMatchObject({ ok: false, needsConfirm: true, count: 100 });
    expect(node.warn.calledWithMatch(/shrink/)).toBe(true);
    await until(() => node.status.lastCall?.args[0]?.fill === 'yellow');
    node.receive({ payload: 1, confirm: true });
    await until(() => report.length === 3);
    expect(report[2].payload).toMatchObject({ ok: true, count: 20 });
    expect(caught).toHaveLength(0);
  });

  test('an incomplete configuration: red status, input fails with a clear error, nothing crashes', async () => {
    await helper.load([eposelokNodes, catchNode], flow(false, { settlement: '${GATEPOST_NO_SUCH_VAR}' }), { cfg: {} });
    const caught = sink('caught');
    const node = helper.getNode('sync') as any;
    const cfg = helper.getNode('cfg') as any;
    expect(cfg.checker).toBeNull();
    expect(node.status.calledWithMatch({ fill: 'red', shape: 'ring' })).toBe(true);
    node.receive({ payload: 1 });
    await until(() => caught.length === 1);
    expect(caught[0].error.message).toMatch(/settlement name, token/);
  });
});
