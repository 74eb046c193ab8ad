/**
 * Operations on real sqlite files in temp dirs: the retention prune lets event writes through
 * between its chunks, the online backup (sqlite backup API) while writes go on, quick_check finding
 * a damaged file, the check at start skipped only for a file closed cleanly and unchanged since, backup archives (create, restore, refuse a non-backup, keep N), the nightly
 * schedule, the doctor's verdicts against a relay emulator and a closed port on 127.0.0.1.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { Db, backupDatabase, quickCheck } from '../../src/store/db';
import { eventsOf } from '../../src/services/events-service';
import { silentLogger } from '../../src/core/log';
import { createBackup, restoreBackup, pruneBackups, listBackups, startBackupSchedule } from '../../src/ops/backup';
import { runDoctor, formatDoctor } from '../../src/ops/doctor';
import { checkDatabaseAtStart, checkDatabaseLater, markCleanClose, CorruptDatabaseError } from '../../src/ops/integrity';
import { loadConfig } from '../../src/runtime/config';
import { startClGateEmulator } from '../../src/emulators/clgate';
import type { EventRecord } from '../../src/store/events-store';

const YEAR = 365.25 * 86400000;
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ops-'));
});
afterEach(async () => {
  await Hub.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ev = (ts: number, i: number): EventRecord => ({
  eventId: 0,
  ts,
  plate: `A${String(i % 1000).padStart(3, '0')}AA77`,
  raw: 'x',
  digits: '000',
  decision: 'allowed',
  source: 'mirror',
  reason: 'test',
  gate: 'main',
  latencyMs: 1,
});

async function fillOld(db: Db, n: number, ts: number): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 0; i < n; i += 500) {
      const k = Math.min(500, n - i);
      const rows = Array.from({ length: k }, (_, j) => [ts + i + j, `OLD${i + j}`]);
      await tx.run(`INSERT INTO events (ts, canonical, decision, source, reason) VALUES ${rows.map(() => "(?, ?, 'denied', 'none', 'old')").join(',')}`, rows.flat());
    }
  });
}

describe('retention', () => {
  test('an event recorded during a prune of thousands of old events is committed before the prune ends', async () => {
    const now = Date.now();
    const hub = Hub.open({ dbPath: path.join(dir, 'gatepost.db'), retentionYears: 1, logger: silentLogger });
    const db = await hub.db();
    const events = eventsOf(hub);
    await events.prune(now); // the service's own prune at start, on an empty table
    await fillOld(db, 4000, now - 3 * YEAR);
    const prune = events.prune(now);
    const recorded = events.record(ev(now, 1), undefined, { urgent: true });
    await recorded;
    // the record did not wait for the whole prune: old rows were still there when it was committed
    const left = (await db.getAfterWrites<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE ts < ?', [now - YEAR]))!.n;
    expect(left).toBeGreaterThan(0);
    expect(await prune).toBe(4000);
    const rows = await db.all<{ ts: number }>('SELECT ts FROM events');
    expect(rows).toEqual([{ ts: now }]);
  });

  test('GATEPOST_RETENTION_YEARS reaches the config (0 keeps all)', () => {
    expect(loadConfig({ GATEPOST_RETENTION_YEARS: '5' }).retentionYears).toBe(5);
    expect(loadConfig({}).retentionYears).toBe(3);
    expect(loadConfig({ GATEPOST_RETENTION_YEARS: '0' }).retentionYears).toBe(0);
  });
});

describe('online backup and quick_check', () => {
  test('the backup API copies a consistent database while writes go on', async () => {
    const db = await Db.open(path.join(dir, 'gatepost.db'));
    await fillOld(db, 20000, 1);
    let stop = false;
    let written = 0;
    const writer = (async () => {
      while (!stop) {
        await db.run("INSERT INTO events (ts, canonical, decision, source, reason) VALUES (?, 'W', 'allowed', 'mirror', 'during')", [Date.now()]);
        written++;
      }
    })();
    const copy = path.join(dir, 'copy.db');
    await backupDatabase(db.file, copy);
    const writtenAtEnd = written;
    stop = true;
    await writer;
    expect(await quickCheck(copy)).toEqual([]);
    const c = await Db.open(copy);
    const n = (await c.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))!.n;
    await c.close();
    expect(n).toBeGreaterThanOrEqual(20000);
    expect(n).toBeLessThanOrEqual(20000 + writtenAtEnd + 1);
    expect(fs.existsSync(`${copy}-wal`)).toBe(false);
    await db.close();
  });

  test('quick_check finds a damaged file; a sound one passes', async () => {
    const file = path.join(dir, 'gatepost.db');
    const db = await Db.open(file);
    await fillOld(db, 20000, 1);
    await db.close();
    expect(await quickCheck(file)).toEqual([]);
    const bytes = fs.readFileSync(file);
    // garbage over pages in the middle of the file (tables and indexes), the header left intact
    const page = bytes.readUInt16BE(16) || 65536;
    for (let p = 4; p < Math.floor(bytes.length / page) - 2; p += 3) bytes.fill(0x5a, p * page + 8, p * page + page - 8);
    fs.writeFileSync(file, bytes);
    expect((await quickCheck(file)).length).toBeGreaterThan(0);
  });
});

describe('the database check at start', () => {
  /** a logger that keeps what it was told */
  const recorder = () => {
    const lines: string[] = [];
    const at = (level: string) => (m: string) => lines.push(`${level} ${m}`);
    return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  };
  /** garbage over pages in the middle of the file, the header left intact (as in a torn write or bit rot) */
  const damage = (file: string) => {
    const bytes = fs.readFileSync(file);
    const page = bytes.readUInt16BE(16) || 65536;
    for (let p = 4; p < Math.floor(bytes.length / page) - 2; p += 3) bytes.fill(0x5a, p * page + 8, p * page + page - 8);
    fs.writeFileSync(file, bytes);
  };
  async function database(): Promise<string> {
    const file = path.join(dir, 'gatepost.db');
    const db = await Db.open(file);
    await fillOld(db, 5000, 1);
    await db.close();
    return file;
  }

  test('no mark: checked; a clean-close mark of the file as it is: deferred once, and the mark is gone', async () => {
    const file = await database();
    const r = recorder();
    await expect(checkDatabaseAtStart(file, false, r.log)).resolves.toEqual({ problems: [], deferred: false });
    expect(r.lines.join('\n')).toMatch(/quick_check\) ok in \d+ ms/);
    markCleanClose(file, silentLogger);
    expect(fs.existsSync(`${file}.clean`)).toBe(true);
    await expect(checkDatabaseAtStart(file, false, r.log)).resolves.toEqual({ problems: [], deferred: true });
    expect(fs.existsSync(`${file}.clean`)).toBe(false);
    // the next start (a run that died leaves no mark) checks again
    await expect(checkDatabaseAtStart(file, false, r.log)).resolves.toEqual({ problems: [], deferred: false });
    await expect(checkDatabaseLater(file, r.log)).resolves.toEqual([]);
  });

  test('a file written after its clean close (by sqlite, by hand, replaced, with a WAL beside it) is checked before the start', async () => {
    const file = await database();
    // damaged after the mark: refused as always
    markCleanClose(file, silentLogger);
    damage(file);
    await expect(checkDatabaseAtStart(file, false, silentLogger)).rejects.toBeInstanceOf(CorruptDatabaseError);
    // a sound file written through sqlite after the mark, or replaced by another one of the same size
    fs.rmSync(file);
    const sound = await database();
    markCleanClose(sound, silentLogger);
    const db = await Db.open(sound);
    await db.run('INSERT INTO sync_runs (ts, ok, added, removed, unchanged, total) VALUES (1, 1, 0, 0, 0, 0)');
    await db.close();
    await expect(checkDatabaseAtStart(sound, false, silentLogger)).resolves.toEqual({ problems: [], deferred: false });
    markCleanClose(sound, silentLogger);
    fs.copyFileSync(sound, `${sound}.copy`);
    fs.renameSync(`${sound}.copy`, sound);
    await expect(checkDatabaseAtStart(sound, false, silentLogger)).resolves.toEqual({ problems: [], deferred: false });
    // a WAL with content beside the file: not a clean close
    markCleanClose(sound, silentLogger);
    fs.writeFileSync(`${sound}-wal`, Buffer.alloc(4096, 1));
    await expect(checkDatabaseAtStart(sound, false, silentLogger)).resolves.toEqual({ problems: [], deferred: false });
    fs.rmSync(`${sound}-wal`);
    // no mark is written while a WAL with content is there
    fs.writeFileSync(`${sound}-wal`, Buffer.alloc(4096, 1));
    markCleanClose(sound, silentLogger);
    expect(fs.existsSync(`${sound}.clean`)).toBe(false);
  });

  test('damage the mark cannot see (bit rot under an unchanged identity) is found by the check after the start', async () => {
    const file = await database();
    damage(file);
    markCleanClose(file, silentLogger); // as if the file had rotted after a clean close without its identity changing
    const r = recorder();
    await expect(checkDatabaseAtStart(file, false, r.log)).resolves.toEqual({ problems: [], deferred: true });
    expect(r.lines.join('\n')).toMatch(/quick_check runs after the start/);
    const problems = await checkDatabaseLater(file, r.log);
    expect(problems.length).toBeGreaterThan(0);
    expect(r.lines.filter((l) => l.startsWith('error')).join('\n')).toMatch(/is damaged .* found after the start; gatepost goes on/);
  });
});

