/**
 * `alarmsOf(hub)`: the one alarm service. It turns what happens on the hub into alerts (the model
 * and the rules are pure, in src/core/alarms.ts):
 *  - 'event' with decision 'denied' → 'plate-refused' (per gate, optionally only in set hours);
 *  - 'gate-state' open/held longer than N minutes → 'gate-held';
 *  - 'alarm' (gate fault, degraded devices: relay, intercom, camera, SQL Server, FTP…, E-Poselok,
 *    and every FeatureAlarm: iVMS after hours, …) → its alert;
 *  - 'eposelok-state' without a good sync for N hours → 'eposelok-stale';
 *  - 'camera-motion' (start, with its snapshot) → 'camera-motion'.
 * Every alert is stored (history, its image), emitted as 'alert' (the dashboard's live stream) and
 * queued in the durable outbox (sqlite) for each verified chat subscribed to its type, through the
 * flood control (N a minute, repeats grouped, quiet hours). The outbox is delivered in order by the
 * attached transport (the `telegram-bot` node: src/services/telegram-bot.ts), retried with backoff
 * on network errors and 5xx, after `retry_after` on 429, dropped (logged) after the configured age.
 *
 * Chats: an unknown chat gets a one-time 6-digit code only; the admin confirms it on the dashboard
 * (`confirm`), choosing the chat's types and role; `revoke` stops everything at once. Verified chats
 * of role admin/guard with commands on may use /status and /open <gate> (confirmed by a button),
 * executed through gatesOf(hub) with source { kind: 'telegram', actor: chat title }.
 */
import * as crypto from 'crypto';
import type { Hub, Service } from './hub';
import {
  Alert,
  alertOfAlarm,
  AlarmLike,
  alertText,
  ALL_TYPES,
  AlertSettings,
  AttemptLimiter,
  ChatLimits,
  ChatRole,
  CHAT_ROLES,
  DEFAULT_ALERT_SETTINGS,
  FloodControl,
  groupText,
  HeldOpenWatch,
  isAlertTag,
  localMinute,
  localStamp,
  minutesOf,
  parseAlertSettings,
  refusedAlerts,
  StaleWatch,
  typeLabel,
} from '../core/alarms';
import { AlertRow, AlertsStore, ChatRow } from '../store/alerts-store';
import { gatesOf, GateError } from './gate-service';
import { degradedOf } from './degraded';
import type { EposelokState } from './eposelok-service';

/** What the dashboard's stream carries for an alert (the image is fetched by id). */
export interface AlertEvent {
  id: number;
  type: string;
  severity: string;
  subject: string;
  ts: number;
  message: string;
  hasImage: boolean;
}

/** A delivery failure: `retryAfterMs` (429), `permanent` (the chat is gone, the message is refused), else retried with backoff. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly permanent = false,
  ) {
    super(message);
  }
}

/** Sends to a chat (the telegram-bot node attaches one). */
export interface AlertTransport {
  send(chatId: number, text: string, image: Buffer | null): Promise<void>;
}

export interface BotState {
  state: 'off' | 'starting' | 'running' | 'error';
  username: string | null;
  error: string | null;
  since: number;
}

/** A reply of the bot to a chat: text and optional inline buttons (callback data). */
export interface BotReply {
  text: string;
  buttons?: Array<{ text: string; data: string }>;
}

export interface ChatView {
  chatId: number;
  title: string;
  state: ChatRow['state'];
  role: ChatRole;
  types: string[];
  commands: boolean;
  quietFrom: string | null;
  quietTo: string | null;
  codePending: boolean;
  createdAt: number;
  verifiedAt: number | null;
  verifiedBy: string | null;
  revokedAt: number | null;
}

export interface ChatOptions {
  role?: unknown;
  types?: unknown;
  commands?: unknown;
  quietFrom?: unknown;
  quietTo?: unknown;
}

