/**
 * `eventsOf(hub)`: the recognition event store. `record()` assigns the event id at once (in
 * memory, one writer per database file), then batches the write off the hot path; after the
 * write the event is emitted on the hub bus as 'event' (payload: the Decision with its eventId).
 * Base64 images are written to `<dir of db>/images/YYYY/MM/DD/<eventId>.jpg` with the batch.
 * Retention: events older than `hub.retentionYears` are pruned at start and daily.
 * Fallback passages (delivered by `gatepost-lpr`) go through `recordFallback()`: recorded once
 * per requestId, also across restarts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import type { Hub, Service } from './hub';
import { EventFilter, EventRecord, EventRow, EventsStore, kindOf } from '../store/events-store';
import { displayPlate } from '../core/plate';
import type { AccessInput, CredentialKind } from '../core/contracts';
import { FALLBACK_REASON_PREFIX } from '../core/lpr-input';
import { localParts } from '../core/validity';
import { isDiskError, WriteBacklog } from './write-backlog';
import type { Tx } from '../store/db';
import { degradedOf } from './degraded';

const BATCH_DELAY_MS = 5;
const BATCH_MAX = 500;
const DAY_MS = 86400000;
/** requestIds of fallback passages recorded in this run, remembered in memory (the rest: the database) */
const FALLBACK_IDS_KEPT = 10000;

interface Pending {
  rec: EventRecord;
  /** called when the write failed on the disk and the event waits in the backlog (not committed, kept) */
  held?: () => void;
  image?: { file: string; bytes: Buffer };
  resolve: (r: EventRecord) => void;
  reject: (err: Error) => void;
}

/** An event as the API and the dashboard see it. */
export interface EventView {
  id: number;
  ts: number;
  time: string;
  camera: string | null;
  gate: string | null;
  direction: string | null;
  raw: string | null;
  plate: string | null;
  display: string | null;
  digits: string | null;
  confidence: number | null;
  decision: string;
  source: string;
  reason: string;
  policy: string | null;
  passRef: string | null;
  house: string | null;
  latencyMs: number | null;
  image: string | null;
  requestId: string | null;
  input: string | null;
  /** the credential kind (CREDENTIAL_KINDS); `gate` is the access point (gate or door), `camera` the device (camera or reader) */
  kind: CredentialKind;
  personId: string | null;
  personName: string | null;
  credential: string | null;
}

// prettier-ignore
export const EVENT_VIEW_COLUMNS: (keyof EventView)[] = [
  'id', 'time', 'ts', 'camera', 'gate', 'direction', 'plate', 'display', 'raw', 'digits',
  'confidence', 'decision', 'source', 'reason', 'policy', 'passRef', 'house', 'latencyMs', 'image', 'requestId',
  'input', 'kind', 'personId', 'personName', 'credential',
];

export function viewOfRow(r: EventRow): EventView {
  return {
    id: r.id,
    ts: r.ts,
    time: new Date(r.ts).toISOString(),
    camera: r.camera,
    gate: r.gate,
    direction: r.direction,
    raw: r.plate_raw,
    plate: r.canonical,
    display: r.canonical ? displayPlate(r.canonical) : null,
    digits: r.digits,
    confidence: r.confidence,
    decision: r.decision,
    source: r.source,
    reason: r.reason,
    policy: r.policy,
    passRef: r.pass_ref,
    house: r.house,
    latencyMs: r.latency_ms,
    image: r.image,
    requestId: r.request_id,
    input: r.input,
    kind: r.kind,
    personId: r.person_id,
    personName: r.person_name,
    credential: r.credential,
  };
}

export class EventsService implements Service {
  private store: EventsStore | null = null;
  private nextId = 0;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private pruneTimer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;
  private closed = false;
  /** requestId → event id of the fallback passages recorded (queued or written) in this run */
  private fallbackIds = new Map<string, number>();
  /** recordFallback() calls run one after the other (look up, then record) */
  private fallbackChain: Promise<unknown> = Promise.resolve();
  private settledOf = new WeakMap<EventRecord, Promise<void>>();
  /** events written since start (for status/benchmarks) */
  written = 0;
  /** batches that failed on a full / read-only disk, retried until written (write-backlog.ts) */
  readonly backlog: WriteBacklog<Pending>;

