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
import bcrypt from 'bcryptjs';
import type { RuntimeLogger } from './logger';
import type { MqttRole } from './secrets';
import { mayPublish, maySubscribe } from './mqtt-acl';

export interface MqttAccount {
  username: string;
  role: MqttRole;
  /** bcrypt hash, or a plain password (the internal account, compared in constant time) */
  hash?: string;
  password?: string;
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

export async function startBroker(opts: BrokerOptions): Promise<EmbeddedBroker> {
  const { Aedes } = require('aedes') as typeof import('aedes');
  const log = opts.log;
  const accounts = new Map(opts.accounts.map((a) => [a.username, a]));
  const roles = new WeakMap<object, { username: string; role: MqttRole }>();
  const verified = new Map<string, number>();

  const check = async (username: string, password: string): Promise<MqttAccount | null> => {
    const a = accounts.get(username);
    if (!a) return null;
    if (a.password !== undefined) return safeEq(a.password, password) ? a : null;
    if (!a.hash) return null;
    const key = crypto.createHash('sha256').update(`${username}\u0000${password}`).digest('hex');
    if ((verified.get(key) ?? 0) > Date.now()) return a;
    if (!(await bcrypt.compare(password, a.hash))) return null;
    if (verified.size > 1000) verified.clear();
    verified.set(key, Date.now() + 10 * 60_000);
    return a;
  };

  const broker = await Aedes.createBroker({
    authenticate(client: any, username: string | undefined, password: Buffer | undefined, cb: (err: any, ok?: boolean) => void) {
      const fail = (why: string) => {
        log.warn(`refused MQTT client "${String(client?.id ?? '?').slice(0, 64)}" (${why})`);
        const err: any = new Error('not authorized');
        err.returnCode = username ? 4 : 5; // 4 bad user name or password, 5 not authorized
        cb(err, false);
      };
      if (!username || !password) return fail('anonymous');
      check(username, password.toString('utf8')).then(
        (a) => {
          if (!a) return fail(`wrong password for ${username.slice(0, 64)}`);
          roles.set(client, { username: a.username, role: a.role });
          cb(null, true);
        },
        () => fail('error'),
      );
    },
    authorizePublish(client: any, packet: any, cb: (err?: Error | null) => void) {
      if (!client) return cb(null); // the broker itself ($SYS, wills are checked at CONNECT time)
      const who = roles.get(client);
      if (!who || !mayPublish(who.role, who.username, packet.topic)) {
        log.warn(`MQTT ${who?.username ?? '?'} (${who?.role ?? '?'}) may not publish to ${String(packet.topic).slice(0, 128)}`);
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
      return who.role === 'admin' || maySubscribe(who.role, who.username, packet.topic) ? packet : null;
    },
  } as any);

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

  let server: net.Server | null = null;
  let port = 0;
  if (opts.tcp) {
    // noDelay: with Nagle's algorithm a decision can wait ~40 ms behind the PUBACK of its plate
    server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(opts.port, opts.host, () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const sockets = new Set<net.Socket | Duplex>();
  if (server) server.on('connection', (s) => {
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
        broker.handle(stream as any, req as any);
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