export class AlertError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const hash = (code: string) => crypto.createHash('sha256').update(`gatepost-alerts:${code}`).digest('hex');
const BACKOFF_MAX_MS = 60_000;
const CONFIRM_MS = 2 * 60_000;
const TICK_MS = 1000;
/** pending + revoked chats kept at most (strangers writing to the bot) */
const MAX_UNVERIFIED = 200;

export class AlarmService implements Service {
  private store: AlertsStore | null = null;
  private settings: AlertSettings = DEFAULT_ALERT_SETTINGS;
  private chats = new Map<number, ChatRow>();
  private flood = new FloodControl();
  private held = new HeldOpenWatch();
  private stale: StaleWatch;
  private limiter = new AttemptLimiter(5, 10 * 60_000);
  private transport: AlertTransport | null = null;
  private bot: BotState;
  private offs: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  /** 429: nothing is sent before this */
  private pausedUntil = 0;
  private lastEposelok: EposelokState | null = null;
  private confirms = new Map<string, { chatId: number; gate: string; expires: number }>();
  private lastPrune = 0;
  private lastFullWarn = 0;
  private closed = false;
  private loaded: Promise<void>;
  private resolveLoaded!: () => void;

  constructor(private readonly hub: Hub) {
    this.stale = new StaleWatch(hub.clock.now());
    this.bot = { state: 'off', username: null, error: null, since: hub.clock.now() };
    this.loaded = new Promise((r) => (this.resolveLoaded = r));
    const h = this.hub;
    this.offs.push(
      h.on('event', (e) => {
        if (e.decision !== 'denied' || (e as { kind?: string }).kind === 'fallback') return;
        if (!refusedAlerts(this.settings, e.gate, localMinute(e.ts, h.timezone))) return;
        const gate = e.gate ? (gatesOf(h).get(e.gate)?.name ?? e.gate) : '';
        const plate = e.plate || e.raw || '?';
        const msg = this.settings.lang === 'en' ? `${plate}${gate ? ` at ${gate}` : ''}: ${e.reason}` : `${plate}${gate ? ` — ${gate}` : ''}: ${e.reason}`;
        this.fire({ type: 'plate-refused', severity: 'warning', subject: plate, ts: e.ts, message: msg });
      }),
      h.on('gate-state', (s) => this.held.state(s, h.clock.now())),
      h.on('alarm', (a) => {
        const alert = alertOfAlarm(a as AlarmLike);
        if (alert) this.fire(alert);
      }),
      h.on('eposelok-state', (s) => {
        this.lastEposelok = s;
        this.stale.state(s);
      }),
      h.on('camera-motion', (m) => {
        if (!m || !m.on || !this.settings.motion) return;
        const en = this.settings.lang === 'en';
        this.fire({
          type: 'camera-motion',
          severity: 'info',
          subject: String(m.camera),
          ts: Number(m.ts) || h.clock.now(),
          message: en ? `motion on camera ${m.camera}` : `движение на камере ${m.camera}`,
          image: Buffer.isBuffer(m.snapshot) ? m.snapshot : undefined,
        });
      }),
    );
  }

