/**
 * The guard dashboard end to end: the built runtime (tests/helpers/runtime.ts) in demo mode with
 * its device emulators, the shipped flows (guard-post + dashboard), Debian's Chromium driven by
 * playwright-core, MQTT from a real client. Nothing is mocked.
 *
 * Log in; issue a digits-only pass; search; publish the matching plate → the allowed event shows
 * in the feed without a reload and the emulated relay is pulsed; open / hold / release from the
 * tiles and compare with the emulator; a refused plate stands out; the history filter finds it;
 * CSV export downloads; the language switch is remembered; screenshots at 1280×800, 1920×1080 and
 * 390×844 go to test-output/dashboard/ (gitignored).
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect } from '../helpers/mqtt-test';

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(ROOT, 'test-output', 'dashboard');
const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
  { width: 390, height: 844 },
];

let rt: GatepostHandle;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let lpr: MqttClient;
const pageErrors: string[] = [];
/** three digits of no plate in the emulator's demo list (so only our temporary pass matches) */
const DEMO_DIGITS = new Set(JSON.stringify(require('../../src/emulators/eposelok-demo.json')).match(/\d{3}/g) ?? []);
const DIGITS = ((): string => {
  for (;;) {
    const d = String(300 + Math.floor(Math.random() * 600));
    if (!DEMO_DIGITS.has(d) && d !== '987') return d;
  }
})();
const ALLOWED_PLATE = `А${DIGITS}ВС77`; // Cyrillic, as a camera may send it
const ALLOWED_CANON = `A${DIGITS}BC77`;
const REFUSED_PLATE = 'E987KX199';

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> => waitFor(what, fn, timeoutMs, 100);

/** The emulated CL-Gate relay the demo started (its control API is on the same server). */
async function relayBase(): Promise<string> {
  const sys = await api('/api/system');
  const dev = (sys.devices as any[]).find((d) => d.kind === 'relay' && d.url);
  if (!dev) throw new Error(`no emulated relay in /api/system: ${JSON.stringify(sys.devices)}`);
  return new URL(dev.url).origin;
}
async function relayStates(): Promise<Record<string, number>> {
  const res = await fetch(`${await relayBase()}/__emulator/relays`);
  return (await res.json()) as Record<string, number>;
}
async function relayRequests(): Promise<Array<{ url: string }>> {
  const res = await fetch(`${await relayBase()}/__emulator/requests`);
  const body: any = await res.json();
  return Array.isArray(body) ? body : (body.requests ?? []);
}

/** The barrier the guard-post flow drives through the CL-Gate relay, and its channel. */
async function barrier(): Promise<{ gate: string; channel: string }> {
  const gates: any[] = await api('/api/gates');
  const g = gates.find((x) => x.kind === 'barrier') ?? gates[0];
  if (!g) throw new Error('no gate defined by the shipped flows');
  return { gate: g.gate, channel: rt.env.GATEPOST_RELAY_CHANNEL || '1' };
}

