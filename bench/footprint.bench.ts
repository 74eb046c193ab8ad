/**
 * Footprint with a real site's data (issue 17), 127.0.0.1 only. The built runtime (harness/runtime.ts)
 * on a data dir holding 100k mirror passes, 5k temporary passes and 1M events (bench/dataset.ts,
 * generated once into a template and copied for every start), a CL-Gate emulator as the relay and
 * an E-Poselok emulator with a 50k list:
 *  - cold start: spawn → GET /api/health 200 (the first start on the copied data dir, and again after a
 *    clean stop: the database check runs after that start); spawn → the first allowed plate opens the relay
 *    (the pass index is loaded and the flows take plates);
 *  - idle RSS BENCH_FP_IDLE_S (60) s after ready, and the runtime's own memory breakdown
 *    (`memory` of /api/system when the runtime reports one);
 *  - CPU per decision: process CPU (/proc/<pid>/stat) over BENCH_FP_RUN_S (60) s at 20 plates/s
 *    minus the CPU of an equal window without plates, divided by the plates;
 *  - MQTT plate → relay request p50/p99 at 20 plates/s (the same window);
 *  - the longest event-loop stall (loop monitor of /api/system) during a 1M-row CSV export
 *    (GET /api/events.csv, in pages of the API's largest limit) and during a confirmed E-Poselok sync of 50k,
 *    with plates at 20/s meanwhile.
 * And the scaling table (bench/scaling.ts): BENCH_FP_SCALE=0 skips it, BENCH_FP_LARGE=1 adds 1M passes and 10M events.
 *
 * Env: BENCH_FP_TEMPLATE (a dataset db made earlier, e.g. by `node dist/bench/lpr.bench.js --generate
 * <db> 100000 1000000 <plates.json>`; its plates file beside it as plates.json), BENCH_FP_ROUNDS (1).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, summarize, runStandalone, LAUNCH_ENV } from './lib';
import { startClGateEmulator } from '../src/emulators/clgate';
import { startEposelokEmulator, syntheticPasses } from '../src/emulators/eposelok';
import { MqttLite } from '../src/cli/mqtt-lite';
import { startGatepost, apiOf, tempDir, GatepostHandle } from '../harness/runtime';
import { scalingRows } from './scaling';

const envNum = (k: string, d: number) => (process.env[k] && Number.isFinite(Number(process.env[k])) ? Number(process.env[k]) : d);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICK_MS = 1000 / 100; // USER_HZ (100 on Linux)

/** user+system CPU of a process, ms */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}
export const loadNote = () => `load ${os.loadavg()[0].toFixed(2)}`;

