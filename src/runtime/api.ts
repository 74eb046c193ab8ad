/**
 * gatepost's REST API under /api:
 *  - GET /api/health (open): 200 with { status, version, uptime, broker, flows, db, degraded } once
 *    the runtime is ready and the database answers, 503 before (and while broker or database are
 *    down). 200 is liveness: `degraded` lists what works worse than it should (devices that do not
 *    answer their probe, a full or read-only disk, …: src/services/degraded.ts) — monitor it;
 *  - behind auth (session cookie or HTTP Basic, `req.user = { username }`):
 *    GET /api/me, GET /api/system (also event-loop stalls, CSV exports and `memory`: src/runtime/memory.ts), GET /api/stream (Server-Sent Events from the hub bus),
 *    and the domain routers of API_ROUTERS (src/api/<area>.ts exporting <area>Router(hub)), imported
 *    statically so the compiler checks them.
 */
import express, { Request, Response } from 'express';
import { LIVE_EVENTS, type Hub } from '../services/hub';
import { gatesOf } from '../services/gate-service';
import { passesRouter } from '../api/passes';
import { eventsRouter } from '../api/events';
import { eposelokRouter } from '../api/eposelok';
import { gatesRouter } from '../api/gates';
import { logsRouter } from '../api/logs';
import { doctorRouter } from '../api/doctor';
import { accessRouter } from '../api/access';
import { alertsRouter } from '../api/alerts';
import { camerasRouter } from '../api/cameras';
import { peopleRouter } from '../api/people';
import { uploadsRouter } from '../api/uploads';
import type { GateStatePayload } from '../core/contracts';
import type { RuntimeLogger } from './logger';
import type { Auth } from './auth';
import { redactUrl } from '../devices/http';
import { degradedOf } from '../services/degraded';
import { exportStatus } from '../api/csv-stream';
import { loopStatus } from './loop-monitor';
import { memoryReport } from './memory';
import { passesOf } from '../services/passes-service';
import type { ConnectionStats } from './http-limits';

export interface RuntimeStatus {
  ready: boolean;
  version: string;
  startedAt: number;
  demo: boolean;
  timezone: string;
  broker: { embedded: boolean; connected: boolean; clients: number | null; url: string };
  flows: () => { state: string; running: boolean };
  /** configured device URLs (shown redacted) */
  deviceUrls: Array<{ id: string; kind: string; url: string }>;
  /** the last periodic probe of a configured device (src/runtime/device-monitor.ts) */
  deviceHealth?: (id: string) => { reachable: boolean | null; lastError: string | null };
  /** the HTTP server's connections and open files (http-limits.ts) */
  connections?: () => ConnectionStats;
}

/** The domain routers under /api: area name → router factory. */
export const API_ROUTERS: ReadonlyArray<[string, (hub: Hub) => express.Router]> = [
  ['passes', passesRouter],
  ['events', eventsRouter],
  ['eposelok', eposelokRouter],
  ['gates', gatesRouter],
  ['logs', logsRouter],
  ['doctor', doctorRouter],
  ['access', accessRouter],
  ['alerts', alertsRouter],
  ['cameras', camerasRouter],
  ['people', peopleRouter],
  ['uploads', uploadsRouter],
];

export interface ApiOptions {
  hub: Hub;
  auth: Auth | null;
  log: RuntimeLogger;
  status: () => RuntimeStatus;
  heartbeatMs?: number;
}

export interface MountedApi {
  router: express.Router;
  mounted: string[];
  missing: string[];
  sseClients(): number;
  /** ends every SSE stream (shutdown) */
  closeStreams(): void;
}

function listGates(hub: Hub): GateStatePayload[] {
  return gatesOf(hub).list();
}

