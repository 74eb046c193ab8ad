/**
 * A fake Telegram Bot API server on 127.0.0.1 (on HttpEmulator): `POST|GET /bot<token>/<method>`
 * with getMe, deleteWebhook, getUpdates (long polling: waits up to `timeout` s for an update,
 * `offset` confirms), sendMessage, sendPhoto (multipart upload), answerCallbackQuery,
 * editMessageText. A wrong token answers 401; a chat that never wrote answers 400 "chat not found".
 *
 * Test controls, in-process or over HTTP under /__emulator/:
 *  - `message(chatId, text, title?)` / POST /__emulator/message {chatId, text, title}: a chat writes;
 *  - `callback(chatId, data)` / POST /__emulator/callback {chatId, data}: a button is pressed;
 *  - `sent` / GET /__emulator/sent: what the bot sent (photos with their size and JPEG check);
 *  - `answers`: the answerCallbackQuery calls;
 *  - faults: `rateLimit(n, retryAfter)` (429 with parameters.retry_after on the next n sends),
 *    `serverError(n, status)` (5xx on the next n sends), and HttpEmulator's `setFault` for hang
 *    ({hang: true}) and down ({reset: true}: connections dropped).
 */
import { HttpEmulator } from './http-emulator';

export interface SentMessage {
  id: number;
  ts: number;
  method: 'sendMessage' | 'sendPhoto' | 'editMessageText';
  chatId: number;
  text: string;
  /** sendPhoto: size of the uploaded file and whether it starts as a JPEG */
  photo?: { size: number; jpeg: boolean; filename: string };
  buttons?: Array<{ text: string; data: string }>;
}

export interface TelegramEmulator extends HttpEmulator {
  readonly token: string;
  /** the apiRoot to give the bot */
  readonly apiRoot: string;
  readonly sent: SentMessage[];
  readonly answers: Array<{ id: string; text: string | null; ts: number }>;
  message(chatId: number, text: string, title?: string): number;
  callback(chatId: number, data: string): string;
  rateLimit(count: number, retryAfterSeconds: number): void;
  serverError(count: number, status?: number): void;
  /** resolves with the first sent message (already sent or future) matching pred */
  waitForSent(pred: (m: SentMessage) => boolean, timeoutMs?: number): Promise<SentMessage>;
  /** getUpdates calls so far */
  polls(): number;
  /** the bytes of a sent photo (by the sent message's id), to decode what the chat would see */
  photoBytes(messageId: number): Buffer | undefined;
}

export interface TelegramEmulatorOptions {
  port?: number;
  token?: string;
  username?: string;
}

interface Update {
  update_id: number;
  [k: string]: unknown;
}

/** Fields of a multipart/form-data body (the file part as bytes). */
function parseMultipart(raw: Buffer, contentType: string): Map<string, { value: Buffer; filename?: string }> {
  const out = new Map<string, { value: Buffer; filename?: string }>();
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) return out;
  const sep = Buffer.from(`--${m[1] ?? m[2]}`);
  let pos = raw.indexOf(sep);
  while (pos >= 0) {
    const start = pos + sep.length;
    if (raw.slice(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(sep, start);
    if (next < 0) break;
    const part = raw.slice(start + 2, next - 2); // after CRLF, before CRLF
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd >= 0) {
      const head = part.slice(0, headEnd).toString('utf8');
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      const filename = /filename="([^"]*)"/i.exec(head)?.[1];
      if (name) out.set(name, { value: part.slice(headEnd + 4), filename });
    }
    pos = next;
  }
  return out;
}

