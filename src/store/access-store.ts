/**
 * Repository of the iVMS access log (`ivms_rows`, `ivms_last`, `ivms_doors`; migration 5): rows
 * written inside the events service's transaction (one commit for the access events and the log),
 * the filtered log (newest first, keyset pages for CSV), the doors, each person's last passage and
 * the compact passages the work-time report pairs. Only parameters reach SQL; text search is
 * `instr()` on each person's lower-cased spellings (ivms_last.search_key: a person is found by any
 * name, card or ID seen, clean or raw), so `%`, `_` and quotes in a query are plain characters.
 */
import type { Db, Tx } from './db';
import type { AccessDirection, AccessRow, IvmsKind, LastPassage, Passage } from '../core/attlog';

/** An access-log row as the API returns it. */
export interface AccessLogRow {
  id: number;
  source: string;
  serialNo: number;
  ts: number;
  authLocal: string | null;
  timeMissing: boolean;
  direction: AccessDirection | null;
  directionRaw: string | null;
  kind: IvmsKind;
  person: string | null;
  personName: string | null;
  personNameRaw: string | null;
  employeeID: string | null;
  cardNo: string | null;
  door: string | null;
  doorRaw: string | null;
  reader: string | null;
  device: string | null;
  deviceSN: string | null;
}

export interface AccessFilter {
  from?: number;
  to?: number;
  /** clean door name (exact) */
  door?: string;
  /** parts of a name / card / employee ID (lower case): the rows of the people with any spelling (clean or raw) containing one of them */
  q?: string[];
  kind?: IvmsKind;
  direction?: AccessDirection | 'unknown';
  /** a person key (exact) */
  person?: string;
  source?: string;
  limit?: number;
  offset?: number;
}

// prettier-ignore
const COLUMNS = [
  'id', 'source', 'serial_no', 'ts', 'auth_local', 'time_missing', 'direction', 'direction_raw', 'kind', 'person_key',
  'person_name', 'person_name_raw', 'employee_id', 'card_no', 'door', 'door_raw', 'reader', 'reader_raw', 'device',
  'device_raw', 'device_sn', 'verify_mode', 'ingested_at',
] as const;
const SELECT =
  'id, source, serial_no, ts, auth_local, time_missing, direction, direction_raw, kind, person_key, person_name, person_name_raw, employee_id, card_no, door, door_raw, reader, device, device_sn';
const ROW = `(${COLUMNS.map(() => '?').join(', ')})`;
const INSERT_ROWS = 100;
const inserts = new Map<number, string>();
function insertOf(n: number): string {
  let sql = inserts.get(n);
  if (!sql) inserts.set(n, (sql = `INSERT OR IGNORE INTO ivms_rows (${COLUMNS.join(', ')}) VALUES ${Array(n).fill(ROW).join(', ')}`));
  return sql;
}
const LAST_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
const NEWER = '(excluded.ts > ivms_last.ts OR (excluded.ts = ivms_last.ts AND excluded.id > ivms_last.id))';
const lastInserts = new Map<number, string>();
function lastInsertOf(n: number): string {
  let sql = lastInserts.get(n);
  if (!sql) {
    const keep = (c: string) => `${c} = CASE WHEN ${NEWER} THEN excluded.${c} ELSE ivms_last.${c} END`;
    sql =
      `INSERT INTO ivms_last (person_key, id, ts, direction, door, person_name, employee_id, card_no, search_key) VALUES ${Array(n).fill(LAST_ROW).join(', ')} ` +
      `ON CONFLICT (person_key) DO UPDATE SET search_key = excluded.search_key, ${['id', 'ts', 'direction', 'door', 'person_name', 'employee_id', 'card_no'].map(keep).join(', ')}`;
    lastInserts.set(n, sql);
  }
  return sql;
}
const SEP = '\u0001';

interface DbRow {
  id: number;
  source: string;
  serial_no: number;
  ts: number;
  auth_local: string | null;
  time_missing: number;
  direction: AccessDirection | null;
  direction_raw: string | null;
  kind: IvmsKind;
  person_key: string | null;
  person_name: string | null;
  person_name_raw: string | null;
  employee_id: string | null;
  card_no: string | null;
  door: string | null;
  door_raw: string | null;
  reader: string | null;
  device: string | null;
  device_sn: string | null;
}

