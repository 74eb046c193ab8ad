/** Shared bits of the LPR tests: the aedes child broker, a captured CliIo, temp dirs. */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import type { CliIo } from '../../src/cli/gatepost-lpr';

export interface ChildBroker {
  port: number;
  url: string;
  user: string;
  password: string;
  /** every message published on gatepost/lpr/# so far */
  published: Array<{ topic: string; payload: string }>;
  waitPublished(pred: (m: { topic: string; payload: string }) => boolean, timeoutMs?: number): Promise<{ topic: string; payload: string }>;
  stop(): Promise<void>;
  proc: ChildProcess;
}

export async function startChildBroker(env: Record<string, string> = {}): Promise<ChildBroker> {
  const user = env.LPR_USER ?? 'lpr';
  const password = env.LPR_PASSWORD ?? 'lpr-secret';
  const proc = spawn(process.execPath, [path.join(__dirname, '..', '..', 'harness', 'lpr-broker.js')], {
    env: { ...process.env, ...env, LPR_USER: user, LPR_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const published: Array<{ topic: string; payload: string }> = [];
  const waiters: Array<() => void> = [];
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('broker did not start')), 10000);
    const rl = readline.createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      const o = JSON.parse(line);
      if (o.port) {
        clearTimeout(t);
        resolve(o.port);
      }
      if (o.publish) {
        published.push(o.publish);
        for (const w of [...waiters]) w();
      }
    });
    proc.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
  });
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    user,
    password,
    published,
    proc,
    waitPublished(pred, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = published.find(pred);
          if (m) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(m);
          }
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error('no matching publish'));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    },
  };
}

export function tempDir(prefix = 'gatepost-lpr-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface CapturedIo extends CliIo {
  out: string[];
  err: string[];
}

export function captureIo(env: Record<string, string | undefined>, extra: Partial<CliIo> = {}): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return { env, out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l), home: tempDir('gatepost-home-'), startFlush: () => undefined, ...extra };
}

/** A 127.0.0.1 port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const net = await import('net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as any).port;
      s.close(() => resolve(p));
    });
  });
}
