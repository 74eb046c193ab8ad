/**
 * The Telegram side of the alarm service: a grammy bot on long polling that
 *  - passes every chat message and button press to `alarmsOf(hub)` (verification codes, /status,
 *    /open with its confirmation button, answerCallbackQuery) and sends the replies;
 *  - delivers the durable outbox as the service's transport (sendMessage, sendPhoto multipart),
 *    mapping Telegram's answers to retry decisions (429 retry_after, 5xx/network: backoff,
 *    other 4xx: refused).
 * The bot token is never logged: every error text goes through `redactToken` (grammy's and
 * node-fetch's errors may carry the URL `…/bot<token>/method`). Started by the `telegram-bot`
 * config node; a failed start (API unreachable) is retried; a refused token (401) stops it.
 */
import type { Bot, HttpError } from 'grammy';
import type * as Grammy from 'grammy';
import { lazy } from '../core/lazy';

/** grammy, loaded when a bot starts (not at all while no bot is configured) */
const grammy = lazy((): typeof Grammy => require('grammy'));
import type { Hub } from './hub';
import { alarmsOf, AlertTransport, BotReply, TransportError } from './alarm-service';
import { redactUrl } from '../devices/http';

export const DEFAULT_API_ROOT = 'https://api.telegram.org';

/** grammy types its AbortSignal with the abort-controller shim; Node's own signal works at runtime */
type GrammySignal = Parameters<Bot['api']['getMe']>[0];
const sig = (s: AbortSignal): GrammySignal => s as unknown as GrammySignal;
type FetchConfig = NonNullable<NonNullable<ConstructorParameters<typeof Bot>[1]>['client']>['baseFetchConfig'];

/** The inner error of grammy's HttpError (node-fetch's, which may carry the URL with the token). */
function innerError(err: unknown): string {
  if (!(err instanceof grammy().HttpError)) return '';
  const inner = (err as HttpError).error;
  return inner instanceof Error ? inner.message : inner === undefined ? '' : String(inner);
}

export interface TelegramBotOptions {
  token: string;
  /** Bot API root (default Telegram's; a self-hosted Bot API server or the emulator) */
  apiRoot?: string;
  /** http(s) proxy URL for the Bot API */
  proxy?: string;
  /** long polling timeout, s (default 25) */
  pollSeconds?: number;
  /** one send's timeout, ms (default 15000) */
  sendTimeoutMs?: number;
  /** delay before a failed start is retried, ms (default 10000) */
  restartMs?: number;
}

/** Removes a bot token from any text (URLs `…/bot<token>/…`, the token itself). */
export function redactToken(text: string, token?: string): string {
  let s = String(text ?? '');
  if (token) s = s.split(token).join('***');
  return s.replace(/bot\d{3,}:[A-Za-z0-9_-]{10,}/g, 'bot***').replace(/\b\d{5,}:[A-Za-z0-9_-]{30,}\b/g, '***');
}

/** A proxy agent for node-fetch (https-proxy-agent, a dependency of ours; loaded only when a proxy is set). */
function proxyAgent(proxy: string): unknown {
  const mod = require('https-proxy-agent');
  const Agent = mod.HttpsProxyAgent ?? mod.default ?? mod;
  return typeof Agent === 'function' && Agent.prototype ? new Agent(proxy) : Agent(proxy);
}

export class TelegramBot implements AlertTransport {
  private bot: Bot | null = null;
  private detach: (() => void) | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private aborter: AbortController | null = null;
  readonly apiRoot: string;

  constructor(
    private readonly hub: Hub,
    private readonly opts: TelegramBotOptions,
  ) {
    this.apiRoot = (opts.apiRoot || DEFAULT_API_ROOT).replace(/\/+$/, '');
  }

  private redact(err: unknown): string {
    let text = err instanceof Error ? err.message : String(err);
    const inner = innerError(err);
    if (inner) text += `: ${inner}`;
    return redactToken(text, this.opts.token);
  }

  private log(level: 'info' | 'warn' | 'error', msg: string): void {
    this.hub.logger[level](`telegram: ${redactToken(msg, this.opts.token)}`);
  }