/** The dataset template (100k/5k/1M), made once per bench run unless BENCH_FP_TEMPLATE names one. */
export function datasetTemplate(work: string, passes = 100_000, events = 1_000_000): { db: string; plates: string[]; genMs: number } {
  const given = process.env.BENCH_FP_TEMPLATE;
  if (given && passes === 100_000 && events === 1_000_000) {
    return { db: given, plates: JSON.parse(fs.readFileSync(path.join(path.dirname(given), 'plates.json'), 'utf8')), genMs: 0 };
  }
  const db = path.join(work, `template-${passes}-${events}.db`);
  const platesFile = path.join(work, `plates-${passes}.json`);
  const gen = spawnSync(process.execPath, [path.join(__dirname, 'lpr.bench.js'), '--generate', db, String(passes), String(events), platesFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (gen.status !== 0) throw new Error(`dataset generation failed (exit ${gen.status})`);
  const plates: string[] = JSON.parse(fs.readFileSync(platesFile, 'utf8'));
  return { db, plates, genMs: Number(gen.stdout.trim()) };
}

/**
 * Plates to the runtime at a steady rate, the relay requests (state=1) timed against them. Each
 * plate carries a requestId; the decisions (gatepost/decision/#) say which plates were allowed,
 * and the n-th relay request belongs to the n-th allowed plate — so a refused plate (a sync that
 * removes the plates being sent) does not shift the pairs.
 */
class PlateRig {
  private sentAt: number[] = [];
  private openAt: number[] = [];
  /** the send index of each allowed plate, in the order of the decisions */
  private allowed: number[] = [];
  private next = 0;
  constructor(
    private readonly client: MqttLite,
    private readonly plates: string[],
  ) {
    client.on('message', (m: { topic: string; payload: Buffer }) => {
      if (!m.topic.startsWith('gatepost/decision/')) return;
      try {
        const d = JSON.parse(m.payload.toString('utf8'));
        if (d.decision === 'allowed' && typeof d.requestId === 'string' && d.requestId.startsWith('fp')) this.allowed.push(Number(d.requestId.slice(2)));
      } catch {
        /* not ours */
      }
    });
  }
  /** subscribes to the decisions (before the first plate) */
  async listen(): Promise<void> {
    await this.client.subscribe('gatepost/decision/#', 1, 5000);
  }
  onRelay(url: string): void {
    if (url.startsWith('/api/relay') && /[?&]state=1(&|$)/.test(url)) this.openAt.push(performance.now());
  }
  send(): void {
    const i = this.next++;
    const plate = this.plates[i % this.plates.length];
    this.sentAt.push(performance.now());
    this.client.publish('gatepost/lpr/cam1', JSON.stringify({ plate, requestId: `fp${i}` }), { qos: 1, timeoutMs: 30_000 }).catch(() => undefined);
  }
  get opens(): number {
    return this.openAt.length;
  }
  /** rate/s for ms (or until `until` resolves); returns plate → relay latencies of that phase */
  async phase(rate: number, ms: number, until?: Promise<unknown>): Promise<{ sent: number; latencies: number[] }> {
    const first = this.sentAt.length;
    let done = false;
    void until?.finally(() => (done = true));
    const t0 = performance.now();
    let sent = 0;
    while (!done && (until || performance.now() - t0 < ms)) {
      const due = Math.floor((performance.now() - t0) / (1000 / rate)) + 1;
      for (; sent < due; sent++) this.send();
      await sleep(Math.max(0, t0 + sent * (1000 / rate) - performance.now()));
    }
    // every plate of the phase decided, every allowed one's relay request in
    const decided = () => this.allowed.filter((k) => k >= first).length;
    for (let i = 0; i < 300 && (this.openAt.length < this.allowed.length || (decided() === 0 && sent > 0)); i++) await sleep(10);
    await sleep(200);
    const latencies: number[] = [];
    for (let j = 0; j < Math.min(this.allowed.length, this.openAt.length); j++) {
      const k = this.allowed[j];
      if (k >= first && k < first + sent) latencies.push(this.openAt[j] - this.sentAt[k]);
    }
    return { sent, latencies };
  }
}

interface RoundResult {
  /** the first start on the copied data dir (quick_check before the start) */
  readyMs: number;
  /** the start after a clean stop (quick_check after the start) */
  restartReadyMs: number;
  firstOpenMs: number;
  rssIdleMb: number;
  memory: unknown;
  cpuPerDecisionMs: number;
  /** the plates window's process CPU / plates (idle not subtracted) */
  grossCpuMs: number;
  idleCpuPct: number;
  lat: ReturnType<typeof summarize>;
  lost: number;
  exportStallMs: number;
  exportRows: number;
  exportMs: number;
  exportLat: ReturnType<typeof summarize>;
  syncStallMs: number;
  syncMs: number;
  syncLat: ReturnType<typeof summarize>;
}

async function round(template: string, plates: string[], k: number, work: string): Promise<RoundResult> {
  const idleS = envNum('BENCH_FP_IDLE_S', 60);
  const runS = envNum('BENCH_FP_RUN_S', 60);
  const dataDir = path.join(work, `rt-${k}`, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.copyFileSync(template, path.join(dataDir, 'gatepost.db'));
  const token = `bench-${Math.random().toString(36).slice(2)}`;
  const relay = await startClGateEmulator({ token });
  const epo = await startEposelokEmulator({ name: 'bench', token: 'bench-token', passes: syntheticPasses(50_000, 5) });
  let rt: GatepostHandle | undefined;
  let client: MqttLite | undefined;
  try {
    const launch = (known?: { adminPassword: string; lprPassword: string }) =>
      startGatepost({
        dataDir,
        known,
        timeoutMs: 180_000,
        env: {
          ...LAUNCH_ENV,
          GATEPOST_DEMO: 'off',
          // the nightly backup's catch-up at start (when due) would copy the whole database inside the windows measured
          GATEPOST_BACKUP_KEEP: '0',
          GATEPOST_RELAY_URL: relay.url,
          GATEPOST_RELAY_TOKEN: token,
          GATEPOST_RELAY_CHANNEL: '1',
          GATEPOST_EPOSELOK_NAME: 'bench',
          GATEPOST_EPOSELOK_TOKEN: 'bench-token',
          GATEPOST_EPOSELOK_LIST_URL: epo.url,
          GATEPOST_EPOSELOK_CHECK_URL: epo.url,
        },
      });
    rt = await launch();
    const spawnedAt = performance.now() - rt.readyMs;
    const pid = rt.proc.pid!;
    client = await MqttLite.connect({ url: rt.mqttUrl, username: 'lpr', password: rt.lprPassword, connectTimeoutMs: 5000 });
    // distinct plates (the repeat window), rotated with a stride so that a plate comes back only after minutes
    const order = plates.filter((_, i) => i % 7 === k % 7);
    const rig = new PlateRig(client, order);
    await rig.listen();
    relay.onRequest_((r) => rig.onRelay(r.url));
    // the first allowed plate that opens the relay: the index is loaded and the flows take plates
    let firstOpenMs = NaN;
    for (const end = performance.now() + 120_000; performance.now() < end;) {
      const before = rig.opens;
      rig.send();
      for (let i = 0; i < 10 && rig.opens === before; i++) await sleep(10);
      if (rig.opens > before) {
        firstOpenMs = performance.now() - spawnedAt;
        break;
      }
    }
    await sleep(Math.max(0, idleS * 1000 - (performance.now() - spawnedAt - rt.readyMs)));
    const rssIdleMb = rssMb(pid);
    const sys = await apiOf(rt, '/api/system').catch(() => null);
    const memory = sys?.memory ?? null;

    const c0 = cpuMs(pid);
    await sleep(runS * 1000);
    const c1 = cpuMs(pid);
    await rig.phase(20, 3000); // warm-up
    const c2 = cpuMs(pid);
    const steady = await rig.phase(20, runS * 1000);
    const c3 = cpuMs(pid);
    const idleCpu = c1 - c0;
    const cpuPerDecisionMs = (c3 - c2 - idleCpu) / steady.sent;

    // 1M-row CSV export (pages of the API's largest limit), plates at 20/s meanwhile
    const t0 = Date.now();
    const exportRun = (async () => {
      let rows = 0;
      const started = performance.now();
      let to: number | undefined;
      while (rows < 1_000_000) {
        const res = await fetch(`${rt!.url}/api/events.csv?limit=100000${to ? `&to=${to}` : ''}`, { headers: rt!.basicAuth() });
        if (!res.ok) throw new Error(`export: HTTP ${res.status}`);
        const text = await res.text();
        const lines = text.split('\r\n').filter(Boolean);
        const n = lines.length - 1;
        if (n <= 0) break;
        rows += n;
        const last = lines[lines.length - 1].split(',')[2];
        to = Number(last) - 1;
        if (!Number.isFinite(to)) break;
      }
      return { rows, ms: performance.now() - started };
    })();
    const exportPhase = await rig.phase(20, 0, exportRun);
    const exp = await exportRun;
    const exportStallMs = (await apiOf(rt, `/api/system?loopSince=${t0}`)).eventLoop?.maxSinceMs ?? NaN;

    // a confirmed E-Poselok sync of 50k (it replaces the 100k mirror), plates at 20/s meanwhile
    await sleep(1000);
    const t1 = Date.now();
    const syncStart = performance.now();
    const syncRun = apiOf(rt, '/api/eposelok/sync', { method: 'POST', body: JSON.stringify({ confirm: true }) });
    const syncPhase = await rig.phase(
      20,
      0,
      syncRun.catch(() => undefined),
    );
    const sync = await syncRun;
    const syncMs = performance.now() - syncStart;
    if (!sync.ok) throw new Error(`sync failed: ${JSON.stringify(sync).slice(0, 200)}`);
    const syncStallMs = (await apiOf(rt, `/api/system?loopSince=${t1}`)).eventLoop?.maxSinceMs ?? NaN;

    // a restart after a clean stop (a service restart, an update): the database check runs after the start then
    const firstReadyMs = rt.readyMs;
    await client.end();
    client = undefined;
    // the check of this run (deferred or not) has passed: only then does a clean stop let the next start skip it
    await rt.waitForOutput(/database check \(quick_check(, after the start)?\) ok/, 60_000);
    await rt.stop();
    rt = await launch({ adminPassword: rt.adminPassword, lprPassword: rt.lprPassword });
    if (!/quick_check runs after the start/.test(rt.output())) throw new Error('the restart after a clean stop checked the database before its start');

    return {
      readyMs: firstReadyMs,
      restartReadyMs: rt.readyMs,
      firstOpenMs,
      rssIdleMb,
      memory,
      cpuPerDecisionMs,
      grossCpuMs: (c3 - c2) / steady.sent,
      idleCpuPct: (idleCpu / (runS * 1000)) * 100,
      lat: summarize(steady.latencies),
      lost: steady.sent - steady.latencies.length,
      exportStallMs,
      exportRows: exp.rows,
      exportMs: exp.ms,
      exportLat: summarize(exportPhase.latencies),
      syncStallMs,
      syncMs,
      syncLat: summarize(syncPhase.latencies),
    };
  } finally {
    await client?.end().catch(() => undefined);
    await rt?.stop().catch(() => undefined);
    rt?.cleanup();
    await relay.close();
    await epo.close();
  }
}

const med = (xs: number[]) => summarize(xs).p50;

export async function footprintRows(): Promise<BenchRow[]> {
  const work = tempDir('gp-bench-fp-');
  const rows: BenchRow[] = [];
  try {
    const ds = datasetTemplate(work);
    rows.push({ area: 'footprint', metric: 'dataset', value: '100k mirror, 5k temp, 1M events', note: ds.genMs ? `generated in ${(ds.genMs / 1000).toFixed(1)} s` : `template ${ds.db}` });
    const rounds: RoundResult[] = [];
    const n = envNum('BENCH_FP_ROUNDS', 1);
    for (let k = 0; k < n; k++) rounds.push(await round(ds.db, ds.plates, k, work));
    const all = (f: (r: RoundResult) => number, digits = 0) => `median ${med(rounds.map(f)).toFixed(digits)} (${rounds.map((r) => f(r).toFixed(digits)).join(', ')})`;
    const note = `${n} round(s); ${loadNote()} on ${os.cpus().length} CPUs`;
    rows.push({
      area: 'footprint',
      metric: 'cold start to /api/health 200, ms',
      value: all((r) => r.readyMs),
      goal: '≤ 2000 ms',
      note: `first start on the copied data dir (quick_check before the start); ${note}`,
    });
    rows.push({
      area: 'footprint',
      metric: 'start after a clean stop to /api/health 200, ms',
      value: all((r) => r.restartReadyMs),
      goal: '≤ 2000 ms',
      note: 'quick_check after the start (ops/integrity.ts)',
    });
    rows.push({ area: 'footprint', metric: 'start to first allowed plate → relay, ms', value: all((r) => r.firstOpenMs), note: 'pass index loaded, flows taking plates' });
    rows.push({ area: 'footprint', metric: `idle RSS ${envNum('BENCH_FP_IDLE_S', 60)} s after ready, MB`, value: all((r) => r.rssIdleMb), goal: '≤ 200 MB', note });
    const mem = rounds[rounds.length - 1].memory as Record<string, unknown> | null;
    if (mem) {
      // what each start stage added (RSS, V8 heap), then the state at idle
      const stages = (mem.stages as Array<{ stage: string; atMs: number; rssMb: number; heapUsedMb: number }>) ?? [];
      let prev = { rssMb: 0, heapUsedMb: 0 };
      for (const st of stages) {
        rows.push({
          area: 'memory',
          metric: `start stage: ${st.stage}`,
          value: `RSS ${st.rssMb} MB (+${(st.rssMb - prev.rssMb).toFixed(1)}), heap ${st.heapUsedMb} MB (+${(st.heapUsedMb - prev.heapUsedMb).toFixed(1)})`,
          note: `at ${st.atMs} ms`,
        });
        prev = st;
      }
      const pi = mem.passIndex as { mirror: number; temporary: number; loadMs: number; heapMb: number } | null;
      if (pi)
        rows.push({
          area: 'memory',
          metric: 'pass index load',
          value: `${pi.mirror} mirror + ${pi.temporary} temporary: heap +${pi.heapMb} MB while loading`,
          note: `${pi.loadMs} ms, beside the start`,
        });
      rows.push({
        area: 'memory',
        metric: `at idle (${envNum('BENCH_FP_IDLE_S', 60)} s)`,
        value: `RSS ${mem.rssMb} MB: V8 heap used ${mem.heapUsedMb} / total ${mem.heapTotalMb} MB, external ${mem.externalMb} MB`,
        note: `heavy optional modules loaded: ${JSON.stringify(mem.heavyModulesLoaded)}; MALLOC_ARENA_MAX=${LAUNCH_ENV.MALLOC_ARENA_MAX} (as npm start and the systemd unit)`,
      });
    }
    rows.push({ area: 'footprint', metric: 'idle CPU, % of one core', value: all((r) => r.idleCpuPct, 2) });
    rows.push({ area: 'footprint', metric: 'CPU per decision at 20 plates/s, ms', value: all((r) => r.cpuPerDecisionMs, 2), goal: '≤ 1 ms', note: 'process CPU minus an equal idle window' });
    rows.push({ area: 'footprint', metric: 'process CPU per plate at 20 plates/s (idle not subtracted), ms', value: all((r) => r.grossCpuMs, 2) });
    rows.push({
      area: 'footprint',
      metric: 'MQTT plate → relay request at 20/s, p50 / p99 ms',
      value: `p50 ${fmt(med(rounds.map((r) => r.lat.p50)))} / p99 ${fmt(med(rounds.map((r) => r.lat.p99)))} (p99s ${rounds.map((r) => fmt(r.lat.p99)).join(', ')})`,
      goal: 'p99 ≤ 2 ms',
      note: `lost ${rounds.map((r) => r.lost).join(', ')}; ${note}`,
    });
    rows.push({
      area: 'footprint',
      metric: 'longest loop stall during a 1M-row CSV export, ms',
      value: all((r) => r.exportStallMs, 1),
      goal: '≤ 20 ms',
      note: `rows ${rounds.map((r) => r.exportRows).join(', ')} in ${all((r) => r.exportMs / 1000, 1)} s; plate → relay p99 meanwhile ${rounds.map((r) => fmt(r.exportLat.p99)).join(', ')} ms`,
    });
    rows.push({
      area: 'footprint',
      metric: 'longest loop stall during an E-Poselok sync of 50k, ms',
      value: all((r) => r.syncStallMs, 1),
      goal: '≤ 20 ms',
      note: `sync ${all((r) => r.syncMs)} ms (HTTP+parse+apply); plate → relay p99 meanwhile ${rounds.map((r) => fmt(r.syncLat.p99)).join(', ')} ms`,
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export async function run(): Promise<BenchRow[]> {
  const rows = await footprintRows();
  if (process.env.BENCH_FP_SCALE !== '0') rows.push(...(await scalingRows()));
  return rows;
}

if (require.main === module) {
  const only = process.argv[2];
  runStandalone(() => (only === 'footprint' ? footprintRows() : only === 'scaling' ? scalingRows() : run()));
}
