/**
 * Fault suite, web part (issue 19, items 9–16): the built runtime (tests/helpers/runtime.ts) on
 * 127.0.0.1, attacked over real HTTP, WebSocket, MQTT and Chromium. Each attack reports a row
 * (tests/helpers/faults.ts) with what it measured.
 *
 *  9  CSV export of 30,000 events: streamed in many chunks, the worst event-loop stall during it
 *     (monitorEventLoopDelay in the runtime, /api/system), a third concurrent export gets 429;
 *  10 1,100 idle TCP connections under a 1,024 open-files limit: health and plates still answer,
 *     the server keeps at most its per-address share, says so in the log; a silent connection and
 *     a half-sent request are closed; the open-files limit is logged at start;
 *  11 WebSocket handshakes from a foreign Origin with valid cookies: /admin/comms, the dashboard's
 *     socket.io (WebSocket and polling), /mqtt — refused; the same origin still works;
 *  12 logout revokes the session server-side;
 *  13 wrong-password floods: the real user still gets in (device cookie; HTTP Basic after the
 *     Retry-After it was told), the flood is slowed down;
 *  14 oversized and malformed bodies: no stack trace or file path in any answer;
 *  15 a data dir that already exists: everything in it 0600/0700 after start;
 *  16 CSP headers on login, dashboard and editor, and no CSP violation in Chromium using them.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import WebSocket from 'ws';
import { startGatepost, GatepostHandle, tempDir } from '../helpers/runtime';
import { reportFault } from '../helpers/faults';
import { connect, subscribe, collector } from '../helpers/mqtt-test';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const GUARD = { username: 'guard1', password: 'guard-secret-1' };
const EVENTS = 30_000;

let rt: GatepostHandle;
let origin: string;
const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

/** One HTTP request on a fresh connection (no pooled keep-alive socket), body as text. */
function request(
  method: string,
  p: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${rt.url}${p}`, { method, headers: opts.headers, agent: false, timeout: opts.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** POST /login (JSON) → the cookies set, by name */
async function login(username: string, password: string, cookies: Record<string, string> = {}): Promise<{ status: number; cookies: Record<string, string>; retryAfter: number }> {
  const cookieHeader = Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  const r = await request('POST', '/login', {
    headers: { 'Content-Type': 'application/json', ...(cookieHeader ? { Cookie: cookieHeader } : {}) },
    body: JSON.stringify({ username, password }),
  });
  const set: Record<string, string> = {};
  for (const c of ([] as string[]).concat(r.headers['set-cookie'] ?? [])) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    set[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { status: r.status, cookies: set, retryAfter: Number(r.headers['retry-after'] ?? 0) };
}

const sessionHeader = (cookies: Record<string, string>) => ({ Cookie: `gatepost_session=${cookies.gatepost_session}` });

/** Opens a WebSocket; resolves 'open' or the refusal ('status 403', 'error: …'). */
function wsTry(url: string, headers: Record<string, string>, protocol?: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { headers, handshakeTimeout: 10_000 });
    ws.on('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(`status ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

async function system(query = ''): Promise<any> {
  const r = await request('GET', `/api/system${query}`, { headers: rt.basicAuth() });
  expect(r.status).toBe(200);
  return JSON.parse(r.text);
}

/** Inserts `n` events straight into the runtime's database (WAL: a second connection may write). */
async function seedEvents(n: number): Promise<void> {
  const sqlite3 = require('sqlite3');
  const db = new sqlite3.Database(path.join(rt.dataDir, 'gatepost.db'));
  const run = (sql: string, params: unknown[] = []) => new Promise<void>((res, rej) => db.run(sql, params, (err: Error | null) => (err ? rej(err) : res())));
  await run('PRAGMA busy_timeout = 10000');
  await run('BEGIN IMMEDIATE');
  const t0 = Date.now() - n * 1000;
  for (let i = 0; i < n; i++) {
    // ids far above the runtime's own (it counts from MAX(id) at start, i.e. from 1 here)
    const raw = i === 7 ? '=HYPERLINK("x")' : `А${String(100 + (i % 900))}ВС77`;
    await run('INSERT INTO events (id, ts, camera, gate, plate_raw, canonical, digits, confidence, decision, source, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)', [
      1_000_000 + i,
      t0 + i * 1000,
      'cam1',
      'main',
      raw,
      `A${String(100 + (i % 900))}BC77`,
      String(100 + (i % 900)),
      0.9,
      i % 3 ? 'denied' : 'allowed',
      i % 3 ? 'none' : 'mirror',
      'seeded; with, "quotes"',
    ]);
  }
  await run('COMMIT');
  await new Promise<void>((res) => db.close(() => res()));
}

beforeAll(async () => {
  // item 15: the data dir exists before the first start, with the usual 0755/0644
  const parent = tempDir('gatepost-web-');
  const dataDir = path.join(parent, 'data');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755);
  fs.writeFileSync(path.join(dataDir, 'notes.txt'), 'left by the installer\n', { mode: 0o644 });
  fs.chmodSync(path.join(dataDir, 'notes.txt'), 0o644);
  rt = await startGatepost({ dataDir, env: { GATEPOST_USERS: `${GUARD.username}:${GUARD.password}`, GATEPOST_ADMIN_PASSWORD: 'admin-secret-web' } });
  origin = rt.url;
});

