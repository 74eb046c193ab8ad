/**
 * Camera repositories (schema v6): `camera_settings` (the recording switch and pre/post-roll a
 * guard set, per camera name; NULL = the node's default) and `camera_clips` (recorded clips with
 * their upload state).
 */
import type { Db } from './db';

export type ClipUpload = 'local' | 'queued' | 'uploading' | 'done' | 'failed' | 'dropped';

export interface CameraSettingsRow {
  recording: boolean | null;
  preRoll: number | null;
  postRoll: number | null;
}

export interface ClipRow {
  id: number;
  camera: string;
  start: number;
  end: number;
  size: number;
  file: string;
  upload: ClipUpload;
  remotePath: string | null;
  uploadError: string | null;
  removed: boolean;
}

const clipOf = (r: any): ClipRow => ({
  id: r.id,
  camera: r.camera,
  start: r.start,
  end: r.end,
  size: r.size,
  file: r.file,
  upload: r.upload,
  remotePath: r.remote_path ?? null,
  uploadError: r.upload_error ?? null,
  removed: !!r.removed,
});

export class CameraStore {
  constructor(private readonly db: Db) {}

  async settings(name: string): Promise<CameraSettingsRow> {
    const r = await this.db.get<any>('SELECT recording, pre_roll, post_roll FROM camera_settings WHERE name = ?', [name]);
    return { recording: r?.recording === null || r?.recording === undefined ? null : !!r.recording, preRoll: r?.pre_roll ?? null, postRoll: r?.post_roll ?? null };
  }

  async saveSettings(name: string, s: Partial<{ recording: boolean; preRoll: number; postRoll: number }>, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO camera_settings (name, recording, pre_roll, post_roll, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET recording = COALESCE(excluded.recording, recording), pre_roll = COALESCE(excluded.pre_roll, pre_roll),
         post_roll = COALESCE(excluded.post_roll, post_roll), updated_at = excluded.updated_at`,
      [name, s.recording === undefined ? null : s.recording ? 1 : 0, s.preRoll ?? null, s.postRoll ?? null, now],
    );
  }

  async addClip(c: Omit<ClipRow, 'id' | 'upload' | 'remotePath' | 'uploadError' | 'removed'>): Promise<number> {
    const r = await this.db.run('INSERT INTO camera_clips (camera, start, end, size, file) VALUES (?, ?, ?, ?, ?)', [c.camera, c.start, c.end, c.size, c.file]);
    return r.lastID;
  }

  async clips(camera: string, limit = 50): Promise<ClipRow[]> {
    const rows = await this.db.all<any>('SELECT * FROM camera_clips WHERE camera = ? AND removed = 0 ORDER BY start DESC, id DESC LIMIT ?', [camera, Math.max(1, Math.min(1000, limit))]);
    return rows.map(clipOf);
  }

  async clip(id: number): Promise<ClipRow | null> {
    const r = await this.db.get<any>('SELECT * FROM camera_clips WHERE id = ?', [id]);
    return r ? clipOf(r) : null;
  }

  async setUpload(id: number, upload: ClipUpload, remotePath: string | null, error: string | null): Promise<void> {
    await this.db.run('UPDATE camera_clips SET upload = ?, remote_path = COALESCE(?, remote_path), upload_error = ? WHERE id = ?', [upload, remotePath, error, id]);
  }

  /** The local clips of a camera, oldest first (retention). */
  async localClips(camera: string): Promise<ClipRow[]> {
    return (await this.db.all<any>('SELECT * FROM camera_clips WHERE camera = ? AND removed = 0 ORDER BY start ASC, id ASC', [camera])).map(clipOf);
  }

  async markRemoved(id: number): Promise<void> {
    await this.db.run('UPDATE camera_clips SET removed = 1 WHERE id = ?', [id]);
  }
}
