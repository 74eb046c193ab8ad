/**
 * `gatepost-lpr <plate> [--camera ID] [--gate ID]` — the command LPR programs run per plate.
 *
 * Normal path: connect to gatepost's broker (lpr account), subscribe `gatepost/decision/#`,
 * publish the plate on `gatepost/lpr/<camera>` (QoS 1) with a fresh requestId, wait for the
 * decision carrying that requestId, exit 0 allowed / 1 denied / 2 error.
 *
 * Fallback path (connect fails or times out): E-Poselok online check, then a relay pulse
 * (open, wait the pulse, close) through the relay driver, so residents still get in while the
 * server is down; the passage is appended to a local queue (fsync'd JSON lines) and delivered to
 * gatepost later on `gatepost/lpr/<camera>/fallback` (QoS 1, removed only after PUBACK).
 *
 * Start-up is kept short (it runs once per plate): only fs/path/net are loaded on the normal path —
 * not even `crypto` (~4 ms to load; the requestId does not need a CSPRNG, see `requestUuid`); the
 * E-Poselok client, the relay drivers (axios), core/plate and child_process are required only on
 * the fallback / flush paths. Modules are imported with `import x = require()`, which compiles to a
 * plain require (no `__importStar` copy of every export).
 */
import fs = require('fs');
import path = require('path');
import { MqttError, MqttLite, LiteMessage, randomHex } from './mqtt-lite';
import type { FallbackEntry, FallbackQueue } from './lpr-queue';
import { CliArgs, FallbackRelayConfig, LprConfig, USAGE, UsageError, loadConfig, parseArgs } from './lpr-config';
import type { Decision, OnlineResult } from '../core/contracts';
import type { GateActuator } from '../core/gate';

export const EXIT_ALLOWED = 0;
export const EXIT_DENIED = 1;
export const EXIT_ERROR = 2;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout(line: string): void;
  stderr(line: string): void;
  home?: string;
  /** starts the delivery of the fallback queue in the background (default: a detached `gatepost-lpr --flush`) */
  startFlush?(cfg: LprConfig, args: CliArgs): void;
  /** the fallback path's devices (default: E-Poselok client + relay drivers from the config) */
  fallbackDeps?(cfg: LprConfig): Promise<FallbackDeps>;
  /** signals that end a running fallback pulse early (closing the relay first); default process signals */
  onSignal?(handler: () => void): () => void;
}

export interface FallbackDeps {
  check(plate: string): Promise<OnlineResult>;
  relay(gate: string): GateActuator | undefined;
}

/**
 * A fresh requestId in the UUID v4 format. Math.random, not crypto.randomUUID: loading `crypto`
 * costs ~4 ms of the per-plate start-up, and the id only has to be unique (it pairs a decision
 * with its plate and de-duplicates a queued passage), not unguessable; V8 seeds Math.random of
 * every process from the system entropy source.
 */
export function requestUuid(): string {
  const h = randomHex;
  return `${h(8)}-${h(4)}-4${h(3)}-${'89ab'[Math.floor(Math.random() * 4)]}${h(3)}-${h(12)}`;
}

/** The fallback queue (src/cli/lpr-queue.ts), loaded only on the paths that use it. */
function queueOf(file: string): FallbackQueue {
  const { FallbackQueue: Queue } = require('./lpr-queue') as typeof import('./lpr-queue');
  return new Queue(file);
}

