import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Db } from '../../src/store/db';
import { MIGRATIONS } from '../../src/store/migrations';

describe('Db', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-db-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('creates the file in WAL mode at the latest schema version', async () => {
    const db = await Db.open(path.join(dir, 'a.db'));
    expect(await db.version()).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect((await db.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode).toBe('wal');
    await db.close();
  });

  test('a failed transaction rolls back and does not take queued writes with it', async () => {
    const db = await Db.open(path.join(dir, 'b.db'));
    const failing = db.transaction(async (tx) => {
      await tx.run("INSERT INTO meta (key, value) VALUES ('a', '1')");
      throw new Error('boom');
    });
    const plain = db.run("INSERT INTO meta (key, value) VALUES ('b', '2')");
    await expect(failing).rejects.toThrow('boom');
    await plain;
    const rows = await db.all<{ key: string }>('SELECT key FROM meta ORDER BY key');
    expect(rows.map((r) => r.key)).toEqual(['b']);
    await db.close();
  });

  test('reads see committed writes: a get that returned a row does not pin the reader to an old snapshot', async () => {
    const db = await Db.open(path.join(dir, 'raw.db'));
    await db.run("INSERT INTO meta (key, value) VALUES ('k1', '1'), ('k2', '2')");
    // a one-row answer of a multi-row query leaves the statement mid-way unless it is reset
    expect(await db.get<{ key: string }>('SELECT key FROM meta ORDER BY key')).toEqual({ key: 'k1' });
    await db.run("INSERT INTO meta (key, value) VALUES ('k3', '3')");
    const rows = await db.all<{ key: string }>('SELECT key FROM meta ORDER BY key');
    expect(rows.map((r) => r.key)).toEqual(['k1', 'k2', 'k3']);
    expect((await db.get<{ n: number }>('SELECT count(*) AS n FROM meta'))?.n).toBe(3);
    await db.close();
  });

  test('data survives close and reopen; migrations run once', async () => {
    const file = path.join(dir, 'c.db');
    const db = await Db.open(file);
    await db.run("INSERT INTO meta (key, value) VALUES ('k', 'v')");
    await db.close();
    const again = await Db.open(file);
    expect((await again.get<{ value: string }>("SELECT value FROM meta WHERE key = 'k'"))?.value).toBe('v');
    await again.close();
  });

  test('a broken migration leaves the previous version intact', async () => {
    const file = path.join(dir, 'd.db');
    const bad = [...MIGRATIONS, { version: 999, name: 'broken', up: 'CREATE TABLE x (a); NOT SQL;' }];
    await expect(Db.open(file, bad)).rejects.toThrow(/migration 999/);
    const db = await Db.open(file);
    expect(await db.version()).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    await db.close();
  });
});
