/**
 * Match policies for plates (per site): exact canonical (the default), optionally "ignore
 * region" and "edit distance ≤ N". The policy that matched is recorded on the decision.
 */
import type { MatchPolicy, MatchPolicyName } from './contracts';

export const EXACT: MatchPolicy = Object.freeze({ ignoreRegion: false, maxEditDistance: 0 });

export const MATCH_POLICY_NAMES: readonly MatchPolicyName[] = ['exact', 'ignore-region', 'edit-distance'];

/**
 * A policy from node/site config: the policy NAME decides. `exact` (also an empty, missing or
 * unknown name) is exact canonical equality whatever `maxEditDistance` says — flows saved by older
 * editors carry `maxEdit: "1"` next to `policy: "exact"` and must stay exact. `maxEditDistance`
 * (1 or 2, default 1) only counts under `edit-distance`.
 */
export function policyFrom(config: { policy?: unknown; maxEditDistance?: unknown } = {}): MatchPolicy {
  switch (config.policy) {
    case 'ignore-region':
      return { ignoreRegion: true, maxEditDistance: 0 };
    case 'edit-distance':
      return { ignoreRegion: false, maxEditDistance: Math.floor(Number(config.maxEditDistance)) === 2 ? 2 : 1 };
    default:
      return EXACT;
  }
}

/** True when a configured policy name is one policyFrom knows (an unknown one is read as exact). */
export function isPolicyName(v: unknown): v is MatchPolicyName {
  return MATCH_POLICY_NAMES.includes(v as MatchPolicyName);
}

/** The short name of a policy, for config round trips. */
export function policyName(p: MatchPolicy): MatchPolicyName {
  if (p.maxEditDistance > 0) return 'edit-distance';
  if (p.ignoreRegion) return 'ignore-region';
  return 'exact';
}

/**
 * Levenshtein distance of a and b if it is ≤ max, else max + 1 (bounded: stops as soon as
 * every cell of a row exceeds max).
 */
export function editDistance(a: string, b: string, max: number): number {
  if (a === b) return 0;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  let prev = new Array<number>(lb + 1);
  let cur = new Array<number>(lb + 1);
  for (let j = 0; j <= lb; j++) prev[j] = j;
  for (let i = 1; i <= la; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= lb; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb] <= max ? prev[lb] : max + 1;
}

/** True when a and b differ by at most one substitution, insertion or deletion (no allocation). */
export function withinOneEdit(a: string, b: string): boolean {
  const la = a.length;
  const lb = b.length;
  if (la === lb) {
    let diff = 0;
    for (let i = 0; i < la; i++) if (a.charCodeAt(i) !== b.charCodeAt(i) && ++diff > 1) return false;
    return true;
  }
  if (Math.abs(la - lb) !== 1) return false;
  const [s, l] = la < lb ? [a, b] : [b, a];
  let i = 0;
  let j = 0;
  let skipped = false;
  while (i < s.length && j < l.length) {
    if (s.charCodeAt(i) === l.charCodeAt(j)) {
      i++;
      j++;
    } else {
      if (skipped) return false;
      skipped = true;
      j++;
    }
  }
  return true;
}
