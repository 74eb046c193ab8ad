/**
 * The upload queue repository (`uploads`, schema v7): one row per file and FTP target, in queue
 * order (`id`); the row stays after delivery as the record of where the file went.
 */
import type { Db } from './db';
import type { UploadStateName } from '../core/contracts';

export interface UploadRow {
  id: number;
  target: string;
  clipId: number | null;
  camera: string | null;
  file: string;
  remoteName: string;
  size: number | null;
  refTs: number;
  createdAt: number;
  state: UploadStateName;
  attempts: number;
  lastError: string | null;
  remotePath: string | null;
  updatedAt: number;
}

export interface NewUpload {
  target: string;
  clipId: number | null;
  camera: string | null;
  file: string;
  remoteName: string;
  size: number | null;
  refTs: number;
  createdAt: number;
}

const COLS = 'id, target, clip_id, camera, file, remote_name, size, ref_ts, created_at, state, attempts, last_error, remote_path, updated_at';
const STATES: readonly string[] = ['queued', 'uploading', 'done', 'failed', 'dropped'];

function rowOf(r: any): UploadRow {
  return {
    id: Number(r.id),
    target: r.target,
    clipId: r.clip_id === null || r.clip_id === undefined ? null : Number(r.clip_id),
    camera: r.camera ?? null,
    file: r.file,
    remoteName: r.remote_name,
    size: r.size === null || r.size === undefined ? null : Number(r.size),
    refTs: Number(r.ref_ts),
    createdAt: Number(r.created_at),
    state: (STATES.includes(r.state) ? r.state : 'queued') as UploadStateName,
    attempts: Number(r.attempts),
    lastError: r.last_error ?? null,
    remotePath: r.remote_path ?? null,
    updatedAt: Number(r.updated_at),
  };
}

export class UploadsStore {
  constructor(private readonly db: Db) {}

  async insert(u: NewUpload): Promise<UploadRow> {
    const r = await this.db.run(
      `INSERT INTO uploads (target, clip_id, camera, file, remote_name, size, ref_ts, created_at, state, attempts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)`,
      [u.target, u.clipId, u.camera, u.file, u.remoteName, u.size, u.refTs, u.createdAt, u.createdAt],
    );
    return { id: r.lastID, ...u, state: 'queued', attempts: 0, lastError: null, remotePath: null, updatedAt: u.createdAt };
  }

  /** The row of a clip for a target that is not given up (queued, uploading or done), if any. */
  async liveForClip(target: string, clipId: number): Promise<UploadRow | undefined> {
    const r = await this.db.getAfterWrites(`SELECT ${COLS} FROM uploads WHERE clip_id = ? AND target = ? AND state IN ('queued', 'uploading', 'done') LIMIT 1`, [clipId, target]);
    return r ? rowOf(r) : undefined;
  }

  async get(id: number): Promise<UploadRow | undefined> {
    const r = await this.db.getAfterWrites(`SELECT ${COLS} FROM uploads WHERE id = ?`, [id]);
    return r ? rowOf(r) : undefined;
  }

  /** The head of a target's queue (oldest queued first). */
  async head(target: string): Promise<UploadRow | undefined> {
    const r = await this.db.getAfterWrites(`SELECT ${COLS} FROM uploads WHERE target = ? AND state = 'queued' ORDER BY id LIMIT 1`, [target]);
    return r ? rowOf(r) : undefined;
  }

  async setState(id: number, state: UploadStateName, fields: { error?: string | null; remotePath?: string | null; attempts?: number; ts: number }): Promise<void> {
    const sets = ['state = ?', 'updated_at = ?'];
    const params: unknown[] = [state, fields.ts];
    if (fields.error !== undefined) {
      sets.push('last_error = ?');
      params.push(fields.error);
    }
    if (fields.remotePath !== undefined) {
      sets.push('remote_path = ?');
      params.push(fields.remotePath);
    }
    if (fields.attempts !== undefined) {
      sets.push('attempts = ?');
      params.push(fields.attempts);
    }
    params.push(id);
    await this.db.run(`UPDATE uploads SET ${sets.join(', ')} WHERE id = ?`, params);
  }

  /** Items that were being uploaded when the process stopped go back to the queue. */
  async requeueInterrupted(ts: number): Promise<number> {
    const r = await this.db.run(`UPDATE uploads SET state = 'queued', updated_at = ? WHERE state = 'uploading'`, [ts]);
    return r.changes;
  }

  /** Queued items of a target created before `before` (to be dropped), oldest first. */
  async expired(target: string, before: number, limit = 500): Promise<UploadRow[]> {
    return (await this.db.all(`SELECT ${COLS} FROM uploads WHERE target = ? AND state = 'queued' AND created_at < ? ORDER BY id LIMIT ?`, [target, before, limit])).map(rowOf);
  }

  /** Queue length and oldest queued item per target (queued + uploading). */
  async backlog(): Promise<Map<string, { queued: number; oldest: number | null }>> {
    const rows = await this.db.all(`SELECT target, COUNT(*) AS n, MIN(created_at) AS oldest FROM uploads WHERE state IN ('queued', 'uploading') GROUP BY target`);
    const out = new Map<string, { queued: number; oldest: number | null }>();
    for (const r of rows) out.set(r.target, { queued: Number(r.n), oldest: r.oldest === null ? null : Number(r.oldest) });
    return out;
  }

  /** Newest first. */
  async recent(f: { target?: string; state?: UploadStateName; clipIds?: number[]; limit?: number } = {}): Promise<UploadRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.target) {
      where.push('target = ?');
      params.push(f.target);
    }
    if (f.state) {
      where.push('state = ?');
      params.push(f.state);
    }
    if (f.clipIds?.length) {
      where.push(`clip_id IN (${f.clipIds.map(() => '?').join(',')})`);
      params.push(...f.clipIds);
    }
    params.push(Math.max(1, Math.min(1000, f.limit ?? 50)));
    const sql = `SELECT ${COLS} FROM uploads${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (await this.db.all(sql, params)).map(rowOf);
  }
}
