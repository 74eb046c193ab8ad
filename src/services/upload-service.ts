/**
 * `uploadsOf(hub)`: the durable FTP upload queue (issue 14) — nothing recorded is lost.
 *
 *  - Every hub 'clip-ready' with a `target` (an ftp-target config node id) is written to sqlite
 *    (`uploads`, schema v7) before anything else happens; `enqueue()` does the same for any file
 *    (the ftp-upload node). A clip is queued once per target.
 *  - The ftp-target nodes register their servers with `defineTarget(id, config)` / `removeTarget(id)`.
 *    Items of a target that is not defined (yet) wait in the queue.
 *  - One worker per target takes the queue in order (oldest first): it creates the directory of
 *    the template, uploads to `<name>.part`, checks the size on the server against the local file,
 *    then renames to `<name>`. Only then is the item `done`. The local file is never deleted (the
 *    camera side owns local retention and learns from 'upload-state' that the copy is safe).
 *  - While the server is down or refuses (530, 421, timeouts, a failing transfer) the head item
 *    goes back to `queued` with the error, and the worker retries with exponential backoff
 *    (retryMin → retryMax); order is kept. Errors about one file (a 5xx on the transfer) count
 *    against that item: after `maxAttempts` it is `failed` and the queue moves on. A missing local
 *    file is `failed` with the reason at once. Items older than `maxAge` (when set) are `dropped`
 *    with a log line. Items interrupted by a stop are queued again at the next start.
 *  - Emits 'upload-state' (UploadState) for every item change and 'ftp-state' (FtpState) for every
 *    target change; `ftp:<target>` is marked degraded while the server cannot be reached or
 *    refuses the login. The password never appears in a log line or a state.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Client } from 'basic-ftp';
import type * as BasicFtp from 'basic-ftp';
import { lazy } from '../core/lazy';

/** basic-ftp, loaded when the first upload starts */
const basicFtp = lazy((): typeof BasicFtp => require('basic-ftp'));
import type { Hub, Service } from './hub';
import { degradedOf } from './degraded';
import { UploadsStore, UploadRow } from '../store/uploads-store';
import { DEFAULT_DIR_TEMPLATE, remoteDir, remoteName, retryDelay, templateProblems } from '../core/ftp-path';
import type { ClipReady, FtpState, UploadState, UploadStateName } from '../core/contracts';

/** Connects and logs in to an FTP target (also the doctor's check). */
export function ftpAccess(client: Client, cfg: Pick<FtpTargetConfig, 'host' | 'port' | 'user' | 'password' | 'secure' | 'allowSelfSigned'>) {
  return client.access({
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    secure: cfg.secure,
    secureOptions: cfg.secure ? { rejectUnauthorized: !cfg.allowSelfSigned, servername: cfg.host } : undefined,
  });
}

export interface FtpTargetConfig {
  /** shown in the dashboard and the state (not secret) */
  name?: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** directory template, e.g. `{camera}/{yyyy}-{mm}-{dd}/` (src/core/ftp-path.ts) */
  dirTemplate: string;
  /** explicit FTPS (AUTH TLS) */
  secure: boolean;
  /** FTPS: accept a self-signed / unverified certificate */
  allowSelfSigned: boolean;
  timeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** queued items older than this are dropped (0: never) */
  maxAgeMs: number;
  /** attempts of one file that the server refuses (5xx on the transfer) before it is failed (0: never give up) */
  maxAttempts: number;
  /** login check while the queue is empty, ms (0: off) */
  probeIntervalMs: number;
}

export const FTP_DEFAULTS: Omit<FtpTargetConfig, 'host' | 'user' | 'password'> = {
  port: 21,
  dirTemplate: DEFAULT_DIR_TEMPLATE,
  secure: false,
  allowSelfSigned: false,
  timeoutMs: 20_000,
  retryMinMs: 2_000,
  retryMaxMs: 120_000,
  maxAgeMs: 0,
  maxAttempts: 10,
  probeIntervalMs: 300_000,
};

