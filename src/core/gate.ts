/**
 * The gate controller: a pure state machine (closed / open (pulse running) / held / fault) over an
 * injected Clock and an injected actuator (the device driver seen as four async actions).
 * No Node-RED, no sqlite, no network here: the service wires persistence, events and drivers.
 *
 * Rules:
 *  - `open` energises the relay and schedules a close after the pulse; an `open` during a pulse
 *    re-sends open and extends the pulse (never closes on a car); an `open` on a held gate keeps it held;
 *  - `hold` fixes the gate open and cancels the pending close; `release` / `close` close now;
 *  - an `open` is retried once; if it still fails the gate is closed (the first attempt may have
 *    reached the relay) and the command fails;
 *  - a close is retried with capped exponential backoff until it succeeds; while it fails the gate is
 *    in `fault` and an alarm is raised: a barrier must not stay open because one close was lost;
 *  - commands on one gate run one after another (a queue), so device requests never interleave.
 */
import type { Clock } from './clock';
import type { CommandSource, GateCommand, GateStateName } from './contracts';

/** What the controller asks the device for. `release` ends a hold (Sokol: alwaysOpen=false). */
export type DeviceAction = 'open' | 'close' | 'hold' | 'release';

export interface ActuatorResult {
  latencyMs: number;
  /** true when the device needs no request for this action (a Sokol door closes by itself) */
  skipped?: boolean;
}

/** The device as the controller sees it; a failed request rejects with an Error. */
export interface GateActuator {
  actuate(action: DeviceAction): Promise<ActuatorResult>;
  /** asks whether the device answers, switching nothing; rejects when it does not */
  probe?(timeoutMs: number): Promise<void>;
}

export interface GateSnapshot {
  state: GateStateName;
  since: number;
  by: string | null;
  lastError: string | null;
  closesAt: number | null;
  /** null until a probe or a command has reached (or failed to reach) the device */
  reachable: boolean | null;
}

/** Commands recorded in gate_actions (the four user commands plus the restart and alarm records). */
export type GateActionCommand = GateCommand | 'restart-close' | 'restart-hold' | 'alarm';

export interface GateActionRecord {
  ts: number;
  gate: string;
  command: GateActionCommand;
  source: CommandSource['kind'];
  actor: string | null;
  result: 'ok' | 'error';
  latencyMs: number | null;
  error: string | null;
}

export interface GateListener {
  state(s: GateSnapshot): void;
  action(a: GateActionRecord): void;
  alarm(message: string): void;
}

export interface GateTiming {
  /** how long an `open` keeps the gate open, ms */
  pulseMs: number;
  /** extra attempts of a failed open (default 1) */
  openRetries?: number;
  /** first close retry delay, ms (default 1000); doubled up to closeRetryMaxMs */
  closeRetryBaseMs?: number;
  /** backoff cap, ms (default 30000) */
  closeRetryMaxMs?: number;
}

export const GATE_COMMANDS: readonly GateCommand[] = ['open', 'hold', 'release', 'close'];
export function isGateCommand(x: unknown): x is GateCommand {
  return typeof x === 'string' && (GATE_COMMANDS as readonly string[]).includes(x);
}

/** A command that reached the device but failed; carries the state after the failure. */
export class GateCommandError extends Error {
  constructor(
    message: string,
    readonly snapshot: GateSnapshot,
  ) {
    super(message);
  }
}

