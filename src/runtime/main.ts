/**
 * The gatepost runtime: one process with the embedded MQTT broker (or the bridge to an external
 * one), Node-RED with gatepost's nodes, the shipped flows, Dashboard 2.0, the REST API, demo
 * device emulators and the data directory (sqlite, secrets, logs).
 *
 *   node dist/src/runtime/main.js                  start (npm start)
 *   node dist/src/runtime/main.js --restore-flows  back up the current flows; the next start installs the shipped ones
 *
 * Start order: config → logger → secrets → HTTP (health 503) → broker → demo emulators →
 * hub (sqlite) → Node-RED (+ flows) → MQTT bridge → API ready (health 200).
 * SIGINT/SIGTERM: API streams closed, bridge offline, flows stopped, broker closed, database
 * closed, exit 0.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as http from 'http';
import express from 'express';
import { loadConfig, loadDotEnv, parseAccountList, RuntimeConfig } from './config';
import { createLogger, RuntimeLogger } from './logger';
import { loadOrCreateSecrets, MQTT_ROLES, MqttRole } from './secrets';
import { hashPasswordSync } from './password-hash';
import { Auth, UserAccount } from './auth';
import { startBroker, EmbeddedBroker, MqttAccount } from './broker';
import { MQTT_USERNAME } from './mqtt-acl';
import { startBridge, MqttBridge, redactMqttUrl, clearFlowsSession } from './mqtt-bridge';
import { createNodeRed, EmbeddedNodeRed, nodeRedLogHandler } from './node-red';
import { FlowsManager } from './flows';
import { startDemo, startDemoCamera, DemoDevice } from './demo';
import { createApi, MountedApi, RuntimeStatus } from './api';
import { Hub } from '../services/hub';
import { uploadsOf } from '../services/upload-service';
import { noDelayOnOutgoingTcp } from './tcp-nodelay';
import { acquireInstanceLock, InstanceLockedError } from './instance-lock';
import { startDeviceMonitor, DeviceMonitor, configuredDevices } from './device-monitor';
import { degradedOf } from '../services/degraded';
import { accessLogOf } from '../services/access-log-service';
import { alarmsOf } from '../services/alarm-service';
import { cameraUpgrade, isCameraUpgrade } from '../api/cameras';
import { sameOrigin } from './auth';

/** Exit code of a start refused because another gatepost runs on the same data dir. */
export const EXIT_LOCKED = 3;
import { secureDataDir } from './data-perms';
import { HTTP_SERVER_OPTIONS, guardConnections, reportFileLimit } from './http-limits';
import { parseAllowedOrigins, setAllowedOrigins, upgradeOriginAllowed, refuseUpgrade } from './origin';
import { contentSecurityPolicy } from './csp';
import { finalErrorHandler } from './error-handler';
import { startLoopMonitor } from './loop-monitor';
import { consoleBanner, demoPlates } from './banner';
import demoList from '../emulators/eposelok-demo.json';
import { checkDatabaseAtStart, checkDatabaseNow, checkDatabaseLater, markCleanClose, CorruptDatabaseError, EXIT_CORRUPT_DB } from '../ops/integrity';
import { startBackupSchedule, BackupSchedule } from '../ops/backup';
import { runOpsCommand } from '../ops/cli';
import { markMemory, settleAfterStart } from './memory';

export interface Runtime {
  config: RuntimeConfig;
  log: RuntimeLogger;
  server: http.Server;
  stop(): Promise<void>;
}

