/**
 * Alert repositories (schema v8): `alert_settings` (the rules as JSON), `alert_chats` (Telegram
 * chats: verification, role, subscriptions), `alerts` (history for the dashboard) and
 * `alert_outbox` (the durable delivery queue: one row per chat and message, delivered in id order).
 */
import type { Db } from './db';
import type { Alert, ChatRole } from '../core/alarms';

export type ChatState = 'pending' | 'verified' | 'revoked';
export interface ChatRow {
  chatId: number;
  title: string;
  state: ChatState;
  role: ChatRole;
  types: string[];
  commands: boolean;
  quietFrom: string | null;
  quietTo: string | null;
  codeHash: string | null;
  codeExpires: number | null;
  createdAt: number;
  verifiedAt: number | null;
  verifiedBy: string | null;
  revokedAt: number | null;
}

export interface AlertRow {
  id: number;
  ts: number;
  type: string;
  severity: string;
  subject: string;
  message: string;
  hasImage: boolean;
}

export type OutboxState = 'pending' | 'sent' | 'failed' | 'dropped';
export interface OutboxRow {
  id: number;
  chatId: number;
  alertId: number | null;
  createdAt: number;
  text: string;
  image: Buffer | null;
  state: OutboxState;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  doneAt: number | null;
}

const ROLES = ['admin', 'guard', 'viewer'];

function chatOf(r: any): ChatRow {
  let types: string[] = [];
  try {
    const t = JSON.parse(r.types);
    if (Array.isArray(t)) types = t.filter((x) => typeof x === 'string');
  } catch {
    types = [];
  }
  return {
    chatId: Number(r.chat_id),
    title: r.title ?? '',
    state: r.state === 'verified' || r.state === 'revoked' ? r.state : 'pending',
    role: (ROLES.includes(r.role) ? r.role : 'viewer') as ChatRole,
    types,
    commands: !!r.commands,
    quietFrom: r.quiet_from ?? null,
    quietTo: r.quiet_to ?? null,
    codeHash: r.code_hash ?? null,
    codeExpires: r.code_expires === null || r.code_expires === undefined ? null : Number(r.code_expires),
    createdAt: Number(r.created_at),
    verifiedAt: r.verified_at === null || r.verified_at === undefined ? null : Number(r.verified_at),
    verifiedBy: r.verified_by ?? null,
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : Number(r.revoked_at),
  };
}

function outboxOf(r: any): OutboxRow {
  return {
    id: Number(r.id),
    chatId: Number(r.chat_id),
    alertId: r.alert_id === null ? null : Number(r.alert_id),
    createdAt: Number(r.created_at),
    text: r.text,
    image: r.image ?? null,
    state: r.state,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    lastError: r.last_error ?? null,
    doneAt: r.done_at === null ? null : Number(r.done_at),
  };
}

export class AlertsStore {
  constructor(private readonly db: Db) {}

