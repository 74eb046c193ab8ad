/**
 * Boots the BUILT gatepost runtime (dist/src/runtime/main.js — run `npm run build` first; `npm test`
 * does) as a child process on free ports of 127.0.0.1 with a temp data dir, for end-to-end tests.
 *
 *   const rt = await startGatepost({ env: { GATEPOST_DEMO: 'on' } });
 *   await fetch(`${rt.url}/api/me`, { headers: rt.basicAuth() });
 *   mqtt.connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword });
 *   await rt.stop();            // SIGTERM; resolves { code, signal, ms }; data dir kept (rt.cleanup() removes it)
 *
 * Options:
 *  - dataDir: reuse a data dir (a restart); pass `known` with the passwords of the first start,
 *    because a second start prints no password;
 *  - flowsDir: shipped flows to install (default: the project's flows/);
 *  - env: extra environment (GATEPOST_DEMO defaults to 'off' here; set 'on' for the emulators);
 *  - mqttUsers: GATEPOST_MQTT_USERS, e.g. 'ops:ops-secret:operator';
 *  - external broker: env GATEPOST_MQTT_URL (+ _USERNAME/_PASSWORD).
 * Every GATEPOST_* variable of the test process is dropped from the child's environment, the
 * child's cwd is a temp dir (no .env is read), and only 127.0.0.1 is used.
 * The handle records the /api/health status codes seen while booting (`healthSeen`), the
 * child's output (`output()`, `waitForOutput(re)`), the internal MQTT account (`internalMqtt()`,
 * read from the data dir, role admin) and offers restoreFlows() (the --restore-flows command).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/** The project root: the nearest directory up with a package.json (tests/helpers/ under jest, dist/tests/helpers/ when a benchmark imports the compiled helper). */
export const ROOT = ((): string => {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return path.resolve(__dirname, '..', '..');
  }
})();
export const MAIN = path.join(ROOT, 'dist', 'src', 'runtime', 'main.js');

export interface StartOptions {
  dataDir?: string;
  flowsDir?: string;
  env?: Record<string, string>;
  mqttUsers?: string;
  known?: { adminPassword?: string; lprPassword?: string };
  /** ms to wait for health 200 (default 60000) */
  timeoutMs?: number;
  /** echo the child's output to this process's stderr */
  echo?: boolean;
  /** node's own flags before the main script (e.g. --cpu-prof for a profile) */
  nodeArgs?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms from the signal to the exit */
  ms: number;
}

export interface GatepostHandle {
  url: string;
  httpPort: number;
  mqttPort: number;
  mqttUrl: string;
  wsUrl: string;
  dataDir: string;
  adminPassword: string;
  lprPassword: string;
  /** true when this start printed the first-start notice */
  firstStart: boolean;
  /** status codes (or 'refused') of /api/health polls until the first 200 */
  healthSeen: Array<number | 'refused'>;
  /** ms from spawn to health 200 */
  readyMs: number;
  proc: ChildProcess;
  env: Record<string, string>;
  output(): string;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  basicAuth(user?: string, password?: string): Record<string, string>;
  internalMqtt(): { username: string; password: string };
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** removes the data dir (after stop) */
  cleanup(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'gatepost-rt-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GATEPOST_')) out[k] = v;
  return out;
}

async function probe(url: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'refused';
  }
}

