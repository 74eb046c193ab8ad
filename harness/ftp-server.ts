/**
 * A real FTP server for tests and benchmarks: `ftp-srv` (dev dependency) in this process, on
 * 127.0.0.1 with a passive port range on loopback, one account, files under a temp root. It can be
 * stopped and started again on the same port (the queue must drain after a restart), made to
 * refuse logins (530), to slow down or cut uploads, and to serve FTPS (explicit TLS) with a
 * self-signed certificate.
 *
 *   const ftp = await startFtpServer({ user: 'cam', password: 'secret' });
 *   … ftp.port, ftp.root, ftp.files() …
 *   await ftp.stop(); await ftp.start(); await ftp.close();
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { freePort } from './runtime';

export interface FtpServerOptions {
  user?: string;
  password?: string;
  port?: number;
  root?: string;
  /** explicit FTPS with a self-signed certificate made by openssl */
  tls?: boolean;
}

export interface FtpServer {
  port: number;
  root: string;
  user: string;
  password: string;
  /** LOGIN attempts seen (ok or refused) */
  logins: Array<{ user: string; ok: boolean }>;
  /** STOR names in arrival order (paths relative to the root) */
  stored: string[];
  /** RNTO targets in arrival order (paths relative to the root) */
  renamed: string[];
  running(): boolean;
  start(): Promise<void>;
  /** stops listening and drops every client (the data stays) */
  stop(): Promise<void>;
  /** true: every login is refused with 530 */
  refuseLogins(on: boolean): void;
  /** the next `n` STOR commands fail with a 5xx answer */
  failStores(n: number, code?: number): void;
  /** `fn` runs once when the next STOR starts (e.g. to stop the server mid-upload) */
  onNextStore(fn: () => void): void;
  /** every file below the root (relative paths, sorted) */
  files(): string[];
  close(): Promise<void>;
}

/** A bunyan-like logger that says nothing (ftp-srv logs with bunyan by default). */
function quietLog(): any {
  const log: any = {};
  for (const k of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[k] = () => undefined;
  log.child = () => log;
  return log;
}

function selfSigned(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.stderr}`);
  return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
}

export async function startFtpServer(opts: FtpServerOptions = {}): Promise<FtpServer> {
  // ftp-srv is a dev dependency: loaded only when a test or benchmark asks for a server
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const FtpSrv = require('ftp-srv');
  const port = opts.port ?? (await freePort());
  const root = opts.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ftp-root-'));
  const tlsOpts = opts.tls ? selfSigned(fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ftp-tls-'))) : false;
  const user = opts.user ?? 'cam';
  const password = opts.password ?? 'ftp-secret';
  // a passive range of its own per server (parallel test files), on loopback
  const pasvMin = 20000 + Math.floor(Math.random() * 400) * 100;
  let srv: any = null;
  let refusing = false;
  let storeFailures = 0;
  let storeCode = 553;
  let nextStore: (() => void) | null = null;
  const logins: FtpServer['logins'] = [];
  const stored: string[] = [];
  const renamed: string[] = [];

  const make = () => {
    // ftp-srv hooks SIGTERM/SIGINT/SIGQUIT of the whole process (→ process.exit(0)) for every
    // server and never lets go: the test process keeps its own signal handling
    const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
    const before = signals.map((sig) => process.listeners(sig));
    const s = new FtpSrv({
      url: `ftp://127.0.0.1:${port}`,
      pasv_url: '127.0.0.1',
      pasv_min: pasvMin,
      pasv_max: pasvMin + 99,
      anonymous: false,
      greeting: 'gatepost test FTP',
      log: quietLog(),
      tls: tlsOpts,
      // no idle timeout: its timer would keep the test process alive after the last test
      timeout: 0,
    });
    s.on('login', ({ connection, username, password: pw }: any, resolve: (c: any) => void, reject: (e: Error) => void) => {
      const ok = !refusing && username === user && pw === password;
      logins.push({ user: username, ok });
      if (!ok) return reject(new Error('Login incorrect'));
      connection.on('STOR', (err: Error | null, file: string) => {
        if (!err) stored.push(path.relative(root, file));
      });
      connection.on('RNTO', (err: Error | null, file: string) => {
        // the name as sent, resolved against the session's directory
        if (!err) renamed.push(path.posix.join(connection.fs?.cwd ?? '/', file).replace(/^\//, ''));
      });
      resolve({ root });
    });
    signals.forEach((sig, i) => {
      for (const l of process.listeners(sig)) if (!before[i].includes(l)) process.removeListener(sig, l);
    });
    s.on('client-error', () => undefined);
    s.__gatepostStoreHook = () => {
      const fn = nextStore;
      nextStore = null;
      fn?.();
      if (storeFailures <= 0) return null;
      storeFailures--;
      return { code: storeCode };
    };
    return s;
  };

  const server: FtpServer = {
    port,
    root,
    user,
    password,
    logins,
    stored,
    renamed,
    running: () => !!srv,
    async start() {
      if (srv) return;
      srv = make();
      await srv.listen();
    },
    async stop() {
      const s = srv;
      srv = null;
      if (!s) return;
      await s.close().catch(() => undefined);
    },
    refuseLogins(on) {
      refusing = on;
    },
    onNextStore(fn) {
      nextStore = fn;
    },
    failStores(n, code = 553) {
      storeFailures = n;
      storeCode = code;
    },
    files() {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else out.push(path.relative(root, p));
        }
      };
      walk(root);
      return out.sort();
    },
    async close() {
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  // failStores: ftp-srv has one STOR handler for every server; it asks the connection's server
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const stor = require('ftp-srv/src/commands/registry').STOR;
  if (!stor.__gatepostWrapped) {
    const handler = stor.handler;
    stor.handler = function (this: any, ...args: any[]) {
      const f = this.server?.__gatepostStoreHook?.();
      return f ? this.reply(f.code, 'Refused by the test server') : handler.apply(this, args);
    };
    stor.__gatepostWrapped = true;
  }
  await server.start();
  return server;
}