  async loadSettings(): Promise<unknown | null> {
    const r = await this.db.get<{ value: string }>("SELECT value FROM alert_settings WHERE key = 'rules'");
    if (!r) return null;
    try {
      return JSON.parse(r.value);
    } catch {
      return null;
    }
  }
  saveSettings(v: unknown): Promise<unknown> {
    return this.db.run("INSERT INTO alert_settings (key, value) VALUES ('rules', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [JSON.stringify(v)]);
  }

  async chats(): Promise<ChatRow[]> {
    return (await this.db.all('SELECT * FROM alert_chats ORDER BY created_at, chat_id')).map(chatOf);
  }
  saveChat(c: ChatRow): Promise<unknown> {
    return this.db.run(
      `INSERT INTO alert_chats (chat_id, title, state, role, types, commands, quiet_from, quiet_to, code_hash, code_expires, created_at, verified_at, verified_by, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, state = excluded.state, role = excluded.role, types = excluded.types,
         commands = excluded.commands, quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to, code_hash = excluded.code_hash,
         code_expires = excluded.code_expires, verified_at = excluded.verified_at, verified_by = excluded.verified_by, revoked_at = excluded.revoked_at`,
      [c.chatId, c.title, c.state, c.role, JSON.stringify(c.types), c.commands ? 1 : 0, c.quietFrom, c.quietTo, c.codeHash, c.codeExpires, c.createdAt, c.verifiedAt, c.verifiedBy, c.revokedAt],
    );
  }

  async addAlert(a: Alert): Promise<number> {
    const r = await this.db.run('INSERT INTO alerts (ts, type, severity, subject, message, image) VALUES (?, ?, ?, ?, ?, ?)', [a.ts, a.type, a.severity, a.subject, a.message, a.image ?? null]);
    return r.lastID;
  }
  async recentAlerts(limit: number): Promise<AlertRow[]> {
    const rows = await this.db.all('SELECT id, ts, type, severity, subject, message, image IS NOT NULL AS has_image FROM alerts ORDER BY id DESC LIMIT ?', [limit]);
    return rows.map((r: any) => ({ id: r.id, ts: r.ts, type: r.type, severity: r.severity, subject: r.subject, message: r.message, hasImage: !!r.has_image }));
  }
  async alertImage(id: number): Promise<Buffer | null> {
    const r = await this.db.get<{ image: Buffer | null }>('SELECT image FROM alerts WHERE id = ?', [id]);
    return r?.image ?? null;
  }
  /** Alerts older than `before` are deleted; their images already after `imagesBefore` (snapshots are big). */
  async pruneAlerts(before: number, imagesBefore: number): Promise<void> {
    await this.db.run('DELETE FROM alerts WHERE ts < ?', [before]);
    await this.db.run('UPDATE alerts SET image = NULL WHERE ts < ? AND image IS NOT NULL', [imagesBefore]);
  }

  /** Queues one message per chat in one transaction (so their order is the order given). */
  async enqueue(items: Array<{ chatId: number; alertId: number | null; createdAt: number; text: string; image: Buffer | null }>): Promise<number[]> {
    if (!items.length) return [];
    return this.db.transaction(async (tx) => {
      const ids: number[] = [];
      for (const i of items) {
        const r = await tx.run('INSERT INTO alert_outbox (chat_id, alert_id, created_at, text, image, next_at) VALUES (?, ?, ?, ?, ?, 0)', [i.chatId, i.alertId, i.createdAt, i.text, i.image]);
        ids.push(r.lastID);
      }
      return ids;
    });
  }
  /** The oldest pending messages, in delivery order. */
  async pending(limit: number): Promise<OutboxRow[]> {
    return (await this.db.all("SELECT * FROM alert_outbox WHERE state = 'pending' ORDER BY id LIMIT ?", [limit])).map(outboxOf);
  }
  markSent(id: number, now: number): Promise<unknown> {
    return this.db.run("UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, done_at = ?, last_error = NULL, image = NULL WHERE id = ?", [now, id]);
  }
  markRetry(id: number, nextAt: number, error: string): Promise<unknown> {
    return this.db.run('UPDATE alert_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?', [nextAt, error, id]);
  }
  markDone(id: number, state: 'failed' | 'dropped', now: number, error: string | null): Promise<unknown> {
    return this.db.run('UPDATE alert_outbox SET state = ?, done_at = ?, last_error = COALESCE(?, last_error), image = NULL WHERE id = ?', [state, now, error, id]);
  }
  /** A revoked chat's queue is dropped: it must receive nothing more. */
  dropChat(chatId: number, now: number): Promise<unknown> {
    return this.db.run("UPDATE alert_outbox SET state = 'dropped', done_at = ?, last_error = 'chat revoked', image = NULL WHERE chat_id = ? AND state = 'pending'", [now, chatId]);
  }
  async outboxStats(): Promise<Record<OutboxState, number> & { oldestPending: number | null }> {
    const rows = await this.db.all<{ state: OutboxState; n: number; oldest: number }>('SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM alert_outbox GROUP BY state');
    const out = { pending: 0, sent: 0, failed: 0, dropped: 0, oldestPending: null as number | null };
    for (const r of rows) {
      if (r.state in out) out[r.state] = Number(r.n);
      if (r.state === 'pending') out.oldestPending = Number(r.oldest);
    }
    return out;
  }
  async recentOutbox(limit: number): Promise<Array<Omit<OutboxRow, 'image'> & { hasImage: boolean }>> {
    const rows = await this.db.all(
      'SELECT id, chat_id, alert_id, created_at, text, image IS NOT NULL AS has_image, state, attempts, next_at, last_error, done_at FROM alert_outbox ORDER BY id DESC LIMIT ?',
      [limit],
    );
    return rows.map((r: any) => {
      const { image: _i, ...o } = outboxOf({ ...r, image: null });
      return { ...o, hasImage: !!r.has_image };
    });
  }
  pruneOutbox(before: number): Promise<unknown> {
    return this.db.run("DELETE FROM alert_outbox WHERE state <> 'pending' AND created_at < ?", [before]);
  }
}
