/**
 * People at the wicket, judged from outside (issue 16): the built runtime boots the SHIPPED flows
 * (flows/people.json among them) on the project's device emulators; QR readers and a face
 * recogniser publish over MQTT with their own accounts (role camera); passes and people are managed
 * over REST. A valid QR code opens the Sokol wicket relay once; a replay, an expired, a revoked and
 * a foreign code are denied with their reason; malformed reads are rejected; every read is an
 * access event of kind qr on /api/events and on gatepost/access/<gate>.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { chromium, Browser } from 'playwright-core';
import { startGatepost, GatepostHandle, apiOf, waitFor, ROOT } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { startSite, Site } from '../helpers/site';
import { decodeImage } from '../../src/media/image';
import { decodeQr } from '../../src/media/qr-decoder';

jest.setTimeout(120_000);

let site: Site;
let rt: GatepostHandle;
let reader1: MqttClient;
let reader2: MqttClient;
let faceCam: MqttClient;
let watcher: MqttClient;
let seen: ReturnType<typeof collector>;
let tmp: string;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);
const post = <T = any>(p: string, body: unknown): Promise<T> => api<T>(p, { method: 'POST', body: JSON.stringify(body) });
const opens = () => site.sokol.requests.filter((r) => r.method === 'PUT' && /\/relay\/1\/open$/.test(r.url)).length;
const publish = (c: MqttClient, topic: string, payload: string | Buffer) => new Promise<void>((resolve, reject) => c.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));

/** The next access event on gatepost/access/wicket after `from` messages. */
async function nextAccess(from: number, timeoutMs = 10_000): Promise<any> {
  const m = await waitFor('an access event on gatepost/access/wicket', () => seen.messages.slice(from).find((x) => x.topic === 'gatepost/access/wicket'), timeoutMs);
  return JSON.parse(m.payload);
}

beforeAll(async () => {
  site = await startSite({ name: 'people', pulseS: 0.3 });
  // the shipped flows, then the two people examples as an integrator imports them
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-people-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  for (const f of ['qr-check.json', 'face-check.json']) fs.copyFileSync(path.join(ROOT, 'examples', f), path.join(flowsDir, `zz-example-${f}`));
  rt = await startGatepost({ flowsDir, env: site.env(), mqttUsers: 'reader1:reader1-secret:camera,reader2:reader2-secret:camera,cam-wicket:cam-secret:camera' });
  reader1 = await connect(rt.mqttUrl, { username: 'reader1', password: 'reader1-secret', clientId: 'e2e-reader1' });
  reader2 = await connect(rt.mqttUrl, { username: 'reader2', password: 'reader2-secret', clientId: 'e2e-reader2' });
  faceCam = await connect(rt.mqttUrl, { username: 'cam-wicket', password: 'cam-secret', clientId: 'e2e-cam-wicket' });
  const internal = rt.internalMqtt();
  watcher = await connect(rt.mqttUrl, { username: internal.username, password: internal.password, clientId: 'e2e-people-watcher' });
  seen = collector(watcher);
  await subscribe(watcher, 'gatepost/access/#');
  // the flows' subscription to gatepost/qr/+ is up once a probe read comes back decided
  await waitFor(
    'the people flow to take QR reads',
    async () => {
      const n = seen.messages.length;
      await publish(reader1, 'gatepost/qr/reader1', 'probe: not a pass');
      await new Promise((r) => setTimeout(r, 300));
      return seen.messages.slice(n).some((m) => m.topic === 'gatepost/access/wicket');
    },
    30_000,
    200,
  );
});

