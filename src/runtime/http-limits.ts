/**
 * The HTTP server's defences against running out of sockets / file descriptors (issue 19,
 * item 10). 1,100 idle TCP connections that never sent a byte took every descriptor (the systemd
 * default limit is 1,024): /api/health became unreachable, plates were refused, nothing was
 * logged. Now:
 *  - short timeouts: a connection must send its first request within FIRST_REQUEST_MS, complete
 *    headers within headersTimeout, the request within requestTimeout; an idle keep-alive
 *    connection is closed after keepAliveTimeout (Node's own timers; Node never times out a
 *    connection that sent nothing, hence the first-request timer);
 *  - at most IDLE_PER_ADDRESS idle connections (no request in progress, not a WebSocket) per
 *    client address and IDLE_TOTAL overall: a new one beyond that closes the oldest idle one, so an
 *    address can never hold more than its share of descriptors, and busy connections (a request,
 *    an SSE stream, a WebSocket) are never touched;
 *  - a log line when that happens, and when the process's open descriptors pass 80% of its limit;
 *  - the open-files limit is logged at start, with a warning when it is low. Node itself raises
 *    the soft RLIMIT_NOFILE to the hard limit when it starts, so the hard limit is what counts:
 *    the systemd unit should say LimitNOFILE=65536 (README).
 */
import * as fs from 'fs';
import type * as http from 'http';
import type * as net from 'net';
import type { RuntimeLogger } from './logger';

/** Options for http.createServer. */
export const HTTP_SERVER_OPTIONS: http.ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  // how often Node checks the two timeouts above (default 30 s would let them run 40 s)
  connectionsCheckingInterval: 1_000,
};
export const FIRST_REQUEST_MS = 10_000;
export const IDLE_PER_ADDRESS = 32;
export const IDLE_TOTAL = 256;
const FD_WARN_SHARE = 0.8;
const LOG_EVERY_MS = 10_000;

interface Conn {
  socket: net.Socket;
  address: string;
  /** requests in progress; -1 once upgraded (WebSocket): never idle again */
  busy: number;
}

export interface ConnectionStats {
  open: number;
  idle: number;
  /** idle connections closed to make room */
  evicted: number;
  fds: number | null;
  fdLimit: number | null;
}

/** Reads the soft and hard limit of open files from /proc (Linux), or null. */
export function fileLimits(pid: number | 'self' = 'self'): { soft: number; hard: number } | null {
  try {
    const line = fs
      .readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line && /Max open files\s+(\S+)\s+(\S+)/.exec(line);
    if (!m) return null;
    const n = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return null;
  }
}

function openFds(): number | null {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Logs the open-files limit (Node has already raised the soft limit to the hard one). */
export const LOW_FILE_LIMIT = 4096;
export function reportFileLimit(log: RuntimeLogger): { soft: number; hard: number } | null {
  const l = fileLimits();
  if (!l) return null;
  if (l.soft < LOW_FILE_LIMIT) log.warn(`open files limit is ${l.soft} (hard ${l.hard}): low for a guard post; set LimitNOFILE=65536 in the service unit (README)`);
  else log.info(`open files limit ${l.soft}`);
  return l;
}

/** Tracks the server's connections and enforces the idle caps; returns a stats reader. */
export function guardConnections(server: http.Server, log: RuntimeLogger, limits = { perAddress: IDLE_PER_ADDRESS, total: IDLE_TOTAL }): () => ConnectionStats {
  const conns = new Map<net.Socket, Conn>();
  /** idle connections, oldest first (Map keeps insertion order) */
  const idle = new Map<net.Socket, Conn>();
  const idleByAddress = new Map<string, number>();
  let evicted = 0;
  let evictedSinceLog = 0;
  let lastEvictLog = 0;
  let lastFdCheck = 0;
  let lastFdLog = 0;
  const fdLimit = () => fileLimits()?.soft ?? null;

  const setIdle = (c: Conn, on: boolean) => {
    if (on === idle.has(c.socket)) return;
    if (on) idle.set(c.socket, c);
    else idle.delete(c.socket);
    idleByAddress.set(c.address, (idleByAddress.get(c.address) ?? 0) + (on ? 1 : -1));
    if (!idleByAddress.get(c.address)) idleByAddress.delete(c.address);
  };

  const evictOne = (address: string | null): boolean => {
    for (const c of idle.values()) {
      if (address !== null && c.address !== address) continue;
      setIdle(c, false);
      c.socket.destroy();
      evicted++;
      evictedSinceLog++;
      return true;
    }
    return false;
  };

  const checkFds = (now: number) => {
    if (now - lastFdCheck < 2000) return;
    lastFdCheck = now;
    const n = openFds();
    const lim = fdLimit();
    if (n !== null && lim && Number.isFinite(lim) && n > lim * FD_WARN_SHARE && now - lastFdLog > LOG_EVERY_MS) {
      lastFdLog = now;
      log.warn(`open files ${n} of ${lim} (${conns.size} HTTP connections, ${idle.size} idle): close to the limit`);
    }
  };

  server.on('connection', (socket: net.Socket) => {
    const now = Date.now();
    const address = socket.remoteAddress ?? '?';
    const c: Conn = { socket, address, busy: 0 };
    conns.set(socket, c);
    setIdle(c, true);
    let full = false;
    while ((idleByAddress.get(address) ?? 0) > limits.perAddress && evictOne(address)) full = true;
    while (idle.size > limits.total && evictOne(null)) full = true;
    if (full && now - lastEvictLog > LOG_EVERY_MS) {
      lastEvictLog = now;
      log.warn(
        `too many idle HTTP connections (${address} has ${idleByAddress.get(address) ?? 0}, ${idle.size} in all, limits ${limits.perAddress}/${limits.total}): ${evictedSinceLog} oldest idle closed`,
      );
      evictedSinceLog = 0;
    }
    // Node's headersTimeout starts with the first byte: a connection that sends nothing is ours
    socket.setTimeout(FIRST_REQUEST_MS);
    socket.once('close', () => {
      setIdle(c, false);
      conns.delete(socket);
    });
    checkFds(now);
  });

  const startRequest = (socket: net.Socket, upgrade: boolean) => {
    const c = conns.get(socket);
    if (!c) return;
    // past the first request: Node's own keep-alive/request timers take over
    socket.setTimeout(0);
    setIdle(c, false);
    if (upgrade) c.busy = -1;
    else if (c.busy >= 0) c.busy++;
  };
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    startRequest(socket, false);
    res.once('close', () => {
      const c = conns.get(socket);
      if (!c || c.busy < 0) return;
      c.busy = Math.max(0, c.busy - 1);
      if (c.busy === 0 && !socket.destroyed) setIdle(c, true);
    });
  });
  server.prependListener('upgrade', (req: http.IncomingMessage) => startRequest(req.socket, true));

  return () => {
    const lim = fdLimit();
    return { open: conns.size, idle: idle.size, evicted, fds: openFds(), fdLimit: lim !== null && Number.isFinite(lim) ? lim : null };
  };
}
