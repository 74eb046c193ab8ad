/**
 * The whole runtime as a child process (built dist, free ports, temp data dir, embedded aedes):
 * health, auth of editor/dashboard/API, MQTT accounts and ACL, the MQTT bridge to a real gate on
 * a CL-Gate emulator, SSE, flows install/keep/restore, restart with kept secrets, SIGTERM.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, restoreFlows, tempDir, GatepostHandle } from '../helpers/runtime';
import { writeTestFlows } from '../helpers/runtime-flows';
import { connect, subscribe, collector, end, sleep } from '../helpers/mqtt-test';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';

jest.setTimeout(120_000);

const OPS = { username: 'ops', password: 'ops-secret-1' };
let relay: ClGateEmulator;
let rt: GatepostHandle;
let flowsDir: string;
const clients: MqttClient[] = [];
const track = (c: MqttClient) => (clients.push(c), c);

async function get(url: string, headers: Record<string, string> = {}, redirect: RequestRedirect = 'manual') {
  const res = await fetch(url, { headers, redirect });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function login(password: string): Promise<string> {
  const res = await fetch(`${rt.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=admin&password=${encodeURIComponent(password)}&next=%2Fdashboard`,
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/dashboard');
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/HttpOnly/i);
  expect(cookie).toMatch(/SameSite=Lax/i);
  return cookie.split(';')[0];
}

beforeAll(async () => {
  relay = await startClGateEmulator({ token: 'relay-token-1' });
  flowsDir = path.join(tempDir('gatepost-flows-'), 'flows');
  writeTestFlows(flowsDir, 'shipped v1');
  rt = await startGatepost({ flowsDir, mqttUsers: `${OPS.username}:${OPS.password}:operator`, env: { TEST_RELAY_URL: relay.url, TEST_RELAY_TOKEN: relay.token } });
});

afterAll(async () => {
  for (const c of clients) await end(c);
  await rt?.stop();
  await relay?.close();
  rt?.cleanup();
  fs.rmSync(path.dirname(flowsDir), { recursive: true, force: true });
});

describe('gatepost runtime (embedded broker)', () => {
  test('health is 503 while starting, then 200 with version, broker, flows and database', async () => {
    expect(rt.healthSeen).toContain(503);
    expect(rt.healthSeen.filter((s) => s !== 503 && s !== 'refused' && s !== 200)).toEqual([]);
    const h = await get(`${rt.url}/api/health`);
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', version: expect.any(String), broker: { ok: true, embedded: true }, flows: { running: true }, db: { ok: true } });
    expect(h.json.broker.clients).toBeGreaterThanOrEqual(1);
    expect(typeof h.json.uptime).toBe('number');
  });

  test('first start prints the generated passwords once, keeps them out of the log file, stores only hashes', () => {
    expect(rt.firstStart).toBe(true);
    expect(rt.adminPassword.length).toBeGreaterThanOrEqual(12);
    expect(rt.lprPassword.length).toBeGreaterThanOrEqual(12);
    const log = fs.readFileSync(path.join(rt.dataDir, 'logs', 'gatepost.log'), 'utf8');
    expect(log).toContain('gatepost ready');
    expect(log).not.toContain(rt.adminPassword);
    expect(log).not.toContain(rt.lprPassword);
    expect(log).not.toContain(rt.internalMqtt().password);
    const secretsFile = path.join(rt.dataDir, 'secrets.json');
    expect(fs.statSync(secretsFile).mode & 0o777).toBe(0o600);
    const raw = fs.readFileSync(secretsFile, 'utf8');
    expect(raw).not.toContain(rt.adminPassword);
    expect(raw).not.toContain(rt.lprPassword);
    expect(JSON.parse(raw).admin.hash).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
  });

  test('editor, dashboard and API refuse requests without login', async () => {
    expect((await get(`${rt.url}/admin/flows`)).status).toBe(401);
    expect((await get(`${rt.url}/api/me`)).status).toBe(401);
    expect((await get(`${rt.url}/api/system`)).status).toBe(401);
    expect((await get(`${rt.url}/api/stream`)).status).toBe(401);
    expect((await get(`${rt.url}/api/gates`)).status).toBe(401);
    const dash = await get(`${rt.url}/dashboard`, { accept: 'text/html' });
    expect(dash.status).toBe(302);
    expect(dash.headers.get('location')).toBe('/login?next=%2Fdashboard');
    const editor = await get(`${rt.url}/admin/`, { accept: 'text/html' });
    expect(editor.status).toBe(302);
    expect(editor.headers.get('location')).toMatch(/^\/login\?next=/);
    // wrong password
    expect((await get(`${rt.url}/api/me`, rt.basicAuth('admin', 'wrong'))).status).toBe(401);
    expect((await get(`${rt.url}/admin/flows`, rt.basicAuth('admin', 'wrong'))).status).toBe(401);
    const login = await get(`${rt.url}/login`);
    expect(login.status).toBe(200);
    expect(login.text).toContain('Пароль');
    expect(login.text).toContain('password');
  });

  test('the admin gets in with HTTP Basic', async () => {
    const me = await get(`${rt.url}/api/me`, rt.basicAuth());
    expect(me.status).toBe(200);
    expect(me.json).toEqual({ username: 'admin', admin: true });
    const flows = await get(`${rt.url}/admin/flows`, rt.basicAuth());
    expect(flows.status).toBe(200);
    expect(Array.isArray(flows.json)).toBe(true);
    const nodes = await get(`${rt.url}/admin/nodes`, { ...rt.basicAuth(), accept: 'application/json' });
    expect(nodes.status).toBe(200);
    const modules = new Set((nodes.json as Array<{ module: string }>).map((n) => n.module));
    expect(modules.has('node-red-contrib-gatepost')).toBe(true);
    expect(modules.has('@flowfuse/node-red-dashboard')).toBe(true);
    const gateType = (nodes.json as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>).find((n) => n.types.includes('gatepost-gate'));
    expect(gateType).toMatchObject({ module: 'node-red-contrib-gatepost', enabled: true });
    expect(gateType?.err).toBeUndefined();
  });

  test('the admin gets in with the login cookie; logout and cross-origin posts are refused', async () => {
    const cookie = await login(rt.adminPassword);
    const me = await get(`${rt.url}/api/me`, { cookie });
    expect(me.json).toEqual({ username: 'admin', admin: true });
    expect((await get(`${rt.url}/admin/flows`, { cookie })).status).toBe(200);
    // dashboard passes auth (no dashboard page is configured in this fixture: Node-RED answers, not /login)
    const dash = await get(`${rt.url}/dashboard`, { cookie, accept: 'text/html' });
    expect(dash.headers.get('location') ?? '').not.toMatch(/login/);
    const cross = await fetch(`${rt.url}/api/gates/main/open`, { method: 'POST', headers: { cookie, origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    const bad = await get(`${rt.url}/api/me`, { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) });
    expect(bad.status).toBe(401);
    const out = await fetch(`${rt.url}/logout`, { redirect: 'manual', headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/gatepost_session=;/);
    const wrong = await fetch(`${rt.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=nope' });
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get('location')).toMatch(/error=1/);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  test('MQTT refuses anonymous and wrong-password clients', async () => {
    await expect(connect(rt.mqttUrl)).rejects.toThrow(/authori|refused|closed/i);
    await expect(connect(rt.mqttUrl, { username: 'lpr', password: 'wrong' })).rejects.toThrow(/bad user|password|authori|closed/i);
    await expect(connect(rt.mqttUrl, { username: 'nobody', password: rt.lprPassword })).rejects.toThrow(/bad user|password|authori|closed/i);
    await expect(connect(rt.wsUrl, { username: 'lpr', password: 'wrong' })).rejects.toThrow(/bad user|password|authori|closed/i);
  });

  test('the shipped flow reaches the broker with the internal account from ${ENV} credentials', async () => {
    const admin = track(await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'admin-echo' }));
    const got = collector(admin);
    expect(await subscribe(admin, 'gatepost/#')).toBe(1);
    // the flow's mqtt nodes connect a moment after the deploy
    let m: any = null;
    for (let i = 0; i < 20 && !m; i++) {
      admin.publish('gatepost/test/in', `ping-${i}`);
      m = await got.wait((x) => x.topic === 'gatepost/test/out', 500).catch(() => null);
    }
    expect(m?.payload).toMatch(/^ping-\d+$/);
    // retained availability of the bridge
    const avail = await got.wait((x) => x.topic === 'gatepost/available');
    expect(avail).toMatchObject({ payload: 'online', retain: true });
  });

  test('lpr may publish plates and read decisions, but not command a gate, subscribe to # or publish to $SYS', async () => {
    const internal = rt.internalMqtt();
    const watcher = track(await connect(rt.mqttUrl, { ...internal, clientId: 'test-watcher' }));
    const seen = collector(watcher);
    expect(await subscribe(watcher, 'gatepost/gate/main/set')).toBe(1);
    expect(await subscribe(watcher, 'gatepost/lpr/#')).toBe(1);
    expect(await subscribe(watcher, '$SYS/gatepost-test/#')).toBe(1);
    await relay.waitForRequest((r) => r.url.includes('state=0')); // the fail-safe close at start
    const before = relay.requests.length;

    const lpr = track(await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'lpr-1' }));
    expect(await subscribe(lpr, 'gatepost/decision/#')).toBe(1);
    expect(await subscribe(lpr, 'gatepost/available')).toBe(1);
    expect(await subscribe(lpr, '#')).toBe(128);
    expect(await subscribe(lpr, 'gatepost/gate/+/state')).toBe(128);
    lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'A123BC77' }), { qos: 1 });
    await seen.wait((m) => m.topic === 'gatepost/lpr/cam1');

    lpr.publish('gatepost/gate/main/set', 'open', { qos: 0 });
    await sleep(1200);
    expect(seen.messages.some((m) => m.topic === 'gatepost/gate/main/set')).toBe(false);
    expect(relay.requests.slice(before).some((r) => r.url.includes('state=1'))).toBe(false);

    const lpr2 = track(await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'lpr-2' }));
    lpr2.publish('$SYS/gatepost-test/x', 'forged', { qos: 0 });
    const ops = track(await connect(rt.mqttUrl, { ...OPS, clientId: 'ops-sys' }));
    ops.publish('$SYS/gatepost-test/y', 'forged', { qos: 0 });
    await sleep(800);
    expect(seen.messages.some((m) => m.topic.startsWith('$SYS/gatepost-test'))).toBe(false);
    const actions = await get(`${rt.url}/api/gates/actions?gate=main`, rt.basicAuth());
    expect(actions.status).toBe(200);
    expect((actions.json as Array<{ command: string }>).some((a) => a.command === 'open')).toBe(false);
  });

  test('an operator opens the gate over MQTT (actor = its user name); retained commands are ignored; state is published retained and streamed', async () => {
    // SSE stream
    const ac = new AbortController();
    const stream = await fetch(`${rt.url}/api/stream`, { headers: rt.basicAuth(), signal: ac.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    let sse = '';
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          sse += Buffer.from(value).toString('utf8');
        }
      } catch {
        /* aborted */
      }
    })();

    const ops = track(await connect(rt.mqttUrl, { ...OPS, clientId: 'ops-cmd' }));
    const got = collector(ops);
    await subscribe(ops, 'gatepost/gate/+/state');
    const before = relay.requests.length;
    ops.publish('gatepost/gate/main/set', 'open', { qos: 1, retain: true });
    await sleep(800);
    expect(relay.requests.slice(before).some((r) => r.url.includes('state=1'))).toBe(false);

    ops.publish('gatepost/gate/main/set', 'open', { qos: 1 });
    await relay.waitForRequest((r) => relay.requests.indexOf(r) >= before && r.url.includes('state=1'));
    const open = await got.wait((m) => m.topic === 'gatepost/gate/main/state' && JSON.parse(m.payload).state === 'open');
    expect(JSON.parse(open.payload)).toMatchObject({ gate: 'main', state: 'open' });
    // pulse 1 s, then closed again (fail safe)
    await got.wait((m) => m.topic === 'gatepost/gate/main/state' && JSON.parse(m.payload).state === 'closed' && got.messages.indexOf(m) > got.messages.indexOf(open), 5000);
    const actions = await get(`${rt.url}/api/gates/actions?gate=main`, rt.basicAuth());
    const openAction = (actions.json as Array<{ command: string; source: string; actor: string }>).find((a) => a.command === 'open');
    expect(openAction).toMatchObject({ source: 'mqtt', actor: 'ops' });
    // a late subscriber gets the retained state
    const late = track(await connect(rt.mqttUrl, { ...OPS, clientId: 'ops-late' }));
    const lateGot = collector(late);
    await subscribe(late, 'gatepost/gate/main/state');
    expect((await lateGot.wait((m) => m.topic === 'gatepost/gate/main/state')).retain).toBe(true);

    for (let i = 0; i < 50 && !/event: gate-state\ndata: .*"state":"open"/.test(sse); i++) await sleep(100);
    expect(sse).toMatch(/event: gate-state\ndata: \{.*"gate":"main".*"state":"open"/);
    const during = await get(`${rt.url}/api/system`, rt.basicAuth());
    expect(during.json.stream.clients).toBe(1);
    ac.abort();
    await pump;
    let after: any = null;
    for (let i = 0; i < 30; i++) {
      after = await get(`${rt.url}/api/system`, rt.basicAuth());
      if (after.json.stream.clients === 0) break;
      await sleep(100);
    }
    expect(after.json.stream.clients).toBe(0);
  });

  test('/api/system reports version, demo flag, devices, mqtt and db', async () => {
    const s = await get(`${rt.url}/api/system`, rt.basicAuth());
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ demo: false, timezone: 'Europe/Moscow', mqtt: { embedded: true, connected: true }, db: { ok: true } });
    expect(s.json.db.sizeBytes).toBeGreaterThan(0);
    expect(s.json.devices).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'main', kind: 'barrier', reachable: true })]));
    expect(JSON.stringify(s.json)).not.toContain(rt.internalMqtt().password);
  });

  test('MQTT over WebSocket on /mqtt works beside the HTTP server', async () => {
    const ws = track(await connect(rt.wsUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'lpr-ws' }));
    const got = collector(ws);
    expect(await subscribe(ws, 'gatepost/available')).toBe(1);
    expect((await got.wait((m) => m.topic === 'gatepost/available')).payload).toBe('online');
  });

  test('restart keeps secrets, data and operator-edited flows; restore-flows brings the shipped ones back; SIGTERM exits 0', async () => {
    const secretsBefore = fs.readFileSync(path.join(rt.dataDir, 'secrets.json'), 'utf8');
    // the operator edits the flows in the editor (deploy through the admin API)
    const current = (await get(`${rt.url}/admin/flows`, rt.basicAuth())).json as any[];
    const edited = [...current, { id: 'op_comment', type: 'comment', z: 'rt_tab', name: 'operator note', info: '', x: 300, y: 20, wires: [] }];
    const dep = await fetch(`${rt.url}/admin/flows`, {
      method: 'POST',
      headers: { ...rt.basicAuth(), 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(edited),
    });
    expect(dep.status).toBeLessThan(300);
    // a new version of the shipped flows arrives
    writeTestFlows(flowsDir, 'shipped v2');

    const ex = await rt.stop('SIGTERM');
    expect(ex).toMatchObject({ code: 0, signal: null });
    expect(ex.ms).toBeLessThan(5000);
    expect(fs.existsSync(path.join(rt.dataDir, 'gatepost.pid'))).toBe(false);

    const known = { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword };
    const opts = { dataDir: rt.dataDir, flowsDir, mqttUsers: `${OPS.username}:${OPS.password}:operator`, env: { TEST_RELAY_URL: relay.url, TEST_RELAY_TOKEN: relay.token }, known };
    rt = await startGatepost(opts);
    // health 200 means the flows take MQTT: 'ready' is logged only after the flows' broker node connected
    const out = rt.output();
    const connectedAt = out.search(/\[mqtt-broker[^\]]*\] (Подключен к брокеру|Connected to broker)/);
    expect(connectedAt).toBeGreaterThan(0);
    expect(out.indexOf('gatepost ready in')).toBeGreaterThan(connectedAt);
    // and the very first message after the start is answered
    const first = track(await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'admin-first' }));
    const gotFirst = collector(first);
    await subscribe(first, 'gatepost/test/out');
    first.publish('gatepost/test/in', 'first after start', { qos: 1 });
    expect((await gotFirst.wait((x) => x.topic === 'gatepost/test/out', 3000)).payload).toBe('first after start');
    expect(rt.firstStart).toBe(false);
    expect(rt.output()).not.toMatch(/password: /);
    expect(fs.readFileSync(path.join(rt.dataDir, 'secrets.json'), 'utf8')).toBe(secretsBefore);
    expect((await get(`${rt.url}/api/me`, rt.basicAuth())).status).toBe(200);
    await end(await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword }));
    const flows1 = (await get(`${rt.url}/admin/flows`, rt.basicAuth())).json as any[];
    expect(flows1.some((n) => n.id === 'op_comment')).toBe(true);
    expect(flows1.find((n) => n.id === 'rt_comment')?.name).toBe('shipped v1');
    await rt.waitForOutput(/NOT overwritten/);
    // the data of the first run is still there
    const actions = await get(`${rt.url}/api/gates/actions?gate=main`, rt.basicAuth());
    expect((actions.json as Array<{ command: string; actor: string }>).some((a) => a.command === 'open' && a.actor === 'ops')).toBe(true);
    // the gate's encrypted ${ENV} credentials still decrypt: the gate works after the restart
    const ops = track(await connect(rt.mqttUrl, { ...OPS, clientId: 'ops-after' }));
    const n = relay.requests.length;
    ops.publish('gatepost/gate/main/set', 'open', { qos: 1 });
    await relay.waitForRequest((r) => relay.requests.indexOf(r) >= n && r.url.includes('state=1') && r.url.includes('token=relay-token-1'));

    expect((await rt.stop()).code).toBe(0);
    const restore = restoreFlows(rt);
    expect(restore.code).toBe(0);
    expect(restore.output).toMatch(/backed up to/);
    const backups = fs.readdirSync(path.join(rt.dataDir, 'node-red', 'backups'));
    expect(backups.length).toBe(1);
    const backedUp = JSON.parse(fs.readFileSync(path.join(rt.dataDir, 'node-red', 'backups', backups[0], 'flows.json'), 'utf8'));
    expect(backedUp.some((x: any) => x.id === 'op_comment')).toBe(true);

    rt = await startGatepost(opts);
    const flows2 = (await get(`${rt.url}/admin/flows`, rt.basicAuth())).json as any[];
    expect(flows2.some((x) => x.id === 'op_comment')).toBe(false);
    expect(flows2.find((x) => x.id === 'rt_comment')?.name).toBe('shipped v2');
    // flows_cred.json is encrypted: no ${VAR} text or secret in clear
    const cred = fs.readFileSync(path.join(rt.dataDir, 'node-red', 'flows_cred.json'), 'utf8');
    expect(JSON.parse(cred)).toHaveProperty('$');
    expect(cred).not.toContain('GATEPOST_MQTT_INTERNAL_PASSWORD');
  });
});