/** What is wrong with a target's configuration ([] when usable). */
export function targetProblems(c: Partial<FtpTargetConfig>): string[] {
  const out: string[] = [];
  if (!c.host) out.push('host');
  if (!c.user) out.push('user');
  if (c.port !== undefined && !(Number.isInteger(c.port) && c.port > 0 && c.port < 65536)) out.push('port');
  out.push(...templateProblems(c.dirTemplate ?? DEFAULT_DIR_TEMPLATE));
  return out;
}

/** A file to upload (the ftp-upload node, integrators). */
export interface EnqueueInput {
  target: string;
  file: string;
  /** name on the server (default: the file's base name) */
  remoteName?: string;
  camera?: string | null;
  clipId?: number | null;
  /** the time the directory's date comes from (default: now) */
  ts?: number;
}

export interface TargetStatus extends FtpState {
  name: string | null;
  /** host:port (no user, no password) */
  server: string | null;
  defined: boolean;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
  /** when the next attempt is due while retrying, else null */
  nextRetryAt: number | null;
  /** consecutive failed attempts */
  failures: number;
}

export interface UploadItem {
  id: number;
  target: string;
  clipId: number | null;
  camera: string | null;
  name: string;
  size: number | null;
  state: UploadStateName;
  attempts: number;
  lastError: string | null;
  remotePath: string | null;
  createdAt: number;
  updatedAt: number;
}

export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Target {
  id: string;
  cfg: FtpTargetConfig | null;
  connected: boolean;
  lastError: string | null;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
  failures: number;
  nextAt: number | null;
  retryTimer: NodeJS.Timeout | null;
  idleTimer: NodeJS.Timeout | null;
  probeTimer: NodeJS.Timeout | null;
  client: Client | null;
  home: string;
  /** the session's working directory (null: unknown) */
  cwd: string | null;
  running: Promise<void> | null;
  again: boolean;
  queued: number;
  oldest: number | null;
}

/** An FTP failure in words an operator can act on (no credentials: basic-ftp never puts them in messages). */
export function describeFtpError(err: unknown, server: string): { text: string; connection: boolean } {
  const e = err as NodeJS.ErrnoException & { code?: number | string };
  const msg = String(e?.message ?? err)
    .replace(/\s+/g, ' ')
    .slice(0, 160);
  const ftpCode: number = err instanceof basicFtp().FTPError && typeof e.code === 'number' && e.code >= 100 && e.code < 600 ? e.code : 0;
  if (ftpCode === 530) return { text: `login refused by ${server} (530): check the user and password — ${msg}`, connection: true };
  if (ftpCode === 421) return { text: `${server} closed the session (421): ${msg}`, connection: true };
  if (ftpCode) return { text: `${server} answered ${ftpCode}: ${msg}`, connection: ftpCode < 500 };
  const sys = typeof e?.code === 'string' ? e.code : (/\b(E[A-Z]{3,})\b/.exec(msg)?.[1] ?? '');
  if (sys === 'ECONNREFUSED') return { text: `${server} refused the connection (is the FTP server running?)`, connection: true };
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN') return { text: `${server}: host not found`, connection: true };
  if (sys === 'ECONNRESET' || sys === 'EPIPE') return { text: `${server} dropped the connection (${sys})`, connection: true };
  if (sys === 'EHOSTUNREACH' || sys === 'ENETUNREACH') return { text: `${server}: no route to the host (${sys})`, connection: true };
  if (/timeout/i.test(msg)) return { text: `${server} did not answer in time (${msg})`, connection: true };
  if (/certificate|self[- ]signed|TLS|SSL/i.test(msg)) return { text: `${server} TLS: ${msg} (allow self-signed certificates in the ftp-target if that is expected)`, connection: true };
  return { text: `${server}: ${msg}`, connection: true };
}

