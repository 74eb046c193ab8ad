/**
 * Process faults (issue 19, items 7, 8, 19) against the BUILT runtime with the shipped flows and
 * the project's device emulators on 127.0.0.1:
 *  - a log dir that cannot be written when a rotation is due; a full disk for every write
 *    (RLIMIT_FSIZE set on the running process with prlimit: every write fails with EFBIG, for
 *    root too — chmod does not stop root); a restart whose log dir cannot be created;
 *  - kill -9 and restart; a stale pid file naming an unrelated live process; a second gatepost
 *    on the same data dir;
 *  - devices down: probes mark them unreachable in health's `degraded` list without pulsing a relay.
 * Each fault reports a measured row (tests/helpers/faults.ts).
 */
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, MAIN, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end, untilFlowTakesPlates } from '../helpers/mqtt-test';
import { reportFault } from '../helpers/faults';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';
import { startEposelokEmulator, EposelokEmulator } from '../../src/emulators/eposelok';
import { startSokolEmulator, SokolEmulator } from '../../src/emulators/sokol';

jest.setTimeout(240_000);

const LETTERS = 'АВЕКМНОРСТУХ';
const DIGITS = '321'; // a temporary pass by digits lets every plate with 321 in
let plateNo = 0;
/** a fresh plate with the pass's digits (a repeat read of the same plate is not pulsed again) */
function nextPlate(): string {
  const i = plateNo++;
  const l = (k: number) => LETTERS[Math.floor(i / 12 ** k) % 12];
  return `${l(0)}${DIGITS}${l(1)}${l(2)}${77 + Math.floor(i / 1728)}`;
}

let relay: ClGateEmulator;
let sokol: SokolEmulator;
let epos: EposelokEmulator;

function deviceEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GATEPOST_RELAY_URL: relay.url,
    GATEPOST_RELAY_TOKEN: relay.token,
    GATEPOST_RELAY_CHANNEL: '2',
    GATEPOST_BARRIER_PULSE_S: '0.3',
    GATEPOST_SOKOL_URL: sokol.url,
    GATEPOST_SOKOL_USER: 'root',
    GATEPOST_SOKOL_PASSWORD: 'sokol-pw',
    GATEPOST_SOKOL_RELAY: '1',
    GATEPOST_EPOSELOK_NAME: epos.settlement,
    GATEPOST_EPOSELOK_TOKEN: epos.token,
    GATEPOST_EPOSELOK_CAMID: 'faults-cam',
    GATEPOST_EPOSELOK_LIST_URL: epos.listUrl,
    GATEPOST_EPOSELOK_CHECK_URL: epos.checkUrl,
    GATEPOST_CAMERAS: 'cam1=main:entry,cam3=wicket',
    ...extra,
  };
}

