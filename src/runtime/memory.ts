/**
 * Where the runtime's memory goes (issue 17): the process figures at each start stage (what a
 * stage added is the difference to the one before: Node.js itself, the broker, the database,
 * Node-RED, the flows and Dashboard, the pass index), and now: RSS, V8 heap, memory outside the
 * heap (Buffers), the pass index's entries, sqlite's page cache setting, and the heavy optional
 * modules loaded. `memory` of GET /api/system; the footprint benchmark prints it.
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import type { Hub } from '../services/hub';
import { passesOf } from '../services/passes-service';
import { eposelokOf } from '../services/eposelok-service';
import { MIRROR_CACHE_KEEP_MS } from '../store/mirror-store';
export interface MemoryStage {
  stage: string;
  /** ms since the process started */
  atMs: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
}

export interface MemoryReport {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  stages: MemoryStage[];
  /** the pass index: entries, whether loaded, and the heap it took while loading (approximate: other work runs beside it) */
  passIndex: { mirror: number; temporary: number; loaded: boolean; loadMs: number | null; heapMb: number | null } | null;
  /** heavy optional modules present in require.cache (they load only with their feature) */
  heavyModulesLoaded: string[];
}

const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
const stages: MemoryStage[] = [];

/** Records the process memory now under `stage` (cheap: process.memoryUsage()). */
export function markMemory(stage: string): void {
  const m = process.memoryUsage();
  stages.push({ stage, atMs: Math.round(performance.now()), rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external) });
}

/**
 * Modules that are big and needed only by one optional feature (iVMS: mssql, Telegram: grammy,
 * face / QR recognition: TensorFlow, face-api, ZXing, FTP uploads): loaded on first use, never at
 * start. tests/integration/lazy-modules.test.ts boots the runtime and checks this list.
 */
export const HEAVY_OPTIONAL_MODULES = ['mssql', 'tedious', 'grammy', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@vladmandic/face-api', '@zxing/library', 'basic-ftp', 'qrcode'];

/** The heavy optional modules whose files are in require.cache. */
export function heavyModulesLoaded(cache: Record<string, unknown> = require.cache): string[] {
  // Node-RED's node scan reads every package.json of node_modules through require(): not the module's code
  const keys = Object.keys(cache).filter((k) => !k.endsWith('/package.json'));
  return HEAVY_OPTIONAL_MODULES.filter((m) => keys.some((k) => k.includes(`/node_modules/${m}/`)));
}

export function memoryReport(passIndex: MemoryReport['passIndex']): MemoryReport {
  const m = process.memoryUsage();
  return {
    rssMb: mb(m.rss),
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
    stages: [...stages],
    passIndex,
    heavyModulesLoaded: heavyModulesLoaded(),
  };
}

/**
 * One full garbage collection once the start-up work is over (the pass index loaded, the first
 * E-Poselok sync done): the load and the first sync leave tens of MB of garbage that V8 otherwise
 * keeps (with the heap pages it grew for them) for minutes at idle. Through V8's own `gc`
 * (--expose-gc set at run time, not on the command line). Resolves with the pause in ms, or null
 * when it could not run.
 */
export function collectStartGarbage(): number | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (() => void) | undefined;
    if (typeof gc !== 'function') return null;
    const t0 = performance.now();
    gc();
    const ms = performance.now() - t0;
    markMemory('start garbage collected');
    return Math.round(ms);
  } catch {
    return null;
  }
}

/**
 * After the start: waits for the pass index, then `quietMs`, then until no E-Poselok sync runs
 * (the first one starts after the index; at most `maxWaitMs` in all), then collectStartGarbage().
 * `stopped()` true: gives up.
 */
export async function settleAfterStart(hub: Hub, opts: { quietMs?: number; maxWaitMs?: number; stopped: () => boolean }): Promise<number | null> {
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
  const t0 = Date.now();
  const max = opts.maxWaitMs ?? 120_000;
  await passesOf(hub)
    .ready()
    .catch(() => undefined);
  await sleep(opts.quietMs ?? 10_000);
  while (eposelokOf(hub).state().syncing && Date.now() - t0 < max && !opts.stopped()) await sleep(1000);
  // the sync's copy of the mirror is dropped MIRROR_CACHE_KEEP_MS after it (mirror-store.ts)
  if (eposelokOf(hub).state().lastAttemptAt !== null) await sleep(MIRROR_CACHE_KEEP_MS + 1000);
  return opts.stopped() ? null : collectStartGarbage();
}