/** True when the queue file holds something (one stat; same test as FallbackQueue.hasEntries). */
function queueHasEntries(file: string): boolean {
  try {
    return fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

/** A camera id as an MQTT topic level. */
const topicLevel = (s: string) => s.replace(/[+#/\s]/g, '_') || '_';

/**
 * Exit status of a decision. A 'repeat' read carries the earlier outcome of the same car: a repeat
 * of an allowed car exits 0 (the barrier is, or was just, opened for it), of a denied car 1.
 */
export function exitCodeOf(d: Pick<Decision, 'decision' | 'source' | 'reason' | 'pass'> & Record<string, any>): number {
  switch (d.decision) {
    case 'allowed':
      return EXIT_ALLOWED;
    case 'denied':
      return EXIT_DENIED;
    case 'repeat': {
      const earlier = d.previous?.decision ?? d.earlier?.decision ?? d.previousDecision ?? d.earlierDecision;
      if (earlier === 'allowed') return EXIT_ALLOWED;
      if (earlier === 'denied') return EXIT_DENIED;
      if (d.pass) return EXIT_ALLOWED;
      if (/\ballowed\b/i.test(d.reason ?? '')) return EXIT_ALLOWED;
      return EXIT_DENIED;
    }
    default:
      return EXIT_ERROR;
  }
}

function describe(d: Decision): string {
  const bits = [d.decision, d.plate || d.raw || '(none)'];
  if (d.gate) bits.push(`gate=${d.gate}`);
  if (d.source) bits.push(`source=${d.source}`);
  if (d.reason) bits.push(`(${d.reason})`);
  return bits.join(' ');
}

function parseConfidence(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`--confidence must be a number 0..1 (got "${v}")`);
  return n > 1 ? n / 100 : n;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let args: CliArgs;
  let cfg: LprConfig;
  try {
    args = parseArgs(argv);
    if (args.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (args.version) {
      io.stdout(String(require('../../../package.json').version ?? ''));
      return 0;
    }
    cfg = loadConfig(args, io.env, io.home);
    if (args.flush) return await flushCommand(cfg, io);
    const plate = (args.plate ?? '').trim();
    if (!plate) throw new UsageError('no plate given');
    if (plate.length > 32) throw new UsageError('plate is longer than 32 characters');
    const confidence = parseConfidence(args.confidence);
    return await decide(plate, confidence, cfg, args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`gatepost-lpr: ${err.message}`);
      io.stderr(USAGE);
      return EXIT_ERROR;
    }
    io.stderr(`gatepost-lpr: ${(err as Error).message}`);
    return EXIT_ERROR;
  }
}

async function decide(plate: string, confidence: number | undefined, cfg: LprConfig, args: CliArgs, io: CliIo): Promise<number> {
  const requestId = requestUuid();
  const ts = Date.now();
  const payload: Record<string, unknown> = { plate, ts, requestId };
  if (cfg.gate) payload.gate = cfg.gate;
  if (cfg.direction) payload.direction = cfg.direction;
  if (confidence !== undefined) payload.confidence = confidence;

  let client: MqttLite;
  try {
    client = await MqttLite.connect({ url: cfg.url, username: cfg.username, password: cfg.password, connectTimeoutMs: cfg.connectTimeoutMs });
  } catch (err) {
    io.stderr(`gatepost-lpr: gatepost unreachable (${(err as Error).message}); using the direct path`);
    return fallback(plate, confidence, requestId, ts, cfg, args, io);
  }

  let timer: NodeJS.Timeout | undefined;
  try {
    const decision = new Promise<Decision>((resolve, reject) => {
      client.on('message', (m: LiteMessage) => {
        if (!m.topic.startsWith('gatepost/decision/')) return;
        let d: Decision;
        try {
          d = JSON.parse(m.payload.toString('utf8'));
        } catch {
          return;
        }
        if (d && d.requestId === requestId) resolve(d);
      });
      client.once('close', (err?: Error) => reject(err ?? new MqttError('connection closed', 'closed')));
    });
    decision.catch(() => undefined);
    // SUBSCRIBE and PUBLISH go out together (one round trip less). The subscription is the first
    // packet: mosquitto handles a client's packets in order, aedes (clean session, synchronous ACL)
    // registers it before it parses the PUBLISH — and the decision comes from another client
    // (Node-RED) a round trip after the plate in any case.
    client.cork();
    const subscribed = client.subscribe('gatepost/decision/#', 0, cfg.timeoutMs);
    const published = client.publish(`gatepost/lpr/${topicLevel(cfg.camera)}`, JSON.stringify(payload), { qos: 1, timeoutMs: cfg.timeoutMs });
    client.uncork();
    await Promise.all([subscribed, published]);
    const d = await Promise.race([
      decision,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MqttError(`no decision within ${cfg.timeoutMs} ms`, 'timeout')), cfg.timeoutMs);
      }),
    ]);
    const code = exitCodeOf(d);
    if (!args.quiet) io.stdout(args.json ? JSON.stringify(d) : describe(d));
    return code;
  } catch (err) {
    // the plate reached (or may have reached) gatepost: no direct pulse, gatepost decides
    io.stderr(`gatepost-lpr: ${(err as Error).message}`);
    return EXIT_ERROR;
  } finally {
    if (timer) clearTimeout(timer);
    await client.end().catch(() => undefined);
    if (queueHasEntries(cfg.queueFile)) {
      try {
        (io.startFlush ?? startDetachedFlush)(cfg, args);
      } catch (err) {
        io.stderr(`gatepost-lpr: could not start the queue delivery: ${(err as Error).message}`);
      }
    }
  }
}