/** Short label of a command source for logs and the `by` field ('user:ivanov', 'decision:42'). */
export function sourceLabel(s: CommandSource): string {
  return s.actor ? `${s.kind}:${s.actor}` : s.kind;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class GateController {
  private snap: GateSnapshot;
  private queue: Promise<unknown> = Promise.resolve();
  private closeTimer: unknown = null;
  private retryTimer: unknown = null;
  private retryDelay = 0;
  /** bumped by every command: a stale timer or retry loop sees it changed and stops */
  private epoch = 0;
  private disposed = false;

  constructor(
    readonly id: string,
    private actuator: GateActuator,
    private timing: GateTiming,
    private readonly clock: Clock,
    private readonly listener: GateListener,
    initial?: Partial<GateSnapshot>,
  ) {
    this.snap = {
      state: initial?.state ?? 'closed',
      since: initial?.since ?? clock.now(),
      by: initial?.by ?? null,
      lastError: initial?.lastError ?? null,
      closesAt: null,
      reachable: initial?.reachable ?? null,
    };
  }

  snapshot(): GateSnapshot {
    return { ...this.snap };
  }

  /** Swap the driver and timing (a redeploy): state and any pending close are kept. */
  update(actuator: GateActuator, timing: GateTiming): void {
    this.actuator = actuator;
    this.timing = timing;
  }

  /** Resolves when every queued command has run. */
  idle(): Promise<void> {
    return this.queue.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Runs a command after the ones already queued; resolves with the new state or rejects. */
  command(cmd: GateCommand, source: CommandSource): Promise<GateSnapshot> {
    return this.enqueue(() => this.run(cmd, source));
  }

  /**
   * The fail-safe at start: a held gate is held again (open re-asserted), anything else is closed
   * (a crash in the middle of a pulse must not leave a barrier open). `persisted` is the state
   * read from storage (else the current snapshot is used).
   */
  restart(persisted?: Partial<GateSnapshot>): Promise<GateSnapshot> {
    return this.enqueue(async () => {
      if (persisted) this.snap = { ...this.snap, ...persisted, closesAt: null };
      const system: CommandSource = { kind: 'system', actor: 'restart' };
      this.epoch++;
      if (this.snap.state === 'held') {
        const by = this.snap.by;
        try {
          await this.attempt('hold', 'restart-hold', system, 0);
          this.set({ state: 'held', by, lastError: null, reachable: true, closesAt: null });
        } catch (err) {
          this.set({ state: 'held', by, lastError: errText(err), reachable: false, closesAt: null });
          this.listener.alarm(`gate ${this.id}: hold could not be re-asserted after restart: ${errText(err)}`);
        }
        return this.snapshot();
      }
      const action: DeviceAction = this.snap.state === 'fault' ? 'release' : 'close';
      await this.closeLoop(action, 'restart-close', system, this.epoch);
      return this.snapshot();
    });
  }

  /** Gate removed from the configuration: a pulsing (or failing) gate is closed first. */
  shutdown(): Promise<GateSnapshot> {
    return this.enqueue(async () => {
      this.epoch++;
      this.cancelTimers();
      const system: CommandSource = { kind: 'system', actor: 'removed' };
      if (this.snap.state === 'open' || this.snap.state === 'fault') {
        const action: DeviceAction = this.snap.state === 'fault' ? 'release' : 'close';
        try {
          await this.attempt(action, 'close', system, 1);
          this.set({ state: 'closed', by: 'system:removed', lastError: null, reachable: true, closesAt: null });
        } catch (err) {
          this.listener.alarm(`gate ${this.id} removed while its close failed: ${errText(err)}`);
        }
      }
      this.disposed = true;
      return this.snapshot();
    });
  }

  /** The result of a probe (the device answered or not); changes nothing but `reachable`. */
  probed(reachable: boolean): void {
    if (this.disposed || this.snap.reachable === reachable) return;
    this.set({ reachable });
  }

  /** Stops timers (hub shutdown); the persisted state decides what happens at the next start. */
  dispose(): void {
    this.disposed = true;
    this.epoch++;
    this.cancelTimers();
  }

  // ---------------------------------------------------------------- internals

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(cmd: GateCommand, source: CommandSource): Promise<GateSnapshot> {
    if (this.disposed) throw new Error(`gate ${this.id} is not configured`);
    const epoch = ++this.epoch;
    const by = sourceLabel(source);
    switch (cmd) {
      case 'open': {
        const wasHeld = this.snap.state === 'held';
        if (!wasHeld) this.cancelTimers();
        try {
          await this.attempt(wasHeld ? 'hold' : 'open', 'open', source, this.timing.openRetries ?? 1);
          if (wasHeld) {
            this.set({ state: 'held', by: this.snap.by, lastError: null, reachable: true, closesAt: null });
          } else {
            const closesAt = this.clock.now() + this.timing.pulseMs;
            // an extension keeps `since` (the state name does not change) and moves closesAt
            this.set({ state: 'open', by, lastError: null, reachable: true, closesAt });
            this.closeTimer = this.clock.setTimeout(() => this.pulseEnded(epoch), this.timing.pulseMs);
          }
          return this.snapshot();
        } catch (err) {
          const message = errText(err);
          if (wasHeld) {
            this.set({ state: 'held', by: this.snap.by, lastError: message, reachable: false, closesAt: null });
          } else {
            // the relay may have switched although the answer was lost: make sure it closes
            this.snap.lastError = message;
            await this.closeLoop('close', 'close', { kind: 'system', actor: 'open-failed' }, epoch);
            this.set({ lastError: message, reachable: false });
          }
          throw new GateCommandError(`gate ${this.id}: open failed: ${message}`, this.snapshot());
        }
      }
      case 'hold': {
        this.cancelTimers();
        try {
          await this.attempt('hold', 'hold', source, this.timing.openRetries ?? 1);
          this.set({ state: 'held', by, lastError: null, reachable: true, closesAt: null });
          return this.snapshot();
        } catch (err) {
          const message = errText(err);
          if (this.snap.state === 'open' && this.snap.closesAt !== null) {
            // keep the pulse running: the barrier still closes on time
            const left = Math.max(0, this.snap.closesAt - this.clock.now());
            this.closeTimer = this.clock.setTimeout(() => this.pulseEnded(epoch), left);
          } else if (this.snap.state === 'fault') {
            this.retryTimer = this.clock.setTimeout(() => this.retryClose(epoch, 'release'), this.nextDelay());
          }
          this.set({ lastError: message, reachable: false });
          throw new GateCommandError(`gate ${this.id}: hold failed: ${message}`, this.snapshot());
        }
      }
      case 'release':
      case 'close': {
        this.cancelTimers();
        const action: DeviceAction = this.snap.state === 'held' || this.snap.state === 'fault' ? 'release' : 'close';
        const ok = await this.closeLoop(action, cmd, source, epoch);
        if (!ok) throw new GateCommandError(`gate ${this.id}: ${cmd} failed: ${this.snap.lastError}; retrying`, this.snapshot());
        return this.snapshot();
      }
    }
  }

  private pulseEnded(epoch: number): void {
    this.closeTimer = null;
    if (epoch !== this.epoch || this.disposed) return;
    this.enqueue(async () => {
      if (epoch !== this.epoch || this.disposed) return;
      await this.closeLoop('close', 'close', { kind: 'system', actor: 'pulse' }, epoch);
    }).catch(() => undefined);
  }

  /**
   * One close attempt; on failure the gate goes to `fault`, an alarm is raised (once per failure
   * streak) and a retry is scheduled with backoff. Returns whether the close succeeded now.
   */
  private async closeLoop(action: DeviceAction, command: GateActionCommand, source: CommandSource, epoch: number): Promise<boolean> {
    try {
      const r = await this.attempt(action, command, source, 0);
      if (epoch !== this.epoch) return true;
      this.retryDelay = 0;
      // a skipped close sent nothing (a Sokol door closes by itself): it says nothing about the device
      this.set({ state: 'closed', by: sourceLabel(source), lastError: null, reachable: r.skipped ? this.snap.reachable : true, closesAt: null });
      return true;
    } catch (err) {
      if (epoch !== this.epoch || this.disposed) return false;
      const message = errText(err);
      const firstFailure = this.snap.state !== 'fault';
      this.set({ state: 'fault', by: sourceLabel(source), lastError: message, reachable: false, closesAt: null });
      if (firstFailure) {
        this.listener.alarm(`gate ${this.id}: close failed (${message}); retrying until the gate closes`);
        this.listener.action({ ...this.record('alarm', source, 'error', null, message) });
      }
      const delay = this.nextDelay();
      this.retryTimer = this.clock.setTimeout(() => this.retryClose(epoch, action), delay);
      return false;
    }
  }

  private retryClose(epoch: number, action: DeviceAction): void {
    this.retryTimer = null;
    if (epoch !== this.epoch || this.disposed) return;
    this.enqueue(async () => {
      if (epoch !== this.epoch || this.disposed) return;
      await this.closeLoop(action, 'close', { kind: 'system', actor: 'retry' }, epoch);
    }).catch(() => undefined);
  }

  private nextDelay(): number {
    const base = this.timing.closeRetryBaseMs ?? 1000;
    const max = this.timing.closeRetryMaxMs ?? 30000;
    this.retryDelay = this.retryDelay ? Math.min(max, this.retryDelay * 2) : base;
    return this.retryDelay;
  }

  /** The device call with `retries` extra attempts; every attempt is recorded as an action. */
  private async attempt(action: DeviceAction, command: GateActionCommand, source: CommandSource, retries: number): Promise<ActuatorResult> {
    let lastErr: unknown;
    for (let i = 0; i <= retries; i++) {
      const started = this.clock.now();
      try {
        const r = await this.actuator.actuate(action);
        // a skipped action sent nothing to the device (a Sokol door closes by itself): nothing to record
        if (!r.skipped) this.listener.action(this.record(command, source, 'ok', r.latencyMs, null));
        return r;
      } catch (err) {
        lastErr = err;
        this.listener.action(this.record(command, source, 'error', this.clock.now() - started, errText(err)));
      }
    }
    throw lastErr;
  }

  private record(command: GateActionCommand, source: CommandSource, result: 'ok' | 'error', latencyMs: number | null, error: string | null): GateActionRecord {
    return { ts: this.clock.now(), gate: this.id, command, source: source.kind, actor: source.actor ?? null, result, latencyMs, error };
  }

  /** Applies a change and publishes it; `since` moves only when the state name changes. */
  private set(patch: Partial<GateSnapshot>): void {
    const next: GateSnapshot = { ...this.snap, ...patch };
    if (patch.since === undefined) next.since = patch.state && patch.state !== this.snap.state ? this.clock.now() : this.snap.since;
    this.snap = next;
    this.listener.state(this.snapshot());
  }

  private cancelTimers(): void {
    if (this.closeTimer !== null) this.clock.clearTimeout(this.closeTimer);
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.closeTimer = null;
    this.retryTimer = null;
  }
}
