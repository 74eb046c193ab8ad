/**
 * The gatepost hub: one per database file, shared by every node of a runtime, the REST API and
 * the MQTT bridge. It owns the database, the clock, the logger and an event bus, and holds the
 * domain services (passes, events, gates, E-Poselok state), each created once on first use.
 *
 * Services attach themselves with `hub.service(key, factory)`; a service module exports a typed
 * accessor, e.g. `export const gatesOf = (hub: Hub) => hub.service('gates', (h) => new GateService(h));`
 * so nobody has to edit this file to add one.
 */
import * as path from 'path';
import { EventEmitter } from 'events';
import { Db } from '../store/db';
import { Clock, systemClock } from '../core/clock';
import { Logger, consoleLogger } from '../core/log';
import { degradedOf } from './degraded';
import type { AccessEventPayload, CameraFrame, CameraMotion, CameraState, ClipReady, FeatureAlarm, FtpState, GateStatePayload, IvmsState, UploadState } from '../core/contracts';
import type { GateActionRow } from '../store/gates-store';
import type { EposelokState } from './eposelok-service';
import type { GateAlarm } from './gate-service';
import type { DegradedAlarm } from './degraded';
import type { PassesChanged } from './passes-service';
import type { AlertEvent } from './alarm-service';
import type { QrFrameRead } from './qr-frames';
import type { FaceFrameRead } from '../media/face-recogniser';
import LIVE_EVENT_NAMES from '../core/live-events.json';

export interface HubOptions {
  /** sqlite file; ':memory:' for throwaway tests */
  dbPath: string;
  /** IANA time zone of the site, e.g. 'Europe/Moscow' (default: process TZ or UTC) */
  timezone?: string;
  /** years of event history to keep (default 3) */
  retentionYears?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface Service {
  /** resolves when the service has loaded its state */
  init?(): Promise<void>;
  close?(): Promise<void>;
}

/** E-Poselok raises one when the list shrinks suspiciously or gets stale. */
export interface EposelokAlarm {
  source: 'eposelok';
  kind: 'shrink' | 'stale';
  ts: number;
  message: string;
}
/** Something a guard must see (the dashboard shows it, the stream carries it). */
export type Alarm = GateAlarm | DegradedAlarm | EposelokAlarm | FeatureAlarm;

/**
 * THE map of bus events: name → payload. `hub.emit` and `hub.on` are checked against it, so a
 * listener gets the payload's type and a new event is added here once.
 */
export interface HubEvents {
  /** a recorded access event (a plate decision or any other credential's passage) */
  event: AccessEventPayload;
  /** a gate changed state */
  'gate-state': GateStatePayload;
  /** a recorded gate action */
  'gate-action': GateActionRow;
  /** E-Poselok sync state changed */
  'eposelok-state': EposelokState;
  /** temporary passes or the mirror changed */
  'passes-changed': PassesChanged;
  alarm: Alarm;
  /** the iVMS reader's state changed (issue 13) */
  'ivms-state': IvmsState;
  /** a camera's state changed (issue 14) */
  'camera-state': CameraState;
  /** motion started or ended */
  'camera-motion': CameraMotion;
  /** a full-resolution frame while motion lasts (for QR reading) */
  'camera-frame': CameraFrame;
  /** a clip is finished and should be uploaded */
  'clip-ready': ClipReady;
  /** an upload queue item changed state */
  'upload-state': UploadState;
  /** an FTP target's queue changed */
  'ftp-state': FtpState;
  /** an alert of the alarm service (issue 15: src/services/alarm-service.ts), its image fetched by id */
  alert: AlertEvent;
  /** a QR code read by gatepost itself in a camera frame (issue 16: src/services/qr-frames.ts; qr-check decides it) */
  'qr-read': QrFrameRead;
  /** a face found by the built-in recogniser in a camera frame (issue 16: src/media/face-recogniser.ts; face-check decides it) */
  'face-read': FaceFrameRead;
}
export type HubEvent = keyof HubEvents;

/** The events the live stream (/api/stream) forwards to the dashboard — the one list, also read by scripts/build-dashboard-flow.js. */
export const LIVE_EVENTS: readonly HubEvent[] = LIVE_EVENT_NAMES as HubEvent[];

const hubs = new Map<string, Hub>();

export class Hub {
  readonly bus = new EventEmitter();
  readonly timezone: string;
  readonly retentionYears: number;
  clock: Clock;
  logger: Logger;
  /** whether `logger` was given by an opener (not the console default) */
  private ownLogger: boolean;
  private dbPromise: Promise<Db>;
  private services = new Map<string, { instance: Service; ready: Promise<void> }>();
  private closed = false;