export class UploadService implements Service {
  private store: UploadsStore | null = null;
  private targets = new Map<string, Target>();
  private closed = false;
  private offClip: () => void;
  private readyPromise: Promise<void> | null = null;
  private enqueueChain: Promise<unknown> = Promise.resolve();
  /** targets whose node exists but is not configured (no host): their clips are not queued */
  private unconfigured = new Map<string, string>();

  constructor(private readonly hub: Hub) {
    // listening from the first moment: a clip announced while the database opens is still queued
    this.offClip = hub.on('clip-ready', (c) => this.onClip(c));
  }

  async init(): Promise<void> {
    this.readyPromise ??= (async () => {
      const db = await this.hub.db();
      this.store = new UploadsStore(db);
      if (db.readOnly) return;
      const n = await this.store.requeueInterrupted(this.hub.clock.now());
      if (n) this.hub.logger.info(`uploads: ${n} upload(s) interrupted by the last stop queued again`);
    })();
    return this.readyPromise;
  }

  private async db(): Promise<UploadsStore> {
    await this.init();
    return this.store!;
  }

  private onClip(c: ClipReady): void {
    if (!c || typeof c !== 'object' || !c.target) return;
    const off = this.unconfigured.get(c.target);
    if (off) {
      // a shipped flow without GATEPOST_FTP_HOST: the clip stays local (never queued for nobody)
      this.hub.logger.debug(`uploads: clip ${c.clipId} of ${c.camera} stays local: ${off}`);
      return;
    }
    this.enqueue({ target: c.target, file: c.file, camera: c.camera, clipId: c.clipId, ts: c.start }).catch((err) =>
      this.hub.logger.error(`uploads: clip ${c.clipId} of ${c.camera} could not be queued for ${c.target}: ${(err as Error).message}`),
    );
  }

  /** Queues a file durably (written to sqlite before it resolves). A clip already queued or delivered for the target is not queued again. */
  enqueue(input: EnqueueInput): Promise<UploadRow> {
    // one at a time: a clip announced twice at once is still queued once
    const next = this.enqueueChain.then(() => this.enqueueNow(input));
    this.enqueueChain = next.catch(() => undefined);
    return next;
  }

  private async enqueueNow(input: EnqueueInput): Promise<UploadRow> {
    if (this.closed) throw new UploadError(503, 'the upload queue is closed');
    if (!input.target || typeof input.target !== 'string') throw new UploadError(400, 'target is required');
    if (!input.file || typeof input.file !== 'string') throw new UploadError(400, 'file is required');
    const store = await this.db();
    if (input.clipId !== undefined && input.clipId !== null) {
      const existing = await store.liveForClip(input.target, input.clipId);
      if (existing) return existing;
    }
    let size: number | null = null;
    try {
      size = (await fs.promises.stat(input.file)).size;
    } catch {
      /* checked again at upload time: a missing file is failed then, with the reason */
    }
    const now = this.hub.clock.now();
    const row = await store.insert({
      target: input.target,
      clipId: input.clipId ?? null,
      camera: input.camera ?? null,
      file: path.resolve(input.file),
      remoteName: remoteName(input.remoteName || input.file),
      size,
      refTs: Number.isFinite(input.ts) ? Number(input.ts) : now,
      createdAt: now,
    });
    this.emitUpload(row, 'queued', null, null);
    const t = this.target(input.target);
    await this.refreshBacklog(t);
    this.kick(t);
    return row;
  }

  /**
   * A target node that is deliberately left unconfigured (no host: the FTP upload is off): clips
   * naming it stay local instead of waiting in the queue for a server that will never be set.
   */
  skipTarget(id: string, reason: string): void {
    this.unconfigured.set(id, reason);
  }

  /** Registers (or re-configures) a target and starts its queue. */
  defineTarget(id: string, cfg: FtpTargetConfig): void {
    this.unconfigured.delete(id);
    const t = this.target(id);
    const changed = JSON.stringify(t.cfg) !== JSON.stringify(cfg);
    t.cfg = { ...cfg };
    if (changed) {
      this.dropClient(t);
      t.failures = 0;
      this.clearRetry(t);
    }
    if (t.probeTimer) clearInterval(t.probeTimer);
    t.probeTimer = cfg.probeIntervalMs > 0 ? setInterval(() => void this.probe(t), cfg.probeIntervalMs) : null;
    t.probeTimer?.unref();
    void (async () => {
      await this.refreshBacklog(t).catch(() => undefined);
      if (t.queued) this.kick(t);
      else await this.probe(t);
    })();
  }

