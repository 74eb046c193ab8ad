/**
 * Fault suite: Telegram alerts. The built runtime with the shipped flows (flows/alerts.json's bot on
 * the fake Bot API server, src/emulators/telegram.ts, 127.0.0.1), refused plates over MQTT:
 *  - the Bot API down (connections dropped) while alarms are raised → all delivered afterwards, in order;
 *  - 429 with retry_after and 5xx on sends → all delivered, retry_after honoured;
 *  - gatepost killed (SIGKILL) with alarms still queued and the API down → restarted, all delivered;
 *  - hostile chats: a flood of unknown chats, forged button data, odd /open arguments, huge texts →
 *    no crash, no gate action, never anything but a code;
 *  - code brute force on /api/alerts/chats/confirm → refused (429) after 5 wrong codes.
 */
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, waitFor } from '../helpers/runtime';
import { connect } from '../helpers/mqtt-test';
import { reportFault } from '../helpers/faults';
import { startTelegramEmulator, TelegramEmulator } from '../../src/emulators/telegram';

jest.setTimeout(180_000);

const CHAT = 7001;
let tg: TelegramEmulator;
let rt: GatepostHandle;
let lpr: MqttClient;
let n = 0;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);
const env = () => ({ GATEPOST_DEMO: 'on', GATEPOST_TZ: 'Europe/Moscow', GATEPOST_TELEGRAM_BOT_TOKEN: tg.token, GATEPOST_TELEGRAM_API_URL: tg.apiRoot, GATEPOST_TELEGRAM_POLL_S: '1' });
const sentPlates = () => tg.sent.filter((s) => s.chatId === CHAT && s.text.startsWith('🚫')).map((s) => /(FLT\d+)/.exec(s.text)?.[1] ?? '');

