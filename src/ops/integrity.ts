/**
 * The database check at start: `PRAGMA quick_check` of <data>/gatepost.db before anything opens
 * it. A damaged database stops the start (exit code 4, and systemd does not restart it in a loop:
 * RestartPreventExitStatus) with a message that says what to do, unless the operator says to go on
 * (`gatepost --allow-corrupt-db` or GATEPOST_ALLOW_CORRUPT_DB=1) — then gatepost starts and lists
 * `db` as degraded.
 *
 * A file closed cleanly by the last run is not checked before the start (~1 s for 300 MB, on the
 * critical path of the start): the last run, after a quick_check of its own passed and the
 * database was closed, wrote <file>.clean with the file's identity (device, inode, size, mtime,
 * ctime). The start removes that mark first (and syncs the directory), so a run that dies leaves
 * none; when the file is still exactly the one closed (and no WAL with content is beside it) the check runs
 * right after the start instead (`checkDatabaseLater`), and a damaged file shows `db` degraded.
 * A crash, a torn write, a restored backup, any write by anyone changes the identity or leaves
 * no mark: the check runs before the start as always.
 */
import * as fs from 'fs';
import * as path from 'path';
import { quickCheck } from '../store/db';
import type { Logger } from '../core/log';

/** Exit code of a start refused because the database is damaged. */
export const EXIT_CORRUPT_DB = 4;

export class CorruptDatabaseError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `the database ${file} is damaged (PRAGMA quick_check: ${problems
        .slice(0, 3)
        .map((p) => p.replace(/\s*\n\s*/g, ' '))
        .join('; ')}). ` +
        `gatepost does not start on it. Restore the last backup with "gatepost restore <data>/backups/<newest>.tar.gz", ` +
        `or start anyway with --allow-corrupt-db (GATEPOST_ALLOW_CORRUPT_DB=1). / ` +
        `База данных повреждена; gatepost не запускается. Восстановите резервную копию (gatepost restore …) ` +
        `или запустите с --allow-corrupt-db (GATEPOST_ALLOW_CORRUPT_DB=1).`,
    );
  }
}

export interface StartCheck {
  /** quick_check's findings (empty = sound, or not checked yet) */
  problems: string[];
  /** not checked: the file is the one the last run closed cleanly; checkDatabaseLater after the start */
  deferred: boolean;
}

const markOf = (file: string) => `${file}.clean`;

/** Bytes in the file's WAL (0 when none: a checkpointed WAL may stay behind, empty). */
function walBytes(file: string): number {
  try {
    return fs.statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** The identity of a file that tells a rewrite: any write changes mtime and ctime (ctime cannot be set back). */
function identity(file: string): string | null {
  try {
    const st = fs.statSync(file, { bigint: true });
    return JSON.stringify([String(st.dev), String(st.ino), String(st.size), String(st.mtimeNs), String(st.ctimeNs)]);
  } catch {
    return null;
  }
}

/** Reads and removes the clean-close mark (the removal synced: a run that dies now leaves no mark); true when it names the file as it is. */
function takeCleanMark(file: string): boolean {
  const mark = markOf(file);
  let text: string;
  try {
    text = fs.readFileSync(mark, 'utf8');
  } catch {
    return false;
  }
  try {
    fs.unlinkSync(mark);
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch {
    return false; // a mark that cannot be removed could outlive a crash: check now
  }
  const id = identity(file);
  return walBytes(file) === 0 && id !== null && text.trim() === id;
}

/**
 * Checks the file before the start (see the top); throws CorruptDatabaseError when damaged and not
 * allowed. `deferred`: the file is the one the last run closed cleanly, not checked now.
 */
export async function checkDatabaseAtStart(file: string, allowCorrupt: boolean, log: Logger): Promise<StartCheck> {
  if (takeCleanMark(file)) {
    log.info('database closed cleanly by the last run and unchanged since: quick_check runs after the start');
    return { problems: [], deferred: true };
  }
  return { problems: await checkDatabaseNow(file, allowCorrupt, log), deferred: false };
}

/**
 * quick_check before the database is used; throws CorruptDatabaseError when damaged and not
 * allowed. Also what a start whose check was deferred runs when the database then fails to open.
 */
export async function checkDatabaseNow(file: string, allowCorrupt: boolean, log: Logger): Promise<string[]> {
  const t0 = Date.now();
  const problems = await quickCheck(file);
  if (!problems.length) {
    log.info(`database check (quick_check) ok in ${Date.now() - t0} ms`);
    return [];
  }
  const err = new CorruptDatabaseError(file, problems);
  if (!allowCorrupt) throw err;
  log.error(`${err.message} — STARTING ANYWAY (--allow-corrupt-db / GATEPOST_ALLOW_CORRUPT_DB)`);
  return problems;
}

/** The check a start deferred, while gatepost runs (its own read-only connection, off the event loop). Returns the findings. */
export async function checkDatabaseLater(file: string, log: Logger): Promise<string[]> {
  const t0 = Date.now();
  const problems = await quickCheck(file);
  if (!problems.length) log.info(`database check (quick_check, after the start) ok in ${Date.now() - t0} ms`);
  else log.error(`${new CorruptDatabaseError(file, problems).message} — found after the start; gatepost goes on, \`db\` is degraded`);
  return problems;
}

/**
 * After the database was closed by a run whose quick_check passed: the mark that lets the next
 * start skip its check (see the top). Written atomically; a failure (read-only disk) only costs
 * the next start its check.
 */
export function markCleanClose(file: string, log: Logger): void {
  const id = identity(file);
  if (id === null || walBytes(file) > 0) return; // a WAL with content: not closed (another process has it open)
  const tmp = `${markOf(file)}.tmp`;
  try {
    fs.writeFileSync(tmp, id, { mode: 0o600 });
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, markOf(file));
  } catch (err) {
    log.warn(`database: clean-close mark not written (${(err as Error).message}); the next start checks the database first`);
    fs.rmSync(tmp, { force: true });
  }
}