  constructor(private readonly hub: Hub) {
    this.backlog = new WriteBacklog<Pending>({
      write: async (items) => {
        if (!this.store) throw new Error('events service is not open');
        await this.store.insertMany(items.map((p) => p.rec));
      },
      written: (items) => this.done(items),
      dropped: (items, why) => {
        this.hub.logger.error(`${items.length} events LOST: ${why}`);
        for (const p of items) p.reject(new Error(`event ${p.rec.eventId} not recorded: ${why}`));
      },
      onState: (problem) => (problem ? degradedOf(this.hub).set('disk', `events: ${problem}`) : degradedOf(this.hub).clear('disk')),
    });
  }

  async init(): Promise<void> {
    this.started = (async () => {
      const db = await this.hub.db();
      this.store = new EventsStore(db);
      this.nextId = (await this.store.maxId()) + 1;
      for (const p of this.queue) if (!p.rec.eventId) p.rec.eventId = this.nextId++;
      this.prune().catch((err) => this.hub.logger.error(`event retention prune failed: ${err.message}`));
      this.pruneTimer = setInterval(() => {
        this.prune().catch((err) => this.hub.logger.error(`event retention prune failed: ${err.message}`));
      }, DAY_MS);
      this.pruneTimer.unref();
      if (this.queue.length) this.schedule();
    })();
    return this.started;
  }

  /** The directory next to the database where images are kept (null for an in-memory db). */
  imagesDir(): string | null {
    const file = this.hub.options.dbPath;
    return file === ':memory:' ? null : path.join(path.dirname(path.resolve(file)), 'images');
  }

  /**
   * Records an event: the id is assigned now (set on `rec.eventId`), the write happens in the
   * next batch. Resolves with the record once it is in the database. `urgent`: somebody waits for
   * this commit (a decision goes out only after it): written in the next turn of the event loop
   * instead of after the batch delay; records arriving while a write is in progress are written
   * together right after it (group commit).
   */
  record(rec: EventRecord, image?: Buffer, opts: { urgent?: boolean } = {}): Promise<EventRecord> {
    if (this.closed) return Promise.reject(new Error('events service is closed'));
    if (this.store && !rec.eventId) rec.eventId = this.nextId++;
    let img: Pending['image'];
    if (image) {
      const dir = this.imagesDir();
      if (dir) {
        const p = localParts(rec.ts, this.hub.timezone);
        const rel = path.posix.join('images', String(p.year), String(p.month).padStart(2, '0'), String(p.day).padStart(2, '0'), `${rec.eventId || randomUUID()}.jpg`);
        rec.image = rel;
        img = { file: path.join(path.dirname(dir), rel), bytes: image };
      }
    }
    let held!: () => void;
    const settled = new Promise<void>((r) => (held = r));
    const recorded = new Promise<EventRecord>((resolve, reject) => {
      this.queue.push({ rec, image: img, resolve, reject, held });
      if (this.store) this.schedule(opts.urgent === true);
    });
    recorded.then(held, held);
    this.settledOf.set(rec, settled);
    return recorded;
  }

  /**
   * Records the passage of a credential other than a plate (a card, face, fingerprint, QR code,
   * PIN or a guard's manual decision) as reported by a reader or controller: same table, API,
   * stream event and retention as plates. `accessPoint` is stored as the event's gate, `device` as
   * its camera; `credential` is kept as the raw input. Image: a URL/reference, or bytes (saved like
   * a plate snapshot).
   */
  recordAccess(a: AccessInput, image?: Buffer): Promise<EventRecord> {
    const rec: EventRecord = {
      eventId: 0,
      ts: a.ts,
      kind: a.kind,
      gate: a.accessPoint,
      camera: a.device,
      direction: a.direction,
      plate: '',
      raw: a.credential ?? '',
      digits: null,
      decision: a.decision,
      source: a.source,
      reason: a.reason,
      latencyMs: NaN,
      image: a.image,
      requestId: a.requestId,
      personId: a.personId,
      personName: a.personName,
      credential: a.credential,
      confidence: a.confidence,
    };
    return this.record(rec, image);
  }

