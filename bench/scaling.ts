/**
 * The scaling table of issue 17 (run by footprint.bench.ts): passes 10k / 100k (/ 1M) and events
 * 1M (/ 10M with BENCH_FP_LARGE=1) → decision p50/p99 (in-process PlateChecker, mirror hits and
 * misses: the decision itself, and with its event committed), search p99, events queries p99 (last
 * 24 h; one plate over a year), sqlite file size (BENCH_FP_SIZES=<passes>x<events>,… picks sizes), and of the built runtime on that data: start to
 * /api/health 200 and idle RSS BENCH_SCALE_IDLE_S (10) s after ready. 127.0.0.1 only.
 *
 *   node dist/bench/scaling.js --generate <db> <passes> <events> <plates.json>   (a dataset; events ~2.85 years back whatever their number)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, summarize, runStandalone, LAUNCH_ENV } from './lib';
import { generateDataset } from './dataset';
import { Hub } from '../src/services/hub';
import { passesOf } from '../src/services/passes-service';
import { eventsOf } from '../src/services/events-service';
import { PlateChecker } from '../src/services/plate-checker';
import { silentLogger } from '../src/core/log';
import { startGatepost, tempDir } from '../harness/runtime';

const SPAN_MS = 1_000_000 * 90_000; // the span of the 1M-event dataset: every size covers the same years
const envNum = (k: string, d: number) => (process.env[k] && Number.isFinite(Number(process.env[k])) ? Number(process.env[k]) : d);

function generate(work: string, passes: number, events: number): { db: string; plates: string[]; genMs: number } {
  const db = path.join(work, `scale-${passes}-${events}.db`);
  const platesFile = path.join(work, `scale-${passes}.json`);
  const gen = spawnSync(process.execPath, [__filename, '--generate', db, String(passes), String(events), platesFile], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`dataset generation failed (exit ${gen.status})`);
  return { db, plates: JSON.parse(fs.readFileSync(platesFile, 'utf8')), genMs: Number(gen.stdout.trim()) };
}

async function inProcess(db: string, plates: string[]): Promise<Record<string, string>> {
  const hub = Hub.open({ dbPath: db, timezone: 'Europe/Moscow', logger: silentLogger });
  try {
    const t0 = performance.now();
    const passes = passesOf(hub);
    eventsOf(hub);
    await hub.ready();
    const loadMs = performance.now() - t0;
    const checker = new PlateChecker(hub, { repeatWindowMs: 0 });
    const own: number[] = [];
    const withCommit: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const plate = i % 4 === 1 ? `X${String(i % 1000).padStart(3, '0')}XX${(i % 90) + 10}` : plates[(i * 7919) % plates.length];
      const s = performance.now();
      const r = await checker.check({ payload: plate, topic: 'gatepost/lpr/cam1' });
      if (i >= 1000) {
        withCommit.push(performance.now() - s);
        own.push(r.decision.latencyMs);
      }
    }
    const search: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const p = plates[(i * 104729) % plates.length];
      const q = i % 3 === 0 ? p.slice(1, 4) : i % 3 === 1 ? p.slice(0, 4) : p.slice(3, 7);
      const s = performance.now();
      passes.search(q, 50);
      if (i >= 300) search.push(performance.now() - s);
    }
    const day: number[] = [];
    const year: number[] = [];
    const now = Date.now();
    for (let i = 0; i < 40; i++) {
      let s = performance.now();
      await eventsOf(hub).query({ from: now - 86_400_000, limit: 100 });
      day.push(performance.now() - s);
      s = performance.now();
      await eventsOf(hub).query({ q: plates[(i * 31) % plates.length], from: now - 365 * 86_400_000, limit: 100 });
      year.push(performance.now() - s);
    }
    await eventsOf(hub).flush();
    const d = summarize(own);
    const c = summarize(withCommit);
    return {
      load: `${fmt(loadMs)} ms`,
      decision: `${fmt(d.p50)} / ${fmt(d.p99)}`,
      commit: `${fmt(c.p50)} / ${fmt(c.p99)}`,
      search: fmt(summarize(search).p99),
      day: fmt(summarize(day).p99),
      year: fmt(summarize(year).p99),
    };
  } finally {
    await hub.close();
  }
}

async function runtimeOn(db: string, work: string): Promise<{ readyMs: number; rssMb: number }> {
  const dataDir = path.join(work, `rt-${path.basename(db)}`, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.copyFileSync(db, path.join(dataDir, 'gatepost.db'));
  const rt = await startGatepost({ dataDir, timeoutMs: 300_000, env: { ...LAUNCH_ENV, GATEPOST_DEMO: 'off', GATEPOST_BACKUP_KEEP: '0' } });
  try {
    await new Promise((r) => setTimeout(r, envNum('BENCH_SCALE_IDLE_S', 10) * 1000));
    const status = fs.readFileSync(`/proc/${rt.proc.pid}/status`, 'utf8');
    return { readyMs: rt.readyMs, rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024 };
  } finally {
    await rt.stop().catch(() => undefined);
    rt.cleanup();
  }
}

export async function scalingRows(): Promise<BenchRow[]> {
  const large = process.env.BENCH_FP_LARGE === '1';
  const sizes: Array<[number, number]> = [
    [10_000, 1_000_000],
    [100_000, 1_000_000],
  ];
  if (large) sizes.push([1_000_000, 1_000_000], [100_000, 10_000_000]);
  // BENCH_FP_SIZES=<passes>x<events>,… : only these
  if (process.env.BENCH_FP_SIZES) sizes.splice(0, sizes.length, ...process.env.BENCH_FP_SIZES.split(',').map((x) => x.split('x').map(Number) as [number, number]));
  const rows: BenchRow[] = [];
  for (const [passes, events] of sizes) {
    const work = tempDir('gp-bench-scale-');
    try {
      const ds = generate(work, passes, events);
      const sizeMb = fs.statSync(ds.db).size / 1024 / 1024;
      const m = await inProcess(ds.db, ds.plates);
      const r = await runtimeOn(ds.db, work);
      rows.push({
        area: 'scaling',
        metric: `${passes / 1000}k passes, ${events / 1e6}M events`,
        value: `decision p50/p99 ${m.decision} ms; +commit ${m.commit} ms; search p99 ${m.search} ms; events 24 h p99 ${m.day} ms, plate/year p99 ${m.year} ms`,
        note: `start ${fmt(r.readyMs)} ms; RSS ${r.rssMb.toFixed(0)} MB; file ${sizeMb.toFixed(0)} MB; index load ${m.load}; load ${os.loadavg()[0].toFixed(2)}`,
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return rows;
}

async function generateInto(db: string, passes: number, events: number, platesFile: string): Promise<void> {
  const hub = Hub.open({ dbPath: db, timezone: 'Europe/Moscow', logger: silentLogger });
  try {
    const ds = await generateDataset(await hub.db(), { mirror: passes, events, spacingMs: Math.floor(SPAN_MS / events) });
    fs.writeFileSync(platesFile, JSON.stringify(ds.mirrorPlates));
    process.stdout.write(`${ds.genMs}\n`);
  } finally {
    await hub.close();
  }
}

if (require.main === module && process.argv[2] === '--generate') {
  const [db, passes, events, platesFile] = process.argv.slice(3);
  runStandalone(() => generateInto(db, Number(passes), Number(events), platesFile));
} else if (require.main === module) runStandalone(scalingRows);