const viewOf = (r: DbRow): AccessLogRow => ({
  id: r.id,
  source: r.source,
  serialNo: r.serial_no,
  ts: r.ts,
  authLocal: r.auth_local,
  timeMissing: r.time_missing === 1,
  direction: r.direction,
  directionRaw: r.direction_raw,
  kind: r.kind,
  person: r.person_key,
  personName: r.person_name,
  personNameRaw: r.person_name_raw,
  employeeID: r.employee_id,
  cardNo: r.card_no,
  door: r.door,
  doorRaw: r.door_raw,
  reader: r.reader,
  device: r.device,
  deviceSN: r.device_sn,
});

function where(f: AccessFilter): { sql: string; params: unknown[] } {
  const w: string[] = [];
  const p: unknown[] = [];
  const add = (sql: string, ...params: unknown[]) => {
    w.push(sql);
    p.push(...params);
  };
  if (f.from !== undefined) add('ts >= ?', f.from);
  if (f.to !== undefined) add('ts <= ?', f.to);
  if (f.door !== undefined) add('door = ?', f.door);
  if (f.kind) add('kind = ?', f.kind);
  if (f.direction === 'unknown') add('direction IS NULL');
  else if (f.direction) add('direction = ?', f.direction);
  if (f.person) add('person_key = ?', f.person);
  if (f.source) add('source = ?', f.source);
  // the people whose spellings match (ivms_last: one row a person), then their rows through the person index
  if (f.q && f.q.length) add(`person_key IN (SELECT person_key FROM ivms_last WHERE ${f.q.map(() => 'instr(search_key, ?) > 0').join(' OR ')})`, ...f.q);
  return { sql: w.length ? `WHERE ${w.join(' AND ')}` : '', params: p };
}

/** '1709280000000i,1709310000000o,…' → passages, read char by char (no substring per passage: a month holds a million). */
export function parsePassages(seq: string): Passage[] {
  const out: Passage[] = [];
  let ts = 0;
  for (let i = 0; i < seq.length; i++) {
    const c = seq.charCodeAt(i);
    if (c >= 48 && c <= 57) ts = ts * 10 + (c - 48);
    else if (c === 44) ts = 0;
    else {
      out.push({ ts, direction: c === 105 ? 'in' : c === 111 ? 'out' : null });
      ts = 0;
    }
  }
  return out;
}

export class AccessStore {
  constructor(private readonly db: Db) {}

  /** The largest serialNo stored for a source (null: none yet). Sees every committed ingest. */
  async highWater(source: string): Promise<number | null> {
    const r = await this.db.getAfterWrites<{ m: number | null }>('SELECT MAX(serial_no) AS m FROM ivms_rows WHERE source = ?', [source]);
    return r?.m ?? null;
  }

  /** Which of these serials are stored for the source already. */
  async existing(source: string, serials: number[]): Promise<Set<number>> {
    const found = new Set<number>();
    for (let i = 0; i < serials.length; i += 500) {
      const chunk = serials.slice(i, i + 500);
      const rows = await this.db.all<{ s: number }>(`SELECT serial_no AS s FROM ivms_rows WHERE source = ? AND serial_no IN (${chunk.map(() => '?').join(', ')})`, [source, ...chunk]);
      for (const r of rows) found.add(r.s);
    }
    return found;
  }

