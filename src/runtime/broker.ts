/**
 * The embedded MQTT broker (aedes) with gatepost's accounts and ACL: TCP on GATEPOST_MQTT_PORT
 * and MQTT over WebSocket on the HTTP server at /mqtt (an `upgrade` listener that only takes
 * /mqtt, so Node-RED's /admin/comms and Dashboard 2.0's socket.io keep theirs). It lives outside
 * Node-RED's flow lifecycle: a deploy never disconnects MQTT clients.
 */
import * as crypto from 'crypto';
import * as net from 'net';
import type * as http from 'http';
import type { Duplex } from 'stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { RuntimeLogger } from './logger';
import type { MqttRole } from './secrets';
import { mayPublish, maySubscribe, mayRetain, reservedClientId, topicMatches } from './mqtt-acl';
import { verifyPassword, pendingChecks } from './password-hash';
import { LoginLimiter, ADDRESS_LIMITS, USER_LIMITS } from './login-limiter';
import { MqttPacketMeter, MAX_PACKET } from './mqtt-packet-guard';

export interface MqttAccount {
  username: string;
  role: MqttRole;
  /** a password hash (password-hash.ts: scrypt, or bcrypt of older installs), or a plain password (compared in constant time) */
  hash?: string;
  password?: string;
  /** the runtime's own account: the only one that may use the internal client ids (mqtt-acl.ts reservedClientId) */
  internal?: boolean;
}

export interface PublishInfo {
  topic: string;
  payload: Buffer;
  retain: boolean;
  clientId: string;
  username: string | null;
}

export interface EmbeddedBroker {
  readonly port: number;
  clients(): number;
  /** every publish accepted from a client (not the broker's own $SYS) */
  onPublish(fn: (p: PublishInfo) => void): () => void;
  /** has a client with this id subscribed to anything since it connected? */
  hasSubscribed(clientId: string): boolean;
  /** handles HTTP upgrades of `path`; returns true when it took the socket */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

export interface BrokerOptions {
  port: number;
  host: string;
  /** false: no TCP listener */
  tcp: boolean;
  wsPath: string;
  accounts: MqttAccount[];
  log: RuntimeLogger;
}

const safeEq = (a: string, b: string): boolean => {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
};

/** Password checks allowed to wait for the hashing queue before a CONNECT is refused as "server unavailable". */
const MAX_QUEUED_CHECKS = 16;
/** A good password is remembered (per client address) for this long: reconnects cost no hashing and pass the limiter. */
const VERIFIED_TTL_MS = 10 * 60_000;
/** A TCP connection must send its CONNECT within this time. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Connections not logged in yet, per address and in all: beyond them a new one is closed at once. */
const WAITING_PER_ADDRESS = 32;
const WAITING_TOTAL = 256;

/**
 * The MQTT port's connections that have not logged in yet, capped per address and in all: idle or
 * slow sockets must not use up the process's file descriptors (the HTTP side has the same guard,
 * http-limits.ts). Logged in clients are not counted; closings are logged at most every 10 s.
 */
class WaitingConnections {
  private byAddress = new Map<string, Set<net.Socket>>();
  private total = 0;
  private refused = 0;
  private lastLog = 0;
  constructor(private readonly log: RuntimeLogger) {}

  /**
   * Counts a new connection; over a cap the OLDEST waiting one (of this address, else of all) is
   * closed instead: a real client sends its CONNECT at once, so it is the idle ones that go.
   */
  admit(socket: net.Socket, address: string): void {
    const set = this.byAddress.get(address) ?? new Set<net.Socket>();
    if (set.size >= WAITING_PER_ADDRESS || this.total >= WAITING_TOTAL) {
      const victims = set.size >= WAITING_PER_ADDRESS ? set : [...this.byAddress.values()].reduce((a, b) => (b.size > a.size ? b : a));
      const oldest = victims.values().next().value as net.Socket | undefined;
      oldest?.destroy();
      this.refused++;
      const now = Date.now();
      if (now - this.lastLog > 10_000) {
        this.lastLog = now;
        this.log.warn(`MQTT: too many connections from ${address} that have not logged in (${set.size} of this address, ${this.total} in all): the oldest closed (${this.refused} so far)`);
      }
    }
    set.add(socket);
    this.byAddress.set(address, set);
    this.total++;
    const done = () => this.forget(socket, address);
    socket.once('close', done);
    (socket as any)[WAITING] = done;
  }

  /** A client logged in on this socket: no longer counted. */
  loggedIn(conn: unknown): void {
    const done = (conn as any)?.[WAITING];
    if (typeof done === 'function') done();
  }

