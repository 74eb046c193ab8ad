/** Shared benchmark helpers: percentiles and the printed table. Benchmarks talk to 127.0.0.1 only. */
export interface BenchRow {
  area: string;
  metric: string;
  value: string;
  goal?: string;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** p50/p99/max of a list of samples (ms), formatted. */
export function summarize(samplesMs: number[]): { p50: number; p99: number; max: number; n: number; text: string } {
  const s = [...samplesMs].sort((a, b) => a - b);
  const p50 = percentile(s, 50);
  const p99 = percentile(s, 99);
  const max = s[s.length - 1];
  return { p50, p99, max, n: s.length, text: `p50 ${fmt(p50)} / p99 ${fmt(p99)} ms (n=${s.length})` };
}

export function fmt(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0);
}

export function printTable(rows: BenchRow[]): void {
  const cols: (keyof BenchRow)[] = ['area', 'metric', 'value', 'goal', 'note'];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padEnd(width[i])).join(' | ') + ' |';
  console.log(line(cols.map(String)));
  console.log('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
}

/** Runs a bench module on its own (`node dist/bench/x.bench.js`): prints its rows, exits 0, or 1 on an error. */
export function runStandalone(rows: () => Promise<BenchRow[] | void>): void {
  rows().then(
    (r) => {
      if (r) printTable(r);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/**
 * The environment gatepost is launched with (`npm start` and the systemd unit of `gatepost service
 * install` set it): glibc's malloc arenas capped at 2 instead of 8 per core — ~30 MB less idle RSS
 * with the sqlite3 and libuv pool threads (docs/BENCHMARKS.md). An explicit MALLOC_ARENA_MAX wins.
 */
export const LAUNCH_ENV: Record<string, string> = { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };
