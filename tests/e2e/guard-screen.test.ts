/**
 * The guard screen, second pass (issue 11), end to end: the built runtime in demo mode, Debian's
 * Chromium (playwright-core), MQTT from a real client. Nothing is mocked.
 *
 * The browser's locale is en-US on purpose: the Russian screen must still show dd.mm.yyyy and
 * Russian words. Checked: at 1280×800 the Post page fits without a page scroll (≥ 10 passages,
 * ≥ 6 temporary passes, search with its results, both gate tiles with their buttons, the E-Poselok
 * state, the issue form on one line); portrait 800×1280 shows the gate buttons; a phone reaches
 * sign-out and «Журнал» keeps the reason column; no English words on the Russian Post page; the
 * sound toggle (default on, remembered); a refused car highlighted and "N new" when scrolled;
 * toasts never over the gate buttons; «Отпустить» disabled on a closed gate; a guard at /admin
 * gets a Russian page; a stop with the page open takes ≤ 2 s without errors, the page keeps its
 * state greyed under «Нет связи с сервером — данные на ЧЧ:ММ:СС» with the gate buttons disabled,
 * and is live again ≤ 3 s after the server is back. Screenshots: test-output/dashboard/guard-*.png.
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, freePort, apiOf, waitFor } from '../helpers/runtime';
import { connect } from '../helpers/mqtt-test';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(ROOT, 'test-output', 'dashboard');
const GUARD = { user: 'guard1', password: 'guard-e2e-pass-1' };

let rt: GatepostHandle;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let lpr: MqttClient;
let httpPort: number;
let mqttPort: number;
const pageErrors: string[] = [];
const figures: Record<string, number> = {};

/** residents of the demo list (allowed) and plates nobody has (refused) */
const ALLOWED = ['О971УА18', 'В841НТ16', 'К932АВ16', 'В148ТМ16'];
const REFUSED = ['Е501КХ199', 'М502ОР77', 'Т503СХ50', 'Х504МК99', 'А505ЕЕ33', 'Н506РО43', 'У507АА11', 'С508ВВ22'];

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> => waitFor(what, fn, timeoutMs, 50);

async function gateIds(): Promise<string[]> {
  return ((await api('/api/gates')) as any[]).map((g) => g.gate);
}

async function publishPlate(plate: string, gate: string): Promise<void> {
  const msg = { plate, gate, confidence: 0.95, ts: Date.now() };
  await new Promise<void>((resolve, reject) => lpr.publish('gatepost/lpr/e2e_cam', JSON.stringify(msg), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
}

async function shot(name: string): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `guard-${name}.png`) });
}

async function boot(dataDir?: string): Promise<GatepostHandle> {
  return startGatepost({
    dataDir,
    known: rt ? { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword } : undefined,
    env: {
      GATEPOST_DEMO: 'on',
      GATEPOST_TZ: 'Europe/Moscow',
      GATEPOST_USERS: `${GUARD.user}:${GUARD.password}`,
      // the same ports after a restart: the open page comes back to the same address
      GATEPOST_HTTP_PORT: String(httpPort),
      GATEPOST_MQTT_PORT: String(mqttPort),
    },
  });
}

async function login(p: Page, user: string, password: string): Promise<void> {
  await p.goto(`${rt.url}/dashboard`);
  await p.waitForURL('**/login**');
  await p.fill('input[name=username]', user);
  await p.fill('input[name=password]', password);
  await Promise.all([p.waitForURL('**/dashboard/**'), p.click('button[type=submit]')]);
  await p.waitForSelector('[data-testid=gp-gate]');
  await p.waitForSelector('[data-testid=gp-live][data-live="1"]');
}

/** how many elements of a selector are fully inside the viewport AND inside their scroll box */
async function fullyVisible(selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const inside = (r: DOMRect, b: { top: number; bottom: number; left: number; right: number }) =>
      r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5 && r.left >= b.left - 0.5 && r.right <= b.right + 0.5;
    let n = 0;
    for (const el of Array.from(document.querySelectorAll(sel))) {
      const r = el.getBoundingClientRect();
      if (r.height === 0) continue;
      if (!inside(r, { top: 0, left: 0, bottom: window.innerHeight, right: window.innerWidth })) continue;
      let ok = true;
      for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (/(auto|scroll|hidden)/.test(s.overflowY) && p !== document.body && p !== document.documentElement) {
          if (!inside(r, p.getBoundingClientRect())) ok = false;
        }
      }
      if (ok) n++;
    }
    return n;
  }, selector);
}

async function pageScrolls(): Promise<{ x: number; y: number }> {
  return page.evaluate(() => {
    const d = document.scrollingElement || document.documentElement;
    return { x: d.scrollWidth - window.innerWidth, y: d.scrollHeight - window.innerHeight };
  });
}

beforeAll(async () => {
  httpPort = await freePort();
  mqttPort = await freePort();
  rt = await boot();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'America/New_York', hasTouch: true });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-guard-lpr' });

  // a working day: 7 temporary passes, a dozen passages, allowed and refused
  for (let i = 0; i < 7; i++) {
    await api('/api/passes/temporary', { method: 'POST', body: JSON.stringify({ plate: `Р${610 + i}КМ77`, house: String(40 + i), note: 'гость', preset: 'today' }) });
  }
  await until('the E-Poselok mirror', async () => ((await api('/api/passes/search?q=971')) as any).results.some((x: any) => x.source === 'mirror'), 30_000);
  const gates = await gateIds();
  const plates = [...ALLOWED, ...REFUSED];
  for (let i = 0; i < plates.length; i++) await publishPlate(plates[i], gates[i % gates.length]);
  await until('the passages recorded', async () => ((await api('/api/events?limit=50')) as any).rows.filter((r: any) => r.decision !== 'repeat').length >= plates.length);
});

afterAll(async () => {
  lpr?.end(true);
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  console.log(`guard screen figures: ${JSON.stringify(figures)}`);
});

