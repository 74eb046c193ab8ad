/**
 * The alarm service with the real grammy bot (src/services/telegram-bot.ts) against the fake Bot
 * API server (src/emulators/telegram.ts) on 127.0.0.1, real sqlite files, the CL-Gate emulator:
 * chat verification, commands with confirmation (gate opened and logged with source telegram),
 * the outbox across an outage (all delivered, in order, original times), 429 retry_after, and the
 * typed hub events of the other features (camera motion with snapshot, iVMS after hours, degraded).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as net from 'net';
import { Hub } from '../../src/services/hub';
import { alarmsOf } from '../../src/services/alarm-service';
import { TelegramBot } from '../../src/services/telegram-bot';
import { gatesOf } from '../../src/services/gate-service';
import { degradedOf } from '../../src/services/degraded';
import { startTelegramEmulator, TelegramEmulator } from '../../src/emulators/telegram';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';
import type { Logger } from '../../src/core/log';
import type { AccessEventPayload } from '../../src/core/contracts';

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 8000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} not reached in time`);
    await sleep(25);
  }
}
// a minimal JPEG (SOI … EOI): the bytes must arrive as a photo
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7), Buffer.from([0xff, 0xd9])]);

const denied = (over: Partial<AccessEventPayload> = {}): AccessEventPayload =>
  ({
    eventId: 1,
    ts: Date.now(),
    gate: 'main',
    plate: 'А123ВС77',
    raw: 'A123BC77',
    digits: '123',
    decision: 'denied',
    source: 'none',
    reason: 'not in any list',
    latencyMs: 1,
    kind: 'plate',
    ...over,
  }) as AccessEventPayload;

describe('alerts over Telegram (grammy against the fake Bot API)', () => {
  let dir: string;
  let tg: TelegramEmulator;
  let relay: ClGateEmulator;
  let log: ReturnType<typeof capture>;
  let hub: Hub;
  let bot: TelegramBot;

  /** a chat writes, gets its code, the admin confirms it */
  async function verify(chatId: number, title: string, opts: Record<string, unknown>) {
    tg.message(chatId, 'привет', title);
    const m = await tg.waitForSent((s) => s.chatId === chatId && /\d{6}/.test(s.text));
    const code = /(\d{6})/.exec(m.text)![1];
    return alarmsOf(hub).confirm(code, opts, 'admin');
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-alerts-'));
    tg = await startTelegramEmulator();
    relay = await startClGateEmulator({ token: 'rt' });
    log = capture();
    hub = Hub.open({ dbPath: path.join(dir, 'a.db'), logger: log, timezone: 'Europe/Moscow' });
    gatesOf(hub).define({ id: 'main', name: 'Въезд', kind: 'barrier', relay: { driver: 'sarapul-relay', url: relay.url, channel: 1, token: 'rt' }, pulseMs: 300, timeoutMs: 500 });
    alarmsOf(hub);
    await hub.ready();
    bot = new TelegramBot(hub, { token: tg.token, apiRoot: tg.apiRoot, pollSeconds: 1, sendTimeoutMs: 1500, restartMs: 300 });
    bot.start();
    await until(() => alarmsOf(hub).botState().state === 'running', 8000, 'bot running');
  });
  afterEach(async () => {
    await bot.stop();
    await Hub.closeAll();
    await tg.close();
    await relay.close();
    fs.rmSync(dir, { recursive: true, force: true });
    // the token is never logged
    expect(log.lines.join('\n')).not.toContain(tg.token.split(':')[1]);
  });

  test('an unknown chat gets only a code; once confirmed it receives its alarm types; an unverified chat never does', async () => {
    tg.message(501, '/status', 'Иван');
    const codeMsg = await tg.waitForSent((s) => s.chatId === 501);
    expect(codeMsg.text).toMatch(/Код подтверждения: \d{6}/);
    expect(codeMsg.text).not.toMatch(/Ворота|E-Poselok/);
    // writing again while the code is valid: no new code
    tg.message(501, 'ещё', 'Иван');
    await tg.waitForSent((s) => s.chatId === 501 && /уже отправлен/.test(s.text));
    expect(tg.sent.filter((s) => s.chatId === 501 && /Код подтверждения/.test(s.text))).toHaveLength(1);

    tg.message(502, 'hi', 'Stranger');
    await tg.waitForSent((s) => s.chatId === 502);
    await expect(alarmsOf(hub).confirm('000000', { types: ['plate-refused'] }, 'admin')).rejects.toThrow(/wrong or expired/);

    const code = /(\d{6})/.exec(codeMsg.text)![1];
    const chat = await alarmsOf(hub).confirm(code, { types: ['plate-refused'], role: 'guard' }, 'admin');
    expect(chat).toMatchObject({ chatId: 501, state: 'verified', role: 'guard', types: ['plate-refused'], commands: false, verifiedBy: 'admin' });
    await tg.waitForSent((s) => s.chatId === 501 && /Чат подтверждён/.test(s.text));
    // the code is one-time
    await expect(alarmsOf(hub).confirm(code, {}, 'admin')).rejects.toThrow(/wrong or expired/);

    hub.emit('event', denied());
    const alarm = await tg.waitForSent((s) => s.chatId === 501 && s.text.includes('А123ВС77'));
    expect(alarm.text).toContain('Отказ в проезде');
    expect(alarm.text).toContain('А123ВС77');
    expect(alarm.text).toContain('Въезд');
    await sleep(300);
    expect(tg.sent.filter((s) => s.chatId === 502)).toHaveLength(1);

    // a type the chat did not choose is not sent
    degradedOf(hub).set('camera:yard', 'no RTSP answer');
    await sleep(300);
    expect(tg.sent.some((s) => s.chatId === 501 && /yard/.test(s.text))).toBe(false);

    // revoked: nothing more; commands answered as for any unknown chat (a new code)
    await alarmsOf(hub).revoke(501, 'admin');
    hub.emit('event', denied({ plate: 'В777ОР99' }));
    await sleep(400);
    expect(tg.sent.some((s) => s.chatId === 501 && s.text.includes('В777ОР99'))).toBe(false);
    const rows = await alarmsOf(hub).outbox();
    expect(rows.stats.failed).toBe(0);
  });

  test('/open with a confirmation button opens the gate, logged with source telegram and the chat name', async () => {
    await verify(601, 'Охрана КПП', { types: ['*'], role: 'guard', commands: true });
    tg.message(601, '/status');
    const st = await tg.waitForSent((s) => s.chatId === 601 && /Ворота:/.test(s.text));
    expect(st.text).toMatch(/Въезд: (закрыты|открыты)/);

    tg.message(601, '/open main');
    const ask = await tg.waitForSent((s) => s.chatId === 601 && !!s.buttons?.length);
    expect(ask.text).toContain('Въезд');
    expect(relay.channelState(1)).toBe(0);
    const cbId = tg.callback(601, ask.buttons![0].data);
    await tg.waitForSent((s) => s.chatId === 601 && /открыты/.test(s.text) && s.id > ask.id);
    expect(tg.answers.find((a) => a.id === cbId)?.text).toBe('Открываю');
    expect(relay.changes.some((c) => c.channel === 1 && c.state === 1)).toBe(true);
    const acts = await until(async () => (await gatesOf(hub).actions({ gate: 'main' })).filter((a) => a.source === 'telegram'));
    expect(
      acts.length ? acts : await until(async () => ((await gatesOf(hub).actions({ gate: 'main' })).some((a) => a.source === 'telegram') ? await gatesOf(hub).actions({ gate: 'main' }) : false)),
    ).toEqual(expect.arrayContaining([expect.objectContaining({ command: 'open', source: 'telegram', actor: 'Охрана КПП', result: 'ok' })]));

    // the same button again: expired (one use)
    const cb2 = tg.callback(601, ask.buttons![0].data);
    await until(() => tg.answers.find((a) => a.id === cb2));
    expect(tg.answers.find((a) => a.id === cb2)!.text).toMatch(/Устарело/);

    // a viewer chat / commands off: refused, the gate is not touched
    await verify(602, 'Жилец', { types: ['plate-refused'], role: 'viewer' });
    tg.message(602, '/open main');
    await tg.waitForSent((s) => s.chatId === 602 && /не разрешены/.test(s.text));
    const forged = tg.callback(602, ask.buttons![0].data);
    await until(() => tg.answers.find((a) => a.id === forged));
    expect(tg.answers.find((a) => a.id === forged)!.text).toBe('Не разрешено');
  });

  test('alarms raised during an outage are all delivered afterwards, in order, with their original time', async () => {
    await verify(701, 'Owner', { types: ['plate-refused', 'device-offline'] });
    await tg.waitForSent((s) => s.chatId === 701 && /подтверждён/.test(s.text));
    await alarmsOf(hub).updateSettings({ groupMinutes: 0 });
    const before = tg.sent.length;
    tg.setFault({ reset: true });
    const plates = ['Е001КХ77', 'Е002КХ77', 'Е003КХ77'];
    const t0 = Date.parse('2026-12-01T21:15:07Z'); // 00:15:07 in Moscow
    for (let i = 0; i < plates.length; i++) hub.emit('event', denied({ plate: plates[i], ts: t0 + i * 1000 }));
    degradedOf(hub).set('relay:yard', 'connect ECONNREFUSED');
    await until(async () => (await alarmsOf(hub).outbox()).recent.filter((r) => r.chatId === 701 && r.state === 'pending' && r.attempts > 0).length > 0, 8000, 'a failed attempt');
    await until(async () => (await alarmsOf(hub).outbox()).stats.pending === 4, 8000, 'four queued');
    const during = await alarmsOf(hub).outbox();
    expect(during.stats.pending).toBe(4);
    expect(during.recent.find((r) => r.state === 'pending' && r.lastError)?.lastError).toBeTruthy();
    expect(tg.sent.length).toBe(before);

    tg.clearFault();
    await until(async () => (await alarmsOf(hub).outbox()).stats.pending === 0, 20000, 'outbox drained');
    const got = tg.sent.filter((s) => s.chatId === 701).slice(-4);
    expect(got.map((s) => (/Е00\dКХ77|relay:yard/.exec(s.text) ?? [''])[0])).toEqual([...plates, 'relay:yard']);
    expect(got[0].text).toContain('02.12 00:15:07');
    expect(got[2].text).toContain('02.12 00:15:09');
  });

  test('429: the retry waits for retry_after; 5xx is retried; a refused chat is not retried', async () => {
    await verify(801, 'Owner', { types: ['*'] });
    await tg.waitForSent((s) => s.chatId === 801 && /подтверждён/.test(s.text));
    tg.rateLimit(1, 2);
    const t429 = Date.now();
    hub.emit('event', denied({ plate: 'К429КК77' }));
    const m = await tg.waitForSent((s) => s.text.includes('К429КК77'), 10000);
    expect(m.ts - t429).toBeGreaterThanOrEqual(1900);
    expect(log.lines.some((l) => /wait 2 s \(429\)/.test(l))).toBe(true);

    tg.serverError(2, 502);
    hub.emit('alarm', { source: 'ivms', kind: 'after-hours', severity: 'warning', subject: 'Петров П.', ts: Date.now(), message: 'inside after 22:00' });
    const iv = await tg.waitForSent((s) => s.text.includes('Петров П.'), 15000);
    expect(iv.text).toContain('нерабочее время');
  });

  test('the typed events of the other features: camera motion with its snapshot, degraded devices, any FeatureAlarm', async () => {
    await verify(901, 'Owner', { types: ['camera-motion', 'device-offline', 'ftp-upload-failed'] });
    await tg.waitForSent((s) => s.chatId === 901 && /подтверждён/.test(s.text));
    const seen: string[] = [];
    hub.on('alert', (a) => seen.push(a.type));
    hub.emit('camera-motion', { camera: 'gate-cam', on: true, ts: Date.now(), snapshot: JPEG });
    hub.emit('camera-motion', { camera: 'gate-cam', on: false, ts: Date.now() });
    const photo = await tg.waitForSent((s) => s.method === 'sendPhoto');
    expect(photo.photo).toEqual(expect.objectContaining({ size: JPEG.length, jpeg: true }));
    expect(photo.text).toContain('gate-cam');
    degradedOf(hub).set('ftp:nas', 'login refused');
    await tg.waitForSent((s) => s.text.includes('ftp:nas') && /не отвечает/.test(s.text));
    hub.emit('alarm', { source: 'ftp', kind: 'upload-failed', severity: 'critical', subject: 'nas', ts: Date.now(), message: 'disk full' });
    await tg.waitForSent((s) => s.text.includes('disk full'));
    expect(seen).toEqual(expect.arrayContaining(['camera-motion', 'device-offline', 'ftp-upload-failed']));
    const recent = await alarmsOf(hub).recent();
    const cam = recent.find((r) => r.type === 'camera-motion')!;
    expect(cam.hasImage).toBe(true);
    expect((await alarmsOf(hub).image(cam.id))!.equals(JPEG)).toBe(true);
  });

  test('a gate held open longer than the limit raises gate-held once', async () => {
    await verify(911, 'Owner', { types: ['gate-held'] });
    await alarmsOf(hub).updateSettings({ heldOpenMinutes: 0.02 });
    await gatesOf(hub).command('main', 'hold', { kind: 'user', actor: 'guard' });
    const m = await tg.waitForSent((s) => s.chatId === 911 && /долго открыты/.test(s.text) && !/подтверждён/.test(s.text), 8000);
    expect(m.text).toContain('Въезд');
    await sleep(1500);
    expect(tg.sent.filter((s) => s.chatId === 911 && /долго открыты/.test(s.text) && !/подтверждён/.test(s.text))).toHaveLength(1);
    await gatesOf(hub).command('main', 'release', { kind: 'user', actor: 'guard' });
  });
});

