/**
 * Gate service against the CL-Gate and Sokol emulators on 127.0.0.1 with real sqlite files.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { gatesOf, GateDef, GateError } from '../../src/services/gate-service';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';
import { startSokolEmulator, SokolEmulator } from '../../src/emulators/sokol';
import type { Logger } from '../../src/core/log';
import type { GateStatePayload } from '../../src/core/contracts';

const TOKEN = 'relay-pass-9f3';

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

const relayReq = (emu: ClGateEmulator, state: 0 | 1) => emu.requests.filter((r) => r.url.includes(`state=${state}`));

describe('gate service with the CL-Gate relay', () => {
  let dir: string;
  let relay: ClGateEmulator;
  let log: ReturnType<typeof capture>;
  const def = (over: Partial<GateDef> = {}): GateDef => ({
    id: 'main',
    name: 'Главный въезд',
    kind: 'barrier',
    relay: { driver: 'sarapul-relay', url: relay.url, channel: 1, token: TOKEN },
    pulseMs: 200,
    timeoutMs: 500,
    closeRetryBaseMs: 40,
    closeRetryMaxMs: 200,
    ...over,
  });
  const newHub = (file = 'g.db') => Hub.open({ dbPath: path.join(dir, file), logger: log });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-gates-'));
    relay = await startClGateEmulator({ token: TOKEN });
    log = capture();
  });
  afterEach(async () => {
    await Hub.closeAll();
    await relay.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('start sends a fail-safe close; open pulses and closes after the pulse; actions are recorded', async () => {
    const hub = newHub();
    const gates = gatesOf(hub);
    const states: GateStatePayload[] = [];
    hub.on('gate-state', (s) => states.push(s));
    gates.define(def());
    await gates.idle('main');
    expect(relayReq(relay, 0)).toHaveLength(1); // restart-close
    expect(gates.get('main')?.state).toBe('closed');

    const opened = await gates.command('main', 'open', { kind: 'decision', actor: '17' });
    expect(opened.state).toBe('open');
    expect(opened.by).toBe('decision:17');
    expect(opened.closesAt).toBeGreaterThan(Date.now());
    expect(relay.channelState(1)).toBe(1);
    await relay.waitForRequest((r) => r.url.includes('state=0') && r.ts > opened.since, 2000);
    await until(() => gates.get('main')?.state === 'closed');
    expect(relay.channelState(1)).toBe(0);
    expect(states.map((s) => s.state)).toEqual(expect.arrayContaining(['open', 'closed']));

    await gates.idle('main');
    const actions = await gates.actions({ gate: 'main' });
    expect(actions.map((a) => `${a.command}/${a.source}/${a.result}`).reverse()).toEqual(['restart-close/system/ok', 'open/decision/ok', 'close/system/ok']);
    expect(actions.find((a) => a.command === 'open')?.actor).toBe('17');
    expect(actions[0].latencyMs).toBeGreaterThan(0);
  });

  test('a second open during the pulse extends it (no close in between)', async () => {
    const gates = gatesOf(newHub());
    gates.define(def({ pulseMs: 500 }));
    await gates.idle('main');
    relay.requests.length = 0;
    const first = await gates.command('main', 'open', { kind: 'flow' });
    await sleep(250);
    const second = await gates.command('main', 'open', { kind: 'user', actor: 'guard1' });
    expect(second.state).toBe('open');
    expect(second.since).toBe(first.since);
    expect(second.closesAt!).toBeGreaterThan(first.closesAt!);
    await sleep(300); // past the first pulse's end, before the second's
    expect(relayReq(relay, 0)).toHaveLength(0);
    expect(gates.get('main')?.state).toBe('open');
    await relay.waitForRequest((r) => r.url.includes('state=0'), 2000);
    await until(() => gates.get('main')?.state === 'closed');
    expect(relayReq(relay, 1)).toHaveLength(2);
  });

  test('hold cancels the pending close; release closes now', async () => {
    const gates = gatesOf(newHub());
    gates.define(def());
    await gates.idle('main');
    relay.requests.length = 0;
    await gates.command('main', 'open', { kind: 'flow' });
    const held = await gates.command('main', 'hold', { kind: 'user', actor: 'guard1' });
    expect(held).toMatchObject({ state: 'held', by: 'user:guard1', closesAt: null });
    // an open from a decision while held keeps the gate held
    expect((await gates.command('main', 'open', { kind: 'decision', actor: '5' })).state).toBe('held');
    await sleep(400);
    expect(relayReq(relay, 0)).toHaveLength(0);
    expect(relay.channelState(1)).toBe(1);
    const released = await gates.command('main', 'release', { kind: 'mqtt', actor: 'dash-client' });
    expect(released).toMatchObject({ state: 'closed', by: 'mqtt:dash-client' });
    expect(relay.channelState(1)).toBe(0);
  });

  test('a held gate survives a restart: still held, open re-asserted', async () => {
    const hub1 = newHub();
    gatesOf(hub1).define(def());
    await gatesOf(hub1).idle('main');
    await gatesOf(hub1).command('main', 'hold', { kind: 'user', actor: 'guard1' });
    await hub1.close();
    relay.requests.length = 0;

    const hub2 = newHub();
    const gates = gatesOf(hub2);
    gates.define(def());
    await gates.idle('main');
    expect(gates.get('main')).toMatchObject({ state: 'held', by: 'user:guard1' });
    expect(relayReq(relay, 1)).toHaveLength(1);
    expect(relayReq(relay, 0)).toHaveLength(0);
    const actions = await gates.actions({ gate: 'main', limit: 1 });
    expect(actions[0]).toMatchObject({ command: 'restart-hold', source: 'system', result: 'ok' });
  });

  test('killed mid-pulse (db files copied while the pulse runs) → the relay is closed on start', async () => {
    const hub1 = newHub('live.db');
    const g1 = gatesOf(hub1);
    g1.define(def({ pulseMs: 60_000 }));
    await g1.idle('main');
    await g1.command('main', 'open', { kind: 'flow' });
    await (await hub1.db()).getAfterWrites('SELECT 1'); // the state write reached the file
    // the on-disk state at the moment of a SIGKILL: the db file and its WAL
    for (const suffix of ['', '-wal']) {
      if (fs.existsSync(path.join(dir, `live.db${suffix}`))) fs.copyFileSync(path.join(dir, `live.db${suffix}`), path.join(dir, `crashed.db${suffix}`));
    }
    expect(relay.channelState(1)).toBe(1);
    const before = relay.requests.length;

    const hub2 = newHub('crashed.db');
    const g2 = gatesOf(hub2);
    g2.define(def({ pulseMs: 60_000 }));
    await g2.idle('main');
    expect(relay.requests.slice(before).map((r) => r.url)).toEqual([expect.stringContaining('state=0')]);
    expect(relay.channelState(1)).toBe(0);
    expect(g2.get('main')?.state).toBe('closed');
    expect((await g2.actions({ gate: 'main', limit: 1 }))[0]).toMatchObject({ command: 'restart-close', result: 'ok' });
  });

  test('a failing close is retried with backoff until it succeeds; fault state and an alarm meanwhile', async () => {
    const hub = newHub();
    const gates = gatesOf(hub);
    gates.define(def());
    await gates.idle('main');
    const alarms: any[] = [];
    const states: string[] = [];
    hub.on('alarm', (a) => alarms.push(a));
    hub.on('gate-state', (s: GateStatePayload) => states.push(s.state));
    await gates.command('main', 'open', { kind: 'flow' });
    relay.setFault({ status: 500, count: 4 }); // the pulse close and three retries fail
    await until(() => relay.channelState(1) === 0, 5000);
    await until(() => gates.get('main')?.state === 'closed');
    expect(states).toEqual(['open', 'fault', 'fault', 'fault', 'fault', 'closed']);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ source: 'gate', gate: 'main' });
    expect(alarms[0].message).toContain('HTTP 500');
    await gates.idle('main');
    const closes = (await gates.actions({ gate: 'main' })).filter((a) => a.command === 'close').reverse();
    expect(closes.map((a) => a.result)).toEqual(['error', 'error', 'error', 'error', 'ok']);
    // backoff grows: 40, 80, 160, capped at 200 ms
    const gaps = closes.slice(1).map((a, i) => a.ts - closes[i].ts);
    expect(gaps[2]).toBeGreaterThan(gaps[0]);
    expect((await gates.actions({ gate: 'main' })).some((a) => a.command === 'alarm')).toBe(true);
  });

  test('an open is retried once; an open that fails twice rejects and the gate is closed', async () => {
    const gates = gatesOf(newHub());
    gates.define(def());
    await gates.idle('main');
    relay.setFault({ status: 503, count: 1 });
    expect((await gates.command('main', 'open', { kind: 'flow' })).state).toBe('open');
    await gates.command('main', 'close', { kind: 'flow' });

    relay.setFault({ hang: true, count: 2 });
    const err = await gates.command('main', 'open', { kind: 'flow' }).catch((e) => e);
    expect(err).toBeInstanceOf(GateError);
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/timeout/);
    expect(err.state).toMatchObject({ state: 'closed', reachable: false });
    expect(err.message).not.toContain(TOKEN);
    expect(relay.channelState(1)).toBe(0);
  });

  test('wrong token: clear error, no secret in messages or logs', async () => {
    const gates = gatesOf(newHub());
    gates.define(def({ relay: { driver: 'sarapul-relay', url: relay.url, channel: 2, token: 'wrong-token-123' } }));
    const err = await gates.command('main', 'hold', { kind: 'flow' }).catch((e) => e);
    expect(err.message).toMatch(/wrong relay token \(HTTP 403\)/);
    expect(err.message).not.toContain('wrong-token-123');
    expect(log.lines.join('\n')).not.toContain('wrong-token-123');
    await gates.remove('main');
  });

  test('redeploy: define() again keeps the state and the pending close; remove() closes a pulsing gate', async () => {
    const hub = newHub();
    const gates = gatesOf(hub);
    gates.define(def({ pulseMs: 300 }));
    await gates.idle('main');
    await gates.command('main', 'open', { kind: 'flow' });
    const relay2 = await startClGateEmulator({ token: TOKEN });
    try {
      gates.define(def({ pulseMs: 300, name: 'Въезд', relay: { driver: 'sarapul-relay', url: relay2.url, channel: 1, token: TOKEN } }));
      expect(gates.get('main')).toMatchObject({ state: 'open', name: 'Въезд' });
      await relay2.waitForRequest((r) => r.url.includes('state=0'), 2000); // the pending close used the new driver
      await until(() => gates.get('main')?.state === 'closed');

      await gates.command('main', 'open', { kind: 'flow' });
      await gates.remove('main');
      expect(relay2.channelState(1)).toBe(0);
      expect(gates.get('main')).toBeUndefined();
      await expect(gates.command('main', 'open', { kind: 'flow' })).rejects.toMatchObject({ status: 404 });
    } finally {
      await relay2.close();
    }
  });

  test('invalid definitions and commands are refused with clear errors', async () => {
    const gates = gatesOf(newHub());
    expect(() => gates.define(def({ id: 'bad id!' }))).toThrow(/gate id/);
    expect(() => gates.define(def({ relay: { driver: 'sarapul-relay', url: 'relay.local', channel: 1, token: 'x' } }))).toThrow(/must start with http/);
    expect(() => gates.define(def({ relay: { driver: 'nope' } as any }))).toThrow(/unknown relay driver/);
    gates.define(def());
    await expect(gates.command('main', 'explode' as any, { kind: 'flow' })).rejects.toMatchObject({ status: 400 });
  });
});

describe('gate service with the Sokol panel', () => {
  let dir: string;
  let panel: SokolEmulator;
  const def = (over: Partial<GateDef> = {}, password = '123456'): GateDef => ({
    id: 'wicket',
    kind: 'wicket',
    relay: { driver: 'sokol-door', url: panel.url, relay: 1, username: 'root', password },
    pulseMs: 150,
    timeoutMs: 500,
    ...over,
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-sokol-'));
    panel = await startSokolEmulator({ switchTime: 1 });
  });
  afterEach(async () => {
    await Hub.closeAll();
    await panel.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('open sends PUT /relay/1/open with Basic auth; no close request is ever sent', async () => {
    const gates = gatesOf(Hub.open({ dbPath: path.join(dir, 's.db'), logger: capture() }));
    gates.define(def());
    await gates.idle('wicket');
    expect(panel.requests).toHaveLength(0); // a door closes by itself: restart sends nothing
    const s = await gates.command('wicket', 'open', { kind: 'user', actor: 'guard' });
    expect(s.state).toBe('open');
    expect(panel.relayState(1)).toBe(true);
    expect(panel.requests[0]).toMatchObject({ method: 'PUT', url: '/relay/1/open' });
    expect(panel.requests[0].headers.authorization).toBe('Basic ' + Buffer.from('root:123456').toString('base64'));
    await until(() => gates.get('wicket')?.state === 'closed');
    expect(panel.requests).toHaveLength(1);
  });

  test('hold sets alwaysOpen, release clears it; external modules use /relay/external/n', async () => {
    const gates = gatesOf(Hub.open({ dbPath: path.join(dir, 's.db'), logger: capture() }));
    gates.define(def());
    expect((await gates.command('wicket', 'hold', { kind: 'flow' })).state).toBe('held');
    expect(panel.settings(1).alwaysOpen).toBe(true);
    expect(panel.requests.at(-1)).toMatchObject({ method: 'PUT', url: '/relay/1/settings', body: '{"alwaysOpen":true}' });
    expect((await gates.command('wicket', 'release', { kind: 'flow' })).state).toBe('closed');
    expect(panel.settings(1).alwaysOpen).toBe(false);

    gates.define(def({ id: 'ext', relay: { driver: 'sokol-door', url: panel.url, relay: 3, external: true, username: 'root', password: '123456' } }));
    await gates.command('ext', 'open', { kind: 'flow' });
    expect(panel.relayState('external/3')).toBe(true);
  });

  test('wrong password → "wrong login or password", recorded as an error action', async () => {
    const gates = gatesOf(Hub.open({ dbPath: path.join(dir, 's.db'), logger: capture() }));
    gates.define(def({}, 'not-the-password'));
    const err = await gates.command('wicket', 'open', { kind: 'flow' }).catch((e) => e);
    expect(err.message).toContain('Sokol: wrong login or password (HTTP 401)');
    expect(err.message).not.toContain('not-the-password');
    expect(panel.relayState(1)).toBe(false);
    await gates.idle('wicket');
    const actions = await gates.actions({ gate: 'wicket' });
    expect(actions.filter((a) => a.command === 'open').map((a) => a.result)).toEqual(['error', 'error']);
    expect(actions.every((a) => a.error?.includes('wrong login or password'))).toBe(true);
    expect(actions.some((a) => (a.error ?? '').includes('not-the-password'))).toBe(false);
  });
});