afterAll(async () => {
  if (!rt) return;
  const exit = await rt.stop();
  expect(exit.code).toBe(0);
  rt.cleanup();
});

describe('web faults (issue 19)', () => {
  test('15: everything in an existing data dir is 0600/0700 after start', async () => {
    const loose: string[] = [];
    let checked = 0;
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) return;
      checked++;
      if (st.mode & 0o077) loose.push(`${path.relative(rt.dataDir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    };
    walk(rt.dataDir);
    reportFault({
      attack: 'data dir existed (0755, a 0644 file) before first start',
      tried: checked,
      survived: checked - loose.length,
      lost: loose.length,
      note: loose.slice(0, 3).join(', ') || 'all 0600/0700',
    });
    expect(fs.existsSync(path.join(rt.dataDir, 'gatepost.db'))).toBe(true);
    expect(loose).toEqual([]);
  });

  test('9: a CSV export of 30,000 events streams in chunks; a third concurrent export gets 429', async () => {
    await seedEvents(EVENTS);
    // the same measurement over an idle second, for comparison (the machine is shared and noisy)
    const idleFrom = Date.now();
    await new Promise((res) => setTimeout(res, 3000));
    const idleStall = (await system(`?loopSince=${idleFrom}`)).eventLoop.maxSinceMs;
    const t0 = Date.now();
    const r = await request('GET', '/api/events.csv?limit=100000', { headers: rt.basicAuth(), timeoutMs: 120_000 });
    await new Promise((res) => setTimeout(res, 600)); // the monitor closes its 250 ms window
    const sys = await system(`?loopSince=${t0}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/csv');
    expect(r.headers['content-disposition']).toContain('attachment');
    const lines = r.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0].split(',')[0]).toBe('id');
    expect(lines).toHaveLength(EVENTS + 1);
    expect(r.text).toContain(`"'=HYPERLINK(""x"")"`); // formula injection still defused
    expect(r.text).toContain('"seeded; with, ""quotes"""');
    // streamed: no Content-Length, many writes, each small
    expect(r.headers['content-length']).toBeUndefined();
    expect(sys.exports.last).toMatchObject({ rows: EVENTS, complete: true });
    expect(sys.exports.last.chunks).toBeGreaterThanOrEqual(EVENTS / 1000);
    const stall = sys.eventLoop.maxSinceMs;

    // two exports held open by clients that do not read; the third is refused with Retry-After
    const held: http.ClientRequest[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${rt.url}/api/events.csv?limit=100000`, { headers: rt.basicAuth(), agent: false }, (res) => {
          expect(res.statusCode).toBe(200);
          res.pause(); // backpressure: the export waits for 'drain'
          resolve();
        });
        req.on('error', () => undefined);
        req.on('timeout', () => reject(new Error('timeout')));
        held.push(req);
      });
    }
    const busy = await system();
    const third = await request('GET', '/api/events.csv?limit=100000', { headers: rt.basicAuth() });
    for (const h of held) h.destroy();
    expect(busy.exports.active).toBe(2);
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    // the held exports end when their clients go away; then exports run again
    let after = await system();
    for (let i = 0; i < 100 && after.exports.active > 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
      after = await system();
    }
    expect(after.exports.active).toBe(0);
    const again = await request('GET', '/api/events.csv?limit=10', { headers: rt.basicAuth() });
    expect(again.status).toBe(200);
    reportFault({
      attack: `CSV export of ${EVENTS} events (limit=100000), then 3 at once`,
      tried: 4,
      survived: [r.status === 200, true, true, third.status === 429].filter(Boolean).length,
      lost: EVENTS - (lines.length - 1),
      note: `worst loop stall during export ${stall} ms (idle: ${idleStall} ms; unchunked: 896 ms over 31k); ${sys.exports.last.chunks} chunks, slowest ${sys.exports.last.maxChunkMs.toFixed(1)} ms; 3rd → ${third.status}`,
    });
  });

  test('10: 1,100 idle TCP connections under a 1,024 limit: health, login and plates still answer', async () => {
    const pid = rt.proc.pid!;
    if (hasPrlimit) spawnSync('prlimit', ['--pid', String(pid), '--nofile=1024:1024']); // the systemd default
    const lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'web-fault-lpr' });
    const decisions = collector(lpr);
    await subscribe(lpr, 'gatepost/decision/#');

    // one connection that sends half a request (slowloris) and one that sends nothing
    const silent = net.connect(rt.httpPort, '127.0.0.1');
    const partial = net.connect(rt.httpPort, '127.0.0.1', () => partial.write('GET /api/health HTTP/1.1\r\nHost: x\r\n'));
    const silentClosed = new Promise<void>((res) => silent.on('close', () => res()));
    const partialClosed = new Promise<void>((res) => partial.on('close', () => res()));
    silent.on('error', () => undefined);
    partial.on('error', () => undefined);

    const sockets: net.Socket[] = [];
    let closedByServer = 0;
    let connected = 0;
    for (let i = 0; i < 1100; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(rt.httpPort, '127.0.0.1');
        s.on('connect', () => (connected++, resolve()));
        s.on('error', () => resolve());
        s.on('close', () => closedByServer++);
        sockets.push(s);
      });
    }
    await new Promise((res) => setTimeout(res, 500));
    const health = await request('GET', '/api/health').catch((e) => ({ status: 0, text: String(e), headers: {} }));
    const me = await request('GET', '/api/me', { headers: rt.basicAuth() }).catch(() => ({ status: 0 }));
    const sys = await system();
    const plateAt = Date.now();
    lpr.publish('gatepost/lpr/cam1', 'А123ВС77', { qos: 1 });
    const decided = await decisions
      .wait((m) => m.topic.startsWith('gatepost/decision/'), 10_000)
      .then(
        () => true,
        () => false,
      );
    const openOurs = sockets.filter((s) => !s.destroyed).length;
    // both must be closed by the server's own timeouts (10 s); 30 s is only the give-up point
    let giveUp: NodeJS.Timeout | undefined;
    const lingering = await Promise.race([Promise.all([silentClosed, partialClosed]).then(() => false), new Promise<boolean>((res) => (giveUp = setTimeout(() => res(true), 30_000)))]);
    clearTimeout(giveUp);
    for (const s of sockets) s.destroy();
    lpr.end(true);
    const logged = /too many idle HTTP connections/.test(fs.readFileSync(path.join(rt.dataDir, 'logs', 'gatepost.log'), 'utf8'));
    reportFault({
      attack: '1,100 idle TCP connections to :http, open-files limit 1,024',
      tried: 1100,
      // survived: the runtime still answered health and the API and decided a plate with all of them open
      survived: health.status === 200 && me.status === 200 && decided ? 1100 : 0,
      lost: decided ? 0 : 1,
      note: `health ${health.status}, me ${me.status}, plate decided ${decided ? `in ${Date.now() - plateAt} ms` : 'NO'}; ${openOurs} of ours kept open, ${closedByServer} closed by server; fds ${sys.connections?.fds}/${sys.connections?.fdLimit}; logged: ${logged}`,
    });
    expect(connected).toBeGreaterThan(1000);
    expect(health.status).toBe(200);
    expect(me.status).toBe(200);
    expect(decided).toBe(true);
    expect(openOurs).toBeLessThanOrEqual(64);
    expect(logged).toBe(true);
    expect(rt.output()).toMatch(/open files limit/);
    // the silent and the half-request connections were closed by the server
    expect(lingering).toBe(false);
  });

  test('11: WebSocket handshakes from a foreign Origin are refused, same-origin ones work', async () => {
    const admin = await login('admin', 'admin-secret-web');
    const guard = await login(GUARD.username, GUARD.password);
    expect(admin.status).toBe(200);
    expect(guard.status).toBe(200);
    const wsBase = rt.url.replace(/^http/, 'ws');
    const evil = 'http://evil.example';
    const cases: Array<[string, string, Record<string, string>, string, string | undefined]> = [
      ['/admin/comms, admin cookie', `${wsBase}/admin/comms`, sessionHeader(admin.cookies), 'open', undefined],
      ['dashboard socket.io, guard cookie', `${wsBase}/dashboard/socket.io/?EIO=4&transport=websocket`, sessionHeader(guard.cookies), 'open', undefined],
      ['/mqtt', `${wsBase}/mqtt`, {}, 'open', 'mqtt'],
    ];
    let refused = 0;
    const notes: string[] = [];
    for (const [name, url, headers, , proto] of cases) {
      const foreign = await wsTry(url, { ...headers, Origin: evil }, proto);
      const same = await wsTry(url, { ...headers, Origin: origin }, proto);
      notes.push(`${name}: foreign ${foreign}, same ${same}`);
      if (foreign !== 'open') refused++;
      expect([name, foreign]).toEqual([name, 'status 403']);
      expect([name, same]).toEqual([name, 'open']);
    }
    // socket.io's long-polling transport is no upgrade: the io middleware checks the Origin itself
    const poll = async (o: string): Promise<string> => {
      const h = { ...sessionHeader(guard.cookies), Origin: o };
      const open = await request('GET', '/dashboard/socket.io/?EIO=4&transport=polling', { headers: h });
      const sid = /"sid":"([^"]+)"/.exec(open.text)?.[1];
      if (!sid) return `no engine.io session (${open.status})`;
      await request('POST', `/dashboard/socket.io/?EIO=4&transport=polling&sid=${sid}`, { headers: { ...h, 'Content-Type': 'text/plain;charset=UTF-8' }, body: '40' });
      const answer = await request('GET', `/dashboard/socket.io/?EIO=4&transport=polling&sid=${sid}`, { headers: h });
      return answer.text.startsWith('40') ? 'connected' : answer.text.startsWith('44') ? 'refused' : answer.text.slice(0, 40);
    };
    const pollForeign = await poll(evil);
    const pollSame = await poll(origin);
    notes.push(`socket.io polling: foreign ${pollForeign}, same ${pollSame}`);
    if (pollForeign !== 'connected') refused++;
    reportFault({ attack: 'cross-site WebSocket hijacking (foreign Origin + valid cookie)', tried: 4, survived: refused, lost: 4 - refused, note: notes.join('; ') });
    expect(pollForeign).toBe('refused');
    expect(pollSame).toBe('connected');
  });

  test('12: logout revokes the session server-side', async () => {
    const s = await login(GUARD.username, GUARD.password);
    expect(s.status).toBe(200);
    const before = await request('GET', '/api/me', { headers: sessionHeader(s.cookies) });
    const out = await request('POST', '/logout', { headers: { ...sessionHeader(s.cookies), Origin: origin } });
    const after = await request('GET', '/api/me', { headers: sessionHeader(s.cookies) });
    reportFault({
      attack: 'reuse of a session cookie after logout',
      tried: 1,
      survived: after.status === 401 ? 1 : 0,
      lost: after.status === 401 ? 0 : 1,
      note: `before ${before.status}, logout ${out.status}, after ${after.status}`,
    });
    expect(before.status).toBe(200);
    expect(out.status).toBe(303);
    expect(after.status).toBe(401);
    // a fresh login still works
    expect((await login(GUARD.username, GUARD.password)).status).toBe(200);
  });

  test('14: no stack trace or file path in any error answer', async () => {
    const big = 'username=admin&password=' + 'x'.repeat(9000);
    const probes: Array<[string, string, string, Record<string, string>, string | undefined]> = [
      ['/login 9 KB form', 'POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded' }, big],
      ['/login 9 KB JSON', 'POST', '/login', { 'Content-Type': 'application/json' }, JSON.stringify({ username: 'a', password: 'x'.repeat(9000) })],
      ['/login bad JSON', 'POST', '/login', { 'Content-Type': 'application/json' }, '{"username":'],
      ['/admin/flows bad JSON', 'POST', '/admin/flows', { ...rt.basicAuth(), 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2' }, '{bad'],
      ['/admin/nodes bad JSON', 'POST', '/admin/nodes', { ...rt.basicAuth(), 'Content-Type': 'application/json' }, '{bad'],
      ['/api/passes/temporary bad JSON', 'POST', '/api/passes/temporary', { ...rt.basicAuth(), 'Content-Type': 'application/json' }, '{bad'],
      ['/dashboard bad URI', 'GET', '/dashboard/%E0%A4%A', { ...rt.basicAuth() }, undefined],
    ];
    const leaks: string[] = [];
    const seen: string[] = [];
    for (const [name, method, p, headers, body] of probes) {
      const r = await request(method, p, { headers, body });
      seen.push(`${name} ${r.status}`);
      if (/\bat [\w.<>]+ \(|node_modules|\/work\/|\/src\/|\.js:\d+|Error: /.test(r.text)) leaks.push(`${name}: ${r.text.slice(0, 200)}`);
    }
    reportFault({ attack: 'oversized / malformed bodies (login, editor, API, dashboard)', tried: probes.length, survived: probes.length - leaks.length, lost: leaks.length, note: seen.join(', ') });
    expect(leaks).toEqual([]);
    expect(seen[0]).toBe('/login 9 KB form 413');
  });

  test('13: HTTP Basic: after a wrong-password flood the right password works once the Retry-After has passed', async () => {
    const wrong = { Authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` };
    const codes: Record<number, number> = {};
    for (let i = 0; i < 30; i++) {
      const r = await request('GET', '/api/me', { headers: wrong });
      codes[r.status] = (codes[r.status] ?? 0) + 1;
    }
    let waitedS = 0;
    let status = 0;
    for (let i = 0; i < 5; i++) {
      const r = await request('GET', '/api/me', { headers: rt.basicAuth('admin', 'admin-secret-web') });
      status = r.status;
      if (status !== 429) break;
      const ra = Number(r.headers['retry-after']);
      expect(ra).toBeGreaterThan(0);
      expect(ra).toBeLessThanOrEqual(60);
      waitedS += ra;
      await new Promise((res) => setTimeout(res, ra * 1000 + 100));
    }
    // survived: no wrong password let in, and the right one still works afterwards
    reportFault({
      attack: '30 wrong HTTP Basic passwords from one address, then the right one',
      tried: 30,
      survived: status === 200 && !codes[200] ? 30 : 0,
      lost: codes[200] ?? 0,
      note: `checked (401) ${codes[401] ?? 0}, slowed (429) ${codes[429] ?? 0}; right password after ${waitedS} s: ${status}`,
    });
    expect(codes[429]).toBeGreaterThan(0); // the flood was slowed down
    expect(status).toBe(200);
  });

  test('13: login form: an attack on the user name does not keep the real user (known browser) out', async () => {
    // the real guard has logged in from this browser before: it holds a device cookie
    const first = await login(GUARD.username, GUARD.password);
    expect(first.status).toBe(200);
    const device = first.cookies.gatepost_device;
    expect(device).toBeTruthy();
    const codes: Record<number, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await login(GUARD.username, `wrong-${i}`);
      codes[r.status] = (codes[r.status] ?? 0) + 1;
    }
    const real = await login(GUARD.username, GUARD.password, { gatepost_device: device });
    const stranger = await login(GUARD.username, GUARD.password);
    reportFault({
      attack: '40 wrong passwords for guard1 via /login, then the real guard',
      tried: 40,
      // survived: no wrong password let in, and the real guard still gets in at once
      survived: real.status === 200 && !codes[200] && !codes[303] ? 40 : 0,
      lost: (codes[200] ?? 0) + (codes[303] ?? 0),
      note: `checked (401) ${codes[401] ?? 0}, slowed (429) ${codes[429] ?? 0}; real guard (known browser) ${real.status}; new browser ${stranger.status}${stranger.retryAfter ? ` Retry-After ${stranger.retryAfter} s` : ''}`,
    });
    expect(codes[429]).toBeGreaterThan(0);
    expect(codes[401]).toBeLessThan(40);
    expect(real.status).toBe(200);
    expect(real.cookies.gatepost_session).toBeTruthy();
  });

  test('16: CSP on login, dashboard and editor; the pages work in Chromium without a violation', async () => {
    for (const p of ['/login', '/dashboard/', '/admin/']) {
      const r = await request('GET', p, { headers: p === '/login' ? {} : rt.basicAuth() });
      const want = p === '/login' ? "default-src 'none'" : "default-src 'self'";
      expect([p, r.headers['content-security-policy'] ?? 'none']).toEqual([p, expect.stringContaining(want)]);
    }
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    const violations: string[] = [];
    const errors: string[] = [];
    const steps: string[] = [];
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(30_000);
      page.on('console', (m) => {
        if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text().slice(0, 300));
      });
      page.on('pageerror', (e) => errors.push(e.message.slice(0, 200)));
      // every page reports its violations to us too (the console misses some in workers)
      await ctx.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`Content-Security-Policy violation: ${e.violatedDirective} ${e.blockedURI}`)));
      await page.goto(`${rt.url}/dashboard`);
      await page.waitForURL('**/login**');
      // the login page's style applied (its hash is in the policy)
      expect(await page.evaluate(() => getComputedStyle(document.querySelector('button')!).backgroundColor)).toBe('rgb(37, 99, 235)');
      await page.fill('input[name=username]', 'admin');
      await page.fill('input[name=password]', 'admin-secret-web');
      await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
      await page.waitForSelector('[data-testid=gp-search-input]');
      steps.push('dashboard');
      await page.click('[data-testid=gp-nav-history]');
      await page.waitForSelector('[data-testid=gp-history]');
      await page.click('[data-testid=gp-nav-system]');
      await page.waitForSelector('[data-testid=gp-system]');
      steps.push('dashboard pages');
      await page.goto(`${rt.url}/admin/`);
      await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 60_000 });
      // a function node's edit dialog: the Monaco code editor and its workers load here
      await page.evaluate(() => {
        const RED = (window as any).RED;
        RED.view.importNodes([{ id: 'cspf00000000001', type: 'function', x: 200, y: 200, z: RED.workspaces.active(), func: 'return msg;', outputs: 1 }]);
        RED.editor.edit(RED.nodes.node('cspf00000000001'));
      });
      await page.waitForSelector('.monaco-editor', { state: 'attached', timeout: 30_000 });
      await page.click('.monaco-editor:visible .view-lines');
      await page.keyboard.type('const x = 1;');
      await page.waitForTimeout(1500);
      steps.push('editor');
    } finally {
      await browser.close();
    }
    reportFault({
      attack: 'CSP: login → dashboard (3 pages) → editor (node dialog) in Chromium',
      tried: 3,
      survived: steps.length,
      lost: violations.length,
      note: `${violations.length} CSP violations, ${errors.length} page errors${violations[0] ? `; ${violations[0].slice(0, 120)}` : ''}`,
    });
    expect(steps).toEqual(['dashboard', 'dashboard pages', 'editor']);
    expect(violations).toEqual([]);
  });
});
