/**
 * qr-check and face-check nodes (node-red-node-test-helper) with the real Sokol emulator: the
 * camera-frame path (a JPEG made by ffmpeg from a generated QR PNG, emitted on the hub as the
 * cameras feature does → decoded → the wicket relay opens; a replay is denied), reader input,
 * malformed payloads, face reports, and examples/qr-check.json + examples/face-check.json loaded.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import helper from 'node-red-node-test-helper';
import * as QRCode from 'qrcode';
import { until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { peopleOf } from '../../src/services/people-service';
import { qrFramesOf } from '../../src/services/qr-frames';
import { eventsOf } from '../../src/services/events-service';
import { startSokolEmulator, SokolEmulator } from '../../src/emulators/sokol';

helper.init(require.resolve('node-red'));
const gateNode = require('../../nodes/gatepost-gate/gatepost-gate');
const sokolNode = require('../../nodes/sokol-door/sokol-door');
const qrNode = require('../../nodes/qr-check/qr-check');
const faceNode = require('../../nodes/face-check/face-check');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
const debugNode = require('@node-red/nodes/core/common/21-debug.js');
const commentNode = require('@node-red/nodes/core/common/90-comment.js');
const switchNode = require('@node-red/nodes/core/function/10-switch.js');
const mqttNode = require('@node-red/nodes/core/network/10-mqtt.js');

const ROOT = path.resolve(__dirname, '..', '..');

/** A 640×480 camera-like JPEG showing the QR code of `text` (qrcode → PNG → ffmpeg pad + JPEG). */
export async function qrFrameJpeg(text: string, dir: string): Promise<Buffer> {
  const png = path.join(dir, `qr-${Math.random().toString(36).slice(2)}.png`);
  fs.writeFileSync(png, await QRCode.toBuffer(text, { width: 280, margin: 4 }));
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', png, '-vf', 'pad=640:480:(ow-iw)/2:(oh-ih)/2:color=gray', '-q:v', '4', '-f', 'image2pipe', '-vcodec', 'mjpeg', '-']);
}

