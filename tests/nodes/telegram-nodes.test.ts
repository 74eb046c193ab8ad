/** telegram-bot and telegram-notify with node-red-node-test-helper, against the fake Bot API on 127.0.0.1. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { alarmsOf } from '../../src/services/alarm-service';
import { startTelegramEmulator, TelegramEmulator } from '../../src/emulators/telegram';

helper.init(require.resolve('node-red'));
const botNode = require('../../nodes/telegram-bot/telegram-bot');
const notifyNode = require('../../nodes/telegram-notify/telegram-notify');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 1), Buffer.from([0xff, 0xd9])]);

describe('telegram nodes', () => {
  let dir: string;
  let dbPath: string;
  let tg: TelegramEmulator;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-tnodes-'));
    dbPath = path.join(dir, 'n.db');
    tg = await startTelegramEmulator();
    helper.settings({ gatepost: { dbPath } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    await tg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (apiRoot: string, tag = 'doorbell') => [
    { id: 'tab', type: 'tab' },
    { id: 'b', type: 'telegram-bot', name: 'bot', apiRoot, proxy: '' },
    { id: 'n', z: 'tab', type: 'telegram-notify', bot: 'b', tag, severity: 'info', wires: [['out']] },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  test('text and a JPEG reach the chats subscribed to the tag; bad payloads go to Catch', async () => {
    await helper.load([botNode, notifyNode, catchNode], flow(tg.apiRoot), { b: { token: tg.token } });
    const hub = Hub.open({ dbPath });
    await until(() => alarmsOf(hub).botState().state === 'running', 10_000);
    tg.message(55, 'hi', 'Owner');
    const m = await tg.waitForSent((s) => s.chatId === 55);
    await alarmsOf(hub).confirm(/(\d{6})/.exec(m.text)![1], { types: ['doorbell'] }, 'admin');

    const out: any[] = [];
    const caught: any[] = [];
    helper.getNode('out').on('input', (x: any) => out.push(x));
    helper.getNode('caught').on('input', (x: any) => caught.push(x));
    const n = helper.getNode('n') as any;
    n.receive({ payload: 'Звонок в калитку' });
    await tg.waitForSent((s) => s.chatId === 55 && s.text.startsWith('Звонок в калитку'));
    n.receive({ payload: JPEG, caption: 'у калитки' });
    const photo = await tg.waitForSent((s) => s.chatId === 55 && s.method === 'sendPhoto');
    expect(photo.photo).toMatchObject({ size: JPEG.length, jpeg: true });
    expect(photo.text).toContain('у калитки');
    await until(() => out.length === 2);
    expect(out.map((x) => x.queued)).toEqual([1, 1]);

    n.receive({ payload: Buffer.from('not an image') });
    n.receive({ payload: '' });
    n.receive({ payload: 'x', tag: 'ignored: the node has its tag' });
    await until(() => caught.length === 2);
    expect(caught.map((x) => x.error.message)).toEqual([expect.stringMatching(/not a JPEG/), expect.stringMatching(/empty/)]);
    await until(() => out.length === 3);
    expect(n.status.lastCall.args[0]).toMatchObject({ fill: 'green', text: '@gatepost_test_bot' });
  });

  test('no token: the bot stays off with a clear status; msg.tag when the node has none; invalid tags refused', async () => {
    await helper.load([botNode, notifyNode, catchNode], flow('${GATEPOST_TELEGRAM_API_URL}', ''), { b: { token: '${GATEPOST_TEST_UNSET_TOKEN}' } });
    const hub = Hub.open({ dbPath });
    const n = helper.getNode('n') as any;
    expect(alarmsOf(hub).botState()).toMatchObject({ state: 'off', error: 'no bot token' });
    expect(n.status.lastCall.args[0]).toMatchObject({ fill: 'grey', text: 'no bot token: Telegram is off' });
    const out: any[] = [];
    const caught: any[] = [];
    helper.getNode('out').on('input', (x: any) => out.push(x));
    helper.getNode('caught').on('input', (x: any) => caught.push(x));
    n.receive({ payload: 'hello', tag: 'flow' });
    n.receive({ payload: 'hello' });
    n.receive({ payload: 'hello', tag: '*' });
    await until(() => out.length === 1 && caught.length === 2);
    expect(out[0].queued).toBe(0);
    expect(tg.polls()).toBe(0);
  });
});
