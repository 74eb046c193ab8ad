/**
 * The plate decision: order mirror → temporary passes → E-Poselok online check → deny, and
 * the repeat window (the same canonical plate at the same gate within the window is one
 * passage). Pure TypeScript; time comes from the injected Clock.
 */
import type { Clock } from './clock';
import type { Decision, DecisionOutcome, DecisionSource, MatchPolicy, OnlineChecker, OnlineResult, Plate } from './contracts';
import { PassAmbiguity, PassIndex, PassMatch } from './pass-index';

/** What a decision step concluded (merged into the Decision by the caller). */
export interface Outcome {
  decision: DecisionOutcome;
  source: DecisionSource;
  reason: string;
  policy?: Decision['policy'];
  pass?: Decision['pass'];
  house?: string;
}

export function outcomeOfMatch(m: PassMatch): Outcome {
  const e = m.entry;
  const pass: Decision['pass'] = { ref: e.ref, kind: e.source === 'mirror' ? 'mirror' : 'temporary', house: e.house };
  if (e.list) pass.list = e.list;
  if (e.validTo !== undefined) pass.validTo = e.validTo;
  const what = e.source === 'mirror' ? `E-Poselok list ${e.list ?? ''}`.trim() : e.kind === 'digits' ? `temporary pass by digits ${e.digits}` : 'temporary pass';
  return {
    decision: 'allowed',
    source: e.source === 'mirror' ? 'mirror' : 'temporary',
    reason: `${what} (${m.how})`,
    policy: m.policy,
    pass,
    house: e.house || undefined,
  };
}

/** An ambiguous edit-distance read: denied, and final (the online check is not asked). */
export function outcomeOfAmbiguity(a: PassAmbiguity): Outcome {
  const shown = a.ambiguous.slice(0, 3).join(', ') + (a.ambiguous.length > 3 ? ', …' : '');
  return {
    decision: 'denied',
    source: 'none',
    reason: `ambiguous read: ${a.ambiguous.length} passes within edit distance ${a.distance} (${shown})`,
    policy: 'edit-distance',
  };
}

/**
 * The local part of the decision (synchronous, in memory): an allowed Outcome, a final denial
 * (an ambiguous edit-distance read), or null (no local pass: ask E-Poselok online — which is
 * always asked for the plate as read, never for a near plate).
 */
export function decideLocal(plate: Plate, index: PassIndex, policy: MatchPolicy, now: number): Outcome | null {
  const m = index.match(plate, policy, now);
  if (!m) return null;
  return 'ambiguous' in m ? outcomeOfAmbiguity(m) : outcomeOfMatch(m);
}

/** The online step's Outcome: only an explicit 'allowed' opens; errors and skips deny with the reason. */
export function outcomeOfOnline(r: OnlineResult): Outcome {
  switch (r.status) {
    case 'allowed':
      return { decision: 'allowed', source: 'online', reason: 'E-Poselok online check allowed' };
    case 'denied':
      return { decision: 'denied', source: 'none', reason: 'no pass (E-Poselok online check denied)' };
    case 'skipped':
      return { decision: 'denied', source: 'none', reason: `no local pass; online check skipped${r.error ? ': ' + r.error : ''}` };
    default:
      return { decision: 'denied', source: 'none', reason: `no local pass; E-Poselok unavailable${r.error ? ': ' + r.error : ''}` };
  }
}

/** Asks the online checker with a hard timeout; never rejects (errors become 'unavailable'). */
export async function checkOnline(checker: OnlineChecker, plate: Plate, timeoutMs: number, clock: Clock): Promise<OnlineResult> {
  const started = clock.now();
  let handle: unknown;
  const timeout = new Promise<OnlineResult>((resolve) => {
    handle = clock.setTimeout(() => resolve({ status: 'unavailable', latencyMs: clock.now() - started, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const r = await Promise.race([
      Promise.resolve()
        .then(() => checker.check(plate))
        .then(
          (res) =>
            res && typeof res === 'object' && typeof res.status === 'string' ? res : { status: 'unavailable' as const, latencyMs: clock.now() - started, error: 'invalid answer from the checker' },
          (err: unknown) => ({ status: 'unavailable' as const, latencyMs: clock.now() - started, error: err instanceof Error ? err.message : String(err) }),
        ),
      timeout,
    ]);
    return r;
  } finally {
    clock.clearTimeout(handle);
  }
}

/**
 * Repeat window: a plate decided at a gate is a repeat for `windowMs` after that decision
 * (the window is not extended by the repeats, so a car still waiting is decided again after it).
 */
export class RepeatWindow {
  private last = new Map<string, number>();
  constructor(public windowMs: number) {}

  /** True if this is a repeat read; otherwise remembers the decision time and returns false. */
  check(gate: string, canonical: string, now: number): boolean {
    if (this.windowMs <= 0) return false;
    const key = `${gate}\u0000${canonical}`;
    const t = this.last.get(key);
    if (t !== undefined && now - t < this.windowMs && now >= t) return true;
    this.last.set(key, now);
    if (this.last.size > 10000) this.prune(now);
    return false;
  }

  /** Forget a decision (e.g. one that failed to complete). */
  forget(gate: string, canonical: string): void {
    this.last.delete(`${gate}\u0000${canonical}`);
  }

  prune(now: number): void {
    for (const [k, t] of this.last) if (now - t >= this.windowMs) this.last.delete(k);
  }

  get size(): number {
    return this.last.size;
  }
}