describe('telegram bot start-up', () => {
  test('an unreachable API root: retried, state error, the token never in the log; a refused token stops the bot', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-alerts-'));
    const log = capture();
    const hub = Hub.open({ dbPath: path.join(dir, 'b.db'), logger: log });
    const tg = await startTelegramEmulator();
    try {
      const token = tg.token;
      const down = new TelegramBot(hub, { token, apiRoot: 'http://127.0.0.1:9', pollSeconds: 1, restartMs: 200 });
      down.start();
      await until(() => alarmsOf(hub).botState().state === 'error');
      expect(alarmsOf(hub).botState().error).not.toContain(token);
      await down.stop();
      const wrong = new TelegramBot(hub, { token: '42:wrongwrongwrongwrongwrongwrongwrong', apiRoot: tg.apiRoot, pollSeconds: 1, restartMs: 200 });
      wrong.start();
      await until(() => /token refused/.test(alarmsOf(hub).botState().error ?? ''));
      await wrong.stop();
      expect(log.lines.join('\n')).not.toContain(token.split(':')[1]);
      expect(log.lines.join('\n')).not.toContain('wrongwrongwrong');
    } finally {
      await Hub.closeAll();
      await tg.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('outbox limits: grouping, hang, age, proxy', () => {
  let dir: string;
  let tg: TelegramEmulator;
  let log: ReturnType<typeof capture>;
  let hub: Hub;
  let bot: TelegramBot;
  let offset = 0;
  const clock = { now: () => Date.now() + offset, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

  async function start(extra: Partial<ConstructorParameters<typeof TelegramBot>[1]> = {}) {
    bot = new TelegramBot(hub, { token: tg.token, apiRoot: tg.apiRoot, pollSeconds: 1, sendTimeoutMs: 800, restartMs: 300, ...extra });
    bot.start();
    await until(() => alarmsOf(hub).botState().state === 'running', 8000, 'bot running');
  }
  async function verified(chatId: number, types: string[]) {
    tg.message(chatId, 'hi', `Chat ${chatId}`);
    const m = await tg.waitForSent((s) => s.chatId === chatId && /\d{6}/.test(s.text));
    await alarmsOf(hub).confirm(/(\d{6})/.exec(m.text)![1], { types }, 'admin');
    await tg.waitForSent((s) => s.chatId === chatId && s.text.startsWith('✅'));
  }

  beforeEach(async () => {
    offset = 0;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-alerts-'));
    tg = await startTelegramEmulator();
    log = capture();
    hub = Hub.open({ dbPath: path.join(dir, 'c.db'), logger: log, timezone: 'Europe/Moscow', clock });
    alarmsOf(hub);
    await hub.ready();
  });
  afterEach(async () => {
    await bot?.stop();
    await Hub.closeAll();
    await tg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('repeats are grouped into one summary message («ещё N отказов за M мин»)', async () => {
    await start();
    await verified(1001, ['plate-refused']);
    await alarmsOf(hub).updateSettings({ groupMinutes: 0.02 });
    for (let i = 0; i < 6; i++) hub.emit('event', denied({ plate: `Р${i}00РР77` }));
    const summary = await tg.waitForSent((s) => s.chatId === 1001 && /^ещё \d+ отказ/.test(s.text), 8000);
    expect(summary.text).toMatch(/^ещё 5 отказов за 1 мин/);
    expect(tg.sent.filter((s) => s.chatId === 1001 && s.text.startsWith('🚫'))).toHaveLength(1);
  });

  test('a hanging Bot API: the send times out and is retried; delivered once it answers', async () => {
    await start();
    await verified(1002, ['gate-fault']);
    tg.setFault({ hang: true, pathPrefix: `/bot${tg.token}/sendMessage` });
    hub.emit('alarm', { source: 'gate', gate: 'main', ts: Date.now(), message: 'close failed (hang test)' });
    await until(async () => (await alarmsOf(hub).outbox()).recent.some((r) => r.state === 'pending' && r.attempts > 0), 8000, 'a timed-out attempt');
    expect(alarmsOf(hub).botState()).toMatchObject({ state: 'error' });
    expect(
      degradedOf(hub)
        .list()
        .map((d) => d.what),
    ).toContain('telegram');
    tg.clearFault();
    await tg.waitForSent((s) => s.chatId === 1002 && s.text.includes('hang test'), 15000);
    await until(() => alarmsOf(hub).botState().state === 'running', 5000, 'state back to running');
    expect(
      degradedOf(hub)
        .list()
        .map((d) => d.what),
    ).not.toContain('telegram');
  });

  test('a message older than the configured age is dropped with a log line, never sent', async () => {
    await start();
    await verified(1003, ['gate-fault']);
    tg.setFault({ reset: true });
    hub.emit('alarm', { source: 'gate', gate: 'main', ts: Date.now(), message: 'too old to matter' });
    await until(async () => (await alarmsOf(hub).outbox()).recent.some((r) => r.state === 'pending' && r.attempts > 0), 8000, 'an attempt');
    offset = 25 * 3_600_000; // a day later (maxAgeHours 24)
    tg.clearFault();
    await until(async () => (await alarmsOf(hub).outbox()).stats.dropped === 1, 8000, 'dropped');
    expect(log.lines.some((l) => /message \d+ to chat 1003 dropped: not delivered for 15\d\d min \(limit 24 h/.test(l))).toBe(true);
    await sleep(500);
    expect(tg.sent.some((s) => s.text.includes('too old to matter'))).toBe(false);
  });

  test('retention: snapshots dropped after 14 days, alerts after 90, delivered messages after 30', async () => {
    hub.emit('camera-motion', { camera: 'yard', on: true, ts: Date.now(), snapshot: JPEG });
    const row = await until(async () => (await alarmsOf(hub).recent()).find((r) => r.type === 'camera-motion'), 5000, 'stored');
    expect(await alarmsOf(hub).image(row.id)).not.toBeNull();
    offset = 15 * 86_400_000;
    await until(async () => (await alarmsOf(hub).image(row.id)) === null, 5000, 'image pruned');
    expect((await alarmsOf(hub).recent()).some((r) => r.id === row.id)).toBe(true);
    offset = 91 * 86_400_000;
    await until(async () => !(await alarmsOf(hub).recent()).some((r) => r.id === row.id), 5000, 'alert pruned');
  });

  test('through an http proxy (CONNECT): polls and sends', async () => {
    const connects: string[] = [];
    const proxy = net.createServer((client) => {
      client.once('data', (head) => {
        const m = /^CONNECT ([^ ]+) HTTP/.exec(head.toString());
        if (!m) return client.destroy();
        connects.push(m[1]);
        const [host, port] = m[1].split(':');
        const up = net.connect(Number(port), host, () => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          up.pipe(client);
          client.pipe(up);
        });
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      await start({ proxy: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}` });
      await verified(1004, ['gate-fault']);
      expect(connects.length).toBeGreaterThan(0);
      expect(connects.every((c) => c === `127.0.0.1:${tg.port}`)).toBe(true);
    } finally {
      await bot.stop();
      proxy.close();
    }
  });
});

describe('verification codes expire; the emulator is driven over HTTP too', () => {
  test('an expired code is refused; the chat writing again gets a new one; controls over /__emulator/', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-alerts-'));
    let offset = 0;
    const clock = { now: () => Date.now() + offset, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    const hub = Hub.open({ dbPath: path.join(dir, 'd.db'), logger: capture(), clock });
    const tg = await startTelegramEmulator();
    const bot = new TelegramBot(hub, { token: tg.token, apiRoot: tg.apiRoot, pollSeconds: 1 });
    try {
      alarmsOf(hub);
      await hub.ready();
      bot.start();
      await until(() => alarmsOf(hub).botState().state === 'running', 8000, 'bot running');
      const post = (p: string, body: unknown) => fetch(`${tg.url}/__emulator/${p}`, { method: 'POST', body: JSON.stringify(body) });
      expect((await post('message', { chatId: 'x' })).status).toBe(400);
      expect((await post('message', { chatId: 3001, text: 'hello', title: 'Late' })).status).toBe(200);
      const first = await tg.waitForSent((s) => s.chatId === 3001);
      const code1 = /(\d{6})/.exec(first.text)![1];
      offset = 11 * 60_000; // codes live 10 min
      await expect(alarmsOf(hub).confirm(code1, { types: ['*'] }, 'admin')).rejects.toThrow(/wrong or expired/);
      await post('message', { chatId: 3001, text: 'again' });
      const second = await tg.waitForSent((s) => s.chatId === 3001 && s.id > first.id && /Код подтверждения/.test(s.text));
      const code2 = /(\d{6})/.exec(second.text)![1];
      await expect(alarmsOf(hub).confirm(code2, { types: ['*'] }, 'admin')).resolves.toMatchObject({ chatId: 3001, state: 'verified', title: 'Late' });
      const sent = (await (await fetch(`${tg.url}/__emulator/sent`)).json()) as Array<{ chatId: number }>;
      expect(sent.filter((s) => s.chatId === 3001).length).toBeGreaterThanOrEqual(2);
    } finally {
      await bot.stop();
      await Hub.closeAll();
      await tg.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
