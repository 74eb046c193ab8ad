/**
 * Failed-login limiter of the MQTT broker, per client address and per user name (pure: the clock
 * is injected). A wrong-password CONNECT flood must neither guess passwords quickly nor keep the
 * password hashing busy:
 *  - the first `free` failures of a key cost nothing extra;
 *  - then every attempt waits `baseDelayMs`·2^(failures−free), at most `maxDelayMs`, before the
 *    password is checked (progressive delay);
 *  - from `refuseAfter` failures on, attempts are refused at once, without any hashing, until
 *    `windowMs` passed without a failure (refused attempts count as failures).
 * The worst state of the keys of an attempt (address, user) decides.
 */
export interface LimiterOptions {
  free: number;
  baseDelayMs: number;
  maxDelayMs: number;
  refuseAfter: number;
  windowMs: number;
  /** at most this many keys are remembered (oldest forgotten first) */
  maxKeys: number;
}

export type LimiterVerdict = { action: 'check'; delayMs: number } | { action: 'refuse'; key: string; failures: number };

export const ADDRESS_LIMITS: LimiterOptions = { free: 5, baseDelayMs: 100, maxDelayMs: 3000, refuseAfter: 20, windowMs: 60_000, maxKeys: 10_000 };
export const USER_LIMITS: LimiterOptions = { free: 10, baseDelayMs: 100, maxDelayMs: 3000, refuseAfter: 50, windowMs: 60_000, maxKeys: 10_000 };

class KeyedFailures {
  private readonly entries = new Map<string, { failures: number; last: number }>();
  constructor(readonly opts: LimiterOptions) {}

  failures(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (now - e.last > this.opts.windowMs) {
      this.entries.delete(key);
      return 0;
    }
    return e.failures;
  }

  fail(key: string, now: number): number {
    const n = this.failures(key, now) + 1;
    this.entries.delete(key); // re-insert: Map order = least recently failed first
    this.entries.set(key, { failures: n, last: now });
    if (this.entries.size > this.opts.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
    return n;
  }

  verdict(key: string, now: number): LimiterVerdict {
    const f = this.failures(key, now);
    if (f >= this.opts.refuseAfter) return { action: 'refuse', key, failures: f };
    const over = f - this.opts.free;
    return { action: 'check', delayMs: over < 0 ? 0 : Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** over) };
  }
}

export class LoginLimiter {
  private readonly byAddress: KeyedFailures;
  private readonly byUser: KeyedFailures;

  constructor(
    private readonly now: () => number = Date.now,
    address: LimiterOptions = ADDRESS_LIMITS,
    user: LimiterOptions = USER_LIMITS,
  ) {
    this.byAddress = new KeyedFailures(address);
    this.byUser = new KeyedFailures(user);
  }

  /** What to do with a login attempt of username from address. */
  verdict(address: string, username: string): LimiterVerdict {
    const t = this.now();
    const a = this.byAddress.verdict(`address ${address}`, t);
    if (a.action === 'refuse') return a;
    const u = this.byUser.verdict(`user ${username}`, t);
    if (u.action === 'refuse') return u;
    return { action: 'check', delayMs: Math.max(a.delayMs, u.delayMs) };
  }

  /** Records a failed (or refused) attempt; returns the failure counts after it. */
  failed(address: string, username: string): { address: number; user: number } {
    const t = this.now();
    return { address: this.byAddress.fail(`address ${address}`, t), user: this.byUser.fail(`user ${username}`, t) };
  }
}
