/**
 * Repository of the person registry (`people`, `person_cards`, `person_photos`, `person_faces`)
 * and of the QR guest passes (`qr_passes`: the sha256 of the token, never the token).
 */
import type { Db } from './db';
import type { Person, PersonDraft, QrDraft, QrTokenState } from '../core/people';

interface PersonRow {
  id: number;
  name: string;
  unit: string;
  note: string;
  access_points: string;
  valid_from: number | null;
  valid_to: number | null;
  disabled: number;
  author: string;
  created_at: number;
  updated_at: number;
  cards: string | null;
  photos: number;
  faces: number;
}
export interface QrRow {
  id: number;
  token_hash: string;
  pass_id: number | null;
  person_id: number | null;
  label: string;
  access_points: string;
  valid_from: number;
  valid_to: number;
  max_uses: number;
  uses: number;
  last_used_at: number | null;
  author: string;
  created_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** A QR pass as the API shows it (no token, no hash). */
export interface QrPassView {
  id: number;
  passId: number | null;
  personId: number | null;
  label: string;
  accessPoints: string[];
  validFrom: number;
  validTo: number;
  maxUses: number;
  uses: number;
  lastUsedAt: number | null;
  author: string;
  createdAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
}

const split = (s: string | null): string[] => (s ? s.split(',').filter(Boolean) : []);

const PERSON_SELECT = `SELECT p.*, (SELECT group_concat(card_no) FROM person_cards c WHERE c.person_id = p.id) AS cards,
  (SELECT count(*) FROM person_photos f WHERE f.person_id = p.id) AS photos,
  (SELECT count(*) FROM person_faces d WHERE d.person_id = p.id) AS faces FROM people p`;

export const personOfRow = (r: PersonRow): Person => ({
  id: r.id,
  name: r.name,
  unit: r.unit,
  note: r.note,
  cards: split(r.cards).sort(),
  accessPoints: split(r.access_points),
  validFrom: r.valid_from,
  validTo: r.valid_to,
  disabled: r.disabled !== 0,
  photos: r.photos,
  faces: r.faces,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  author: r.author,
});

export const qrViewOfRow = (r: QrRow): QrPassView => ({
  id: r.id,
  passId: r.pass_id,
  personId: r.person_id,
  label: r.label,
  accessPoints: split(r.access_points),
  validFrom: r.valid_from,
  validTo: r.valid_to,
  maxUses: r.max_uses,
  uses: r.uses,
  lastUsedAt: r.last_used_at,
  author: r.author,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  revokedBy: r.revoked_by,
});

export const qrStateOfRow = (r: QrRow): QrTokenState => ({
  id: r.id,
  passId: r.pass_id,
  personId: r.person_id,
  label: r.label,
  accessPoints: split(r.access_points),
  validFrom: r.valid_from,
  validTo: r.valid_to,
  maxUses: r.max_uses,
  uses: r.uses,
  revokedAt: r.revoked_at,
});

/** A card already belongs to another person (409). */
export class CardTaken extends Error {
  constructor(
    readonly card: string,
    readonly personId: number,
  ) {
    super(`card ${card} already belongs to person ${personId}`);
  }
}

export class PeopleStore {
  constructor(private readonly db: Db) {}

  async all(): Promise<Person[]> {
    return (await this.db.all<PersonRow>(`${PERSON_SELECT} ORDER BY p.name_key, p.id`)).map(personOfRow);
  }

  async get(id: number, afterWrites = false): Promise<Person | null> {
    const sql = `${PERSON_SELECT} WHERE p.id = ?`;
    const r = afterWrites ? await this.db.getAfterWrites<PersonRow>(sql, [id]) : await this.db.get<PersonRow>(sql, [id]);
    return r ? personOfRow(r) : null;
  }