  /** Stops a target's worker (the node was deleted or is redeployed); its items stay queued. */
  async removeTarget(id: string): Promise<void> {
    this.unconfigured.delete(id);
    const t = this.targets.get(id);
    if (!t) return;
    t.cfg = null;
    this.clearRetry(t);
    if (t.probeTimer) clearInterval(t.probeTimer);
    t.probeTimer = null;
    this.dropClient(t);
    await t.running?.catch(() => undefined);
    degradedOf(this.hub).clear(`ftp:${id}`);
    await this.refreshBacklog(t).catch(() => undefined);
    if (!t.queued) this.targets.delete(id);
  }

  /** Puts a failed, dropped or waiting item back in its queue and tries its target now. */
  async retry(id: number): Promise<UploadRow> {
    const store = await this.db();
    const row = await store.get(id);
    if (!row) throw new UploadError(404, `upload ${id} not found`);
    if (row.state === 'done') throw new UploadError(409, `upload ${id} is already delivered (${row.remotePath})`);
    if (row.state === 'uploading') throw new UploadError(409, `upload ${id} is being uploaded now`);
    const now = this.hub.clock.now();
    if (row.state !== 'queued') {
      await store.setState(id, 'queued', { attempts: 0, ts: now });
      this.emitUpload(row, 'queued', null, null);
      this.hub.logger.info(`uploads: upload ${id} (${row.remoteName}) queued again by request`);
    }
    const t = this.target(row.target);
    t.failures = 0;
    this.clearRetry(t);
    await this.refreshBacklog(t);
    this.kick(t);
    return (await store.get(id))!;
  }

  /** Every known target: defined ones and those with items waiting. */
  list(): TargetStatus[] {
    return [...this.targets.values()].map((t) => this.statusOf(t)).sort((a, b) => a.target.localeCompare(b.target));
  }

  /** FtpState of every known target (the MQTT bridge republishes these). */
  states(): FtpState[] {
    return this.list().map((s) => this.ftpState(s));
  }

  async recent(f: { target?: string; state?: UploadStateName; limit?: number } = {}): Promise<UploadItem[]> {
    return (await (await this.db()).recent(f)).map(itemOf);
  }

  async get(id: number): Promise<UploadItem | undefined> {
    const r = await (await this.db()).get(id);
    return r ? itemOf(r) : undefined;
  }

  /** The newest upload of each clip (for the camera side's clip lists). */
  async ofClips(clipIds: number[]): Promise<Map<number, UploadItem>> {
    const out = new Map<number, UploadItem>();
    if (!clipIds.length) return out;
    for (const r of await (await this.db()).recent({ clipIds, limit: 1000 })) if (r.clipId !== null && !out.has(r.clipId)) out.set(r.clipId, itemOf(r));
    return out;
  }

  /** Resolves when every target's queue is idle (tests, shutdown). */
  async idle(): Promise<void> {
    for (const t of this.targets.values()) await t.running?.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.offClip();
    for (const t of this.targets.values()) {
      this.clearRetry(t);
      if (t.idleTimer) clearTimeout(t.idleTimer);
      if (t.probeTimer) clearInterval(t.probeTimer);
      this.dropClient(t);
    }
    await Promise.all([...this.targets.values()].map((t) => t.running?.catch(() => undefined)));
  }

  // ───────────────────────── the worker ─────────────────────────