  /**
   * Records a batch of access events in ONE transaction together with the caller's own rows
   * (`alongside`, given the records with their ids assigned): both are committed or neither is.
   * For bulk imports (the iVMS access log): no backlog — a failed write rejects and nothing of
   * the batch is stored, so the importer can read the rows again. Emits 'event' for each after
   * the commit and resolves with the records.
   */
  async recordBatch(recs: EventRecord[], alongside?: (tx: Tx, recs: EventRecord[]) => Promise<void>): Promise<EventRecord[]> {
    await this.started;
    if (this.closed || !this.store) throw new Error('events service is not open');
    for (const r of recs) if (!r.eventId) r.eventId = this.nextId++;
    const db = await this.hub.db();
    await db.transaction(async (tx) => {
      await EventsStore.insertRows(tx, recs);
      if (alongside) await alongside(tx, recs);
    });
    this.written += recs.length;
    for (const rec of recs) {
      const { input: _input, ...decision } = rec;
      decision.kind = kindOf(rec);
      this.hub.emit('event', decision);
    }
    return recs;
  }

  /**
   * Resolves when the write of a record() is over: committed, failed, or held in the backlog
   * because the disk fails (kept and retried, not yet on disk). A decision waits for this, not
   * for the commit alone, so that a failing disk never keeps the barrier closed.
   */
  settled(rec: EventRecord): Promise<void> {
    return this.settledOf.get(rec) ?? Promise.resolve();
  }

  /**
   * Records a fallback passage once per requestId. Its reason must start with
   * FALLBACK_REASON_PREFIX (that is how fallback events are told from live reads that happen to
   * carry the same requestId). When a fallback event with this requestId is already recorded —
   * in this run (queued or written) or in the database from an earlier run — nothing is written
   * and `duplicateOf` is the earlier event id. Calls are serialised, so two deliveries arriving
   * together are recorded once.
   */
  recordFallback(rec: EventRecord & { requestId: string }, image?: Buffer): Promise<{ duplicateOf: number } | { duplicateOf: null; recorded: Promise<EventRecord> }> {
    if (!rec.reason.startsWith(FALLBACK_REASON_PREFIX)) return Promise.reject(new Error(`a fallback event's reason must start with "${FALLBACK_REASON_PREFIX}"`));
    const run = this.fallbackChain.then(async () => {
      await this.started;
      if (this.closed || !this.store) throw new Error('events service is not open');
      const requestId = rec.requestId;
      const earlier = this.fallbackIds.get(requestId) ?? (await this.store.findByRequestId(requestId, FALLBACK_REASON_PREFIX));
      if (earlier !== undefined) return { duplicateOf: earlier };
      const recorded = this.record(rec, image);
      this.fallbackIds.set(requestId, rec.eventId);
      if (this.fallbackIds.size > FALLBACK_IDS_KEPT) this.fallbackIds.delete(this.fallbackIds.keys().next().value as string);
      // a failed write is not a recorded passage: the next delivery may record it
      recorded.catch(() => this.fallbackIds.get(requestId) === rec.eventId && this.fallbackIds.delete(requestId));
      return { duplicateOf: null, recorded };
    });
    this.fallbackChain = run.catch(() => undefined);
    return run;
  }