  /** Writes rows (ids = their access events' ids) inside the caller's transaction, with the last passages and the doors. */
  static async insertRows(tx: Tx, source: string, rows: Array<{ id: number; row: AccessRow }>, ingestedAt: number): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_ROWS) {
      const chunk = rows.slice(i, i + INSERT_ROWS);
      const params: unknown[] = [];
      for (const { id, row: r } of chunk) {
        params.push(id, source, r.serialNo, r.ts, r.authLocal, r.timeMissing ? 1 : 0, r.direction, r.directionRaw, r.kind, r.personKey);
        params.push(r.personName, r.personNameRaw, r.employeeID, r.cardNo, r.door, r.doorRaw, r.reader, r.readerRaw, r.device);
        params.push(r.deviceRaw, r.deviceSN, r.verifyMode, ingestedAt);
      }
      await tx.run(insertOf(chunk.length), params);
    }
    // each person's newest passage of the batch, then one upsert (kept only when newer than the stored one)
    const last = new Map<string, { id: number; row: AccessRow }>();
    const doors = new Map<string, { raw: string | null; first: number; last: number }>();
    for (const x of rows) {
      const r = x.row;
      if (r.personKey) {
        const cur = last.get(r.personKey);
        if (!cur || r.ts > cur.row.ts || (r.ts === cur.row.ts && x.id > cur.id)) last.set(r.personKey, x);
      }
      if (r.door) {
        const d = doors.get(r.door);
        if (!d) doors.set(r.door, { raw: r.doorRaw, first: r.ts, last: r.ts });
        else {
          d.first = Math.min(d.first, r.ts);
          d.last = Math.max(d.last, r.ts);
        }
      }
    }
    // every spelling a person was seen with (the stored ones and this batch's)
    const spellings = new Map<string, Set<string>>();
    for (const { row: r } of rows) {
      if (!r.personKey) continue;
      let set = spellings.get(r.personKey);
      if (!set) spellings.set(r.personKey, (set = new Set()));
      for (const part of r.searchKey.split(SEP)) if (part) set.add(part);
    }
    const keys = [...spellings.keys()];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const stored = await tx.all<{ p: string; k: string }>(`SELECT person_key AS p, search_key AS k FROM ivms_last WHERE person_key IN (${chunk.map(() => '?').join(', ')})`, chunk);
      for (const x of stored) for (const part of x.k.split(SEP)) if (part) spellings.get(x.p)!.add(part);
    }
    const lasts = [...last.values()];
    for (let i = 0; i < lasts.length; i += INSERT_ROWS) {
      const chunk = lasts.slice(i, i + INSERT_ROWS);
      const params: unknown[] = [];
      for (const { id, row: r } of chunk) params.push(r.personKey, id, r.ts, r.direction, r.door, r.personName, r.employeeID, r.cardNo, [...spellings.get(r.personKey!)!].join(SEP));
      await tx.run(lastInsertOf(chunk.length), params);
    }
    for (const [door, d] of doors) {
      await tx.run(
        'INSERT INTO ivms_doors (door, door_raw, first_ts, last_ts) VALUES (?, ?, ?, ?) ON CONFLICT (door) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts), door_raw = coalesce(ivms_doors.door_raw, excluded.door_raw)',
        [door, d.raw, d.first, d.last],
      );
    }
  }

  async query(f: AccessFilter): Promise<{ rows: AccessLogRow[]; total: number }> {
    const { sql, params } = where(f);
    const limit = Math.min(Math.max(f.limit ?? 100, 1), 100000);
    const offset = Math.max(f.offset ?? 0, 0);
    const [rows, total] = await Promise.all([
      this.db.all<DbRow>(`SELECT ${SELECT} FROM ivms_rows ${sql} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`, [...params, limit, offset]),
      this.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM ivms_rows ${sql}`, params),
    ]);
    return { rows: rows.map(viewOf), total: total[0]?.n ?? 0 };
  }

  /** The rows of `f` (newest first) in keyset pages, for CSV exports. */
  async *pages(f: AccessFilter, pageSize = 500): AsyncGenerator<AccessLogRow[]> {
    const { sql, params } = where(f);
    let left = Math.min(Math.max(f.limit ?? 100, 1), 1000000);
    let after: { ts: number; id: number } | null = null;
    while (left > 0) {
      const n = Math.min(pageSize, left);
      let rows: DbRow[];
      if (!after) rows = await this.db.all<DbRow>(`SELECT ${SELECT} FROM ivms_rows ${sql} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`, [...params, n, Math.max(f.offset ?? 0, 0)]);
      else {
        const keyset = '(ts < ? OR (ts = ? AND id < ?))';
        const w = sql ? `${sql} AND ${keyset}` : `WHERE ${keyset}`;
        rows = await this.db.all<DbRow>(`SELECT ${SELECT} FROM ivms_rows ${w} ORDER BY ts DESC, id DESC LIMIT ?`, [...params, after.ts, after.ts, after.id, n]);
      }
      if (!rows.length) return;
      yield rows.map(viewOf);
      left -= rows.length;
      if (rows.length < n) return;
      after = { ts: rows[rows.length - 1].ts, id: rows[rows.length - 1].id };
    }
  }

  async doors(): Promise<Array<{ door: string; doorRaw: string | null; firstTs: number; lastTs: number }>> {
    const rows = await this.db.all<{ door: string; door_raw: string | null; first_ts: number; last_ts: number }>('SELECT door, door_raw, first_ts, last_ts FROM ivms_doors ORDER BY door');
    return rows.map((r) => ({ door: r.door, doorRaw: r.door_raw, firstTs: r.first_ts, lastTs: r.last_ts }));
  }

  async lastPassages(): Promise<LastPassage[]> {
    const rows = await this.db.all<{
      person_key: string;
      ts: number;
      direction: AccessDirection | null;
      door: string | null;
      person_name: string | null;
      employee_id: string | null;
      card_no: string | null;
    }>('SELECT person_key, ts, direction, door, person_name, employee_id, card_no FROM ivms_last');
    return rows.map((r) => ({ person: r.person_key, name: r.person_name, employeeID: r.employee_id, cardNo: r.card_no, ts: r.ts, direction: r.direction, door: r.door }));
  }

  /**
   * Every person's passages in [from, to], compact: for each person of ivms_last, sqlite reads the
   * range from the covering index (person_key, ts, direction) and concatenates it (one row per
   * person instead of one object per passage; the cost follows the rows in the range, not the
   * years of history). `persons`: only these person keys.
   */
  async passagesByPerson(from: number, to: number, persons?: string[]): Promise<Map<string, { name: string | null; passages: Passage[] }>> {
    const params: unknown[] = [from, to];
    let only = '';
    if (persons) {
      if (!persons.length) return new Map();
      only = ` WHERE l.person_key IN (${persons.map(() => '?').join(', ')})`;
      params.push(...persons);
    }
    const rows = await this.db.all<{ p: string; name: string | null; seq: string | null }>(
      "SELECT l.person_key AS p, l.person_name AS name, (SELECT group_concat(r.ts || CASE r.direction WHEN 'in' THEN 'i' WHEN 'out' THEN 'o' ELSE 'u' END, ',') " +
        `FROM ivms_rows r WHERE r.person_key = l.person_key AND r.ts >= ? AND r.ts <= ?) AS seq FROM ivms_last l${only}`,
      params,
    );
    const out = new Map<string, { name: string | null; passages: Passage[] }>();
    for (const r of rows) {
      if (!r.seq) continue;
      out.set(r.p, { name: r.name, passages: parsePassages(r.seq) });
    }
    return out;
  }

  /** Person keys whose name / card / employee ID (any spelling seen) contains the text (lower case). */
  async personsMatching(q: string[], limit = 1000): Promise<string[]> {
    if (!q.length) return [];
    const rows = await this.db.all<{ p: string }>(`SELECT person_key AS p FROM ivms_last WHERE ${q.map(() => 'instr(search_key, ?) > 0').join(' OR ')} LIMIT ?`, [...q, limit]);
    return rows.map((r) => r.p);
  }

  /** A small state value of the access log (the meta table), or null. */
  async getMeta(key: string): Promise<string | null> {
    const r = await this.db.getAfterWrites<{ value: string | null }>('SELECT value FROM meta WHERE key = ?', [key]);
    return r?.value ?? null;
  }
  async setMeta(key: string, value: string): Promise<void> {
    await this.db.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  /** Deletes rows older than `before` in chunks; returns the count. */
  async prune(before: number, chunk = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.db.run('DELETE FROM ivms_rows WHERE id IN (SELECT id FROM ivms_rows WHERE ts < ? ORDER BY ts LIMIT ?)', [before, chunk]);
      total += r.changes;
      if (r.changes < chunk) return total;
      await new Promise((res) => setImmediate(res));
    }
  }
}