// ------------------------------------------------------------------------------------ fallback

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function fallback(plate: string, confidence: number | undefined, requestId: string, ts: number, cfg: LprConfig, args: CliArgs, io: CliIo): Promise<number> {
  const gate = cfg.gate ?? fallbackGate(cfg);
  const queue = queueOf(cfg.queueFile);
  const entry: FallbackEntry = { v: 1, id: requestId, ts, camera: cfg.camera, gate, plate, decision: 'denied', source: 'online', reason: '' };
  if (cfg.direction) entry.direction = cfg.direction;
  if (confidence !== undefined) entry.confidence = confidence;

  let deps: FallbackDeps;
  try {
    deps = await (io.fallbackDeps ?? defaultFallbackDeps)(cfg);
  } catch (err) {
    entry.decision = 'rejected';
    entry.source = 'none';
    entry.reason = `fallback not configured: ${(err as Error).message}`;
    await record(queue, entry, io);
    io.stderr(`gatepost-lpr: ${entry.reason}`);
    return EXIT_ERROR;
  }

  const started = performance.now();
  let online: OnlineResult;
  try {
    online = await deps.check(plate);
  } catch (err) {
    online = { status: 'unavailable', latencyMs: performance.now() - started, error: (err as Error).message };
  }
  entry.latencyMs = Math.round(online.latencyMs * 10) / 10;
  if (online.status !== 'allowed') {
    entry.decision = 'denied';
    entry.source = online.status === 'denied' ? 'online' : 'none';
    entry.reason = online.status === 'denied' ? 'fallback: E-Poselok denied' : `fallback: E-Poselok ${online.status}${online.error ? `: ${online.error}` : ''}`;
    await record(queue, entry, io);
    if (!args.quiet) io.stdout(args.json ? JSON.stringify(entry) : `denied ${plate} gate=${gate} (${entry.reason})`);
    return online.status === 'denied' ? EXIT_DENIED : EXIT_ERROR;
  }

  entry.decision = 'allowed';
  entry.source = 'online';
  entry.reason = 'fallback: E-Poselok allowed';
  const relay = deps.relay(gate);
  if (!relay) {
    entry.relay = `error: no relay configured for gate ${gate}`;
    await record(queue, entry, io);
    io.stderr(`gatepost-lpr: ${entry.relay}`);
    return EXIT_ERROR;
  }
  let opened = false;
  try {
    const r = await relay.actuate('open');
    opened = true;
    entry.relay = r.skipped ? 'skipped' : 'ok';
  } catch (err) {
    entry.relay = `error: ${(err as Error).message}`;
  }
  // record before the pulse: a crash while the barrier is open must not lose the passage
  await record(queue, entry, io);
  if (!opened) {
    // the relay may have switched although the answer was lost: close it (fail safe)
    await closeRelay(relay, io);
    io.stderr(`gatepost-lpr: relay open failed: ${entry.relay}`);
    return EXIT_ERROR;
  }
  if (!args.quiet) io.stdout(args.json ? JSON.stringify(entry) : `allowed ${plate} gate=${gate} (${entry.reason})`);
  await pulseWait(cfg.pulseMs, io);
  const closed = await closeRelay(relay, io);
  return closed ? EXIT_ALLOWED : EXIT_ERROR;
}

