/**
 * The LPR path end to end: the built runtime (tests/helpers/runtime.ts) with the SHIPPED flows
 * (flows/guard-post.json), the embedded broker, and the project's device emulators started in this
 * process (E-Poselok, CL-Gate relay, Sokol panel) on 127.0.0.1 — the same emulators the demo mode
 * uses. Nothing is mocked: plates go in over MQTT as an LPR program sends them, decisions come out
 * on gatepost/decision/<gate>, the relay emulator sees the HTTP requests, the events API shows
 * what was recorded, and `gatepost-lpr` runs as a separate process (bin/gatepost-lpr.js).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end, untilFlowTakesPlates } from '../helpers/mqtt-test';
import type { EposelokEmulator } from '../../src/emulators/eposelok';
import { startSite, Site, ClGate, Sokol } from '../helpers/site';

jest.setTimeout(120_000);

type Msg = { topic: string; payload: string; retain: boolean };

const BIN = path.join(ROOT, 'bin', 'gatepost-lpr.js');
const MIRROR_PLATE = 'О971УА18'; // in the E-Poselok list → mirrored at the first sync
const ONLINE_ONLY = 'В555ОР199'; // added to E-Poselok after the sync → only the online check knows it
const CAMERAS = 'cam1=main:entry,cam2=main:exit,cam3=wicket';

let site: Site;
let relay: ClGate;
let sokol: Sokol;
let epos: EposelokEmulator;
let rt: GatepostHandle;
let lpr: MqttClient;
let seen: ReturnType<typeof collector>;
let tmp: string;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

const until = <T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> => waitFor(what, fn, timeoutMs);

function publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => lpr.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}

/** Publishes and returns the decision with this requestId (JSON plates) or the next decision on the topic. */
async function decide(camera: string, payload: string | Buffer | Record<string, unknown>, gateTopic = 'main'): Promise<any> {
  const body = Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload);
  const rid = typeof payload === 'object' && !Buffer.isBuffer(payload) ? (payload.requestId as string | undefined) : undefined;
  const from = seen.messages.length;
  await publish(`gatepost/lpr/${camera}`, body);
  const m = await until(`a decision on gatepost/decision/${gateTopic}`, () =>
    seen.messages.slice(from).find((x: Msg) => x.topic === `gatepost/decision/${gateTopic}` && (!rid || JSON.parse(x.payload).requestId === rid)),
  );
  return JSON.parse(m.payload);
}

function runLpr(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: tmp, GATEPOST_LPR_QUEUE: path.join(tmp, 'lpr-queue.jsonl') };
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-lpr-'));
  site = await startSite({ name: 'e2e', cameras: CAMERAS });
  ({ relay, sokol, epos } = site);
  rt = await startGatepost({ env: site.env() });
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-lpr' });
  seen = collector(lpr);
  await subscribe(lpr, 'gatepost/decision/#');
  await untilFlowTakesPlates(lpr);
  // the first E-Poselok sync has filled the mirror
  await until('the first E-Poselok sync', async () => (await api('/api/eposelok/state')).count > 0, 20_000);
});

