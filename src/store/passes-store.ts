/**
 * Repository of passes: reads the E-Poselok mirror (`mirror_passes`, written by the E-Poselok
 * sync) and owns the guards' temporary passes (`temp_passes`).
 */
import type { Db } from './db';
import type { MirrorPass, TempPass } from '../core/contracts';
import type { TempPassDraft } from '../core/validity';

interface MirrorRow {
  id: number;
  list: string;
  canonical: string;
  raw: string;
  digits: string | null;
  house: string;
  first_seen: number;
  last_seen: number;
}
interface TempRow {
  id: number;
  kind: 'plate' | 'digits';
  raw: string;
  canonical: string | null;
  digits: string | null;
  house: string;
  note: string;
  author: string;
  created_at: number;
  valid_from: number;
  valid_to: number;
  cancelled_at: number | null;
  cancelled_by: string | null;
}

export const mirrorOfRow = (r: MirrorRow): MirrorPass => ({
  id: r.id,
  list: r.list,
  canonical: r.canonical,
  raw: r.raw,
  digits: r.digits,
  house: r.house,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
});

export const tempOfRow = (r: TempRow): TempPass => ({
  id: r.id,
  kind: r.kind,
  raw: r.raw,
  canonical: r.canonical,
  digits: r.digits,
  house: r.house,
  note: r.note,
  author: r.author,
  createdAt: r.created_at,
  validFrom: r.valid_from,
  validTo: r.valid_to,
  cancelledAt: r.cancelled_at,
  cancelledBy: r.cancelled_by,
});

export interface TempListFilter {
  /** include expired and cancelled passes */
  all?: boolean;
  now: number;
  limit?: number;
  offset?: number;
}

export class PassesStore {
  constructor(private readonly db: Db) {}

  async loadMirror(): Promise<MirrorPass[]> {
    const out: MirrorPass[] = [];
    for await (const page of this.mirrorPages()) for (const p of page) out.push(p);
    return out;
  }

  /**
   * The mirror in pages of `pageSize` by id (keyset: each page one short indexed read). A page at a
   * time keeps the load's peak small: the whole table in one all() held every row twice (sqlite3's
   * native copy and the JS objects) — ~200 MB of RSS for 100k passes that the allocator kept.
   */
  async *mirrorPages(pageSize = 5000): AsyncGenerator<MirrorPass[]> {
    let after = 0;
    for (;;) {
      const rows = await this.db.all<MirrorRow>('SELECT id, list, canonical, raw, digits, house, first_seen, last_seen FROM mirror_passes WHERE id > ? ORDER BY id LIMIT ?', [after, pageSize]);
      if (!rows.length) return;
      after = rows[rows.length - 1].id;
      yield rows.map(mirrorOfRow);
      if (rows.length < pageSize) return;
    }
  }

  async mirrorByIds(ids: number[]): Promise<MirrorPass[]> {
    if (!ids.length) return [];
    const out: MirrorPass[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = await this.db.all<MirrorRow>(`SELECT * FROM mirror_passes WHERE id IN (${chunk.map(() => '?').join(',')})`, chunk);
      out.push(...rows.map(mirrorOfRow));
    }
    return out;
  }

  /** Temporary passes that are not cancelled and not over (including those starting later). */
  async loadLiveTemp(now: number): Promise<TempPass[]> {
    const rows = await this.db.all<TempRow>('SELECT * FROM temp_passes WHERE valid_to >= ? AND cancelled_at IS NULL', [now]);
    return rows.map(tempOfRow);
  }

  async insertTemp(d: TempPassDraft, author: string, now: number): Promise<TempPass> {
    const r = await this.db.run(
      `INSERT INTO temp_passes (kind, raw, canonical, digits, house, note, author, created_at, valid_from, valid_to)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [d.kind, d.raw, d.canonical, d.digits, d.house, d.note, author, now, d.validFrom, d.validTo],
    );
    const p = await this.getTemp(r.lastID, true);
    if (!p) throw new Error(`temporary pass ${r.lastID} vanished after insert`);
    return p;
  }

  async getTemp(id: number, afterWrites = false): Promise<TempPass | null> {
    const sql = 'SELECT * FROM temp_passes WHERE id = ?';
    const row = afterWrites ? await this.db.getAfterWrites<TempRow>(sql, [id]) : await this.db.get<TempRow>(sql, [id]);
    return row ? tempOfRow(row) : null;
  }

  async listTemp(f: TempListFilter): Promise<TempPass[]> {
    const limit = Math.min(Math.max(f.limit ?? 500, 1), 5000);
    const offset = Math.max(f.offset ?? 0, 0);
    const rows = f.all
      ? await this.db.all<TempRow>('SELECT * FROM temp_passes ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?', [limit, offset])
      : await this.db.all<TempRow>('SELECT * FROM temp_passes WHERE valid_to >= ? AND valid_from <= ? AND cancelled_at IS NULL ORDER BY valid_to ASC, id ASC LIMIT ? OFFSET ?', [
          f.now,
          f.now,
          limit,
          offset,
        ]);
    return rows.map(tempOfRow);
  }

  /**
   * Not cancelled passes for the same digits (digits-only passes) or the same plate whose
   * validity overlaps [from, to]: what a new pass would duplicate.
   */
  async overlappingTemp(kind: 'plate' | 'digits', key: string, from: number, to: number): Promise<TempPass[]> {
    const rows = await this.db.all<TempRow>(
      `SELECT * FROM temp_passes WHERE kind = ? AND ${kind === 'digits' ? 'digits' : 'canonical'} = ? AND cancelled_at IS NULL AND valid_to >= ? AND valid_from <= ? ORDER BY valid_to DESC, id DESC LIMIT 10`,
      [kind, key, from, to],
    );
    return rows.map(tempOfRow);
  }

  /** Cancels a pass; false if it does not exist or was already cancelled. */
  async cancelTemp(id: number, by: string, now: number): Promise<boolean> {
    const r = await this.db.run('UPDATE temp_passes SET cancelled_at = ?, cancelled_by = ? WHERE id = ? AND cancelled_at IS NULL', [now, by, id]);
    return r.changes > 0;
  }

  async setTempValidTo(id: number, validTo: number): Promise<boolean> {
    const r = await this.db.run('UPDATE temp_passes SET valid_to = ? WHERE id = ? AND cancelled_at IS NULL AND valid_from <= ?', [validTo, id, validTo]);
    return r.changes > 0;
  }
}