function mqttAccounts(cfg: RuntimeConfig, stored: MqttAccount[], internal: { username: string; password: string }, log: RuntimeLogger): MqttAccount[] {
  const out = new Map<string, MqttAccount>();
  for (const a of stored) out.set(a.username, a);
  const add = (username: string, role: string, secret: { password?: string; hash?: string }, from: string) => {
    if (!MQTT_USERNAME.test(username)) return log.warn(`${from}: MQTT user name "${username.slice(0, 64)}" is invalid (letters, digits, _ . -)`);
    if (!(MQTT_ROLES as string[]).includes(role)) return log.warn(`${from}: MQTT role "${role}" of ${username} is unknown (${MQTT_ROLES.join(', ')})`);
    if (username === internal.username) return log.warn(`${from}: ${username} is reserved`);
    if (!secret.password && !secret.hash) return log.warn(`${from}: MQTT account ${username} has no password`);
    if (secret.password) log.addSecret(secret.password);
    out.set(username, { username, role: role as MqttRole, ...secret });
  };
  const { items, errors } = parseAccountList(cfg.mqttUsers, 3);
  for (const e of errors) log.warn(`GATEPOST_MQTT_USERS: ${e}`);
  for (const [u, p, r] of items) add(u, r, { password: p }, 'GATEPOST_MQTT_USERS');
  if (cfg.mqttUsersFile) {
    try {
      const list = JSON.parse(fs.readFileSync(cfg.mqttUsersFile, 'utf8'));
      if (!Array.isArray(list)) throw new Error('expected an array of { username, password | hash, role }');
      for (const a of list) add(String(a?.username ?? ''), String(a?.role ?? ''), { password: a?.password, hash: a?.hash }, cfg.mqttUsersFile);
    } catch (err) {
      log.error(`MQTT users file ${cfg.mqttUsersFile}: ${(err as Error).message}`);
    }
  }
  out.set(internal.username, { username: internal.username, role: 'admin', password: internal.password, internal: true });
  return [...out.values()];
}

function guardAccounts(cfg: RuntimeConfig, adminHash: string, log: RuntimeLogger): UserAccount[] {
  const users: UserAccount[] = [{ username: 'admin', hash: adminHash, permissions: '*' }];
  const { items, errors } = parseAccountList(cfg.users, 2);
  for (const e of errors) log.warn(`GATEPOST_USERS: ${e}`);
  for (const [u, p] of items) {
    if (u === 'admin' || !/^[\p{L}\p{N}_.-]{1,64}$/u.test(u) || !p) {
      log.warn(`GATEPOST_USERS: account "${u.slice(0, 64)}" skipped (name must be letters/digits/_.- and not admin; password required)`);
      continue;
    }
    log.addSecret(p);
    users.push({ username: u, hash: hashPasswordSync(p), permissions: 'read' });
  }
  return users;
}