export function createApi(opts: ApiOptions): MountedApi {
  const { hub, log } = opts;
  const router = express.Router();
  const mounted: string[] = [];
  const missing: string[] = [];
  const streams = new Map<Response, () => void>();
  let lastEposelok: any = null;
  hub.on('eposelok-state', (s) => (lastEposelok = s));

  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.get('/health', async (_req, res) => {
    const st = opts.status();
    let dbOk = false;
    try {
      const db = await Promise.race([hub.db(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000).unref())]);
      await db.get('SELECT 1 AS ok');
      dbOk = true;
    } catch {
      dbOk = false;
    }
    const flows = st.flows();
    const brokerOk = st.broker.connected;
    const ok = st.ready && dbOk && brokerOk;
    res.status(ok ? 200 : 503).json({
      status: !st.ready ? 'starting' : ok ? 'ok' : 'degraded',
      version: st.version,
      uptime: Math.round((Date.now() - st.startedAt) / 1000),
      broker: { ok: brokerOk, embedded: st.broker.embedded, clients: st.broker.clients },
      flows: { running: flows.running, state: flows.state },
      db: { ok: dbOk },
      degraded: degradedOf(hub).list(),
    });
  });

  if (opts.auth) router.use(opts.auth.require('api'));
  else router.use((req, _res, next) => (((req as any).user = { username: 'admin' }), next()));

  router.get('/me', (req, res) => {
    // admin: the pages only the admin may use (the system log) are shown to the admin only
    res.json({ username: (req as any).user?.username ?? 'anonymous', admin: (req as any).user?.permissions === '*' });
  });

  router.get('/system', async (req, res) => {
    const st = opts.status();
    let sizeBytes = 0;
    let dbOk = false;
    try {
      const db = await hub.db();
      await db.get('SELECT 1');
      sizeBytes = db.sizeBytes();
      dbOk = true;
    } catch {
      /* reported as ok: false */
    }
    const devices: Array<{ id: string; kind: string; url: string | null; reachable: boolean | null; lastError: string | null }> = [];
    for (const g of listGates(hub)) {
      devices.push({ id: g.gate, kind: g.kind, url: null, reachable: g.reachable ?? null, lastError: g.lastError ?? null });
    }
    for (const d of st.deviceUrls) {
      const e = d.id === 'eposelok' && lastEposelok ? lastEposelok : null;
      const probe = st.deviceHealth?.(d.id);
      // the probe says whether the device answers now; without one, E-Poselok's last sync does
      const synced = e ? (e.ok ?? e.reachable ?? (e.lastError ? false : null)) : null;
      devices.push({
        id: d.id,
        kind: d.kind,
        url: redactUrl(d.url),
        reachable: probe && probe.reachable !== null ? probe.reachable : synced,
        lastError: probe?.lastError ?? (e ? (e.lastError ?? e.error ?? null) : null),
      });
    }
    res.json({
      version: st.version,
      uptime: Math.round((Date.now() - st.startedAt) / 1000),
      demo: st.demo,
      timezone: st.timezone,
      devices,
      mqtt: { embedded: st.broker.embedded, connected: st.broker.connected, clients: st.broker.clients, url: st.broker.url },
      db: { sizeBytes, ok: dbOk },
      flows: st.flows(),
      api: { mounted, missing },
      stream: { clients: streams.size },
      degraded: degradedOf(hub).list(),
      // ?loopSince=<epoch ms>: also the worst event-loop stall since then (loop-monitor.ts)
      eventLoop: loopStatus(req.query.loopSince === undefined ? undefined : Number(req.query.loopSince)),
      exports: exportStatus(),
      connections: st.connections?.() ?? null,
      // where the memory goes: start stages, heap, the pass index, heavy optional modules (memory.ts)
      memory: (() => {
        const p = passesOf(hub);
        return memoryReport({ mirror: p.index.mirrorSize, temporary: p.index.tempSize, loaded: p.isReady, loadMs: p.loadStats?.ms ?? null, heapMb: p.loadStats?.heapMb ?? null });
      })(),
    });
  });

  router.get('/stream', (req: Request, res: Response) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    const offs: Array<() => void> = [];
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(hb);
      for (const off of offs) off();
      streams.delete(res);
      if (!res.writableEnded) res.end();
    };
    const send = (name: string, payload: unknown) => {
      if (closed) return;
      // a client that stops reading must not make the process buffer without bound
      if (res.writableLength > 1024 * 1024) {
        log.warn('SSE client too slow; stream closed');
        return close();
      }
      let data: string;
      try {
        // binary payloads (a camera's motion snapshot) never go into the stream: the page fetches them
        data = JSON.stringify(payload ?? null, (k, v) => (k && v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data) ? undefined : v));
      } catch {
        return;
      }
      res.write(`event: ${name}\ndata: ${data}\n\n`);
    };
    for (const ev of LIVE_EVENTS) offs.push(hub.on(ev, (p) => send(ev, p)));
    const hb = setInterval(() => {
      if (!closed) res.write(`: heartbeat ${Date.now()}\n\n`);
    }, opts.heartbeatMs ?? 15_000);
    streams.set(res, close);
    req.on('close', close);
    res.on('error', close);
    // the current gate states, so a fresh page is complete without waiting for a change
    for (const g of listGates(hub)) send('gate-state', g);
  });

  for (const [name, routerOf] of API_ROUTERS) {
    try {
      router.use(routerOf(hub));
      mounted.push(name);
    } catch (err) {
      missing.push(name);
      log.error(`API router ${name} failed: ${(err as Error).message}`);
    }
  }
  log.info(`API mounted: ${mounted.join(', ') || 'none'}${missing.length ? `; missing: ${missing.join(', ')}` : ''}`);

  router.use('/', (_req, res) => res.status(404).json({ error: 'not found' }));
  // bad JSON bodies and thrown errors: JSON, never a crash or an HTML stack trace
  router.use((err: any, _req: Request, res: Response, _next: express.NextFunction) => {
    const status = Number(err?.status || err?.statusCode) || 500;
    if (status >= 500) log.error(`API error: ${err?.message ?? err}`);
    if (!res.headersSent) res.status(status).json({ error: status >= 500 ? 'internal error' : String(err?.message ?? 'bad request') });
  });

  return {
    router,
    mounted,
    missing,
    sseClients: () => streams.size,
    closeStreams: () => {
      for (const close of [...streams.values()]) close();
    },
  };
}