async function record(queue: FallbackQueue, entry: FallbackEntry, io: CliIo): Promise<void> {
  try {
    await queue.append(entry);
  } catch (err) {
    io.stderr(`gatepost-lpr: could not queue the passage (${(err as Error).message}): ${JSON.stringify(entry)}`);
  }
}

/** Waits the pulse; a SIGINT/SIGTERM ends the wait early so the relay is closed before exiting. */
function pulseWait(ms: number, io: CliIo): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    const off = (io.onSignal ?? processSignals)(done);
    function done() {
      clearTimeout(t);
      off();
      resolve();
    }
  });
}

function processSignals(handler: () => void): () => void {
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, handler);
  return () => {
    for (const s of sigs) process.off(s, handler);
  };
}

/** Closes the relay, retrying a few times: a barrier must not stay open because one close was lost. */
async function closeRelay(relay: GateActuator, io: CliIo): Promise<boolean> {
  const delays = [0, 250, 500, 1000, 2000, 4000];
  for (const d of delays) {
    if (d) await sleep(d);
    try {
      await relay.actuate('close');
      return true;
    } catch (err) {
      io.stderr(`gatepost-lpr: relay close failed: ${(err as Error).message}`);
    }
  }
  io.stderr('gatepost-lpr: ALARM: the relay could not be closed');
  return false;
}

/**
 * gate id → relay of the fallback path: the config file's, then those the environment configures
 * (each driver's own variables, src/devices/registry.ts), which win for the same gate.
 */
function fallbackRelays(cfg: LprConfig): Record<string, FallbackRelayConfig> {
  const { envRelays } = require('../devices/registry') as typeof import('../devices/registry');
  return { ...cfg.relays, ...envRelays(cfg.env) };
}

/** The gate of a passage that names none: the configured default, else `main` if it has a relay, else the first relay's. */
function fallbackGate(cfg: LprConfig): string {
  if (cfg.defaultGate) return cfg.defaultGate;
  let relays: Record<string, FallbackRelayConfig> = cfg.relays;
  try {
    relays = fallbackRelays(cfg);
  } catch {
    /* an invalid relay variable is reported by defaultFallbackDeps */
  }
  return relays.main ? 'main' : (Object.keys(relays)[0] ?? 'main');
}

async function defaultFallbackDeps(cfg: LprConfig): Promise<FallbackDeps> {
  const registry = require('../devices/registry') as typeof import('../devices/registry');
  const relays = fallbackRelays(cfg);
  const checker = createFallbackChecker(cfg);
  const drivers = new Map<string, GateActuator>();
  return {
    check: checker,
    relay(gate: string) {
      const rc = relays[gate];
      if (!rc) return undefined;
      let d = drivers.get(gate);
      if (!d) {
        d = registry.createRelayDriver(registry.relayConfigOf(rc), 3000);
        drivers.set(gate, d);
      }
      return d;
    },
  };
}

/** The E-Poselok online check of the fallback path: the same client gatepost uses (src/devices/eposelok-client.ts). */
function createFallbackChecker(cfg: LprConfig): (plate: string) => Promise<OnlineResult> {
  const e = cfg.eposelok;
  if (!e.name || !e.token) throw new Error('E-Poselok online check needs GATEPOST_EPOSELOK_NAME and GATEPOST_EPOSELOK_TOKEN');
  const { EposelokClient } = require('../devices/eposelok-client') as typeof import('../devices/eposelok-client');
  const { normalizePlate } = require('../core/plate') as typeof import('../core/plate');
  const client = new EposelokClient({ name: e.name, token: e.token, camId: e.camId, checkBase: e.checkUrl, checkTimeoutMs: e.timeoutMs ?? 1500 });
  return async (plate: string) => {
    const p = normalizePlate(plate);
    if (!p) return { status: 'denied', latencyMs: 0, error: 'not a plate' };
    return client.check(p);
  };
}

