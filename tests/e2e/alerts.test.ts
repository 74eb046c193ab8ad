/**
 * Telegram alerts end to end, judged from outside: the built runtime in demo mode boots the shipped
 * flows (flows/alerts.json's telegram-bot takes ${GATEPOST_TELEGRAM_BOT_TOKEN} and
 * ${GATEPOST_TELEGRAM_API_URL}) plus examples/telegram-notify.json; the fake Bot API server
 * (src/emulators/telegram.ts) runs in this process on 127.0.0.1; Debian's Chromium via playwright-core.
 *
 * A chat writes to the bot and receives a code; the admin confirms it on «Система» → «Оповещения»,
 * picking the alarm types; a refused plate over MQTT reaches that chat; a chat revoked on the same
 * page gets nothing; an MQTT text on gatepost/notify/<tag> (the shipped flow) and the example's
 * inject button reach the chats subscribed to their tags; the delivery state shows on the page.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect } from '../helpers/mqtt-test';
import { startTelegramEmulator, TelegramEmulator } from '../../src/emulators/telegram';

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
const OWNER = 4242;
const GONE = 4343;
const REFUSED = 'E987KX199';

let tg: TelegramEmulator;
let rt: GatepostHandle;
let browser: Browser;
let page: Page;
let lpr: MqttClient;
let admin: MqttClient;
let tmp: string;
const pageErrors: string[] = [];

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

async function codeFor(chatId: number, title: string): Promise<string> {
  tg.message(chatId, 'Здравствуйте', title);
  const m = await tg.waitForSent((s) => s.chatId === chatId && /\d{6}/.test(s.text), 15_000);
  expect(m.text).toMatch(/Код подтверждения/);
  return /(\d{6})/.exec(m.text)![1];
}

async function confirmInPage(code: string, types: string[], tags = ''): Promise<void> {
  await page.fill('[data-testid=gp-alerts-code]', code);
  await page.selectOption('[data-testid=gp-alerts-role]', 'guard');
  for (const ty of types) await page.check(`[data-testid=gp-alerts-type][data-type="${ty}"]`);
  if (tags) await page.fill('[data-testid=gp-alerts-tags]', tags);
  await page.click('[data-testid=gp-alerts-confirm]');
  await page.waitForSelector('[data-testid=gp-alerts-confirm-result]');
}

const publish = (c: MqttClient, topic: string, payload: string) => new Promise<void>((resolve, reject) => c.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));

beforeAll(async () => {
  tg = await startTelegramEmulator();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-alerts-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  fs.copyFileSync(path.join(ROOT, 'examples', 'telegram-notify.json'), path.join(flowsDir, 'zz-example-telegram-notify.json'));
  rt = await startGatepost({
    flowsDir,
    env: { GATEPOST_DEMO: 'on', GATEPOST_TZ: 'Europe/Moscow', GATEPOST_TELEGRAM_BOT_TOKEN: tg.token, GATEPOST_TELEGRAM_API_URL: tg.apiRoot, GATEPOST_TELEGRAM_POLL_S: '1' },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => void d.accept());
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-alerts-lpr' });
  admin = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'e2e-alerts-admin' });
});

afterAll(async () => {
  lpr?.end(true);
  admin?.end(true);
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await tg?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Telegram alerts, verified on the dashboard', () => {
  test('the shipped bot polls the configured API root; the token is not in the log', async () => {
    await waitFor('the bot polling', () => tg.polls() > 0, 30_000);
    const o = await waitFor('bot running', async () => ((await api('/api/alerts/outbox')).bot.state === 'running' ? true : null), 30_000);
    expect(o).toBe(true);
    const doctor = await api('/api/doctor');
    expect(doctor.checks.find((c: any) => c.id === 'telegram')).toMatchObject({ verdict: 'ok' });
    expect(doctor.checks.find((c: any) => c.id === 'telegram').en).toContain('@gatepost_test_bot');
    const log = fs.readFileSync(path.join(rt.dataDir, 'logs', 'gatepost.log'), 'utf8');
    expect(log).not.toContain(tg.token.split(':')[1]);
  });

  test('code → confirmed in the browser → a refused plate over MQTT reaches the chat; a revoked chat gets nothing', async () => {
    await page.goto(`${rt.url}/dashboard`);
    await page.waitForURL('**/login**');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    await page.click('[data-testid=gp-nav-system]');
    await page.waitForURL('**/dashboard/system');
    await page.waitForSelector('[data-testid=gp-alerts-bot][data-state=running]');

    const code = await codeFor(OWNER, 'Сторож');
    // the pending chat shows up (the page polls)
    await page.waitForSelector(`[data-testid=gp-alerts-chat][data-chat="${OWNER}"][data-state=pending]`);
    // a wrong code is refused
    await page.fill('[data-testid=gp-alerts-code]', code === '000000' ? '111111' : '000000');
    await page.click('[data-testid=gp-alerts-confirm]');
    await page.waitForSelector('[data-testid=gp-alerts-confirm-result]:has-text("wrong or expired")');

    await confirmInPage(code, ['plate-refused'], 'flow, example');
    await page.waitForSelector(`[data-testid=gp-alerts-chat][data-chat="${OWNER}"][data-state=verified]`);
    await tg.waitForSent((s) => s.chatId === OWNER && /Чат подтверждён/.test(s.text));

    const code2 = await codeFor(GONE, 'Бывший жилец');
    await confirmInPage(code2, ['plate-refused']);
    await page.waitForSelector(`[data-testid=gp-alerts-chat][data-chat="${GONE}"][data-state=verified]`);
    await page.click(`[data-testid=gp-alerts-chat][data-chat="${GONE}"] [data-testid=gp-alerts-revoke]`);
    await page.waitForSelector(`[data-testid=gp-alerts-chat][data-chat="${GONE}"][data-state=revoked]`);

    // edited on the same page: commands on, quiet hours; then /status answers the chat
    await page.click(`[data-testid=gp-alerts-chat][data-chat="${OWNER}"] [data-testid=gp-alerts-edit]`);
    await page.check('[data-testid=gp-alerts-commands]');
    // quiet hours half a day away (the refused plate below must not fall into them)
    const h = String((new Date().getUTCHours() + 3 + 12) % 24).padStart(2, '0');
    await page.fill('[data-testid=gp-alerts-quiet-from]', `${h}:00`);
    await page.fill('[data-testid=gp-alerts-quiet-to]', `${h}:30`);
    await page.click('[data-testid=gp-alerts-save-chat]');
    await waitFor('the chat edited', async () => (await api('/api/alerts/chats')).find((c: any) => c.chatId === OWNER && c.commands && c.quietFrom === `${h}:00`));
    const edited = (await api('/api/alerts/chats')).find((c: any) => c.chatId === OWNER);
    expect(edited).toMatchObject({ role: 'guard', types: ['plate-refused', 'flow', 'example'], commands: true, quietTo: `${h}:30` });
    tg.message(OWNER, '/status');
    const status = await tg.waitForSent((s) => s.chatId === OWNER && s.text.startsWith('Ворота:'), 15_000);
    expect(status.text).toMatch(/E-Poselok/);

    await publish(lpr, 'gatepost/lpr/e2e_cam', JSON.stringify({ plate: REFUSED, gate: 'main', confidence: 0.95, ts: Date.now() }));
    const msg = await tg.waitForSent((s) => s.chatId === OWNER && s.text.startsWith('🚫 Отказ в проезде'), 20_000);
    expect(msg.text).toMatch(/E987KX199|Е987КХ199/);
    // the alarm shows on the page (live stream), and the delivery counts
    await page.waitForSelector('[data-testid=gp-alerts-alert][data-type=plate-refused]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=gp-alerts-outbox]')?.getAttribute('data-sent')) >= 2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(tg.sent.filter((s) => s.chatId === GONE && s.text.startsWith('🚫'))).toEqual([]);
    fs.mkdirSync(path.join(ROOT, 'test-output', 'alerts'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'test-output', 'alerts', 'system-alerts.png'), fullPage: true });
  });

  test('the shipped flow: MQTT gatepost/notify/<tag> and the example inject reach the chats of those tags only', async () => {
    await publish(admin, 'gatepost/notify/flow', 'Калитка оставлена открытой');
    await tg.waitForSent((s) => s.chatId === OWNER && s.text.includes('Калитка оставлена открытой'), 15_000);
    const res = await fetch(`${rt.url}/admin/inject/telegram-notify-inject`, { method: 'POST', headers: rt.basicAuth() });
    expect(res.status).toBe(200);
    await tg.waitForSent((s) => s.chatId === OWNER && s.text.includes('Проверка оповещений'), 15_000);
    await publish(admin, 'gatepost/notify/nobody-subscribed', 'не для этого чата');
    await new Promise((r) => setTimeout(r, 1500));
    expect(tg.sent.some((s) => s.text.includes('не для этого чата'))).toBe(false);
    expect(pageErrors).toEqual([]);
  });
});
