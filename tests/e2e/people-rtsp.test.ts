/**
 * The whole camera path of QR guest passes (issues 14 + 16): the synthetic RTSP camera (GStreamer,
 * tests/helpers/rtsp-camera.ts in image mode) shows a generated QR pass; gatepost's camera pipeline
 * (real ffmpeg) reads it and sends 'camera-frame' JPEGs while motion lasts; qr-check (frames on)
 * decodes them and opens the Sokol wicket emulator through sokol-door; the same pass shown to a
 * second camera is a replay, denied. A still picture has no motion of its own, so the test gives
 * the camera the motion edge a guest stepping up would (the camera's own setMotion).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import helper from 'node-red-node-test-helper';
import * as QRCode from 'qrcode';
import { until } from '../helpers/node-red';
import { Hub } from '../../src/services/hub';
import { silentLogger } from '../../src/core/log';
import { camerasOf, type CameraDef } from '../../src/media/camera-service';
import { peopleOf } from '../../src/services/people-service';
import { eventsOf } from '../../src/services/events-service';
import { startSokolEmulator, SokolEmulator } from '../../src/emulators/sokol';
import { startRtspCamera, rtspCameraUnavailable, RtspCamera } from '../helpers/rtsp-camera';

jest.setTimeout(90_000);
helper.init(require.resolve('node-red'));
const gateNode = require('../../nodes/gatepost-gate/gatepost-gate');
const sokolNode = require('../../nodes/sokol-door/sokol-door');
const qrNode = require('../../nodes/qr-check/qr-check');

const def = (name: string, url: string): CameraDef => ({
  name,
  url,
  enabled: true,
  ftp: null,
  detect: { pixelThreshold: 25, minArea: 0.01, mask: [], cooldownMs: 3000 },
  preRoll: 2,
  postRoll: 1,
  recording: false,
  retention: { maxAgeDays: 7, maxSizeMb: 100 },
});

describe('a QR pass shown to the synthetic RTSP camera opens the wicket', () => {
  let dir: string;
  let panel: SokolEmulator;
  let cam: RtspCamera;
  let hub: Hub;
  let dbPath: string;
  let token: string;

  beforeAll(async () => {
    const why = rtspCameraUnavailable();
    if (why) throw new Error(why);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-people-rtsp-'));
    dbPath = path.join(dir, 'gatepost.db');
    panel = await startSokolEmulator({ username: 'root', password: 'pw' });
    hub = Hub.open({ dbPath, logger: silentLogger });
    await peopleOf(hub).ready();
    ({ token } = await peopleOf(hub).createQr({ label: 'гость' }, 'guard'));
    const png = path.join(dir, 'pass.png');
    fs.writeFileSync(png, await QRCode.toBuffer(token, { width: 300, margin: 4 }));
    cam = await startRtspCamera({ image: png, size: '640x480' });
    helper.settings({ gatepost: { dbPath } } as any);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterAll(async () => {
    await helper.unload().catch(() => undefined);
    await new Promise<void>((r) => helper.stopServer(() => r()));
    if (hub) for (const n of camerasOf(hub).names()) await camerasOf(hub).remove(n);
    await Hub.closeAll();
    await cam?.close();
    await panel?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('first camera: allowed, the relay opens; second camera: replay denied; both recorded as kind qr', async () => {
    await helper.load(
      [gateNode, sokolNode, qrNode],
      [
        { id: 'tab', type: 'tab' },
        { id: 'g', type: 'gatepost-gate', gateId: 'wicket', kind: 'wicket', driver: 'sokol-door', url: panel.url, relay: '1', pulse: '0.5', timeout: '1' },
        { id: 'q', z: 'tab', type: 'qr-check', readers: 'gate-cam=wicket:entry, side-cam=wicket', gate: 'wicket', frames: true, wires: [['door', 'ok'], ['no'], []] },
        { id: 'door', z: 'tab', type: 'sokol-door', gate: 'g', wires: [[]] },
        { id: 'ok', z: 'tab', type: 'helper' },
        { id: 'no', z: 'tab', type: 'helper' },
      ] as any[],
      { g: { username: 'root', password: 'pw' } },
    );
    const ok: any[] = [];
    const no: any[] = [];
    helper.getNode('ok').on('input', (m: any) => ok.push(m));
    helper.getNode('no').on('input', (m: any) => no.push(m));
    const cams = camerasOf(hub);
    const opens = () => panel.requests.filter((r) => r.method === 'PUT' && /\/relay\/1\/open$/.test(r.url)).length;
    const motion = (name: string) => (cams as any).cameras.get(name).setMotion(true, Date.now());

    await cams.define(def('gate-cam', cam.url), 'test');
    await until(() => cams.get('gate-cam')?.online === true && !!(cams as any).cameras.get('gate-cam').latestJpeg, 30_000);
    motion('gate-cam');
    await until(() => ok.length === 1, 20_000);
    expect(ok[0].payload).toMatchObject({ kind: 'qr', decision: 'allowed', camera: 'gate-cam', gate: 'wicket', direction: 'entry' });
    await until(() => opens() === 1, 5000);

    await cams.define(def('side-cam', cam.url), 'test');
    await until(() => cams.get('side-cam')?.online === true && !!(cams as any).cameras.get('side-cam').latestJpeg, 30_000);
    motion('side-cam');
    await until(() => no.length >= 1, 20_000);
    expect(no[0].payload).toMatchObject({ kind: 'qr', decision: 'denied', camera: 'side-cam' });
    expect(no[0].payload.reason).toMatch(/^used: /);
    // frames keep coming while motion lasts: the open camera reads the code as one read (no second pass, no door)
    await new Promise((r) => setTimeout(r, 2500));
    expect(ok).toHaveLength(1);
    expect(opens()).toBe(1);
    const { rows } = await eventsOf(hub).query({ kind: 'qr' });
    expect(rows.filter((r) => r.decision === 'allowed').map((r) => r.camera)).toEqual(['gate-cam']);
    expect(rows.some((r) => r.decision === 'denied' && r.camera === 'side-cam')).toBe(true);
  });
});