afterAll(async () => {
  await Promise.all([reader1, reader2, faceCam, watcher].map((c) => end(c)));
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await site?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('QR guest passes at the wicket over MQTT', () => {
  test('a valid code opens the wicket once; the same code again is a replay, denied; all recorded as kind qr', async () => {
    const issued = await post('/api/passes/qr', { label: 'курьер', maxUses: 1 });
    expect(issued.qr).toMatchObject({ maxUses: 1, uses: 0, author: 'admin' });
    // the API's PNG carries the token
    const res = await fetch(`${rt.url}/api/passes/qr/png`, { method: 'POST', headers: { ...rt.basicAuth(), 'content-type': 'application/json' }, body: JSON.stringify({ token: issued.token }) });
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(decodeQr(await decodeImage(Buffer.from(await res.arrayBuffer()), { gray: true }))).toBe(issued.token);

    const before = opens();
    let n = seen.messages.length;
    await publish(reader1, 'gatepost/qr/reader1', issued.token);
    const ok = await nextAccess(n);
    expect(ok).toMatchObject({ kind: 'qr', decision: 'allowed', gate: 'wicket', camera: 'reader1', credential: `qr:${issued.qr.id}` });
    await waitFor('the wicket relay to open', () => opens() === before + 1);
    // the guest's friend shows a screenshot at the other reader
    n = seen.messages.length;
    await publish(reader2, 'gatepost/qr/reader2', issued.token);
    const replay = await nextAccess(n);
    expect(replay).toMatchObject({ kind: 'qr', decision: 'denied', camera: 'reader2' });
    expect(replay.reason).toMatch(/^used: /);
    await new Promise((r) => setTimeout(r, 500));
    expect(opens()).toBe(before + 1);
    const events = await api(`/api/events?kind=qr&limit=50`);
    const mine = events.rows.filter((e: any) => e.credential === `qr:${issued.qr.id}`);
    expect(mine.map((e: any) => e.decision).sort()).toEqual(['allowed', 'denied']);
    expect((await api(`/api/passes/qr?all=1`)).qr.find((q: any) => q.id === issued.qr.id)).toMatchObject({ uses: 1 });
  });

  test('expired, revoked and foreign codes are denied with their reason; malformed reads rejected; the door stays shut', async () => {
    const soon = await post('/api/passes/qr', { preset: 'range', from: new Date(Date.now() - 1000).toISOString(), to: new Date(Date.now() + 1500).toISOString(), maxUses: 5 });
    const revoked = await post('/api/passes/qr', { maxUses: 5 });
    expect((await post(`/api/passes/qr/${revoked.qr.id}/revoke`, {})).qr.revokedBy).toBe('admin');
    await new Promise((r) => setTimeout(r, 1800));
    const before = opens();
    const reasons: string[] = [];
    for (const text of [soon.token, revoked.token, 'https://shop.example/promo?x=1', 'GPQ1.AAAAAAAAAAAAAAAAAAAAAAAA']) {
      const n = seen.messages.length;
      await publish(reader1, 'gatepost/qr/reader1', text);
      const e = await nextAccess(n);
      expect(e.decision).toBe('denied');
      reasons.push(e.reason.split(':')[0]);
    }
    expect(reasons).toEqual(['expired', 'revoked', 'foreign', 'foreign']);
    for (const bad of ['', '{"text":', Buffer.from([0xff, 0xfe, 0x00]), 'x'.repeat(3000)]) {
      const n = seen.messages.length;
      await publish(reader1, 'gatepost/qr/reader1', bad);
      expect((await nextAccess(n)).decision).toBe('rejected');
    }
    expect(opens()).toBe(before);
    expect((await fetch(`${rt.url}/api/health`)).status).toBe(200);
  });

  test('a reader account may publish only its own QR / face topic (ACL), and nothing retained', async () => {
    const n = seen.messages.length;
    const issued = await post('/api/passes/qr', {});
    // reader1 pretends to be reader2: dropped by the broker, never decided
    // (its own connection, QoS 0: the broker drops a forbidden publish, and may drop the client)
    const rogue = await connect(rt.mqttUrl, { username: 'reader1', password: 'reader1-secret', clientId: 'e2e-reader1-rogue', reconnectPeriod: 0 });
    rogue.publish('gatepost/qr/reader2', issued.token, { qos: 0 });
    rogue.publish('gatepost/qr/reader1', issued.token, { qos: 0, retain: true });
    await new Promise((r) => setTimeout(r, 800));
    expect(seen.messages.slice(n).filter((m) => m.topic === 'gatepost/access/wicket')).toEqual([]);
    expect((await api(`/api/passes/qr?all=1`)).qr.find((q: any) => q.id === issued.qr.id)).toMatchObject({ uses: 0 });
    await end(rogue);
  });
});

describe('people and faces', () => {
  test('REST registry: a person with a card; an external recogniser on gatepost/face/<camera> opens the wicket; a stranger does not', async () => {
    const created = await post('/api/people', { name: 'Смирнова Ольга', unit: 'кв. 14', cards: ['0004711'], accessPoints: ['wicket'] });
    const id = created.person.id;
    expect((await api('/api/people/by-card/0004711')).person.id).toBe(id);
    const before = opens();
    let n = seen.messages.length;
    await publish(faceCam, 'gatepost/face/cam-wicket', JSON.stringify({ personId: String(id), confidence: 0.96, ts: Date.now() }));
    const ok = await nextAccess(n);
    expect(ok).toMatchObject({ kind: 'face', decision: 'allowed', personId: String(id), personName: 'Смирнова Ольга', camera: 'cam-wicket' });
    await waitFor('the wicket relay to open', () => opens() === before + 1);
    n = seen.messages.length;
    await publish(faceCam, 'gatepost/face/cam-wicket', JSON.stringify({ name: 'Незнакомец', confidence: 0.99 }));
    expect((await nextAccess(n)).reason).toMatch(/unknown person/);
    n = seen.messages.length;
    await publish(faceCam, 'gatepost/face/cam-wicket', '{"personId": 1');
    expect((await nextAccess(n)).decision).toBe('rejected');
    const ev = await api(`/api/events?kind=face&person=${id}`);
    expect(ev.rows[0]).toMatchObject({ kind: 'face', personName: 'Смирнова Ольга', decision: 'allowed', confidence: 0.96 });
    expect(opens()).toBe(before + 1);
  });

  test('the shipped people flow is installed with its own tab', async () => {
    const flows: any = await api('/admin/flows', { headers: { 'Node-RED-API-Version': 'v2' } });
    expect(flows.flows.find((x: any) => x.id === 'gp_people_tab')).toMatchObject({ type: 'tab' });
    expect(
      flows.flows
        .filter((x: any) => x.type === 'qr-check' || x.type === 'face-check')
        .map((x: any) => x.id)
        .sort(),
    ).toEqual(['face-check-node', 'gp_pp_face_check', 'gp_pp_qr_check', 'qr-check-node']);
    // the examples read no live topic: their mqtt in nodes are disabled, and they read no camera frames
    expect(flows.flows.filter((x: any) => x.type === 'mqtt in' && /^(qr|face)-check-/.test(x.id)).every((x: any) => x.d === true)).toBe(true);
    expect(flows.flows.find((x: any) => x.id === 'qr-check-node').frames).toBe(false);
  });
});

describe('examples/qr-check.json and examples/face-check.json in the runtime', () => {
  test('their inject buttons are decided for example-wicket and recorded; nothing opens, the live flows are untouched', async () => {
    const before = opens();
    const press = (id: string) => fetch(`${rt.url}/admin/inject/${id}`, { method: 'POST', headers: rt.basicAuth() });
    for (const id of ['qr-check-inject-0', 'qr-check-inject-1', 'face-check-inject-0', 'face-check-inject-2']) expect((await press(id)).status).toBe(200);
    const rows = await waitFor('the example events', async () => {
      const r = (await api('/api/events?gate=example-wicket&limit=50')).rows;
      return r.length >= 4 ? r : null;
    });
    expect(rows.map((e: any) => `${e.kind}:${e.decision}`).sort()).toEqual(['face:denied', 'face:rejected', 'qr:denied', 'qr:rejected']);
    expect(rows.find((e: any) => e.kind === 'qr' && e.decision === 'denied').reason).toMatch(/^foreign/);
    expect(opens()).toBe(before);
  });
});

describe('dashboard «Люди» (admin, Chromium)', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  test('the admin adds a person and issues a QR pass: the card shows a QR that decodes to a working pass', async () => {
    const CHROMIUM = '/usr/bin/chromium';
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'ru-RU' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${rt.url}/dashboard`);
    await page.waitForURL('**/login**');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    await page.click('[data-testid=gp-nav-people]');
    await page.waitForSelector('[data-testid=gp-people-new]');
    await page.click('[data-testid=gp-people-new]');
    await page.fill('[data-testid=gp-people-name]', 'Кузнецов Илья');
    await page.fill('[data-testid=gp-people-unit]', 'дом 3');
    await page.fill('[data-testid=gp-people-cards]', '5550001');
    await page.click('[data-testid=gp-people-save]');
    await page.waitForSelector('[data-testid=gp-people-row] >> text=Кузнецов Илья');
    expect((await api('/api/people/by-card/5550001')).person).toMatchObject({ name: 'Кузнецов Илья', unit: 'дом 3', author: 'admin' });

    await page.fill('[data-testid=gp-qr-label]', 'гость к дому 3');
    await page.fill('[data-testid=gp-qr-uses]', '2');
    await page.click('[data-testid=gp-qr-issue]');
    const src = await (await page.waitForSelector('[data-testid=gp-qr-img]')).getAttribute('src');
    expect(src).toMatch(/^data:image\/png;base64,/);
    const text = decodeQr(await decodeImage(Buffer.from(src!.split(',')[1], 'base64'), { gray: true }));
    expect(text).toMatch(/^GPQ1\./);
    await page.waitForSelector('[data-testid=gp-qr-row] >> text=гость к дому 3');
    // the printed code works at the wicket
    const n = seen.messages.length;
    await publish(reader1, 'gatepost/qr/reader1', text!);
    expect(await nextAccess(n)).toMatchObject({ decision: 'allowed', kind: 'qr' });
    // revoke from the list
    await page.click('[data-testid=gp-qr-row]:has-text("гость к дому 3") [data-testid=gp-qr-revoke]');
    await page.waitForSelector('[data-testid=gp-qr-row]:has-text("гость к дому 3") >> text=отозван');
    const m = seen.messages.length;
    await publish(reader2, 'gatepost/qr/reader2', text!);
    expect((await nextAccess(m)).reason).toMatch(/^revoked/);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