  private forget(socket: net.Socket, address: string): void {
    const set = this.byAddress.get(address);
    if (!set?.delete(socket)) return;
    this.total--;
    if (!set.size) this.byAddress.delete(address);
    delete (socket as any)[WAITING];
  }
}
const WAITING = Symbol('gatepost.waiting');

/** brokerId given to the PUBRELs aedes stores for persistent sessions (see fixPubrelStore). */
const PUBREL_BROKER_ID = 'gatepost-pubrel';

export async function startBroker(opts: BrokerOptions): Promise<EmbeddedBroker> {
  const { Aedes } = require('aedes') as typeof import('aedes');
  const log = opts.log;
  const accounts = new Map(opts.accounts.map((a) => [a.username, a]));
  const roles = new WeakMap<object, { username: string; role: MqttRole }>();
  const addresses = new WeakMap<object, string>();
  const verified = new Map<string, number>();
  const limiter = new LoginLimiter();
  /** retained plates / commands: authorized (so the client stays connected and gets its ack) but never published */
  const dropped = new WeakSet<object>();

  type Outcome = { account: MqttAccount } | { refuse: string; returnCode: number };
  const check = async (address: string, username: string, password: string): Promise<Outcome> => {
    const a = accounts.get(username);
    // the internal account (24 random bytes, compared in constant time, no hashing) is never
    // rate-limited: no flood from the flows' own address may lock the flows out
    if (a?.internal) return a.password !== undefined && safeEq(a.password, password) ? { account: a } : wrong();
    const key = crypto.createHash('sha256').update(`${address}\u0000${username}\u0000${password}`).digest('hex');
    if (a && (verified.get(key) ?? 0) > Date.now()) {
      verified.set(key, Date.now() + VERIFIED_TTL_MS);
      return { account: a };
    }
    const v = limiter.verdict(address, username);
    if (v.action === 'refuse') {
      const n = limiter.failed(address, username);
      const count = v.key.startsWith('address') ? n.address : n.user;
      // one line when the refusal starts, then one per 100 refused attempts: the log must not flood
      if (count === v.failures + 1 && (v.failures % 100 === 0 || count === (v.key.startsWith('address') ? ADDRESS_LIMITS : USER_LIMITS).refuseAfter + 1)) {
        log.warn(`MQTT logins refused without a password check for ${v.key.slice(0, 80)}: ${v.failures} failed attempts; until ${Math.round(ADDRESS_LIMITS.windowMs / 1000)} s pass without one`);
      }
      return { refuse: `too many failed logins (${v.key.slice(0, 80)})`, returnCode: 5 };
    }
    if (pendingChecks() >= MAX_QUEUED_CHECKS) return { refuse: 'password checks busy', returnCode: 3 };
    if (v.delayMs > 0) await new Promise((r) => setTimeout(r, v.delayMs));
    const ok = a ? (a.password !== undefined ? safeEq(a.password, password) : !!a.hash && (await verifyPassword(password, a.hash))) : false;
    if (!ok) {
      limiter.failed(address, username);
      return wrong();
    }
    if (verified.size > 1000) verified.clear();
    verified.set(key, Date.now() + VERIFIED_TTL_MS);
    return { account: a! };
  };
  const wrong = (): Outcome => ({ refuse: 'wrong user name or password', returnCode: 4 });

  const broker = await Aedes.createBroker({
    // a socket that has not sent its CONNECT within this time is closed (aedes' default is 30 s)
    connectTimeout: CONNECT_TIMEOUT_MS,
    authenticate(client: any, username: string | undefined, password: Buffer | undefined, cb: (err: any, ok?: boolean) => void) {
      const address = addresses.get(client) ?? '?';
      const fail = (why: string, returnCode: number) => {
        log.warn(`refused MQTT client "${String(client?.id ?? '?').slice(0, 64)}" from ${address}${username ? ` as ${username.slice(0, 64)}` : ''} (${why})`);
        const err: any = new Error(why);
        err.returnCode = returnCode; // 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized
        cb(err, false);
      };
      if (!username || !password) return fail('anonymous', 5);
      check(address, username, password.toString('utf8')).then(
        (r) => {
          if ('refuse' in r) return fail(r.refuse, r.returnCode);
          const a = r.account;
          const id = String(client?.id ?? '');
          if (!a.internal && reservedClientId(id)) return fail(`client id "${id.slice(0, 64)}" is reserved for the runtime's internal account`, 2);
          const will = client?._will;
          if (will && !mayPublish(a.role, a.username, String(will.topic), !!will.retain)) {
            return fail(
              `last will ${will.retain ? 'retained ' : ''}on ${String(will.topic).slice(0, 128)} is not allowed${will.retain && !mayRetain(String(will.topic)) ? ' (plates and commands are never retained)' : ''}`,
              5,
            );
          }
          roles.set(client, { username: a.username, role: a.role });
          cb(null, true);
        },
        (err) => fail(`error: ${(err as Error).message}`, 3),
      );
    },
    authorizePublish(client: any, packet: any, cb: (err?: Error | null) => void) {
      if (!client) return cb(null); // the broker itself ($SYS); wills are checked at CONNECT time
      const who = roles.get(client);
      const topic = String(packet.topic);
      if (who && packet.retain && !mayRetain(topic)) {
        // refused, but the client keeps its connection and gets its PUBACK: one camera with
        // retain switched on must not lose every later plate to reconnects
        log.warn(`MQTT ${who.username} (${who.role}) published a retained message on ${topic.slice(0, 128)}: dropped (plates and commands are never retained)`);
        dropped.add(packet);
        return cb(null);
      }
      if (!who || !mayPublish(who.role, who.username, topic, !!packet.retain)) {
        log.warn(`MQTT ${who?.username ?? '?'} (${who?.role ?? '?'}) may not publish to ${topic.slice(0, 128)}`);
        return cb(new Error('publish not authorized'));
      }
      cb(null);
    },
    authorizeSubscribe(client: any, sub: any, cb: (err: Error | null, sub: any) => void) {
      const who = roles.get(client);
      if (!who || !maySubscribe(who.role, who.username, sub.topic)) {
        log.warn(`MQTT ${who?.username ?? '?'} (${who?.role ?? '?'}) may not subscribe to ${String(sub.topic).slice(0, 128)}`);
        return cb(null, null); // SUBACK failure (0x80) for this filter
      }
      cb(null, sub);
    },
    authorizeForward(client: any, packet: any) {
      // a client only receives what its role may subscribe to (retained $SYS etc. included)
      const who = roles.get(client);
      if (!who) return null;
      if (!(who.role === 'admin' || maySubscribe(who.role, who.username, packet.topic))) return null;
      return withGrantedQos(client, packet);
    },
  } as any);

  // retained plates and commands authorized above are acknowledged but never published
  const publish = broker.publish.bind(broker);
  (broker as any).publish = (packet: any, client: any, done?: (err?: Error) => void) => {
    if (packet && dropped.has(packet)) {
      const cb = typeof client === 'function' ? client : done;
      if (cb) setImmediate(cb);
      return;
    }
    return (publish as any)(packet, client, done);
  };
  fixPubrelStore((broker as any).persistence);

  const listeners = new Set<(p: PublishInfo) => void>();
  broker.on('publish', (packet: any, client: any) => {
    if (!client || !listeners.size) return;
    const info: PublishInfo = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload ?? '')),
      retain: !!packet.retain,
      clientId: String(client.id ?? ''),
      username: roles.get(client)?.username ?? null,
    };
    for (const l of listeners) {
      try {
        l(info);
      } catch (err) {
        log.error(`publish listener failed: ${(err as Error).message}`);
      }
    }
  });
  broker.on('clientError', (client: any, err: Error) => log.debug(`MQTT client ${client?.id ?? '?'}: ${err.message}`));
  broker.on('connectionError', (_client: any, err: Error) => log.debug(`MQTT connection error: ${err.message}`));
  broker.on('client', (client: any) => log.debug(`MQTT client connected: ${client?.id} (${roles.get(client)?.username ?? '?'})`));
  // which clients have subscribed (the runtime waits for the flows' mqtt in nodes before it says ready)
  const subscribed = new Set<string>();
  broker.on('subscribe', (_subs: unknown, client: any) => {
    if (client?.id) subscribed.add(String(client.id));
  });
  broker.on('clientDisconnect', (client: any) => {
    if (client?.id) subscribed.delete(String(client.id));
  });

  /**
   * Hands a connection to aedes with the packet size caps in front of its parser (see
   * mqtt-packet-guard.ts): the bytes are metered before mqtt-packet buffers them.
   */
  const attach = (conn: Duplex, address: string, req?: http.IncomingMessage) => {
    const client = broker.handle(conn as any, req as any) as any;
    addresses.set(client, address);
    const parser = client?._parser;
    if (!parser || typeof parser.parse !== 'function') {
      // aedes changed its internals: better no MQTT than an unbounded buffer before login
      log.error('MQTT: cannot meter packet sizes with this aedes version; connection closed');
      conn.destroy();
      return;
    }
    const meter = new MqttPacketMeter();
    const parse = parser.parse.bind(parser);
    let stopped = false;
    parser.parse = (buf: Buffer) => {
      if (stopped) return 0;
      const v = meter.feed(buf, roles.has(client));
      if (!v) return parse(buf);
      stopped = true;
      const id = client.id ? ` (client "${String(client.id).slice(0, 64)}"${roles.get(client) ? ` of ${roles.get(client)!.username}` : ''})` : '';
      log.warn(`MQTT connection from ${address}${id} closed: ${v.reason}`);
      conn.destroy();
      return 0;
    };
  };

  let server: net.Server | null = null;
  let port = 0;
  if (opts.tcp) {
    // noDelay: with Nagle's algorithm a decision can wait ~40 ms behind the PUBACK of its plate
    const waiting = new WaitingConnections(log);
    server = net.createServer({ noDelay: true }, (socket) => {
      const address = socket.remoteAddress ?? '?';
      waiting.admit(socket, address);
      attach(socket, address);
    });
    broker.on('client', (client: any) => waiting.loggedIn(client?.conn));
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(opts.port, opts.host, () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
  }

  // an MQTT packet per WebSocket message: no message larger than the largest packet (+ its fixed header)
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PACKET + 5 });
  const sockets = new Set<net.Socket | Duplex>();
  if (server)
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });

  return {
    port,
    clients: () => broker.connectedClients,
    hasSubscribed: (id: string) => subscribed.has(id),
    onPublish(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    handleUpgrade(req, socket, head) {
      const pathname = (req.url ?? '').split('?')[0];
      if (pathname !== opts.wsPath) return false;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        attach(stream, req.socket.remoteAddress ?? '?', req);
      });
      return true;
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const c of wss.clients) c.terminate();
      wss.close();
      if (server) {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
    },
  };
}

