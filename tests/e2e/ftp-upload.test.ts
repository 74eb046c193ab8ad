/**
 * The FTP upload queue from outside, as an integrator uses it: the built runtime boots the shipped
 * flows plus examples/ftp-target.json, its ftp-target takes the server from GATEPOST_FTP_*; a real
 * FTP server (ftp-srv on 127.0.0.1) is stopped while files are queued through the example's inject
 * button (the admin API, as the editor presses it); the runtime is restarted with the items queued;
 * they are delivered after the restart, in order, each once. Seen over REST (/api/uploads) and
 * MQTT (retained gatepost/ftp/state and gatepost/ftp/<target>/state).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { startFtpServer, FtpServer } from '../../harness/ftp-server';
import { chromium } from 'playwright-core';

jest.setTimeout(180_000);

const TARGET = 'ftp-target-example';
let tmp: string;
let flowsDir: string;
let ftp: FtpServer;
let rt: GatepostHandle | null = null;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt!, p, init);
const press = async (id: string) => {
  const r = await fetch(`${rt!.url}/admin/inject/${id}`, { method: 'POST', headers: rt!.basicAuth() });
  expect(r.status).toBe(200);
};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-ftp-'));
  flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  fs.copyFileSync(path.join(ROOT, 'examples', 'ftp-target.json'), path.join(flowsDir, 'zz-example-ftp-target.json'));
  fs.writeFileSync(path.join(tmp, 'example.bin'), Buffer.alloc(200_000, 7));
  ftp = await startFtpServer({ user: 'recorder', password: 'ftp-Secret-42' });
});

afterAll(async () => {
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await ftp?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('example ftp-target: queued while the server is down, delivered after a runtime restart, in order, once; state over REST and MQTT', async () => {
  const env = {
    GATEPOST_FTP_HOST: '127.0.0.1',
    GATEPOST_FTP_PORT: String(ftp.port),
    GATEPOST_FTP_USER: ftp.user,
    GATEPOST_FTP_PASSWORD: ftp.password,
    GATEPOST_FTP_EXAMPLE_FILE: path.join(tmp, 'example.bin'),
  };
  rt = await startGatepost({ flowsDir, env });
  // the target logs in at start: connected, nothing queued
  await waitFor('the example target connected', async () => (await api('/api/uploads')).targets.find((t: any) => t.target === TARGET && t.connected));

  const mqttc: MqttClient = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'ftp-e2e' });
  const seen = collector(mqttc);
  await subscribe(mqttc, 'gatepost/ftp/#');
  const retained = await seen.wait((m) => m.topic === 'gatepost/ftp/state' && m.retain);
  expect(JSON.parse(retained.payload)).toMatchObject({ queued: 0, connected: true, targets: expect.arrayContaining([expect.objectContaining({ target: TARGET, connected: true })]) });
  await seen.wait((m) => m.topic === `gatepost/ftp/${TARGET}/state` && m.retain);

  // one delivered while the server is up
  await press('ftp-target-example-inject');
  await waitFor('the first upload', () => ftp.renamed.length === 1);
  expect(ftp.files()[0]).toMatch(/^files\/\d{4}-\d\d-\d\d\/example-\d+\.bin$/);

  // server down: three more wait in the queue, with a clear error on REST and MQTT
  await ftp.stop();
  for (let i = 0; i < 3; i++) {
    await press('ftp-target-example-inject');
    await new Promise((r) => setTimeout(r, 20));
  }
  const down = await waitFor('3 queued with an error', async () => {
    const t = (await api('/api/uploads')).targets.find((x: any) => x.target === TARGET);
    return t?.queued === 3 && /refused the connection/.test(t.lastError ?? '') ? t : null;
  });
  expect(down.connected).toBe(false);
  const msg = await seen.wait((m) => m.topic === 'gatepost/ftp/state' && JSON.parse(m.payload).queued === 3, 10_000);
  expect(JSON.parse(msg.payload).oldest).toEqual(expect.any(Number));
  const queuedNames = (await api('/api/uploads?state=queued')).recent.map((r: any) => r.name).reverse();
  expect(queuedNames).toHaveLength(3);
  const health = await (await fetch(`${rt.url}/api/health`)).json();
  expect(health.degraded.map((d: any) => d.what)).toContain(`ftp:${TARGET}`);
  await end(mqttc);

  // the «Камеры» page of this site (no camera configured): a clear note, and the FTP queue with its error
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1024, height: 800 }, locale: 'ru-RU' })).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${rt.url}/login`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    await page.goto(`${rt.url}/dashboard/cameras`);
    await expect(page.textContent('[data-testid=gp-cams-empty]')).resolves.toMatch(/Камеры не настроены/);
    const tile = `[data-testid=gp-ftp-target][data-target=${TARGET}]`;
    await page.waitForSelector(`${tile}[data-queued="3"][data-connected="0"]`);
    await expect(page.textContent(`${tile} [data-testid=gp-ftp-error]`)).resolves.toMatch(/refused the connection/);
    await expect(page.locator('[data-testid=gp-ftp-item][data-state=queued]').count()).resolves.toBe(3);
    // English on the EN button
    await page.click('[data-testid=gp-lang]');
    await expect(page.textContent('[data-testid=gp-cams-empty]')).resolves.toMatch(/No cameras configured/);
  } finally {
    await browser.close();
  }

  // runtime restarted with the items queued; the server is back
  const known = { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword };
  const dataDir = rt.dataDir;
  await rt.stop();
  await ftp.start();
  rt = await startGatepost({ flowsDir, env, dataDir, known });
  await waitFor('all delivered after the restart', async () => (await api('/api/uploads')).recent.filter((r: any) => r.state === 'done').length === 4, 30_000);
  expect(ftp.renamed.slice(1).map((f) => path.basename(f))).toEqual(queuedNames);
  expect(ftp.files()).toHaveLength(4);
  for (const f of ftp.files()) expect(fs.statSync(path.join(ftp.root, f)).size).toBe(200_000);
  // no secret in the log
  expect(rt.output()).not.toContain(ftp.password);
});
