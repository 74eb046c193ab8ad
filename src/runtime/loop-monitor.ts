/**
 * The event loop's longest stalls, for /api/system (issue 19, item 9): a stalled loop delays every
 * plate, so a slow request (an export, a report) must show up as a number an operator — and a
 * test — can read. A monitorEventLoopDelay histogram is read and reset every 250 ms; the
 * maxima of those windows over the last two minutes are kept, so a caller can ask "the worst stall since
 * time t" without resetting anything for other callers.
 */
import { monitorEventLoopDelay, IntervalHistogram } from 'perf_hooks';

const WINDOW_MS = 250;
const KEEP = 480;

export interface LoopStatus {
  /** worst stall in the last minute, ms */
  maxMs: number;
  /** worst stall in the windows that began after `since` (if asked), ms */
  maxSinceMs?: number;
  /** 99th percentile of the last full window, ms */
  p99Ms: number;
}

let histogram: IntervalHistogram | null = null;
let timer: NodeJS.Timeout | null = null;
const windows: Array<{ end: number; maxMs: number; p99Ms: number }> = [];

function roll(): void {
  if (!histogram) return;
  // a window with no sample yet reports max 0 (the histogram's min/max are sentinel values)
  const maxMs = histogram.count ? histogram.max / 1e6 : 0;
  const p99Ms = histogram.count ? histogram.percentile(99) / 1e6 : 0;
  histogram.reset();
  windows.push({ end: Date.now(), maxMs, p99Ms });
  if (windows.length > KEEP) windows.shift();
}

/** Starts the monitor (idempotent). */
export function startLoopMonitor(): void {
  if (histogram) return;
  histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  timer = setInterval(roll, WINDOW_MS);
  timer.unref();
}

export function stopLoopMonitor(): void {
  if (timer) clearInterval(timer);
  histogram?.disable();
  histogram = null;
  timer = null;
}

/** The figures of the monitor; `since` (epoch ms) adds the worst stall after that time. */
export function loopStatus(since?: number): LoopStatus | null {
  if (!histogram) return null;
  const now = Date.now();
  const current = histogram.count ? histogram.max / 1e6 : 0;
  // a window counts when it began after `from` (plus the one running now)
  const max = (from: number) => Math.max(current, ...windows.filter((w) => w.end - WINDOW_MS >= from).map((w) => w.maxMs));
  const round = (n: number) => Math.round(n * 10) / 10;
  const out: LoopStatus = { maxMs: round(max(now - 60_000)), p99Ms: round(windows[windows.length - 1]?.p99Ms ?? 0) };
  if (since !== undefined && Number.isFinite(since)) out.maxSinceMs = round(max(since));
  return out;
}