describe('backup archives', () => {
  function dataDir(): string {
    const d = path.join(dir, 'data');
    fs.mkdirSync(path.join(d, 'node-red'), { recursive: true });
    fs.writeFileSync(path.join(d, 'secrets.json'), '{"credentialSecret":"s1"}');
    fs.writeFileSync(path.join(d, 'node-red', 'flows.json'), '[{"id":"f1"}]');
    fs.writeFileSync(path.join(d, 'node-red', 'flows_cred.json'), '{"$":"enc"}');
    return d;
  }

  test('backup, then restore brings back database, secrets and flows; the replaced files are kept aside', async () => {
    const d = dataDir();
    const db = await Db.open(path.join(d, 'gatepost.db'));
    await fillOld(db, 1234, 1);
    const b = await createBackup(d);
    expect(b.events).toBe(1234);
    expect(path.dirname(b.file)).toBe(path.join(d, 'backups'));
    // later changes, then restore
    await db.run("INSERT INTO events (ts, canonical, decision, source, reason) VALUES (2, 'LATER', 'allowed', 'mirror', 'x')");
    await db.close();
    fs.writeFileSync(path.join(d, 'secrets.json'), '{"credentialSecret":"changed"}');
    fs.writeFileSync(path.join(d, 'node-red', 'flows.json'), '[]');
    const r = await restoreBackup(d, b.file);
    expect(r.files.sort()).toEqual(['gatepost.db', 'node-red/flows.json', 'node-red/flows_cred.json', 'secrets.json']);
    expect(fs.readFileSync(path.join(d, 'secrets.json'), 'utf8')).toBe('{"credentialSecret":"s1"}');
    expect(fs.readFileSync(path.join(d, 'node-red', 'flows.json'), 'utf8')).toBe('[{"id":"f1"}]');
    expect(fs.readFileSync(path.join(r.savedTo!, 'secrets.json'), 'utf8')).toBe('{"credentialSecret":"changed"}');
    const again = await Db.open(path.join(d, 'gatepost.db'));
    expect((await again.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))!.n).toBe(1234);
    await again.close();
  });

  (process.getuid?.() === 0 ? test : test.skip)('run as root on a data dir of another user: the archive and the restored files get that owner', async () => {
    const d = dataDir();
    const db = await Db.open(path.join(d, 'gatepost.db'));
    await db.close();
    fs.chownSync(d, 4321, 4321);
    const b = await createBackup(d);
    expect([fs.statSync(b.file).uid, fs.statSync(path.dirname(b.file)).uid]).toEqual([4321, 4321]);
    await restoreBackup(d, b.file);
    for (const rel of ['gatepost.db', 'secrets.json', 'node-red/flows.json']) expect([rel, fs.statSync(path.join(d, rel)).uid]).toEqual([rel, 4321]);
  });

  test('restore refuses a file that is not a gatepost backup and changes nothing', async () => {
    const d = dataDir();
    const db = await Db.open(path.join(d, 'gatepost.db'));
    await db.close();
    const junk = path.join(dir, 'junk.tar.gz');
    fs.writeFileSync(junk, 'not a tar');
    await expect(restoreBackup(d, junk)).rejects.toThrow(/not a readable gatepost backup/);
    expect(fs.readFileSync(path.join(d, 'secrets.json'), 'utf8')).toBe('{"credentialSecret":"s1"}');
  });

  test('keeps the newest N archives; the nightly schedule makes one a day after its hour', async () => {
    const d = dataDir();
    const db = await Db.open(path.join(d, 'gatepost.db'));
    await db.close();
    const sched = startBackupSchedule({ dataDir: d, keep: 2, hour: 3, timezone: 'Europe/Moscow', log: silentLogger, checkEveryMs: 3_600_000 });
    try {
      expect(await sched.tick(new Date('2026-01-10T23:30:00Z'))).toBeNull(); // 02:30 in Moscow: not yet
      expect(await sched.tick(new Date('2026-01-11T00:30:00Z'))).not.toBeNull(); // 03:30
      expect(await sched.tick(new Date('2026-01-11T10:00:00Z'))).toBeNull(); // same day: made already
      expect(await sched.tick(new Date('2026-01-12T01:00:00Z'))).not.toBeNull();
      expect(await sched.tick(new Date('2026-01-13T01:00:00Z'))).not.toBeNull();
    } finally {
      sched.stop();
    }
    expect(listBackups(d).map((b) => b.name)).toEqual(['gatepost-2026-01-13T01-00-00Z.tar.gz', 'gatepost-2026-01-12T01-00-00Z.tar.gz']);
    expect(pruneBackups(d, 1)).toEqual(['gatepost-2026-01-12T01-00-00Z.tar.gz']);
  });
});

