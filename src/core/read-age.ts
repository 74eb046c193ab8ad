/**
 * The one rule for the age of a device read (a plate from an LPR camera, a QR code from a reader,
 * a face report from a recogniser): a read that waited in a queue (a broker backlog after an
 * outage) or comes from a clock far ahead never opens a door, and a retained MQTT message is a
 * replay, never a live read. Used by plate-check (src/services/plate-checker.ts) and the people
 * service (QR and face). Pure: every rule takes `now`.
 */

/** A read whose `ts` is older than this is denied as stale (a backlog must not open for someone long gone). */
export const DEFAULT_MAX_AGE_MS = 30_000;
/** A read's `ts` this far ahead of our clock is denied as `clock skew`. */
export const MAX_AHEAD_MS = 5 * 60_000;
/** The reason of a retained read (MQTT replays a retained message to every new subscription: each deploy, each reconnect). */
export const RETAINED_READ = 'retained message (a replay, not a live read)';

/**
 * A read's `ts` field: epoch ms, epoch seconds (some LPR products), a string of digits or an ISO
 * time. undefined when absent, null when present but not a time.
 */
export function readTsOf(v: unknown): number | null | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
  if (!Number.isFinite(t) || t <= 0) return null;
  return t < 1e11 ? t * 1000 : t;
}

/**
 * Why a read of time `ts` may not open anything now (null: fresh enough). `what` names the read in
 * the reason: "stale read: taken 42 s ago (max 30 s)", "clock skew: read time 400 s ahead of gatepost's clock".
 */
export function readAgeRefusal(ts: number | undefined, now: number, maxAgeMs = DEFAULT_MAX_AGE_MS, what = 'read'): { kind: 'stale' | 'skew'; reason: string } | null {
  if (ts === undefined) return null;
  if (ts > now + MAX_AHEAD_MS) return { kind: 'skew', reason: `clock skew: ${what} time ${Math.round((ts - now) / 1000)} s ahead of gatepost's clock` };
  if (now - ts > maxAgeMs) return { kind: 'stale', reason: `stale ${what}: taken ${Math.round((now - ts) / 1000)} s ago (max ${Math.round(maxAgeMs / 1000)} s)` };
  return null;
}