  private target(id: string): Target {
    let t = this.targets.get(id);
    if (!t) {
      t = {
        id,
        cfg: null,
        connected: false,
        lastError: null,
        lastErrorAt: null,
        lastSuccessAt: null,
        failures: 0,
        nextAt: null,
        retryTimer: null,
        idleTimer: null,
        probeTimer: null,
        client: null,
        home: '/',
        cwd: null,
        running: null,
        again: false,
        queued: 0,
        oldest: null,
      };
      this.targets.set(id, t);
    }
    return t;
  }

  /** Runs the target's queue now unless it is running (then once more after) or waiting out a backoff. */
  private kick(t: Target): void {
    if (this.closed || !t.cfg) return;
    if (t.running) {
      t.again = true;
      return;
    }
    if (t.retryTimer) return;
    t.running = this.drain(t).finally(() => {
      t.running = null;
      if (t.again && !t.retryTimer) this.kick(t);
    });
  }

  private async drain(t: Target): Promise<void> {
    const store = await this.db();
    try {
      do {
        t.again = false;
        for (;;) {
          if (this.closed || !t.cfg) return;
          await this.dropExpired(t, store);
          const item = await store.head(t.id);
          if (!item) break;
          const finished = await this.uploadOne(t, item, store);
          await this.refreshBacklog(t);
          if (!finished) {
            this.scheduleRetry(t);
            return;
          }
        }
      } while (t.again);
      this.scheduleIdleClose(t);
    } catch (err) {
      // the database refused (disk): try again later, nothing is lost
      if (this.closed) return;
      this.hub.logger.error(`uploads: queue ${t.id} stopped: ${(err as Error).message}; retrying`);
      t.failures++;
      this.scheduleRetry(t);
    }
  }

