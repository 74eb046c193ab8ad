/**
 * Backups of a data dir: one .tar.gz holding an online copy of the database (sqlite's backup API —
 * gatepost keeps running and writing), secrets.json (the credentialSecret that decrypts the
 * flows' credentials, the password hashes) and the flows (node-red/flows.json, flows_cred.json,
 * flows-state.json), plus manifest.json.
 *
 *  - `gatepost backup [FILE]`   while gatepost runs or not; default <data>/backups/gatepost-<UTC time>.tar.gz
 *  - `gatepost restore FILE`    only while gatepost is stopped (takes the instance lock); the current
 *                               files are moved to <data>/backups/before-restore-<time>/ first
 *  - nightly: the runtime makes one backup a day at GATEPOST_BACKUP_HOUR (site time) and keeps the
 *    newest GATEPOST_BACKUP_KEEP archives (0 = no nightly backups).
 */
import * as fs from 'fs';
import * as path from 'path';
import { backupDatabase, quickCheck } from '../store/db';
import { extractTarGz, writeTarGz } from './tar';
import type { Logger } from '../core/log';
import sqlite3 from 'sqlite3';

export const DB_FILE = 'gatepost.db';
/** The files besides the database, relative to the data dir (missing ones are skipped). */
export const BACKUP_FILES = ['secrets.json', 'flows-state.json', 'node-red/flows.json', 'node-red/flows_cred.json'];
const ARCHIVE_RE = /^gatepost-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.tar\.gz$/;

export const backupsDir = (dataDir: string): string => path.join(dataDir, 'backups');

export interface BackupResult {
  file: string;
  bytes: number;
  /** events in the copied database */
  events: number | null;
  ms: number;
}

/**
 * Run as root (sudo) on a service's data dir: what was made gets the data dir's owner, or the
 * service (its own user) could not read the restored database or add the next nightly archive.
 */
function ownLikeDataDir(dataDir: string, paths: string[]): void {
  if (process.getuid?.() !== 0) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(dataDir);
  } catch {
    return;
  }
  if (st.uid === 0) return;
  for (const p of paths) {
    try {
      fs.chownSync(p, st.uid, st.gid);
    } catch {
      /* gone meanwhile */
    }
  }
}

function stamp(now = new Date()): string {
  return now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

async function countEvents(dbFile: string): Promise<number | null> {
  return new Promise((resolve) => {
    const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY, (err: Error | null) => {
      if (err) return resolve(null);
      db.get('SELECT COUNT(*) AS n FROM events', (e: Error | null, row: { n: number } | undefined) => db.close(() => resolve(e ? null : (row?.n ?? null))));
    });
  });
}

