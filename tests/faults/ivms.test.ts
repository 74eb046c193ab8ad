/**
 * iVMS source faults, on the real nodes (ivms-sql + ivms-attlog under node-red-node-test-helper),
 * the TDS server on 127.0.0.1 (the real `mssql` driver) and a real sqlite file: login refused, the
 * connection dropped in the middle of a result, slow answers, a server error, SQL Server down and
 * back. After each: every source row stored exactly once, the status and 'ivms-state' truthful,
 * the degraded entry `ivms:<source>` set while unreachable and cleared after, the reconnects spaced
 * by the backoff, the local history usable meanwhile.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { sink, until } from '../helpers/node-red';
import { reportFault } from '../helpers/faults';
import { Hub } from '../../src/services/hub';
import { eventsOf } from '../../src/services/events-service';
import { degradedOf } from '../../src/services/degraded';
import { accessLogOf } from '../../src/services/access-log-service';
import { TdsEmulator } from '../../src/emulators/tds';
import type { IvmsState } from '../../src/core/contracts';

helper.init(require.resolve('node-red'));
const sqlNode = require('../../nodes/ivms-sql/ivms-sql');
const attlogNode = require('../../nodes/ivms-attlog/ivms-attlog');

jest.setTimeout(60_000);

const USER = 'ivms';
const PASSWORD = 'fault-pass-7';

describe('iVMS source faults', () => {
  let dir: string;
  let dbPath: string;
  let emu: TdsEmulator;
  let states: IvmsState[];
  let offState: (() => void) | null = null;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ivms-faults-'));
    dbPath = path.join(dir, 'n.db');
    helper.settings({ gatepost: { dbPath, timezone: 'UTC' } } as any);
    emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
    await emu.createAttlog();
    states = [];
    offState = hubOf().on('ivms-state', (s) => states.push(s));
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    offState?.();
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const hubOf = () => Hub.open({ dbPath, timezone: 'UTC' });
  const flow = (cfg: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab' },
    {
      id: 'src',
      type: 'ivms-sql',
      host: '127.0.0.1',
      port: String(emu.port),
      database: 'thirdparty',
      table: 'dbo.attlog',
      poll: '0.2',
      batch: '500',
      rescanHours: '2',
      columns: '{}',
      directions: '{}',
      ...cfg,
    },
    { id: 'log', z: 'tab', type: 'ivms-attlog', source: 'src', wires: [['out']] },
    { id: 'out', z: 'tab', type: 'helper' },
  ];
  const creds = { src: { user: USER, password: PASSWORD } };
  const wall = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 19).replace('T', ' ');
  const rows = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      serialNo: from + i,
      authDateTime: wall(600_000 - i),
      personName: `Person ${from + i}`,
      doorName: 'Проходная',
      direction: 'vhod',
      cardNo: String(from + i),
    }));
  const stored = async () => (await eventsOf(hubOf()).query({ kind: 'card', limit: 1 })).total;
  const statusOf = () => (helper.getNode('log') as any).status.lastCall?.args[0] as { fill: string; text: string } | undefined;
  const loginTimes = () => emu.log.filter((l) => l.kind === 'login').map((l) => l.ts);

  test('login refused: red status with the reason (no password), degraded, reconnect with backoff, then every row once', async () => {
    await emu.insertRows(rows(1, 20));
    emu.setFault({ loginRefused: true });
    await helper.load([sqlNode, attlogNode], flow(), creds);
    await until(() => statusOf()?.fill === 'red', 10_000);
    expect(statusOf()!.text).toMatch(/disconnected/);
    const st = states[states.length - 1];
    expect(st).toMatchObject({ source: 'src', connected: false });
    expect(st.lastError).toMatch(/login refused/);
    expect(st.lastError).not.toContain(PASSWORD);
    expect(
      degradedOf(hubOf())
        .list()
        .map((d) => d.what),
    ).toContain('ivms:src');
    await until(() => loginTimes().length >= 3, 10_000);
    const t = loginTimes();
    const gaps = t.slice(1).map((x, i) => x - t[i]);
    expect(gaps[1]).toBeGreaterThan(gaps[0]); // the backoff grows
    emu.clearFault();
    await until(() => statusOf()?.fill === 'green', 15_000);
    await until(() => states.some((s) => s.connected && s.lastSerial === 20), 5000);
    expect(await stored()).toBe(20);
    expect(
      degradedOf(hubOf())
        .list()
        .map((d) => d.what),
    ).not.toContain('ivms:src');
    reportFault({
      attack: 'iVMS SQL Server refuses the login, then accepts',
      tried: 1,
      survived: 1,
      lost: 20 - (await stored()),
      note: `retries ${gaps.map((g) => Math.round(g / 100) / 10).join(' → ')} s`,
    });
  });

  test('the connection dropped in the middle of a 3,000-row result, then slow answers: every row stored once', async () => {
    await emu.insertRows(rows(1, 3000));
    emu.setFault({ dropMidResult: true, count: 1 });
    await helper.load([sqlNode, attlogNode], flow({ batch: '3000' }), creds);
    const out = sink('out');
    await until(() => states.some((s) => !s.connected && /unreachable|closed|lost|socket/i.test(s.lastError ?? '')), 10_000);
    await until(() => states.some((s) => s.connected && s.lastSerial === 3000), 20_000);
    expect(await stored()).toBe(3000);
    emu.setFault({ latencyMs: 400, count: 3 });
    await emu.insertRows(rows(3001, 5));
    await until(() => states.some((s) => s.lastSerial === 3005), 10_000);
    await until(() => out.length >= 3005, 5000);
    expect(await stored()).toBe(3005);
    expect(new Set(out.map((m) => m.payload.credential)).size).toBe(3005);
    expect(statusOf()!.fill).toBe('green');
    reportFault({ attack: 'iVMS connection dropped mid-result (3,000 rows), then 3 slow answers (400 ms)', tried: 2, survived: 2, lost: 3005 - (await stored()) });
  });

  test('a server error on the next query: yellow "query failed" (still connected), then recovery without loss', async () => {
    await helper.load([sqlNode, attlogNode], flow(), creds);
    await until(() => statusOf()?.fill === 'green', 10_000);
    emu.setFault({ serverError: { number: 1205, message: 'Transaction (Process ID 51) was deadlocked' }, count: 2 });
    await emu.insertRows(rows(1, 10));
    await until(() => states.some((s) => s.connected && /1205/.test(s.lastError ?? '')), 10_000);
    await until(() => states.some((s) => s.lastSerial === 10 && s.lastError === null), 15_000);
    expect(await stored()).toBe(10);
    expect(statusOf()!.fill).toBe('green');
    reportFault({ attack: 'iVMS SQL Server answers error 1205 twice', tried: 1, survived: 1, lost: 10 - (await stored()) });
  });

  test('SQL Server down, then up: history usable meanwhile, rows written while down arrive once, status truthful, backoff', async () => {
    await emu.insertRows(rows(1, 5));
    await helper.load([sqlNode, attlogNode], flow(), creds);
    await until(() => states.some((s) => s.lastSerial === 5), 10_000);
    await emu.down();
    const downAt = Date.now();
    await until(() => statusOf()?.fill === 'red', 10_000);
    expect(states[states.length - 1]).toMatchObject({ connected: false, lastSerial: 5 });
    expect(
      degradedOf(hubOf())
        .list()
        .find((d) => d.what === 'ivms:src')?.reason,
    ).toMatch(/unreachable/);
    // the local history stays fully usable
    expect(await stored()).toBe(5);
    expect(await accessLogOf(hubOf()).highWater('src')).toBe(5);
    await emu.insertRows(rows(6, 7)); // iVMS keeps writing (its DB is up, gatepost cannot reach it)
    await new Promise((r) => setTimeout(r, 3500));
    await emu.up();
    await until(() => states.some((s) => s.connected && s.lastSerial === 12), 20_000);
    const upAfter = Date.now() - downAt;
    expect(await stored()).toBe(12);
    expect(statusOf()!.fill).toBe('green');
    expect(
      degradedOf(hubOf())
        .list()
        .map((d) => d.what),
    ).not.toContain('ivms:src');
    const errors = states.filter((s) => !s.connected).length;
    reportFault({
      attack: 'iVMS SQL Server down 3.5 s, then up',
      tried: 1,
      survived: 1,
      lost: 12 - (await stored()),
      note: `back ${(upAfter / 1000).toFixed(1)} s after the outage began (${errors} disconnected state change(s))`,
    });
  });

  test('no host: "not configured", nothing is read; an odd table name: red status, clear error, nothing sent', async () => {
    await helper.load([sqlNode, attlogNode], flow({ host: '${GATEPOST_IVMS_HOST_UNSET_FOR_TEST}' }), creds);
    await until(() => statusOf() !== undefined);
    expect(statusOf()).toMatchObject({ fill: 'grey', text: 'not configured' });
    await helper.unload();
    await helper.load([sqlNode, attlogNode], flow({ table: 'attlog; DROP TABLE attlog' }), creds);
    await until(() => statusOf() !== undefined);
    expect(statusOf()).toMatchObject({ fill: 'red', text: 'configuration invalid' });
    await new Promise((r) => setTimeout(r, 300));
    expect(emu.log).toHaveLength(0);
  });
});
