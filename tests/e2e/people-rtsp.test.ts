/**
 * The whole camera path of QR guest passes (issues 14 + 16), judged from outside: the built runtime
 * boots the SHIPPED flows (flows/cameras.json's camera1 on ${GATEPOST_CAMERA_1_URL}, flows/people.json's
 * qr-check reading the cameras' frames with ${GATEPOST_QR_READERS} = camera1 → wicket) on the
 * project's emulators (tests/helpers/site.ts: the Sokol wicket). The synthetic RTSP camera
 * (GStreamer, image mode) shows an empty scene; a guest holds up the pass: `show(true)` puts the QR
 * in front of the camera — a real scene change, so gatepost's own motion detector (real ffmpeg)
 * starts sending frames, qr-check decodes them and the Sokol wicket relay opens (its request log),
 * an access event of kind qr on /api/events and gatepost/access/wicket. The guest lowers the code
 * and shows it again later: a replay, denied, no relay request.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as QRCode from 'qrcode';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, waitFor, freePort, ROOT } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { startSite, Site } from '../helpers/site';
import { startRtspCamera, rtspCameraUnavailable, RtspCamera } from '../helpers/rtsp-camera';

jest.setTimeout(150_000);

let site: Site;
let rt: GatepostHandle;
let cam: RtspCamera;
let watcher: MqttClient;
let seen: ReturnType<typeof collector>;
let tmp: string;
let issued: any;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);
const opens = () => site.sokol.requests.filter((r) => r.method === 'PUT' && /\/relay\/1\/open$/.test(r.url)).length;
const camera1 = async () => (await api<any[]>('/api/cameras')).find((c) => c.name === 'camera1');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const why = rtspCameraUnavailable();
  if (why) throw new Error(why);
  site = await startSite({ name: 'qrcam', pulseS: 0.3 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-people-rtsp-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  // the camera's address is known before it runs: gatepost keeps retrying it (backoff) meanwhile
  const camPort = await freePort();
  rt = await startGatepost({
    flowsDir,
    env: site.env({ GATEPOST_CAMERA_1_URL: `rtsp://127.0.0.1:${camPort}/cam`, GATEPOST_CAMERA_1_TITLE: 'Калитка', GATEPOST_QR_READERS: 'camera1=wicket:entry' }),
  });
  watcher = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'e2e-people-rtsp-watcher' });
  seen = collector(watcher);
  await subscribe(watcher, 'gatepost/access/#');
  await subscribe(watcher, 'gatepost/camera/camera1/motion');
  // the guard issues the pass over REST; the guest prints it
  issued = await api('/api/passes/qr', { method: 'POST', body: JSON.stringify({ label: 'гость с камерой', maxUses: 1 }) });
  const png = path.join(tmp, 'pass.png');
  fs.writeFileSync(png, await QRCode.toBuffer(issued.token, { width: 300, margin: 4 }));
  // nobody in front of the camera yet
  cam = await startRtspCamera({ port: camPort, image: png, hidden: true, size: '640x480' });
  await waitFor(
    'camera1 online, no motion',
    async () => {
      const c = await camera1();
      return c?.online && c.pipelines?.detect?.running && !c.motion ? c : null;
    },
    60_000,
    250,
  );
  await sleep(1500); // the detector's background settles on the empty scene
}, 150_000);

afterAll(async () => {
  await end(watcher);
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await cam?.close();
  await site?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the code held up to the camera opens the wicket once; shown again later it is a replay, denied, no relay request', async () => {
  const accessOf = (from: number, decision: string) =>
    waitFor(
      `a ${decision} qr access event from camera1`,
      () =>
        seen.messages
          .slice(from)
          .map((m) => (m.topic === 'gatepost/access/wicket' ? JSON.parse(m.payload) : null))
          .find((e) => e?.kind === 'qr' && e.decision === decision),
      30_000,
      100,
    );
  expect(opens()).toBe(0);
  // the guest holds up the code: the scene changes → motion → frames → QR → the wicket
  let n = seen.messages.length;
  await cam.show(true);
  const ok = await accessOf(n, 'allowed');
  expect(ok).toMatchObject({ kind: 'qr', decision: 'allowed', gate: 'wicket', camera: 'camera1', direction: 'entry', credential: `qr:${issued.qr.id}` });
  await waitFor('the wicket relay to open', () => opens() === 1, 10_000);
  // gatepost's own detector saw the guest (no motion was forced)
  expect(seen.messages.slice(n).some((m) => m.topic === 'gatepost/camera/camera1/motion' && m.payload === 'ON')).toBe(true);

  // the guest lowers the code and leaves; the scene is empty again, motion ends
  await cam.show(false);
  await waitFor('camera1 motion over', async () => (await camera1())?.motion === false, 30_000, 250);
  await sleep(1000);
  // someone shows the same (single-use) code again: denied as used, the relay not asked
  n = seen.messages.length;
  await cam.show(true);
  const replay = await accessOf(n, 'denied');
  expect(replay).toMatchObject({ kind: 'qr', camera: 'camera1', credential: `qr:${issued.qr.id}` });
  expect(replay.reason).toMatch(/^used: /);
  await sleep(2000);
  expect(opens()).toBe(1);
  expect(seen.messages.slice(n).filter((m) => m.topic === 'gatepost/access/wicket' && JSON.parse(m.payload).decision === 'allowed')).toEqual([]);

  const { rows } = await api('/api/events?kind=qr&limit=100');
  const mine = rows.filter((e: any) => e.credential === `qr:${issued.qr.id}`);
  expect(mine.filter((e: any) => e.decision === 'allowed')).toHaveLength(1);
  expect(mine.some((e: any) => e.decision === 'denied' && /^used: /.test(e.reason))).toBe(true);
  expect((await api('/api/passes/qr?all=1')).qr.find((q: any) => q.id === issued.qr.id)).toMatchObject({ uses: 1 });
});