/**
 * The QoS a client gets a message with: at most the QoS its matching subscriptions were granted
 * (MQTT-3.8.4-6). aedes 1.2 looks the subscription up by the message's topic name, so a wildcard
 * subscription (`gatepost/lpr/+` QoS 1) got QoS 2 messages as QoS 2. Only 2 → 1 is lowered here:
 * QoS 0 subscriptions take aedes' QoS 0 path anyway. See docs/upstream/aedes-qos2.md.
 */
function withGrantedQos(client: any, packet: any): any {
  if (packet.qos !== 2) return packet;
  const subs = client?.subscriptions ?? {};
  let granted = -1;
  for (const filter of Object.keys(subs)) if (topicMatches(filter, packet.topic)) granted = Math.max(granted, subs[filter]?.qos ?? 0);
  // the packet is shared by every subscriber: copy, never change it
  return granted >= 0 && granted < 2 ? { ...packet, qos: 1 } : packet;
}

/**
 * aedes-persistence 11 (memory) keeps the PUBREL of an outgoing QoS 2 message of a persistent
 * session in place of the message; aedes stores the very PubRel object it is about to write, and
 * that object has no brokerId/brokerCounter. `outgoingUpdate` matches queue entries by
 * `brokerId === brokerId && brokerCounter === brokerCounter`, which is `undefined === undefined`
 * for every PUBREL already stored: the next PUBREC overwrote the messageId of an earlier PubRel —
 * before it was written when both PUBRECs came in one read. Two PUBRELs went out with one id, the
 * other message never got its PUBREL and the subscriber never delivered it (23 % of QoS 2 plates
 * lost with 4 concurrent senders). The store gets its own copy with a unique identity instead,
 * so it matches the message by messageId and never touches another PUBREL.
 */
function fixPubrelStore(persistence: any): void {
  if (!persistence || typeof persistence.outgoingUpdate !== 'function') return;
  const update = persistence.outgoingUpdate.bind(persistence);
  let counter = 0;
  persistence.outgoingUpdate = async (client: any, packet: any) => {
    if (packet?.cmd !== 'pubrel' || packet.brokerId !== undefined) return update(client, packet);
    try {
      await update(client, { cmd: 'pubrel', messageId: packet.messageId, brokerId: PUBREL_BROKER_ID, brokerCounter: ++counter });
    } catch {
      // a PUBREC for a message already released (a repeated PUBREC): the PUBREL is owed anyway (MQTT-4.3.3)
    }
  };
}
