/**
 * The machine's floor for the plate path (issue 17): what the transport alone costs, without
 * Node-RED, sqlite or any decision — so the footprint bench's "CPU per decision" can be read
 * against what this machine charges for receiving one MQTT message and sending one HTTP request.
 *
 * A child process runs our embedded broker (src/runtime/broker.ts: aedes with the ACL and the
 * packet meter); a client in this process publishes a QoS 1 plate at 20/s over loopback TCP (as
 * LPR software does). Measured as in bench/footprint: the child's process CPU over BENCH_FLOOR_S
 * (20) s at 20/s minus an equal window without messages, per message. Paths:
 *  - hook: the broker's own publish hook sees the plate (the least any broker-based design pays);
 *  - hook + relay: … and sends one keep-alive HTTP GET to a relay server (in this process);
 *  - client: an mqtt.js client in the child (as Node-RED's mqtt in) gets the plate over loopback
 *    TCP, publishes a QoS 1 decision back and sends the GET — the transport of the runtime's path.
 */
import { fork, ChildProcess } from 'child_process';
import * as http from 'http';
import * as os from 'os';
import mqtt from 'mqtt';
import { BenchRow, runStandalone } from './lib';
import { cpuMs } from './footprint.bench';

const S = Number(process.env.BENCH_FLOOR_S) || 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Mode = 'hook' | 'hook-relay' | 'client';
// the child reads the parent's (one password for both processes)
const PASSWORD = (process.env.GATEPOST_FLOOR_PW ??= `floor-${Math.random().toString(36).slice(2)}`);

/** The child: broker + the mode's consumer. */
async function serve(mode: Mode, relayPort: number): Promise<void> {
  const { startBroker } = await import('../src/runtime/broker');
  const { createLogger } = await import('../src/runtime/logger');
  const log = createLogger({ dir: null, level: 'error', console: false });
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    tcp: true,
    wsPath: '/mqtt',
    log,
    accounts: [
      { username: 'lpr', password: PASSWORD, role: 'lpr' },
      { username: 'gp', password: PASSWORD, role: 'admin', internal: true },
    ],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const relay = () => http.get({ host: '127.0.0.1', port: relayPort, path: '/api/relay?relay=1&state=1', agent }, (res) => res.resume()).on('error', () => undefined);
  if (mode === 'hook' || mode === 'hook-relay') {
    broker.onPublish((p) => {
      if (mode === 'hook-relay' && p.topic.startsWith('gatepost/lpr/')) relay();
    });
  } else {
    const c = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'gatepost-flows', username: 'gp', password: PASSWORD, protocolVersion: 4 });
    await new Promise((r) => c.once('connect', r));
    await c.subscribeAsync('gatepost/lpr/+', { qos: 1 });
    c.on('message', (_t, payload) => {
      let plate = '';
      try {
        plate = String(JSON.parse(String(payload)).plate);
      } catch {
        /* counted anyway */
      }
      c.publish('gatepost/decision/main', JSON.stringify({ plate, decision: 'allowed' }), { qos: 1 });
      relay();
    });
  }
  process.send!({ port: broker.port });
}

async function measure(mode: Mode): Promise<{ net: number; gross: number; n: number }> {
  let gets = 0;
  const relay = http.createServer((_q, s) => (gets++, s.end('{"status":"ok"}')));
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const child: ChildProcess = fork(__filename, ['serve', mode, String((relay.address() as { port: number }).port)], { stdio: 'inherit' });
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number }));
      child.once('exit', (code) => reject(new Error(`floor child exited (${code})`)));
    });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'lpr', password: PASSWORD, protocolVersion: 4 });
    let i = 0;
    const run = async (s: number) => {
      const t0 = performance.now();
      let sent = 0;
      while (performance.now() - t0 < s * 1000) {
        void pub.publishAsync('gatepost/lpr/cam1', JSON.stringify({ plate: `A${String(i++ % 1000).padStart(3, '0')}BC77` }), { qos: 1 }).catch(() => undefined);
        sent++;
        await sleep(Math.max(0, t0 + sent * 50 - performance.now()));
      }
      await sleep(200);
      return sent;
    };
    await run(5); // warm-up
    const c0 = cpuMs(child.pid!);
    await sleep(S * 1000);
    const c1 = cpuMs(child.pid!);
    const g0 = gets;
    const n = await run(S);
    const c2 = cpuMs(child.pid!);
    if ((mode === 'hook' ? n : gets - g0) < n * 0.95) throw new Error(`floor ${mode}: ${gets - g0} relay requests for ${n} plates`);
    await pub.endAsync();
    return { net: (c2 - c1 - (c1 - c0)) / n, gross: (c2 - c1) / n, n };
  } finally {
    child.kill();
    relay.close();
  }
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const what: Record<Mode, string> = {
    hook: 'QoS 1 plate into the broker (publish hook)',
    'hook-relay': '… + one keep-alive HTTP GET to the relay',
    client: 'mqtt.js client over loopback TCP: plate in, QoS 1 decision out, HTTP GET',
  };
  // BENCH_FLOOR_MODES=client,hook,client: some paths, in this order (repeats allowed)
  const modes = (process.env.BENCH_FLOOR_MODES?.split(',') ?? Object.keys(what)).filter((m): m is Mode => m in what);
  for (const mode of modes) {
    const r = await measure(mode);
    rows.push({
      area: 'floor',
      metric: `CPU per message at 20/s: ${what[mode]}, ms`,
      value: `${r.net.toFixed(2)} (gross ${r.gross.toFixed(2)})`,
      note: `n=${r.n}, ${S} s windows; load ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPUs`,
    });
  }
  return rows;
}

if (require.main === module) {
  if (process.argv[2] === 'serve') {
    serve(process.argv[3] as Mode, Number(process.argv[4])).catch((err) => {
      console.error(err);
      process.exit(1);
    });
  } else runStandalone(run);
}
