/**
 * The database check at start: `PRAGMA quick_check` of <data>/gatepost.db before anything opens
 * it. A damaged database stops the start (exit code 4, and systemd does not restart it in a loop:
 * RestartPreventExitStatus) with a message that says what to do, unless the operator says to go on
 * (`gatepost --allow-corrupt-db` or GATEPOST_ALLOW_CORRUPT_DB=1) — then gatepost starts and lists
 * `db` as degraded.
 */
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

/** Checks the file; throws CorruptDatabaseError when damaged and not allowed, returns the problems (empty = sound). */
export async function checkDatabaseAtStart(file: string, allowCorrupt: boolean, log: Logger): Promise<string[]> {
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
