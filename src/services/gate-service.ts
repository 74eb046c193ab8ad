/**
 * The gate service: one GateController per gate id, kept in the hub so that gates survive a
 * Node-RED redeploy (a re-created `gatepost-gate` config node calls `define()` again, which swaps
 * the driver and keeps the state and any pending close). State changes are persisted in
 * `gate_state` and published on the hub bus as 'gate-state' (GateStatePayload); every device
 * action is recorded in `gate_actions` and published as 'gate-action'; close failures raise an 'alarm'.
 *
 * Fail-safe start: the first `define()` of a gate (after the service has loaded the stored states)
 * re-asserts a held gate and sends a close to every other gate.
 */
import type { Hub, Service } from './hub';
import type { CommandSource, GateCommand, GateKind, GateStatePayload } from '../core/contracts';
import { GateActuator, GateCommandError, GateController, GateListener, GateSnapshot, GateTiming, isGateCommand, sourceLabel } from '../core/gate';
import { createRelayDriver, RelayConfig } from '../devices/registry';
import { GateActionFilter, GateActionRow, GatesStore, GateStateRow } from '../store/gates-store';
import { degradedOf } from './degraded';

export interface GateDef {
  /** gate id (topic segment, decision `gate`), e.g. 'main' */
  id: string;
  name?: string;
  kind?: GateKind;
  relay: RelayConfig;
  /** pulse length, ms (default 6000 for barriers, 5000 otherwise) */
  pulseMs?: number;
  /** device timeout, ms (default 3000) */
  timeoutMs?: number;
  closeRetryBaseMs?: number;
  closeRetryMaxMs?: number;
}

/** A gate error with the HTTP status the API answers and, when known, the gate state after it. */
export class GateError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly state?: GateStatePayload,
  ) {
    super(message);
  }
}

export interface GateAlarm {
  source: 'gate';
  gate: string;
  ts: number;
  message: string;
}

/** Who defined a gate: a `gatepost-gate` config node (its id survives a redeploy) and a label for messages. */
export interface GateOwner {
  id: string;
  label: string;
}

interface Entry {
  def: GateDef;
  ctl: GateController;
  actuator: GateActuator;
  started: Promise<unknown>;
  owner: GateOwner | null;
  /** remove() is closing it: a define() meanwhile takes it over instead of losing it */
  removing: boolean;
  /** why the last probe failed (null: it answered) */
  probeError: string | null;
}

const GATE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function pulseMsOf(def: Pick<GateDef, 'pulseMs' | 'kind'>): number {
  const p = Number(def.pulseMs);
  return Number.isFinite(p) && p > 0 ? p : def.kind === 'barrier' || !def.kind ? 6000 : 5000;
}

export class GateService implements Service {
  private gates = new Map<string, Entry>();
  private store: GatesStore | null = null;
  /** gate_state as stored: loaded at start, then every row written (a change not yet stored is written) */
  private persisted = new Map<string, GateStateRow>();
  private loaded: Promise<void>;
  private resolveLoaded!: () => void;
  private closed = false;

  constructor(private readonly hub: Hub) {
    this.loaded = new Promise((r) => (this.resolveLoaded = r));
  }

  async init(): Promise<void> {
    try {
      const db = await this.hub.db();
      this.store = new GatesStore(db);
      this.persisted = await this.store.loadStates();
    } finally {
      this.resolveLoaded();
    }
  }