/** Makes one backup archive of `dataDir` (the database copied online). */
export async function createBackup(dataDir: string, dest?: string, now = new Date()): Promise<BackupResult> {
  const t0 = Date.now();
  const dir = backupsDir(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.resolve(dest ?? path.join(dir, `gatepost-${stamp(now)}.tar.gz`));
  const dbFile = path.join(dataDir, DB_FILE);
  if (!fs.existsSync(dbFile)) throw new Error(`no database at ${dbFile} (is ${dataDir} gatepost's data dir?)`);
  const work = fs.mkdtempSync(path.join(dir, '.work-'));
  try {
    const copy = path.join(work, DB_FILE);
    await backupDatabase(dbFile, copy);
    const problems = await quickCheck(copy);
    if (problems.length) throw new Error(`the copied database fails its check: ${problems.slice(0, 3).join('; ')}`);
    const events = await countEvents(copy);
    const entries = [{ name: DB_FILE, file: copy }];
    for (const rel of BACKUP_FILES) {
      const f = path.join(dataDir, rel);
      if (fs.existsSync(f)) entries.push({ name: rel, file: f });
    }
    const manifest = path.join(work, 'manifest.json');
    fs.writeFileSync(manifest, JSON.stringify({ kind: 'gatepost-backup', format: 1, createdAt: now.toISOString(), events, files: entries.map((e) => e.name) }, null, 2));
    await writeTarGz(file, [{ name: 'manifest.json', file: manifest }, ...entries]);
    ownLikeDataDir(dataDir, [dir, file]);
    return { file, bytes: fs.statSync(file).size, events, ms: Date.now() - t0 };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Keeps the newest `keep` nightly archives in <data>/backups; returns the removed names. */
export function pruneBackups(dataDir: string, keep: number): string[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(backupsDir(dataDir))
      .filter((n) => ARCHIVE_RE.test(n))
      .sort();
  } catch {
    return [];
  }
  const removed = names.slice(0, Math.max(0, names.length - Math.max(1, keep)));
  for (const n of removed) fs.rmSync(path.join(backupsDir(dataDir), n), { force: true });
  return removed;
}

/** The nightly archives, newest first. */
export function listBackups(dataDir: string): Array<{ name: string; bytes: number }> {
  try {
    return fs
      .readdirSync(backupsDir(dataDir))
      .filter((n) => ARCHIVE_RE.test(n))
      .sort()
      .reverse()
      .map((name) => ({ name, bytes: fs.statSync(path.join(backupsDir(dataDir), name)).size }));
  } catch {
    return [];
  }
}

/**
 * Restores an archive into `dataDir`. The caller holds the instance lock (gatepost is stopped).
 * The archive is unpacked and its database checked before anything is touched; the current files
 * are then moved to <data>/backups/before-restore-<time>/.
 */
export async function restoreBackup(dataDir: string, archive: string): Promise<{ files: string[]; savedTo: string | null; events: number | null }> {
  if (!fs.existsSync(archive)) throw new Error(`${archive}: no such file`);
  fs.mkdirSync(backupsDir(dataDir), { recursive: true, mode: 0o700 });
  const work = fs.mkdtempSync(path.join(backupsDir(dataDir), '.restore-'));
  try {
    let names: string[];
    try {
      names = await extractTarGz(path.resolve(archive), work);
    } catch (err) {
      throw new Error(`${archive} is not a readable gatepost backup: ${(err as Error).message}`);
    }
    let manifest: any = null;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(work, 'manifest.json'), 'utf8'));
    } catch {
      /* checked below */
    }
    if (manifest?.kind !== 'gatepost-backup' || !names.includes(DB_FILE)) throw new Error(`${archive} is not a gatepost backup (no manifest or no ${DB_FILE})`);
    const problems = await quickCheck(path.join(work, DB_FILE));
    if (problems.length) throw new Error(`the database in ${archive} fails its check: ${problems.slice(0, 3).join('; ')}`);
    const restore = names.filter((n) => n === DB_FILE || BACKUP_FILES.includes(n));
    // what is there now goes aside first (the database with its -wal/-shm)
    const current = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, ...BACKUP_FILES].filter((rel) => fs.existsSync(path.join(dataDir, rel)));
    let savedTo: string | null = null;
    if (current.length) {
      savedTo = path.join(backupsDir(dataDir), `before-restore-${stamp()}`);
      for (const rel of current) {
        fs.mkdirSync(path.dirname(path.join(savedTo, rel)), { recursive: true, mode: 0o700 });
        fs.renameSync(path.join(dataDir, rel), path.join(savedTo, rel));
      }
    }
    for (const rel of restore) {
      fs.mkdirSync(path.dirname(path.join(dataDir, rel)), { recursive: true, mode: 0o700 });
      fs.renameSync(path.join(work, rel), path.join(dataDir, rel));
    }
    ownLikeDataDir(dataDir, [backupsDir(dataDir), path.join(dataDir, 'node-red'), ...restore.map((rel) => path.join(dataDir, rel)), ...(savedTo ? [savedTo] : [])]);
    return { files: restore, savedTo, events: typeof manifest.events === 'number' ? manifest.events : null };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The site's calendar day and hour of `now` in `timezone`. */
function siteDayHour(now: Date, timezone: string): { day: string; hour: number } {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }).formatToParts(now).map((x) => [x.type, x.value]),
  );
  return { day: `${p.year}-${p.month}-${p.day}`, hour: Number(p.hour) };
}

export interface BackupSchedule {
  /** runs the nightly backup now if it is due; resolves with the archive made (or null) */
  tick(now?: Date): Promise<BackupResult | null>;
  stop(): void;
}

/**
 * The nightly backup: every `checkEveryMs` (10 min) it looks whether today's (site time) backup is
 * made and the hour has come; a machine that was off at that hour makes it when it is back. The
 * newest `keep` archives stay.
 */
export function startBackupSchedule(opts: { dataDir: string; keep: number; hour: number; timezone: string; log: Logger; checkEveryMs?: number }): BackupSchedule {
  const { dataDir, log } = opts;
  // what a backup or restore killed half-way left behind
  try {
    for (const n of fs.readdirSync(backupsDir(dataDir))) {
      if (/^\.(work|restore)-/.test(n) || n.endsWith('.tar.gz.part')) fs.rmSync(path.join(backupsDir(dataDir), n), { recursive: true, force: true });
    }
  } catch {
    /* no backups dir yet */
  }
  let running: Promise<BackupResult | null> | null = null;
  let lastDay: string | null = null;
  const tick = (now = new Date()): Promise<BackupResult | null> => {
    if (opts.keep <= 0 || running) return running ?? Promise.resolve(null);
    const { day, hour } = siteDayHour(now, opts.timezone);
    if (hour < opts.hour) return Promise.resolve(null);
    if (lastDay === null) {
      // today's archive already made (a restart after the hour)?
      const newest = listBackups(dataDir)[0];
      lastDay = newest ? siteDayHour(new Date(newest.name.slice(9, 29).replace(/T(\d\d)-(\d\d)-(\d\d)Z/, 'T$1:$2:$3Z')), opts.timezone).day : '';
    }
    if (lastDay === day) return Promise.resolve(null);
    running = createBackup(dataDir, undefined, now)
      .then((r) => {
        lastDay = day;
        const removed = pruneBackups(dataDir, opts.keep);
        log.info(`nightly backup ${path.basename(r.file)}: ${r.events ?? '?'} events, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.ms} ms${removed.length ? `; removed ${removed.length} old` : ''}`);
        return r;
      })
      .catch((err) => {
        log.error(`nightly backup failed: ${(err as Error).message}`);
        return null;
      })
      .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void tick(), opts.checkEveryMs ?? 10 * 60_000);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}
