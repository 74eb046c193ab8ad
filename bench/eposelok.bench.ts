/**
 * E-Poselok sync: 50k passes served by the project's emulator on 127.0.0.1 into a sqlite file
 * in a temp dir. Measures the apply time (diff transaction + index update, list already fetched)
 * of a first sync and of a 1 % churn sync, the whole sync (fetch + parse + apply), and the plate
 * lookup latency through passesOf(hub) with and without a sync running (plus the longest event
 * loop stall during the sync). Goals: apply ≤ 1 s for 50k; lookup p99 unchanged within noise.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, summarize } from './lib';
import { Hub } from '../src/services/hub';
import { passesOf } from '../src/services/passes-service';
import { eposelokOf, ListSource } from '../src/services/eposelok-service';
import { EposelokClient, ListFetch } from '../src/devices/eposelok-client';
import { startEposelokEmulator, syntheticPasses } from '../src/emulators/eposelok';
import { normalizePlate } from '../src/core/plate';
import { EXACT } from '../src/core/match';
import { silentLogger } from '../src/core/log';
import type { Plate } from '../src/core/contracts';

const N = 50_000;

const prefetched = (f: ListFetch): ListSource => ({ fetchList: async () => f });

/** Lookups in batches between event-loop turns until `stop()` resolves; per-lookup times and loop gaps. */
async function lookupsDuring(plates: Plate[], hub: Hub, work: () => Promise<unknown>): Promise<{ samples: number[]; maxGapMs: number; misses: number }> {
  const samples: number[] = [];
  let misses = 0;
  let maxGapMs = 0;
  let running = true;
  const loop = (async () => {
    let i = 0;
    let last = performance.now();
    while (running) {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      for (let k = 0; k < 50; k++) {
        const p = plates[i++ % plates.length];
        const t0 = performance.now();
        const m = passesOf(hub).match(p, EXACT);
        samples.push(performance.now() - t0);
        if (!m) misses++;
      }
      last = performance.now();
      await new Promise((r) => setImmediate(r));
    }
  })();
  await work();
  running = false;
  await loop;
  return { samples, maxGapMs, misses };
}

export async function run(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-epo-'));
  const rows: BenchRow[] = [];
  const emu = await startEposelokEmulator({ name: 'bench', token: 'bench-token' });
  const hub = Hub.open({ dbPath: path.join(dir, 'e.db'), logger: silentLogger });
  try {
    await passesOf(hub).ready();
    const svc = eposelokOf(hub);
    await svc.ready();
    const client = new EposelokClient({ name: 'bench', token: 'bench-token', listBase: emu.url, checkBase: emu.url, listTimeoutMs: 20000 }, silentLogger);
    const first = syntheticPasses(N, 11);
    emu.setPasses(first);

    // first sync, apply only (list fetched and parsed before)
    const f1 = await client.fetchList();
    const r1 = await svc.sync(prefetched(f1), { trigger: 'test' });
    if (!r1.ok || r1.added !== N) throw new Error(`first sync failed: ${r1.error}`);
    rows.push({ area: 'eposelok', metric: `first sync apply, ${N / 1000}k passes`, value: `${fmt(r1.durationMs)} ms`, goal: '≤ 1000 ms', note: 'diff transaction + index update' });

    // 1 % churn: 250 gone (kept plates are the stable set), 250 new
    const churn = syntheticPasses(N, 11);
    const l1 = churn.AllowedList1!;
    l1.splice(l1.length - N / 200, N / 200);
    l1.push(...syntheticPasses(N / 200, 777).AllowedList1!, ...syntheticPasses(N / 200, 778).AllowedList2!);
    emu.setPasses(churn);
    const f2 = await client.fetchList();
    const stable = first.AllowedList1!.slice(0, 5000).map((i) => normalizePlate(i.Plate)!);

    // baseline lookups with no sync running (same loop, a plain wait as the "work")
    const base = await lookupsDuring(stable, hub, () => new Promise((r) => setTimeout(r, 300)));
    const during = await lookupsDuring(stable, hub, async () => {
      const r = await svc.sync(prefetched(f2), { trigger: 'test' });
      if (!r.ok) throw new Error(`churn sync failed: ${r.error}`);
      rows.push({ area: 'eposelok', metric: `1 % churn sync apply, ${N / 1000}k passes`, value: `${fmt(r.durationMs)} ms`, note: `+${r.added} −${r.removed} =${r.unchanged}` });
    });
    const b = summarize(base.samples);
    const d = summarize(during.samples);
    rows.push({ area: 'eposelok', metric: 'plate lookup, no sync', value: b.text });
    rows.push({
      area: 'eposelok',
      metric: 'plate lookup during a churn sync',
      value: d.text,
      goal: 'p99 ≈ no sync',
      note: `misses ${during.misses + base.misses}; longest loop stall ${fmt(during.maxGapMs)} ms (baseline ${fmt(base.maxGapMs)} ms)`,
    });

    // the whole sync: fetch + decode + parse + diff + apply, no change
    const t0 = performance.now();
    const r3 = await svc.sync(client, { trigger: 'test' });
    rows.push({
      area: 'eposelok',
      metric: `whole sync (HTTP+parse+apply), ${N / 1000}k, no change`,
      value: `${fmt(performance.now() - t0)} ms`,
      note: r3.ok ? `${(f2.bytes / 1024 / 1024).toFixed(1)} MiB body` : `error ${r3.error}`,
    });

    // online check latency against the emulator
    const checks: number[] = [];
    for (let i = 0; i < 300; i++) {
      const r = await client.check(stable[i]);
      if (r.status !== 'allowed') throw new Error(`online check: ${r.status} ${r.error ?? ''}`);
      checks.push(r.latencyMs);
    }
    rows.push({ area: 'eposelok', metric: 'online check (emulator, keep-alive)', value: summarize(checks).text });
  } finally {
    await emu.close();
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
