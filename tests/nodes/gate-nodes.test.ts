/** sarapul-relay and sokol-door nodes with node-red-node-test-helper, against the emulators. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { gatesOf } from '../../src/services/gate-service';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';
import { startSokolEmulator, SokolEmulator } from '../../src/emulators/sokol';
import { commandOf } from '../../nodes/common/gate-command';

helper.init(require.resolve('node-red'));
const gateNode = require('../../nodes/gatepost-gate/gatepost-gate');
const sarapulNode = require('../../nodes/sarapul-relay/sarapul-relay');
const sokolNode = require('../../nodes/sokol-door/sokol-door');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
const debugNode = require('@node-red/nodes/core/common/21-debug.js');
const commentNode = require('@node-red/nodes/core/common/90-comment.js');

describe('gate command nodes', () => {
  let dir: string;
  let relay: ClGateEmulator;
  let panel: SokolEmulator;
  let dbPath: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-gnodes-'));
    dbPath = path.join(dir, 'n.db');
    relay = await startClGateEmulator({ token: 'tok-77' });
    panel = await startSokolEmulator();
    helper.settings({ gatepost: { dbPath } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    await relay.close();
    await panel.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const barrierFlow = () => [
    { id: 'tab', type: 'tab' },
    { id: 'g', type: 'gatepost-gate', gateId: 'main', name: 'Въезд', kind: 'barrier', driver: 'sarapul-relay', url: relay.url, channel: '2', pulse: '0.3', timeout: '1' },
    { id: 'r', z: 'tab', type: 'sarapul-relay', gate: 'g', wires: [['out']] },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  test('sarapul-relay: an allowed decision opens the barrier, the state goes out, it closes after the pulse', async () => {
    await helper.load([gateNode, sarapulNode, catchNode], barrierFlow(), { g: { token: 'tok-77' } });
    const hub = Hub.open({ dbPath });
    await gatesOf(hub).idle('main');
    const out = helper.getNode('out');
    const got = new Promise<any>((r) => out.on('input', r));
    helper.getNode('r').receive({ payload: { eventId: 42, decision: 'allowed', gate: 'main', plate: 'A123BC77' }, gate: 'main' } as any);
    const msg = await got;
    expect(msg.topic).toBe('gatepost/gate/main/state');
    expect(msg.payload).toMatchObject({ gate: 'main', name: 'Въезд', state: 'open', by: 'decision:42' });
    expect(relay.channelState(2)).toBe(1);
    await relay.waitForRequest((r) => r.url.includes('state=0') && r.ts >= msg.payload.since, 3000);
    expect(relay.channelState(2)).toBe(0);
    const actions = await gatesOf(hub).actions({ gate: 'main' });
    expect(actions.find((a) => a.command === 'open')).toMatchObject({ source: 'decision', actor: '42', result: 'ok' });
    const r = helper.getNode('r') as any;
    expect(r.status.lastCall.args[0]).toMatchObject({ fill: 'green', shape: 'dot' });
  });

  test('sarapul-relay: a user command, a bad command and a denied decision', async () => {
    await helper.load([gateNode, sarapulNode, catchNode], barrierFlow(), { g: { token: 'tok-77' } });
    const hub = Hub.open({ dbPath });
    await gatesOf(hub).idle('main');
    const r = helper.getNode('r') as any;
    const out = helper.getNode('out');
    const caught = helper.getNode('caught');

    let got = new Promise<any>((res) => out.once('input', res));
    r.receive({ command: 'hold', _client: { user: { username: 'guard-petrov' } } });
    expect((await got).payload).toMatchObject({ state: 'held', by: 'user:guard-petrov' });

    let err = new Promise<any>((res) => caught.once('input', res));
    r.receive({ payload: 'explode' });
    expect((await err).error.message).toMatch(/unknown gate command "explode"/);
    expect(r.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });

    err = new Promise<any>((res) => caught.once('input', res));
    r.receive({ payload: { eventId: 7, decision: 'denied' }, gate: 'main' });
    expect((await err).error.message).toMatch(/not "allowed"/);

    err = new Promise<any>((res) => caught.once('input', res));
    r.receive({ payload: 'open', gate: 'exit' });
    expect((await err).error.message).toMatch(/for gate "exit"/);
    expect(relay.channelState(2)).toBe(1); // still held: none of the bad messages touched it

    got = new Promise<any>((res) => out.once('input', res));
    r.receive({ payload: 'release' });
    expect((await got).payload).toMatchObject({ state: 'closed', by: 'flow' });
    expect(relay.channelState(2)).toBe(0);
  });

  test('sarapul-relay: an unreachable relay → done(err) to Catch, red status, actions recorded', async () => {
    await helper.load([gateNode, sarapulNode, catchNode], barrierFlow(), { g: { token: 'tok-77' } });
    const hub = Hub.open({ dbPath });
    await gatesOf(hub).idle('main');
    relay.setFault({ status: 502, count: 2 });
    const caught = helper.getNode('caught');
    const err = new Promise<any>((res) => caught.once('input', res));
    helper.getNode('r').receive({ payload: 'hold' });
    const m = await err;
    expect(m.error.message).toContain('HTTP 502');
    expect(m.error.message).not.toContain('tok-77');
    expect((helper.getNode('r') as any).status.lastCall.args[0]).toMatchObject({ fill: 'red' });
    const actions = await gatesOf(hub).actions({ gate: 'main' });
    expect(actions.filter((a) => a.command === 'hold').map((a) => a.result)).toEqual(['error', 'error']);
  });

  test('sokol-door: opens relay 1, wrong password gives a clear error', async () => {
    const flow = [
      { id: 'tab', type: 'tab' },
      { id: 'g', type: 'gatepost-gate', gateId: 'wicket', kind: 'wicket', driver: 'sokol-door', url: panel.url, relay: '1', pulse: '1', timeout: '1' },
      { id: 'bad', type: 'gatepost-gate', gateId: 'door2', kind: 'door', driver: 'sokol-door', url: panel.url, relay: '2', pulse: '1', timeout: '1' },
      { id: 's', z: 'tab', type: 'sokol-door', gate: 'g', wires: [['out']] },
      { id: 's2', z: 'tab', type: 'sokol-door', gate: 'bad', wires: [['out']] },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', type: 'helper' },
    ];
    await helper.load([gateNode, sokolNode, catchNode], flow, { g: { username: 'root', password: '123456' }, bad: { username: 'root', password: 'oops' } });
    const out = helper.getNode('out');
    const got = new Promise<any>((r) => out.once('input', r));
    helper.getNode('s').receive({ payload: 'open', user: 'guard-sidorov' });
    expect((await got).payload).toMatchObject({ gate: 'wicket', kind: 'wicket', state: 'open', by: 'user:guard-sidorov' });
    expect(panel.relayState(1)).toBe(true);

    const caught = helper.getNode('caught');
    const err = new Promise<any>((r) => caught.once('input', r));
    helper.getNode('s2').receive({ payload: 'open' });
    expect((await err).error.message).toContain('wrong login or password');
    expect(panel.relayState(2)).toBe(false);
  });

  test('examples/sarapul-relay.json loads, drives its own gate example-barrier from ${GATEPOST_EXAMPLE_RELAY_URL}, never gate main', async () => {
    process.env.GATEPOST_EXAMPLE_RELAY_URL = relay.url;
    process.env.GATEPOST_EXAMPLE_RELAY_CHANNEL = '3';
    process.env.GATEPOST_EXAMPLE_RELAY_TOKEN = 'tok-77';
    process.env.GATEPOST_RELAY_URL = 'http://127.0.0.1:9';
    try {
      const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/sarapul-relay.json'), 'utf8'));
      // the credentials the example carries (the test helper takes them separately)
      const creds = { 'sarapul-relay-gate': flow.find((n: any) => n.id === 'sarapul-relay-gate').credentials };
      expect(creds['sarapul-relay-gate']).toEqual({ token: '${GATEPOST_EXAMPLE_RELAY_TOKEN}' });
      await helper.load([gateNode, sarapulNode, catchNode, injectNode, debugNode, commentNode], flow, creds);
      const hub = Hub.open({ dbPath });
      await gatesOf(hub).idle('example-barrier');
      expect(gatesOf(hub).get('main')).toBeUndefined();
      (helper.getNode('sarapul-relay-hold') as any).receive({});
      await relay.waitForRequest((r) => r.url.includes('relay=3&state=1'), 3000);
      expect(relay.channelState(3)).toBe(1);
    } finally {
      for (const k of ['GATEPOST_EXAMPLE_RELAY_URL', 'GATEPOST_EXAMPLE_RELAY_CHANNEL', 'GATEPOST_EXAMPLE_RELAY_TOKEN', 'GATEPOST_RELAY_URL']) delete process.env[k];
    }
  });

  test('a second gatepost-gate node defining the same gate id is refused: the first stays, the second node reports it', async () => {
    const flow = [
      ...barrierFlow(),
      { id: 'g2', type: 'gatepost-gate', name: 'Copy', gateId: 'main', kind: 'barrier', driver: 'sarapul-relay', url: 'http://127.0.0.1:9', channel: '1', pulse: '6', timeout: '1' },
      { id: 'r2', z: 'tab', type: 'sarapul-relay', gate: 'g2', wires: [[]] },
    ];
    await helper.load([gateNode, sarapulNode, catchNode], flow, { g: { token: 'tok-77' } } as any);
    const hub = Hub.open({ dbPath });
    await gatesOf(hub).idle('main');
    const second: any = helper.getNode('g2');
    expect(second.defineError).toBe('gate id "main" is already defined by gatepost-gate "' + (helper.getNode('g') as any).name + '" (g)');
    const r2: any = helper.getNode('r2');
    const err = new Promise<any>((resolve) => r2.on('call:error', (c: any) => resolve(c.args[0])));
    r2.receive({ payload: 'open' });
    expect(String(await err)).toMatch(/not configured correctly: gate id "main" is already defined/);
    // the first definition works with its own relay
    helper.getNode('r').receive({ payload: 'open' });
    await relay.waitForRequest((r) => r.url.includes('relay=2&state=1'), 3000);
    // deleting the duplicate does not remove gate main
    await helper.setFlows(barrierFlow(), 'full', { g: { token: 'tok-77' } } as any);
    expect(gatesOf(hub).get('main')).toBeDefined();
  });

  test('redeploy keeps a pulsing gate open; deleting the gate node closes it', async () => {
    const flow = barrierFlow().map((n) => (n.id === 'g' ? { ...n, pulse: '60' } : n));
    await helper.load([gateNode, sarapulNode, catchNode], flow, { g: { token: 'tok-77' } });
    const hub = Hub.open({ dbPath });
    await gatesOf(hub).idle('main');
    const got = new Promise<any>((r) => helper.getNode('out').once('input', r));
    helper.getNode('r').receive({ payload: 'open' });
    const opened = (await got).payload;
    expect(relay.channelState(2)).toBe(1);

    // the config node is edited and deployed: re-created with removed = false
    const before = relay.requests.length;
    await helper.setFlows(
      flow.map((n) => (n.id === 'g' ? { ...n, name: 'Въезд 2' } : n)),
      'full',
      { g: { token: 'tok-77' } } as any,
    );
    expect(gatesOf(hub).get('main')).toMatchObject({ state: 'open', name: 'Въезд 2', closesAt: opened.closesAt });
    expect(relay.requests.length).toBe(before);
    expect(relay.channelState(2)).toBe(1);

    // the gate is deleted from the flows: the pulsing barrier is closed first
    await helper.setFlows([{ id: 'tab', type: 'tab' }], 'full');
    await until(() => relay.channelState(2) === 0);
    await until(() => gatesOf(hub).get('main') === undefined);
  });
});

test('commandOf: sources and commands from messages', () => {
  expect(commandOf({ payload: { decision: 'allowed', eventId: 3 } })).toEqual({ command: 'open', source: { kind: 'decision', actor: '3' } });
  expect(commandOf({ payload: ' HOLD ' })).toEqual({ command: 'hold', source: { kind: 'flow' } });
  expect(commandOf({ command: 'close', user: { username: 'a' } })).toEqual({ command: 'close', source: { kind: 'user', actor: 'a' } });
  expect(commandOf({ payload: { command: 'release' } })).toMatchObject({ command: 'release' });
  expect(commandOf({ payload: 12 })).toBeInstanceOf(Error);
  expect(commandOf({})).toBeInstanceOf(Error);
});