  async init(): Promise<void> {
    try {
      const db = await this.hub.db();
      this.store = new AlertsStore(db);
      const saved = await this.store.loadSettings();
      if (saved) {
        const r = parseAlertSettings(saved);
        this.settings = r.value;
        if (r.problems.length) this.hub.logger.warn(`alerts: stored settings partly invalid (${r.problems.join('; ')}), defaults used for those`);
      }
      for (const c of await this.store.chats()) this.chats.set(c.chatId, c);
    } finally {
      this.resolveLoaded();
    }
    for (const g of gatesOf(this.hub).list()) this.held.state(g, this.hub.clock.now());
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const off of this.offs) off();
    await this.pumping?.catch(() => undefined);
  }

  // ───────────────────────── settings ─────────────────────────

  getSettings(): AlertSettings {
    return JSON.parse(JSON.stringify(this.settings));
  }

  async updateSettings(input: unknown): Promise<AlertSettings> {
    await this.loaded;
    const r = parseAlertSettings(input, this.settings);
    if (r.problems.length) throw new AlertError(r.problems.join('; '), 400);
    await this.requireStore().saveSettings(r.value);
    this.settings = r.value;
    return this.getSettings();
  }

  // ───────────────────────── alerts ─────────────────────────

  /** Raises an alert: stored, shown, queued for the subscribed chats. Resolves with its id (0 when it could not be stored). */
  async raise(a: Alert): Promise<number> {
    await this.loaded;
    if (this.closed) return 0;
    let id = 0;
    try {
      id = this.store ? await this.store.addAlert(a) : 0;
    } catch (err) {
      this.hub.logger.error(`alerts: ${a.type} not stored: ${(err as Error).message}`);
    }
    const ev: AlertEvent = { id, type: a.type, severity: a.severity, subject: a.subject, ts: a.ts, message: a.message, hasImage: !!a.image };
    this.hub.emit('alert', ev);
    const text = alertText(a, this.settings.lang, this.hub.timezone);
    await this.fanOut(a.type, a.severity, (chat) => ({ chatId: chat.chatId, alertId: id || null, createdAt: a.ts, text, image: a.image ?? null }));
    return id;
  }

  /** raise() from a bus listener or the tick: a failure is logged, never an unhandled rejection */
  private fire(a: Alert): void {
    this.raise(a).catch((err) => this.hub.logger.error(`alerts: ${a.type} (${a.subject}) failed: ${(err as Error).message}`));
  }

  /** A flow's message (`telegram-notify`) to the verified chats subscribed to `tag`; resolves with the number of chats it was queued for. */
  async notify(tag: string, text: string, image: Buffer | null, severity: Alert['severity'] = 'info'): Promise<number> {
    await this.loaded;
    if (!isAlertTag(tag) || tag === ALL_TYPES) throw new AlertError(`invalid subscription tag "${tag}"`, 400);
    const now = this.hub.clock.now();
    const body = `${text.slice(0, image ? 1000 : 3900)}\n🕒 ${localStamp(now, this.hub.timezone)}`;
    return this.fanOut(tag, severity, (chat) => ({ chatId: chat.chatId, alertId: null, createdAt: now, text: body, image }), false);
  }

  /**
   * A message a user sends on purpose to one verified chat (a QR guest pass to the guest's chat):
   * through the durable outbox, outside the alarm types and the flood control. 404 for a chat that
   * is unknown or not verified. Resolves once queued.
   */
  async sendTo(chatId: number, text: string, image: Buffer | null): Promise<void> {
    await this.loaded;
    const chat = this.chats.get(chatId);
    if (!chat || chat.state !== 'verified') throw new AlertError(`no verified chat ${chatId}`, 404);
    const store = this.requireStore();
    await store.enqueue([{ chatId, alertId: null, createdAt: this.hub.clock.now(), text: text.slice(0, image ? 1024 : 4000), image }]);
    this.kick();
  }

  /** The verified chats as a picker shows them (any user may choose one to send a pass to). */
  async verifiedChats(): Promise<Array<{ chatId: number; title: string; role: ChatRole }>> {
    await this.loaded;
    return [...this.chats.values()].filter((c) => c.state === 'verified').map((c) => ({ chatId: c.chatId, title: c.title, role: c.role }));
  }

  private async fanOut(
    type: string,
    severity: Alert['severity'],
    item: (c: ChatRow) => { chatId: number; alertId: number | null; createdAt: number; text: string; image: Buffer | null },
    repeats = true,
  ): Promise<number> {
    const now = this.hub.clock.now();
    const items = [];
    for (const chat of this.chats.values()) {
      if (chat.state !== 'verified' || !(chat.types.includes(ALL_TYPES) || chat.types.includes(type))) continue;
      if (this.flood.offer(chat.chatId, { type, severity }, now, this.limitsOf(chat, now), repeats) === 'send') items.push(item(chat));
    }
    await this.queue(items);
    return items.length;
  }

  private async queue(items: Array<{ chatId: number; alertId: number | null; createdAt: number; text: string; image: Buffer | null }>): Promise<void> {
    if (!items.length || !this.store) return;
    try {
      await this.store.enqueue(items);
    } catch (err) {
      this.hub.logger.error(`alerts: ${items.length} message(s) not queued: ${(err as Error).message}`);
      return;
    }
    this.kick();
  }

  private limitsOf(chat: ChatRow, now: number): ChatLimits {
    const q = chat.quietFrom && chat.quietTo ? { from: minutesOf(chat.quietFrom), to: minutesOf(chat.quietTo) } : null;
    return { perMinute: this.settings.perMinute, groupMs: this.settings.groupMinutes * 60_000, quiet: q, minute: localMinute(now, this.hub.timezone) };
  }

  async recent(limit = 50): Promise<AlertRow[]> {
    await this.loaded;
    return this.requireStore().recentAlerts(Math.max(1, Math.min(500, limit)));
  }
  async image(id: number): Promise<Buffer | null> {
    await this.loaded;
    return this.requireStore().alertImage(id);
  }

  // ───────────────────────── outbox ─────────────────────────

  /** The transport that delivers the outbox (one at a time; the last attached wins). */
  attach(t: AlertTransport): () => void {
    this.transport = t;
    this.kick();
    return () => {
      if (this.transport === t) this.transport = null;
    };
  }

  /** The bot's state; an error (Bot API unreachable, token refused) is listed in degradedOf(hub) as 'telegram' (no alarm: it could not be delivered anyway). */
  setBotState(s: Omit<BotState, 'since'>): void {
    if (s.state !== this.bot.state || s.error !== this.bot.error || s.username !== this.bot.username) this.bot = { ...s, since: this.hub.clock.now() };
    if (this.closed) return;
    if (s.state === 'error') degradedOf(this.hub).set('telegram', s.error ?? 'error', { alarm: false });
    else if (s.state === 'running' || s.state === 'off') degradedOf(this.hub).clear('telegram');
  }
  botState(): BotState {
    return { ...this.bot };
  }

  async outbox(limit = 50) {
    await this.loaded;
    const st = this.requireStore();
    return { stats: await st.outboxStats(), recent: await st.recentOutbox(Math.max(1, Math.min(500, limit))), pausedUntil: this.pausedUntil || null, bot: this.botState() };
  }

  /** Delivers what is due now; resolves when this round is done (tests). */
  kick(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      try {
        do {
          this.pumpAgain = false;
          await this.pump();
        } while (this.pumpAgain && !this.closed);
      } catch (err) {
        this.hub.logger.error(`alerts: outbox: ${(err as Error).message}`);
      } finally {
        this.pumping = null;
      }
    })();
    return this.pumping;
  }

  private async pump(): Promise<void> {
    const store = this.store;
    if (!store || this.closed) return;
    const blocked = new Set<number>();
    for (;;) {
      const t = this.transport;
      if (!t || this.closed) return;
      const rows = await store.pending(200);
      let progressed = false;
      for (const row of rows) {
        const now = this.hub.clock.now();
        if (this.pausedUntil > now) return;
        if (blocked.has(row.chatId)) continue;
        const chat = this.chats.get(row.chatId);
        if (!chat || chat.state === 'revoked') {
          await store.markDone(row.id, 'dropped', now, 'chat not verified');
          continue;
        }
        if (now - row.createdAt > this.settings.maxAgeHours * 3_600_000) {
          this.hub.logger.warn(
            `alerts: message ${row.id} to chat ${row.chatId} dropped: not delivered for ${Math.round((now - row.createdAt) / 60000)} min (limit ${this.settings.maxAgeHours} h; last error: ${row.lastError ?? 'none'})`,
          );
          await store.markDone(row.id, 'dropped', now, null);
          continue;
        }
        if (row.nextAt > now) {
          // the chat's head waits: its later messages wait behind it (order)
          blocked.add(row.chatId);
          continue;
        }
        try {
          await t.send(row.chatId, row.text, row.image);
          await store.markSent(row.id, this.hub.clock.now());
          progressed = true;
        } catch (err) {
          const e = err instanceof TransportError ? err : new TransportError((err as Error).message);
          const at = this.hub.clock.now();
          if (e.permanent) {
            this.hub.logger.error(`alerts: message ${row.id} to chat ${row.chatId} refused: ${e.message}`);
            await store.markDone(row.id, 'failed', at, e.message);
            continue;
          }
          if (e.retryAfterMs !== null) {
            this.pausedUntil = at + e.retryAfterMs;
            this.hub.logger.warn(`alerts: Telegram asks to wait ${Math.round(e.retryAfterMs / 1000)} s (429)`);
            await store.markRetry(row.id, this.pausedUntil, e.message);
            return;
          }
          const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** Math.min(row.attempts, 10));
          if (row.attempts === 0) this.hub.logger.warn(`alerts: message ${row.id} to chat ${row.chatId} not delivered (${e.message}); retrying`);
          await store.markRetry(row.id, at + delay, e.message);
          blocked.add(row.chatId);
        }
      }
      if (!progressed || rows.length < 200) return;
    }
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.hub.clock.now();
    const en = this.settings.lang === 'en';
    for (const g of this.held.check(now, this.settings.heldOpenMinutes)) {
      const mins = Math.round((now - g.since) / 60000);
      this.fire({ type: 'gate-held', severity: 'warning', subject: g.name, ts: now, message: en ? `${g.name} has been open for ${mins} min` : `${g.name} открыты уже ${mins} мин` });
    }
    const st = this.stale.check(now, this.settings.staleHours);
    if (st) {
      const since = st.since ? localStamp(st.since, this.hub.timezone) : en ? 'never' : 'ни разу';
      this.fire({
        type: 'eposelok-stale',
        severity: 'warning',
        subject: 'E-Poselok',
        ts: now,
        message: en ? `no good sync for ${this.settings.staleHours} h (last: ${since})` : `нет успешной синхронизации ${this.settings.staleHours} ч (последняя: ${since})`,
      });
    }
    const groups = this.flood.due(now, (id) => {
      const c = this.chats.get(id);
      return c && c.state === 'verified' ? this.limitsOf(c, now) : null;
    });
    if (groups.length) void this.queue(groups.map((g) => ({ chatId: g.chatId, alertId: null, createdAt: g.last, text: groupText(g, this.settings.lang), image: null })));
    for (const [k, c] of this.confirms) if (c.expires <= now) this.confirms.delete(k);
    if (this.store && now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      this.store.pruneOutbox(now - 30 * 86_400_000).catch((err) => this.hub.logger.warn(`alerts: prune failed: ${(err as Error).message}`));
      this.store.pruneAlerts(now - 90 * 86_400_000, now - 14 * 86_400_000).catch((err) => this.hub.logger.warn(`alerts: prune failed: ${(err as Error).message}`));
    }
    if (this.transport && !this.pumping) void this.kick();
  }

  // ───────────────────────── chats ─────────────────────────

  chatsList(): ChatView[] {
    const now = this.hub.clock.now();
    return [...this.chats.values()].map((c) => ({
      chatId: c.chatId,
      title: c.title,
      state: c.state,
      role: c.role,
      types: [...c.types],
      commands: c.commands,
      quietFrom: c.quietFrom,
      quietTo: c.quietTo,
      codePending: c.state !== 'verified' && !!c.codeHash && (c.codeExpires ?? 0) > now,
      createdAt: c.createdAt,
      verifiedAt: c.verifiedAt,
      verifiedBy: c.verifiedBy,
      revokedAt: c.revokedAt,
    }));
  }

  chat(chatId: number): ChatView | undefined {
    return this.chatsList().find((c) => c.chatId === chatId);
  }

  /** A message from a chat: the code for an unknown one, the commands for a verified one (null: no answer). */
  async onMessage(from: { chatId: number; title: string }, text: string): Promise<BotReply | null> {
    await this.loaded;
    const now = this.hub.clock.now();
    const en = this.settings.lang === 'en';
    const chat = this.chats.get(from.chatId);
    if (chat?.state === 'verified') {
      if (from.title && from.title !== chat.title) {
        chat.title = from.title;
        await this.saveChat(chat);
      }
      return this.command(chat, String(text ?? '').trim());
    }
    if (chat && chat.codeHash && (chat.codeExpires ?? 0) > now) {
      return {
        text: en
          ? `A code was already sent; it is valid until ${localStamp(chat.codeExpires!, this.hub.timezone)}.`
          : `Код уже отправлен; он действует до ${localStamp(chat.codeExpires!, this.hub.timezone)}.`,
      };
    }
    if (!chat && [...this.chats.values()].filter((c) => c.state !== 'verified').length >= MAX_UNVERIFIED) {
      // a flood of strangers must not grow the table without bound: no answer until the admin tidies up
      if (now - this.lastFullWarn > 60_000) this.hub.logger.warn(`alerts: ${MAX_UNVERIFIED} unverified chats already; chat ${from.chatId} ignored`);
      this.lastFullWarn = now;
      return null;
    }
    const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
    const row: ChatRow = chat ?? {
      chatId: from.chatId,
      title: from.title,
      state: 'pending',
      role: 'viewer',
      types: [],
      commands: false,
      quietFrom: null,
      quietTo: null,
      codeHash: null,
      codeExpires: null,
      createdAt: now,
      verifiedAt: null,
      verifiedBy: null,
      revokedAt: null,
    };
    row.title = from.title || row.title;
    row.state = 'pending';
    row.codeHash = hash(code);
    row.codeExpires = now + this.settings.codeMinutes * 60_000;
    await this.saveChat(row);
    this.hub.logger.info(`alerts: chat ${from.chatId} (${row.title}) asked to be verified; code sent`);
    return {
      text: en
        ? `Verification code: ${code}\nGive it to the gatepost administrator («Система» → «Оповещения»). Valid for ${this.settings.codeMinutes} min.`
        : `Код подтверждения: ${code}\nСообщите его администратору gatepost («Система» → «Оповещения»). Код действует ${this.settings.codeMinutes} мин.`,
    };
  }

  /** The admin confirms a chat's code on the dashboard. Wrong codes are limited (5 in 10 min). */
  async confirm(code: unknown, opts: ChatOptions, actor: string): Promise<ChatView> {
    await this.loaded;
    const now = this.hub.clock.now();
    const wait = this.limiter.blockedFor(now);
    if (wait > 0) throw new AlertError(`too many wrong codes; try again in ${Math.ceil(wait / 60000)} min`, 429);
    const c = String(code ?? '').trim();
    const h = /^\d{6}$/.test(c) ? hash(c) : '';
    const chat = h ? [...this.chats.values()].find((x) => x.state === 'pending' && x.codeHash === h && (x.codeExpires ?? 0) > now) : undefined;
    if (!chat) {
      this.limiter.fail(now);
      this.hub.logger.warn(`alerts: wrong or expired verification code entered by ${actor}`);
      throw new AlertError('wrong or expired code', 400);
    }
    const next = this.applyOptions({ ...chat }, opts);
    next.state = 'verified';
    next.codeHash = null;
    next.codeExpires = null;
    next.verifiedAt = now;
    next.verifiedBy = actor;
    next.revokedAt = null;
    await this.saveChat(next);
    this.limiter.reset();
    this.hub.logger.info(`alerts: chat ${chat.chatId} (${chat.title}) verified by ${actor} as ${next.role}: ${next.types.join(', ') || 'no types'}`);
    const en = this.settings.lang === 'en';
    await this.queue([
      {
        chatId: next.chatId,
        alertId: null,
        createdAt: now,
        text: en
          ? `✅ This chat is verified (${next.role}). Alerts: ${next.types.join(', ') || 'none yet'}.`
          : `✅ Чат подтверждён (${next.role}). Оповещения: ${next.types.map((t) => typeLabel(t, 'ru')).join(', ') || 'пока нет'}.`,
        image: null,
      },
    ]);
    return this.chat(next.chatId)!;
  }

  async update(chatId: number, opts: ChatOptions): Promise<ChatView> {
    await this.loaded;
    const chat = this.chats.get(chatId);
    if (!chat || chat.state !== 'verified') throw new AlertError(`no verified chat ${chatId}`, 404);
    const next = this.applyOptions({ ...chat }, opts);
    await this.saveChat(next);
    this.flood.forget(chatId);
    return this.chat(chatId)!;
  }

  /** Revokes a chat: nothing more is sent to it (its queue is dropped), its commands stop. */
  async revoke(chatId: number, actor: string): Promise<ChatView> {
    await this.loaded;
    const chat = this.chats.get(chatId);
    if (!chat) throw new AlertError(`no chat ${chatId}`, 404);
    const now = this.hub.clock.now();
    const next = { ...chat, state: 'revoked' as const, revokedAt: now, codeHash: null, codeExpires: null, commands: false };
    await this.saveChat(next);
    this.flood.forget(chatId);
    await this.requireStore().dropChat(chatId, now);
    for (const [k, c] of this.confirms) if (c.chatId === chatId) this.confirms.delete(k);
    this.hub.logger.info(`alerts: chat ${chatId} (${chat.title}) revoked by ${actor}`);
    return this.chat(chatId)!;
  }

  private applyOptions(c: ChatRow, o: ChatOptions): ChatRow {
    const problems: string[] = [];
    if (o.role !== undefined) {
      if (!(CHAT_ROLES as readonly unknown[]).includes(o.role)) problems.push('role must be admin, guard or viewer');
      else c.role = o.role as ChatRole;
    }
    if (o.types !== undefined) {
      if (!Array.isArray(o.types) || !o.types.every(isAlertTag)) problems.push('types must be a list of alert types');
      else c.types = [...new Set(o.types as string[])];
    }
    if (o.commands !== undefined) c.commands = o.commands === true;
    for (const k of ['quietFrom', 'quietTo'] as const) {
      const v = o[k];
      if (v === undefined) continue;
      if (v === null || v === '') c[k] = null;
      else if (typeof v !== 'string' || !Number.isFinite(minutesOf(v))) problems.push(`${k} must be HH:MM`);
      else c[k] = v;
    }
    if (!c.quietFrom !== !c.quietTo) problems.push('quietFrom and quietTo are set together');
    if (c.role === 'viewer') c.commands = false;
    if (problems.length) throw new AlertError(problems.join('; '), 400);
    return c;
  }

  private async saveChat(c: ChatRow): Promise<void> {
    await this.requireStore().saveChat(c);
    this.chats.set(c.chatId, c);
  }

  // ───────────────────────── commands ─────────────────────────

  private allowed(c: ChatRow): boolean {
    return c.state === 'verified' && c.commands && (c.role === 'admin' || c.role === 'guard');
  }

  private command(chat: ChatRow, text: string): BotReply | null {
    const en = this.settings.lang === 'en';
    const m = /^\/(\w+)(?:@\w+)?(?:\s+(.*))?$/s.exec(text);
    if (!m) return null;
    const cmd = m[1].toLowerCase();
    if (cmd === 'start' || cmd === 'help') {
      return { text: this.allowed(chat) ? (en ? 'Commands: /status, /open <gate>' : 'Команды: /status, /open <ворота>') : en ? 'This chat receives alerts.' : 'Этот чат получает оповещения.' };
    }
    if (cmd !== 'status' && cmd !== 'open') return { text: en ? 'Unknown command.' : 'Неизвестная команда.' };
    if (!this.allowed(chat)) return { text: en ? 'Commands are not allowed for this chat.' : 'Команды для этого чата не разрешены.' };
    if (cmd === 'status') return { text: this.statusText() };
    const arg = (m[2] ?? '').trim();
    const gates = gatesOf(this.hub).list();
    const gate = gates.find((g) => g.gate === arg) ?? gates.find((g) => g.name.toLowerCase() === arg.toLowerCase());
    if (!gate) return { text: (en ? 'Which gate? ' : 'Какие ворота? ') + gates.map((g) => `/open ${g.gate} (${g.name})`).join(', ') };
    const nonce = crypto.randomBytes(6).toString('hex');
    this.confirms.set(nonce, { chatId: chat.chatId, gate: gate.gate, expires: this.hub.clock.now() + CONFIRM_MS });
    return { text: en ? `Open «${gate.name}»?` : `Открыть «${gate.name}»?`, buttons: [{ text: en ? `Open ${gate.name}` : `Открыть ${gate.name}`, data: `open:${nonce}` }] };
  }

  /** A button pressed: `answer` for answerCallbackQuery, `reply` the result message. */
  async onCallback(from: { chatId: number; title: string }, data: string): Promise<{ answer: string; reply: string | null }> {
    await this.loaded;
    const en = this.settings.lang === 'en';
    const chat = this.chats.get(from.chatId);
    const m = /^open:([0-9a-f]{12})$/.exec(String(data ?? ''));
    const c = m ? this.confirms.get(m[1]) : undefined;
    if (!chat || !this.allowed(chat)) return { answer: en ? 'Not allowed' : 'Не разрешено', reply: null };
    if (!c || c.chatId !== chat.chatId || c.expires <= this.hub.clock.now()) return { answer: en ? 'Expired: send /open again' : 'Устарело: отправьте /open ещё раз', reply: null };
    this.confirms.delete(m![1]);
    const name = gatesOf(this.hub).get(c.gate)?.name ?? c.gate;
    try {
      await gatesOf(this.hub).command(c.gate, 'open', { kind: 'telegram', actor: (chat.title || String(chat.chatId)).slice(0, 64) });
      return { answer: en ? 'Opening' : 'Открываю', reply: en ? `✅ «${name}» opened` : `✅ «${name}» открыты` };
    } catch (err) {
      const msg = err instanceof GateError ? err.message : String((err as Error).message);
      return { answer: en ? 'Failed' : 'Не удалось', reply: en ? `❌ «${name}»: ${msg}` : `❌ «${name}»: ${msg}` };
    }
  }

  private statusText(): string {
    const en = this.settings.lang === 'en';
    const tz = this.hub.timezone;
    const lines: string[] = [en ? 'Gates:' : 'Ворота:'];
    const stateWord: Record<string, [string, string]> = { closed: ['закрыты', 'closed'], open: ['открыты', 'open'], held: ['удерживаются', 'held'], fault: ['НЕИСПРАВНЫ', 'FAULT'] };
    for (const g of gatesOf(this.hub).list()) {
      const w = stateWord[g.state] ?? [g.state, g.state];
      lines.push(`• ${g.name}: ${en ? w[1] : w[0]}${g.reachable === false ? (en ? ' (offline)' : ' (нет связи)') : ''}`);
    }
    const e = this.lastEposelok;
    lines.push(
      e && e.configured
        ? `E-Poselok: ${e.ok === false ? (en ? 'last sync failed' : 'последняя синхронизация не удалась') : 'OK'}${e.lastSuccessAt ? `, ${en ? 'synced' : 'синхр.'} ${localStamp(e.lastSuccessAt, tz)}` : ''}, ${e.count} ${en ? 'plates' : 'номеров'}`
        : `E-Poselok: ${en ? 'no state yet' : 'нет данных'}`,
    );
    const deg = degradedOf(this.hub).list();
    lines.push(deg.length ? (en ? 'Devices needing attention:' : 'Требуют внимания:') : en ? 'Devices: all answer' : 'Устройства: все отвечают');
    for (const d of deg) lines.push(`• ${d.what}: ${d.reason}`);
    return lines.join('\n');
  }

  private requireStore(): AlertsStore {
    if (!this.store) throw new AlertError('alert store is not available (database failed to open)', 503);
    return this.store;
  }
}

export const alarmsOf = (hub: Hub): AlarmService => hub.service('alarms', (h) => new AlarmService(h));
