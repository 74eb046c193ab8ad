/**
 * Repository of recognition events (`events`): batched inserts with ids assigned by the events
 * service, filtered history queries (newest first) and the retention prune.
 */
import type { Db, Tx } from './db';
import type { AccessEventPayload, CredentialKind, DecisionOutcome, DecisionSource } from '../core/contracts';
import { normalizeQuery } from '../core/plate';

/** Rows per retention-prune statement (events-store prune). */
export const PRUNE_CHUNK = 500;

/** An access event as stored: a plate Decision, or any credential's passage (AccessFields). */
export interface EventRecord extends AccessEventPayload {
  /** the raw input (truncated) of a rejected message */
  input?: string;
}

export interface EventFilter {
  q?: string;
  from?: number;
  to?: number;
  gate?: string;
  camera?: string;
  decision?: DecisionOutcome;
  source?: DecisionSource;
  kind?: CredentialKind;
  /** a person id (exact) or a part of a person's name */
  person?: string;
  limit?: number;
  offset?: number;
}

export interface EventRow {
  id: number;
  ts: number;
  camera: string | null;
  gate: string | null;
  direction: string | null;
  plate_raw: string | null;
  canonical: string | null;
  digits: string | null;
  confidence: number | null;
  decision: DecisionOutcome;
  source: DecisionSource;
  reason: string;
  policy: string | null;
  pass_ref: string | null;
  house: string | null;
  latency_ms: number | null;
  image: string | null;
  request_id: string | null;
  input: string | null;
  kind: CredentialKind;
  person_id: string | null;
  person_name: string | null;
  credential: string | null;
}

// prettier-ignore
export const EVENT_COLUMNS = [
  'id', 'ts', 'camera', 'gate', 'direction', 'plate_raw', 'canonical', 'digits', 'confidence', 'decision',
  'source', 'reason', 'policy', 'pass_ref', 'house', 'latency_ms', 'image', 'request_id', 'input', 'kind',
  'person_id', 'person_name', 'credential',
] as const;
/** written, never read back */
const WRITE_ONLY_COLUMNS = ['person_key'] as const;

const INSERT_COLUMNS = [...EVENT_COLUMNS, ...WRITE_ONLY_COLUMNS].join(', ');
const ROW = `(${[...EVENT_COLUMNS, ...WRITE_ONLY_COLUMNS].map(() => '?').join(', ')})`;
const INSERT = `INSERT INTO events (${INSERT_COLUMNS}) VALUES ${ROW}`;
/** rows per INSERT statement (× columns stays far below sqlite's 32766 variables) */
const INSERT_ROWS = 100;
const inserts = new Map<number, string>();
/** The INSERT of n rows (kept: the database caches prepared statements by their text). */
function insertOf(n: number): string {
  let sql = inserts.get(n);
  if (!sql) inserts.set(n, (sql = `INSERT INTO events (${INSERT_COLUMNS}) VALUES ${Array(n).fill(ROW).join(', ')}`));
  return sql;
}

/** The credential kind of a record: its own, else `fallback` for a fallback passage, else `plate`. */
export function kindOf(e: EventRecord): CredentialKind {
  return e.kind ?? (e.fallback ? 'fallback' : 'plate');
}

export function rowOfRecord(e: EventRecord): unknown[] {
  const passRef = e.pass?.ref ?? (e.source === 'online' && e.decision === 'allowed' ? 'online' : null);
  return [
    e.eventId,
    e.ts,
    e.camera ?? null,
    e.gate ?? null,
    e.direction ?? null,
    e.raw ?? null,
    e.plate || null,
    e.digits ?? null,
    e.confidence ?? null,
    e.decision,
    e.source,
    e.reason ?? '',
    e.policy ?? null,
    passRef,
    e.house ?? null,
    Number.isFinite(e.latencyMs) ? e.latencyMs : null,
    e.image ?? null,
    e.requestId ?? null,
    e.input ?? null,
    kindOf(e),
    e.personId ?? null,
    e.personName ?? null,
    e.credential ?? null,
    e.personName ? e.personName.toLowerCase() : null,
  ];
}

function where(f: EventFilter): { sql: string; params: unknown[] } {
  const w: string[] = [];
  const p: unknown[] = [];
  const add = (sql: string, ...params: unknown[]) => {
    w.push(sql);
    p.push(...params);
  };
  if (f.from !== undefined) add('ts >= ?', f.from);
  if (f.to !== undefined) add('ts <= ?', f.to);
  if (f.gate) add('gate = ?', f.gate);
  if (f.camera) add('camera = ?', f.camera);
  if (f.decision) add('decision = ?', f.decision);
  if (f.source) add('source = ?', f.source);
  // `kind <> 'plate'` lets sqlite use the partial index events_kind_ts (plates are most rows: the ts index serves them)
  if (f.kind) add(f.kind === 'plate' ? 'kind = ?' : "kind = ? AND kind <> 'plate'", f.kind);
  if (f.person) add('(person_id = ? OR instr(person_key, ?) > 0)', f.person, f.person.toLowerCase());
  if (f.q !== undefined && f.q !== '') {
    const q = normalizeQuery(f.q);
    if (!q) add('0');
    else if (/^\d{3}$/.test(q)) add('digits = ?', q);
    else add('instr(canonical, ?) > 0', q);
  }
  return { sql: w.length ? `WHERE ${w.join(' AND ')}` : '', params: p };
}