/** Resolves when every mqtt-broker node used by an enabled `mqtt in` is connected (and, with the embedded broker, has subscribed), or after timeoutMs. */
async function flowsTakeMqtt(nr: EmbeddedNodeRed, broker: EmbeddedBroker | null, log: RuntimeLogger, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  const pending = () => nr.mqttInputs().filter((b) => !b.connected || (broker && b.clientId !== null && !broker.hasSubscribed(b.clientId)));
  for (;;) {
    const left = nr.flowsRunning() ? pending() : [{ id: 'flows not started yet' }];
    if (!left.length) return;
    if (Date.now() - t0 >= timeoutMs) {
      log.warn(`the flows' MQTT inputs are not connected after ${timeoutMs} ms (${left.map((b) => b.id).join(', ')}); ready anyway`);
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startRuntime(cfg: RuntimeConfig = loadConfig()): Promise<Runtime> {
  const startedAt = Date.now();
  markMemory('modules loaded');
  // umask 077 and no group/other access to what the data dir already holds (data-perms.ts)
  const permIssues: string[] = [];
  secureDataDir(cfg.dataDir, (m) => permIssues.push(m));
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const log = createLogger({ dir: path.join(cfg.dataDir, 'logs'), level: cfg.logLevel, console: cfg.logConsole, maxBytes: cfg.logMaxBytes, keep: cfg.logKeep });
  for (const w of [...cfg.warnings, ...permIssues]) log.warn(w);
  reportFileLimit(log);
  startLoopMonitor();
  const origins = parseAllowedOrigins(cfg.allowedOrigins);
  for (const e of origins.errors) log.warn(e);
  setAllowedOrigins(origins.origins);
  // one gatepost per data dir: an OS-held lock, released by any death (see instance-lock.ts)
  const lock = await acquireInstanceLock(cfg.dataDir).catch((err) => {
    log.error((err as Error).message);
    log.close();
    throw err;
  });
  // PRAGMA quick_check before anything opens the database: a damaged one stops the start unless allowed (ops/integrity.ts).
  // It runs on sqlite's thread (~0.8 s for a 300 MB file) while the HTTP server and the broker start and
  // Node-RED's modules load; the hub opens the database only after it passed (awaited below).
  const dbPath = path.join(cfg.dataDir, 'gatepost.db');
  const dbCheck = checkDatabaseAtStart(dbPath, cfg.allowCorruptDb, log);
  dbCheck.catch(() => undefined); // handled where it is awaited
  /** a quick_check of this run passed: a clean stop may let the next start skip its own (ops/integrity.ts) */
  let dbSound = false;

  // ---- secrets and accounts
  const sec = loadOrCreateSecrets(cfg.dataDir, { adminPassword: cfg.adminPassword || undefined });
  const secrets = sec.secrets;
  for (const s of [secrets.internalMqtt.password, secrets.credentialSecret, secrets.sessionSecret, cfg.adminPassword, cfg.mqttPassword]) log.addSecret(s);
  const auth = new Auth(secrets.sessionSecret, guardAccounts(cfg, secrets.admin.hash, log), log.child('auth'), {
    revokedSessionsFile: path.join(cfg.dataDir, 'sessions-revoked.json'),
  });
  const embedded = !cfg.mqttUrl;

  // ---- HTTP server: health answers 503 until everything is up
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const server = http.createServer(HTTP_SERVER_OPTIONS, app);
  const connections = guardConnections(server, log.child('http'));
  let ready = false;
  let api: MountedApi | null = null;
  let adminApp: any = null;
  let nodeApp: any = null;
  let broker: EmbeddedBroker | null = null;
  let bridge: MqttBridge | null = null;
  let nr: EmbeddedNodeRed | null = null;
  let demo: DemoDevice[] = [];
  let monitor: DeviceMonitor | null = null;
  let backups: BackupSchedule | null = null;
  let brokerUrl = cfg.mqttUrl;
  let closing = false;
  const upgraded = new Set<import('stream').Duplex>();
  let cameraHub: Hub | null = null;

  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'SAMEORIGIN');
    next();
  });
  app.use(contentSecurityPolicy());
  app.use(auth.routes());
  // while stopping, nothing long-lived may start (an EventSource or socket.io poll reconnecting)
  app.use((req, res, next) => {
    if (!closing) return next();
    // the dashboard's socket.io client reloads the page on an answer it cannot parse ("parser
    // error") — and a reloaded page has nothing to show while the server is down: its polls get a
    // dropped connection instead, which it retries, keeping the page and its last state
    if (req.path.startsWith('/dashboard/socket.io')) return void req.socket.destroy();
    res.status(503).set('Connection', 'close').json({ error: 'stopping' });
  });
  app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  app.use('/api', (req, res, next) => {
    if (api) return api.router(req, res, next);
    res.status(503).json({ status: 'starting', version: cfg.version, uptime: Math.round((Date.now() - startedAt) / 1000) });
  });
  app.use('/admin', auth.editorBridge(), (req, res, next) => (adminApp ? adminApp(req, res, next) : res.status(503).json({ error: 'starting' })));
  const pageAuth = auth.require('page');
  app.use((req, res, next) => {
    if (!nodeApp) return res.status(503).json({ error: 'starting' });
    pageAuth(req, res, (err?: unknown) => (err ? next(err) : nodeApp(req, res, next)));
  });
  // errors of every route above (and of Node-RED's apps, which pass them on): no stack traces
  app.use(finalErrorHandler(log.child('http')));

  // the one place every WebSocket handshake passes first: /admin/comms, the dashboard's
  // socket.io and /mqtt all need an allowed Origin (cross-site WebSocket hijacking, origin.ts)
  server.prependListener('upgrade', (req: http.IncomingMessage, socket, head) => {
    const pathname = (req.url ?? '').split('?')[0];
    // an upgraded socket leaves the server's connection tracking (closeAllConnections does not see
    // it, server.close() waits for it): keep them, so that a stop ends them at once
    if (closing) return socket.destroy();
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (!upgradeOriginAllowed(req)) {
      log.warn(`WebSocket ${pathname.slice(0, 100)} from origin ${String(req.headers.origin).slice(0, 100)} refused (${req.socket.remoteAddress})`);
      return refuseUpgrade(socket);
    }
    if (pathname === '/admin/comms') auth.decorateUpgrade(req);
    else if (pathname === '/mqtt') {
      if (!broker || !broker.handleUpgrade(req, socket, head)) socket.destroy();
    } else if (isCameraUpgrade(pathname)) {
      // a camera's live view (src/api/cameras.ts): authenticated like /api
      if (!api || !cameraHub) return socket.destroy();
      cameraUpgrade(
        cameraHub,
        (r) => auth.identify(r),
        (r) => sameOrigin(r as express.Request),
        req,
        socket,
        head,
      );
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.httpPort, cfg.bind, () => resolve());
  });
  const httpPort = (server.address() as import('net').AddressInfo).port;
  log.info(`gatepost ${cfg.version} starting: http ${cfg.bind}:${httpPort}, data ${cfg.dataDir}`);

  const stopParts = async () => {
    ready = false;
    // open pages first: their live connections (SSE, the dashboard's socket.io, MQTT over
    // WebSocket) end now, before the flows stop — a page keeps its last state instead of seeing the
    // widgets taken away — and no open page can hold the stop up
    closing = true;
    monitor?.stop();
    backups?.stop();
    api?.closeStreams();
    for (const socket of [...upgraded]) socket.destroy();
    server.closeIdleConnections?.();
    await bridge?.stop().catch((err) => log.error(`bridge stop: ${err.message}`));
    await nr?.stop().catch((err: Error) => log.error(`Node-RED stop: ${err.message}`));
    await broker?.close().catch((err) => log.error(`broker close: ${err.message}`));
    await Promise.all(demo.map((d) => d.close().catch(() => undefined)));
    const closed = await Hub.closeAll().then(
      () => true,
      (err) => log.error(`database close: ${err.message}`),
    );
    if (closed && dbSound) markCleanClose(dbPath, log);
    server.closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
  };

  try {
    // ---- MQTT
    noDelayOnOutgoingTcp(); // a decision must not wait ~40 ms behind the plate's PUBACK (see tcp-nodelay.ts)
    const accounts = mqttAccounts(cfg, secrets.mqttAccounts, secrets.internalMqtt, log);
    let internalUser = secrets.internalMqtt.username;
    let internalPassword = secrets.internalMqtt.password;
    if (embedded) {
      broker = await startBroker({ port: cfg.mqttPort, host: cfg.bind, tcp: true, wsPath: '/mqtt', accounts, log: log.child('mqtt') });
      const host = cfg.bind === '0.0.0.0' || cfg.bind === '::' ? '127.0.0.1' : cfg.bind;
      brokerUrl = `mqtt://${host.includes(':') ? `[${host}]` : host}:${broker.port}`;
      markMemory('broker started');
      log.info(`MQTT broker (embedded) on ${cfg.bind}:${broker.port} and ws://…:${httpPort}/mqtt; ${accounts.length} accounts`);
    } else {
      internalUser = cfg.mqttUsername;
      internalPassword = cfg.mqttPassword;
      log.info(`MQTT: external broker ${redactMqttUrl(cfg.mqttUrl)} (no embedded broker)`);
    }
    // what the shipped flows' mqtt-broker config node reads through ${VAR}
    const bu = new URL(brokerUrl);
    Object.assign(process.env, {
      GATEPOST_MQTT_BROKER_URL: `${bu.protocol}//${bu.host}`,
      GATEPOST_MQTT_BROKER_HOST: bu.hostname.replace(/^\[|\]$/g, ''),
      GATEPOST_MQTT_BROKER_PORT: bu.port || (bu.protocol === 'mqtts:' ? '8883' : '1883'),
      GATEPOST_MQTT_INTERNAL_USERNAME: internalUser,
      GATEPOST_MQTT_INTERNAL_PASSWORD: internalPassword,
      GATEPOST_TZ: cfg.timezone,
    });

    // plates queued for the flows while gatepost was down are stale: drop them before the flows connect
    await clearFlowsSession({ url: brokerUrl, username: internalUser, password: internalPassword, log: log.child('mqtt') });

    // ---- demo devices
    if (cfg.demoActive) demo = await startDemo(log.child('demo'));
    if (cfg.demoActive) {
      const camera = await startDemoCamera(log.child('demo'));
      if (camera) demo.push(camera);
    }

    // Node-RED's modules (~0.5 s of require) load while quick_check runs
    require('node-red');
    markMemory('node-red loaded');
    const { problems: dbProblems, deferred: dbDeferred } = await dbCheck;
    dbSound = !dbDeferred && !dbProblems.length;

    // ---- database
    const hub = Hub.open({ dbPath, timezone: cfg.timezone, retentionYears: cfg.retentionYears, logger: log.child('hub') });
    // a file that fails to open after its check was deferred gets the check now: a damaged one is refused with the usual message
    await hub.db().catch(async (err) => {
      if (dbDeferred) await checkDatabaseNow(dbPath, cfg.allowCorruptDb, log);
      throw err;
    });
    markMemory('database open');
    const dbDamaged = (problems: string[]) => degradedOf(hub).set('db', `quick_check: ${problems.slice(0, 3).join('; ')}`);
    if (dbProblems.length) dbDamaged(dbProblems);
    // the iVMS access log: started now so its after-hours check (GATEPOST_ACCESS_AFTER_HOURS) runs without a page open
    accessLogOf(hub);
    // the alarm service listens from the start (alerts are stored and queued even before a bot is configured)
    alarmsOf(hub);
    // a log file that cannot be written (full / read-only disk) is an alarm, not a crash
    const logState = (error: string | null) => (error ? degradedOf(hub).set('disk:log', error) : degradedOf(hub).clear('disk:log'));
    if (log.fileError()) logState(log.fileError());
    log.onFileState(logState);
    // the FTP upload queue listens for finished clips from the start and resumes what was queued
    uploadsOf(hub);

    // ---- Node-RED
    const userDir = path.join(cfg.dataDir, 'node-red');
    fs.mkdirSync(userDir, { recursive: true });
    const settingsFn = require(path.join(cfg.root, 'settings.js'));
    const settings = settingsFn({
      userDir,
      dbPath,
      timezone: cfg.timezone,
      credentialSecret: secrets.credentialSecret,
      adminAuth: auth.adminAuth(),
      logHandler: nodeRedLogHandler(log),
      logLevel: cfg.logLevel,
      dashboardMiddleware: [auth.require('page')],
      dashboardIoMiddleware: auth.ioMiddleware(),
      httpAdminRoot: '/admin',
      httpNodeRoot: '/',
    });
    nr = createNodeRed({ server, root: cfg.root, userDir, settings, log });
    adminApp = nr.httpAdmin;
    nodeApp = nr.httpNode;
    await nr.start();
    markMemory('node-red started');
    const flows = new FlowsManager(cfg.dataDir, userDir, cfg.flowsDir, log.child('flows'));
    await flows.sync(cfg.version, (nodes, creds) => nr!.deploy(nodes, creds)).catch((err) => log.error(`installing the shipped flows failed: ${err.message}`));

    markMemory('flows deployed');
    // ---- MQTT bridge
    bridge = await startBridge({ hub, url: brokerUrl, username: internalUser, password: internalPassword, log: log.child('bridge'), embedded: broker ?? undefined });

    // ---- API
    const deviceUrls: RuntimeStatus['deviceUrls'] = configuredDevices(process.env);
    const status = (): RuntimeStatus => ({
      ready,
      version: cfg.version,
      startedAt,
      demo: cfg.demoActive,
      timezone: cfg.timezone,
      broker: {
        embedded,
        connected: embedded ? !!broker : !!bridge?.connected(),
        clients: broker ? broker.clients() : null,
        url: embedded ? `mqtt://${cfg.bind}:${broker?.port}` : redactMqttUrl(cfg.mqttUrl),
      },
      flows: () => {
        const s = nr?.state();
        return { state: s?.state ?? 'stop', running: !!s?.running, ...(s?.missingTypes.length ? { missingTypes: s.missingTypes } : {}) };
      },
      deviceUrls,
      deviceHealth: (id) => monitor?.health(id) ?? { reachable: null, lastError: null },
      connections,
    });
    monitor = startDeviceMonitor({ hub, devices: deviceUrls, intervalMs: cfg.probeIntervalMs, timeoutMs: cfg.probeTimeoutMs, log: log.child('probe') });
    api = createApi({ hub, auth, log: log.child('api'), status });
    cameraHub = hub;
    // ready means plates are taken: wait (a little) for the flows' mqtt in nodes to be connected and,
    // with the embedded broker, subscribed — a plate published before would find no subscriber
    await flowsTakeMqtt(nr!, broker, log, cfg.flowsReadyTimeoutMs);
    ready = true;
    markMemory('ready');
    // a check deferred by a clean close runs now that plates are taken (its own read-only connection, on sqlite's thread)
    if (dbDeferred) {
      void checkDatabaseLater(dbPath, log).then(
        (problems) => (problems.length ? dbDamaged(problems) : (dbSound = true)),
        (err) => log.error(`database check after the start failed: ${(err as Error).message}`),
      );
    }
    // the garbage of the index load and of the first sync, collected once they are over (memory.ts)
    void settleAfterStart(hub, { stopped: () => closing }).then((ms) => {
      if (ms !== null) log.info(`start-up garbage collected (one full GC, ${ms} ms)`);
    });
    backups = startBackupSchedule({ dataDir: cfg.dataDir, keep: cfg.backupKeep, hour: cfg.backupHour, timezone: cfg.timezone, log: log.child('backup') });
    void backups.tick();
  } catch (err) {
    log.error(`start failed: ${(err as Error).message}`);
    await stopParts().catch(() => undefined);
    await lock.release();
    log.close();
    throw err;
  }

  // ---- the console notice (the only place plain passwords ever appear)
  log.console(
    consoleBanner({
      version: cfg.version,
      bind: cfg.bind,
      httpPort,
      mqtt: embedded ? `port ${broker!.port}, ws://…:${httpPort}/mqtt` : redactMqttUrl(cfg.mqttUrl),
      demo: cfg.demoActive ? { emulators: demo.map((d) => d.name), plates: demoPlates(demoList) } : null,
      firstStart: sec.created ? { adminPassword: sec.notice.adminPassword, lprUsername: sec.notice.lprUsername, lprPassword: sec.notice.lprPassword } : null,
    }),
  );
  log.info(`gatepost ready in ${Date.now() - startedAt} ms${cfg.demoActive ? ' (demo mode: devices emulated)' : ''}`);

  let stopping: Promise<void> | null = null;
  return {
    config: cfg,
    log,
    server,
    stop() {
      if (!stopping) {
        stopping = (async () => {
          log.info('stopping');
          await stopParts();
          log.info('stopped');
          await lock.release();
          log.close();
        })();
      }
      return stopping;
    },
  };
}