  /**
   * Registers or updates a gate. Throws a clear Error for an invalid definition (bad id, URL,
   * channel, driver). On first definition the fail-safe restart runs in the background.
   *
   * `owner`: the config node defining it. A gate id belongs to its first owner until that owner
   * removes it: another owner's definition of the same id is refused (GateError 409) and the first
   * definition stays — an imported example must never take over the site's barrier. The same
   * owner defining again (a redeploy) updates the gate; an owner that now defines another id gives
   * up the gates it defined before.
   */
  define(def: GateDef, owner?: GateOwner): GateStatePayload {
    if (!def || typeof def.id !== 'string' || !GATE_ID.test(def.id)) {
      throw new Error(`gate id must be 1-64 letters, digits, '_', '-' or '.' (got "${def?.id}")`);
    }
    const kind: GateKind = def.kind === 'wicket' || def.kind === 'door' ? def.kind : 'barrier';
    const d: GateDef = { ...def, kind, name: def.name || def.id };
    const existing = this.gates.get(d.id);
    if (existing && !existing.removing && existing.owner && existing.owner.id !== owner?.id) {
      throw new GateError(`gate id "${d.id}" is already defined by ${existing.owner.label}`, 409);
    }
    const actuator = createRelayDriver(d.relay, d.timeoutMs && d.timeoutMs > 0 ? d.timeoutMs : 3000);
    const timing = this.timingOf(d);
    if (owner) {
      for (const [id, e] of this.gates) {
        if (id !== d.id && e.owner?.id === owner.id && !e.removing) {
          this.hub.logger.info(`gate ${id}: its definition now defines gate ${d.id}; gate ${id} removed`);
          void this.remove(id, owner.id).catch((err) => this.hub.logger.error(`gate ${id}: remove failed: ${(err as Error).message}`));
        }
      }
    }
    if (existing) {
      existing.owner = owner ?? existing.owner;
      existing.removing = false;
      existing.def = d;
      existing.actuator = actuator;
      existing.ctl.update(actuator, timing);
      const payload = this.payload(d, existing.ctl.snapshot());
      this.hub.emit('gate-state', payload);
      return payload;
    }
    const ctl = new GateController(d.id, actuator as GateActuator, timing, this.hub.clock, this.listener(d.id));
    const entry: Entry = { def: d, ctl, actuator, started: Promise.resolve(), owner: owner ?? null, removing: false, probeError: null };
    entry.started = this.loaded
      .then(() => {
        const p = this.persisted.get(d.id);
        const initial: Partial<GateSnapshot> | undefined = p ? { state: p.state, since: p.since, by: p.by, lastError: p.lastError } : undefined;
        this.hub.logger.info(`gate ${d.id}: start (stored state ${p?.state ?? 'none'}): ${p?.state === 'held' ? 're-asserting hold' : 'sending close'}`);
        return ctl.restart(initial);
      })
      .catch((err) => this.hub.logger.error(`gate ${d.id}: restart failed: ${(err as Error).message}`));
    this.gates.set(d.id, entry);
    return this.payload(d, ctl.snapshot());
  }

  /**
   * Removes a gate; a pulsing (or failing) gate is closed first. With `ownerId`, only when that
   * owner defined it (a refused duplicate definition never removes the first one). A define()
   * while it closes takes the gate over and it stays.
   */
  async remove(id: string, ownerId?: string): Promise<void> {
    const entry = this.gates.get(id);
    if (!entry || (ownerId !== undefined && entry.owner && entry.owner.id !== ownerId)) return;
    entry.removing = true;
    await entry.started;
    await entry.ctl.shutdown();
    if (this.gates.get(id) === entry && entry.removing) {
      this.gates.delete(id);
      degradedOf(this.hub).clear(`gate:${id}`);
    }
  }

  /** Runs a command; resolves with the new state, rejects with a GateError (404/400/502). */
  async command(id: string, cmd: GateCommand, source: CommandSource): Promise<GateStatePayload> {
    if (!isGateCommand(cmd)) throw new GateError(`unknown gate command "${String(cmd)}" (expected open, hold, release or close)`, 400);
    const entry = this.gates.get(id);
    if (!entry) throw new GateError(`unknown gate "${id}"`, 404);
    await entry.started;
    // a plate's open is recorded as its event and gate action: in the log only at debug (every car
    // at a busy gate would rotate the warnings out of the log); a guard's, MQTT's or a flow's at info
    this.hub.logger[source.kind === 'decision' ? 'debug' : 'info'](`gate ${id}: ${cmd} by ${sourceLabel(source)}`);
    try {
      const snap = await entry.ctl.command(cmd, source);
      return this.payload(entry.def, snap);
    } catch (err) {
      const state = err instanceof GateCommandError ? this.payload(entry.def, err.snapshot) : this.get(id);
      this.hub.logger.warn(`gate ${id}: ${cmd} by ${sourceLabel(source)} failed: ${(err as Error).message}`);
      throw new GateError((err as Error).message, 502, state);
    }
  }

  get(id: string): GateStatePayload | undefined {
    const e = this.gates.get(id);
    return e ? this.payload(e.def, e.ctl.snapshot()) : undefined;
  }

  list(): GateStatePayload[] {
    return [...this.gates.values()].map((e) => this.payload(e.def, e.ctl.snapshot())).sort((a, b) => a.gate.localeCompare(b.gate));
  }

  /** Resolves when the gate's start-up and every queued command have run (tests, shutdown). */
  async idle(id: string): Promise<void> {
    const e = this.gates.get(id);
    if (!e) return;
    await e.started;
    await e.ctl.idle();
  }

