/**
 * Retention: events older than the retention are deleted while decisions keep being recorded.
 * A sqlite file in a temp dir gets N old events (default 100k, BENCH_RETENTION_EVENTS) plus the
 * retained ones; the prune runs while a decision is recorded every 5 ms (urgent, as plate-check does:
 * the decision goes out after its event is committed). The row is the record → commit wait during the
 * prune: its largest value is the longest a decision was held up by the prune. Compared: the chunk
 * gatepost uses (PRUNE_CHUNK), the earlier 5,000 and one DELETE of everything.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, summarize, runStandalone } from './lib';
import { Hub } from '../src/services/hub';
import { eventsOf } from '../src/services/events-service';
import { EventsStore, PRUNE_CHUNK } from '../src/store/events-store';
import { silentLogger } from '../src/core/log';

const N = Number(process.env.BENCH_RETENTION_EVENTS || 100_000);
const YEAR = 365.25 * 86400000;

async function once(chunk: number): Promise<{ waits: number[]; pruneMs: number; removed: number; idle: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-retention-'));
  // the service's own prune is off (0): the bench runs the prune itself, with the chunk under test
  const hub = Hub.open({ dbPath: path.join(dir, 'bench.db'), retentionYears: 0, logger: silentLogger });
  try {
    const db = await hub.db();
    const now = Date.now();
    const old = now - 5 * YEAR;
    await db.transaction(async (tx) => {
      for (let i = 0; i < N; i += 400) {
        const rows = Array.from({ length: Math.min(400, N - i) }, (_, j) => [old + i + j, `A${String((i + j) % 1000).padStart(3, '0')}AA77`, String((i + j) % 1000).padStart(3, '0'), 'main']);
        await tx.run(`INSERT INTO events (ts, canonical, digits, gate, decision, source, reason) VALUES ${rows.map(() => "(?, ?, ?, ?, 'allowed', 'mirror', 'old')").join(',')}`, rows.flat());
      }
    });
    const events = eventsOf(hub);
    await events.prune(); // resolves once the service is loaded (it numbers events after the ones there)
    let i = 0;
    const record = async (): Promise<number> => {
      const t0 = performance.now();
      await events.record(
        {
          eventId: 0,
          ts: Date.now(),
          plate: `B${String(i++ % 1000).padStart(3, '0')}BB77`,
          raw: 'x',
          digits: '000',
          decision: 'allowed',
          source: 'mirror',
          reason: 'bench',
          gate: 'main',
          latencyMs: 0,
        },
        undefined,
        { urgent: true },
      );
      return performance.now() - t0;
    };
    // the same writes without a prune: the baseline
    const idle: number[] = [];
    for (let k = 0; k < 200; k++) {
      idle.push(await record());
      await new Promise((r) => setTimeout(r, 5));
    }
    const waits: number[] = [];
    let pruning = true;
    const writer = (async () => {
      while (pruning) {
        waits.push(await record());
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const t0 = performance.now();
    const removed = await new EventsStore(db).prune(now - 3 * YEAR, chunk);
    const pruneMs = performance.now() - t0;
    pruning = false;
    await writer;
    return { waits, pruneMs, removed, idle };
  } finally {
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [chunk, label] of [
    [PRUNE_CHUNK, `chunks of ${PRUNE_CHUNK} (gatepost)`],
    [5000, 'chunks of 5,000 (before)'],
    [N, 'one DELETE of all'],
  ] as Array<[number, string]>) {
    const r = await once(chunk);
    const s = summarize(r.waits);
    const idle = summarize(r.idle);
    rows.push({
      area: 'retention',
      metric: `decision commit wait during the prune of ${(N / 1000).toFixed(0)}k old events, ${label}`,
      value: `max ${fmt(s.max)} ms / p99 ${fmt(s.p99)} / p50 ${fmt(s.p50)} (n=${s.n})`,
      goal: chunk === PRUNE_CHUNK ? 'p50 within a few ms of no prune; max ≈ max without a prune' : '',
      note: `prune ${(r.pruneMs / 1000).toFixed(1)} s, ${r.removed} removed; without a prune max ${fmt(idle.max)} / p50 ${fmt(idle.p50)} ms`,
    });
  }
  return rows;
}

if (require.main === module) runStandalone(run);
