/**
 * A circuit breaker (pure, Clock-injected): after `failureThreshold` consecutive failures it
 * opens and refuses calls for `resetMs`; then it lets exactly one trial call through
 * (half-open). The trial's success closes it; its failure opens it again for `resetMs`.
 */
import type { Clock } from './clock';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** consecutive failures that open the breaker (default 3) */
  failureThreshold?: number;
  /** how long it stays open before a trial call, ms (default 30 000) */
  resetMs?: number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
  /** when the next trial call is allowed (open state only) */
  retryAt: number | null;
  opens: number;
}

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly resetMs: number;
  private failures = 0;
  private openedAt: number | null = null;
  private trialInFlight = false;
  private opens = 0;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    opts: BreakerOptions = {},
  ) {
    const t = Number(opts.failureThreshold ?? 3);
    const r = Number(opts.resetMs ?? 30000);
    this.failureThreshold = Number.isFinite(t) && t >= 1 ? Math.floor(t) : 3;
    this.resetMs = Number.isFinite(r) && r >= 0 ? r : 30000;
  }

  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    if (this.trialInFlight) return 'half-open';
    return this.clock.now() >= this.openedAt + this.resetMs ? 'half-open' : 'open';
  }

  /**
   * May a call go out now? Closed: yes. Open: no, until `resetMs` passed; then yes for one
   * trial call (every other caller is refused until the trial reports back).
   */
  tryAcquire(): boolean {
    if (this.openedAt === null) return true;
    if (this.trialInFlight) return false;
    if (this.clock.now() < this.openedAt + this.resetMs) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trialInFlight = false;
  }

  failure(): void {
    this.failures++;
    if (this.trialInFlight || (this.openedAt === null && this.failures >= this.failureThreshold)) {
      this.opens++;
      this.openedAt = this.clock.now();
    }
    this.trialInFlight = false;
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAt,
      retryAt: this.openedAt === null ? null : this.openedAt + this.resetMs,
      opens: this.opens,
    };
  }
}