// ------------------------------------------------------------------------------------ the queue

/** Delivers the fallback queue to gatepost; resolves with how many entries were acknowledged. */
export async function deliverQueue(cfg: LprConfig, io: Pick<CliIo, 'stderr'>, client?: MqttLite): Promise<{ delivered: number; left: number }> {
  const queue = queueOf(cfg.queueFile);
  const { entries } = queue.read();
  if (!entries.length) return { delivered: 0, left: 0 };
  const own = !client;
  const c = client ?? (await MqttLite.connect({ url: cfg.url, username: cfg.username, password: cfg.password, connectTimeoutMs: cfg.connectTimeoutMs }));
  let acked: string[] = [];
  let delivered = 0;
  try {
    for (const e of entries) {
      const payload = {
        plate: e.plate,
        ts: e.ts,
        requestId: e.id,
        gate: e.gate,
        direction: e.direction,
        confidence: e.confidence,
        fallback: { decision: e.decision, source: e.source, reason: e.reason, relay: e.relay, latencyMs: e.latencyMs },
      };
      try {
        await c.publish(`gatepost/lpr/${topicLevel(e.camera)}/fallback`, JSON.stringify(payload), { qos: 1, timeoutMs: 5000 });
      } catch (err) {
        io.stderr(`gatepost-lpr: queue delivery stopped: ${(err as Error).message}`);
        break;
      }
      acked.push(e.id);
      delivered++;
      if (acked.length >= 200) {
        await queue.remove(acked);
        acked = [];
      }
    }
  } finally {
    if (own) await c.end().catch(() => undefined);
    if (acked.length) await queue.remove(acked);
  }
  return { delivered, left: queue.read().entries.length };
}

async function flushCommand(cfg: LprConfig, io: CliIo): Promise<number> {
  const lock = `${cfg.queueFile}.flushing`;
  try {
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    try {
      const st = fs.statSync(lock);
      if (Date.now() - st.mtimeMs > 60_000) fs.unlinkSync(lock);
    } catch {
      /* no lock */
    }
    fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 0; // another delivery is running
    throw err;
  }
  try {
    const r = await deliverQueue(cfg, io);
    io.stdout(`delivered ${r.delivered}, left ${r.left}`);
    return r.left ? EXIT_ERROR : 0;
  } catch (err) {
    io.stderr(`gatepost-lpr: queue not delivered: ${(err as Error).message}`);
    return EXIT_ERROR;
  } finally {
    try {
      fs.unlinkSync(lock);
    } catch {
      /* gone */
    }
  }
}

/** Starts `gatepost-lpr --flush` detached, so the calling LPR program gets its answer at once. */
function startDetachedFlush(cfg: LprConfig, args: CliArgs): void {
  let dir = __dirname;
  let bin = '';
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'bin', 'gatepost-lpr.js');
    if (fs.existsSync(candidate)) {
      bin = candidate;
      break;
    }
    dir = path.dirname(dir);
  }
  if (!bin) return;
  const { spawn } = require('child_process') as typeof import('child_process');
  const argv = [bin, '--flush', '--quiet'];
  if (args.config) argv.push('--config', path.resolve(args.config));
  const child = spawn(process.execPath, argv, { detached: true, stdio: 'ignore', env: process.env });
  child.unref();
}

/** Entry point of bin/gatepost-lpr.js. */
export function run(): void {
  main(process.argv.slice(2), {
    env: process.env,
    stdout: (l) => process.stdout.write(l + '\n'),
    stderr: (l) => process.stderr.write(l + '\n'),
  }).then(
    (code) => {
      process.exitCode = code;
      // everything is done (the socket closed, a flush child detached): exit now rather than
      // after the event loop has wound down the closed handles — unless output is still pending
      if (!process.stdout.writableLength && !process.stderr.writableLength) process.exit(code);
    },
    (err) => {
      process.stderr.write(`gatepost-lpr: ${(err as Error).message}\n`);
      process.exitCode = EXIT_ERROR;
    },
  );
}
