/**
 * In-process connections to the embedded MQTT broker.
 *
 * The runtime's own MQTT clients — Node-RED's mqtt-broker config node (every `mqtt in` / `mqtt
 * out` of the flows), the MQTT bridge, the flows' session cleanup — talk to the embedded aedes in
 * the same process. Over loopback TCP every packet cost a write syscall, an epoll wake-up and a
 * read syscall on each side; on the post's small PC (and this 2-core VM) that was ~0.6 ms of CPU
 * per QoS 1 message (bench/footprint, docs/BENCHMARKS.md). Here a TCP connection the runtime opens
 * to the embedded broker's own address and port becomes a pair of in-memory streams instead: the
 * clients are unchanged (mqtt.js calls `net.createConnection` and gets a socket-like Duplex), the
 * broker handles the other end exactly as a TCP connection — CONNECT with user name and password,
 * the per-topic ACL, the packet size meter (broker.ts `attach`). Nothing else is intercepted: an
 * external broker (GATEPOST_MQTT_URL), any other host or port, other processes — all plain TCP.
 * GATEPOST_MQTT_INPROC=off turns it off (loopback TCP as before).
 */
import net = require('net');
import { Duplex } from 'stream';

type Callback = (err?: Error | null) => void;

/** Unread bytes (written, not yet read by the other end) beyond which a writer waits. */
const BUFFER_LIMIT = 256 * 1024;

/**
 * One end of an in-memory connection. Bytes written on one end are read on the other, in order,
 * delivered on the next tick (as from a socket, never inside the writer's call); what was written
 * during one tick arrives as one chunk. Ending or destroying one end ends / closes the other. The
 * socket methods clients call (setNoDelay, setKeepAlive, setTimeout, ref, unref) are accepted.
 */
export class InProcSocket extends Duplex {
  private peer!: InProcSocket;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private flushQueued = false;
  /** the write callback held while the peer's read buffer is full (back pressure, as a socket's) */
  private held: Callback | null = null;
  private ended = false;
  readonly remotePort = 0;
  readonly localAddress: string;
  readonly connecting = false;

  constructor(readonly remoteAddress: string) {
    super({ allowHalfOpen: false });
    this.localAddress = remoteAddress;
  }

  /** Two connected ends. */
  static pair(address = 'in-process'): [InProcSocket, InProcSocket] {
    const a = new InProcSocket(address);
    const b = new InProcSocket(address);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  private flush = (): void => {
    this.flushQueued = false;
    if (this.outbox.length) {
      const chunk = this.outbox.length === 1 ? this.outbox[0] : Buffer.concat(this.outbox);
      this.outbox = [];
      this.outboxBytes = 0;
      if (!this.peer.destroyed && !this.peer.readableEnded) this.peer.push(chunk);
    }
    if (this.held && this.peer.readableLength < BUFFER_LIMIT) this.release();
  };

  private release(): void {
    const held = this.held;
    this.held = null;
    held?.();
  }

  private queue(chunk: Buffer, cb: Callback): void {
    this.outbox.push(chunk);
    this.outboxBytes += chunk.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flush);
    }
    // as a socket's: the writer waits while the reader has this much unread
    if (this.outboxBytes + this.peer.readableLength >= BUFFER_LIMIT) this.held = cb;
    else cb();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Callback): void {
    this.queue(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: Callback): void {
    this.queue(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _read(): void {
    // the reader wants more (Readable calls this once until the next push): release the peer's writer
    if (this.peer.held) this.peer.release();
  }

  override _final(cb: Callback): void {
    this.flush();
    this.ended = true;
    if (!this.peer.destroyed) this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: Callback): void {
    const peer = this.peer;
    const held = this.held;
    this.held = null;
    this.outbox = [];
    this.outboxBytes = 0;
    if (held) held(err ?? new Error('socket closed'));
    // the other side sees the connection end (and close), as after a TCP FIN / RST
    if (peer && !peer.destroyed)
      process.nextTick(() => {
        if (peer.destroyed) return;
        if (!this.ended && !peer.readableEnded) peer.push(null);
        peer.destroy();
      });
    cb(err);
  }

  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'in-process', port: 0 };
  }
}

interface Route {
  port: number;
  hosts: Set<string>;
  open: () => Duplex;
}

const routes = new Set<Route>();
let installed = false;

function target(args: unknown[]): { port: number; host: string; cb?: () => void } | null {
  const [a, b, c] = args;
  if (a && typeof a === 'object') {
    const o = a as { port?: unknown; host?: unknown; path?: unknown };
    if (o.path !== undefined || o.port === undefined) return null;
    return { port: Number(o.port), host: String(o.host ?? 'localhost'), cb: typeof b === 'function' ? (b as () => void) : undefined };
  }
  if (typeof a === 'number' || (typeof a === 'string' && /^\d+$/.test(a))) {
    return { port: Number(a), host: typeof b === 'string' ? b : 'localhost', cb: typeof b === 'function' ? (b as () => void) : typeof c === 'function' ? (c as () => void) : undefined };
  }
  return null;
}

function install(): void {
  if (installed) return;
  installed = true;
  const wrap = (f: typeof net.createConnection): typeof net.createConnection =>
    function (this: unknown, ...args: unknown[]) {
      if (routes.size) {
        const t = target(args);
        if (t)
          for (const r of routes)
            if (r.port === t.port && r.hosts.has(t.host.toLowerCase())) {
              const socket = r.open();
              // as a socket: 'connect' (and the connect listener) after the caller got it
              process.nextTick(() => {
                if (socket.destroyed) return;
                socket.emit('connect');
                socket.emit('ready');
                t.cb?.();
              });
              return socket as unknown as net.Socket;
            }
      }
      return (f as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof net.createConnection;
  net.createConnection = wrap(net.createConnection);
  net.connect = wrap(net.connect);
}

/**
 * From now on a TCP connection this process opens to `port` on one of `hosts` (the broker's
 * listening address; 127.0.0.1, localhost and ::1 when it listens on loopback or everywhere) gets
 * `open()`'s stream instead. Returns the function that removes the route.
 */
export function routeInProcess(port: number, bind: string, open: () => Duplex): () => void {
  install();
  const hosts = new Set<string>([bind.toLowerCase().replace(/^\[|\]$/g, '')]);
  if (['0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(bind)) for (const h of ['127.0.0.1', 'localhost', '::1']) hosts.add(h);
  const route: Route = { port, hosts, open };
  routes.add(route);
  return () => void routes.delete(route);
}
