/**
 * Login throttling without lock-outs (issue 19, item 13). A hard lock after N failures per
 * address locked the real user out with the right password (behind a proxy: everyone), while 40
 * addresses still gave hundreds of guesses a minute. Instead, failures make the next attempt wait
 * — an attempt made before its time is answered 429 + Retry-After without checking the password:
 *
 *  - per address: 5 failures free, then 1 s, 2 s, 4 s … up to 60 s between attempts
 *    (forgotten after 15 min without a failure);
 *  - per user name, across all addresses (the global budget): 20 failures per hour free, then
 *    2 s, 4 s … up to 15 min between attempts — whatever the number of attacking addresses;
 *  - a browser that logged in as that user before carries a signed device cookie (auth.ts): its
 *    attempts count only against that device (5 free, then up to 60 s), so an attack on the user
 *    name or from a shared address (a proxy, NAT) does not slow the real user down;
 *  - an address that logged in as that user within 30 days (integrators with HTTP Basic, no
 *    cookies) is not held by the user's global budget, only by its own address counter.
 * A success clears the counters of its address and device. A new device on a new address during
 * an attack on its user name waits for the user's delay (at most 15 min): that is the price of
 * the global budget, and documented in the README.
 *
 * Attempts are counted when they begin (and taken back on success), so parallel guesses cannot
 * all slip through before the first failure is recorded.
 */

export interface ThrottleRule {
  free: number;
  baseMs: number;
  maxMs: number;
  /** a counter with no failure for this long is forgotten */
  forgetMs: number;
}

export const RULES: Record<'address' | 'user' | 'device', ThrottleRule> = {
  address: { free: 5, baseMs: 1000, maxMs: 60_000, forgetMs: 15 * 60_000 },
  user: { free: 20, baseMs: 2000, maxMs: 15 * 60_000, forgetMs: 60 * 60_000 },
  device: { free: 5, baseMs: 1000, maxMs: 60_000, forgetMs: 15 * 60_000 },
};
const KNOWN_ADDRESS_MS = 30 * 24 * 3600_000;
const MAX_ENTRIES = 20_000;

interface Counter {
  rule: ThrottleRule;
  fails: number;
  last: number;
  /** no attempt before this time */
  until: number;
}

export interface Attempt {
  address: string;
  username: string;
  /** the id of a valid device cookie issued to this user name, if the request has one */
  device?: string | null;
}

export type Begin = { ok: true; finish: (success: boolean) => void } | { ok: false; retryAfterMs: number };

export class LoginThrottle {
  private counters = new Map<string, Counter>();
  private known = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Asks to check a password now. On ok, call finish(success) once the check is done. */
  begin(a: Attempt): Begin {
    const now = this.now();
    const user = a.username.toLowerCase();
    const keys: Array<[string, ThrottleRule]> = a.device
      ? [[`d:${a.device}`, RULES.device]]
      : [[`a:${a.address}`, RULES.address], ...(this.isKnown(user, a.address, now) ? [] : ([[`u:${user}`, RULES.user]] as Array<[string, ThrottleRule]>))];
    const counters = keys.map(([k, rule]) => this.counter(k, rule, now));
    const wait = Math.max(0, ...counters.map((c) => c.until - now));
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    for (const c of counters) this.count(c, now);
    let done = false;
    return {
      ok: true,
      finish: (success) => {
        if (done) return;
        done = true;
        if (!success) return;
        const t = this.now();
        // a success clears its address / device; the user's budget only gets this attempt back
        for (const [k] of keys) if (!k.startsWith('u:')) this.counters.delete(k);
        const u = this.counters.get(`u:${user}`);
        if (u && !a.device && keys.some(([k]) => k.startsWith('u:'))) {
          u.fails = Math.max(0, u.fails - 1);
          u.until = u.fails > u.rule.free ? u.until : 0;
        }
        this.known.set(`${user}\u0000${a.address}`, t);
        this.trim(this.known);
      },
    };
  }

  /** For status/tests: the failures counted against a user name in its window. */
  userFailures(username: string): number {
    return this.counters.get(`u:${username.toLowerCase()}`)?.fails ?? 0;
  }

  private isKnown(user: string, address: string, now: number): boolean {
    const t = this.known.get(`${user}\u0000${address}`);
    return t !== undefined && now - t < KNOWN_ADDRESS_MS;
  }

  private counter(key: string, rule: ThrottleRule, now: number): Counter {
    let c = this.counters.get(key);
    if (c && now - c.last > rule.forgetMs) c = undefined;
    if (!c) {
      c = { rule, fails: 0, last: now, until: 0 };
      this.counters.set(key, c);
      this.trim(this.counters);
    }
    return c;
  }

  private count(c: Counter, now: number): void {
    c.fails++;
    c.last = now;
    const over = c.fails - c.rule.free;
    if (over > 0) c.until = now + Math.min(c.rule.baseMs * 2 ** Math.min(over - 1, 30), c.rule.maxMs);
  }

  /** bounded memory under a flood of user names / addresses: the oldest entries go first */
  private trim(m: Map<string, unknown>): void {
    if (m.size <= MAX_ENTRIES) return;
    let n = m.size - MAX_ENTRIES + 1000;
    for (const k of m.keys()) {
      if (n-- <= 0) break;
      m.delete(k);
    }
  }
}
