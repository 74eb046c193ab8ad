/**
 * Runtime benchmark: cold start of the built runtime (spawn → GET /api/health 200) on a fresh
 * temp data dir (first start: secrets, database, flows install) and on a warm one (restart),
 * and the idle RSS of the runtime process a few seconds after it is ready. 127.0.0.1 only.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, summarize } from './lib';
import { freePort } from '../harness/runtime';

const MAIN = path.resolve(__dirname, '..', 'src', 'runtime', 'main.js');
const RUNS = Number(process.env.BENCH_RUNTIME_RUNS || 3);

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function once(dataDir: string): Promise<{ readyMs: number; rssMb: number }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GATEPOST_')) env[k] = v;
  Object.assign(env, {
    GATEPOST_HTTP_PORT: String(await freePort()),
    GATEPOST_MQTT_PORT: String(await freePort()),
    GATEPOST_BIND: '127.0.0.1',
    GATEPOST_DATA_DIR: dataDir,
    GATEPOST_DEMO: 'on',
    GATEPOST_LOG_CONSOLE: '0',
  });
  const t0 = performance.now();
  const proc = spawn(process.execPath, [MAIN], { cwd: path.dirname(dataDir), env, stdio: 'ignore' });
  const url = `http://127.0.0.1:${env.GATEPOST_HTTP_PORT}/api/health`;
  let readyMs = NaN;
  try {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const st = await fetch(url).then(
        (r) => r.status,
        () => 0,
      );
      if (st === 200) {
        readyMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!Number.isFinite(readyMs)) throw new Error('runtime not ready within 60 s');
    await new Promise((r) => setTimeout(r, 3000));
    return { readyMs, rssMb: rssKb(proc.pid!) / 1024 };
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
}

export async function run(): Promise<BenchRow[]> {
  const cold: number[] = [];
  const warm: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatepost-bench-rt-'));
    const dataDir = path.join(dir, 'data');
    try {
      const a = await once(dataDir);
      cold.push(a.readyMs);
      rss.push(a.rssMb);
      const b = await once(dataDir);
      warm.push(b.readyMs);
      rss.push(b.rssMb);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const r = summarize(rss);
  return [
    { area: 'runtime', metric: 'cold start to health 200, first start (demo on)', value: summarize(cold).text, goal: '< 10 s on the guard-post PC', note: 'secrets + db + flows install' },
    { area: 'runtime', metric: 'start to health 200, restart (demo on)', value: summarize(warm).text, goal: '< 10 s' },
    { area: 'runtime', metric: 'idle RSS 3 s after ready', value: `median ${r.p50.toFixed(0)} MB / max ${r.max.toFixed(0)} MB (n=${r.n})`, goal: '< 250 MB' },
  ];
}
