/**
 * The iVMS access log end to end: the built runtime (harness) with the shipped flows in demo mode,
 * rows pushed through the access-log service (POST /api/access/rows, the same ingest as the
 * ivms-attlog node), Debian's Chromium (playwright-core) on the page «Доступ». Nothing is mocked.
 *
 * Checked from outside: the REST API needs a login; garbled (mojibake) names appear repaired; a
 * row ingested while the page is open shows in the live feed without a reload, and the new access
 * event arrives on /api/stream; the filters (search in clean and garbled spelling, door,
 * direction, kind, date-time range) narrow the feed; «Кто где» counts who is inside and marks
 * after hours (GATEPOST_ACCESS_AFTER_HOURS=00:00: everybody inside is after hours), and the
 * after-hours alarm comes once on /api/stream; «Рабочее время» shows the paired hours (a night
 * shift on its first day, a missing exit flagged) and its CSV downloads; English through the
 * language switch. Screenshots: test-output/dashboard/access-*.png.
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { garble } from '../../src/core/mojibake';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(ROOT, 'test-output', 'dashboard');
const H = 3600000;

let rt: GatepostHandle;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
const stream: string[] = [];
let streamAbort: AbortController;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);
const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> => waitFor(what, fn, timeoutMs, 100);

/** Moscow wall clock (UTC+3, no DST) of an instant, as iVMS stores it */
const msk = (ts: number) => new Date(ts + 3 * H).toISOString().slice(0, 23);
const mskDay = (ts: number) => msk(ts).slice(0, 10);
const NOW = Date.now();
const DAY1 = mskDay(NOW - 2 * 86400000);
const DAY2 = mskDay(NOW - 86400000);

function row(serialNo: number, authLocal: string, personName: string, employeeID: string, direction: string, doorName: string, extra: Record<string, unknown> = {}) {
  return { serialNo, authLocal, direction, deviceName: 'DS-K1T671', deviceSN: 'SN-1', personName, cardNo: `00${employeeID}77`, doorName, readerName: null, employeeID, verifyMode: null, ...extra };
}

const ROWS = [
  // Ivanov: a day of 9.5 h, his name garbled with the «И» byte lost
  row(1, `${DAY2}T08:00:00.000`, garble('Иванов Иван', 'drop'), '11', 'vhod', garble('Проходная')),
  row(2, `${DAY2}T17:30:00.000`, garble('Иванов Иван'), '11', 'vihod', garble('Проходная')),
  // Sidorov: a night shift of 8 h across midnight, by face
  row(3, `${DAY1}T22:00:00.000`, 'Сидоров Олег', '12', 'vhod', 'Склад', { verifyMode: 'face' }),
  row(4, `${DAY2}T06:00:00.000`, 'Сидоров Олег', '12', 'vihod', 'Склад', { verifyMode: 'face' }),
  // Ilyina: came in an hour ago and is inside (after hours: the hour is 00:00)
  row(5, msk(NOW - H), garble('Ильина Ирина'), '13', 'vhod', 'Склад'),
  // Petrov: in on DAY1 without an exit — flagged
  row(6, `${DAY1}T09:00:00.000`, 'Петров Пётр', '14', 'vhod', garble('Проходная')),
  row(7, `${DAY2}T09:05:00.000`, 'Петров Пётр', '14', 'vhod', garble('Проходная')),
  row(8, `${DAY2}T18:05:00.000`, 'Петров Пётр', '14', 'vihod', garble('Проходная')),
];

async function shot(name: string): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, `access-${name}.png`), fullPage: true });
}

async function feedSerials(): Promise<number[]> {
  return page.$$eval('[data-testid=gp-access-row]', (els) => els.map((e) => Number(e.getAttribute('data-serial'))));
}

/** The rows of the feed, once they equal `want` (the widget reloads after each filter change). */
async function feedIs(want: number[], what: string): Promise<void> {
  await until(`feed ${what} = ${want.join(',')}`, async () => JSON.stringify(await feedSerials()) === JSON.stringify(want));
}

beforeAll(async () => {
  rt = await startGatepost({ env: { GATEPOST_DEMO: 'on', GATEPOST_DEMO_IVMS: 'off', GATEPOST_TZ: 'Europe/Moscow', GATEPOST_ACCESS_AFTER_HOURS: '00:00' } });
  // the live stream as an integrator reads it
  streamAbort = new AbortController();
  const res = await fetch(`${rt.url}/api/stream`, { headers: rt.basicAuth(), signal: streamAbort.signal });
  void (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) stream.push(dec.decode(chunk, { stream: true }));
    } catch {
      /* aborted at the end */
    }
  })();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'ru-RU' });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  streamAbort?.abort();
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
});