async function refuse(count: number): Promise<string[]> {
  const plates: string[] = [];
  for (let i = 0; i < count; i++) {
    const plate = `FLT${String(++n).padStart(4, '0')}`;
    plates.push(plate);
    await new Promise<void>((resolve, reject) => lpr.publish('gatepost/lpr/fault_cam', JSON.stringify({ plate, gate: 'main', ts: Date.now() }), { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  }
  return plates;
}

/** the plates in the order their alarms were raised (decisions of concurrent plates may finish out of publish order) */
async function raisedOrder(plates: string[]): Promise<string[]> {
  const rows: Array<{ id: number; type: string; subject: string }> = await api('/api/alerts?limit=500');
  return rows
    .filter((r) => r.type === 'plate-refused' && plates.some((p) => r.subject.includes(p)))
    .sort((a, b) => a.id - b.id)
    .map((r) => plates.find((p) => r.subject.includes(p))!);
}

async function pendingCount(): Promise<number> {
  return (await api('/api/alerts/outbox')).stats.pending;
}

beforeAll(async () => {
  tg = await startTelegramEmulator();
  rt = await startGatepost({ env: env() });
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'fault-alerts-lpr' });
  await waitFor('the bot', async () => (await api('/api/alerts/outbox')).bot.state === 'running', 30_000);
  tg.message(CHAT, 'hello', 'Fault owner');
  const m = await tg.waitForSent((s) => s.chatId === CHAT && /\d{6}/.test(s.text), 15_000);
  await api('/api/alerts/chats/confirm', {
    method: 'POST',
    body: JSON.stringify({ code: /(\d{6})/.exec(m.text)![1], types: ['plate-refused'], role: 'guard', commands: true }),
    headers: { 'Content-Type': 'application/json' },
  });
  // every refusal its own message, no grouping or rate limit in the way of counting
  await api('/api/alerts/settings', { method: 'PUT', body: JSON.stringify({ groupMinutes: 0, perMinute: 60 }), headers: { 'Content-Type': 'application/json' } });
});

afterAll(async () => {
  lpr?.end(true);
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await tg?.close();
});

describe('alerts under faults', () => {
  test('the Bot API down while alarms are raised: all delivered afterwards, in order', async () => {
    tg.setFault({ reset: true });
    const plates = await refuse(8);
    await waitFor('8 queued', async () => (await pendingCount()) === 8, 15_000);
    const before = sentPlates().length;
    await new Promise((r) => setTimeout(r, 1500));
    tg.clearFault();
    await waitFor('outbox drained', async () => (await pendingCount()) === 0, 60_000, 200);
    const got = sentPlates().slice(before);
    expect(got).toEqual(await raisedOrder(plates));
    expect([...got].sort()).toEqual(plates);
    reportFault({ attack: 'Bot API down while 8 alarms were raised', tried: plates.length, survived: got.length, lost: plates.length - got.length });
  });

  test('429 retry_after and 5xx on sends: all delivered, the wait honoured', async () => {
    tg.rateLimit(2, 2);
    const t0 = Date.now();
    const a = await refuse(3);
    await waitFor('after 429', () => a.every((p) => sentPlates().includes(p)), 30_000);
    const first = tg.sent.find((s) => a.some((p) => s.text.includes(p)))!;
    expect(first.ts - t0).toBeGreaterThanOrEqual(1900);
    tg.serverError(3, 503);
    const b = await refuse(3);
    await waitFor('after 5xx', () => b.every((p) => sentPlates().includes(p)), 30_000);
    const order = sentPlates();
    const raised = await raisedOrder([...a, ...b]);
    expect(order.slice(order.indexOf(raised[0]))).toEqual(raised);
    reportFault({ attack: 'Bot API answers 429 (retry_after 2 s) ×2, then 503 ×3', tried: 6, survived: 6, lost: 0, note: `first delivery after ${first.ts - t0} ms` });
  });

  test('gatepost killed with alarms queued and the API down: delivered after the restart', async () => {
    tg.setFault({ reset: true });
    const plates = await refuse(5);
    await waitFor('5 queued', async () => (await pendingCount()) === 5, 15_000);
    const { dataDir, adminPassword, lprPassword } = rt;
    await rt.stop('SIGKILL');
    lpr.end(true);
    tg.clearFault();
    rt = await startGatepost({ dataDir, env: env(), known: { adminPassword, lprPassword } });
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'fault-alerts-lpr-2' });
    await waitFor('all delivered after the restart', () => plates.every((p) => sentPlates().includes(p)), 60_000, 200);
    const got = sentPlates().filter((p) => plates.includes(p));
    expect(got).toEqual(await raisedOrder(plates));
    expect([...got].sort()).toEqual(plates);
    reportFault({ attack: 'SIGKILL with 5 alarms queued (Bot API down), restart', tried: 5, survived: got.length, lost: 5 - new Set(got).size });
  });

  test('hostile chats: floods of unknown chats, forged buttons, odd /open arguments — only codes, no gate action, no crash', async () => {
    const actionsBefore = (await api('/api/gates/actions?limit=1000')).length;
    const strangers = Array.from({ length: 30 }, (_, i) => 80_000 + i);
    for (const id of strangers) tg.message(id, i18nJunk(id), `x'; DROP TABLE alert_chats; --${id}`);
    for (const data of ['open:000000000000', 'open:../../etc', 'x'.repeat(64), '']) tg.callback(CHAT, data);
    for (const arg of ["main' OR 1=1 --", '../../', 'ы'.repeat(3000), '']) tg.message(CHAT, `/open ${arg}`);
    await waitFor('every stranger got a code', () => strangers.every((id) => tg.sent.some((s) => s.chatId === id)), 30_000);
    for (const id of strangers) {
      const to = tg.sent.filter((s) => s.chatId === id);
      expect(to).toHaveLength(1);
      expect(to[0].text).toMatch(/^Код подтверждения: \d{6}/);
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api('/api/gates/actions?limit=1000')).length).toBe(actionsBefore);
    expect((await api('/api/health')).status).toBe('ok');
    const chats = await api('/api/alerts/chats');
    expect(chats.filter((c: any) => c.state === 'verified').map((c: any) => c.chatId)).toEqual([CHAT]);
    reportFault({ attack: '30 unknown chats + 4 forged buttons + 4 odd /open', tried: 38, survived: 38, lost: 0 });
  });

  test('code brute force: refused after 5 wrong codes, the right one included', async () => {
    tg.message(7002, 'me too', 'Attacker target');
    const m = await tg.waitForSent((s) => s.chatId === 7002, 15_000);
    const right = /(\d{6})/.exec(m.text)![1];
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const guess = String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
      const res = await fetch(`${rt.url}/api/alerts/chats/confirm`, {
        method: 'POST',
        headers: { ...rt.basicAuth(), 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: guess, types: ['*'] }),
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const res = await fetch(`${rt.url}/api/alerts/chats/confirm`, {
      method: 'POST',
      headers: { ...rt.basicAuth(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: right, types: ['*'] }),
    });
    expect(res.status).toBe(429);
    expect((await api('/api/alerts/chats')).find((c: any) => c.chatId === 7002).state).toBe('pending');
    reportFault({ attack: 'verification code brute force (7 guesses)', tried: 7, survived: 7, lost: 0, note: 'refused from the 6th guess' });
  });
});

function i18nJunk(i: number): string {
  return ['/start', '/status', '/open main', '\u0000\u202e', '{"a":', 'ё'.repeat(4096)][i % 6];
}
