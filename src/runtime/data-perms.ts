/**
 * Everything in the data directory is the gatepost user's alone (issue 19, item 15): the database
 * holds every plate and passage, logs name people. A data dir that already existed got its new
 * files (gatepost.db, WAL) with the process umask — usually 0644. At start: umask 077 for the
 * whole process (every file it creates from now on is 0600, every directory 0700) and a walk of
 * the data dir that takes group/other permissions off what is there. Symbolic links are not
 * followed (<data>/node-red/node_modules/node-red-contrib-gatepost points at the program).
 */
import * as fs from 'fs';
import * as path from 'path';

/** Sets umask 077 and chmods dataDir's tree (dirs 0700, files 0600); returns what was changed. */
export function secureDataDir(dataDir: string, onError: (message: string) => void = () => undefined): { changed: number } {
  process.umask(0o077);
  let changed = 0;
  const fix = (p: string): boolean => {
    try {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) return false;
      // owner bits kept (an executable stays executable), group and other cleared
      const want = st.isDirectory() ? 0o700 : st.mode & 0o100 ? 0o700 : 0o600;
      if ((st.mode & 0o777) !== want) {
        fs.chmodSync(p, want);
        changed++;
      }
      return st.isDirectory();
    } catch (err) {
      onError(`permissions of ${p}: ${(err as Error).message}`);
      return false;
    }
  };
  const walk = (dir: string) => {
    if (!fix(dir)) return;
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch (err) {
      onError(`permissions of ${dir}: ${(err as Error).message}`);
      return;
    }
    for (const e of entries) walk(path.join(dir, e));
  };
  if (fs.existsSync(dataDir)) walk(dataDir);
  return { changed };
}
