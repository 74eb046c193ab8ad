/**
 * Demo mode fills the access log: the runtime (GATEPOST_DEMO=on, the project's shipped flows and
 * examples) starts the emulated iVMS database (src/emulators/ivms-demo.ts) and points
 * flows/access-log.json at it; its 90 days of rows arrive as access events with clean names (the
 * mojibake repaired, «И» included). The dataset itself: 20 people, 4 doors, a night shift across
 * midnight, missing exits, deterministic. `npm run emulators -- ivms` starts the same database.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { demoRows, DEMO_PEOPLE, DEMO_DOORS } from '../../src/emulators/ivms-demo';
import { startEmulators } from '../../src/emulators/cli';
import { repairMojibake } from '../../src/core/mojibake';

jest.setTimeout(180_000);

test('the demo dataset: 20 people, 4 doors, 90 days, mojibake with «И», a night shift across midnight, missing exits, deterministic', () => {
  const now = Date.parse('2026-03-11T12:00:00Z');
  const rows = demoRows(now, { timezone: 'UTC' });
  expect(demoRows(now, { timezone: 'UTC' })).toEqual(rows);
  const names = new Set(rows.map((r) => repairMojibake(String(r.personName))));
  expect([...names].sort()).toEqual([...DEMO_PEOPLE].sort());
  expect(new Set(rows.map((r) => repairMojibake(String(r.doorName))))).toEqual(new Set(DEMO_DOORS));
  const days = new Set(rows.map((r) => String(r.authDateTime).slice(0, 10)));
  expect(days.size).toBeGreaterThanOrEqual(89);
  expect(rows.some((r) => r.personName !== repairMojibake(String(r.personName)) && String(repairMojibake(String(r.personName))).includes('И'))).toBe(true);
  // the night shift: an entry in the evening and the exit the next morning
  const night = rows.filter((r) => repairMojibake(String(r.personName)) === 'Соколов Дмитрий');
  expect(night.some((r) => r.direction === 'vhod' && String(r.authDateTime).slice(11, 13) === '20')).toBe(true);
  expect(night.some((r) => r.direction === 'vihod' && String(r.authDateTime).slice(11, 13) === '08')).toBe(true);
  // missing exits: a day with an entry and no exit for someone on the day shift
  const byPersonDay = new Map<string, string[]>();
  for (const r of rows) {
    const k = `${repairMojibake(String(r.personName))}|${String(r.authDateTime).slice(0, 10)}`;
    byPersonDay.set(k, [...(byPersonDay.get(k) ?? []), String(r.direction)]);
  }
  expect([...byPersonDay.entries()].some(([k, d]) => !k.startsWith('Соколов') && !k.startsWith('Егорова') && d[d.length - 1] === 'vhod' && !k.endsWith('2026-03-11'))).toBe(true);
  // nothing in the future
  expect(rows.every((r) => String(r.authDateTime) <= '2026-03-11 12:00:00')).toBe(true);
});

test('npm run emulators -- ivms: a TDS server with the demo data and a control API', async () => {
  const [r] = await startEmulators(['ivms']);
  try {
    expect(r.emu.url).toMatch(/^mssql:\/\/127\.0\.0\.1:\d+\/thirdparty \(control http:\/\/127\.0\.0\.1:\d+\)$/);
    const control = /control (http:\S+)\)/.exec(r.emu.url)![1];
    const res = await fetch(`${control}/__emulator/rows`, { method: 'POST', body: JSON.stringify({ personName: 'Added', doorName: 'Склад', direction: 'vhod' }) });
    expect(res.status).toBe(200);
    expect((await res.json()).serials).toHaveLength(1);
  } finally {
    await r.emu.close();
  }
});

describe('demo mode', () => {
  let rt: GatepostHandle;
  let tmp: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-ivmsdemo-'));
    const flowsDir = path.join(tmp, 'flows');
    fs.mkdirSync(flowsDir);
    for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
    for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) fs.copyFileSync(path.join(ROOT, 'examples', f), path.join(flowsDir, `zz-example-${f}`));
    rt = await startGatepost({ flowsDir, env: { GATEPOST_DEMO: 'on', TZ: 'Europe/Moscow', GATEPOST_TZ: 'Europe/Moscow' } });
  });
  afterAll(async () => {
    await rt?.stop();
    rt?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the access log fills from the emulated iVMS database with clean names; the example reads its own table', async () => {
    const r = await waitFor(
      'the demo access events',
      async () => {
        const x = await apiOf<{ rows: any[]; total: number }>(rt, '/api/events?kind=card&limit=1000');
        return x.total > 1000 ? x : null;
      },
      90_000,
      500,
    );
    const names = new Set(r.rows.map((e) => e.personName));
    for (const n of names) expect(DEMO_PEOPLE as readonly string[]).toContain(n);
    // stored as mojibake at the source («И» included), clean here; face besides cards
    const ilya = await apiOf<{ rows: any[]; total: number }>(rt, `/api/events?person=${encodeURIComponent('Смирнов Илья')}&limit=5`);
    expect(ilya.total).toBeGreaterThan(20);
    expect(ilya.rows[0]).toMatchObject({ personName: 'Смирнов Илья', kind: 'card' });
    const ivan = await apiOf<{ rows: any[]; total: number }>(rt, `/api/events?person=${encodeURIComponent('Иванов Иван')}&kind=face&limit=5`);
    expect(ivan.total).toBeGreaterThan(20);
    const doors = new Set(r.rows.map((e) => e.gate));
    for (const d of doors) expect(DEMO_DOORS as readonly string[]).toContain(d);
    // the example (its own table, person column `name`, directions Entrance / Exit) reads its 10 rows
    const ex = await waitFor(
      'the example source rows',
      async () => {
        const all = await apiOf<{ rows: any[] }>(rt, '/api/events?limit=1000');
        const mine = all.rows.filter((e) => String(e.requestId).startsWith('ivms:ex_ivms_sql:'));
        return mine.length === 10 ? mine : null;
      },
      30_000,
      500,
    );
    for (const e of ex) expect(DEMO_PEOPLE as readonly string[]).toContain(e.personName);
    expect(ex.every((e) => e.direction === 'entry' || e.direction === 'exit')).toBe(true);
    const log = fs.readFileSync(path.join(rt.dataDir, 'logs', 'gatepost.log'), 'utf8');
    expect(log).toMatch(/demo: emulated ivms at mssql:\/\/127\.0\.0\.1:\d+\/thirdparty/);
  });
});