  /** Inserts or updates (id given) a person with their cards, in one transaction; CardTaken when a card is someone else's. */
  async save(d: PersonDraft, author: string, now: number, id?: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      for (const card of d.cards) {
        const owner = await tx.get<{ person_id: number }>('SELECT person_id FROM person_cards WHERE card_no = ?', [card]);
        if (owner && owner.person_id !== id) throw new CardTaken(card, owner.person_id);
      }
      const fields = [d.name, d.name.toLowerCase(), d.unit, d.note, d.accessPoints.join(','), d.validFrom, d.validTo, d.disabled ? 1 : 0];
      let pid: number;
      if (id === undefined) {
        const r = await tx.run(
          `INSERT INTO people (name, name_key, unit, note, access_points, valid_from, valid_to, disabled, author, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [...fields, author, now, now],
        );
        pid = r.lastID;
      } else {
        const r = await tx.run(`UPDATE people SET name = ?, name_key = ?, unit = ?, note = ?, access_points = ?, valid_from = ?, valid_to = ?, disabled = ?, updated_at = ? WHERE id = ?`, [
          ...fields,
          now,
          id,
        ]);
        if (!r.changes) throw new Error(`person ${id} vanished`);
        pid = id;
        await tx.run('DELETE FROM person_cards WHERE person_id = ?', [pid]);
      }
      for (const card of d.cards) await tx.run('INSERT INTO person_cards (card_no, person_id) VALUES (?, ?)', [card, pid]);
      return pid;
    });
  }

  async remove(id: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx.run('DELETE FROM people WHERE id = ?', [id]);
      for (const t of ['person_cards', 'person_photos', 'person_faces']) await tx.run(`DELETE FROM ${t} WHERE person_id = ?`, [id]);
      return r.changes > 0;
    });
  }

  async addPhoto(personId: number, mime: string, bytes: Buffer, now: number): Promise<number> {
    const r = await this.db.run('INSERT INTO person_photos (person_id, mime, size, bytes, created_at) VALUES (?, ?, ?, ?, ?)', [personId, mime, bytes.length, bytes, now]);
    return r.lastID;
  }
  async photos(personId: number): Promise<Array<{ id: number; mime: string; size: number; createdAt: number }>> {
    const rows = await this.db.all<{ id: number; mime: string; size: number; created_at: number }>('SELECT id, mime, size, created_at FROM person_photos WHERE person_id = ? ORDER BY id', [personId]);
    return rows.map((r) => ({ id: r.id, mime: r.mime, size: r.size, createdAt: r.created_at }));
  }
  async photo(personId: number, photoId: number): Promise<{ mime: string; bytes: Buffer } | null> {
    const r = await this.db.getAfterWrites<{ mime: string; bytes: Buffer }>('SELECT mime, bytes FROM person_photos WHERE person_id = ? AND id = ?', [personId, photoId]);
    return r ?? null;
  }
  async removePhoto(personId: number, photoId: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx.run('DELETE FROM person_photos WHERE person_id = ? AND id = ?', [personId, photoId]);
      await tx.run('DELETE FROM person_faces WHERE person_id = ? AND photo_id = ?', [personId, photoId]);
      return r.changes > 0;
    });
  }

  async addFace(personId: number, photoId: number | null, descriptor: Float32Array, score: number | null, now: number): Promise<number> {
    const bytes = Buffer.from(descriptor.buffer, descriptor.byteOffset, descriptor.byteLength);
    const r = await this.db.run('INSERT INTO person_faces (person_id, photo_id, descriptor, score, created_at) VALUES (?, ?, ?, ?, ?)', [personId, photoId, bytes, score, now]);
    return r.lastID;
  }
  async faces(): Promise<Array<{ id: number; personId: number; descriptor: Float32Array }>> {
    const rows = await this.db.all<{ id: number; person_id: number; descriptor: Buffer }>('SELECT id, person_id, descriptor FROM person_faces');
    return rows.map((r) => {
      const copy = Buffer.from(r.descriptor);
      return { id: r.id, personId: r.person_id, descriptor: new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4) };
    });
  }
  async clearFaces(personId: number): Promise<number> {
    return (await this.db.run('DELETE FROM person_faces WHERE person_id = ?', [personId])).changes;
  }

  // ---------- QR passes ----------
  async insertQr(hash: string, d: QrDraft, ref: { passId: number | null; personId: number | null }, author: string, now: number): Promise<QrPassView> {
    const r = await this.db.run(
      `INSERT INTO qr_passes (token_hash, pass_id, person_id, label, access_points, valid_from, valid_to, max_uses, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [hash, ref.passId, ref.personId, d.label, d.accessPoints.join(','), d.validFrom, d.validTo, d.maxUses, author, now],
    );
    return (await this.qr(r.lastID, true))!;
  }
  async qr(id: number, afterWrites = false): Promise<QrPassView | null> {
    const sql = 'SELECT * FROM qr_passes WHERE id = ?';
    const r = afterWrites ? await this.db.getAfterWrites<QrRow>(sql, [id]) : await this.db.get<QrRow>(sql, [id]);
    return r ? qrViewOfRow(r) : null;
  }
  async qrRow(id: number): Promise<QrRow | null> {
    return (await this.db.getAfterWrites<QrRow>('SELECT * FROM qr_passes WHERE id = ?', [id])) ?? null;
  }
  /** The row of a token hash, read after every queued write (a use just counted is seen). */
  async qrByHash(hash: string): Promise<QrRow | null> {
    return (await this.db.getAfterWrites<QrRow>('SELECT * FROM qr_passes WHERE token_hash = ?', [hash])) ?? null;
  }
  async listQr(f: { passId?: number; personId?: number; all?: boolean; now: number; limit?: number }): Promise<QrPassView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      where.push(sql);
      params.push(v);
    };
    if (f.passId !== undefined) add('pass_id = ?', f.passId);
    if (f.personId !== undefined) add('person_id = ?', f.personId);
    if (!f.all) add('revoked_at IS NULL AND valid_to >= ? AND uses < max_uses', f.now);
    const sql = `SELECT * FROM qr_passes ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (await this.db.all<QrRow>(sql, [...params, Math.min(Math.max(f.limit ?? 200, 1), 2000)])).map(qrViewOfRow);
  }
  /** Counts one use unless used up or revoked (atomic); false when nothing was left. */
  async useQr(id: number, now: number): Promise<boolean> {
    const r = await this.db.run('UPDATE qr_passes SET uses = uses + 1, last_used_at = ? WHERE id = ? AND uses < max_uses AND revoked_at IS NULL', [now, id]);
    return r.changes > 0;
  }
  async revokeQr(id: number, by: string, now: number): Promise<boolean> {
    const r = await this.db.run('UPDATE qr_passes SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL', [now, by, id]);
    return r.changes > 0;
  }
}