async function restoreFlows(cfg: RuntimeConfig): Promise<number> {
  // holds the lock while it works, so gatepost cannot start in the middle of it
  let lock;
  try {
    lock = await acquireInstanceLock(cfg.dataDir);
  } catch (err) {
    if (!(err instanceof InstanceLockedError)) throw err;
    console.error(`gatepost is running on ${cfg.dataDir}${err.pid ? ` (pid ${err.pid})` : ''}; stop it first, then run restore-flows again`);
    return 2;
  }
  const log = createLogger({ dir: path.join(cfg.dataDir, 'logs'), level: cfg.logLevel, console: true });
  try {
    const flows = new FlowsManager(cfg.dataDir, path.join(cfg.dataDir, 'node-red'), cfg.flowsDir, log.child('flows'));
    const { backupDir } = flows.restore();
    log.info(backupDir ? `current flows backed up to ${backupDir}; the shipped flows are installed at the next start` : 'no current flows; the shipped flows are installed at the next start');
  } finally {
    log.close();
    await lock.release();
  }
  return 0;
}

export async function cli(argv: string[]): Promise<void> {
  loadDotEnv();
  const cfg = loadConfig();
  // gatepost service|backup|restore|doctor … (src/ops/cli.ts)
  const opsExit = await runOpsCommand(argv, cfg);
  if (opsExit !== null) {
    process.exitCode = opsExit;
    return;
  }
  if (argv.includes('--version')) {
    console.log(cfg.version);
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(
      'usage: gatepost [--restore-flows] [--allow-corrupt-db] [--version]\n' +
        '       gatepost service install|uninstall|status …   (gatepost service --help)\n' +
        '       gatepost backup [FILE] | gatepost restore FILE   [--env-file F] [--data-dir D]\n' +
        '       gatepost doctor [--lang ru|en] [--env-file F] [--data-dir D]\n' +
        'configuration: environment / .env (see .env.example)',
    );
    return;
  }
  if (argv.includes('--allow-corrupt-db')) cfg.allowCorruptDb = true;
  if (argv.includes('--restore-flows')) {
    process.exitCode = await restoreFlows(cfg);
    return;
  }
  let rt: Runtime;
  try {
    rt = await startRuntime(cfg);
  } catch (err) {
    console.error(`gatepost: ${(err as Error).message}`);
    process.exit(err instanceof InstanceLockedError ? EXIT_LOCKED : err instanceof CorruptDatabaseError ? EXIT_CORRUPT_DB : 1);
  }
  let signals = 0;
  const shutdown = (sig: string) => {
    signals++;
    if (signals > 1) {
      rt.log.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    rt.log.info(`${sig} received`);
    const force = setTimeout(() => {
      rt.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    rt.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`gatepost: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('unhandledRejection', (reason) => rt.log.error(`unhandled rejection: ${(reason as Error)?.stack ?? reason}`));
}

if (require.main === module) {
  void cli(process.argv.slice(2));
}