  private constructor(readonly options: HubOptions) {
    this.timezone = options.timezone || process.env.TZ || 'UTC';
    this.retentionYears = options.retentionYears ?? 3;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger;
    this.ownLogger = !!options.logger;
    this.bus.setMaxListeners(100);
    this.dbPromise = Db.open(options.dbPath);
    this.dbPromise.then(
      (db) => {
        if (!db.readOnly) return;
        // started anyway: decisions go on, events are held in memory (write-backlog.ts)
        this.logger.error(`database ${options.dbPath}: ${db.readOnly}; plates are still decided and gates opened, new events are kept in memory`);
        degradedOf(this).set('disk', db.readOnly);
      },
      (err) => this.logger.error(`database ${options.dbPath} failed to open: ${err.message}`),
    );
  }

  /** The hub of a database file, created on first call (same file → same hub). */
  static open(options: HubOptions): Hub {
    const key = options.dbPath === ':memory:' ? `:memory:${Math.random()}` : path.resolve(options.dbPath);
    let hub = hubs.get(key);
    if (!hub || hub.closed) {
      hub = new Hub(options);
      hubs.set(key, hub);
    } else if (options.logger && !hub.ownLogger) {
      // the first opener that brings a logger keeps it (the runtime opens first): a node's
      // hubFor() must not redirect the runtime's log to Node-RED's
      hub.logger = options.logger;
      hub.ownLogger = true;
    }
    return hub;
  }

  /** Closes every open hub (tests, shutdown). */
  static async closeAll(): Promise<void> {
    const all = [...hubs.values()];
    hubs.clear();
    await Promise.all(all.map((h) => h.close()));
  }

  db(): Promise<Db> {
    return this.dbPromise;
  }

  /** The service under `key`, created by `factory` on first use and initialised once. */
  service<T extends Service>(key: string, factory: (hub: Hub) => T): T {
    let entry = this.services.get(key);
    if (!entry) {
      const instance = factory(this);
      const ready = instance.init ? instance.init() : Promise.resolve();
      ready.catch((err) => this.logger.error(`service ${key} failed to start: ${err.message}`));
      entry = { instance, ready };
      this.services.set(key, entry);
    }
    return entry.instance as T;
  }

  /** Resolves when the database and every service created so far are ready. */
  async ready(): Promise<void> {
    await this.dbPromise;
    await Promise.all([...this.services.values()].map((s) => s.ready));
  }

  emit<E extends HubEvent>(event: E, payload: HubEvents[E]): void {
    this.bus.emit(event, payload);
  }
  on<E extends HubEvent>(event: E, listener: (payload: HubEvents[E]) => void): () => void {
    this.bus.on(event, listener);
    return () => this.bus.off(event, listener);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [key, s] of [...this.services.entries()].reverse()) {
      try {
        await s.ready.catch(() => undefined);
        await s.instance.close?.();
      } catch (err) {
        this.logger.error(`service ${key} failed to close: ${(err as Error).message}`);
      }
    }
    this.services.clear();
    this.bus.removeAllListeners();
    const db = await this.dbPromise.catch(() => undefined);
    await db?.close();
  }
}
