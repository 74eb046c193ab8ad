/**
 * `telegram-bot` config node: the bot token (credential; `${VAR}` or GATEPOST_TELEGRAM_BOT_TOKEN
 * when empty), the Bot API root (default Telegram's; `${GATEPOST_TELEGRAM_API_URL}` in the shipped
 * flow) and an optional http(s) proxy. It runs the grammy bot on long polling
 * (src/services/telegram-bot.ts) that verifies chats, answers their commands and delivers the alarm
 * service's outbox. Without a token the bot stays off (logged; the «Оповещения» page and the
 * telegram-notify nodes say so). The token is never logged.
 */
import type { NodeAPI } from 'node-red';
import { hubFor } from '../common/hub';
import { credentialProp, textProp } from '../common/env';
import { translator } from '../common/node-base';
import { TelegramBot } from '../../src/services/telegram-bot';
import { alarmsOf } from '../../src/services/alarm-service';
import { redactUrl } from '../../src/devices/http';

import type { TelegramBotNode } from './bot-node';

interface TelegramBotDef {
  id: string;
  name?: string;
  apiRoot?: string;
  proxy?: string;
}

function httpUrl(v: string | undefined): string | null | undefined {
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? v : null;
  } catch {
    return null;
  }
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function TelegramBotConfig(this: TelegramBotNode, config: TelegramBotDef) {
    RED.nodes.createNode(this, config as any);
    const node = this;
    const hub = hubFor(RED);
    const creds = ((node as any).credentials ?? {}) as { token?: string };
    const token = credentialProp(creds.token, 'GATEPOST_TELEGRAM_BOT_TOKEN');
    const apiRoot = httpUrl(textProp(config.apiRoot));
    const proxy = httpUrl(textProp(config.proxy));
    let bot: TelegramBot | null = null;
    node.offReason = '';
    if (!token) {
      node.offReason = t('telegram-bot.off.noToken', 'no bot token: Telegram is off');
      node.log(node.offReason);
      alarmsOf(hub).setBotState({ state: 'off', username: null, error: 'no bot token' });
    } else if (apiRoot === null || proxy === null) {
      node.offReason = t('telegram-bot.off.badUrl', 'API root or proxy is not an http(s) URL');
      node.error(`telegram-bot: ${node.offReason}: ${redactUrl(String(config.apiRoot ?? ''))} ${redactUrl(String(config.proxy ?? ''))}`);
      alarmsOf(hub).setBotState({ state: 'error', username: null, error: node.offReason });
    } else if (!/^\d{3,}:[A-Za-z0-9_-]{10,}$/.test(token)) {
      node.offReason = t('telegram-bot.off.badToken', 'the bot token does not look like one (123456:ABC…)');
      node.error(`telegram-bot: ${node.offReason}`);
      alarmsOf(hub).setBotState({ state: 'error', username: null, error: node.offReason });
    } else {
      const poll = Number(process.env.GATEPOST_TELEGRAM_POLL_S);
      bot = new TelegramBot(hub, { token, apiRoot, proxy, pollSeconds: Number.isInteger(poll) && poll > 0 && poll <= 50 ? poll : undefined });
      bot.start();
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      if (!bot) return done();
      bot
        .stop()
        .catch((err) => node.error(`telegram-bot: stop failed: ${(err as Error).message}`))
        .finally(() => done());
    });
  }

  RED.nodes.registerType('telegram-bot', TelegramBotConfig as any, {
    credentials: { token: { type: 'password' } },
  });
};
