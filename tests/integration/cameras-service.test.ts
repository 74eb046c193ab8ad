/**
 * The camera service against a real RTSP camera (GStreamer's RTSP server, src/emulators/rtsp-camera.ts)
 * and real ffmpeg: motion on demand → 'camera-motion' with a JPEG snapshot and an access event of kind
 * `motion`; recording → an MP4 clip with pre-roll that ffprobe reads; the ffmpeg processes stop with
 * the camera. A few seconds of video each.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { Hub } from '../../src/services/hub';
import { camerasOf, CameraDef } from '../../src/media/camera-service';
import { eventsOf } from '../../src/services/events-service';
import { runningFfmpeg } from '../../src/media/ffmpeg';
import { startRtspCamera, RtspCamera } from '../helpers/rtsp-camera';
import type { CameraFrame, CameraMotion, ClipReady } from '../../src/core/contracts';

jest.setTimeout(90_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const until = async (fn: () => boolean, ms = 20_000, what = 'condition') => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

export function cameraDef(name: string, url: string, over: Partial<CameraDef> = {}): CameraDef {
  return {
    name,
    url,
    enabled: true,
    ftp: null,
    detect: { pixelThreshold: 25, minArea: 0.01, mask: [], cooldownMs: 1000 },
    preRoll: 2,
    postRoll: 1,
    recording: false,
    retention: { maxAgeDays: 7, maxSizeMb: 1000 },
    ...over,
  };
}

describe('camera service with a real RTSP camera', () => {
  let dir: string;
  let hub: Hub;
  let cam: RtspCamera;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-cam-'));
    cam = await startRtspCamera();
    hub = Hub.open({ dbPath: path.join(dir, 'gatepost.db') });
    await hub.ready();
  });
  afterAll(async () => {
    await Hub.closeAll();
    await cam?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('motion ON with a snapshot, recorded as an event; OFF after the cooldown; a clip with pre-roll; no ffmpeg left', async () => {
    const motions: CameraMotion[] = [];
    const clips: ClipReady[] = [];
    const frames: CameraFrame[] = [];
    hub.on('camera-frame', (f) => frames.push(f));
    hub.on('camera-motion', (m) => motions.push(m));
    hub.on('clip-ready', (c) => clips.push(c));
    const svc = camerasOf(hub);
    await svc.define(cameraDef('yard', cam.url, { recording: true, ftp: 'ftp-node-1' }), 'node-1');
    await until(() => !!svc.get('yard')?.online, 20_000, 'online');
    await until(() => svc.get('yard')!.pipelines.record.running, 20_000, 'recorder running');
    // some pre-roll in the ring
    await new Promise((r) => setTimeout(r, 3000));
    expect(motions).toEqual([]);
    await cam.motion(true);
    await until(() => motions.length >= 1, 10_000, 'motion ON');
    expect(motions[0]).toMatchObject({ camera: 'yard', on: true });
    expect(motions[0].snapshot!.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    await new Promise((r) => setTimeout(r, 1500));
    // a full-resolution frame at the start and about one a second while motion lasts
    await until(() => frames.length >= 2, 5000, 'a second frame');
    expect(frames[0]).toMatchObject({ camera: 'yard', ts: motions[0].ts });
    expect(frames[0].jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    await cam.motion(false);
    await until(() => motions.length >= 2, 10_000, 'motion OFF');
    expect(motions[1]).toMatchObject({ camera: 'yard', on: false });
    await until(() => clips.length >= 1, 20_000, 'clip');
    const clip = clips[0];
    expect(clip).toMatchObject({ camera: 'yard', target: 'ftp-node-1' });
    expect(clip.start).toBeLessThan(motions[0].ts - 1000); // pre-roll
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', clip.file], { encoding: 'utf8' }));
    expect(probe.streams[0].codec_name).toBe('h264');
    expect(Number(probe.format.duration)).toBeGreaterThan(3);
    const listed = await svc.clips('yard');
    expect(listed[0]).toMatchObject({ id: clip.clipId, upload: 'local' });
    hub.emit('upload-state', { uploadId: 1, clipId: clip.clipId, state: 'done', remotePath: '/yard/x.mp4', error: null, ts: Date.now() });
    await new Promise((r) => setTimeout(r, 200));
    expect((await svc.clips('yard'))[0]).toMatchObject({ upload: 'done', remotePath: '/yard/x.mp4' });
    const events = await eventsOf(hub).query({ kind: 'motion' });
    expect(events.rows.map((e) => [e.kind, e.camera, e.decision])).toContainEqual(['motion', 'yard', 'repeat']);
    // retention: beyond the size, the oldest clip goes (its upload is done), file and listing
    await svc.define(cameraDef('yard', cam.url, { recording: true, retention: { maxAgeDays: 7, maxSizeMb: 0.001 } }), 'node-1');
    expect(await svc.retention('yard')).toBe(1);
    expect(fs.existsSync(clip.file)).toBe(false);
    expect(await svc.clips('yard')).toEqual([]);
    await until(() => svc.get('yard')!.pipelines.record.running, 20_000, 'recorder running again');
    const pids = Object.values(svc.pids('yard')).filter((p): p is number => !!p);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await svc.remove('yard', 'node-1');
    for (const p of pids) expect(alive(p)).toBe(false);
    expect(runningFfmpeg()).toEqual([]);
  });

  test('with a sub-stream: motion from the sub-stream, full-resolution frames from the main stream while motion lasts', async () => {
    const sub = await startRtspCamera({ size: '320x180' });
    const frames: CameraFrame[] = [];
    const off = hub.on('camera-frame', (f) => f.camera === 'gate' && frames.push(f));
    const svc = camerasOf(hub);
    try {
      await svc.define(cameraDef('gate', cam.url, { subUrl: sub.url }), 'node-2');
      await until(() => !!svc.get('gate')?.online && !!svc.snapshot('gate'), 20_000, 'online with a picture');
      expect(jpegWidth(svc.snapshot('gate')!)).toBe(320); // the latest picture: the sub-stream's
      await sub.motion(true);
      await until(() => frames.some((f) => jpegWidth(f.jpeg) === 640), 15_000, 'a main-stream frame');
      await sub.motion(false);
      await until(() => !svc.get('gate')!.motion, 15_000, 'motion OFF');
      await new Promise((r) => setTimeout(r, 500));
      const n = frames.length;
      await new Promise((r) => setTimeout(r, 2000));
      expect(frames.length).toBe(n); // no frames without motion
    } finally {
      off();
      await svc.remove('gate', 'node-2');
      await sub.close();
    }
    expect(runningFfmpeg()).toEqual([]);
  });
});

/** The width of a baseline JPEG (its SOF0 marker). */
function jpegWidth(j: Buffer): number {
  for (let i = 2; i + 9 < j.length;) {
    if (j[i] !== 0xff) return -1;
    const marker = j[i + 1];
    const len = j.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) return j.readUInt16BE(i + 7);
    i += 2 + len;
  }
  return -1;
}