  /**
   * Probes every gate's device (read-only: see the drivers' probe()) and sets its `reachable`;
   * an unreachable gate is listed in degradedOf(hub) as `gate:<id>`. Resolves when all answered
   * or timed out.
   */
  async probeAll(timeoutMs: number): Promise<void> {
    await Promise.all(
      [...this.gates.values()].map(async (e) => {
        if (!e.actuator.probe) return;
        let error: string | null = null;
        try {
          await e.actuator.probe(timeoutMs);
        } catch (err) {
          error = (err as Error).message;
        }
        if (this.closed || this.gates.get(e.def.id) !== e) return;
        e.probeError = error;
        // first, with an alarm: a device found dead by a probe is news to the guard
        this.noteReachable(e.def.id, { ...e.ctl.snapshot(), reachable: error === null }, true);
        e.ctl.probed(error === null);
      }),
    );
  }

  async actions(filter: GateActionFilter = {}): Promise<GateActionRow[]> {
    await this.loaded;
    if (!this.store) throw new Error('gate store is not available (database failed to open)');
    return this.store.actions(filter);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // a gate in the middle of a pulse is closed on a clean shutdown; held gates stay held
    await Promise.all(
      [...this.gates.values()].map(async (e) => {
        const s = e.ctl.snapshot().state;
        if (s === 'open' || s === 'fault') {
          await Promise.race([e.ctl.shutdown(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
        }
        e.ctl.dispose();
        degradedOf(this.hub).clear(`gate:${e.def.id}`);
        await Promise.race([e.ctl.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
      }),
    );
    this.gates.clear();
  }

  // ---------------------------------------------------------------- internals

  private timingOf(d: GateDef): GateTiming {
    return { pulseMs: pulseMsOf(d), openRetries: 1, closeRetryBaseMs: d.closeRetryBaseMs, closeRetryMaxMs: d.closeRetryMaxMs };
  }

  private payload(d: Pick<GateDef, 'id' | 'name' | 'kind'>, s: GateSnapshot): GateStatePayload {
    return {
      gate: d.id,
      name: d.name ?? d.id,
      kind: d.kind ?? 'barrier',
      state: s.state,
      since: s.since,
      by: s.by,
      lastError: s.lastError,
      closesAt: s.state === 'open' ? s.closesAt : null,
      reachable: s.reachable,
    };
  }

  /** Keeps the gate's entry of the degraded list in step with its reachability. */
  private noteReachable(id: string, s: GateSnapshot, alarm = false): void {
    const e = this.gates.get(id);
    // a failed command raised its own alarm (and is in the gate's state): no second one
    if (s.reachable === false) degradedOf(this.hub).set(`gate:${id}`, `unreachable: ${e?.probeError ?? s.lastError ?? 'no answer'}`, { alarm });
    else if (s.reachable === true) degradedOf(this.hub).clear(`gate:${id}`);
  }

  private listener(id: string): GateListener {
    return {
      state: (s) => {
        this.noteReachable(id, s);
        const e = this.gates.get(id);
        const payload = this.payload(e?.def ?? { id }, s);
        // the stored state is what a restart acts on (held → hold again, anything else → close):
        // written when the state, its start or its error changes — not for every car that extends
        // a pulse (only `by` and closesAt move then), which was one write per plate at a busy gate
        const stored = this.persisted.get(id);
        if (this.store && (!stored || stored.state !== s.state || stored.since !== s.since || stored.lastError !== s.lastError)) {
          const row: GateStateRow = { gate: id, state: s.state, since: s.since, by: s.by, lastError: s.lastError, updatedAt: this.hub.clock.now() };
          this.persisted.set(id, row);
          this.store.saveState(row).catch((err) => {
            if (this.persisted.get(id) === row) this.persisted.delete(id); // written again with the next change
            this.hub.logger.error(`gate ${id}: state not saved: ${(err as Error).message}`);
          });
        }
        this.hub.emit('gate-state', payload);
      },
      action: (a) => {
        if (a.result === 'error') this.hub.logger.warn(`gate ${id}: ${a.command} (${a.source}) failed: ${a.error}`);
        if (!this.store) return;
        this.store
          .recordAction(a)
          .then((row) => this.hub.emit('gate-action', row))
          .catch((err) => this.hub.logger.error(`gate ${id}: action not recorded: ${(err as Error).message}`));
      },
      alarm: (message) => {
        this.hub.logger.error(message);
        const alarm: GateAlarm = { source: 'gate', gate: id, ts: this.hub.clock.now(), message };
        this.hub.emit('alarm', alarm);
      },
    };
  }
}

export const gatesOf = (hub: Hub): GateService => hub.service('gates', (h) => new GateService(h));
