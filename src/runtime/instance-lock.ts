/**
 * One gatepost per data dir, enforced by a lock the operating system releases when the process
 * dies (kill -9, power cut): a listening unix socket. A pid file alone cannot do that — after a
 * crash its pid may belong to any other live process and would block the restart for good.
 *
 *  - Linux: a socket in the abstract namespace named after the data dir's real path (no file, so
 *    it also works on a read-only data dir and leaves nothing behind);
 *  - elsewhere: a socket file `gatepost.lock` in the data dir; a file nobody listens on any more
 *    (connect refused) is stale and replaced.
 * The holder answers every connection with its pid, so a refused start can say who holds the lock.
 * `gatepost.pid` is still written (best effort) for people and scripts; it decides nothing.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export class InstanceLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | null,
  ) {
    super(`another gatepost${pid ? ` (pid ${pid})` : ''} runs on ${dataDir}; stop it first (one gatepost per data dir)`);
  }
}

export interface InstanceLock {
  /** where the lock lives (for logs) */
  readonly address: string;
  release(): Promise<void>;
}

/** The lock address of a data dir. */
export function lockAddress(dataDir: string, platform = process.platform): string {
  if (platform === 'linux') {
    let real = path.resolve(dataDir);
    try {
      real = fs.realpathSync(real);
    } catch {
      /* not there yet: the resolved path names it */
    }
    return `\0gatepost-${crypto.createHash('sha256').update(real).digest('hex').slice(0, 32)}`;
  }
  return path.join(dataDir, 'gatepost.lock');
}

/** Asks the holder of `address` for its pid; null when nobody listens (or it does not answer). */
function holderPid(address: string, timeoutMs = 1000): Promise<number | null | 'none'> {
  return new Promise((resolve) => {
    let data = '';
    const sock = net.connect(address);
    const done = (v: number | null | 'none') => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on('data', (d) => {
      data += d.toString('utf8');
      if (data.includes('\n')) done(Number(data.trim()) || null);
    });
    sock.on('end', () => done(Number(data.trim()) || null));
    sock.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'none' : null));
  });
}

function listen(address: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end(`${process.pid}\n`);
    });
    server.once('error', reject);
    server.listen(address, () => {
      server.removeListener('error', reject);
      server.on('error', () => undefined);
      // the lock must never keep the process alive on its own
      server.unref();
      resolve(server);
    });
  });
}

/** Takes the data dir's lock or throws InstanceLockedError. */
export async function acquireInstanceLock(dataDir: string): Promise<InstanceLock> {
  const address = lockAddress(dataDir);
  const abstract = address.startsWith('\0');
  let server: net.Server;
  try {
    server = await listen(address);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const holder = await holderPid(address);
    if (holder !== 'none') throw new InstanceLockedError(dataDir, holder);
    // a socket file left by a process that died: nobody listens on it
    if (abstract) throw new InstanceLockedError(dataDir, null);
    fs.rmSync(address, { force: true });
    server = await listen(address).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new InstanceLockedError(dataDir, null);
      throw e;
    });
  }
  const pidFile = path.join(dataDir, 'gatepost.pid');
  try {
    fs.writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  } catch {
    /* informational only (a read-only data dir must not stop the start) */
  }
  let released = false;
  return {
    address: abstract ? `@${address.slice(1)}` : address,
    async release() {
      if (released) return;
      released = true;
      try {
        if (fs.readFileSync(pidFile, 'utf8').trim() === String(process.pid)) fs.rmSync(pidFile, { force: true });
      } catch {
        /* gone or unreadable */
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
