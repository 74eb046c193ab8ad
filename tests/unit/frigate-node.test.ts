/** The frigate-lpr node with node-red-node-test-helper: direct input, and fed by a core mqtt in node from a real aedes broker. */
import * as fs from 'fs';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import { MqttLite } from '../../src/cli/mqtt-lite';
import { ChildBroker, startChildBroker } from '../helpers/lpr-test-utils';

helper.init(require.resolve('node-red'));
const frigateNode = require('../../nodes/frigate-lpr/frigate-lpr');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const mqttNodes = require('@node-red/nodes/core/network/10-mqtt.js');
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
const debugNode = require('@node-red/nodes/core/common/21-debug.js');
const commentNode = require('@node-red/nodes/core/common/90-comment.js');

const lpr = (over: Record<string, unknown> = {}) => ({
  type: 'lpr',
  id: 'obj-1',
  name: null,
  plate: 'А123ВС77',
  score: 0.91,
  camera: 'gate_cam',
  timestamp: 1718987129.3,
  plate_box: [1, 2, 3, 4],
  ...over,
});
const ev = (after: Record<string, unknown>) => ({ type: 'update', before: {}, after: { id: 'obj-2', camera: 'gate_cam', label: 'car', current_zones: [], entered_zones: [], ...after } });

/** Messages a helper node receives; next() gives them in order, also those that came before the call. */
function collector(id: string): { msgs: any[]; next(): Promise<any> } {
  const msgs: any[] = [];
  const waiters: Array<(m: any) => void> = [];
  let taken = 0;
  helper.getNode(id).on('input', (m: any) => {
    msgs.push(m);
    const w = waiters.shift();
    if (w) w(msgs[taken++]);
  });
  return { msgs, next: () => (taken < msgs.length ? Promise.resolve(msgs[taken++]) : new Promise((r) => waiters.push(r))) };
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('frigate-lpr node', () => {
  beforeEach(async () => {
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
  });

  const flow = (props: Record<string, unknown> = {}): any[] => [
    { id: 'tab', type: 'tab' },
    { id: 'f', z: 'tab', type: 'frigate-lpr', cameraMap: 'gate_cam=main:entry', zones: '', cameras: '', minScore: '0', ttl: '600', ...props, wires: [['plates'], ['refused']] },
    { id: 'plates', z: 'tab', type: 'helper' },
    { id: 'refused', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: ['f'], uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  test('one plate message per Frigate object, both payload kinds, mapped to a gate', async () => {
    await helper.load([frigateNode, catchNode], flow());
    const plates = collector('plates');
    const f = helper.getNode('f') as any;
    f.receive({ topic: 'frigate/tracked_object_update', payload: JSON.stringify(lpr()) });
    f.receive({ topic: 'frigate/tracked_object_update', payload: lpr({ score: 0.95 }) }); // same object
    f.receive({ topic: 'frigate/events', payload: ev({ id: 'obj-1', recognized_license_plate: 'А123ВС77', recognized_license_plate_score: 0.96 }) }); // same object
    f.receive({ topic: 'frigate/events', payload: Buffer.from(JSON.stringify(ev({ recognized_license_plate: 'В456ОР777', recognized_license_plate_score: 0.8 }))) });
    await tick(100);
    expect(plates.msgs.length).toBe(2);
    expect(plates.msgs[0]).toMatchObject({
      topic: 'gatepost/lpr/gate_cam',
      gate: 'main',
      camera: 'gate_cam',
      requestId: 'frigate-obj-1',
      payload: { plate: 'А123ВС77', confidence: 0.91, gate: 'main', direction: 'entry', ts: 1718987129300, requestId: 'frigate-obj-1' },
    });
    expect(plates.msgs[1].payload).toMatchObject({ plate: 'В456ОР777', requestId: 'frigate-obj-2' });
    expect(f.status.lastCall.args[0]).toMatchObject({ fill: 'green', shape: 'dot', text: 'В456ОР777 → main (2/0)' });
  });

  test('zone filter waits for frigate/events to place the object', async () => {
    await helper.load([frigateNode, catchNode], flow({ zones: 'gate_zone' }));
    const plates = collector('plates');
    const f = helper.getNode('f') as any;
    f.receive({ topic: 'frigate/tracked_object_update', payload: lpr({ id: 'z1' }) });
    f.receive({ topic: 'frigate/events', payload: ev({ id: 'z1', current_zones: ['street'] }) });
    await tick();
    expect(plates.msgs.length).toBe(0);
    f.receive({ topic: 'frigate/events', payload: ev({ id: 'z1', current_zones: ['gate_zone'], entered_zones: ['street', 'gate_zone'] }) });
    const m = await plates.next();
    expect(m.payload.plate).toBe('А123ВС77');
  });

  test('malformed Frigate messages go to output 2 and to Catch, and the node keeps working', async () => {
    await helper.load([frigateNode, catchNode], flow());
    const plates = collector('plates');
    const refused = collector('refused');
    const caught = collector('caught');
    const f = helper.getNode('f') as any;
    const bad: Array<[string, unknown]> = [
      ['frigate/tracked_object_update', ''],
      ['frigate/tracked_object_update', '{"type":"lpr",'],
      ['frigate/tracked_object_update', Buffer.from([0xff, 0xfe, 0x00])],
      ['frigate/tracked_object_update', JSON.stringify(lpr({ plate: 5 }))],
      ['frigate/events', JSON.stringify({ type: 'new', after: null })],
      ['frigate/events', 'x'.repeat(300 * 1024)],
    ];
    for (const [topic, payload] of bad) f.receive({ topic, payload });
    // a valid message of another kind is ignored, not refused
    f.receive({ topic: 'frigate/tracked_object_update', payload: { type: 'description', id: 'p1', description: 'a person' } });
    await tick(150);
    expect(refused.msgs.length).toBe(bad.length);
    expect(caught.msgs.length).toBe(bad.length);
    expect(refused.msgs.map((m) => m.error.message)).toEqual(expect.arrayContaining(['empty payload', 'payload is not JSON', 'lpr update: plate is not a string', expect.stringMatching(/too large/)]));
    expect(f.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    f.receive({ topic: 'frigate/tracked_object_update', payload: lpr({ id: 'after-bad' }) });
    const m = await plates.next();
    expect(m.requestId).toBe('frigate-after-bad');
    expect(f.status.lastCall.args[0].text).toMatch(/\(1\/6\)$/);
  });

  test('an invalid configuration shows a red status and refuses input', async () => {
    await helper.load([frigateNode, catchNode], flow({ cameraMap: 'gate_cam' }));
    const caught = collector('caught');
    const f = helper.getNode('f') as any;
    expect(f.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    f.receive({ topic: 'frigate/tracked_object_update', payload: lpr() });
    const m = await caught.next();
    expect(m.error.message).toMatch(/camera=gate/);
  });

  describe('fed by a core mqtt in node from a real broker', () => {
    let broker: ChildBroker;
    beforeAll(async () => {
      broker = await startChildBroker({ OPEN: '1', SILENT: '1' });
    });
    afterAll(async () => {
      await broker.stop();
    });

    test('Frigate publishes on frigate/# → one plate message', async () => {
      await helper.load(
        [frigateNode, catchNode, mqttNodes],
        [
          { id: 'tab', type: 'tab' },
          {
            id: 'b',
            type: 'mqtt-broker',
            broker: '127.0.0.1',
            port: String(broker.port),
            clientid: 'open-nodered-test',
            autoConnect: true,
            usetls: false,
            protocolVersion: '4',
            keepalive: '60',
            cleansession: true,
          },
          { id: 'in1', z: 'tab', type: 'mqtt in', topic: 'frigate/tracked_object_update', qos: '0', datatype: 'auto-detect', broker: 'b', nl: false, rap: true, rh: 0, inputs: 0, wires: [['f']] },
          { id: 'in2', z: 'tab', type: 'mqtt in', topic: 'frigate/events', qos: '0', datatype: 'auto-detect', broker: 'b', nl: false, rap: true, rh: 0, inputs: 0, wires: [['f']] },
          { id: 'f', z: 'tab', type: 'frigate-lpr', cameraMap: 'gate_cam=main', zones: 'gate_zone', cameras: '', minScore: '0.5', ttl: '600', wires: [['plates'], ['refused']] },
          { id: 'plates', z: 'tab', type: 'helper' },
          { id: 'refused', z: 'tab', type: 'helper' },
          // subscribed after in1 and in2 on the same connection: once a probe arrives, they are subscribed too
          { id: 'in3', z: 'tab', type: 'mqtt in', topic: 'probe/#', qos: '0', datatype: 'utf8', broker: 'b', nl: false, rap: true, rh: 0, inputs: 0, wires: [['probe']] },
          { id: 'probe', z: 'tab', type: 'helper' },
        ] as any[],
        { b: { user: broker.user, password: broker.password } } as any,
      );
      const plates = collector('plates');
      const refused = collector('refused');
      const frigate = await MqttLite.connect({ url: broker.url, username: broker.user, password: broker.password, clientId: 'open-frigate' });
      try {
        // wait until the mqtt in nodes are subscribed: publish probes until one comes through
        const probe = collector('probe');
        const end = Date.now() + 20000;
        while (!probe.msgs.length && Date.now() < end) {
          await frigate.publish('probe/x', 'ping', { qos: 1 });
          await tick(100);
        }
        expect(probe.msgs.length).toBeGreaterThan(0);
        await frigate.publish('frigate/tracked_object_update', JSON.stringify(lpr({ id: 'car-9', score: 0.4, plate: 'A12BC77' })), { qos: 1 });
        await frigate.publish('frigate/events', JSON.stringify(ev({ id: 'car-9', current_zones: ['gate_zone'], recognized_license_plate: 'A123BC77', recognized_license_plate_score: 0.9 })), {
          qos: 1,
        });
        await frigate.publish('frigate/tracked_object_update', JSON.stringify(lpr({ id: 'car-9', score: 0.97, plate: 'A123BC77' })), { qos: 1 });
        await frigate.publish('frigate/events', '{broken', { qos: 1 });
        const m = await plates.next();
        expect(m).toMatchObject({ topic: 'gatepost/lpr/gate_cam', gate: 'main', payload: { plate: 'A123BC77', confidence: 0.9, requestId: 'frigate-car-9' } });
        const r = await refused.next();
        expect(r.error.message).toBe('payload is not JSON');
        await tick(100);
        expect(plates.msgs.length).toBe(1);
      } finally {
        await frigate.end();
      }
    });

    test('examples/frigate-lpr.json: the sample read goes out to gatepost/lpr/<camera> on the gatepost broker', async () => {
      const env = {
        FRIGATE_MQTT_HOST: '127.0.0.1',
        FRIGATE_MQTT_PORT: String(broker.port),
        GATEPOST_MQTT_BROKER_HOST: '127.0.0.1',
        GATEPOST_MQTT_BROKER_PORT: String(broker.port),
        GATEPOST_FRIGATE_CAMERAS: 'gate_cam=main:entry',
        GATEPOST_FRIGATE_ZONES: '',
      };
      const saved: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(env)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      try {
        const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/frigate-lpr.json'), 'utf8'));
        expect(flow.filter((n: any) => n.type === 'tab').length).toBe(1);
        expect(flow.some((n: any) => n.type === 'comment')).toBe(true);
        const creds = { 'frigate-lpr-broker-frigate': { user: broker.user, password: broker.password }, 'frigate-lpr-broker-gatepost': { user: broker.user, password: broker.password } };
        await helper.load([frigateNode, mqttNodes, injectNode, debugNode, commentNode], flow, creds as any);
        const out = helper.getNode('frigate-lpr-out') as any;
        const end = Date.now() + 5000;
        while (!String(out.status.lastCall?.args[0]?.text ?? '').includes('connected') && Date.now() < end) await tick(20);
        (helper.getNode('frigate-lpr-inject-lpr') as any).receive({});
        const m = await broker.waitPublished((p) => p.topic === 'gatepost/lpr/gate_cam' && p.payload.includes('frigate-1718987129.308396-fqk3jn'));
        expect(JSON.parse(m.payload)).toMatchObject({ plate: 'А123ВС77', gate: 'main', direction: 'entry', confidence: 0.92 });
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });
  });
});
