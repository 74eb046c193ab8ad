/**
 * The iVMS access log as an integrator sees it: the built runtime boots the SHIPPED flow
 * flows/access-log.json and the example examples/ivms-attlog.json, their sources pointed (by the
 * GATEPOST_IVMS_* / GATEPOST_EXAMPLE_IVMS_* variables) at the TDS server on 127.0.0.1 — the real
 * `mssql` driver inside the runtime. Rows inserted at the source (mojibake, back-filled serials
 * included) appear once in /api/events?kind=card with clean names, on MQTT `gatepost/access/<door>`,
 * and /api/stream (`event`), and the reader state on `gatepost/ivms/state` (retained) and /api/stream
 * (`ivms-state`). (The host-unset "not configured" status: tests/faults/ivms.test.ts; every shipped
 * flow and example booted with it unset: tests/e2e/plate-safety.test.ts.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { TdsEmulator } from '../../src/emulators/tds';
import { garble } from '../../src/core/mojibake';

jest.setTimeout(120_000);

const OPS = { username: 'ops', password: 'ops-secret-ivms' };
const DB_USER = 'gatepost';
const DB_PASSWORD = 'ivms-db-secret-9';
const EX_COLUMNS = { personName: 'name' };

let emu: TdsEmulator;
let rt: GatepostHandle;
let mq: MqttClient;
let seen: ReturnType<typeof collector>;
let tmp: string;
const stream: string[] = [];
let streamAbort: AbortController;

const api = <T = any>(p: string): Promise<T> => apiOf<T>(rt, p);
const wallClock = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 19).replace('T', ' ');

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-ivms-'));
  emu = await new TdsEmulator({ users: { [DB_USER]: DB_PASSWORD } }).listen();
  await emu.createAttlog();
  await emu.insertRows([
    { serialNo: 1, authDateTime: wallClock(3600_000), personName: garble('Иванов Иван'), doorName: garble('Проходная'), direction: 'vhod', cardNo: '0001', verifyMode: 'card' },
    { serialNo: 2, authDateTime: wallClock(3000_000), personName: 'Петров Пётр', doorName: 'Склад', direction: 'vihod', cardNo: '0002', verifyMode: 'card' },
    { serialNo: 4, authDateTime: wallClock(2000_000), personName: 'Smith', doorName: 'Gate/2', direction: 'vhod', cardNo: '0004', verifyMode: 'face' },
  ]);
  await emu.createAttlog('example_attlog', EX_COLUMNS);
  await emu.insertRows([{ serialNo: 1, authDateTime: wallClock(60_000), personName: 'Example Person', doorName: 'Example door', direction: 'Entrance', cardNo: '9001' }], 'example_attlog', EX_COLUMNS);

  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  fs.copyFileSync(path.join(ROOT, 'flows', 'access-log.json'), path.join(flowsDir, 'access-log.json'));
  fs.copyFileSync(path.join(ROOT, 'examples', 'ivms-attlog.json'), path.join(flowsDir, 'zz-example-ivms-attlog.json'));
  rt = await startGatepost({
    flowsDir,
    mqttUsers: `${OPS.username}:${OPS.password}:operator`,
    env: {
      TZ: 'UTC',
      GATEPOST_TZ: 'UTC',
      GATEPOST_IVMS_HOST: '127.0.0.1',
      GATEPOST_IVMS_PORT: String(emu.port),
      GATEPOST_IVMS_DATABASE: 'thirdparty',
      GATEPOST_IVMS_TABLE: 'dbo.attlog',
      GATEPOST_IVMS_USER: DB_USER,
      GATEPOST_IVMS_PASSWORD: DB_PASSWORD,
      GATEPOST_IVMS_ENCRYPT: 'false',
      GATEPOST_EXAMPLE_IVMS_HOST: '127.0.0.1',
      GATEPOST_EXAMPLE_IVMS_PORT: String(emu.port),
      GATEPOST_EXAMPLE_IVMS_TABLE: 'example_attlog',
      GATEPOST_EXAMPLE_IVMS_USER: DB_USER,
      GATEPOST_EXAMPLE_IVMS_PASSWORD: DB_PASSWORD,
    },
  });
  mq = await connect(rt.mqttUrl, { username: OPS.username, password: OPS.password, clientId: 'ivms-e2e-ops' });
  seen = collector(mq);
  await subscribe(mq, 'gatepost/access/#');
  await subscribe(mq, 'gatepost/ivms/state');
  streamAbort = new AbortController();
  const res = await fetch(`${rt.url}/api/stream`, { headers: rt.basicAuth(), signal: streamAbort.signal });
  void (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) stream.push(dec.decode(chunk, { stream: true }));
    } catch {
      /* aborted at the end */
    }
  })();
});