  /** Starts long polling (returns at once; state in alarmsOf(hub).botState()). */
  start(): void {
    if (this.running || this.stopped) return;
    const svc = alarmsOf(this.hub);
    let agent: unknown;
    if (this.opts.proxy) {
      try {
        agent = proxyAgent(this.opts.proxy);
      } catch (err) {
        svc.setBotState({ state: 'error', username: null, error: `proxy: ${this.redact(err)}` });
        this.log('error', `proxy ${redactUrl(this.opts.proxy)} not usable: ${this.redact(err)}`);
        return;
      }
    }
    const pollSeconds = this.opts.pollSeconds ?? 25;
    const bot = new (grammy().Bot)(this.opts.token, {
      client: { apiRoot: this.apiRoot, timeoutSeconds: pollSeconds + 15, baseFetchConfig: agent ? ({ agent, compress: true } as unknown as FetchConfig) : undefined },
    });
    this.bot = bot;
    bot.on('message', async (ctx) => {
      const chat = ctx.chat;
      const title =
        chat.type === 'private' ? [ctx.from?.first_name, ctx.from?.last_name].filter(Boolean).join(' ') || ctx.from?.username || String(chat.id) : ('title' in chat && chat.title) || String(chat.id);
      const reply = await svc.onMessage({ chatId: chat.id, title }, ctx.message.text ?? ctx.message.caption ?? '');
      if (reply) await this.reply(chat.id, reply);
    });
    bot.on('callback_query:data', async (ctx) => {
      const chat = ctx.chat;
      if (!chat) return void (await ctx.answerCallbackQuery());
      const title = 'title' in chat && chat.title ? chat.title : [ctx.from.first_name, ctx.from.last_name].filter(Boolean).join(' ') || String(chat.id);
      const r = await svc.onCallback({ chatId: chat.id, title }, ctx.callbackQuery.data);
      await ctx.answerCallbackQuery({ text: r.answer });
      if (r.reply) await this.reply(chat.id, { text: r.reply });
    });
    bot.catch((err) => this.log('error', `update ${err.ctx?.update?.update_id ?? '?'} failed: ${this.redact(err.error)}`));

    svc.setBotState({ state: 'starting', username: null, error: null });
    this.detach?.();
    this.detach = svc.attach(this);
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    this.running = (async () => {
      // getMe here (not grammy's init, which retries for ever and cannot be stopped): a failure is shown and retried
      const me = await bot.api.getMe(sig(AbortSignal.any([signal, AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000)])));
      bot.botInfo = me;
      await bot.start({
        timeout: pollSeconds,
        drop_pending_updates: false,
        onStart: (info) => {
          svc.setBotState({ state: 'running', username: info.username ?? null, error: null });
          this.log('info', `bot @${info.username} polling ${redactUrl(this.apiRoot)}`);
        },
      });
    })()
      .catch((err) => {
        if (this.stopped) return;
        const refused = err instanceof grammy().GrammyError && (err.error_code === 401 || err.error_code === 404);
        const msg = this.redact(err);
        svc.setBotState({ state: 'error', username: null, error: refused ? `token refused: ${msg}` : msg });
        this.log(refused ? 'error' : 'warn', `${refused ? 'token refused, bot stopped' : 'not connected, retrying'}: ${msg}`);
        if (!refused) {
          this.restartTimer = setTimeout(() => {
            this.restartTimer = null;
            this.running = null;
            this.bot = null;
            this.start();
          }, this.opts.restartMs ?? 10_000);
          this.restartTimer.unref();
        }
      })
      .finally(() => {
        if (!this.restartTimer) this.running = null;
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.detach?.();
    this.detach = null;
    this.aborter?.abort();
    const bot = this.bot;
    if (bot?.isRunning()) {
      await Promise.race([bot.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    }
    await Promise.race([this.running ?? Promise.resolve(), new Promise((r) => setTimeout(r, 3000).unref())]);
    if (!this.hub.isClosed) alarmsOf(this.hub).setBotState({ state: 'off', username: null, error: null });
  }

  private async reply(chatId: number, r: BotReply): Promise<void> {
    try {
      const kb = r.buttons?.length ? grammy().InlineKeyboard.from([r.buttons.map((b) => grammy().InlineKeyboard.text(b.text, b.data))]) : undefined;
      await this.bot!.api.sendMessage(chatId, r.text, kb ? { reply_markup: kb } : undefined, sig(AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000)));
    } catch (err) {
      this.log('warn', `reply to chat ${chatId} failed: ${this.redact(err)}`);
    }
  }

  /** The outbox transport: a text, or a photo with the text as caption. */
  async send(chatId: number, text: string, image: Buffer | null): Promise<void> {
    const bot = this.bot;
    if (!bot) throw new TransportError('bot not started');
    const signal = sig(AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000));
    try {
      if (image) await bot.api.sendPhoto(chatId, new (grammy().InputFile)(image, 'alert.jpg'), { caption: text.slice(0, 1024) }, signal);
      else await bot.api.sendMessage(chatId, text, undefined, signal);
      const st = alarmsOf(this.hub).botState();
      if (st.state === 'error' && bot.isRunning()) alarmsOf(this.hub).setBotState({ state: 'running', username: st.username ?? bot.botInfo?.username ?? null, error: null });
    } catch (err) {
      const msg = this.redact(err);
      if (!(err instanceof grammy().GrammyError) || err.error_code >= 500) {
        const st = alarmsOf(this.hub).botState();
        alarmsOf(this.hub).setBotState({ state: 'error', username: st.username, error: `Bot API unreachable: ${msg}` });
      }
      if (err instanceof grammy().GrammyError) {
        if (err.error_code === 429) throw new TransportError(msg, Math.max(1, Number(err.parameters?.retry_after) || 5) * 1000);
        if (err.error_code >= 500) throw new TransportError(msg);
        if (err.error_code === 401) throw new TransportError(msg);
        throw new TransportError(msg, null, true);
      }
      throw new TransportError(msg);
    }
  }
}

/** The doctor's check: getMe against the API root. Resolves with the bot's username or rejects with a redacted error. */
export async function telegramGetMe(token: string, apiRoot: string | undefined, timeoutMs: number): Promise<string> {
  const bot = new (grammy().Bot)(token, { client: { apiRoot: (apiRoot || DEFAULT_API_ROOT).replace(/\/+$/, ''), timeoutSeconds: Math.ceil(timeoutMs / 1000) } });
  try {
    const me = await bot.api.getMe(sig(AbortSignal.timeout(timeoutMs)));
    return me.username ?? String(me.id);
  } catch (err) {
    let text = err instanceof Error ? err.message : String(err);
    const inner = innerError(err);
    if (inner) text += `: ${inner}`;
    throw new Error(redactToken(text, token));
  }
}