  /** One attempt; true when the item reached a final state, false to retry it later (order kept). */
  private async uploadOne(t: Target, item: UploadRow, store: UploadsStore): Promise<boolean> {
    const cfg = t.cfg!;
    const server = `${cfg.host}:${cfg.port}`;
    let st: fs.Stats | null = null;
    try {
      st = await fs.promises.stat(item.file);
    } catch (err) {
      const why = `local file missing: ${item.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
      this.hub.logger.warn(`uploads: upload ${item.id} failed: ${why}`);
      await this.finish(store, item, 'failed', why, null);
      return true;
    }
    if (!st.isFile()) {
      await this.finish(store, item, 'failed', `not a regular file: ${item.file}`, null);
      return true;
    }
    const attempts = item.attempts + 1;
    await store.setState(item.id, 'uploading', { attempts, ts: this.hub.clock.now() });
    this.emitUpload(item, 'uploading', null, null);
    let stage: 'connect' | 'transfer' = 'connect';
    try {
      const client = await this.session(t);
      stage = 'transfer';
      const dir = remoteDir(cfg.dirTemplate, { camera: item.camera, ts: item.refTs, timezone: this.hub.timezone });
      const base = dir.startsWith('/') ? dir : path.posix.join(t.home, dir);
      // the session stays in the last directory: most clips of a camera go to the same one
      if (t.cwd !== base) {
        t.cwd = null;
        await client.ensureDir(base);
        t.cwd = base;
      }
      const part = `${item.remoteName}.part`;
      await client.uploadFrom(item.file, part);
      const remoteSize = await remoteSizeOf(client, part);
      if (remoteSize !== st.size) throw new SizeMismatch(`size check failed: ${remoteSize} bytes on the server, ${st.size} here`);
      await client.rename(part, item.remoteName);
      const remotePath = path.posix.join(base, item.remoteName);
      await this.finish(store, item, 'done', null, remotePath);
      t.failures = 0;
      t.lastSuccessAt = this.hub.clock.now();
      this.setConnected(t, true, null);
      this.hub.logger.info(`uploads: ${item.remoteName} → ${cfg.host}:${remotePath} (${st.size} bytes, attempt ${attempts})`);
      return true;
    } catch (err) {
      this.dropClient(t);
      if (this.closed || !t.cfg) {
        await store.setState(item.id, 'queued', { ts: this.hub.clock.now() }).catch(() => undefined);
        return false;
      }
      const d = err instanceof SizeMismatch ? { text: `${server}: ${err.message}`, connection: false } : describeFtpError(err, server);
      const aboutFile = stage === 'transfer' && !d.connection;
      // a 4xx answer during the transfer: the server is there but refuses for now (not the file's fault)
      const answered = stage === 'transfer' && err instanceof basicFtp().FTPError && Number(err.code) >= 400;
      t.failures++;
      if (aboutFile && cfg.maxAttempts > 0 && attempts >= cfg.maxAttempts) {
        this.hub.logger.error(`uploads: upload ${item.id} (${item.remoteName}) failed after ${attempts} attempts: ${d.text}`);
        this.setConnected(t, true, d.text);
        await this.finish(store, item, 'failed', d.text, null);
        return true;
      }
      await store.setState(item.id, 'queued', { error: d.text, ts: this.hub.clock.now() });
      this.emitUpload(item, 'queued', null, d.text);
      this.setConnected(t, aboutFile || answered, d.text);
      const delay = retryDelay(t.failures, cfg.retryMinMs, cfg.retryMaxMs);
      this.hub.logger.warn(`uploads: ${item.remoteName} to ${t.cfg.name || t.id}: ${d.text}; retry in ${Math.round(delay / 1000)} s (attempt ${attempts})`);
      return false;
    }
  }

  /** The target's FTP session, logged in (reused while the queue has work). */
  private async session(t: Target): Promise<Client> {
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = null;
    if (t.client && !t.client.closed) return t.client;
    const cfg = t.cfg!;
    const client = new (basicFtp().Client)(cfg.timeoutMs);
    t.client = client;
    t.cwd = null;
    try {
      await ftpAccess(client, cfg);
      t.home = (await client.pwd()) || '/';
    } catch (err) {
      client.close();
      if (t.client === client) t.client = null;
      throw err;
    }
    this.setConnected(t, true, t.lastError);
    return client;
  }

  /** A login check while the queue is empty (the dashboard's "connected" is then current). */
  private async probe(t: Target): Promise<void> {
    if (this.closed || !t.cfg || t.running || t.retryTimer || t.queued) return;
    const cfg = t.cfg;
    t.running = (async () => {
      try {
        await this.session(t);
        t.failures = 0;
        this.setConnected(t, true, null);
      } catch (err) {
        if (!t.cfg || this.closed) return;
        this.setConnected(t, false, describeFtpError(err, `${cfg.host}:${cfg.port}`).text);
      } finally {
        this.dropClient(t);
      }
    })().finally(() => {
      t.running = null;
      if (t.again) this.kick(t);
    });
    await t.running;
  }

  private setConnected(t: Target, connected: boolean, error: string | null): void {
    const changed = t.connected !== connected || t.lastError !== error;
    t.connected = connected;
    if (error && error !== t.lastError) t.lastErrorAt = this.hub.clock.now();
    t.lastError = error;
    if (!connected && error) degradedOf(this.hub).set(`ftp:${t.id}`, `FTP ${t.cfg?.name || t.id}: ${error}`);
    else if (connected) degradedOf(this.hub).clear(`ftp:${t.id}`);
    if (changed) this.emitFtp(t);
  }

  private async finish(store: UploadsStore, item: UploadRow, state: UploadStateName, error: string | null, remotePath: string | null): Promise<void> {
    await store.setState(item.id, state, { error, remotePath, ts: this.hub.clock.now() });
    this.emitUpload(item, state, remotePath, error);
  }

  private async dropExpired(t: Target, store: UploadsStore): Promise<void> {
    const maxAge = t.cfg?.maxAgeMs ?? 0;
    if (maxAge <= 0) return;
    const before = this.hub.clock.now() - maxAge;
    for (const item of await store.expired(t.id, before)) {
      const why = `older than ${Math.round(maxAge / 3600_000)} h (queued ${new Date(item.createdAt).toISOString()}); not uploaded`;
      this.hub.logger.warn(`uploads: dropped ${item.file} for ${t.cfg?.name || t.id}: ${why}`);
      await this.finish(store, item, 'dropped', why, null);
    }
  }

  private scheduleRetry(t: Target): void {
    if (this.closed || !t.cfg) return;
    this.clearRetry(t);
    const delay = retryDelay(Math.max(1, t.failures), t.cfg.retryMinMs, t.cfg.retryMaxMs);
    t.nextAt = this.hub.clock.now() + delay;
    t.retryTimer = setTimeout(() => {
      t.retryTimer = null;
      t.nextAt = null;
      this.kick(t);
    }, delay);
    t.retryTimer.unref();
    this.emitFtp(t);
  }

  private clearRetry(t: Target): void {
    if (t.retryTimer) clearTimeout(t.retryTimer);
    t.retryTimer = null;
    t.nextAt = null;
  }

  private scheduleIdleClose(t: Target): void {
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = setTimeout(() => {
      t.idleTimer = null;
      if (!t.running) this.dropClient(t);
    }, 15_000);
    t.idleTimer.unref();
  }

  private dropClient(t: Target): void {
    const c = t.client;
    t.client = null;
    try {
      c?.close();
    } catch {
      /* closing a broken session */
    }
  }

  private async refreshBacklog(t: Target): Promise<void> {
    const b = (await (await this.db()).backlog()).get(t.id) ?? { queued: 0, oldest: null };
    const changed = b.queued !== t.queued || b.oldest !== t.oldest;
    t.queued = b.queued;
    t.oldest = b.oldest;
    if (changed) this.emitFtp(t);
  }

  private statusOf(t: Target): TargetStatus {
    const cfg = t.cfg;
    return {
      target: t.id,
      name: cfg?.name || null,
      server: cfg ? `${cfg.host}:${cfg.port}` : null,
      defined: !!cfg,
      connected: !!cfg && t.connected,
      queued: t.queued,
      oldest: t.oldest,
      lastError: cfg ? t.lastError : 'no ftp-target node with this id is deployed; its uploads wait',
      lastErrorAt: t.lastErrorAt,
      lastSuccessAt: t.lastSuccessAt,
      nextRetryAt: t.nextAt,
      failures: t.failures,
      ts: this.hub.clock.now(),
    };
  }

  private ftpState(s: TargetStatus): FtpState {
    return { target: s.target, name: s.name, connected: s.connected, queued: s.queued, oldest: s.oldest, lastError: s.lastError, ts: s.ts };
  }

  private emitFtp(t: Target): void {
    if (this.closed) return;
    this.hub.emit('ftp-state', this.ftpState(this.statusOf(t)));
  }

  private emitUpload(item: UploadRow, state: UploadStateName, remotePath: string | null, error: string | null): void {
    if (this.closed) return;
    const s: UploadState = { uploadId: item.id, clipId: item.clipId, state, remotePath, error, ts: this.hub.clock.now(), target: item.target, camera: item.camera };
    this.hub.emit('upload-state', s);
  }
}

class SizeMismatch extends Error {}

/** The size of a file in the working directory: SIZE, or the listing when the server has no SIZE. */
async function remoteSizeOf(client: Client, name: string): Promise<number> {
  try {
    return await client.size(name);
  } catch (err) {
    if (!(err instanceof basicFtp().FTPError) || ![500, 501, 502, 504].includes(Number(err.code))) throw err;
    const entry = (await client.list()).find((f) => f.name === name);
    if (!entry) throw new SizeMismatch(`${name} is not listed on the server after the upload`);
    return entry.size;
  }
}

function itemOf(r: UploadRow): UploadItem {
  return {
    id: r.id,
    target: r.target,
    clipId: r.clipId,
    camera: r.camera,
    name: r.remoteName,
    size: r.size,
    state: r.state,
    attempts: r.attempts,
    lastError: r.lastError,
    remotePath: r.remotePath,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export const uploadsOf = (hub: Hub): UploadService => hub.service('uploads', (h) => new UploadService(h));