async function publishPlate(plate: string, gate: string, image?: string): Promise<void> {
  const msg = { plate, gate, confidence: 0.95, ts: Date.now(), ...(image ? { image } : {}) };
  await new Promise<void>((resolve, reject) => lpr.publish('gatepost/lpr/e2e_cam', JSON.stringify(msg), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
}

async function shot(name: string): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
}

async function openPage(p: 'post' | 'history' | 'system'): Promise<void> {
  await page.click(`[data-testid=gp-nav-${p}]`);
  await page.waitForURL(`**/dashboard/${p}`);
  await page.waitForSelector(`[data-testid=${p === 'post' ? 'gp-gates' : p === 'history' ? 'gp-history' : 'gp-system'}]`);
}

beforeAll(async () => {
  rt = await startGatepost({ env: { GATEPOST_DEMO: 'on', GATEPOST_TZ: 'Europe/Moscow' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  ctx = await browser.newContext({ viewport: VIEWPORTS[0], acceptDownloads: true, locale: 'ru-RU' });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-dashboard-lpr' });
});

afterAll(async () => {
  lpr?.end(true);
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
});

describe('guard dashboard', () => {
  test('a browser without a session is sent to the login page; after it, the Post page', async () => {
    await page.goto(`${rt.url}/dashboard`);
    await page.waitForURL('**/login**');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    await page.waitForSelector('[data-testid=gp-search-input]');
    await expect(page.textContent('[data-testid=gp-user]')).resolves.toBe('admin');
    // Russian by default; the live stream is connected
    await expect(page.textContent('[data-testid=gp-nav-post]')).resolves.toBe('Пост');
    await page.waitForSelector('[data-testid=gp-live][data-live="1"]');
    await page.waitForSelector('[data-testid=gp-gate]');
  });

  test('issue a digits-only pass for today; the author is the logged-in user', async () => {
    await page.fill('[data-testid=gp-pass-plate]', DIGITS);
    // the form is one line; house, note and validity are one tap away
    await expect(page.locator('[data-testid=gp-pass-house]').count()).resolves.toBe(0);
    await page.click('[data-testid=gp-pass-more]');
    await page.fill('[data-testid=gp-pass-house]', '15А');
    await page.fill('[data-testid=gp-pass-note]', 'e2e: гости');
    await expect(page.getAttribute('[data-testid=gp-pass-validity-today]', 'aria-pressed')).resolves.toBe('true');
    await page.click('[data-testid=gp-pass-submit]');
    const item = page.locator(`[data-testid=gp-pass][data-plate="${DIGITS}"]`);
    await item.waitFor();
    await expect(item.textContent()).resolves.toMatch(/15А/);
    await expect(page.inputValue('[data-testid=gp-pass-plate]')).resolves.toBe('');
    const mine = await until('the pass in /api/passes/temporary', async () => {
      const list: any = await api('/api/passes/temporary');
      const passes: any[] = Array.isArray(list) ? list : (list.passes ?? list.results);
      return passes.find((p) => p.digits === DIGITS);
    });
    expect(mine).toMatchObject({ kind: 'digits', house: '15А', note: 'e2e: гости', author: 'admin' });
  });

  test('issuing the same digits again: the screen shows the existing pass and asks; "issue another" issues it', async () => {
    const count = async () => ((await api('/api/passes/temporary')) as any).passes.filter((p: any) => p.digits === DIGITS).length;
    const before = await count();
    await page.fill('[data-testid=gp-pass-plate]', DIGITS);
    await page.click('[data-testid=gp-pass-submit]');
    const ask = page.locator('[data-testid=gp-pass-duplicate]');
    await ask.waitFor();
    await expect(ask.textContent()).resolves.toMatch(/уже есть.*дом 15А.*выдал admin/);
    expect(await count()).toBe(before);
    // "don't issue" closes the question, nothing issued
    await page.click('[data-testid=gp-pass-duplicate-cancel]');
    await ask.waitFor({ state: 'detached' });
    expect(await count()).toBe(before);
    // ask again and confirm
    await page.click('[data-testid=gp-pass-submit]');
    await ask.waitFor();
    await page.click('[data-testid=gp-pass-duplicate-confirm]');
    await ask.waitFor({ state: 'detached' });
    await until('the second pass', async () => (await count()) === before + 1);
    // leave one pass for the tests below
    const second: any = ((await api('/api/passes/temporary')) as any).passes.filter((p: any) => p.digits === DIGITS).sort((a: any, b: any) => b.id - a.id)[0];
    await api(`/api/passes/temporary/${second.id}/cancel`, { method: 'POST', body: '{}' });
  });

  test('search while typing: active passes only', async () => {
    // a pass issued and cancelled at once: must not be found
    const gone: any = await api('/api/passes/temporary', { method: 'POST', body: JSON.stringify({ plate: `К${DIGITS}МН50`, preset: 'today' }) });
    await api(`/api/passes/temporary/${(gone.pass ?? gone).id}/cancel`, { method: 'POST', body: '{}' });

    await page.fill('[data-testid=gp-search-input]', DIGITS);
    const results = page.locator('[data-testid=gp-search-result]');
    await results.first().waitFor();
    const sources = await results.evaluateAll((els) => els.map((e) => e.getAttribute('data-source')));
    const plates = await results.evaluateAll((els) => els.map((e) => e.getAttribute('data-plate')));
    expect(sources).toContain('temporary');
    expect(plates).not.toContain(`K${DIGITS}MH50`);
    for (const s of sources) expect(['mirror', 'temporary']).toContain(s);

    // the E-Poselok mirror (the demo list has О971УА18, house 21) once the first sync is in
    await until(
      'the E-Poselok mirror',
      async () => {
        const r: any = await api('/api/passes/search?q=971');
        return r.results.some((x: any) => x.source === 'mirror');
      },
      30_000,
    );
    await page.fill('[data-testid=gp-search-input]', '971');
    const mirror = page.locator('[data-testid=gp-search-result][data-source=mirror][data-plate="O971YA18"]');
    await mirror.waitFor();
    await expect(mirror.textContent()).resolves.toMatch(/21/);

    // a plate nobody has
    await page.fill('[data-testid=gp-search-input]', '0000');
    await page.waitForSelector('[data-testid=gp-search-empty]');
  });

  test('the matching plate over MQTT: allowed event in the feed without a reload, relay pulsed', async () => {
    const { gate, channel } = await barrier();
    await fetch(`${await relayBase()}/__emulator/requests`, { method: 'DELETE' });
    await page.evaluate(() => ((window as any).__noReload = true));
    await publishPlate(ALLOWED_PLATE, gate);
    const item = page.locator(`[data-testid=gp-feed-item][data-plate="${ALLOWED_CANON}"]`).first();
    await item.waitFor();
    await expect(item.getAttribute('data-decision')).resolves.toBe('allowed');
    await expect(item.locator('[data-testid=gp-feed-source]').textContent()).resolves.toBe('временный');
    // the relay got "contact closed" on the barrier's channel
    await until('the relay pulse', async () => (await relayRequests()).some((r) => r.url.includes(`relay=${channel}`) && r.url.includes('state=1')));
    await expect(page.evaluate(() => (window as any).__noReload)).resolves.toBe(true);
  });

  test('open, hold and release from the tile: the tile and the emulator agree; the actor is recorded', async () => {
    const { gate, channel } = await barrier();
    const tile = page.locator(`[data-testid=gp-gate][data-gate="${gate}"]`);
    // wait for the pulse of the previous test to end
    await tile.and(page.locator('[data-state=closed]')).waitFor({ timeout: 20_000 });

    await tile.locator('[data-testid=gp-gate-hold]').click();
    await tile.and(page.locator('[data-state=held]')).waitFor();
    await until('relay on (held)', async () => (await relayStates())[channel] === 1);

    await tile.locator('[data-testid=gp-gate-release]').click();
    await tile.and(page.locator('[data-state=closed]')).waitFor();
    await until('relay off (released)', async () => (await relayStates())[channel] === 0);

    await tile.locator('[data-testid=gp-gate-open]').click();
    await tile.and(page.locator('[data-state=open]')).waitFor();
    await until('relay on (open)', async () => (await relayStates())[channel] === 1);
    await tile.locator('[data-testid=gp-gate-countdown]').waitFor();
    // the pulse ends by itself; the tile follows the live state
    await tile.and(page.locator('[data-state=closed]')).waitFor({ timeout: 20_000 });
    await until('relay off (pulse over)', async () => (await relayStates())[channel] === 0);

    const actions: any = await api(`/api/gates/actions?gate=${encodeURIComponent(gate)}&limit=20`);
    const rows: any[] = Array.isArray(actions) ? actions : actions.rows;
    for (const cmd of ['open', 'hold', 'release']) {
      expect(rows.find((r) => r.command === cmd && r.source === 'user')).toMatchObject({ actor: 'admin', result: 'ok' });
    }
  });

  test('a refused plate appears highlighted, with the snapshot that came with it', async () => {
    const { gate } = await barrier();
    // a real JPEG, drawn by the browser
    const jpeg = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 160;
      c.height = 90;
      const g = c.getContext('2d')!;
      g.fillStyle = '#336';
      g.fillRect(0, 0, 160, 90);
      g.fillStyle = '#fff';
      g.font = '28px sans-serif';
      g.fillText('E987KX', 20, 55);
      return c.toDataURL('image/jpeg', 0.8);
    });
    await publishPlate(REFUSED_PLATE, gate, jpeg);
    const item = page.locator(`[data-testid=gp-feed-item][data-plate="${REFUSED_PLATE}"]`).first();
    await item.waitFor();
    // live: marked as an alert; its blinking ends, the refused colours stay
    await expect(item.getAttribute('data-alert')).resolves.toBe('1');
    await item.evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
    await expect(item.getAttribute('data-decision')).resolves.toBe('denied');
    const img = item.locator('[data-testid=gp-feed-img]');
    await until('the thumbnail loaded', () => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth === 160));
    const style = await item.evaluate((el) => {
      const s = getComputedStyle(el);
      return { bg: s.backgroundColor, border: s.borderLeftWidth };
    });
    const allowed = await page
      .locator(`[data-testid=gp-feed-item][data-plate="${ALLOWED_CANON}"]`)
      .first()
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(style.bg).not.toBe(allowed);
    expect(style.bg).toBe('rgb(254, 226, 226)');
    expect(parseFloat(style.border)).toBeGreaterThanOrEqual(8);
    await shot('post-live-1280x800');
  });

  test('history: the filter finds the refused plate; the gate action log shows who did what', async () => {
    await openPage('history');
    await page.fill('[data-testid=gp-history-q]', '987');
    await page.selectOption('[data-testid=gp-history-decision]', 'denied');
    const rows = page.locator('[data-testid=gp-history-row]');
    await page.locator(`[data-testid=gp-history-row][data-plate="${REFUSED_PLATE}"]`).first().waitFor();
    // the list is re-read as the filters change: wait for the answer to the last one (digits + denied)
    const decisions = await until('only refused rows listed', async () => {
      const d = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-decision')));
      return d.length && d.every((x) => x === 'denied') ? d : null;
    });
    expect(new Set(decisions)).toEqual(new Set(['denied']));
    // the allowed plate is not among them
    await expect(page.locator(`[data-testid=gp-history-row][data-plate="${ALLOWED_CANON}"]`).count()).resolves.toBe(0);

    const act = page.locator('[data-testid=gp-actions-row][data-actor=admin]');
    await act.first().waitFor();
    const commands = await act.evaluateAll((els) => els.map((e) => e.getAttribute('data-command')));
    expect(commands).toEqual(expect.arrayContaining(['open', 'hold', 'release']));
  });

  test('CSV export downloads the filtered events', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=gp-history-csv]')]);
    const file = path.join(OUT, 'events.csv');
    fs.mkdirSync(OUT, { recursive: true });
    await download.saveAs(file);
    const csv = fs.readFileSync(file, 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(csv).toContain(REFUSED_PLATE);
    expect(csv).not.toContain(ALLOWED_CANON);
  });

  test('system page: devices, MQTT clients, database, version, demo banner', async () => {
    await openPage('system');
    await page.waitForSelector('[data-testid=gp-demo-banner]');
    const sys = await api('/api/system');
    await expect(page.textContent('[data-testid=gp-system-version]')).resolves.toBe(sys.version);
    const devices = await page.locator('[data-testid=gp-system-device]').evaluateAll((els) => els.map((e) => e.getAttribute('data-device')));
    expect(devices).toEqual((sys.devices as any[]).map((d) => d.id));
    await expect(page.textContent('[data-testid=gp-system-mqtt-clients]')).resolves.toMatch(/^\d+$/);
    await expect(page.textContent('[data-testid=gp-system-db-size]')).resolves.toMatch(/\d.*(B|KiB|MiB)/);
  });

  test('English is switchable and remembered', async () => {
    await page.click('[data-testid=gp-lang]');
    await expect(page.textContent('[data-testid=gp-nav-system]')).resolves.toBe('System');
    await page.reload();
    await page.waitForSelector('[data-testid=gp-system-version]');
    await until('English after a reload', async () => (await page.textContent('[data-testid=gp-nav-system]')) === 'System');
    await expect(page.evaluate(() => localStorage.getItem('gatepost.lang'))).resolves.toBe('en');
    await openPage('post');
    await expect(page.textContent('[data-testid=gp-gate-open] >> nth=0')).resolves.toBe('Open');
    await page.click('[data-testid=gp-lang]');
    await expect(page.textContent('[data-testid=gp-gate-open] >> nth=0')).resolves.toBe('Открыть');
  });

  test.each(VIEWPORTS.map((v) => [`${v.width}x${v.height}`, v] as [string, { width: number; height: number }]))(
    'at %s: no sideways scrolling, touch targets of 44 px, screenshots',
    async (name, vp) => {
      await page.setViewportSize(vp);
      for (const p of ['post', 'history', 'system'] as const) {
        await page.goto(`${rt.url}/dashboard/${p}`);
        await page.waitForSelector(`[data-testid=${p === 'post' ? 'gp-gate' : p === 'history' ? 'gp-history-row' : 'gp-system-device'}]`);
        await page.waitForTimeout(300);
        const layout = await page.evaluate(() => {
          const small: string[] = [];
          for (const el of Array.from(document.querySelectorAll('button, a.gp-btn, .gp-nav a, input, select'))) {
            const r = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            if (r.width === 0 || style.visibility === 'hidden' || (el as HTMLInputElement).type === 'hidden') continue;
            if ((el as HTMLInputElement).type === 'checkbox') continue; // its label is the target
            if (r.height < 44 || r.width < 44) small.push(`${el.getAttribute('data-testid') ?? el.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`);
          }
          return { overflow: document.documentElement.scrollWidth - window.innerWidth, small };
        });
        expect([p, layout.overflow <= 1]).toEqual([p, true]);
        expect([p, layout.small]).toEqual([p, []]);
        await shot(`${p}-${name}`);
      }
    },
  );

  test('no script errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
