/**
 * Dashboard benchmark: how fast the guard's screen follows reality, end to end in Chromium
 * (Debian's /usr/bin/chromium via playwright-core) against the built runtime in demo mode with the
 * shipped flows. 127.0.0.1 only.
 *  - page ready: GET /dashboard/post → the gate tiles and the feed are drawn (logged in);
 *  - plate → feed: MQTT publish of a plate → its row in the live feed (the SSE 'event' path);
 *  - gate → tile: POST /api/gates/:id/hold|release from another client → the tile shows it (the SSE
 *    'gate-state' path). Goal for both: within a second.
 */
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, summarize } from './lib';
import { freePort } from '../harness/runtime';

const MAIN = path.resolve(__dirname, '..', 'src', 'runtime', 'main.js');
const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS || 20);
const CHROMIUM = '/usr/bin/chromium';

async function boot(dir: string): Promise<{ proc: ChildProcess; url: string; mqttUrl: string; password: string; lprPassword: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GATEPOST_')) env[k] = v;
  const http = await freePort();
  const mqtt = await freePort();
  const password = 'bench-' + Math.random().toString(36).slice(2);
  Object.assign(env, {
    GATEPOST_HTTP_PORT: String(http),
    GATEPOST_MQTT_PORT: String(mqtt),
    GATEPOST_BIND: '127.0.0.1',
    GATEPOST_DATA_DIR: path.join(dir, 'data'),
    GATEPOST_DEMO: 'on',
    GATEPOST_ADMIN_PASSWORD: password,
    GATEPOST_LOG_LEVEL: 'warn',
  });
  const proc = spawn(process.execPath, [MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b) => (out += b));
  proc.stderr!.on('data', (b) => (out += b));
  const url = `http://127.0.0.1:${http}`;
  for (const t0 = Date.now(); ;) {
    if (Date.now() - t0 > 60_000) throw new Error(`runtime not ready:\n${out.slice(-2000)}`);
    try {
      const r = await fetch(`${url}/api/health`);
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const t0 = Date.now(); !/MQTT user lpr password: \S+/.test(out) && Date.now() - t0 < 3000;) await new Promise((r) => setTimeout(r, 20));
  const lprPassword = /MQTT user lpr password: (\S+)/.exec(out)?.[1] ?? '';
  return { proc, url, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, password, lprPassword };
}

export async function run(): Promise<BenchRow[]> {
  // loaded here so that `npm run bench -- plates` does not need a browser
  const { chromium } = require('playwright-core');
  const mqtt = require('mqtt');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatepost-bench-dash-'));
  const rt = await boot(dir);
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${rt.password}`).toString('base64')}` };
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const lpr = mqtt.connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, reconnectPeriod: 0 });
  try {
    await new Promise((resolve, reject) => (lpr.once('connect', resolve), lpr.once('error', reject)));
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${rt.url}/login`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.password);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);

    const ready: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await page.goto(`${rt.url}/dashboard/post`);
      await page.waitForSelector('[data-testid=gp-gate]');
      await page.waitForSelector('[data-testid=gp-live][data-live="1"]');
      ready.push(Date.now() - t0);
    }

    const gates: any[] = await (await fetch(`${rt.url}/api/gates`, { headers: auth })).json();
    const gate = (gates.find((g) => g.kind === 'barrier') ?? gates[0]).gate as string;

    const feed: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const plate = `B${String(100 + i).padStart(3, '0')}KX${String(10 + i)}`;
      const t0 = Date.now();
      lpr.publish(`gatepost/lpr/bench_cam`, JSON.stringify({ plate, gate }), { qos: 1 });
      await page.waitForSelector(`[data-testid=gp-feed-item][data-plate="${plate}"]`, { timeout: 10_000 });
      feed.push(Date.now() - t0);
    }

    const tile: number[] = [];
    const tileSel = `[data-testid=gp-gate][data-gate="${gate}"]`;
    for (let i = 0; i < RUNS; i++) {
      for (const [cmd, state] of [
        ['hold', 'held'],
        ['release', 'closed'],
      ]) {
        const t0 = Date.now();
        const post = fetch(`${rt.url}/api/gates/${encodeURIComponent(gate)}/${cmd}`, { method: 'POST', headers: auth });
        await page.waitForSelector(`${tileSel}[data-state="${state}"]`, { timeout: 10_000 });
        tile.push(Date.now() - t0);
        await post;
      }
    }

    const r = summarize(ready);
    const f = summarize(feed);
    const g = summarize(tile);
    return [
      { area: 'dashboard', metric: 'Post page ready (tiles + live stream)', value: r.text, note: 'logged in, warm runtime' },
      { area: 'dashboard', metric: 'plate over MQTT → row in the live feed', value: f.text, goal: '< 1000 ms', note: 'decision + SSE + render' },
      { area: 'dashboard', metric: 'gate command (another client) → tile state', value: g.text, goal: '< 1000 ms', note: 'emulated relay + SSE + render' },
    ];
  } finally {
    lpr.end(true);
    await browser.close();
    rt.proc.kill('SIGTERM');
    await new Promise((r) => rt.proc.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
