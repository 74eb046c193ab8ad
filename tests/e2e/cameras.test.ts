/**
 * Cameras from outside, as an integrator drives them: the built runtime with the shipped
 * flows/cameras.json (camera1 from GATEPOST_CAMERA_1_*; camera2 left unconfigured) and the
 * rtsp-motion example (GATEPOST_EXAMPLE_CAMERA_URL), a real RTSP camera (GStreamer) with motion on
 * demand, real ffmpeg. Over MQTT: status, motion ON/OFF with the JPEG snapshot, the recording
 * switch; over REST: the camera list, settings, a clip with Range requests (ffprobe reads it), the
 * snapshot, pipeline restart; the live view WebSocket (mime, init segment, fragments); no password in
 * the log; no ffmpeg left after the stop.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import WebSocket from 'ws';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, waitFor, ROOT } from '../helpers/runtime';
import { connect, subscribe, end } from '../helpers/mqtt-test';
import { startRtspCamera, RtspCamera } from '../helpers/rtsp-camera';
import { ffmpegOf } from '../helpers/processes';

jest.setTimeout(180_000);

const SECRET = 'cam-secret-7781';
let cam: RtspCamera;
let rt: GatepostHandle;
let tmp: string;
let mq: MqttClient;
const msgs: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];
const last = (topic: string) => [...msgs].reverse().find((m) => m.topic === topic);
const api = <T = any>(p: string, init?: RequestInit) => apiOf<T>(rt, p, init);
/** What a new subscriber gets as the retained message of a topic (null: none within a second). */
async function retained(topic: string): Promise<Buffer | null> {
  const c = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: `e2e-cam-retained-${Math.random().toString(36).slice(2, 8)}` });
  try {
    const got = new Promise<Buffer | null>((resolve) => {
      c.on('message', (t, payload, packet) => t === topic && packet.retain && resolve(payload));
      setTimeout(() => resolve(null), 1000);
    });
    await subscribe(c, topic);
    return await got;
  } finally {
    await end(c);
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-cam-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  fs.copyFileSync(path.join(ROOT, 'examples', 'rtsp-motion.json'), path.join(flowsDir, 'zz-example-rtsp-motion.json'));
  cam = await startRtspCamera({ user: 'viewer', password: SECRET });
  rt = await startGatepost({
    flowsDir,
    env: {
      GATEPOST_CAMERA_1_URL: cam.url,
      GATEPOST_CAMERA_1_USER: 'viewer',
      GATEPOST_CAMERA_1_PASSWORD: SECRET,
      GATEPOST_CAMERA_1_TITLE: 'Въезд',
      GATEPOST_EXAMPLE_CAMERA_URL: cam.url.replace('rtsp://', `rtsp://viewer:${SECRET}@`),
    },
  });
  mq = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: 'e2e-cameras' });
  mq.on('message', (topic, payload, packet) => msgs.push({ topic, payload, retain: !!packet.retain }));
  await subscribe(mq, 'gatepost/camera/#');
});

afterAll(async () => {
  await end(mq);
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await cam?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the shipped camera comes online; the unconfigured one is not run; status retained on MQTT', async () => {
  const cams = await waitFor(
    'camera1 online',
    async () => {
      const list = await api<any[]>('/api/cameras');
      return list.find((c) => c.name === 'camera1')?.online ? list : null;
    },
    30_000,
    200,
  );
  expect(cams.map((c) => c.name).sort()).toEqual(['camera1', 'example_cam']);
  expect(cams.find((c) => c.name === 'camera1')).toMatchObject({
    title: 'Въезд',
    enabled: true,
    online: true,
    reason: null,
    recording: false,
    preRoll: 5,
    postRoll: 10,
    pipelines: { detect: { running: true } },
  });
  await waitFor('status online on MQTT', () => last('gatepost/camera/camera1/status'), 10_000);
  expect(JSON.parse(last('gatepost/camera/camera1/status')!.payload.toString())).toMatchObject({ status: 'online', reason: null });
  expect(last('gatepost/camera/camera1/motion')?.payload.toString()).toBe('OFF');
  expect(await fetch(`${rt.url}/api/cameras`).then((r) => r.status)).toBe(401);
  expect((await api('/api/cameras/note')).note).toBeNull();
});

