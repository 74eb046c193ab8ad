/**
 * Plate decisions exactly as configured, judged from outside as an integrator would (the
 * plate-safety issue): the built runtime boots the SHIPPED flows (flows/*.json) together with
 * EVERY file in examples/, on the project's device emulators on 127.0.0.1, and is driven over MQTT,
 * REST and the admin API (deploys, inject buttons) like the editor does.
 *  - near misses of a listed plate (one digit, one letter, the region) are denied and never pulse;
 *  - stale reads and clock skew are denied, published and recorded, never pulsed;
 *  - the examples use their own gates (example-barrier = relay channel 4, example-wicket = Sokol
 *    relay 2) and never decide live plates twice;
 *  - a deployed config node that defines the site's gate id `main` again is refused, logged, and the
 *    barrier keeps working with the site's relay; deleting that tab changes nothing.
 */
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

const LISTED = 'О971УА18'; // in the emulator's E-Poselok list → mirrored at the first sync
const BARRIER_CHANNEL = 2;
const EXAMPLE_CHANNEL = 4;

let site: Site;
let relay: ClGate;
let sokol: Sokol;
let epos: EposelokEmulator;
let rt: GatepostHandle;
let lpr: MqttClient;
let seen: ReturnType<typeof collector>;
let tmp: string;
let flowsDir: string;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);

const until = <T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> => waitFor(what, fn, timeoutMs);

let n = 0;
/** Publishes a JSON plate with a fresh requestId and returns its decision from gatepost/decision/<gate>. */
async function decide(plate: string, extra: Record<string, unknown> = {}, camera = 'cam1', gate = 'main'): Promise<any> {
  const requestId = `safety-${++n}`;
  await new Promise<void>((resolve, reject) => lpr.publish(`gatepost/lpr/${camera}`, JSON.stringify({ plate, requestId, ...extra }), { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  const m = await until(`the decision for ${plate}`, () => seen.messages.find((x: Msg) => x.topic === `gatepost/decision/${gate}` && JSON.parse(x.payload).requestId === requestId));
  return JSON.parse(m.payload);
}

const opensOn = (channel: number) => relay.changes.filter((c) => c.channel === channel && c.state === 1).length;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-safety-'));
  // the shipped flows, then every example as an integrator imports it (appended after the site's flows)
  flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) fs.copyFileSync(path.join(ROOT, 'examples', f), path.join(flowsDir, `zz-example-${f}`));
  site = await startSite({ name: 'safety', barrierChannel: BARRIER_CHANNEL, pulseS: 0.3, cameras: 'cam1=main:entry,cam3=wicket' });
  ({ relay, sokol, epos } = site);
  rt = await startGatepost({
    flowsDir,
    // what demo mode sets for the examples: their own channel / relay of the emulated devices
    env: site.env({
      GATEPOST_EXAMPLE_RELAY_URL: relay.url,
      GATEPOST_EXAMPLE_RELAY_TOKEN: relay.token,
      GATEPOST_EXAMPLE_RELAY_CHANNEL: String(EXAMPLE_CHANNEL),
      GATEPOST_EXAMPLE_SOKOL_URL: sokol.url,
      GATEPOST_EXAMPLE_SOKOL_USER: 'root',
      GATEPOST_EXAMPLE_SOKOL_PASSWORD: 'sokol-pw',
      GATEPOST_EXAMPLE_SOKOL_RELAY: '2',
    }),
  });
  lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'safety-lpr' });
  seen = collector(lpr);
  await subscribe(lpr, 'gatepost/decision/#');
  await untilFlowTakesPlates(lpr);
  await until('the first E-Poselok sync', async () => (await api('/api/eposelok/state')).count > 0, 20_000);
});