afterAll(async () => {
  streamAbort?.abort();
  await end(mq);
  await rt?.stop();
  rt?.cleanup();
  await emu?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the shipped flow ingests the table: clean names, kinds, the door as the access point; the example reads its own mapped table', async () => {
  const all = await waitFor(
    'the 4 rows in /api/events',
    async () => {
      const r = await api<{ rows: any[]; total: number }>('/api/events?limit=100');
      return r.total >= 4 ? r : null;
    },
    20_000,
  );
  const byName = Object.fromEntries(all.rows.map((e) => [e.personName, e]));
  expect(byName['Иванов Иван']).toMatchObject({ kind: 'card', gate: 'Проходная', credential: '0001' });
  expect(byName['Петров Пётр']).toMatchObject({ kind: 'card', gate: 'Склад' });
  expect(byName['Smith']).toMatchObject({ kind: 'face' });
  expect(byName['Example Person']).toMatchObject({ gate: 'Example door', credential: '9001' });
  const cards = await api<{ rows: any[]; total: number }>('/api/events?kind=card&limit=100');
  expect(cards.total).toBe(3);
});

test('a row inserted at the source appears on gatepost/access/<door> and in /api/events; a back-filled serial is found by the rescan; the state is retained', async () => {
  await emu.insertRows([{ serialNo: 5, authDateTime: wallClock(0), personName: garble('Козлова Инна'), doorName: garble('Проходная'), direction: 'vihod', cardNo: '0005', verifyMode: 'card' }]);
  const m = await seen.wait((x) => x.topic === 'gatepost/access/Проходная' && JSON.parse(x.payload).personName === 'Козлова Инна', 10_000);
  expect(m.retain).toBe(false);
  expect(JSON.parse(m.payload)).toMatchObject({ kind: 'card', gate: 'Проходная', credential: '0005' });
  // the same event and the reader's state on /api/stream
  await waitFor('the event and ivms-state on /api/stream', () => {
    const text = stream.join('');
    return text.includes('"credential":"0005"') && /event: ivms-state\ndata: \{[^\n]*"lastSerial":5/.test(text);
  });
  // a door name with '/' is one topic level
  expect(seen.messages.some((x) => x.topic === 'gatepost/access/Gate_2')).toBe(true);

  // serial 3 back-filled late (below the high-water mark 5)
  await emu.insertRows([{ serialNo: 3, authDateTime: wallClock(2500_000), personName: 'Late Row', doorName: 'Склад', direction: 'vhod', cardNo: '0003', verifyMode: 'card' }]);
  await waitFor('the back-filled row', async () => (await api<{ total: number }>('/api/events?person=Late%20Row')).total === 1, 90_000, 500);

  const state = await seen.wait((x) => x.topic === 'gatepost/ivms/state' && JSON.parse(x.payload).lastSerial === 5 && JSON.parse(x.payload).source === 'ivms_sql');
  expect(JSON.parse(state.payload)).toMatchObject({ connected: true, lastError: null });
  // retained: a client connecting now gets it at once
  const late = await connect(rt.mqttUrl, { username: OPS.username, password: OPS.password, clientId: 'ivms-e2e-late' });
  try {
    const c = collector(late);
    await subscribe(late, 'gatepost/ivms/state');
    const r = await c.wait((x) => x.topic === 'gatepost/ivms/state');
    expect(r.retain).toBe(true);
    expect(JSON.parse(r.payload)).toHaveProperty('connected', true);
  } finally {
    await end(late);
  }
  // nothing twice
  const total = (await api<{ total: number }>('/api/events?kind=card&limit=1')).total;
  expect(total).toBe(5);
  // the password never reached the log
  const log = fs.readFileSync(path.join(rt.dataDir, 'logs', 'gatepost.log'), 'utf8');
  expect(log).not.toContain(DB_PASSWORD);
}, 120_000);
