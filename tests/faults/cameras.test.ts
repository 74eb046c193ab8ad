/**
 * Camera faults against the BUILT runtime with the shipped flows/cameras.json and the rtsp-motion
 * example, on real RTSP servers of 127.0.0.1:
 *  - camera1 refuses the password (401) → offline "camera refused the password";
 *  - camera2 is a TCP port that accepts and never answers → offline "no answer (timed out)";
 *  - the example camera's stream stops mid-way (its server quits) → offline with a reason, back
 *    online when the server is back on the same port;
 * no crash (health 200), at most one ffmpeg per pipeline while they retry, and a kill -9 of the
 * runtime leaves no ffmpeg behind (parent-death signal + process groups, src/media/ffmpeg.ts).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import WebSocket from 'ws';
import { startGatepost, GatepostHandle, apiOf, waitFor, ROOT } from '../helpers/runtime';
import { startRtspCamera, RtspCamera } from '../helpers/rtsp-camera';
import { ffmpegOf } from '../helpers/processes';
import { reportFault } from '../helpers/faults';

jest.setTimeout(180_000);

let tmp: string;
let rt: GatepostHandle | null = null;
let locked: RtspCamera;
let flaky: RtspCamera | null = null;
let silent: net.Server;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-fault-cam-'));
  locked = await startRtspCamera({ user: 'admin', password: 'right-password' });
  flaky = await startRtspCamera();
  silent = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
});

afterAll(async () => {
  if (rt) {
    await rt.stop().catch(() => undefined);
    rt.cleanup();
  }
  await locked?.close();
  await flaky?.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const silentPort = () => (silent.address() as net.AddressInfo).port;

test('refused password, a URL that never answers, a stream that stops mid-way: clear status, no crash, no ffmpeg pile-up; kill -9 leaves no ffmpeg', async () => {
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  fs.copyFileSync(path.join(ROOT, 'examples', 'rtsp-motion.json'), path.join(flowsDir, 'zz-example-rtsp-motion.json'));
  const flakyPort = flaky!.port;
  rt = await startGatepost({
    flowsDir,
    env: {
      GATEPOST_CAMERA_1_URL: locked.url,
      GATEPOST_CAMERA_1_USER: 'admin',
      GATEPOST_CAMERA_1_PASSWORD: 'wrong-password',
      GATEPOST_CAMERA_2_URL: `rtsp://127.0.0.1:${silentPort()}/cam`,
      GATEPOST_EXAMPLE_CAMERA_URL: flaky!.url,
    },
  });
  const h = rt;
  const cams = async () => Object.fromEntries((await apiOf<any[]>(h, '/api/cameras')).map((c) => [c.name, c]));

  const refused = await waitFor('camera1 refused', async () => ((await cams()).camera1?.reason === 'camera refused the password' ? (await cams()).camera1 : null), 30_000, 300);
  expect(refused).toMatchObject({ online: false, pipelines: { detect: { running: false, lastError: 'camera refused the password' } } });
  const timedOut = await waitFor('camera2 no answer', async () => ((await cams()).camera2?.reason?.startsWith('no answer') ? (await cams()).camera2 : null), 30_000, 300);
  expect(timedOut.reason).toBe('no answer (timed out)');
  await waitFor('the example camera online', async () => (await cams()).example_cam?.online, 30_000, 300);
  const health = await apiOf<any>(h, '/api/health');
  expect(health.degraded.map((d: any) => d.what)).toEqual(expect.arrayContaining(['camera:camera1', 'camera:camera2']));
  expect(h.output()).not.toContain('wrong-password');
  reportFault({
    attack: 'camera: wrong password (401), a port that never answers',
    tried: 2,
    survived: [refused, timedOut].filter((c) => !c.online && c.reason).length,
    lost: 0,
    note: `${refused.reason}; ${timedOut.reason}`,
  });

  // the stream stops mid-way
  await flaky!.close();
  flaky = null;
  const dropped = await waitFor('the example camera offline', async () => ((await cams()).example_cam?.online === false ? (await cams()).example_cam : null), 30_000, 300);
  expect(dropped.reason).toMatch(/stream ended|no answer/);
  // retries with backoff: never more than one ffmpeg per pipeline
  for (let i = 0; i < 5; i++) {
    expect(ffmpegOf(locked.port).length).toBeLessThanOrEqual(1);
    expect(ffmpegOf(silentPort()).length).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1000));
  }
  flaky = await startRtspCamera({ port: flakyPort });
  const back = await waitFor('the example camera back online', async () => ((await cams()).example_cam?.online ? (await cams()).example_cam : null), 60_000, 500);
  expect(back.pipelines.detect.restarts).toBeGreaterThan(0);
  expect((await fetch(`${h.url}/api/health`)).status).toBe(200);
  reportFault({
    attack: 'camera: the RTSP server quits mid-stream, comes back',
    tried: 1,
    survived: back.online ? 1 : 0,
    lost: 0,
    note: `offline: ${dropped.reason}; ${back.pipelines.detect.restarts} restarts`,
  });

  // kill -9 while detect and a live view run: the kernel's parent-death signal ends every ffmpeg
  const viewer = new WebSocket(`${h.url.replace('http', 'ws')}/api/cameras/example_cam/live`, { headers: h.basicAuth() });
  viewer.on('error', () => undefined);
  await waitFor('detect and live ffmpeg', () => ffmpegOf(flakyPort).length >= 2, 20_000, 200);
  const before = ffmpegOf(flakyPort).length;
  const exited = new Promise((r) => h.proc.once('exit', r));
  h.proc.kill('SIGKILL');
  await exited;
  const left = await waitFor('no ffmpeg left', () => [flakyPort, locked.port, silentPort()].every((p) => ffmpegOf(p).length === 0), 5000, 100).catch(() => false);
  const pids = [flakyPort, locked.port, silentPort()].flatMap((p) => ffmpegOf(p));
  for (const p of pids) process.kill(p, 'SIGKILL'); // never leave them to the rest of the suite
  expect(left).toBe(true);
  reportFault({
    attack: 'camera: kill -9 of the runtime with ffmpeg running',
    tried: 1,
    survived: pids.length === 0 ? 1 : 0,
    lost: 0,
    crashes: 0,
    note: `${before} ffmpeg before, ${pids.length} after`,
  });
  viewer.terminate();
  rt = null;
  h.cleanup();
});
