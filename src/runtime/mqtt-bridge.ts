/**
 * The MQTT bridge between the hub and the broker (the same code for the embedded aedes and an
 * external broker such as Mosquitto), over its own mqtt.js client:
 *  - `gatepost/available`: `online` retained on connect, `offline` retained as its last will and
 *    on a clean stop;
 *  - every hub 'gate-state' → `gatepost/gate/<id>/state` (retained JSON GateStatePayload), every
 *    'eposelok-state' → `gatepost/eposelok/state` (retained); current states re-published on
 *    every (re)connect;
 *  - every hub 'ivms-state' → `gatepost/ivms/state` (retained, re-published on reconnect), and every
 *    iVMS access event (hub 'event' whose requestId starts with `ivms:`) → `gatepost/access/<door>`
 *    (not retained);
 *  - `gatepost/gate/<id>/set` with `open` | `hold` | `release` | `close` → gatesOf(hub).command(id, cmd,
 *    { kind: 'mqtt', actor }); retained set messages are ignored (a retained command must never
 *    open a barrier after a restart). With the embedded broker the commands come from the
 *    broker's publish events, so the actor is the publishing client's user name / client id;
 *    with an external broker the bridge subscribes and the actor is 'mqtt'.
 *  - every 'ftp-state' → `gatepost/ftp/<target>/state` (retained FtpState) and the summary of all
 *    targets on `gatepost/ftp/state` (retained FtpSummary); re-published on every (re)connect.
 */
import * as crypto from 'crypto';
import mqtt, { MqttClient } from 'mqtt';
import type { Hub } from '../services/hub';
import { gatesOf } from '../services/gate-service';
import { isGateCommand } from '../core/gate';
import { gateStateTopic, TOPIC_AVAILABLE, TOPIC_EPOSELOK_STATE, TOPIC_FTP_STATE, ftpStateTopic } from '../core/topics';
import { accessTopic, TOPIC_IVMS_STATE } from '../core/topics';
import { uploadsOf } from '../services/upload-service';
import type { FtpState, GateCommand, GateStatePayload } from '../core/contracts';
import type { RuntimeLogger } from './logger';
import type { EmbeddedBroker, PublishInfo } from './broker';
import { FLOWS_CLIENT_ID, BRIDGE_CLIENT_ID_PREFIX } from './mqtt-acl';
import { cameraMqtt, CAMERA_BRIDGE_TOPICS, CAMERA_SET_FILTER } from './camera-mqtt';

export { TOPIC_AVAILABLE, TOPIC_EPOSELOK_STATE };
/**
 * The topics the bridge owns (docs/MQTT.md names one owner per topic): nobody else — no shipped
 * flow, no example — publishes on them. `+` = one topic level.
 */
export const BRIDGE_TOPICS: readonly string[] = [
  TOPIC_AVAILABLE,
  gateStateTopic('+'),
  TOPIC_EPOSELOK_STATE,
  TOPIC_IVMS_STATE,
  'gatepost/access/+',
  ...CAMERA_BRIDGE_TOPICS,
  TOPIC_FTP_STATE,
  ftpStateTopic('+'),
];
const SET_TOPIC = /^gatepost\/gate\/([A-Za-z0-9_.-]{1,64})\/set$/;

/** What the bridge needs of the gate service. */
export interface BridgeGates {
  command(id: string, cmd: GateCommand, src: { kind: 'mqtt'; actor?: string }): Promise<unknown>;
  list(): GateStatePayload[];
}

export interface BridgeOptions {
  hub: Hub;
  url: string;
  username: string;
  password: string;
  log: RuntimeLogger;
  /** the embedded broker (commands with the publisher's identity); undefined = external broker */
  embedded?: EmbeddedBroker;
  /** gate service accessor (injectable for tests); default gatesOf(hub) */
  gates?: () => BridgeGates | null;
}

export interface MqttBridge {
  connected(): boolean;
  /** commands handled so far (ok + failed) — for /api/system and tests */
  readonly stats: { commands: number; refused: number; published: number };
  stop(): Promise<void>;
}

export function parseSetPayload(payload: Buffer | string): GateCommand | null {
  let s = (Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload)).trim();
  if (s.length > 256) return null;
  if (s.startsWith('{')) {
    try {
      const o = JSON.parse(s);
      s = String(o?.command ?? o?.cmd ?? '');
    } catch {
      return null;
    }
  } else if (s.startsWith('"')) {
    try {
      s = String(JSON.parse(s));
    } catch {
      return null;
    }
  }
  s = s.toLowerCase();
  return isGateCommand(s) ? s : null;
}