afterAll(async () => {
  await end(lpr);
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await site?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('plates over MQTT through the shipped guard-post flow', () => {
  test('a plate in the E-Poselok mirror is allowed and pulses the barrier relay (open, then close after the pulse)', async () => {
    const before = relay.changes.length;
    const d = await decide('cam1', { plate: MIRROR_PLATE, confidence: 0.91, requestId: 'e2e-allowed-1' });
    expect(d).toMatchObject({ decision: 'allowed', source: 'mirror', gate: 'main', camera: 'cam1', direction: 'entry', requestId: 'e2e-allowed-1' });
    expect(d.eventId).toBeGreaterThan(0);
    await until('the relay to close again', () => relay.changes.length >= before + 2);
    expect(relay.changes.slice(before).map((c) => [c.channel, c.state])).toEqual([
      [2, 1],
      [2, 0],
    ]);
    const row = await until('the allowed event', async () => (await api(`/api/events?q=${encodeURIComponent(MIRROR_PLATE)}&decision=allowed`)).rows.find((r: any) => r.id === d.eventId));
    expect(row).toMatchObject({ decision: 'allowed', source: 'mirror', camera: 'cam1', requestId: 'e2e-allowed-1' });
  });

  test('an unknown plate is refused (E-Poselok online says no), does not touch the relay, and is recorded with its reason', async () => {
    const before = relay.requests.length;
    const d = await decide('cam1', 'E987KX199');
    expect(d).toMatchObject({ decision: 'denied', plate: 'E987KX199' });
    expect(d.reason).toBeTruthy();
    await new Promise((r) => setTimeout(r, 300));
    expect(relay.requests.length).toBe(before);
    const row = await until('the denied event', async () => (await api('/api/events?q=E987KX199')).rows.find((r: any) => r.id === d.eventId));
    expect(row).toMatchObject({ decision: 'denied', reason: d.reason });
  });

  test('a plate only E-Poselok online knows is allowed by the online check', async () => {
    epos.setPasses({ ...epos.passes, AllowedList2: [...(epos.passes.AllowedList2 ?? []), { Number: '999', Plate: ONLINE_ONLY } as any] });
    const d = await decide('cam1', ONLINE_ONLY);
    expect(d).toMatchObject({ decision: 'allowed', source: 'online' });
  });

  test('a digits-only temporary pass admits a car whose plate has those digits', async () => {
    const { pass } = await api('/api/passes/temporary', { method: 'POST', body: JSON.stringify({ digits: '642', house: '12', note: 'e2e', preset: 'today' }) });
    expect(pass.id).toBeTruthy();
    await until('the barrier to be closed after the previous pulse', () => relay.channelState(2) === 0);
    const before = relay.changes.length;
    const d = await decide('cam1', { plate: 'М642КХ750', requestId: 'e2e-temp-1' });
    expect(d).toMatchObject({ decision: 'allowed', source: 'temporary', house: '12' });
    await until('the relay to open', () => relay.changes.slice(before).some((c) => c.state === 1));
  });

  test('a camera mapped to the wicket opens the Sokol panel, not the barrier', async () => {
    const before = relay.requests.length;
    const sokolBefore = sokol.requests.length;
    const d = await decide('cam3', { plate: MIRROR_PLATE, requestId: 'e2e-wicket-1' }, 'wicket');
    expect(d).toMatchObject({ decision: 'allowed', gate: 'wicket' });
    await until('the Sokol relay request', () => sokol.requests.length > sokolBefore);
    expect(relay.requests.length).toBe(before);
  });

  test('a second read of the same car within the repeat window is a repeat, carries the first outcome and does not pulse again', async () => {
    await until('the barrier to be closed after the previous pulses', () => relay.channelState(2) === 0);
    epos.setPasses({ ...epos.passes, AllowedList2: [...(epos.passes.AllowedList2 ?? []), { Number: '717', Plate: 'Т717ТТ77' } as any] });
    const first = await decide('cam2', { plate: 'Т717ТТ77', requestId: 'e2e-repeat-0' });
    expect(first).toMatchObject({ decision: 'allowed', direction: 'exit' });
    await until('the pulse to end', () => relay.channelState(2) === 0 && relay.changes.length > 0);
    const opens = relay.changes.filter((c) => c.state === 1).length;
    const d = await decide('cam2', { plate: 'Т717ТТ77', requestId: 'e2e-repeat-1' });
    expect(d).toMatchObject({ decision: 'repeat' });
    await new Promise((r) => setTimeout(r, 300));
    expect(relay.changes.filter((c) => c.state === 1).length).toBe(opens);
  });

  describe('bad payloads are refused with a reason, recorded, and never stall the flow', () => {
    const cases: Array<[string, string, string | Buffer, RegExp]> = [
      ['empty', 'cam1', '', /empty/],
      ['blanks', 'cam1', '   ', /empty/],
      ['binary', 'cam1', Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x02, 0x9c]), /binary/],
      ['over 64 KB', 'cam1', 'A'.repeat(70 * 1024), /64 KB|too large/],
      ['invalid JSON', 'cam1', '{"plate": "A123', /invalid JSON/i],
      ['a JSON array', 'cam1', '["A123BC77"]', /wrong type|JSON/i],
      ['plate of a wrong type', 'cam1', '{"plate": 123456789012345678901234567890123456789012345678901234567890123456789}', /plate|wrong type/i],
      ['confidence of a wrong type', 'cam1', '{"plate": "A123BC77", "confidence": "high"}', /confidence/],
      ['no plate in the text', 'cam1', '!!!', /plate/i],
      ['unknown camera', 'cam-unknown', 'A123BC77', /unknown camera/],
    ];
    test.each(cases)('%s', async (_name, camera, payload, reason) => {
      const d = await decide(camera, payload);
      expect(d.decision).toBe('rejected');
      expect(d.reason).toMatch(reason);
      // the event is written in the background, just after the decision goes out
      const row = await until('the rejected event', async () => (await api('/api/events?decision=rejected&limit=20')).rows.find((r: any) => r.id === d.eventId));
      expect(row.reason).toBe(d.reason);
    });

    test('after all of them the next good plate is decided as usual and the runtime is healthy', async () => {
      const d = await decide('cam2', { plate: 'Т111ТТ11', requestId: 'e2e-after-bad' });
      expect(d.decision).toBe('denied');
      expect((await fetch(rt.url + '/api/health')).status).toBe(200);
    });
  });
});