test('motion ON with the JPEG snapshot (retained), recorded in the history, OFF after the cooldown; the example camera too', async () => {
  // the camera has given a picture (the snapshot at motion start is the latest one)
  await waitFor('a first picture', async () => (await fetch(`${rt.url}/api/cameras/camera1/snapshot.jpg`, { headers: rt.basicAuth() })).status === 200, 30_000, 200);
  const from = msgs.length;
  // the live stream (/api/stream) carries camera-state and camera-motion, never the JPEG bytes
  const ac = new AbortController();
  const stream = await fetch(`${rt.url}/api/stream`, { headers: rt.basicAuth(), signal: ac.signal });
  let sse = '';
  const reading = (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream.body as any) sse += dec.decode(chunk, { stream: true });
    } catch {
      /* aborted */
    }
  })();
  await cam.motion(true);
  await waitFor('motion ON', () => msgs.slice(from).find((m) => m.topic === 'gatepost/camera/camera1/motion' && m.payload.toString() === 'ON'), 15_000);
  const snap = msgs.slice(from).find((m) => m.topic === 'gatepost/camera/camera1/snapshot');
  expect(snap!.payload.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  expect((await retained('gatepost/camera/camera1/snapshot'))?.equals(snap!.payload)).toBe(true);
  expect((await retained('gatepost/camera/camera1/motion'))?.toString()).toBe('ON');
  await waitFor('example motion ON', () => msgs.slice(from).find((m) => m.topic === 'gatepost/camera/example_cam/motion' && m.payload.toString() === 'ON'), 15_000);
  const events = await waitFor('the motion event', async () => (await api('/api/events?kind=motion&limit=10')).rows.filter((r: any) => r.camera === 'camera1'), 10_000);
  expect(events[0]).toMatchObject({ kind: 'motion', camera: 'camera1' });
  await waitFor('camera-motion on the live stream', () => /event: camera-motion\ndata: .*"on":true/.test(sse), 10_000);
  ac.abort();
  await reading;
  const ev = JSON.parse(/event: camera-motion\ndata: (.*)/.exec(sse)![1]);
  expect(ev).toMatchObject({ camera: expect.any(String), on: true });
  expect(ev).not.toHaveProperty('snapshot');
  expect(sse).toMatch(/event: camera-state\ndata: .*"pipelines"/);
  const shot = await fetch(`${rt.url}/api/cameras/camera1/snapshot.jpg`, { headers: rt.basicAuth() });
  expect(shot.status).toBe(200);
  expect(shot.headers.get('content-type')).toBe('image/jpeg');
  await cam.motion(false);
  await waitFor('motion OFF', () => msgs.slice(from).find((m) => m.topic === 'gatepost/camera/camera1/motion' && m.payload.toString() === 'OFF'), 20_000);
});

test('recording switched over MQTT (retained state; a retained command ignored), pre/post-roll over REST, a clip with pre-roll served with Range', async () => {
  // bad settings: a clear 400
  const bad = await fetch(`${rt.url}/api/cameras/camera1/settings`, { method: 'POST', headers: { ...rt.basicAuth(), 'Content-Type': 'application/json' }, body: JSON.stringify({ preRoll: -1 }) });
  expect(bad.status).toBe(400);
  expect((await bad.json()).error).toMatch(/preRoll must be a whole number of seconds from 0 to 60/);
  expect(await api('/api/cameras/camera1/settings', { method: 'POST', body: JSON.stringify({ preRoll: 2, postRoll: 1 }) })).toMatchObject({ preRoll: 2, postRoll: 1 });

  mq.publish('gatepost/camera/camera1/recording/set', 'ON', { qos: 1 });
  await waitFor('recording ON', () => last('gatepost/camera/camera1/recording/state')?.payload.toString() === 'ON', 10_000);
  expect((await retained('gatepost/camera/camera1/recording/state'))?.toString()).toBe('ON');
  mq.publish('gatepost/camera/camera1/recording/set', 'OFF', { qos: 1, retain: true });
  await new Promise((r) => setTimeout(r, 500));
  expect((await api('/api/cameras')).find((c: any) => c.name === 'camera1').recording).toBe(true);
  mq.publish('gatepost/camera/camera1/recording/set', '', { qos: 1, retain: true }); // clear the retained one

  await waitFor('the recorder running', async () => (await api('/api/cameras')).find((c: any) => c.name === 'camera1').pipelines.record.running, 20_000, 200);
  await new Promise((r) => setTimeout(r, 3000)); // segments for the pre-roll
  const t0 = Date.now();
  await cam.motion(true);
  await new Promise((r) => setTimeout(r, 2000));
  await cam.motion(false);
  const clips = await waitFor('a clip', async () => ((await api<any[]>('/api/cameras/camera1/clips?limit=5')).length ? api<any[]>('/api/cameras/camera1/clips?limit=5') : null), 40_000, 300);
  expect(clips[0]).toMatchObject({ upload: 'local', remotePath: null });
  expect(clips[0].start).toBeLessThan(t0);
  const url = `${rt.url}/api/cameras/camera1/clips/${clips[0].id}.mp4`;
  const part = await fetch(url, { headers: { ...rt.basicAuth(), Range: 'bytes=0-99' } });
  expect(part.status).toBe(206);
  expect((await part.arrayBuffer()).byteLength).toBe(100);
  const whole = Buffer.from(await (await fetch(url, { headers: rt.basicAuth() })).arrayBuffer());
  expect(whole.length).toBe(clips[0].size);
  const file = path.join(tmp, 'clip.mp4');
  fs.writeFileSync(file, whole);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { encoding: 'utf8' }));
  expect(probe.streams[0].codec_name).toBe('h264');
  expect(Number(probe.format.duration)).toBeGreaterThan(2);
  expect(await fetch(`${rt.url}/api/cameras/camera1/clips/99999.mp4`, { headers: rt.basicAuth() }).then((r) => r.status)).toBe(404);
});