describe('qr-check / face-check nodes', () => {
  let dir: string;
  let panel: SokolEmulator;
  let dbPath: string;
  const opens = () => panel.requests.filter((r) => r.method === 'PUT' && /\/relay\/1\/open$/.test(r.url)).length;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-pnodes-'));
    dbPath = path.join(dir, 'n.db');
    panel = await startSokolEmulator({ username: 'root', password: 'pw' });
    helper.settings({ gatepost: { dbPath } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    await Hub.closeAll();
    await panel.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (qr: Record<string, unknown> = {}, face: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab' },
    { id: 'g', type: 'gatepost-gate', gateId: 'wicket', kind: 'wicket', driver: 'sokol-door', url: panel.url, relay: '1', pulse: '0.3', timeout: '1' },
    { id: 'q', z: 'tab', type: 'qr-check', readers: 'cam-w=wicket:entry, cam-2=wicket, r1=wicket', gate: 'wicket', frames: true, repeatWindow: '5', ...qr, wires: [['door', 'ok'], ['no'], ['other']] },
    { id: 'f', z: 'tab', type: 'face-check', cameras: '', gate: 'wicket', minConfidence: '0.8', second: 'none', ...face, wires: [['door', 'ok'], ['no'], ['other']] },
    { id: 'door', z: 'tab', type: 'sokol-door', gate: 'g', wires: [[]] },
    { id: 'ok', z: 'tab', type: 'helper' },
    { id: 'no', z: 'tab', type: 'helper' },
    { id: 'other', z: 'tab', type: 'helper' },
    { id: 'c', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
  const sinks = () => {
    const got = { ok: [] as any[], no: [] as any[], other: [] as any[], caught: [] as any[] };
    for (const k of Object.keys(got) as Array<keyof typeof got>) helper.getNode(k).on('input', (m: any) => got[k].push(m));
    return got;
  };

  test('camera-frame path: a QR pass shown to the camera opens the wicket once; shown to another camera it is a replay, denied', async () => {
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode], flow(), { g: { username: 'root', password: 'pw' } });
    const got = sinks();
    const hub = Hub.open({ dbPath });
    const people = peopleOf(hub);
    await people.ready();
    const { token, qr } = await people.createQr({ label: 'курьер' }, 'guard');
    const jpeg = await qrFrameJpeg(token, dir);
    expect(qrFramesOf(hub).running).toBe(true);

    const before = opens();
    hub.emit('camera-frame', { camera: 'cam-w', ts: Date.now(), jpeg });
    await until(() => got.ok.length === 1, 10_000);
    expect(got.ok[0]).toMatchObject({ topic: 'gatepost/access/wicket', gate: 'wicket', payload: { kind: 'qr', decision: 'allowed', camera: 'cam-w', direction: 'entry', credential: `qr:${qr.id}` } });
    await until(() => opens() === before + 1, 5000);
    expect(panel.relayState(1)).toBe(true);
    // the same frame again at once (motion goes on): one read, not a second decision
    hub.emit('camera-frame', { camera: 'cam-w', ts: Date.now(), jpeg });
    await new Promise((r) => setTimeout(r, 800));
    expect(got.ok.length + got.no.length + got.other.length).toBe(1);
    // the code shown at the other camera: single use → denied as a replay; the door stays shut
    hub.emit('camera-frame', { camera: 'cam-2', ts: Date.now(), jpeg });
    await until(() => got.no.length === 1, 10_000);
    expect(got.no[0].payload).toMatchObject({ kind: 'qr', decision: 'denied', camera: 'cam-2' });
    expect(got.no[0].payload.reason).toMatch(/^used: /);
    expect(opens()).toBe(before + 1);
    // a camera the node does not map is not read by it
    hub.emit('camera-frame', { camera: 'garage', ts: Date.now(), jpeg: await qrFrameJpeg('hello', dir) });
    await new Promise((r) => setTimeout(r, 800));
    expect(got.no).toHaveLength(1);
    // a frame that is not a JPEG: counted as failed, nothing crashes
    hub.emit('camera-frame', { camera: 'cam-w', ts: Date.now(), jpeg: Buffer.from('garbage') });
    await until(() => qrFramesOf(hub).stats.failed >= 1, 5000);
    const { rows } = await eventsOf(hub).query({ kind: 'qr' });
    expect(rows.map((r) => `${r.camera}:${r.decision}`).sort()).toEqual(['cam-2:denied', 'cam-w:allowed']);
    expect(rows.find((r) => r.decision === 'allowed')?.image).toMatch(/^images\/.*\.jpg$/);
    expect(got.caught).toEqual([]);
  });

  test('reader input: valid opens, replay / foreign denied, malformed rejected with a warning, never a crash', async () => {
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode], flow(), { g: { username: 'root', password: 'pw' } });
    const got = sinks();
    const hub = Hub.open({ dbPath });
    const people = peopleOf(hub);
    await people.ready();
    const { token } = await people.createQr({}, 'guard');
    const q = helper.getNode('q') as any;
    q.receive({ topic: 'gatepost/qr/r1', payload: Buffer.from(token) });
    await until(() => got.ok.length === 1, 5000);
    await until(() => panel.relayState(1), 5000);
    q.receive({ topic: 'gatepost/qr/r9', payload: JSON.stringify({ text: token }) });
    q.receive({ topic: 'gatepost/qr/r1', payload: 'WIFI:S:cafe;T:WPA;P:secret;;' });
    for (const bad of ['', '{"text":', { foo: 1 }, 12345, null, Buffer.alloc(0), 'z'.repeat(5000)]) q.receive({ topic: 'gatepost/qr/r1', payload: bad });
    await until(() => got.no.length === 2 && got.other.length === 7, 5000);
    expect(got.no.map((m) => m.payload.reason.split(':')[0]).sort()).toEqual(['foreign', 'used']);
    expect(got.other.every((m) => m.payload.decision === 'rejected' && m.payload.kind === 'qr')).toBe(true);
    expect(q.warn.called).toBe(true);
    expect(q.status.lastCall.args[0]).toMatchObject({ fill: 'yellow' });
    const { total } = await eventsOf(hub).query({ kind: 'qr' });
    expect(total).toBe(10);
  });

  test('face-check: external reports open for a known person; unknown / low confidence / malformed never open; face + QR', async () => {
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode], flow({}, { second: 'none' }), { g: { username: 'root', password: 'pw' } });
    const got = sinks();
    const hub = Hub.open({ dbPath });
    const people = peopleOf(hub);
    await people.ready();
    const p = await people.create({ name: 'Ирина', accessPoints: ['wicket'] }, 'admin');
    const f = helper.getNode('f') as any;
    f.receive({ topic: 'gatepost/face/cam-w', payload: JSON.stringify({ personId: p.id, confidence: 0.97, ts: Date.now() }) });
    await until(() => got.ok.length === 1, 5000);
    expect(got.ok[0].payload).toMatchObject({ kind: 'face', decision: 'allowed', personName: 'Ирина', camera: 'cam-w', gate: 'wicket' });
    await until(() => panel.relayState(1), 5000);
    f.receive({ topic: 'gatepost/face/cam-w', payload: JSON.stringify({ name: 'Чужой', confidence: 0.99 }) });
    f.receive({ topic: 'gatepost/face/cam-w', payload: JSON.stringify({ personId: p.id, confidence: 0.3 }) });
    for (const bad of ['{', '[]', '{"confidence":0.9}', 'null', Buffer.from([0xff, 0x00])]) f.receive({ topic: 'gatepost/face/cam-w', payload: bad });
    await until(() => got.no.length === 2 && got.other.length === 5, 5000);
    expect(got.caught).toEqual([]);
  });

  test('face-check with "face + QR": the face alone is denied', async () => {
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode], flow({}, { second: 'qr', secondWindow: '20' }), { g: { username: 'root', password: 'pw' } });
    const got = sinks();
    const hub = Hub.open({ dbPath });
    const people = peopleOf(hub);
    await people.ready();
    const p = await people.create({ name: 'Пётр' }, 'admin');
    const f = helper.getNode('f') as any;
    f.receive({ topic: 'gatepost/face/cam-w', payload: { personId: String(p.id), confidence: 0.99 } });
    await until(() => got.no.length === 1, 5000);
    expect(got.no[0].payload.reason).toMatch(/face alone is not enough here: qr within 20 s/);
    const { token } = await people.createQr({ personId: p.id }, 'admin');
    (helper.getNode('q') as any).receive({ topic: 'gatepost/qr/r1', payload: token });
    await until(() => got.ok.length === 1, 5000);
    f.receive({ topic: 'gatepost/face/cam-w', payload: { personId: String(p.id), confidence: 0.99 } });
    await until(() => got.ok.length === 2, 5000);
    expect(got.ok[1].payload).toMatchObject({ kind: 'face', decision: 'allowed' });
    expect(got.ok[1].payload.reason).toMatch(/\+ qr$/);
  });

  test('invalid configuration: red status, every message fails with the reason', async () => {
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode], flow({ readers: 'cam=wicket:sideways' }, { second: 'retina' }), { g: { username: 'root', password: 'pw' } });
    const got = sinks();
    (helper.getNode('q') as any).receive({ payload: 'x' });
    (helper.getNode('f') as any).receive({ payload: '{}' });
    await until(() => got.caught.length === 2, 5000);
    expect(got.caught.map((m) => m.error.message).join(' ')).toMatch(/direction of "cam".*second factor must be one of/s);
  });

  test.each(['qr-check', 'face-check'])('examples/%s.json loads and its nodes start', async (name) => {
    const nodes = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', `${name}.json`), 'utf8'));
    await helper.load([gateNode, sokolNode, qrNode, faceNode, catchNode, injectNode, debugNode, commentNode, switchNode, mqttNode], nodes);
    const ids = nodes.filter((n: any) => n.type === name).map((n: any) => n.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(helper.getNode(id)).toBeTruthy();
  });
});
