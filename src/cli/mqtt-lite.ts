/**
 * A minimal MQTT 3.1.1 client for the `gatepost-lpr` command: CONNECT (user/password, clean
 * session), SUBSCRIBE, PUBLISH QoS 0/1 (resolved on PUBACK), incoming QoS 0/1 PUBLISH, PINGREQ,
 * DISCONNECT — over `net` (or `tls` for mqtts://, loaded only then).
 *
 * Why not mqtt.js: the command is started once per plate by LPR programs, and loading mqtt.js
 * alone costs ~50 ms of the start-up budget (the old script-per-plate path took 78 ms in all).
 * The runtime and the flows keep using mqtt.js / Node-RED's mqtt nodes.
 */
import net = require('net');
import { EventEmitter } from 'events';

/** n random hex digits (n ≤ 13) from Math.random: ids that must be unique, not secret (no `crypto` to load). */
export function randomHex(n: number): string {
  return Math.floor(Math.random() * 16 ** n)
    .toString(16)
    .padStart(n, '0');
}

export interface LiteConnectOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** seconds (default 30) */
  keepalive?: number;
  /** CONNECT → CONNACK deadline, ms (default 1000) */
  connectTimeoutMs?: number;
}

export class MqttError extends Error {
  constructor(
    message: string,
    readonly code: 'connect-timeout' | 'network' | 'refused' | 'protocol' | 'closed' | 'timeout' | 'subscribe-refused',
  ) {
    super(message);
  }
}

const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client id rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

function encodeLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(first: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([first]), encodeLength(body.length), body]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export interface LiteMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

/**
 * Events: 'message' (LiteMessage), 'close' (Error | undefined).
 */
