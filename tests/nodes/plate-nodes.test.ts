/** plate-check and temp-pass-store with node-red-node-test-helper on a real sqlite file. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { sink, until, Msg } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';

helper.init(require.resolve('node-red'));
const plateCheck = require('../../nodes/plate-check/plate-check');
const tempStore = require('../../nodes/temp-pass-store/temp-pass-store');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

describe('plate nodes', () => {
  let dir: string;
  let dbPath: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-pnodes-'));
    dbPath = path.join(dir, 'n.db');
    helper.settings({ gatepost: { dbPath, timezone: 'Europe/Moscow' } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (cameras = '${GATEPOST_CAMERAS}') => [
    { id: 'tab', type: 'tab' },
    { id: 'tp', z: 'tab', type: 'temp-pass-store', preset: 'today', days: '1', wires: [['tpOut']] },
    { id: 'tpOut', z: 'tab', type: 'helper' },
    { id: 'pc', z: 'tab', type: 'plate-check', cameras, gate: 'main', policy: 'exact', repeatWindow: '15', onlineTimeout: '1', wires: [['allowed'], ['denied'], ['other']] },
    { id: 'allowed', z: 'tab', type: 'helper' },
    { id: 'denied', z: 'tab', type: 'helper' },
    { id: 'other', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  test('temp-pass-store: add by digits, plate-check allows any plate with those digits, then cancel stops it', async () => {
    await helper.load([tempStore, plateCheck, catchNode], flow());
    const tpOut = sink('tpOut');
    const allowed = sink('allowed');
    const denied = sink('denied');
    const tp = helper.getNode('tp');
    tp.receive({ topic: 'add', payload: { digits: '321', house: '30', note: 'доставка' }, _client: { user: { username: 'guard7' } } } as any);
    await until(() => tpOut.length === 1);
    const pass = tpOut[0].payload;
    expect(pass).toMatchObject({ kind: 'digits', digits: '321', house: '30', author: 'guard7', active: true });
    expect(tpOut[0].action).toBe('add');

    const pc = helper.getNode('pc');
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: 'x321xx99' } as any);
    await until(() => allowed.length === 1);
    expect(allowed[0]).toMatchObject({ topic: 'gatepost/decision/main', gate: 'main', payload: { decision: 'allowed', source: 'temporary', plate: 'X321XX99', house: '30', camera: 'cam1' } });
    expect(allowed[0].payload.eventId).toBeGreaterThan(0);

    tp.receive({ action: 'cancel', payload: pass.id, user: 'boss' } as any);
    await until(() => tpOut.length === 2);
    expect(tpOut[1].payload).toMatchObject({ id: pass.id, cancelledBy: 'boss', active: false });
    pc.receive({ payload: 'К321ММ77' } as any);
    await until(() => denied.length === 1);
    expect(denied[0].payload).toMatchObject({ decision: 'denied', source: 'none', plate: 'K321MM77', reason: 'no pass (no online check configured)' });

    const hub = Hub.open({ dbPath });
    await eventsOf(hub).flush();
    expect((await eventsOf(hub).query({})).total).toBe(2);
    expect((pc as any).status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'dot' });
  });

  test('temp-pass-store: invalid input is refused on the output and the status, nothing stored; list / extend / search', async () => {
    await helper.load(
      [tempStore, catchNode],
      flow().filter((n) => n.type !== 'plate-check'),
    );
    const tpOut = sink('tpOut');
    const tp = helper.getNode('tp');
    const bad: Msg[] = [
      { topic: 'add', payload: { digits: '12a' } },
      { topic: 'add', payload: { digits: '' } },
      { topic: 'add', payload: { digits: '12' } },
      { topic: 'add', payload: { plate: 'А123ВС77', preset: 'range', from: '2030-01-02', to: '2030-01-01' } },
      { topic: 'add', payload: [1] },
      { topic: 'destroy', payload: 1 },
      { topic: 'cancel', payload: 9999 },
    ];
    for (const m of bad) tp.receive(m as any);
    await until(() => tpOut.length === bad.length);
    for (const m of tpOut) expect(typeof m.payload.error).toBe('string');
    const errors = tpOut.map((m) => m.payload.error).join('\n');
    expect(errors).toContain('digits must be exactly 3 digits (got "12a")');
    expect(errors).toContain('digits must be exactly 3 digits (got "12")');
    expect(errors).toContain('a temporary pass needs a plate or digits');
    expect(errors).toContain('the validity window ends before it starts');
    expect(errors).toContain('unknown action');
    expect(errors).toContain('temporary pass 9999 not found');
    expect((tp as any).status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    const hub = Hub.open({ dbPath });
    await passesOf(hub).ready();
    expect(await passesOf(hub).listTemp({ all: true })).toHaveLength(0);

    tp.receive({ topic: 'add', payload: 'е777ее77' } as any);
    await until(() => tpOut.length === bad.length + 1);
    const p = tpOut.at(-1)!.payload;
    expect(p).toMatchObject({ canonical: 'E777EE77', author: 'node', display: 'Е777ЕЕ77' });
    tp.receive({ topic: 'extend', payload: { id: p.id, days: 2 } } as any);
    tp.receive({ topic: 'list' } as any);
    tp.receive({ topic: 'search', payload: 'ее7' } as any);
    await until(() => tpOut.length === bad.length + 4);
    const byAction = (a: string) => tpOut.slice(-3).find((m) => m.action === a)!;
    const [ext, list, found] = [byAction('extend'), byAction('list'), byAction('search')];
    expect(ext.payload.validTo).toBeGreaterThan(p.validTo + 2 * 86400000 - 3600000);
    expect(list.payload.map((x: any) => x.id)).toEqual([p.id]);
    expect(found.payload).toEqual([expect.objectContaining({ id: p.id, source: 'temporary', plate: 'E777EE77' })]);
    expect((tp as any).status.lastCall.args[0]).toMatchObject({ fill: 'green' });
  });

  test('plate-check: malformed input goes to output 3 as rejected (recorded), repeats too; the node keeps working', async () => {
    await helper.load([tempStore, plateCheck, catchNode], flow(''));
    const allowed = sink('allowed');
    const other = sink('other');
    const hub = Hub.open({ dbPath });
    await passesOf(hub).ready();
    await passesOf(hub).addTemp({ plate: 'А123ВС77' }, 'test');
    const pc = helper.getNode('pc');
    const bad = ['', Buffer.from([0xc3, 0x28, 0x00]), 'x'.repeat(66 * 1024), '{"plate": ', { plate: 5, confidence: 'x' }, 42, 'hello'];
    for (const payload of bad) pc.receive({ topic: 'gatepost/lpr/cam1', payload } as any);
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: JSON.stringify({ plate: 'A123BC77', requestId: 'r-1', direction: 'entry' }) } as any);
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: { plate: 'a123bc77' } } as any);
    await until(() => other.length === bad.length + 1 && allowed.length === 1);
    expect(other.slice(0, bad.length).every((m) => m.payload.decision === 'rejected' && m.topic === 'gatepost/decision/main')).toBe(true);
    expect(other.at(-1)!.payload).toMatchObject({ decision: 'repeat', plate: 'A123BC77' });
    expect(allowed[0].payload).toMatchObject({ decision: 'allowed', requestId: 'r-1', direction: 'entry', source: 'temporary' });
    expect((pc as any).warn.callCount).toBe(bad.length);
    expect((pc as any).status.lastCall.args[0].text).toContain(`⚠${bad.length}`);
    await eventsOf(hub).flush();
    const rejected = await eventsOf(hub).query({ decision: 'rejected' });
    expect(rejected.total).toBe(bad.length);
    expect(rejected.rows.find((r) => r.reason.startsWith('input over'))!.input!.length).toBeLessThanOrEqual(300);
  });

  test('plate-check: a fallback passage from gatepost-lpr leaves on output 3 only, is recorded once, and the plate is then decided live', async () => {
    await helper.load([tempStore, plateCheck, catchNode], flow('{"cam1":{"gate":"north","direction":"entry"}}'));
    const allowed = sink('allowed');
    const denied = sink('denied');
    const other = sink('other');
    const caught = sink('caught');
    const hub = Hub.open({ dbPath });
    await passesOf(hub).ready();
    await passesOf(hub).addTemp({ plate: 'А123ВС77' }, 'test');
    const pc = helper.getNode('pc');
    const ts = Date.now() - 3 * 86400000;
    // what gatepost-lpr's deliverQueue publishes (mqtt in hands over a Buffer)
    const payload = Buffer.from(
      JSON.stringify({
        plate: 'А123ВС77',
        ts,
        requestId: 'node-fb-1',
        gate: 'north',
        direction: 'entry',
        confidence: 0.9,
        fallback: { decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok', latencyMs: 41.2 },
      }),
    );
    pc.receive({ topic: 'gatepost/lpr/cam1/fallback', payload } as any);
    await until(() => other.length === 1);
    pc.receive({ topic: 'gatepost/lpr/cam1/fallback', payload } as any); // delivered again after a crash
    await until(() => other.length === 2);
    expect(other[0]).toMatchObject({
      topic: 'gatepost/decision/north',
      gate: 'north',
      payload: { decision: 'allowed', source: 'online', ts, requestId: 'node-fb-1', camera: 'cam1', plate: 'A123BC77', reason: 'fallback: E-Poselok allowed (relay ok)', fallback: { relay: 'ok' } },
    });
    expect(other[1].payload).toMatchObject({ eventId: other[0].payload.eventId, fallback: { duplicate: true } });
    expect((pc as any).status.lastCall.args[0]).toMatchObject({ fill: 'blue', shape: 'ring', text: expect.stringContaining('⇄1') });

    // a fallback from an unknown camera is still recorded, so is one gatepost-lpr itself rejected;
    // a malformed one is rejected (and warned about) on output 3
    pc.receive({
      topic: 'gatepost/lpr/cam7/fallback',
      payload: { plate: 'К001КК01', ts, requestId: 'node-fb-2', fallback: { decision: 'denied', source: 'online', reason: 'fallback: E-Poselok denied' } },
    } as any);
    pc.receive({
      topic: 'gatepost/lpr/cam1/fallback',
      payload: { plate: 'К002КК01', ts, requestId: 'node-fb-3', fallback: { decision: 'rejected', source: 'none', reason: 'fallback not configured: no E-Poselok' } },
    } as any);
    pc.receive({ topic: 'gatepost/lpr/cam1/fallback', payload: { plate: 'К001КК01', ts, fallback: { decision: 'denied', source: 'online' } } } as any);
    await until(() => other.length === 5);
    // (a fallback waits for the requestId look-up, so they may come out in any order)
    const find = (pred: (p: any) => boolean) => other.slice(2).find((m) => pred(m.payload))!.payload;
    expect(find((p) => p.requestId === 'node-fb-2')).toMatchObject({ decision: 'denied', camera: 'cam7', gate: 'main', fallback: {} });
    expect(find((p) => p.requestId === 'node-fb-3')).toMatchObject({ decision: 'rejected', source: 'none', reason: 'fallback: not configured: no E-Poselok', gate: 'north', fallback: {} });
    expect(find((p) => p.requestId === undefined)).toMatchObject({ decision: 'rejected', camera: 'cam1', gate: 'north', reason: 'fallback refused: no "requestId"' });
    expect((pc as any).warn.callCount).toBe(1);

    // the live read of the car right after: decided (no repeat window from the fallback), output 1
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: 'А123ВС77' } as any);
    await until(() => allowed.length === 1);
    expect(allowed[0].payload).toMatchObject({ decision: 'allowed', source: 'temporary', gate: 'north' });
    expect(allowed[0].payload.fallback).toBeUndefined();
    expect(denied).toHaveLength(0);
    expect(other).toHaveLength(5);
    expect(caught).toHaveLength(0);

    await eventsOf(hub).flush();
    const all = await eventsOf(hub).query({});
    expect(all.total).toBe(5); // fallback once, the two other fallbacks, the malformed one, the live read
    expect(all.rows.filter((r) => r.requestId === 'node-fb-1')).toHaveLength(1);
  });

  test('plate-check: camera map from the property; unknown camera rejected; a bad map is a config error', async () => {
    await helper.load([tempStore, plateCheck, catchNode], flow('{"cam1":{"gate":"north","direction":"exit"}}'));
    const denied = sink('denied');
    const other = sink('other');
    const pc = helper.getNode('pc');
    pc.receive({ topic: 'gatepost/lpr/cam1', payload: 'К001КК01' } as any);
    pc.receive({ topic: 'gatepost/lpr/cam2', payload: 'К001КК01' } as any);
    await until(() => denied.length === 1 && other.length === 1);
    expect(denied[0]).toMatchObject({ gate: 'north', topic: 'gatepost/decision/north', payload: { direction: 'exit' } });
    expect(other[0].payload).toMatchObject({ decision: 'rejected', reason: 'unknown camera "cam2"' });
    await helper.unload();

    // the text form of GATEPOST_CAMERAS (the same parser as frigate-lpr's)
    await helper.load([tempStore, plateCheck, catchNode], flow('cam7=south:entry, cam8=wicket'));
    const denied2 = sink('denied');
    helper.getNode('pc').receive({ topic: 'gatepost/lpr/cam7', payload: 'К002КК02' } as any);
    helper.getNode('pc').receive({ topic: 'gatepost/lpr/cam8', payload: 'К003КК03' } as any);
    await until(() => denied2.length === 2);
    expect(denied2.map((m: any) => [m.gate, m.payload.direction])).toEqual([
      ['south', 'entry'],
      ['wicket', undefined],
    ]);
    await helper.unload();

    await helper.load([tempStore, plateCheck, catchNode], flow('{not json'));
    const caught = sink('caught');
    helper.getNode('pc').receive({ payload: 'К001КК01' } as any);
    await until(() => caught.length === 1);
    expect(caught[0].error.message).toContain('camera map');
  });
});
