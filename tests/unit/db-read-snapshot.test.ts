/** A read that returned a row must not pin the reader connection's snapshot (found by the alert history going stale). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Db } from '../../src/store/db';

test('after get() returned a row, later reads see later writes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-db-snap-'));
  const db = await Db.open(path.join(dir, 's.db'));
  try {
    await db.run("INSERT INTO meta (key, value) VALUES ('k', '1')");
    expect(await db.get("SELECT value FROM meta WHERE key = 'k'")).toEqual({ value: '1' });
    await db.run("UPDATE meta SET value = '2' WHERE key = 'k'");
    await db.run("INSERT INTO meta (key, value) VALUES ('k2', 'x')");
    expect(await db.all('SELECT key, value FROM meta ORDER BY key')).toEqual([
      { key: 'k', value: '2' },
      { key: 'k2', value: 'x' },
    ]);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