export async function startGatepost(opts: StartOptions = {}): Promise<GatepostHandle> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const dataDir = opts.dataDir ?? path.join(tempDir(), 'data');
  // env may pin the ports (a restart on the same address, for an open page to come back to)
  const httpPort = Number(opts.env?.GATEPOST_HTTP_PORT) || (await freePort());
  const mqttPort = Number(opts.env?.GATEPOST_MQTT_PORT) || (await freePort());
  const env: Record<string, string> = {
    ...cleanEnv(),
    NODE_ENV: 'test',
    GATEPOST_HTTP_PORT: String(httpPort),
    GATEPOST_MQTT_PORT: String(mqttPort),
    GATEPOST_BIND: '127.0.0.1',
    GATEPOST_DATA_DIR: dataDir,
    GATEPOST_DEMO: 'off',
    GATEPOST_LOG_LEVEL: 'info',
    ...(opts.flowsDir ? { GATEPOST_FLOWS_DIR: opts.flowsDir } : {}),
    ...(opts.mqttUsers ? { GATEPOST_MQTT_USERS: opts.mqttUsers } : {}),
    ...(opts.env ?? {}),
  };
  const cwd = path.dirname(dataDir);
  fs.mkdirSync(cwd, { recursive: true });
  const started = Date.now();
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const outWaiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString('utf8');
    if (opts.echo) process.stderr.write(b);
    for (const w of [...outWaiters]) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      resolve();
    }),
  );

  const healthSeen: Array<number | 'refused'> = [];
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exit) throw new Error(`gatepost exited (code ${(exit as any).code}) before it was ready:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`gatepost not ready within ${opts.timeoutMs ?? 60_000} ms:\n${out.slice(-4000)}`);
    }
    const st = await probe(`${url}/api/health`);
    if (healthSeen[healthSeen.length - 1] !== st) healthSeen.push(st);
    if (st === 200) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const readyMs = Date.now() - started;
  // the console notice is printed right after health turns 200
  for (const t0 = Date.now(); !/ is running[\s\S]*={20,}/.test(out) && Date.now() - t0 < 3000;) await new Promise((r) => setTimeout(r, 20));
  const admin = /admin password: (\S+)/.exec(out)?.[1];
  const lpr = /MQTT user lpr password: (\S+)/.exec(out)?.[1];
  const adminPassword = (admin && admin !== '(from' ? admin : undefined) ?? env.GATEPOST_ADMIN_PASSWORD ?? opts.known?.adminPassword ?? '';
  const lprPassword = lpr ?? opts.known?.lprPassword ?? '';

  const handle: GatepostHandle = {
    url,
    httpPort,
    mqttPort,
    mqttUrl: env.GATEPOST_MQTT_URL || `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
    dataDir,
    adminPassword,
    lprPassword,
    firstStart: /FIRST START/.test(out),
    healthSeen,
    readyMs,
    proc,
    env,
    output: () => out,
    waitForOutput(re, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(t);
            outWaiters.delete(check);
            resolve(m[0]);
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          outWaiters.delete(check);
          reject(new Error(`no output matching ${re} within ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) outWaiters.add(check);
      });
    },
    basicAuth(user = 'admin', password = adminPassword) {
      return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
    },
    internalMqtt() {
      const s = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
      return { username: s.internalMqtt.username, password: s.internalMqtt.password };
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (exit) return { code: (exit as any).code, signal: (exit as any).signal, ms: 0 };
      const t0 = Date.now();
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      return { code: (exit as any).code, signal: (exit as any).signal, ms: (exit as any).at - t0 };
    },
    cleanup() {
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    },
  };
  return handle;
}

/** Runs `main.js --restore-flows` on a (stopped) runtime's data dir; returns exit code and output. */
export function restoreFlows(h: Pick<GatepostHandle, 'env' | 'dataDir'>): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [MAIN, '--restore-flows'], { cwd: path.dirname(h.dataDir), env: h.env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A JSON call to the runtime's API as admin (HTTP Basic); throws with the status and body when not 2xx. */
export async function apiOf<T = any>(rt: Pick<GatepostHandle, 'url' | 'basicAuth'>, p: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(rt.url + p, { ...init, headers: { ...rt.basicAuth(), 'Content-Type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${p}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/**
 * Polls fn until it returns something truthy (returned). A poll that throws (the server not up yet,
 * a page in the middle of a reload) is tried again; after timeoutMs it throws `timed out waiting for
 * <what>` with the last error.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
