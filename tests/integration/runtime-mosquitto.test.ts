/**
 * The runtime against an external Mosquitto (GATEPOST_MQTT_URL): no embedded broker, all MQTT
 * through Mosquitto, started here on a free port of 127.0.0.1 with a password file
 * (mosquitto_passwd) and an ACL file equivalent to gatepost's roles.
 * Without the mosquitto binary the suite FAILS when CI=true and is skipped locally.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, tempDir, GatepostHandle } from '../helpers/runtime';
import { mosquittoAvailable, startMosquitto, Mosquitto } from '../helpers/mosquitto';
import { writeTestFlows } from '../helpers/runtime-flows';
import { connect, subscribe, collector, end, sleep, untilFlowTakesPlates } from '../helpers/mqtt-test';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';

jest.setTimeout(120_000);

const available = mosquittoAvailable;

if (!available && process.env.CI === 'true') {
  test('mosquitto is installed (required in CI)', () => {
    throw new Error('mosquitto / mosquitto_passwd not found: install the Debian packages mosquitto mosquitto-clients (.ci/run does)');
  });
}

const d = available ? describe : describe.skip;

d('gatepost runtime with an external Mosquitto', () => {
  const USERS = { gatepost: 'internal-pw-1', lpr: 'lpr-pw-1', ops: 'ops-pw-1' };
  let dir: string;
  let mosquitto: Mosquitto;
  let port: number;
  let rt: GatepostHandle;
  let relay: ClGateEmulator;
  const clients: MqttClient[] = [];
  const track = (c: MqttClient) => (clients.push(c), c);

  beforeAll(async () => {
    dir = tempDir('gatepost-mosq-');
    mosquitto = await startMosquitto(dir, USERS, [
      'user gatepost',
      'topic readwrite #',
      'user lpr',
      'topic write gatepost/lpr/+',
      'topic write gatepost/lpr/+/fallback',
      'topic read gatepost/decision/#',
      'topic read gatepost/available',
      'user ops',
      'topic write gatepost/gate/+/set',
      'topic read gatepost/#',
    ]);
    port = mosquitto.port;
    relay = await startClGateEmulator({ token: 'relay-token-2' });
    const flowsDir = path.join(dir, 'flows');
    writeTestFlows(flowsDir);
    rt = await startGatepost({
      dataDir: path.join(dir, 'data'),
      flowsDir,
      env: {
        GATEPOST_MQTT_URL: `mqtt://127.0.0.1:${port}`,
        GATEPOST_MQTT_USERNAME: 'gatepost',
        GATEPOST_MQTT_PASSWORD: USERS.gatepost,
        TEST_RELAY_URL: relay.url,
        TEST_RELAY_TOKEN: relay.token,
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) await end(c);
    const ex = await rt?.stop();
    if (ex) expect(ex.code).toBe(0);
    mosquitto?.stop();
    await relay?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('health is 200 with the external broker connected and no embedded broker listening', async () => {
    const h = await (await fetch(`${rt.url}/api/health`)).json();
    expect(h).toMatchObject({ status: 'ok', broker: { ok: true, embedded: false }, db: { ok: true }, flows: { running: true } });
    await expect(connect(`mqtt://127.0.0.1:${rt.mqttPort}`, { username: 'gatepost', password: USERS.gatepost }, 1000)).rejects.toThrow();
    const sys = await (await fetch(`${rt.url}/api/system`, { headers: rt.basicAuth() })).json();
    expect(sys.mqtt).toMatchObject({ embedded: false, connected: true, url: `mqtt://127.0.0.1:${port}` });
    expect(JSON.stringify(sys)).not.toContain(USERS.gatepost);
  });

  test('Mosquitto refuses anonymous and wrong-password clients', async () => {
    await expect(connect(rt.mqttUrl)).rejects.toThrow();
    await expect(connect(rt.mqttUrl, { username: 'lpr', password: 'wrong' })).rejects.toThrow();
  });

  test('the bridge publishes availability retained and the flows connect with ${ENV} credentials', async () => {
    const admin = track(await connect(rt.mqttUrl, { username: 'gatepost', password: USERS.gatepost, clientId: 'mosq-admin' }));
    const got = collector(admin);
    await subscribe(admin, 'gatepost/#');
    expect(await got.wait((m) => m.topic === 'gatepost/available')).toMatchObject({ payload: 'online', retain: true });
    let m: any = null;
    for (let i = 0; i < 20 && !m; i++) {
      admin.publish('gatepost/test/in', `ping-${i}`);
      m = await got.wait((x) => x.topic === 'gatepost/test/out', 500).catch(() => null);
    }
    expect(m?.payload).toMatch(/^ping-\d+$/);
  });

  test('an operator command goes through Mosquitto to the gate (actor mqtt); an lpr command does not', async () => {
    await relay.waitForRequest((r) => r.url.includes('state=0'));
    const ops = track(await connect(rt.mqttUrl, { username: 'ops', password: USERS.ops, clientId: 'mosq-ops' }));
    const got = collector(ops);
    await subscribe(ops, 'gatepost/gate/main/state');
    const lpr = track(await connect(rt.mqttUrl, { username: 'lpr', password: USERS.lpr, clientId: 'mosq-lpr' }));
    const before = relay.requests.length;
    lpr.publish('gatepost/gate/main/set', 'open', { qos: 0 });
    await sleep(1000);
    expect(relay.requests.slice(before).some((r) => r.url.includes('state=1'))).toBe(false);

    ops.publish('gatepost/gate/main/set', 'open', { qos: 1 });
    await relay.waitForRequest((r) => relay.requests.indexOf(r) >= before && r.url.includes('state=1'));
    const st = await got.wait((x) => JSON.parse(x.payload).state === 'open');
    expect(JSON.parse(st.payload)).toMatchObject({ gate: 'main' });
    const actions = await (await fetch(`${rt.url}/api/gates/actions?gate=main`, { headers: rt.basicAuth() })).json();
    expect(actions.find((a: any) => a.command === 'open')).toMatchObject({ source: 'mqtt', actor: 'mqtt' });
  });

  test('SIGTERM: the bridge leaves gatepost/available offline (retained) and the process exits 0', async () => {
    const watcher = track(await connect(rt.mqttUrl, { username: 'gatepost', password: USERS.gatepost, clientId: 'mosq-watch' }));
    const got = collector(watcher);
    await subscribe(watcher, 'gatepost/available');
    await got.wait((m) => m.payload === 'online');
    const ex = await rt.stop();
    expect(ex.code).toBe(0);
    expect(ex.ms).toBeLessThan(5000);
    expect((await got.wait((m) => m.payload === 'offline')).topic).toBe('gatepost/available');
  });

  test('the shipped flows over Mosquitto: a plate published while gatepost was down is not decided after the restart (stale), a fresh one is', async () => {
    const shippedDir = path.join(dir, 'data-shipped');
    const env = {
      GATEPOST_MQTT_URL: `mqtt://127.0.0.1:${port}`,
      GATEPOST_MQTT_USERNAME: 'gatepost',
      GATEPOST_MQTT_PASSWORD: USERS.gatepost,
      GATEPOST_RELAY_URL: relay.url,
      GATEPOST_RELAY_TOKEN: relay.token,
    };
    let g = await startGatepost({ dataDir: shippedDir, env });
    const known = { adminPassword: g.adminPassword, lprPassword: g.lprPassword };
    const lpr = track(await connect(rt.mqttUrl, { username: 'lpr', password: USERS.lpr, clientId: 'mosq-lpr-stale' }));
    await subscribe(lpr, 'gatepost/decision/#');
    try {
      await untilFlowTakesPlates(lpr);
      expect((await g.stop()).code).toBe(0);
      // gatepost is down; Mosquitto keeps the flows' persistent session and queues this plate for it
      await new Promise<void>((r, j) => lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'Р555РР55', requestId: 'stale-1' }), { qos: 1 }, (e) => (e ? j(e) : r())));
      g = await startGatepost({ dataDir: shippedDir, env, known });
      await untilFlowTakesPlates(lpr);
      await new Promise<void>((r, j) => lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'Р556РР55', requestId: 'fresh-1' }), { qos: 1 }, (e) => (e ? j(e) : r())));
      const events = async () => (await (await fetch(`${g.url}/api/events?limit=100`, { headers: g.basicAuth() })).json()).rows as any[];
      for (let i = 0; i < 100 && !(await events()).some((e) => e.requestId === 'fresh-1'); i++) await sleep(100);
      const rows = await events();
      expect(rows.some((e) => e.requestId === 'fresh-1')).toBe(true);
      expect(rows.some((e) => e.requestId === 'stale-1')).toBe(false);
    } finally {
      await g.stop();
      g.cleanup();
    }
  });
});