const api = <T = any>(rt: GatepostHandle, p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

async function health(rt: GatepostHandle): Promise<{ status: number; body: any }> {
  const res = await fetch(`${rt.url}/api/health`);
  return { status: res.status, body: await res.json() };
}

const until = <T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> => waitFor(what, fn, timeoutMs, 100);

const alive = (rt: GatepostHandle) => rt.proc.exitCode === null && rt.proc.signalCode === null;
const relayOpens = () => relay.requests.filter((r) => r.url.startsWith('/api/relay') && /[?&]state=1/.test(r.url) && /[?&]relay=2/.test(r.url)).length;
const eventTotal = async (rt: GatepostHandle) => (await api(rt, `/api/events?q=${DIGITS}&limit=1`)).total as number;

/** Sends `n` fresh allowed plates one after the other; counts decisions and relay opens. */
async function sendPlates(rt: GatepostHandle, lpr: MqttClient, seen: ReturnType<typeof collector>, n: number): Promise<{ decided: number; allowed: number; opened: number }> {
  let decided = 0;
  let allowed = 0;
  const opens0 = relayOpens();
  for (let i = 0; i < n; i++) {
    const plate = nextPlate();
    const from = seen.messages.length;
    await new Promise<void>((resolve, reject) => lpr.publish('gatepost/lpr/cam1', plate, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    const m = await until(`the decision for ${plate}`, () => seen.messages.slice(from).find((x) => x.topic === 'gatepost/decision/main'), 10_000).catch(() => null);
    if (m) {
      decided++;
      if (JSON.parse(m.payload).decision === 'allowed') allowed++;
    }
  }
  // the relay request of the last plate may still be on its way
  const opened = await until('the relay opens', () => relayOpens() - opens0 >= allowed && relayOpens() - opens0, 10_000).catch(() => relayOpens() - opens0);
  return { decided, allowed, opened };
}

async function bootWithPlates(env: Record<string, string> = {}): Promise<{ rt: GatepostHandle; lpr: MqttClient; seen: ReturnType<typeof collector> }> {
  const rt = await startGatepost({ env: deviceEnv(env) });
  const lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: `faults-lpr-${Date.now()}` });
  const seen = collector(lpr);
  await subscribe(lpr, 'gatepost/decision/#');
  await untilFlowTakesPlates(lpr);
  await api(rt, '/api/passes/temporary', { method: 'POST', body: JSON.stringify({ digits: DIGITS, house: '7', preset: 'today' }) });
  return { rt, lpr, seen };
}

/** Sets the soft RLIMIT_FSIZE of a running process (the soft limit only: lowering the hard one could not be undone). */
function prlimitFsize(pid: number, value: string): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--fsize=${value}:`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
}

beforeAll(async () => {
  relay = await startClGateEmulator({ token: 'relay-faults-token', channels: 4 });
  sokol = await startSokolEmulator({ username: 'root', password: 'sokol-pw' });
  epos = await startEposelokEmulator({ name: 'faults', token: 'epos-faults-token' });
});

afterAll(async () => {
  await relay?.close();
  await sokol?.close();
  await epos?.close();
});

describe('disk faults (item 7): decisions go on, nothing recorded is lost', () => {
  test('the log dir becomes unwritable while a rotation is due: no crash, plates decided and pulsed, events kept, disk:log in health', async () => {
    const { rt, lpr, seen } = await bootWithPlates({ GATEPOST_LOG_MAX_BYTES: '1024', GATEPOST_LOG_KEEP: '2' });
    try {
      const logs = path.join(rt.dataDir, 'logs');
      // the log dir is replaced by a file: the rotation's rename and re-open fail (ENOTDIR, root too)
      fs.renameSync(logs, `${logs}.away`);
      fs.writeFileSync(logs, 'not a directory');
      // a plate's open is logged at debug only: a rejected input (a warning) writes the next line
      const logLine = () => lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: '' }), { qos: 1 });
      // the open file still takes lines until the rotation is due (1 KB): warnings until it fails
      await until(
        'the log file failure noticed',
        async () => {
          logLine();
          return /logging to stderr/.test(rt.output());
        },
        10_000,
      );
      await new Promise((r) => setTimeout(r, 500)); // the last rejected inputs recorded
      const before = await eventTotal(rt);
      const N = 20;
      const r = await sendPlates(rt, lpr, seen, N);
      const stillAlive = alive(rt);
      expect(stillAlive).toBe(true);
      const h = await health(rt);
      expect(h.status).toBe(200);
      expect(h.body.degraded.map((d: any) => d.what)).toContain('disk:log');
      expect(rt.output()).toMatch(/logging to stderr/);
      const recorded = (await until('the events', async () => ((await eventTotal(rt)) - before >= N ? (await eventTotal(rt)) - before : 0), 10_000).catch(() => 0)) || (await eventTotal(rt)) - before;
      // the log dir is back: the next lines go to the file again and the alarm clears
      fs.rmSync(logs);
      fs.renameSync(`${logs}.away`, logs);
      await until(
        'disk:log cleared',
        async () => {
          await sendPlates(rt, lpr, seen, 1);
          logLine();
          return !(await health(rt)).body.degraded.some((d: any) => d.what === 'disk:log');
        },
        30_000,
      );
      reportFault({
        attack: 'log dir unwritable during a due rotation (ENOTDIR)',
        tried: N,
        survived: stillAlive ? Math.min(r.decided, r.opened, recorded) : 0,
        lost: N - recorded,
        crashes: stillAlive ? 0 : 1,
        note: `decided ${r.decided}/${N}, relay opened ${r.opened}/${N}, events ${recorded}/${N}; disk:log raised and cleared`,
      });
      expect(r).toEqual({ decided: N, allowed: N, opened: N });
      expect(recorded).toBe(N);
    } finally {
      await end(lpr);
      await rt.stop();
      rt.cleanup();
    }
  });

  test('every write fails (RLIMIT_FSIZE on the running process): plates decided and pulsed, events kept in memory and written when the disk is back', async () => {
    const { rt, lpr, seen } = await bootWithPlates();
    try {
      const before = await eventTotal(rt);
      prlimitFsize(rt.proc.pid!, '1'); // any write at an offset ≥ 1 byte fails with EFBIG
      const N = 20;
      const r = await sendPlates(rt, lpr, seen, N);
      const stillAlive = alive(rt);
      expect(stillAlive).toBe(true);
      const h = await until(
        'the disk alarm',
        async () => {
          const x = await health(rt);
          return x.body.degraded?.some((d: any) => d.what === 'disk') ? x : null;
        },
        10_000,
      );
      expect(h.status).toBe(200);
      const during = (await eventTotal(rt)) - before;
      prlimitFsize(rt.proc.pid!, 'unlimited');
      // the backlog is written by its retry timer or right after the next write that works
      await sendPlates(rt, lpr, seen, 1);
      const recorded = await until(
        'the kept events',
        async () => {
          const n = (await eventTotal(rt)) - before - 1;
          return n >= N ? n : 0;
        },
        30_000,
      ).catch(async () => (await eventTotal(rt)) - before - 1);
      const cleared = await until('disk cleared', async () => !(await health(rt)).body.degraded.some((d: any) => d.what === 'disk'), 15_000).catch(() => false);
      reportFault({
        attack: 'full disk: every write fails (EFBIG) while plates arrive',
        tried: N,
        survived: stillAlive ? Math.min(r.decided, r.opened) : 0,
        lost: N - recorded,
        crashes: stillAlive ? 0 : 1,
        note: `decided ${r.decided}/${N}, relay opened ${r.opened}/${N}; on disk during the fault ${during}, after ${recorded}/${N}; disk alarm ${cleared ? 'cleared' : 'NOT cleared'}`,
      });
      expect(r).toEqual({ decided: N, allowed: N, opened: N });
      expect(recorded).toBe(N);
      expect(cleared).toBe(true);
    } finally {
      await end(lpr);
      await rt.stop();
      rt.cleanup();
    }
  });
});

describe('restart (item 8): a dead gatepost never blocks the next one; two never share a data dir', () => {
  test('kill -9 then restart ×3, with the pid file naming a live unrelated process and an uncreatable log dir', async () => {
    const first = await startGatepost({ env: deviceEnv() });
    const known = { adminPassword: first.adminPassword, lprPassword: first.lprPassword };
    const dataDir = first.dataDir;
    const pidFile = path.join(dataDir, 'gatepost.pid');
    const sleeper: ChildProcess = spawn('sleep', ['600'], { stdio: 'ignore' });
    let rt = first;
    const tries = 3;
    let survived = 0;
    const notes: string[] = [];
    try {
      for (let i = 0; i < tries; i++) {
        await rt.stop('SIGKILL');
        // a power cut: the pid file stays; its pid now belongs to another live process
        fs.writeFileSync(pidFile, String(sleeper.pid));
        if (i === tries - 1) {
          // and the last restart cannot create its log dir (logs is a file): it starts anyway, logging to stderr
          fs.rmSync(path.join(dataDir, 'logs'), { recursive: true, force: true });
          fs.writeFileSync(path.join(dataDir, 'logs'), 'not a directory');
        }
        try {
          rt = await startGatepost({ dataDir, known, env: deviceEnv() });
          const h = await health(rt);
          if (h.status === 200) survived++;
          if (i === tries - 1) {
            expect(h.body.degraded.map((d: any) => d.what)).toContain('disk:log');
            expect(rt.output()).toMatch(/logging to stderr/);
          }
        } catch (err) {
          notes.push((err as Error).message.split('\n')[0]);
          break;
        }
      }
      reportFault({
        attack: 'kill -9, pid file names a live process, restart',
        tried: tries,
        survived,
        lost: 0,
        crashes: tries - survived,
        note: notes.join('; ') || 'every restart came up (last one with an uncreatable log dir)',
      });
      expect(survived).toBe(tries);

      // a second gatepost on the same data dir is refused: clear message, its own exit code
      const second = spawnSync(process.execPath, [MAIN], { cwd: path.dirname(dataDir), env: { ...rt.env, GATEPOST_HTTP_PORT: '0', GATEPOST_MQTT_PORT: '0' }, encoding: 'utf8', timeout: 60_000 });
      const refused = second.status === 3 && /another gatepost \(pid \d+\) runs on/.test(second.stderr);
      reportFault({
        attack: 'second gatepost on the same data dir',
        tried: 1,
        survived: refused && alive(rt) ? 1 : 0,
        lost: 0,
        note: `exit ${second.status}: ${(second.stderr.match(/another gatepost[^\n]*/) ?? [''])[0].slice(0, 90)}`,
      });
      expect(second.status).toBe(3);
      expect(second.stderr).toMatch(new RegExp(`another gatepost \\(pid ${rt.proc.pid}\\) runs on`));
      expect(alive(rt)).toBe(true);
      expect((await health(rt)).status).toBe(200);
    } finally {
      sleeper.kill('SIGKILL');
      await rt.stop();
      rt.cleanup();
    }
  });
});

describe('device probes (item 19)', () => {
  test('a dead Sokol panel is unreachable in /api/gates and health.degraded after a probe, recovers, and probes never pulse a relay', async () => {
    // the wicket's panel is down from the start: nothing has ever been sent to it
    const deadPort = sokol.port;
    await sokol.close();
    const rt = await startGatepost({ env: deviceEnv({ GATEPOST_PROBE_INTERVAL_MS: '300', GATEPOST_PROBE_TIMEOUT_MS: '1000' }) });
    try {
      const opens0 = relayOpens();
      const gate = await until(
        'the wicket unreachable',
        async () => {
          const g = (await api(rt, '/api/gates')).find((x: any) => x.gate === 'wicket');
          return g && g.reachable === false ? g : null;
        },
        15_000,
      );
      expect(gate.reachable).toBe(false);
      const h = await health(rt);
      expect(h.status).toBe(200);
      const item = h.body.degraded.find((d: any) => d.what === 'gate:wicket');
      expect(item).toMatchObject({ reason: expect.stringMatching(/unreachable: .*ECONNREFUSED/), since: expect.any(Number) });
      const sys = await api(rt, '/api/system');
      expect(sys.degraded.map((d: any) => d.what)).toEqual(expect.arrayContaining(['gate:wicket', 'sokol']));
      const main = (await api(rt, '/api/gates')).find((x: any) => x.gate === 'main');
      expect(main.reachable).toBe(true);
      // the panel comes back on its address
      sokol = await startSokolEmulator({ username: 'root', password: 'sokol-pw', port: deadPort });
      await until('the wicket reachable', async () => (await api(rt, '/api/gates')).find((x: any) => x.gate === 'wicket')?.reachable === true, 15_000);
      await until('gate:wicket cleared', async () => !(await health(rt)).body.degraded.some((d: any) => d.what.startsWith('gate:')), 15_000);
      const probesSeen = sokol.requests.filter((r) => r.url === '/system/info').length;
      const pulsesByProbes = relayOpens() - opens0 + sokol.opens(1);
      reportFault({
        attack: 'Sokol panel down at start, back later (probe every 300 ms)',
        tried: 1,
        survived: 1,
        lost: 0,
        note: `unreachable → degraded gate:wicket, recovered after ${probesSeen} /system/info probes; relay pulses by probes ${pulsesByProbes}`,
      });
      expect(pulsesByProbes).toBe(0);
      expect(relay.requests.filter((r) => r.url === '/').length).toBeGreaterThan(0); // the relay is probed on its base URL only
    } finally {
      await rt.stop();
      rt.cleanup();
    }
  });
});