describe('doctor', () => {
  test('a device that answers is OK, one that does not FAILS (exit 1), unconfigured ones are skipped', async () => {
    const relay = await startClGateEmulator();
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    try {
      const env = {
        GATEPOST_DATA_DIR: path.join(dir, 'data'),
        GATEPOST_HTTP_PORT: '0',
        GATEPOST_MQTT_PORT: '0',
        GATEPOST_BIND: '127.0.0.1',
        GATEPOST_RELAY_URL: relay.url,
        GATEPOST_SOKOL_URL: `http://127.0.0.1:${closed}`,
      };
      const cfg = loadConfig(env);
      fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
      const checks = await runDoctor({ cfg, env, mode: 'cli', timeoutMs: 2000 });
      const by = (id: string) => checks.find((c) => c.id === id);
      expect(by('device:relay')?.verdict).toBe('ok');
      expect(by('device:sokol')?.verdict).toBe('fail');
      expect(by('device:sokol')?.ru).toMatch(/НЕ ОТВЕЧАЕТ/);
      expect(by('device:eposelok')).toEqual(expect.objectContaining({ verdict: 'skip', en: 'E-Poselok: not configured' }));
      expect(by('mssql')?.verdict).toBe('skip');
      expect(by('data-dir')?.verdict).toBe('ok');
      expect(formatDoctor(checks, 'en').code).toBe(1);
      expect(formatDoctor(checks, 'ru').text).toMatch(/ИТОГ: проблем — 1/);
      // the same without the dead intercom: exit 0
      const env2 = { ...env, GATEPOST_SOKOL_URL: '' };
      expect(formatDoctor(await runDoctor({ cfg: loadConfig(env2), env: env2, mode: 'cli', timeoutMs: 2000 }), 'en').code).toBe(0);
    } finally {
      await relay.close();
    }
  });

  test('a port taken by another program fails; a database older than its newest event means the clock went back', async () => {
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const port = (other.address() as net.AddressInfo).port;
    try {
      const env = { GATEPOST_DATA_DIR: path.join(dir, 'data'), GATEPOST_HTTP_PORT: String(port), GATEPOST_MQTT_PORT: '0', GATEPOST_BIND: '127.0.0.1' };
      const cfg = loadConfig(env);
      const db = await Db.open(path.join(cfg.dataDir, 'gatepost.db'));
      await db.run("INSERT INTO events (ts, canonical, decision, source, reason) VALUES (?, 'X', 'allowed', 'mirror', 'x')", [Date.parse('2030-01-01T00:00:00Z')]);
      await db.close();
      const checks = await runDoctor({ cfg, env, mode: 'cli', timeoutMs: 500, now: Date.parse('2026-01-01T00:00:00Z') });
      expect(checks.find((c) => c.id === 'port:HTTP')).toEqual(expect.objectContaining({ verdict: 'fail', en: expect.stringMatching(/TAKEN by another program/) }));
      expect(checks.find((c) => c.id === 'clock')).toEqual(expect.objectContaining({ verdict: 'fail', en: expect.stringMatching(/clock went back/) }));
      expect(checks.find((c) => c.id === 'db')?.verdict).toBe('ok');
    } finally {
      other.close();
    }
  });
});
