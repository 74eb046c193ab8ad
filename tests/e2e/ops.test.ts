/**
 * Running unattended, on the built runtime (startGatepost: real HTTP on 127.0.0.1, a real data dir):
 *  - the «Журнал системы» page in Chromium: the admin sees gatepost's own log, filters by level,
 *    component and period, the live tail shows a line written after the page opened, the download
 *    holds the filtered lines; a guard gets 403 from /api/logs and the page says it is admin only;
 *  - /api/doctor (admin only) and the doctor's checks on «Система»;
 *  - `gatepost backup` while it runs (online), `gatepost restore` refused while it runs (exit 2),
 *    `gatepost doctor` from the command line (exit 0, the running gatepost's ports are fine);
 *  - a damaged database: the start is refused (exit 4, a clear message) unless
 *    GATEPOST_ALLOW_CORRUPT_DB=1 (then `db` is degraded); a restore of the backup brings it back;
 *  - after a clean stop the next start checks the database once it is up; damage the identity
 *    of the file cannot show is found then (`db` degraded) and the stop after leaves no mark.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { Database } from 'sqlite3';
import { startGatepost, GatepostHandle, MAIN } from '../helpers/runtime';
import { markCleanClose } from '../../src/ops/integrity';
import { silentLogger } from '../../src/core/log';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
let rt: GatepostHandle;
let browser: Browser;

function cli(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: path.dirname(rt.dataDir), env: { ...rt.env, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function get(p: string, user?: [string, string]): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await fetch(rt.url + p, { headers: user ? rt.basicAuth(user[0], user[1]) : rt.basicAuth() });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body, text, headers: res.headers };
}

async function login(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${rt.url}/dashboard/syslog`);
  await page.waitForURL('**/login**');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
}