export class MqttLite extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: Buffer) => void; reject: (e: Error) => void }>();
  private ping: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    super();
  }

  static connect(opts: LiteConnectOptions): Promise<MqttLite> {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      return Promise.reject(new MqttError(`invalid broker URL`, 'network'));
    }
    const secure = u.protocol === 'mqtts:' || u.protocol === 'ssl:';
    if (!secure && u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') return Promise.reject(new MqttError(`unsupported broker URL scheme ${u.protocol}`, 'network'));
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port) || (secure ? 8883 : 1883);
    const timeoutMs = opts.connectTimeoutMs ?? 1000;
    const keepalive = opts.keepalive ?? 30;

    return new Promise<MqttLite>((resolve, reject) => {
      let settled = false;
      const sock: net.Socket = secure ? (require('tls') as typeof import('tls')).connect({ host, port, servername: host }) : net.connect({ host, port });
      sock.setNoDelay(true);
      const client = new MqttLite(sock);
      const fail = (err: MqttError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new MqttError(`no answer from ${host}:${port} within ${timeoutMs} ms`, 'connect-timeout')), timeoutMs);
      sock.once('error', (e: NodeJS.ErrnoException) => fail(new MqttError(`${host}:${port}: ${e.code ?? e.message}`, 'network')));
      sock.once('close', () => fail(new MqttError(`${host}:${port} closed the connection`, 'closed')));
      client.once('connack', (rc: number) => {
        if (settled) return;
        if (rc !== 0) return fail(new MqttError(`broker refused the connection: ${CONNACK_REASONS[rc] ?? `code ${rc}`}`, 'refused'));
        settled = true;
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.removeAllListeners('close');
        client.attach(keepalive);
        resolve(client);
      });
      sock.on('data', (d) => client.onData(d));
      const onReady = () => {
        let flags = 0x02; // clean session
        const payload = [str(opts.clientId ?? `gatepost-lpr-${process.pid}-${randomHex(12)}`)];
        if (opts.username !== undefined && opts.username !== '') {
          flags |= 0x80;
          payload.push(str(opts.username));
          if (opts.password !== undefined) {
            flags |= 0x40;
            payload.push(str(opts.password));
          }
        }
        sock.write(packet(0x10, [str('MQTT'), Buffer.from([4, flags]), u16(keepalive), ...payload]));
      };
      // plain TCP: CONNECT is queued at once and goes out with the handshake's completion (no
      // event-loop turn between 'connect' and the write)
      if (secure) sock.once('secureConnect', onReady);
      else onReady();
    });
  }

  private attach(keepalive: number): void {
    this.sock.on('error', (e) => this.shutdown(new MqttError(e.message, 'network')));
    this.sock.on('close', () => this.shutdown(new MqttError('connection closed', 'closed')));
    if (keepalive > 0) {
      this.ping = setInterval(() => this.sock.write(Buffer.from([0xc0, 0])), (keepalive * 1000) / 2);
      this.ping.unref();
    }
  }

  private shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ping) clearInterval(this.ping);
    for (const p of this.pending.values()) p.reject(err ?? new MqttError('connection closed', 'closed'));
    this.pending.clear();
    this.emit('close', err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      let len = 0;
      let mult = 1;
      let i = 1;
      for (;;) {
        if (i >= this.buf.length) return; // length not complete yet
        const b = this.buf[i++];
        len += (b & 0x7f) * mult;
        if (!(b & 0x80)) break;
        mult *= 128;
        if (i > 4) {
          this.sock.destroy();
          return this.shutdown(new MqttError('malformed remaining length', 'protocol'));
        }
      }
      if (this.buf.length < i + len) return;
      const first = this.buf[0];
      const body = this.buf.subarray(i, i + len);
      this.buf = this.buf.subarray(i + len);
      this.onPacket(first, body);
    }
  }

  private onPacket(first: number, body: Buffer): void {
    switch (first >> 4) {
      case 2: // CONNACK
        this.emit('connack', body[1]);
        return;
      case 3: {
        // PUBLISH
        const qos = (first >> 1) & 3;
        const tlen = body.readUInt16BE(0);
        const topic = body.subarray(2, 2 + tlen).toString('utf8');
        let off = 2 + tlen;
        if (qos > 0) {
          const id = body.readUInt16BE(off);
          off += 2;
          if (qos === 1) this.sock.write(Buffer.from([0x40, 2, id >> 8, id & 0xff]));
          else this.sock.write(Buffer.from([0x50, 2, id >> 8, id & 0xff])); // PUBREC; we never subscribe with QoS 2
        }
        this.emit('message', { topic, payload: Buffer.from(body.subarray(off)), qos, retain: (first & 1) === 1 } as LiteMessage);
        return;
      }
      case 4: // PUBACK
      case 9: {
        // SUBACK
        const id = body.readUInt16BE(0);
        const p = this.pending.get(id);
        if (p) {
          this.pending.delete(id);
          p.resolve(body.subarray(2));
        }
        return;
      }
      default:
        return; // PINGRESP and others
    }
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1;
    return id;
  }

  private await(id: number, timeoutMs: number, what: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new MqttError(`no ${what} within ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }

  /** Subscribes; rejects when the broker refuses (SUBACK 0x80) or does not answer. */
  async subscribe(topic: string, qos: 0 | 1 = 0, timeoutMs = 1000): Promise<void> {
    if (this.closed) throw new MqttError('connection closed', 'closed');
    const id = this.id();
    const done = this.await(id, timeoutMs, 'SUBACK');
    this.sock.write(packet(0x82, [u16(id), str(topic), Buffer.from([qos])]));
    const codes = await done;
    if (codes[0] === 0x80) throw new MqttError(`broker refused the subscription to ${topic}`, 'subscribe-refused');
  }

  /** Publishes; QoS 1 resolves on PUBACK, QoS 0 once the packet is written. */
  publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return Promise.reject(new MqttError('connection closed', 'closed'));
    const qos = opts.qos ?? 0;
    const first = 0x30 | (qos << 1) | (opts.retain ? 1 : 0);
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (qos === 0) {
      return new Promise((resolve, reject) => this.sock.write(packet(first, [str(topic), data]), (err) => (err ? reject(err) : resolve())));
    }
    const id = this.id();
    const done = this.await(id, opts.timeoutMs ?? 2000, 'PUBACK');
    this.sock.write(packet(first, [str(topic), u16(id), data]));
    return done.then(() => undefined);
  }

  /** Holds the following writes and sends them together at `uncork()` (one TCP segment). */
  cork(): void {
    this.sock.cork();
  }

  uncork(): void {
    this.sock.uncork();
  }

  /**
   * Sends DISCONNECT and closes the socket as soon as it is handed to the kernel: nothing waits
   * for the broker's own FIN (a process exiting right after `end()` is not held up by the broker).
   */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sock.destroy();
        resolve();
      };
      const t = setTimeout(done, 200);
      t.unref();
      this.sock.end(Buffer.from([0xe0, 0]), done);
      this.shutdown();
    });
  }

  /** Drops the connection at once (no DISCONNECT). */
  destroy(): void {
    this.sock.destroy();
    this.shutdown();
  }
}