describe('a deploy in the middle of a plate stream', () => {
  test("a full redeploy of the flows mid-stream: the broker keeps the plates for the flows' persistent session", async () => {
    const h = { ...rt.basicAuth(), 'Node-RED-API-Version': 'v2' };
    const current = await (await fetch(`${rt.url}/admin/flows`, { headers: h })).json();
    const ids = Array.from({ length: 100 }, (_, i) => `e2e-deploy-${i}`);
    const from = seen.messages.length;
    let deployed: Promise<Response> | null = null;
    for (let i = 0; i < ids.length; i++) {
      await publish('gatepost/lpr/cam2', JSON.stringify({ plate: `У${String(100 + i)}УУ${10 + (i % 80)}`, requestId: ids[i] }));
      if (i === 10) {
        deployed = fetch(`${rt.url}/admin/flows`, {
          method: 'POST',
          headers: { ...h, 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
          body: JSON.stringify({ rev: current.rev, flows: current.flows }),
        });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await deployed!).status).toBe(200);
    // Without the persistent session every plate published while the flows restart is lost (tens of
    // them at this rate). With it, the broker keeps them; what can still be lost is what the old mqtt
    // in node had received (and acknowledged) at the instant the flows stopped — one plate in every
    // run here; two are allowed for a loaded CI machine.
    const lastId = ids[ids.length - 1];
    const rows = await until(
      'the last plate to be recorded',
      async () => {
        const ev = await api('/api/events?camera=cam2&limit=1000');
        return ev.rows.some((r: any) => r.requestId === lastId) ? ev.rows : null;
      },
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const recorded = new Set((await api('/api/events?camera=cam2&limit=1000')).rows.map((r: any) => r.requestId));
    expect(rows.length).toBeGreaterThan(0);
    expect(ids.filter((id) => !recorded.has(id)).length).toBeLessThanOrEqual(2);
    const got = new Set(seen.messages.slice(from).map((m: Msg) => JSON.parse(m.payload).requestId));
    expect(ids.filter((id) => !got.has(id)).length).toBeLessThanOrEqual(3);
  });
});

describe('gatepost-lpr (the command an LPR program runs)', () => {
  const lprEnv = () => ({ GATEPOST_LPR_URL: rt.mqttUrl, GATEPOST_LPR_USERNAME: 'lpr', GATEPOST_LPR_PASSWORD: rt.lprPassword, GATEPOST_LPR_CAMERA: 'cam2' });

  test('gatepost up: exit 0 for an allowed plate, 1 for a denied one, 2 for a rejected one', async () => {
    const a = await runLpr(['Р404РР04', '--camera', 'cam1', '--json'], lprEnv());
    expect(a.code).toBe(1);
    epos.setPasses({ ...epos.passes, AllowedList2: [...(epos.passes.AllowedList2 ?? []), { Number: '404', Plate: 'К404КК04' } as any] });
    const b = await runLpr(['К404КК04', '--camera', 'cam1', '--json'], lprEnv());
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout.trim().split('\n').pop()!)).toMatchObject({ decision: 'allowed', source: 'online' });
    const c = await runLpr(['!!!', '--camera', 'cam1'], lprEnv());
    expect(c.code).toBe(2);
    expect(a.stderr + b.stderr + c.stderr).not.toContain(rt.lprPassword);
  });

  test('gatepost down: the direct path asks E-Poselok and pulses the relay itself; the passage is recorded once gatepost is back', async () => {
    const info = { dataDir: rt.dataDir, known: { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword }, mqttPort: rt.mqttPort };
    const env = lprEnv();
    await end(lpr);
    await rt.stop();
    const direct = {
      ...env,
      GATEPOST_LPR_CONNECT_TIMEOUT_MS: '500',
      GATEPOST_LPR_PULSE_MS: '300',
      GATEPOST_RELAY_URL: relay.url,
      GATEPOST_RELAY_TOKEN: relay.token,
      GATEPOST_RELAY_CHANNEL: '2',
      GATEPOST_EPOSELOK_NAME: epos.settlement,
      GATEPOST_EPOSELOK_TOKEN: epos.token,
      GATEPOST_EPOSELOK_CAMID: 'e2e-cam',
      GATEPOST_EPOSELOK_CHECK_URL: epos.checkUrl,
    };
    const before = relay.changes.length;
    const r = await runLpr([MIRROR_PLATE, '--camera', 'cam1'], direct);
    expect(r.stderr).toMatch(/direct path/);
    expect(r.code).toBe(0);
    expect(relay.changes.slice(before).map((c) => [c.channel, c.state])).toEqual([
      [2, 1],
      [2, 0],
    ]);
    const denied = await runLpr(['Х321ХХ21', '--camera', 'cam1'], direct);
    expect(denied.code).toBe(1);
    const queue = fs.readFileSync(path.join(tmp, 'lpr-queue.jsonl'), 'utf8').trim().split('\n');
    expect(queue).toHaveLength(2);

    // gatepost is back (same data dir): --flush hands the queue over, the passages become events
    rt = await startGatepost({ dataDir: info.dataDir, known: info.known, env: site.env() });
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'e2e-lpr-2' });
    seen = collector(lpr);
    await subscribe(lpr, 'gatepost/decision/#');
    await untilFlowTakesPlates(lpr);
    const f = await runLpr(['--flush'], { ...env, GATEPOST_LPR_URL: rt.mqttUrl });
    expect(f.code).toBe(0);
    expect(fs.existsSync(path.join(tmp, 'lpr-queue.jsonl')) ? fs.readFileSync(path.join(tmp, 'lpr-queue.jsonl'), 'utf8').trim() : '').toBe('');
    const rows = await until('the fallback passages in the events', async () => {
      const ev = await api(`/api/events?q=${encodeURIComponent(MIRROR_PLATE)}&source=online`);
      return ev.rows.find((x: any) => /fallback/.test(x.reason)) ? ev.rows : null;
    });
    expect(rows.find((x: any) => /fallback/.test(x.reason))).toMatchObject({ decision: 'allowed', source: 'online' });
    const deniedRows = await until('the fallback denial in the events', async () => {
      const found = (await api('/api/events?q=X321XX21')).rows.filter((x: any) => /fallback/.test(x.reason));
      return found.length ? found : null;
    });
    await new Promise((r) => setTimeout(r, 300)); // a second copy, if any, would be there by now
    expect(deniedRows).toHaveLength(1);
    expect(deniedRows[0].decision).toBe('denied');
  });
});

