import { FrigatePlateTracker, parseCameraMap, parseFrigateMessage, topicSafe } from '../../src/core/frigate';
import type { Clock } from '../../src/core/clock';

function fakeClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    setTimeout: () => 0,
    clearTimeout: () => undefined,
    advance(ms: number) {
      t += ms;
    },
  };
}

const lpr = (over: Record<string, unknown> = {}) => ({
  type: 'lpr',
  id: '1718987129.308396-fqk3jn',
  name: null,
  plate: 'A123BC77',
  score: 0.92,
  camera: 'gate_cam',
  timestamp: 1718987129.308396,
  plate_box: [917, 487, 1029, 529],
  ...over,
});

const ev = (type: string, after: Record<string, unknown>) => ({
  type,
  before: { id: after.id, camera: after.camera },
  after: {
    id: '1718987200.1-abc',
    camera: 'gate_cam',
    label: 'car',
    frame_time: 1718987201.5,
    start_time: 1718987200.1,
    current_zones: [],
    entered_zones: [],
    recognized_license_plate: null,
    recognized_license_plate_score: null,
    ...after,
  },
});

describe('parseFrigateMessage', () => {
  test('tracked_object_update lpr', () => {
    const r = parseFrigateMessage('frigate/tracked_object_update', Buffer.from(JSON.stringify(lpr())));
    expect(r).toEqual({
      kind: 'read',
      read: { source: 'tracked_object_update', id: '1718987129.308396-fqk3jn', camera: 'gate_cam', plate: 'A123BC77', score: 0.92, ts: 1718987129308, zones: [] },
    });
  });

  test('other tracked_object_update types are ignored, not errors', () => {
    const r = parseFrigateMessage('frigate/tracked_object_update', JSON.stringify({ type: 'description', id: 'x', description: 'a red car' }));
    expect(r.kind).toBe('ignored');
  });

  test('events: takes after, plate, score and both zone lists', () => {
    const r = parseFrigateMessage(
      'frigate/events',
      JSON.stringify(ev('update', { recognized_license_plate: 'В456ОР777', recognized_license_plate_score: 0.88, current_zones: ['gate'], entered_zones: ['street', 'gate'] })),
    );
    expect(r.kind).toBe('read');
    if (r.kind !== 'read') return;
    expect(r.read).toMatchObject({ source: 'events', id: '1718987200.1-abc', camera: 'gate_cam', plate: 'В456ОР777', score: 0.88, ts: 1718987201500, eventType: 'update' });
    expect(r.read.zones.sort()).toEqual(['gate', 'street']);
  });

  test('custom topic prefix and topic-less payloads are recognised by shape', () => {
    expect(parseFrigateMessage('nvr/tracked_object_update', JSON.stringify(lpr())).kind).toBe('read');
    expect(parseFrigateMessage(undefined, lpr()).kind).toBe('read');
    expect(parseFrigateMessage('anything', ev('new', { recognized_license_plate: 'X1' })).kind).toBe('read');
  });

  test.each([
    ['empty', ''],
    ['blank', '   '],
    ['invalid JSON', '{"type": "lpr", '],
    ['an array', '[1,2]'],
    ['a number', '42'],
    ['binary', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10])],
    ['too large', Buffer.alloc(300 * 1024, 0x20)],
  ])('%s payload is an error with a reason', (_name, payload) => {
    const r = parseFrigateMessage('frigate/tracked_object_update', payload);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.reason.length).toBeGreaterThan(3);
  });

  test('wrong types are errors', () => {
    expect(parseFrigateMessage('frigate/tracked_object_update', lpr({ plate: 123 })).kind).toBe('error');
    expect(parseFrigateMessage('frigate/tracked_object_update', lpr({ id: undefined })).kind).toBe('error');
    expect(parseFrigateMessage('frigate/tracked_object_update', lpr({ camera: null })).kind).toBe('error');
    expect(parseFrigateMessage('frigate/events', { type: 'new', after: 'x' }).kind).toBe('error');
    expect(parseFrigateMessage('frigate/events', ev('new', { recognized_license_plate: ['A'] })).kind).toBe('error');
  });
});

describe('parseCameraMap', () => {
  test('text form', () => {
    const m = parseCameraMap('cam1=main:entry, cam2 = wicket ; cam3=main:out');
    expect(m.get('cam1')).toEqual({ gate: 'main', direction: 'entry' });
    expect(m.get('cam2')).toEqual({ gate: 'wicket', direction: undefined });
    expect(m.get('cam3')).toEqual({ gate: 'main', direction: 'exit' });
  });
  test('JSON form', () => {
    const m = parseCameraMap('{"c1":"main","c2":{"gate":"wicket","direction":"exit"}}');
    expect(m.get('c1')).toEqual({ gate: 'main' });
    expect(m.get('c2')).toEqual({ gate: 'wicket', direction: 'exit' });
  });
  test('empty and malformed', () => {
    expect(parseCameraMap('').size).toBe(0);
    expect(parseCameraMap(undefined).size).toBe(0);
    expect(parseCameraMap('${GATEPOST_FRIGATE_CAMERAS}').size).toBe(0); // an unset variable of the shipped flow
    expect(() => parseCameraMap('cam1')).toThrow(/camera=gate/);
    expect(() => parseCameraMap('cam1=main:sideways')).toThrow(/entry or exit/);
    expect(() => parseCameraMap('{"c1":')).toThrow(/invalid JSON/);
    expect(() => parseCameraMap('{"c1": 5}')).toThrow(/gate id/);
  });
  test('topicSafe', () => {
    expect(topicSafe('front/gate #1')).toBe('front_gate__1');
    expect(topicSafe('')).toBe('_');
  });
});