export { FLOWS_CLIENT_ID };

/** `gatepost/ftp/state`: every FTP target's queue in one retained message. */
export interface FtpSummary {
  /** items waiting in all queues */
  queued: number;
  /** epoch ms of the oldest waiting item, or null */
  oldest: number | null;
  /** every target's server answered its last contact (true when there is no target) */
  connected: boolean;
  /** the first target's last error, or null */
  lastError: string | null;
  targets: FtpState[];
  ts: number;
}

export function ftpSummary(states: FtpState[], ts: number): FtpSummary {
  const oldest = states.map((s) => s.oldest).filter((x): x is number => x !== null);
  return {
    queued: states.reduce((n, s) => n + s.queued, 0),
    oldest: oldest.length ? Math.min(...oldest) : null,
    connected: states.every((s) => s.connected),
    lastError: states.find((s) => s.lastError)?.lastError ?? null,
    targets: states,
    ts,
  };
}

/**
 * Ends the flows' persistent MQTT session before Node-RED starts. The session exists so that the
 * broker holds plates while the flows are redeployed; but plates queued while gatepost itself was
 * down (an external broker keeps sessions across our restarts) are stale — a car read minutes
 * ago must not open the barrier now. Connecting once with clean session under the same client id
 * drops that queue. Never throws: a broker that is not reachable yet is logged and skipped.
 */
export async function clearFlowsSession(opts: { url: string; username?: string; password?: string; log: RuntimeLogger; clientId?: string; timeoutMs?: number }): Promise<boolean> {
  const clientId = opts.clientId ?? FLOWS_CLIENT_ID;
  return new Promise<boolean>((resolve) => {
    const client = mqtt.connect(opts.url, { username: opts.username, password: opts.password, clientId, clean: true, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: opts.timeoutMs ?? 2000 });
    let done = false;
    const finish = (ok: boolean, why?: string) => {
      if (done) return;
      done = true;
      if (ok) opts.log.debug(`MQTT: cleared the queued messages of the flows' session (${clientId})`);
      else opts.log.warn(`MQTT: could not clear the flows' session ${clientId}: ${why}`);
      client.end(true, {}, () => resolve(ok));
    };
    client.once('connect', () => finish(true));
    client.once('error', (err) => finish(false, err.message));
    client.once('close', () => finish(false, 'connection closed'));
  });
}