  private schedule(urgent = false): void {
    if (urgent && this.queue.length < BATCH_MAX) {
      // the records of this turn go together; a write in progress makes the next one wait (flush chain)
      if (!this.immediate) {
        this.immediate = setImmediate(() => {
          this.immediate = null;
          if (this.timer) clearTimeout(this.timer);
          this.timer = null;
          void this.flush();
        });
      }
      return;
    }
    if (this.queue.length >= BATCH_MAX) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, BATCH_DELAY_MS);
    }
  }

  /** Writes everything queued so far; resolves when it is in the database. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBatch());
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    const store = this.store;
    if (!store) return;
    while (this.queue.length) {
      const batch = this.queue.splice(0, BATCH_MAX);
      for (const p of batch) {
        if (!p.rec.eventId) p.rec.eventId = this.nextId++;
        if (p.image) {
          try {
            await fs.promises.mkdir(path.dirname(p.image.file), { recursive: true });
            await fs.promises.writeFile(p.image.file, p.image.bytes);
          } catch (err) {
            this.hub.logger.error(`event ${p.rec.eventId}: image not saved: ${(err as Error).message}`);
            p.rec.image = undefined;
          }
        }
      }
      for (const p of batch) p.image = undefined; // written (or given up): free the bytes
      try {
        await store.insertMany(batch.map((p) => p.rec));
        this.done(batch);
        this.backlog.retrySoon(); // the disk takes writes again
      } catch (err) {
        if (isDiskError(err)) {
          // the disk, not the rows: keep the batch and retry until it is written (nothing lost)
          this.hub.logger.error(`event batch write failed (${(err as Error).message}); ${batch.length} events kept for retry`);
          this.backlog.keep(batch, err as Error);
          for (const p of batch) p.held?.();
          continue;
        }
        // one bad row must not lose the others: write them one by one
        this.hub.logger.error(`event batch write failed (${(err as Error).message}); retrying one by one`);
        for (const p of batch) {
          try {
            await store.insertMany([p.rec]);
            this.done([p]);
          } catch (e) {
            this.hub.logger.error(`event ${p.rec.eventId} not recorded: ${(e as Error).message}`);
            p.reject(e as Error);
          }
        }
      }
    }
  }

  private done(batch: Pending[]): void {
    this.written += batch.length;
    for (const p of batch) {
      const { input: _input, ...decision } = p.rec;
      decision.kind = kindOf(p.rec);
      this.hub.emit('event', decision);
      p.resolve(p.rec);
    }
  }

  /**
   * Reads see every event recorded before them: a decision is published as soon as it is taken,
   * and whoever got it (over MQTT, in a few ms) and asks the API for its event must find it, not
   * wait for the batch timer.
   */
  private async recordedSoFar(): Promise<void> {
    await this.started;
    await this.flush().catch(() => undefined);
  }

  async query(f: EventFilter): Promise<{ rows: EventView[]; total: number }> {
    await this.recordedSoFar();
    const r = await this.store!.query(f);
    return { rows: r.rows.map(viewOfRow), total: r.total };
  }

  /** The events of `f` in pages (keyset-paged; for CSV exports that must not block the loop). */
  async *pages(f: EventFilter, pageSize?: number): AsyncGenerator<EventView[]> {
    await this.recordedSoFar();
    for await (const rows of this.store!.pages(f, pageSize)) yield rows.map(viewOfRow);
  }

  async get(id: number): Promise<EventView | null> {
    await this.recordedSoFar();
    const r = await this.store!.get(id);
    return r ? viewOfRow(r) : null;
  }

  /** Deletes events older than the retention (hub.retentionYears); returns the count. */
  async prune(now = this.hub.clock.now()): Promise<number> {
    await this.started;
    const years = this.hub.retentionYears;
    if (!(years > 0)) return 0;
    const before = now - Math.round(years * 365.25 * DAY_MS);
    const n = await this.store!.prune(before);
    if (n) this.hub.logger.info(`event retention: ${n} events older than ${years} years removed`);
    return n;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.flush().catch(() => undefined);
    await this.backlog.close();
    this.closed = true;
  }
}

export const eventsOf = (hub: Hub): EventsService => hub.service('events', (h) => new EventsService(h));