describe('FrigatePlateTracker', () => {
  test('one object → one plate message, with gate, direction and requestId', () => {
    const clock = fakeClock();
    const t = new FrigatePlateTracker(clock, { cameraMap: parseCameraMap('gate_cam=main:entry') });
    const first = t.ingest('frigate/tracked_object_update', JSON.stringify(lpr()));
    expect(first.kind).toBe('emit');
    if (first.kind !== 'emit') return;
    expect(first.message).toEqual({
      topic: 'gatepost/lpr/gate_cam',
      camera: 'gate_cam',
      gate: 'main',
      payload: { plate: 'A123BC77', confidence: 0.92, gate: 'main', direction: 'entry', ts: 1718987129308, requestId: 'frigate-1718987129.308396-fqk3jn', frigateId: '1718987129.308396-fqk3jn' },
    });
    // Frigate keeps refining the same object: further reads and the events update are duplicates
    expect(t.ingest('frigate/tracked_object_update', lpr({ score: 0.97, plate: 'A123BC777' })).kind).toBe('duplicate');
    expect(t.ingest('frigate/events', ev('update', { id: '1718987129.308396-fqk3jn', recognized_license_plate: 'A123BC77', recognized_license_plate_score: 0.95 })).kind).toBe('duplicate');
    // another car is another message
    expect(t.ingest('frigate/tracked_object_update', lpr({ id: 'other-1', plate: 'K001KK99' })).kind).toBe('emit');
  });

  test('events without a plate yet are ignored, then the plate is emitted once', () => {
    const t = new FrigatePlateTracker(fakeClock());
    expect(t.ingest('frigate/events', ev('new', {})).kind).toBe('ignored');
    const r = t.ingest('frigate/events', ev('update', { recognized_license_plate: 'В456ОР777', recognized_license_plate_score: 0.8 }));
    expect(r.kind).toBe('emit');
    if (r.kind === 'emit') {
      expect(r.message.payload.plate).toBe('В456ОР777');
      expect(r.message.gate).toBeUndefined();
      expect(r.message.payload.gate).toBeUndefined();
    }
    expect(t.ingest('frigate/events', ev('end', { recognized_license_plate: 'В456ОР777' })).kind).toBe('duplicate');
  });

  test('zone filter: a tracked_object_update read waits until events put the object in the zone', () => {
    const t = new FrigatePlateTracker(fakeClock(), { zones: ['gate_zone'] });
    const id = 'obj-z';
    expect(t.ingest('frigate/tracked_object_update', lpr({ id })).kind).toBe('pending');
    expect(t.ingest('frigate/events', ev('update', { id, current_zones: ['street'], entered_zones: ['street'] })).kind).toBe('pending');
    const r = t.ingest('frigate/events', ev('update', { id, current_zones: ['gate_zone'], entered_zones: ['street', 'gate_zone'] }));
    expect(r.kind).toBe('emit');
    if (r.kind === 'emit') expect(r.message.payload.plate).toBe('A123BC77');
  });

  test('an object that never enters the zone never produces a plate', () => {
    const t = new FrigatePlateTracker(fakeClock(), { zones: ['gate_zone'] });
    expect(t.ingest('frigate/events', ev('update', { id: 'passing', recognized_license_plate: 'X777XX77', current_zones: ['street'] })).kind).toBe('pending');
    expect(t.ingest('frigate/events', ev('end', { id: 'passing', recognized_license_plate: 'X777XX77', current_zones: [] })).kind).toBe('pending');
  });

  test('min score holds back weak reads; a better read of the same object is emitted', () => {
    const t = new FrigatePlateTracker(fakeClock(), { minScore: 0.8 });
    expect(t.ingest(undefined, lpr({ id: 's', score: 0.5, plate: 'A12BC77' })).kind).toBe('pending');
    const r = t.ingest(undefined, lpr({ id: 's', score: 0.9, plate: 'A123BC77' }));
    expect(r.kind).toBe('emit');
    if (r.kind === 'emit') expect(r.message.payload).toMatchObject({ plate: 'A123BC77', confidence: 0.9 });
  });

  test('camera filter', () => {
    const t = new FrigatePlateTracker(fakeClock(), { cameras: ['gate_cam'] });
    expect(t.ingest(undefined, lpr({ camera: 'backyard' })).kind).toBe('ignored');
    expect(t.ingest(undefined, lpr()).kind).toBe('emit');
  });

  test('objects are forgotten after the ttl and the map is bounded', () => {
    const clock = fakeClock();
    const t = new FrigatePlateTracker(clock, { ttlMs: 1000, maxObjects: 3 });
    expect(t.ingest(undefined, lpr({ id: 'a' })).kind).toBe('emit');
    clock.advance(500);
    expect(t.ingest(undefined, lpr({ id: 'b' })).kind).toBe('emit');
    clock.advance(700); // a is 1200 ms old, b 700 ms
    expect(t.ingest(undefined, lpr({ id: 'a' })).kind).toBe('emit'); // forgotten → a new car
    expect(t.size).toBe(2);
    for (const id of ['c', 'd', 'e']) t.ingest(undefined, lpr({ id }));
    expect(t.size).toBe(3);
  });

  test('errors pass through with their reason', () => {
    const t = new FrigatePlateTracker(fakeClock());
    const r = t.ingest('frigate/tracked_object_update', 'not json');
    expect(r).toEqual({ kind: 'error', reason: 'payload is not JSON' });
  });
});