describe('access log (iVMS) end to end', () => {
  test('the API needs a login; a guard may read but not push rows', async () => {
    expect((await fetch(`${rt.url}/api/access/events`)).status).toBe(401);
    expect((await fetch(`${rt.url}/api/access/rows`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  test('rows pushed through the ingest: stored once, repaired, on the stream', async () => {
    const r = await api('/api/access/rows', { method: 'POST', body: JSON.stringify({ source: 'e2e', rows: ROWS }) });
    expect(r).toEqual({ inserted: ROWS.length, duplicates: 0 });
    expect(await api('/api/access/rows', { method: 'POST', body: JSON.stringify({ source: 'e2e', rows: ROWS.slice(0, 3) }) })).toEqual({ inserted: 0, duplicates: 3 });
    const log = await api('/api/access/events');
    expect(log.total).toBe(ROWS.length);
    expect(log.rows.find((x: any) => x.serialNo === 1)).toMatchObject({ personName: 'Иванов Иван', door: 'Проходная', direction: 'in', local: `${DAY2} 08:00:00` });
    await until('access events on /api/stream', async () => (stream.join('').match(/"requestId":"ivms:e2e:/g) ?? []).length >= ROWS.length);
    // kept as access events too (the general log)
    expect((await api('/api/events?kind=face')).total).toBe(2);
    // the after-hours alarm, once
    await until('after-hours alarm', async () => /event: alarm\ndata: .*"kind":"after-hours".*Ильина Ирина/.test(stream.join('')));
  });

  test('page «Доступ»: repaired names, a new row live, filters', async () => {
    await page.goto(`${rt.url}/dashboard`);
    await page.waitForURL('**/login**');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    await page.waitForSelector('[data-testid=gp-live][data-live="1"]');
    await expect(page.textContent('[data-testid=gp-nav-access]')).resolves.toBe('Доступ');
    await page.click('[data-testid=gp-nav-access]');
    await page.waitForURL('**/dashboard/access');
    await feedIs([5, 8, 2, 7, 1, 4, 3, 6], 'at first');
    const names = await page.$$eval('[data-testid=gp-access-person]', (els) => els.map((e) => (e.textContent ?? '').trim()));
    expect(names.join('|')).toContain('Ильина Ирина');
    expect(names.join('|')).toContain('Иванов Иван');
    expect(names.join('|')).not.toMatch(/Р[ЎёџЃ]/);
    await expect(page.textContent('[data-testid=gp-access-total]')).resolves.toContain('8');

    // a row arrives while the page is open: shown without a reload
    await api('/api/access/rows', { method: 'POST', body: JSON.stringify({ source: 'e2e', rows: [row(9, msk(Date.now()), garble('Ильина Ирина'), '13', 'vihod', 'Склад')] }) });
    await feedIs([9, 5, 8, 2, 7, 1, 4, 3, 6], 'after a live row');
    await expect(page.locator('[data-serial="9"] [data-testid=gp-access-person]').textContent()).resolves.toContain('Ильина Ирина');
    await shot('feed');

    // search: clean, garbled, card, employee ID
    await page.fill('[data-testid=gp-access-q]', 'ирина');
    await feedIs([9, 5], 'search ирина');
    await page.fill('[data-testid=gp-access-q]', garble('Иванов'));
    await feedIs([2, 1], 'search garbled Иванов');
    await page.fill('[data-testid=gp-access-q]', '001277');
    await feedIs([4, 3], 'search card');
    await page.fill('[data-testid=gp-access-q]', "'; DROP TABLE ivms_rows; --");
    await page.waitForSelector('[data-testid=gp-access-empty]');
    await page.click('[data-testid=gp-access-reset]');
    await feedIs([9, 5, 8, 2, 7, 1, 4, 3, 6], 'reset');
    // door, direction, kind
    await page.selectOption('[data-testid=gp-access-door]', 'Склад');
    await feedIs([9, 5, 4, 3], 'door Склад');
    await page.selectOption('[data-testid=gp-access-direction]', 'out');
    await feedIs([9, 4], 'door Склад, out');
    await page.selectOption('[data-testid=gp-access-kind]', 'face');
    await feedIs([4], 'door Склад, out, face');
    await page.click('[data-testid=gp-access-reset]');
    // date-time range: DAY2 from 08:30 to 18:00
    await page.fill('[data-testid=gp-access-from]', `${DAY2}T08:30`);
    await page.fill('[data-testid=gp-access-to]', `${DAY2}T18:00`);
    await page.locator('[data-testid=gp-access-to]').dispatchEvent('change');
    await feedIs([2, 7], 'DAY2 08:30–18:00');
    await page.click('[data-testid=gp-access-reset]');
    await feedIs([9, 5, 8, 2, 7, 1, 4, 3, 6], 'reset again');
  });

  test('«Кто где»: inside, after hours highlighted', async () => {
    // Ilyina went out (row 9): nobody is inside; she comes back in
    await until('nobody inside', async () => (await page.getAttribute('[data-testid=gp-presence-inside]', 'data-n')) === '0');
    await api('/api/access/rows', { method: 'POST', body: JSON.stringify({ source: 'e2e', rows: [row(10, msk(Date.now()), garble('Ильина Ирина'), '13', 'vhod', 'Склад')] }) });
    await until('one inside', async () => (await page.getAttribute('[data-testid=gp-presence-inside]', 'data-n')) === '1');
    const first = page.locator('[data-testid=gp-presence-row]').first();
    await expect(first.getAttribute('data-person')).resolves.toBe('id:13');
    await expect(first.getAttribute('data-after')).resolves.toBe('1');
    await expect(first.locator('[data-testid=gp-presence-name]').textContent()).resolves.toContain('Ильина Ирина');
    await expect(page.getAttribute('[data-testid=gp-presence-after]', 'data-n')).resolves.toBe('1');
    const others = await page.$$eval('[data-testid=gp-presence-row][data-inside="0"]', (els) => els.map((e) => e.getAttribute('data-person')).sort());
    expect(others).toEqual(['id:11', 'id:12', 'id:14']);
  });

  test('«Рабочее время»: hours per person per day, flags, totals, CSV', async () => {
    await page.fill('[data-testid=gp-worktime-from]', DAY1);
    await page.fill('[data-testid=gp-worktime-to]', DAY2);
    await page.click('[data-testid=gp-worktime-show]');
    const table = async () =>
      page.$$eval('[data-testid=gp-worktime-row]', (els) =>
        els.map((e) => [e.getAttribute('data-person'), e.getAttribute('data-day'), e.getAttribute('data-hours'), e.getAttribute('data-flags')].join(' ')),
      );
    // Ilyina's passages are of today (unless the test runs just after midnight): left out here
    const ours = async () => (await table()).filter((r) => !r.startsWith('id:13 '));
    await until('work-time rows', async () => (await ours()).length === 4);
    expect((await ours()).sort()).toEqual([`id:11 ${DAY2} 9:30 `, `id:12 ${DAY1} 8:00 `, `id:14 ${DAY1} 0:00 missing-exit`, `id:14 ${DAY2} 9:00 `].sort());
    const sums = await page.$$eval('[data-testid=gp-worktime-sum]', (els) => els.map((e) => `${e.getAttribute('data-person')} ${e.getAttribute('data-hours')}`).sort());
    expect(sums.filter((x) => !x.startsWith('id:13 '))).toEqual(['id:11 9:30', 'id:12 8:00', 'id:14 9:00']);
    if (!sums.some((x) => x.startsWith('id:13 '))) await expect(page.textContent('[data-testid=gp-worktime-total]')).resolves.toContain('26:30');
    const href = await page.getAttribute('[data-testid=gp-worktime-csv]', 'href');
    const csv = await page.evaluate(async (u) => (await fetch(u as string)).text(), href);
    const lines = csv
      .replace(/^\ufeff/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('person,name,day,firstIn,lastOut,hours,pairs,passages,flags');
    expect(lines).toContain(`id:12,Сидоров Олег,${DAY1},${DAY1} 22:00:00,${DAY2} 06:00:00,8.00,1,1,`);
    await shot('worktime');
  });

  test('English through the language switch; no page errors', async () => {
    await page.click('[data-testid=gp-lang]');
    await until('English', async () => (await page.textContent('[data-testid=gp-nav-access]')) === 'Access');
    await expect(page.textContent('[data-testid=gp-presence]')).resolves.toContain('Who is where');
    await expect(page.textContent('[data-testid=gp-worktime]')).resolves.toContain('Work time');
    await page.click('[data-testid=gp-lang]');
    expect(pageErrors).toEqual([]);
  });
});
