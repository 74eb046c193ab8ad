/**
 * Alerts: the alarm service with the real grammy bot against the fake Bot API on 127.0.0.1, real
 * sqlite in a temp dir.
 *  - latency: a refused plate on the hub bus → the message received by the Bot API server (one chat);
 *  - fan-out: one alarm to 20 verified chats → all 20 received;
 *  - drain: 300 alarms queued during an outage → time to deliver all once the server is back.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, runStandalone, summarize } from './lib';
import { Hub } from '../src/services/hub';
import { alarmsOf } from '../src/services/alarm-service';
import { TelegramBot } from '../src/services/telegram-bot';
import { startTelegramEmulator } from '../src/emulators/telegram';
import { silentLogger } from '../src/core/log';
import type { AccessEventPayload } from '../src/core/contracts';

const N = 50;
const CHATS = 20;
const DRAIN = 300;

const refused = (plate: string): AccessEventPayload =>
  ({ eventId: 1, ts: Date.now(), gate: 'main', plate, raw: plate, digits: null, decision: 'denied', source: 'none', reason: 'bench', latencyMs: 0, kind: 'plate' }) as AccessEventPayload;

export async function run(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-alerts-'));
  const tg = await startTelegramEmulator();
  const hub = Hub.open({ dbPath: path.join(dir, 'a.db'), logger: silentLogger });
  const svc = alarmsOf(hub);
  await hub.ready();
  const bot = new TelegramBot(hub, { token: tg.token, apiRoot: tg.apiRoot, pollSeconds: 1 });
  const rows: BenchRow[] = [];
  try {
    bot.start();
    for (let i = 0; i < 200 && svc.botState().state !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    const verify = async (chatId: number, types: string[]) => {
      tg.message(chatId, 'hi', `bench ${chatId}`);
      const m = await tg.waitForSent((s) => s.chatId === chatId && /\d{6}/.test(s.text));
      await svc.confirm(/(\d{6})/.exec(m.text)![1], { types }, 'bench');
    };
    await svc.updateSettings({ groupMinutes: 0, perMinute: 60 });
    await verify(1, ['plate-refused']);
    await tg.waitForSent((s) => s.chatId === 1 && s.text.startsWith('✅'));

    const lat: number[] = [];
    for (let i = 0; i < N; i++) {
      const plate = `LAT${i}`;
      const t0 = performance.now();
      const seen = tg.waitForSent((s) => s.text.includes(`${plate}\n`) || s.text.includes(`${plate} `));
      hub.emit('event', refused(plate));
      await seen;
      lat.push(performance.now() - t0);
    }
    rows.push({ area: 'alerts', metric: 'refused plate on the bus → sendMessage at the Bot API', value: summarize(lat).text, goal: 'p99 < 200 ms', note: 'grammy → fake Bot API, 127.0.0.1' });

    for (let c = 100; c < 100 + CHATS; c++) await verify(c, ['gate-fault']);
    const fan: number[] = [];
    for (let i = 0; i < 5; i++) {
      const tag = `F${i}x`;
      const t0 = performance.now();
      hub.emit('alarm', { source: 'gate', gate: tag, ts: Date.now(), message: 'bench' });
      for (let c = 100; c < 100 + CHATS; c++) await tg.waitForSent((s) => s.chatId === c && s.text.includes(tag));
      fan.push(performance.now() - t0);
    }
    rows.push({ area: 'alerts', metric: `one alarm → ${CHATS} chats all received`, value: summarize(fan).text });

    tg.setFault({ reset: true });
    const tq = performance.now();
    // 15 messages to each of the 20 chats (under the 60 a minute of flood control)
    for (let i = 0; i < DRAIN / CHATS; i++) await svc.notify('gate-fault', `D${i}`, null);
    const queuedMs = performance.now() - tq;
    await new Promise((r) => setTimeout(r, 500));
    tg.clearFault();
    const t0 = performance.now();
    const queued = (await svc.outbox(500)).stats.pending;
    await svc.kick();
    for (let i = 0; i < 600 && (await svc.outbox(1)).stats.pending > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const drainMs = performance.now() - t0;
    rows.push({
      area: 'alerts',
      metric: `${queued} messages queued during an outage → all delivered`,
      value: `${fmt(drainMs)} ms (${fmt((queued / drainMs) * 1000)} msg/s)`,
      note: `queueing them (${DRAIN / CHATS} notify() × ${CHATS} chats): ${fmt(queuedMs)} ms`,
    });
  } finally {
    await bot.stop();
    await hub.close();
    await tg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) runStandalone(run);