export async function startTelegramEmulator(opts: TelegramEmulatorOptions = {}): Promise<TelegramEmulator> {
  const token = opts.token ?? '123456789:AAFakeTokenForTheGatepostEmulator00000';
  const me = { id: Number(token.split(':')[0]) || 123456789, is_bot: true, first_name: 'Gatepost', username: opts.username ?? 'gatepost_test_bot' };
  const updates: Update[] = [];
  const waiters = new Set<{ resolve: () => void; timer: NodeJS.Timeout }>();
  const chats = new Map<number, { title: string }>();
  const sent: SentMessage[] = [];
  const answers: Array<{ id: string; text: string | null; ts: number }> = [];
  const sentListeners = new Set<(m: SentMessage) => void>();
  const photoData = new Map<number, Buffer>();
  let nextUpdate = 1;
  let nextMessage = 1000;
  let pollCount = 0;
  let limit429: { count: number; retryAfter: number } | null = null;
  let limit5xx: { count: number; status: number } | null = null;
  const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
  const fail = (code: number, description: string, extra: Record<string, unknown> = {}) => json(code, { ok: false, error_code: code, description, ...extra });
  const ok = (result: unknown) => json(200, { ok: true, result });

  const wake = () => {
    for (const w of [...waiters]) {
      clearTimeout(w.timer);
      waiters.delete(w);
      w.resolve();
    }
  };
  const push = (u: Omit<Update, 'update_id'>) => {
    const upd = { update_id: nextUpdate++, ...u };
    updates.push(upd);
    wake();
    return upd;
  };
  const chatOf = (chatId: number) => {
    const c = chats.get(chatId) ?? { title: `Chat ${chatId}` };
    return chatId > 0 ? { id: chatId, type: 'private', first_name: c.title } : { id: chatId, type: 'group', title: c.title };
  };
  const record = (m: Omit<SentMessage, 'id' | 'ts'>) => {
    const s: SentMessage = { id: nextMessage++, ts: Date.now(), ...m };
    sent.push(s);
    for (const l of [...sentListeners]) l(s);
    return s;
  };

  const emu = new HttpEmulator('telegram', async (req, body, url, raw) => {
    const pm = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
    if (!pm) return fail(404, 'Not Found');
    if (decodeURIComponent(pm[1]) !== token) return fail(401, 'Unauthorized');
    const method = pm[2];
    const ct = String(req.headers['content-type'] ?? '');
    let p: Record<string, any> = {};
    let photo: { value: Buffer; filename?: string } | undefined;
    if (ct.startsWith('multipart/form-data')) {
      const parts = parseMultipart(raw, ct);
      for (const [k, v] of parts) {
        if (v.filename !== undefined) {
          if (k === 'photo') photo = v;
          continue;
        }
        const s = v.value.toString('utf8');
        try {
          p[k] = /^[[{]/.test(s) ? JSON.parse(s) : s;
        } catch {
          p[k] = s;
        }
      }
      // grammy names the attachment and refers to it: photo = "attach://<id>"
      if (!photo && typeof p.photo === 'string' && p.photo.startsWith('attach://')) photo = parts.get(p.photo.slice(9));
    } else if (body) {
      try {
        p = JSON.parse(body);
      } catch {
        return fail(400, 'Bad Request: body is not JSON');
      }
    }
    for (const [k, v] of url.searchParams) p[k] ??= v;

    const isSend = method === 'sendMessage' || method === 'sendPhoto' || method === 'editMessageText';
    if (isSend && limit429 && limit429.count > 0) {
      limit429.count -= 1;
      const ra = limit429.retryAfter;
      if (limit429.count <= 0) limit429 = null;
      return fail(429, `Too Many Requests: retry after ${ra}`, { parameters: { retry_after: ra } });
    }
    if (isSend && limit5xx && limit5xx.count > 0) {
      limit5xx.count -= 1;
      const st = limit5xx.status;
      if (limit5xx.count <= 0) limit5xx = null;
      return fail(st, 'Internal Server Error');
    }

    switch (method) {
      case 'getMe':
        return ok(me);
      case 'deleteWebhook':
      case 'setMyCommands':
        return ok(true);
      case 'getUpdates': {
        pollCount += 1;
        const offset = Number(p.offset) || 0;
        if (offset > 0) while (updates.length && updates[0].update_id < offset) updates.shift();
        const timeout = Math.min(50, Math.max(0, Number(p.timeout) || 0));
        if (!updates.length && timeout > 0) {
          await new Promise<void>((resolve) => {
            const w = { resolve, timer: setTimeout(() => (waiters.delete(w), resolve()), timeout * 1000) };
            waiters.add(w);
          });
        }
        const lim = Math.max(1, Math.min(100, Number(p.limit) || 100));
        return ok(updates.slice(0, lim));
      }
      case 'sendMessage':
      case 'sendPhoto':
      case 'editMessageText': {
        const chatId = Number(p.chat_id);
        if (!chats.has(chatId)) return fail(400, 'Bad Request: chat not found');
        const text = String(method === 'sendPhoto' ? (p.caption ?? '') : (p.text ?? ''));
        if (method !== 'sendPhoto' && !text) return fail(400, 'Bad Request: message text is empty');
        if (method === 'sendPhoto' && !photo) return fail(400, 'Bad Request: there is no photo in the request');
        const kb = p.reply_markup?.inline_keyboard;
        const buttons = Array.isArray(kb) ? kb.flat().map((b: any) => ({ text: String(b.text), data: String(b.callback_data ?? '') })) : undefined;
        const s = record({
          method: method as SentMessage['method'],
          chatId,
          text,
          photo: photo ? { size: photo.value.length, jpeg: photo.value[0] === 0xff && photo.value[1] === 0xd8, filename: photo.filename ?? '' } : undefined,
          buttons,
        });
        if (photo) photoData.set(s.id, photo.value);
        return ok({ message_id: s.id, date: Math.floor(s.ts / 1000), chat: chatOf(chatId), text, ...(buttons ? { reply_markup: p.reply_markup } : {}) });
      }
      case 'answerCallbackQuery':
        answers.push({ id: String(p.callback_query_id), text: p.text ?? null, ts: Date.now() });
        return ok(true);
      default:
        return fail(404, `Not Found: method ${method}`);
    }
  }) as TelegramEmulator;

  const api = {
    token,
    sent,
    answers,
    photoBytes: (id: number) => photoData.get(id),
    message(chatId: number, text: string, title?: string): number {
      chats.set(chatId, { title: title ?? chats.get(chatId)?.title ?? `Chat ${chatId}` });
      const chat = chatOf(chatId);
      const from = { id: Math.abs(chatId), is_bot: false, first_name: chats.get(chatId)!.title };
      const entities = text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0].length }] : undefined;
      return push({ message: { message_id: nextMessage++, date: Math.floor(Date.now() / 1000), chat, from, text, ...(entities ? { entities } : {}) } }).update_id;
    },
    callback(chatId: number, data: string): string {
      const id = `cb${nextUpdate}`;
      const chat = chatOf(chatId);
      const from = { id: Math.abs(chatId), is_bot: false, first_name: chats.get(chatId)?.title ?? `Chat ${chatId}` };
      push({ callback_query: { id, from, chat_instance: `ci${chatId}`, data, message: { message_id: nextMessage++, date: Math.floor(Date.now() / 1000), chat, text: '…' } } });
      return id;
    },
    rateLimit(count: number, retryAfter: number): void {
      limit429 = { count, retryAfter };
    },
    serverError(count: number, status = 502): void {
      limit5xx = { count, status };
    },
    waitForSent(pred: (m: SentMessage) => boolean, timeoutMs = 10_000): Promise<SentMessage> {
      const found = sent.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const l = (m: SentMessage) => {
          if (!pred(m)) return;
          clearTimeout(t);
          sentListeners.delete(l);
          resolve(m);
        };
        const t = setTimeout(() => {
          sentListeners.delete(l);
          reject(new Error(`telegram emulator: no matching message sent within ${timeoutMs} ms (sent: ${sent.map((s) => JSON.stringify(s.text.slice(0, 60))).join(', ')})`));
        }, timeoutMs);
        sentListeners.add(l);
      });
    },
    polls: () => pollCount,
  };
  Object.assign(emu, api);
  Object.defineProperty(emu, 'apiRoot', { get: () => emu.url });

  emu.extraControl = (method, url, body) => {
    let b: any = {};
    try {
      b = body ? JSON.parse(body) : {};
    } catch {
      return { status: 400, body: JSON.stringify({ errors: ['body must be JSON'] }) };
    }
    if (url.pathname === '/__emulator/message' && method === 'POST') {
      if (!Number.isInteger(b.chatId) || typeof b.text !== 'string') return { status: 400, body: JSON.stringify({ errors: ['chatId (integer) and text required'] }) };
      return { status: 200, body: JSON.stringify({ updateId: api.message(b.chatId, b.text, b.title) }) };
    }
    if (url.pathname === '/__emulator/callback' && method === 'POST') {
      if (!Number.isInteger(b.chatId) || typeof b.data !== 'string') return { status: 400, body: JSON.stringify({ errors: ['chatId (integer) and data required'] }) };
      return { status: 200, body: JSON.stringify({ id: api.callback(b.chatId, b.data) }) };
    }
    if (url.pathname === '/__emulator/sent') return { status: 200, body: JSON.stringify(sent) };
    if (url.pathname === '/__emulator/ratelimit' && method === 'POST') {
      api.rateLimit(Number(b.count) || 1, Number(b.retryAfter) || 1);
      return { status: 200, body: '{}' };
    }
    return undefined;
  };
  const close = emu.close.bind(emu);
  emu.close = async () => {
    wake();
    await close();
  };
  return emu.listen(opts.port ?? 0);
}