export class EventsStore {
  constructor(private readonly db: Db) {}

  async maxId(): Promise<number> {
    const r = await this.db.getAfterWrites<{ m: number | null }>('SELECT MAX(id) AS m FROM events');
    return r?.m ?? 0;
  }

  /**
   * One transaction, multi-row INSERTs of up to INSERT_ROWS rows: a batch is a few statements, not
   * one thread-pool round trip (and event-loop turn) per row — under a burst the loop is busy and
   * every turn is slow, and decisions wait for this commit before they go out.
   */
  async insertMany(records: EventRecord[]): Promise<void> {
    if (!records.length) return;
    if (records.length <= INSERT_ROWS) {
      // one INSERT statement is atomic by itself: no BEGIN / COMMIT round trips (the usual case,
      // one decision per batch: two fewer sqlite jobs and callbacks per event)
      const params: unknown[] = [];
      for (const r of records) params.push(...rowOfRecord(r));
      await this.db.run(records.length === 1 ? INSERT : insertOf(records.length), params);
      return;
    }
    await this.db.transaction((tx) => EventsStore.insertRows(tx, records));
  }

  /** The inserts of insertMany inside a caller's transaction (a batch written together with rows of its own). */
  static async insertRows(tx: Tx, records: EventRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += INSERT_ROWS) {
      const chunk = records.slice(i, i + INSERT_ROWS);
      const params: unknown[] = [];
      for (const r of chunk) params.push(...rowOfRecord(r));
      await tx.run(chunk.length === 1 ? INSERT : insertOf(chunk.length), params);
    }
  }

  async query(f: EventFilter): Promise<{ rows: EventRow[]; total: number }> {
    const { sql, params } = where(f);
    const limit = Math.min(Math.max(f.limit ?? 100, 1), 100000);
    const offset = Math.max(f.offset ?? 0, 0);
    const [rows, total] = await Promise.all([
      this.db.all<EventRow>(`SELECT ${EVENT_COLUMNS.join(', ')} FROM events ${sql} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`, [...params, limit, offset]),
      // all(), not get(): a cached statement read with get() and no parameters is not reset (db.ts)
      this.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM events ${sql}`, params),
    ]);
    return { rows, total: total[0]?.n ?? 0 };
  }

  /**
   * The rows of `f` (newest first, from f.offset, at most f.limit) in pages of `pageSize`, for
   * exports: the first page uses OFFSET, the next ones continue after the last (ts, id) seen
   * (keyset), so each page is one short indexed read and no page re-reads the ones before it.
   */
  async *pages(f: EventFilter, pageSize = 500): AsyncGenerator<EventRow[]> {
    const { sql, params } = where(f);
    let left = Math.min(Math.max(f.limit ?? 100, 1), 100000);
    let after: { ts: number; id: number } | null = null;
    const cols = EVENT_COLUMNS.join(', ');
    while (left > 0) {
      const n = Math.min(pageSize, left);
      let rows: EventRow[];
      if (!after) {
        rows = await this.db.all<EventRow>(`SELECT ${cols} FROM events ${sql} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`, [...params, n, Math.max(f.offset ?? 0, 0)]);
      } else {
        const keyset = '(ts < ? OR (ts = ? AND id < ?))';
        const w = sql ? `${sql} AND ${keyset}` : `WHERE ${keyset}`;
        rows = await this.db.all<EventRow>(`SELECT ${cols} FROM events ${w} ORDER BY ts DESC, id DESC LIMIT ?`, [...params, after.ts, after.ts, after.id, n]);
      }
      if (!rows.length) return;
      yield rows;
      left -= rows.length;
      if (rows.length < n) return;
      const lastRow = rows[rows.length - 1];
      after = { ts: lastRow.ts, id: lastRow.id };
    }
  }

  /**
   * The id of the first event with this requestId whose reason starts with `reasonPrefix`
   * (index events_request_id). Read with all(), which runs the statement to its end: a cached
   * statement left open by get() would keep the reader on an old snapshot.
   */
  async findByRequestId(requestId: string, reasonPrefix = ''): Promise<number | undefined> {
    const rows = await this.db.all<{ id: number }>('SELECT id FROM events WHERE request_id = ? AND substr(reason, 1, ?) = ? ORDER BY id LIMIT 1', [requestId, reasonPrefix.length, reasonPrefix]);
    return rows[0]?.id;
  }

  async get(id: number): Promise<EventRow | undefined> {
    return this.db.getAfterWrites<EventRow>(`SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE id = ?`, [id]);
  }

  /**
   * Deletes events older than `before` in small chunks (PRUNE_CHUNK rows: a few ms each), each its
   * own write queued behind whatever was queued meanwhile — an event written during a prune of
   * years of history waits for one chunk at most, never for the whole prune (bench/retention.bench.ts
   * measures that wait). Returns the count.
   */
  async prune(before: number, chunk = PRUNE_CHUNK): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.db.run('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)', [before, chunk]);
      total += r.changes;
      if (r.changes < chunk) return total;
      // let the writes that arrived during this chunk go first
      await new Promise((r) => setImmediate(r));
    }
  }
}