describe('guard screen at 1280×800 (a 10" tablet)', () => {
  test('one screen without a page scroll: ≥ 10 passages, ≥ 6 passes, search results, both gate tiles, E-Poselok', async () => {
    await login(page, 'admin', rt.adminPassword);
    await until('the passages listed', async () => (await page.locator('[data-testid=gp-feed-item]').count()) >= 12);
    await until('the passes listed', async () => (await page.locator('[data-testid=gp-pass]').count()) >= 7);
    await page.fill('[data-testid=gp-search-input]', '971');
    await page.locator('[data-testid=gp-search-result][data-source=mirror]').first().waitFor();
    await page.waitForTimeout(300);

    const scroll = await pageScrolls();
    expect(scroll.y).toBeLessThanOrEqual(1);
    expect(scroll.x).toBeLessThanOrEqual(1);
    const counts = {
      passages: await fullyVisible('[data-testid=gp-feed-item]'),
      passes: await fullyVisible('[data-testid=gp-pass]'),
      results: await fullyVisible('[data-testid=gp-search-result]'),
      searchBox: await fullyVisible('[data-testid=gp-search-input]'),
      gateButtons: await fullyVisible('[data-testid=gp-gate] button'),
      eposelok: await fullyVisible('[data-testid=gp-eposelok-count]'),
      form: await fullyVisible('[data-testid=gp-pass-form]'),
    };
    Object.assign(figures, { visiblePassages1280: counts.passages, visiblePasses1280: counts.passes });
    expect(counts.passages).toBeGreaterThanOrEqual(10);
    expect(counts.passes).toBeGreaterThanOrEqual(6);
    expect(counts.results).toBeGreaterThanOrEqual(1);
    expect(counts.searchBox).toBe(1);
    expect((await gateIds()).length).toBe(2);
    expect(counts.gateButtons).toBe(6);
    expect(counts.eposelok).toBe(1);
    expect(counts.form).toBe(1);
    // with «Только отказы» the refused ones fill the list too
    await page.click('[data-testid=gp-feed-only-refused]');
    await expect(fullyVisible('[data-testid=gp-feed-item][data-decision=denied]')).resolves.toBeGreaterThanOrEqual(8);
    await page.click('[data-testid=gp-feed-only-refused]');
    await shot('post-1280x800');
  });

  test('the issue form is one line (number, «Сегодня», «Выдать»); house, note and validity one tap away', async () => {
    const form = page.locator('[data-testid=gp-pass-form]');
    const box = (await form.boundingBox())!;
    expect(box.height).toBeLessThanOrEqual(60);
    await expect(page.textContent('[data-testid=gp-pass-validity-label]')).resolves.toBe('Сегодня');
    await expect(page.locator('[data-testid=gp-pass-house]').count()).resolves.toBe(0);
    await page.click('[data-testid=gp-pass-more]');
    await page.locator('[data-testid=gp-pass-house]').waitFor();
    await page.locator('[data-testid=gp-pass-note]').waitFor();
    await page.locator('[data-testid=gp-pass-validity-day3]').waitFor();
    await page.click('[data-testid=gp-pass-more]');
    await page.locator('[data-testid=gp-pass-house]').waitFor({ state: 'detached' });
  });

  test('validation and a duplicate pass answer in Russian (the 409 question still works)', async () => {
    await page.fill('[data-testid=gp-pass-plate]', '45');
    await page.click('[data-testid=gp-pass-submit]');
    await expect(page.textContent('[data-testid=gp-pass-error]')).resolves.toMatch(/три цифры/);
    await page.fill('[data-testid=gp-pass-plate]', 'abc');
    await page.click('[data-testid=gp-pass-submit]');
    const err = page.locator('[data-testid=gp-pass-error]');
    await until('the Russian message for "abc"', async () => /это не номер/.test((await err.textContent()) ?? ''));
    // the technical text stays behind a tap
    await expect(err.locator('details').textContent()).resolves.toMatch(/is not a plate/);
    // a pass that exists already: the question, then "don't issue"
    await page.fill('[data-testid=gp-pass-plate]', 'Р610КМ77');
    await page.click('[data-testid=gp-pass-submit]');
    const ask = page.locator('[data-testid=gp-pass-duplicate]');
    await ask.waitFor();
    await expect(ask.textContent()).resolves.toMatch(/уже есть.*дом 40/);
    await page.click('[data-testid=gp-pass-duplicate-cancel]');
    await ask.waitFor({ state: 'detached' });
    await page.fill('[data-testid=gp-pass-plate]', '');
  });

  test('no English words on the Russian Post page (plates and brand names allowed); dates dd.mm.yyyy in an en-US browser', async () => {
    await page.fill('[data-testid=gp-search-input]', '');
    const words = await page.evaluate(() => {
      const out: string[] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement!;
        if (!el || el.closest('script,style,[hidden],details:not([open]) > :not(summary)')) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        for (const w of (n.textContent ?? '').match(/[A-Za-z][A-Za-z'-]*/g) ?? []) out.push(w);
      }
      for (const el of Array.from(document.querySelectorAll('[placeholder],[title],[aria-label]'))) {
        for (const a of ['placeholder', 'title', 'aria-label']) for (const w of (el.getAttribute(a) ?? '').match(/[A-Za-z][A-Za-z'-]*/g) ?? []) out.push(`${a}:${w}`);
      }
      return out;
    });
    // brand names, the language switch, the product's name
    // brand names, the language switch, the product's name, the logged-in user's name
    const allowed = new Set(['E-Poselok', 'EN', 'gatepost', 'MQTT', 'Node-RED', 'admin']);
    expect(words.map((w) => w.replace(/^[a-z-]+:/, '')).filter((w) => !allowed.has(w))).toEqual([]);
    // the Журнал shows dates as dd.mm.yyyy although the browser is en-US
    await page.click('[data-testid=gp-nav-history]');
    const first = page.locator('[data-testid=gp-history-row] td').first();
    await first.waitFor();
    await expect(first.textContent()).resolves.toMatch(/^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$/);
    await page.fill('[data-testid=gp-history-from]', '01.01.2020');
    await page.fill('[data-testid=gp-history-to]', '31.12.2099');
    await page.press('[data-testid=gp-history-to]', 'Enter');
    await expect(page.getAttribute('[data-testid=gp-history-csv]', 'href')).resolves.toMatch(/from=2020-01-01.*to=2099-12-31/);
    await page.click('[data-testid=gp-nav-post]');
    await page.waitForSelector('[data-testid=gp-gate]');
  });

  test('a refused car arriving live: highlighted, a beep (sound on by default, remembered per device), "N new" when scrolled', async () => {
    const gates = await gateIds();
    await expect(page.getAttribute('[data-testid=gp-sound]', 'data-sound')).resolves.toBe('on');
    const beeps = () => page.evaluate(() => (window as any).gatepost.beeps as number);
    const before = await beeps();
    await publishPlate('Е777КХ777', gates[0]);
    const item = page.locator('[data-testid=gp-feed-item][data-plate="E777KX777"]').first();
    await item.waitFor();
    await expect(item.getAttribute('data-alert')).resolves.toBe('1');
    await until('a beep', async () => (await beeps()) === before + 1);

    // off, and still off after a reload (this device remembers)
    await page.click('[data-testid=gp-sound]');
    await expect(page.getAttribute('[data-testid=gp-sound]', 'data-sound')).resolves.toBe('off');
    await page.reload();
    await page.waitForSelector('[data-testid=gp-live][data-live="1"]');
    await expect(page.getAttribute('[data-testid=gp-sound]', 'data-sound')).resolves.toBe('off');
    const quiet = await beeps();
    await publishPlate('Е778КХ777', gates[0]);
    await page.locator('[data-testid=gp-feed-item][data-plate="E778KX777"]').first().waitFor();
    await page.waitForTimeout(300);
    await expect(beeps()).resolves.toBe(quiet);
    await page.click('[data-testid=gp-sound]');
    await expect(page.evaluate(() => localStorage.getItem('gatepost.sound'))).resolves.toBe('on');

    // scrolled down the list: a new one shows "1 new", a tap goes back up
    await page.locator('.gp-feed-list').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await publishPlate('Е779КХ777', gates[0]);
    const unseen = page.locator('[data-testid=gp-feed-unseen]');
    await unseen.waitFor();
    await expect(unseen.textContent()).resolves.toMatch(/Новых: 1/);
    await unseen.click();
    await unseen.waitFor({ state: 'detached' });
    await expect(page.locator('.gp-feed-list').evaluate((el) => el.scrollTop)).resolves.toBe(0);
  });

  test('«Отпустить» is disabled on a closed gate; icons are mdi, not emoji', async () => {
    const tile = page.locator('[data-testid=gp-gate][data-state=closed]').first();
    await tile.waitFor({ timeout: 20_000 });
    await expect(tile.locator('[data-testid=gp-gate-release]').isDisabled()).resolves.toBe(true);
    await expect(tile.locator('[data-testid=gp-gate-release]').getAttribute('title')).resolves.toMatch(/закрыты/);
    await expect(tile.locator('[data-testid=gp-gate-open]').isDisabled()).resolves.toBe(false);
    const emoji = await page.evaluate(() => /[\u2190-\u2BFF\u{1F300}-\u{1FAFF}]/u.exec(document.body.innerText)?.[0] ?? null);
    expect(emoji).toBeNull();
    // the mdi font is loaded and draws the icons
    await expect(
      page
        .locator('[data-testid=gp-gate-state] .mdi')
        .first()
        .evaluate((el) => getComputedStyle(el, '::before').fontFamily),
    ).resolves.toMatch(/Material Design Icons/);
  });
});

describe('toasts never cover the gate buttons', () => {
  test.each([
    ['1280x800', { width: 1280, height: 800 }],
    ['800x1280', { width: 800, height: 1280 }],
    ['390x844', { width: 390, height: 844 }],
  ])('at %s', async (_name, vp) => {
    await page.setViewportSize(vp);
    await page.waitForTimeout(300);
    const hits = await page.evaluate(() => {
      const gp = (window as any).gatepost;
      gp.toast('Пропуск выдан: А123ВС77', 'ok');
      gp.toast('Ошибка: реле не отвечает', 'error');
      gp.toast('Тревога: въезд — неверный пароль реле', 'error');
      const box = document.querySelector('[data-testid=gp-toasts]')!.getBoundingClientRect();
      const out: string[] = [];
      for (const b of Array.from(document.querySelectorAll('[data-testid=gp-gate] button'))) {
        const r = b.getBoundingClientRect();
        if (r.bottom < 0 || r.top > window.innerHeight) continue; // not on screen
        if (r.left < box.right && box.left < r.right && r.top < box.bottom && box.top < r.bottom) out.push(b.getAttribute('data-testid')!);
      }
      return { out, boxH: box.height };
    });
    expect(hits.boxH).toBeGreaterThan(0);
    expect(hits.out).toEqual([]);
    await page.evaluate(() => document.querySelectorAll('.gp-toast').forEach((t) => t.remove()));
  });
});

describe('portrait and phone', () => {
  test('portrait 800×1280: the gate buttons are on screen without scrolling', async () => {
    await page.setViewportSize({ width: 800, height: 1280 });
    await page.goto(`${rt.url}/dashboard/post`);
    await page.waitForSelector('[data-testid=gp-gate]');
    await page.waitForTimeout(300);
    await expect(fullyVisible('[data-testid=gp-gate] button')).resolves.toBe(6);
    await expect(pageScrolls().then((s) => s.x)).resolves.toBeLessThanOrEqual(1);
    await shot('post-800x1280');
  });

  test('phone 390×844: sign-out reachable; «Журнал» keeps the reason column, wrapped, nothing clipped', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${rt.url}/dashboard/post`);
    await page.waitForSelector('[data-testid=gp-gate]');
    await page.waitForTimeout(300);
    const logout = page.locator('[data-testid=gp-logout]');
    await expect(fullyVisible('[data-testid=gp-logout]')).resolves.toBe(1);
    const lb = (await logout.boundingBox())!;
    expect(Math.min(lb.width, lb.height)).toBeGreaterThanOrEqual(44);
    await expect(logout.getAttribute('aria-label')).resolves.toBe('Выйти');
    await expect(fullyVisible('[data-testid=gp-gate] button')).resolves.toBe(6);
    await shot('post-390x844');

    await page.click('[data-testid=gp-nav-history]');
    await page.waitForSelector('[data-testid=gp-history-row]');
    await page.waitForTimeout(300);
    const layout = await page.evaluate(() => {
      const ths = Array.from(document.querySelectorAll('[data-testid=gp-history-table] th')).filter((th) => th.getBoundingClientRect().width > 0);
      const reason = document.querySelector('[data-testid=gp-history-row] .gp-hist-reason') as HTMLElement;
      const clipped = Array.from(document.querySelectorAll('[data-testid=gp-history-table] td, [data-testid=gp-history-table] .gp-badge, [data-testid=gp-history-table] .gp-plate'))
        .filter((el) => (el as HTMLElement).scrollWidth > (el as HTMLElement).clientWidth + 1)
        .map((el) => el.textContent);
      const wrap = document.querySelector('[data-testid=gp-history-table]')!.parentElement!;
      if (wrap.scrollWidth > wrap.clientWidth + 1) clipped.push(`the table scrolls sideways by ${wrap.scrollWidth - wrap.clientWidth} px`);
      const r = reason.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5) clipped.push(`the reason column ends at ${Math.round(r.right)} px`);
      return {
        heads: ths.map((t) => t.textContent!.trim()),
        reasonWidth: reason.getBoundingClientRect().width,
        reasonWrap: getComputedStyle(reason).whiteSpace,
        clipped,
        overflow: document.documentElement.scrollWidth - window.innerWidth,
      };
    });
    expect(layout.heads).toContain('Причина');
    expect(layout.reasonWidth).toBeGreaterThan(60);
    expect(layout.reasonWrap).not.toBe('nowrap');
    expect(layout.clipped).toEqual([]);
    expect(layout.overflow).toBeLessThanOrEqual(1);
    await shot('history-390x844');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});

describe('a guard at /admin', () => {
  test('gets a Russian page with a link to the dashboard, not JSON', async () => {
    const gctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'ru-RU' });
    const g = await gctx.newPage();
    try {
      await login(g, GUARD.user, GUARD.password);
      const res = await g.goto(`${rt.url}/admin/`);
      expect(res!.status()).toBe(403);
      await expect(g.textContent('h1')).resolves.toMatch(/только для администратора/);
      await g.click('[data-testid=gp-admin-to-dashboard]');
      await g.waitForURL('**/dashboard/**');
      await g.waitForSelector('[data-testid=gp-gate]');
      // the admin-only system log is not offered to a guard
      await g.waitForSelector('[data-testid=gp-nav-history]');
      await expect(g.locator('[data-testid=gp-nav-syslog]').count()).resolves.toBe(0);
      await expect(g.evaluate(() => fetch('/api/me').then((r) => r.json()))).resolves.toEqual({ username: GUARD.user, admin: false });
    } finally {
      await gctx.close();
    }
  });
});

describe('disconnects', () => {
  test('a stop with the page open: ≤ 2 s, no errors; the page keeps its state greyed, banner, gate buttons disabled; live again ≤ 3 s after the server is back', async () => {
    await page.goto(`${rt.url}/dashboard/post`);
    await page.waitForSelector('[data-testid=gp-live][data-live="1"]');
    await until('passages shown', async () => (await page.locator('[data-testid=gp-feed-item]').count()) >= 10);
    const shown = await page.locator('[data-testid=gp-feed-item]').count();
    const dataDir = rt.dataDir;
    const outBefore = rt.output().length;
    // the fewest passages, gates and passes the page shows at any moment from here on (Dashboard re-mounts the widgets when its socket is back)
    // a guard half-way through typing a pass
    await page.fill('[data-testid=gp-pass-plate]', '123');
    const passesShown = await page.locator('[data-testid=gp-pass]').count();
    expect(passesShown).toBeGreaterThan(0);
    await page.evaluate(() => {
      const w = window as unknown as { gpFeedMin: number; gpMin: Record<string, number> };
      const count = (q: string) => document.querySelectorAll(q).length;
      const qs = ['[data-testid=gp-gate]', '[data-testid=gp-pass]'];
      w.gpFeedMin = count('[data-testid=gp-feed-item]');
      w.gpMin = Object.fromEntries(qs.map((q) => [q, count(q)]));
      new MutationObserver(() => {
        w.gpFeedMin = Math.min(w.gpFeedMin, count('[data-testid=gp-feed-item]'));
        for (const q of qs) w.gpMin[q] = Math.min(w.gpMin[q], count(q));
      }).observe(document.body, { childList: true, subtree: true });
    });

    const stop = await rt.stop();
    figures.stopMs = stop.ms;
    const log = rt.output().slice(outBefore);
    expect(stop.code).toBe(0);
    expect(log).not.toMatch(/shutdown took too long/);
    expect(log).not.toMatch(/\bERROR\b|\berror\b.*(failed|stop)/);
    expect(stop.ms).toBeLessThanOrEqual(2000);

    const banner = page.locator('[data-testid=gp-offline-banner]');
    await banner.waitFor({ timeout: 3000 });
    await expect(banner.textContent()).resolves.toMatch(/^Нет связи с сервером — данные на \d{2}:\d{2}:\d{2}$/);
    // the last state stays, greyed
    await page.waitForTimeout(1500);
    await expect(page.locator('[data-testid=gp-feed-item]').count()).resolves.toBe(shown);
    await expect(page.locator('[data-testid=gp-gate]').count()).resolves.toBe(2);
    await expect(page.evaluate(() => document.documentElement.classList.contains('gp-offline'))).resolves.toBe(true);
    const opacity = await page.locator('[data-testid=gp-feed]').evaluate((el) => Number(getComputedStyle(el).opacity));
    expect(opacity).toBeLessThan(1);
    // the gate buttons are disabled and say why
    for (const b of await page.locator('[data-testid=gp-gate] button').all()) await expect(b.isDisabled()).resolves.toBe(true);
    await expect(page.locator('[data-testid=gp-gate-offline]').first().textContent()).resolves.toMatch(/Нет связи с сервером/);
    // no English "Connection Lost" of Dashboard itself
    await expect(page.locator('text=Connection Lost').count()).resolves.toBe(0);
    await shot('offline-1280x800');

    rt = await boot(dataDir);
    const back = Date.now();
    await page.waitForSelector('[data-testid=gp-live][data-live="1"]', { timeout: 10_000 });
    figures.reconnectMs = Date.now() - back;
    await banner.waitFor({ state: 'detached' });
    expect(figures.reconnectMs).toBeLessThanOrEqual(3000);
    await expect(page.evaluate(() => document.documentElement.classList.contains('gp-offline'))).resolves.toBe(false);
    await expect(page.locator('[data-testid=gp-gate-open]').first().isDisabled()).resolves.toBe(false);
    // the widgets are still there (and Dashboard's own socket is back too)
    await expect(page.locator('[data-testid=gp-feed-item]').count()).resolves.toBeGreaterThanOrEqual(shown);
    // … and never went blank meanwhile, neither offline nor while Dashboard re-mounted them
    await page.waitForTimeout(500);
    await expect(page.evaluate(() => (window as unknown as { gpFeedMin: number }).gpFeedMin)).resolves.toBe(shown);
    await expect(page.inputValue('[data-testid=gp-pass-plate]')).resolves.toBe('123');
    await page.fill('[data-testid=gp-pass-plate]', '');
    await expect(page.evaluate(() => (window as unknown as { gpMin: Record<string, number> }).gpMin)).resolves.toEqual({ '[data-testid=gp-gate]': 2, '[data-testid=gp-pass]': passesShown });
    lpr.end(true);
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-guard-lpr-2' });
    await publishPlate('Е780КХ777', (await gateIds())[0]);
    await page.locator('[data-testid=gp-feed-item][data-plate="E780KX777"]').first().waitFor();
  });

  test('no script errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