export async function startBridge(opts: BridgeOptions): Promise<MqttBridge> {
  const { hub, log } = opts;
  const gates = (): BridgeGates | null => (opts.gates ? opts.gates() : gatesOf(hub));
  const stats = { commands: 0, refused: 0, published: 0 };
  let lastEposelok: unknown = undefined;
  let lastIvms: unknown = undefined;
  let stopping = false;

  const client: MqttClient = mqtt.connect(opts.url, {
    username: opts.username,
    password: opts.password,
    clientId: `${BRIDGE_CLIENT_ID_PREFIX}${crypto.randomBytes(4).toString('hex')}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    will: { topic: TOPIC_AVAILABLE, payload: Buffer.from('offline'), retain: true, qos: 1 },
  });

  const publish = (topic: string, payload: string | Buffer, retain: boolean) => {
    if (stopping) return;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err && !stopping) log.warn(`publish ${topic} failed: ${err.message}`);
    });
    stats.published++;
  };
  const publishGate = (s: GateStatePayload) => {
    if (!s || typeof s.gate !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(s.gate)) return;
    publish(gateStateTopic(s.gate), JSON.stringify(s), true);
  };
  const republish = () => {
    publish(TOPIC_AVAILABLE, 'online', true);
    try {
      for (const s of gates()?.list() ?? []) publishGate(s);
    } catch (err) {
      log.warn(`could not list gates: ${(err as Error).message}`);
    }
    if (lastEposelok !== undefined) publish(TOPIC_EPOSELOK_STATE, JSON.stringify(lastEposelok), true);
    if (lastIvms !== undefined) publish(TOPIC_IVMS_STATE, JSON.stringify(lastIvms), true);
    cameras.republish();
    publishFtp(null);
  };
  // the cameras' topics (src/runtime/camera-mqtt.ts)
  const cameras = cameraMqtt(hub, publish, log);

  const offGate = hub.on('gate-state', (s: GateStatePayload) => publishGate(s));
  const offEpo = hub.on('eposelok-state', (s: unknown) => {
    lastEposelok = s;
    publish(TOPIC_EPOSELOK_STATE, JSON.stringify(s), true);
  });
  // FTP queues: the changed target's state, then the summary of all (null: republish all)
  const publishFtp = (changed: FtpState | null) => {
    let all: FtpState[];
    try {
      all = uploadsOf(hub).states();
    } catch (err) {
      log.warn(`could not list FTP targets: ${(err as Error).message}`);
      return;
    }
    for (const s of changed ? [changed] : all) if (/^[A-Za-z0-9_.-]{1,64}$/.test(s.target)) publish(ftpStateTopic(s.target), JSON.stringify(s), true);
    publish(TOPIC_FTP_STATE, JSON.stringify(ftpSummary(all, Date.now())), true);
  };
  const offFtp = hub.on('ftp-state', (s: FtpState) => publishFtp(s));

  const offIvms = hub.on('ivms-state', (s) => {
    lastIvms = s;
    publish(TOPIC_IVMS_STATE, JSON.stringify(s), true);
  });
  const offAccess = hub.on('event', (e) => {
    if (typeof e?.requestId !== 'string' || !e.requestId.startsWith('ivms:')) return;
    publish(accessTopic(e.gate ?? ''), JSON.stringify(e), false);
  });

  const handleSet = (p: PublishInfo | { topic: string; payload: Buffer; retain: boolean; clientId: string; username: string | null }, actorFromBroker: boolean) => {
    if (cameras.handleSet(p.topic, p.payload, p.retain, actorFromBroker ? p.username || p.clientId || 'mqtt' : 'mqtt')) return;
    const m = SET_TOPIC.exec(p.topic);
    if (!m) return;
    if (p.retain) {
      stats.refused++;
      log.warn(`ignored retained command on ${p.topic} (commands must not be retained)`);
      return;
    }
    const cmd = parseSetPayload(p.payload);
    if (!cmd) {
      stats.refused++;
      log.warn(`ignored command on ${p.topic}: expected open, hold, release or close`);
      return;
    }
    const svc = gates();
    if (!svc) {
      stats.refused++;
      log.warn(`ignored ${cmd} for gate ${m[1]}: the gate service is not available`);
      return;
    }
    const actor = actorFromBroker ? p.username || p.clientId || 'mqtt' : 'mqtt';
    stats.commands++;
    Promise.resolve()
      .then(() => svc.command(m[1], cmd, { kind: 'mqtt', actor }))
      .catch((err: Error) => log.warn(`MQTT ${cmd} for gate ${m[1]} by ${actor} failed: ${err.message}`));
  };

  let offPublish: (() => void) | null = null;
  if (opts.embedded) {
    offPublish = opts.embedded.onPublish((p) => {
      // the bridge's own publishes are state, never commands
      if (p.clientId === client.options.clientId) return;
      handleSet(p, true);
    });
  }

  client.on('connect', () => {
    log.info(`MQTT bridge connected to ${redactMqttUrl(opts.url)}`);
    if (!opts.embedded) {
      client.subscribe('gatepost/gate/+/set', { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) log.error(`MQTT bridge could not subscribe to gate commands: ${err?.message ?? 'refused by the broker'}`);
      });
      client.subscribe(CAMERA_SET_FILTER, { qos: 1 }, (err) => err && log.error(`MQTT bridge could not subscribe to camera commands: ${err.message}`));
    }
    republish();
  });
  if (!opts.embedded) {
    client.on('message', (topic, payload, packet) => handleSet({ topic, payload, retain: !!packet.retain, clientId: '', username: null }, false));
  }
  let lastErr = '';
  client.on('error', (err) => {
    if (err.message !== lastErr) log.warn(`MQTT bridge: ${err.message}`);
    lastErr = err.message;
  });
  client.on('offline', () => {
    if (!stopping) log.warn('MQTT bridge offline; reconnecting');
  });

  return {
    connected: () => client.connected,
    stats,
    async stop() {
      offGate();
      offEpo();
      offIvms();
      offAccess();
      cameras.stop();
      offFtp();
      offPublish?.();
      if (client.connected) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          client.publish(TOPIC_AVAILABLE, 'offline', { qos: 1, retain: true }, () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      stopping = true;
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}

/** mqtt://user:pass@host:port → mqtt://host:port (no credentials in logs or /api/system). */
export function redactMqttUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid url)';
  }
}
