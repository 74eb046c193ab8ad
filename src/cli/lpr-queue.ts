/**
 * The fallback queue of `gatepost-lpr`: passages decided while gatepost was unreachable, kept in a
 * JSON-lines file until gatepost has acknowledged them (MQTT PUBACK).
 *
 *  - `append` writes one line and fsyncs it before returning (a passage is never only in memory);
 *  - `read` returns the entries (a torn last line from a crash is skipped and kept for inspection
 *    in `<file>.bad`);
 *  - `remove(ids)` rewrites the file without the acknowledged entries (temp file + fsync + rename),
 *    re-reading it first so entries appended meanwhile by another process are kept.
 * Every change holds a short lock file (`<file>.lock`, created with O_EXCL; a lock older than
 * 10 s is taken over) so two processes never rewrite it at the same time. Entries carry a unique
 * id (the requestId) so a delivery repeated after a crash is recognised by gatepost.
 */
import fs = require('fs');
import path = require('path');

export interface FallbackEntry {
  v: 1;
  /** the requestId of the passage (unique) */
  id: string;
  /** when the plate was read, epoch ms */
  ts: number;
  camera: string;
  gate?: string;
  direction?: 'entry' | 'exit';
  plate: string;
  confidence?: number;
  decision: 'allowed' | 'denied' | 'rejected';
  source: 'online' | 'none';
  reason: string;
  /** what the relay said: 'ok', 'skipped' or 'error: …' */
  relay?: string;
  latencyMs?: number;
}

const LOCK_STALE_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class FallbackQueue {
  constructor(readonly file: string) {}

  private get lockFile(): string {
    return `${this.file}.lock`;
  }

  private async lock(waitMs = 3000): Promise<() => void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const started = Date.now();
    for (;;) {
      try {
        const fd = fs.openSync(this.lockFile, 'wx');
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        return () => {
          try {
            fs.unlinkSync(this.lockFile);
          } catch {
            /* already gone */
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        try {
          const st = fs.statSync(this.lockFile);
          if (Date.now() - st.mtimeMs > LOCK_STALE_MS) {
            fs.unlinkSync(this.lockFile);
            continue;
          }
        } catch {
          continue; // vanished between open and stat
        }
        if (Date.now() - started > waitMs) throw new Error(`queue ${this.file} is locked by another process`);
        await sleep(5);
      }
    }
  }

  /** Appends one entry and fsyncs the file. */
  async append(entry: FallbackEntry): Promise<void> {
    const unlock = await this.lock();
    try {
      const fd = fs.openSync(this.file, 'a', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(entry) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      unlock();
    }
  }

  /** True when the file holds at least one byte (cheap: one stat). */
  hasEntries(): boolean {
    try {
      return fs.statSync(this.file).size > 0;
    } catch {
      return false;
    }
  }

  /** The entries in order; unreadable lines are reported in `bad`. */
  read(): { entries: FallbackEntry[]; bad: string[] } {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], bad: [] };
      throw err;
    }
    const entries: FallbackEntry[] = [];
    const bad: string[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line);
        if (e && typeof e === 'object' && typeof e.id === 'string' && typeof e.plate === 'string' && typeof e.ts === 'number') entries.push(e as FallbackEntry);
        else bad.push(line);
      } catch {
        bad.push(line);
      }
    }
    return { entries, bad };
  }

  /** Removes the entries with these ids (and moves unreadable lines to `<file>.bad`). */
  async remove(ids: Iterable<string>): Promise<number> {
    const drop = new Set(ids);
    const unlock = await this.lock();
    try {
      const { entries, bad } = this.read();
      const keep = entries.filter((e) => !drop.has(e.id));
      if (bad.length) {
        const fd = fs.openSync(`${this.file}.bad`, 'a', 0o600);
        fs.writeSync(fd, bad.join('\n') + '\n');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      }
      const tmp = `${this.file}.tmp-${process.pid}`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        if (keep.length) fs.writeSync(fd, keep.map((e) => JSON.stringify(e)).join('\n') + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
      try {
        const dfd = fs.openSync(path.dirname(this.file), 'r');
        fs.fsyncSync(dfd);
        fs.closeSync(dfd);
      } catch {
        /* directories cannot be fsync'd on every platform */
      }
      return entries.length - keep.length;
    } finally {
      unlock();
    }
  }
}