beforeAll(async () => {
  rt = await startGatepost({ env: { GATEPOST_DEMO: 'on', GATEPOST_LOG_LEVEL: 'debug', GATEPOST_USERS: 'guard:guard-secret-1', GATEPOST_BACKUP_KEEP: '3', GATEPOST_BACKUP_HOUR: '0' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
});

describe('system log', () => {
  test('the API: admin only; level, component and period filters; download', async () => {
    expect((await get('/api/logs', ['guard', 'guard-secret-1'])).status).toBe(403);
    expect((await get('/api/logs/download', ['guard', 'guard-secret-1'])).status).toBe(403);
    const all = await get('/api/logs?level=debug&limit=5000');
    expect(all.status).toBe(200);
    expect(all.body.lines.length).toBeGreaterThan(5);
    expect(all.body.components).toEqual(expect.arrayContaining(['api', 'mqtt', 'flows']));
    const levels = new Set<string>(all.body.lines.map((l: any) => l.level));
    expect(levels.has('info')).toBe(true);
    // a warning of our own, then filters
    await get('/api/me', ['nobody-logview', 'wrong']);
    const warn = await get('/api/logs?level=warn');
    expect(warn.body.lines.length).toBeGreaterThan(0);
    expect(warn.body.lines.every((l: any) => l.level === 'warn' || l.level === 'error')).toBe(true);
    expect(warn.body.lines.some((l: any) => l.component === 'auth' && l.msg.includes('nobody-logview'))).toBe(true);
    const auth = await get('/api/logs?component=auth');
    expect(auth.body.lines.length).toBeGreaterThan(0);
    expect(auth.body.lines.every((l: any) => l.component === 'auth' || l.component.startsWith('auth/'))).toBe(true);
    const future = await get(`/api/logs?from=${Date.now() + 3_600_000}`);
    expect(future.body.lines).toEqual([]);
    const past = await get(`/api/logs?to=${Date.now() - 3_600_000}`);
    expect(past.body.lines).toEqual([]);
    expect((await get('/api/logs?level=loud')).status).toBe(400);
    const dl = await get('/api/logs/download?level=warn&component=auth');
    expect(dl.headers.get('content-disposition')).toMatch(/attachment; filename="gatepost-log-/);
    const dlLines = dl.text.trim().split('\n');
    expect(dlLines.length).toBeGreaterThan(0);
    expect(dlLines.every((l) => / (WARN|ERROR) +\[auth/.test(l))).toBe(true);
  });

  test('rotated files are read too, oldest first', async () => {
    const logs = path.join(rt.dataDir, 'logs');
    fs.writeFileSync(path.join(logs, 'gatepost.log.2'), '2020-01-01T00:00:00.000Z INFO  [old] rotated-two\n');
    fs.writeFileSync(path.join(logs, 'gatepost.log.1'), '2020-01-02T00:00:00.000Z ERROR [old] rotated-one\n');
    try {
      const r = await get('/api/logs?component=old');
      expect(r.body.lines.map((l: any) => l.msg)).toEqual(['rotated-two', 'rotated-one']);
      expect(r.body.files.map((f: any) => f.name)).toEqual(['gatepost.log.2', 'gatepost.log.1', 'gatepost.log']);
    } finally {
      fs.rmSync(path.join(logs, 'gatepost.log.2'));
      fs.rmSync(path.join(logs, 'gatepost.log.1'));
    }
  });

  test('the page in Chromium: lines, level filter, live tail, download; a guard is told it is admin only', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, locale: 'ru-RU' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await login(page, 'admin', rt.adminPassword);
      await page.waitForSelector('[data-testid=gp-syslog-line]');
      await expect(page.textContent('[data-testid=gp-nav-syslog]')).resolves.toBe('Журнал системы');
      expect(await page.locator('[data-testid=gp-syslog-line][data-level=info]').count()).toBeGreaterThan(0);
      // level: warnings and errors only
      await page.selectOption('[data-testid=gp-syslog-level]', 'warn');
      await page.waitForFunction(() => {
        const rows = Array.from(document.querySelectorAll('[data-testid=gp-syslog-line]'));
        return rows.length > 0 && rows.every((r) => ['warn', 'error'].includes(r.getAttribute('data-level') ?? ''));
      });
      // component: auth
      await page.selectOption('[data-testid=gp-syslog-component]', 'auth');
      await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=gp-syslog-line]')).every((r) => r.getAttribute('data-component') === 'auth'));
      // live tail: a line written now appears without reloading
      await page.click('[data-testid=gp-syslog-live]');
      await page.waitForSelector('[data-testid=gp-syslog-live][data-live=true]');
      await new Promise((r) => setTimeout(r, 700)); // the stream's first poll sets its start offset
      const marker = `live-tail-${Date.now()}`;
      await get('/api/me', [marker, 'wrong']);
      await page.waitForSelector(`[data-testid=gp-syslog-line]:has-text("${marker}")`);
      // download = the filtered lines
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=gp-syslog-download]')]);
      const text = fs.readFileSync((await download.path())!, 'utf8');
      expect(text).toContain(marker);
      expect(
        text
          .trim()
          .split('\n')
          .every((l) => / (WARN|ERROR) +\[auth/.test(l)),
      ).toBe(true);
      // period: nothing in the future
      await page.fill('[data-testid=gp-syslog-from]', '2099-01-01T00:00');
      await page.dispatchEvent('[data-testid=gp-syslog-from]', 'change');
      await page.waitForSelector('[data-testid=gp-syslog-empty]');
      // the doctor on «Система»
      await page.click('[data-testid=gp-nav-system]');
      await page.waitForSelector('[data-testid=gp-doctor-check][data-id="port:HTTP"][data-verdict=ok]');
      expect(await page.locator('[data-testid=gp-doctor-check][data-id=disk]').count()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
    const gctx = await browser.newContext({ locale: 'en-US' });
    const gpage = await gctx.newPage();
    try {
      await login(gpage, 'guard', 'guard-secret-1');
      await gpage.waitForSelector('[data-testid=gp-syslog-forbidden]');
      expect(await gpage.locator('[data-testid=gp-syslog-line]').count()).toBe(0);
    } finally {
      await gctx.close();
    }
  });
});

describe('doctor, backup and restore against the running gatepost', () => {
  test('/api/doctor is admin only and lists the checks; the command says the ports are the running gatepost', async () => {
    expect((await get('/api/doctor', ['guard', 'guard-secret-1'])).status).toBe(403);
    const d = await get('/api/doctor');
    expect(d.status).toBe(200);
    const ids = d.body.checks.map((c: any) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['config', 'port:HTTP', 'data-dir', 'disk', 'clock', 'db', 'device:relay', 'device:sokol', 'mssql', 'telegram']));
    expect(d.body.checks.find((c: any) => c.id === 'device:relay').verdict).toBe('ok'); // the demo's emulated relay
    const c = cli(['doctor', '--lang', 'ru']);
    expect(c.out).toMatch(/порт HTTP 127\.0\.0\.1:\d+: занят запущенным gatepost \(pid \d+\)/);
    expect(c.out).toMatch(/SQL Server iVMS: не настроено/);
  });

  test('the nightly backup is due (hour 0) and made by the running gatepost; leftovers of a killed backup are removed at start', async () => {
    const dir = path.join(rt.dataDir, 'backups');
    for (;;) {
      const made = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^gatepost-.*\.tar\.gz$/.test(n)) : [];
      if (made.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rt.output()).toMatch(/\[backup\] nightly backup gatepost-[\dTZ-]+\.tar\.gz: \d+ events/);
    fs.mkdirSync(path.join(dir, '.work-left'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'x.tar.gz.part'), 'half');
    const { startBackupSchedule } = require('../../src/ops/backup');
    startBackupSchedule({ dataDir: rt.dataDir, keep: 0, hour: 0, timezone: 'UTC', log: console }).stop();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.') || n.endsWith('.part'))).toEqual([]);
  });

  test('backup runs online; restore is refused while gatepost runs', async () => {
    const file = path.join(path.dirname(rt.dataDir), 'manual.tar.gz');
    const b = cli(['backup', file]);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/backup .*manual\.tar\.gz: \d+ events/);
    const r = cli(['restore', file]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/gatepost is running on .* \(pid \d+\); stop it first/);
    // the CLI ran synchronously for seconds: let fetch's pool see the keep-alive connection the
    // server closed meanwhile (else the request goes out on it: "other side closed")
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await get('/api/health')).status).toBe(200);
  });

  test('a damaged database: start refused (exit 4) unless allowed; restore of the backup brings it back', async () => {
    const backup = path.join(path.dirname(rt.dataDir), 'before-damage.tar.gz');
    expect(cli(['backup', backup]).code).toBe(0);
    const known = { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword };
    await rt.stop();
    const dbFile = path.join(rt.dataDir, 'gatepost.db');
    await damageIndex(dbFile);

    const refused = spawnSync(process.execPath, [MAIN], { cwd: path.dirname(rt.dataDir), env: rt.env, encoding: 'utf8', timeout: 60_000 });
    expect({ code: refused.status, out: `${refused.stdout}${refused.stderr}`.slice(-1500) }).toEqual({
      code: 4,
      out: expect.stringMatching(/the database .*gatepost\.db is damaged \(PRAGMA quick_check: .*gatepost restore/),
    });

    const anyway = await startGatepost({ dataDir: rt.dataDir, known, env: { ...pick(rt.env), GATEPOST_ALLOW_CORRUPT_DB: '1' } });
    try {
      const h = await fetch(`${anyway.url}/api/health`).then((r) => r.json());
      expect(h.degraded.map((d: any) => d.what)).toContain('db');
    } finally {
      await anyway.stop();
    }
    // restore, then a normal start
    const r = spawnSync(process.execPath, [MAIN, 'restore', backup], { cwd: path.dirname(rt.dataDir), env: rt.env, encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/restored .*gatepost\.db/);
    expect(r.status).toBe(0);
    rt = await startGatepost({ dataDir: rt.dataDir, known, env: pick(rt.env) });
    const h = await fetch(`${rt.url}/api/health`).then((x) => x.json());
    expect(h.degraded.map((d: any) => d.what)).not.toContain('db');
  });

  test('a clean stop lets the next start check the database after it is up; damage under an unchanged identity is still found', async () => {
    const known = { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword };
    const dbFile = path.join(rt.dataDir, 'gatepost.db');
    // this run checked the database at its start: its clean stop leaves the mark
    await rt.waitForOutput(/database check \(quick_check\) ok in \d+ ms/);
    await rt.stop();
    expect(fs.existsSync(`${dbFile}.clean`)).toBe(true);
    rt = await startGatepost({ dataDir: rt.dataDir, known, env: pick(rt.env) });
    expect(rt.output()).toMatch(/closed cleanly by the last run and unchanged since: quick_check runs after the start/);
    expect(rt.output()).not.toMatch(/database check \(quick_check\) ok in/);
    await rt.waitForOutput(/database check \(quick_check, after the start\) ok in \d+ ms/, 30_000);
    expect(fs.existsSync(`${dbFile}.clean`)).toBe(false);

    // the file rots after a clean stop without its identity changing (the mark rewritten for the damaged file stands in for that)
    await rt.stop();
    await damageIndex(dbFile);
    markCleanClose(dbFile, silentLogger);
    rt = await startGatepost({ dataDir: rt.dataDir, known, env: pick(rt.env) });
    await rt.waitForOutput(/is damaged .* found after the start; gatepost goes on/, 30_000);
    const h = await fetch(`${rt.url}/api/health`).then((x) => x.json());
    expect(h.degraded.map((d: any) => d.what)).toContain('db');
    // a run whose check failed leaves no mark: the next start refuses the damaged file as before
    await rt.stop();
    expect(fs.existsSync(`${dbFile}.clean`)).toBe(false);
    const refuse = () => {
      const r = spawnSync(process.execPath, [MAIN], { cwd: path.dirname(rt.dataDir), env: rt.env, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, out: `${r.stdout}${r.stderr}`.slice(-1500) };
    };
    const refusal = { code: 4, out: expect.stringMatching(/the database .*gatepost\.db is damaged \(PRAGMA quick_check: .*gatepost restore/) };
    expect(refuse()).toEqual(refusal);
    // rot so bad that the database does not even open, under a mark that matches: refused with the same message
    const bytes = fs.readFileSync(dbFile);
    const page = bytes.readUInt16BE(16) || 65536;
    for (let p = 1; p < Math.floor(bytes.length / page) - 1; p += 2) bytes.fill(0x5a, p * page, p * page + page);
    fs.writeFileSync(dbFile, bytes);
    markCleanClose(dbFile, silentLogger);
    expect(refuse()).toEqual(refusal);
  });
});

/** Garbage over one index's pages (the schema stays readable, as after a torn write). */
async function damageIndex(dbFile: string): Promise<void> {
  const root = await new Promise<number>((resolve, reject) => {
    const db = new Database(dbFile, (err) => {
      if (err) return reject(err);
      db.get("SELECT rootpage FROM sqlite_master WHERE name = 'events_ts'", (e: Error | null, row: { rootpage: number }) => db.close(() => (e ? reject(e) : resolve(row.rootpage))));
    });
  });
  const bytes = fs.readFileSync(dbFile);
  const page = bytes.readUInt16BE(16) || 65536;
  bytes.fill(0x5a, (root - 1) * page, root * page);
  fs.writeFileSync(dbFile, bytes);
}

/** The GATEPOST_* settings of a handle, for a restart with new ports. */
function pick(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('GATEPOST_') && !/PORT|DATA_DIR/.test(k)) out[k] = v;
  return out;
}