test('live view over WebSocket: authenticated; mime first, then the init segment and fragments; the live ffmpeg is shared and restartable', async () => {
  const wsUrl = rt.url.replace('http', 'ws') + '/api/cameras/camera1/live';
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
  expect(refused).toBe(401);
  const ws = new WebSocket(wsUrl, { headers: rt.basicAuth() });
  const got: Array<string | Buffer> = [];
  ws.on('message', (d, isBinary) => got.push(isBinary ? (d as Buffer) : d.toString()));
  await waitFor('init + a fragment', () => got.length >= 3, 20_000);
  expect(JSON.parse(got[0] as string).mime).toMatch(/^video\/mp4; codecs="avc1\.42[0-9a-f]{4}"$/);
  expect((got[1] as Buffer).toString('latin1', 4, 8)).toBe('ftyp');
  expect((got[2] as Buffer).toString('latin1', 4, 8)).toBe('moof');
  const listed = (await api('/api/cameras')).find((c: any) => c.name === 'camera1');
  expect(listed).toMatchObject({ viewers: 1, pipelines: { live: { running: true } } });
  expect(await fetch(`${rt.url}/api/cameras/camera1/pipelines/live/restart`, { method: 'POST', headers: rt.basicAuth() }).then((r) => r.status)).toBe(202);
  expect(await fetch(`${rt.url}/api/cameras/camera1/pipelines/nope/restart`, { method: 'POST', headers: rt.basicAuth() }).then((r) => r.status)).toBe(400);
  ws.close();
});

test('a full redeploy stops the old ffmpeg and starts new ones: none left over', async () => {
  await waitFor('pipelines settled', () => ffmpegOf(cam.port).length >= 3, 20_000, 200); // camera1 detect + record, example detect
  const before = ffmpegOf(cam.port);
  const flows: any = await api('/admin/flows', { headers: { 'Node-RED-API-Version': 'v2' } });
  await api('/admin/flows', { method: 'POST', headers: { 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify({ flows: flows.flows, rev: flows.rev }) });
  await waitFor('the old ffmpeg gone', () => before.every((p) => !ffmpegOf(cam.port).includes(p)), 15_000, 200);
  await waitFor('camera1 online again', async () => (await api('/api/cameras')).find((c: any) => c.name === 'camera1')?.online, 30_000, 300);
  await new Promise((r) => setTimeout(r, 1000));
  expect(ffmpegOf(cam.port).length).toBeLessThanOrEqual(before.length);
  expect((await api('/api/cameras')).find((c: any) => c.name === 'camera1')).toMatchObject({ recording: true, preRoll: 2, postRoll: 1 }); // kept in the database
});

test('no password in the log; after the stop no ffmpeg is left', async () => {
  expect(rt.output()).not.toContain(SECRET);
  expect(ffmpegOf(cam.port).length).toBeGreaterThan(0);
  await rt.stop();
  expect(ffmpegOf(cam.port)).toEqual([]);
});

describe('demo mode', () => {
  let demo: GatepostHandle | null = null;
  afterAll(async () => {
    if (demo) {
      await demo.stop();
      demo.cleanup();
    }
  });
  test('one synthetic camera (GStreamer) as camera1 and the example camera, online, no note', async () => {
    demo = await startGatepost({ env: { GATEPOST_DEMO: 'on' } });
    const h = demo;
    const list = await waitFor(
      'the demo camera online',
      async () => {
        const l = await apiOf<any[]>(h, '/api/cameras');
        return l.find((c) => c.name === 'camera1')?.online ? l : null;
      },
      30_000,
      300,
    );
    expect(list.find((c) => c.name === 'camera1')).toMatchObject({ title: 'Демо-камера', online: true });
    expect((await apiOf(h, '/api/cameras/note')).note).toBeNull();
    const port = Number(/:(\d+)\//.exec(h.output().match(/demo: synthetic camera at (\S+)/)![1])![1]);
    await demo.stop();
    demo.cleanup();
    demo = null;
    expect(ffmpegOf(port)).toEqual([]);
  });
});