afterAll(async () => {
  if (lpr) await end(lpr);
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await site?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('shipped flows + every example: plates decided exactly as configured', () => {
  test('the shipped flows and every example start without an error and with every node type installed', () => {
    const out = rt.output();
    expect(out).toMatch(/gatepost ready in \d+ ms/); // the runtime's own log is what is read here
    expect(out).not.toMatch(/missing (node )?types|Waiting for missing types|Unknown type/i);
    expect(out.split('\n').filter((l) => /\bERROR\b/.test(l))).toEqual([]);
  });

  test('the flows really are the shipped ones plus every example, and the listed plate opens the barrier once', async () => {
    const flows: any = await api('/admin/flows', { headers: { 'Node-RED-API-Version': 'v2' } });
    const tabs = flows.flows.filter((x: any) => x.type === 'tab').map((x: any) => x.id);
    for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) {
      const tab = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8')).find((x: any) => x.type === 'tab');
      expect(tabs).toContain(tab.id);
    }
    // the shipped plate-check carries maxEdit "1" next to policy "exact", as sites' flows do
    expect(flows.flows.find((x: any) => x.id === 'gp_plate_check')).toMatchObject({ policy: 'exact', maxEdit: '1' });

    const opens = opensOn(BARRIER_CHANNEL);
    const d = await decide(LISTED);
    expect(d).toMatchObject({ decision: 'allowed', source: 'mirror', policy: 'exact', gate: 'main' });
    await until('the barrier pulse', () => opensOn(BARRIER_CHANNEL) === opens + 1);
    // decided once: the example plate-check does not take live plates
    const rows = await until('the event', async () => {
      const r = (await api(`/api/events?q=${encodeURIComponent(LISTED)}&limit=50`)).rows.filter((x: any) => x.requestId === d.requestId);
      return r.length ? r : null;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await api(`/api/events?q=${encodeURIComponent(LISTED)}&limit=50`)).rows.filter((x: any) => x.requestId === d.requestId)).toHaveLength(rows.length);
    expect(rows).toHaveLength(1);
    await until('the barrier to close', () => relay.channelState(BARRIER_CHANNEL) === 0);
  });

  const NEAR = [
    ['one digit', 'О978УА18'],
    ['one letter', 'О971УК18'],
    ['one letter (Latin look-alike mixed in)', 'O971YB18'],
    ['the region, one digit', 'О971УА19'],
    ['another region', 'О971УА77'],
    ['a three-digit region', 'О971УА118'],
    ['a digit missing', 'О97УА18'],
  ];
  test.each(NEAR)('a near miss (%s: %s) is denied, recorded and never pulses', async (_what, plate) => {
    const opens = opensOn(BARRIER_CHANNEL);
    const requests = relay.requests.length;
    const d = await decide(plate);
    expect(d).toMatchObject({ decision: 'denied', source: 'none' });
    expect(d.policy).toBeUndefined();
    const row = await until('the denied event', async () => (await api(`/api/events?decision=denied&limit=50`)).rows.find((r: any) => r.id === d.eventId));
    expect(row).toMatchObject({ decision: 'denied' });
    await new Promise((r) => setTimeout(r, 200));
    expect(opensOn(BARRIER_CHANNEL)).toBe(opens);
    expect(relay.requests.length).toBe(requests);
  });

  test('stale reads (10 and 60 min old) and clock skew are denied with the reason, published and recorded, never pulsed', async () => {
    await until('the barrier to be closed', () => relay.channelState(BARRIER_CHANNEL) === 0);
    const opens = opensOn(BARRIER_CHANNEL);
    for (const min of [10, 60]) {
      const d = await decide(LISTED, { ts: Date.now() - min * 60_000 });
      expect(d).toMatchObject({ decision: 'denied', plate: 'O971YA18' });
      expect(d.reason).toMatch(/^stale read: taken \d+ s ago \(max 30 s\)$/);
      const row = await until('the stale event', async () => (await api(`/api/events?decision=denied&limit=50`)).rows.find((r: any) => r.id === d.eventId));
      expect(row.reason).toBe(d.reason);
    }
    // epoch seconds, as some LPR products send
    const sec = await decide(LISTED, { ts: Math.floor(Date.now() / 1000) - 600 });
    expect(sec.reason).toMatch(/^stale read/);
    const skew = await decide(LISTED, { ts: new Date(Date.now() + 10 * 60_000).toISOString() });
    expect(skew).toMatchObject({ decision: 'denied', reason: expect.stringMatching(/^clock skew/) });
    await new Promise((r) => setTimeout(r, 300));
    expect(opensOn(BARRIER_CHANNEL)).toBe(opens);
    // a fresh read right after: allowed (the stale ones opened no repeat window), pulsed
    const fresh = await decide(LISTED, { ts: Date.now() - 1000 }, 'cam1');
    expect(fresh.decision === 'allowed' || fresh.decision === 'repeat').toBe(true);
  });

  test("the examples' inject buttons drive their own gates only (relay channel 4, Sokol relay 2), never the site's", async () => {
    await until('the barrier to be closed', () => relay.channelState(BARRIER_CHANNEL) === 0);
    const barrier = opensOn(BARRIER_CHANNEL);
    const gates: any = await api('/api/gates');
    const ids = (Array.isArray(gates) ? gates : gates.gates).map((g: any) => g.gate ?? g.id);
    expect(ids).toEqual(expect.arrayContaining(['main', 'wicket', 'example-barrier', 'example-wicket']));
    const example = opensOn(EXAMPLE_CHANNEL);
    const press = (id: string) => fetch(`${rt.url}/admin/inject/${id}`, { method: 'POST', headers: rt.basicAuth() });
    expect((await press('sarapul-relay-open')).status).toBe(200);
    await until('the example relay channel to open', () => opensOn(EXAMPLE_CHANNEL) === example + 1);
    const sokolBefore = sokol.requests.length;
    expect((await press('sokol-door-open')).status).toBe(200);
    await until('the example Sokol relay', () => sokol.requests.slice(sokolBefore).some((r: any) => /\/relay\/2\/open/.test(r.url)));
    expect(sokol.requests.slice(sokolBefore).some((r: any) => /\/relay\/1\/open/.test(r.url))).toBe(false);
    // the example plate-check decides for its own gate
    expect((await press('plate-check-inject-text')).status).toBe(200);
    const ev = await until('the example decision', async () => (await api('/api/events?limit=20')).rows.find((r: any) => r.gate === 'example-gate' && r.camera === 'example-cam'));
    expect(ev.plate).toBe('B663KT777');
    await new Promise((r) => setTimeout(r, 300));
    expect(opensOn(BARRIER_CHANNEL)).toBe(barrier);
  });

  test('a deployed config node defining gate "main" again is refused and logged; the site barrier keeps its relay; deleting the tab changes nothing', async () => {
    const h = { ...rt.basicAuth(), 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2' };
    const current = await (await fetch(`${rt.url}/admin/flows`, { headers: h })).json();
    const intruder = [
      { id: 'dup_tab', type: 'tab', label: 'duplicate main', disabled: false, info: '' },
      {
        id: 'dup_gate',
        type: 'gatepost-gate',
        name: 'Copied barrier',
        gateId: 'main',
        kind: 'barrier',
        driver: 'sarapul-relay',
        url: 'http://127.0.0.1:9',
        channel: '1',
        relay: '1',
        pulse: '6',
        timeout: '1',
      },
      {
        id: 'dup_open',
        type: 'inject',
        z: 'dup_tab',
        name: 'open',
        props: [{ p: 'payload' }],
        payload: 'open',
        payloadType: 'str',
        repeat: '',
        crontab: '',
        once: false,
        topic: '',
        x: 100,
        y: 40,
        wires: [['dup_relay']],
      },
      { id: 'dup_relay', type: 'sarapul-relay', z: 'dup_tab', name: '', gate: 'dup_gate', x: 300, y: 40, wires: [[]] },
    ];
    const dep = await fetch(`${rt.url}/admin/flows`, {
      method: 'POST',
      headers: { ...h, 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify({ rev: current.rev, flows: [...current.flows, ...intruder] }),
    });
    expect(dep.status).toBe(200);
    await rt.waitForOutput(/gate id "main" is already defined by gatepost-gate "Шлагбаум" \(gp_gate_main\)/, 20_000);
    await untilFlowTakesPlates(lpr);
    // the guard screen's gate is the site's, not in fault
    const main = await until('gate main', async () => ((await api('/api/gates')) as any[]).find((g: any) => g.gate === 'main'));
    expect(main).toMatchObject({ name: 'Шлагбаум', state: 'closed', lastError: null });
    // the duplicate's button does nothing to the barrier: its node refuses (the gate is not its own)
    const before = relay.requests.length;
    expect((await fetch(`${rt.url}/admin/inject/dup_open`, { method: 'POST', headers: rt.basicAuth() })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(relay.requests.length).toBe(before);
    // an allowed plate pulses the site's relay with the site's token
    await until('the barrier to be closed', () => relay.channelState(BARRIER_CHANNEL) === 0);
    const opens = opensOn(BARRIER_CHANNEL);
    epos.setPasses({ ...epos.passes, AllowedList2: [...(epos.passes.AllowedList2 ?? []), { Number: '5', Plate: 'Р505РР50' } as any] });
    const d = await decide('Р505РР50');
    expect(d).toMatchObject({ decision: 'allowed', source: 'online' });
    await until('the pulse on the site relay', () => opensOn(BARRIER_CHANNEL) === opens + 1);

    // delete the intruder's tab and its config node: the site's gate stays defined and closed
    const again = await (await fetch(`${rt.url}/admin/flows`, { headers: h })).json();
    const kept = again.flows.filter((x: any) => !x.id.startsWith('dup_'));
    const dep2 = await fetch(`${rt.url}/admin/flows`, { method: 'POST', headers: { ...h, 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ rev: again.rev, flows: kept }) });
    expect(dep2.status).toBe(200);
    await untilFlowTakesPlates(lpr);
    const after = await until('gate main after the delete', async () => ((await api('/api/gates')) as any[]).find((g: any) => g.gate === 'main'));
    expect(after).toMatchObject({ name: 'Шлагбаум', lastError: null });
  });
});