describe('Frigate plate reads through the flow\u2019s Frigate group (enabled)', () => {
  let frt: GatepostHandle;
  let flowsDir: string;
  let admin: MqttClient;

  beforeAll(async () => {
    // the shipped flows with the two Frigate `mqtt in` nodes enabled, as an integrator does in the editor
    flowsDir = path.join(tmp, 'flows-frigate');
    fs.mkdirSync(flowsDir, { recursive: true });
    for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) {
      const nodes = JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', f), 'utf8'));
      for (const n of nodes) if (n.type === 'mqtt in' && /^frigate\//.test(n.topic)) delete n.d;
      fs.writeFileSync(path.join(flowsDir, f), JSON.stringify(nodes));
    }
    frt = await startGatepost({ flowsDir, env: { ...site.env(), GATEPOST_FRIGATE_CAMERAS: 'gate_cam=main:entry', GATEPOST_FRIGATE_ZONES: 'gate_zone' } });
    admin = await connect(frt.mqttUrl, { ...frt.internalMqtt(), clientId: 'e2e-frigate' });
    await subscribe(admin, 'gatepost/decision/#');
    await untilFlowTakesPlates(admin);
  });
  afterAll(async () => {
    await end(admin);
    if (frt) {
      await frt.stop();
      frt.cleanup();
    }
  });

  test('tracked_object_update (type lpr) and events with recognized_license_plate in the zone become decisions; outside the zone nothing', async () => {
    const col = collector(admin);
    const pub = (topic: string, o: unknown) => new Promise<void>((r, j) => admin.publish(topic, JSON.stringify(o), { qos: 1 }, (e) => (e ? j(e) : r())));
    const now = Date.now() / 1000;
    // tracked_object_update carries no zones: the read waits until frigate/events shows the object in the zone
    await pub('frigate/tracked_object_update', { type: 'lpr', id: `${now}-aaa111`, name: null, plate: MIRROR_PLATE, score: 0.92, camera: 'gate_cam', timestamp: now });
    await new Promise((r) => setTimeout(r, 300));
    expect(col.messages.filter((m) => m.topic.startsWith('gatepost/decision/'))).toEqual([]);
    await pub('frigate/events', {
      type: 'update',
      before: {},
      after: { id: `${now}-aaa111`, camera: 'gate_cam', label: 'car', frame_time: now, start_time: now, current_zones: ['gate_zone'], entered_zones: ['gate_zone'] },
    });
    const a = JSON.parse((await col.wait((m) => m.topic === 'gatepost/decision/main' && m.payload.includes('O971YA18'))).payload);
    expect(a).toMatchObject({ decision: 'allowed', source: 'mirror', gate: 'main', direction: 'entry' });
    const ev = (zones: string[], id: string, plate: string) => ({
      type: 'update',
      before: {},
      after: {
        id,
        camera: 'gate_cam',
        label: 'car',
        frame_time: now,
        start_time: now,
        current_zones: zones,
        entered_zones: zones,
        recognized_license_plate: plate,
        recognized_license_plate_score: 0.88,
      },
    });
    await pub('frigate/events', ev(['street'], `${now}-bbb222`, 'С222СС22'));
    await pub('frigate/events', ev(['gate_zone'], `${now}-ccc333`, 'Е333ЕЕ33'));
    const b = JSON.parse((await col.wait((m) => m.topic === 'gatepost/decision/main' && m.payload.includes('E333EE33'))).payload);
    expect(b).toMatchObject({ decision: 'denied', gate: 'main' });
    expect(col.messages.some((m) => m.payload.includes('C222CC22'))).toBe(false);
  });

  test('a Frigate read from 10 minutes ago (a backlog) is denied as a stale read and opens nothing', async () => {
    const col = collector(admin);
    const pub = (topic: string, o: unknown) => new Promise<void>((r, j) => admin.publish(topic, JSON.stringify(o), { qos: 1 }, (e) => (e ? j(e) : r())));
    await until('the barrier to be closed', () => relay.channelState(2) === 0);
    const opens = relay.changes.filter((c) => c.state === 1).length;
    const then = Date.now() / 1000 - 600;
    await pub('frigate/events', {
      type: 'update',
      before: {},
      after: {
        id: `${then}-old999`,
        camera: 'gate_cam',
        label: 'car',
        frame_time: then,
        start_time: then,
        current_zones: ['gate_zone'],
        entered_zones: ['gate_zone'],
        recognized_license_plate: MIRROR_PLATE,
        recognized_license_plate_score: 0.9,
      },
    });
    const d = JSON.parse((await col.wait((m) => m.topic === 'gatepost/decision/main' && m.payload.includes('O971YA18'))).payload);
    expect(d).toMatchObject({ decision: 'denied', gate: 'main' });
    expect(d.reason).toMatch(/^stale read: taken 6\d\d s ago \(max 30 s\)$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(relay.changes.filter((c) => c.state === 1).length).toBe(opens);
  });
});
