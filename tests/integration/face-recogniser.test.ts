/**
 * The built-in face recogniser (issue 16) on face-api's own sample photos: @vladmandic/face-api on
 * TensorFlow.js with the WASM backend, models and .wasm loaded from node_modules (no network).
 * One person is enrolled from sample2.jpg (a single face); another picture of that person (the
 * photo mirrored, scaled and darkened by ffmpeg — the samples hold no second photo of one person)
 * is recognised; the people of another sample are not. Then the camera path: a frame with the
 * enrolled face → 'face-read' with the person and the distance. Models load once (slow: ~1 s).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { Hub } from '../../src/services/hub';
import { silentLogger } from '../../src/core/log';
import { peopleOf } from '../../src/services/people-service';
import { faceRecogniserOf } from '../../src/media/face-recogniser';
import type { FaceFrameRead } from '../../src/media/face-recogniser';
import type { AddressInfo } from 'net';
import express from 'express';
import { peopleRouter } from '../../src/api/people';

jest.setTimeout(120_000);

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (n: number) => fs.readFileSync(path.join(DEMO, `sample${n}.jpg`));

describe('built-in face recogniser (WASM) on the sample photos', () => {
  let dir: string;
  let hub: Hub;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-faces-'));
    hub = Hub.open({ dbPath: path.join(dir, 'f.db'), logger: silentLogger });
    await peopleOf(hub).ready();
  });
  afterAll(async () => {
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('enrol from a photo, recognise another picture of the same person, reject other people', async () => {
    const people = peopleOf(hub);
    const rec = faceRecogniserOf(hub);
    const p = await people.create({ name: 'Sample Two' }, 'admin');
    await people.addPhoto(p.id, 'image/jpeg', sample(2));
    const r = await rec.enrol(p.id);
    expect(r).toEqual({ enrolled: 1, skipped: [] });
    expect(people.get(p.id)?.faces).toBe(1);

    // the same person: mirrored, 80 % size, darker, re-encoded
    const variant = execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      path.join(DEMO, 'sample2.jpg'),
      '-vf',
      'hflip,scale=iw*0.8:-2,eq=brightness=-0.08',
      '-q:v',
      '6',
      '-f',
      'image2pipe',
      '-vcodec',
      'mjpeg',
      '-',
    ]);
    const same = await rec.recognise(variant);
    expect(same.length).toBeGreaterThanOrEqual(1);
    const best = same[0];
    expect(best.personId).toBe(p.id);
    expect(best.distance!).toBeLessThan(rec.opts.threshold);
    expect(best.descriptor).toHaveLength(128);

    // other people (a group photo of other faces): none matches the enrolled person
    const others = await rec.recognise(sample(6));
    expect(others.length).toBeGreaterThanOrEqual(3);
    expect(others.filter((f) => f.personId !== null)).toEqual([]);

    // a photo without a face is skipped with the reason, never enrolled
    const q = await people.create({ name: 'No Face' }, 'admin');
    const gray = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=gray:s=320x240', '-frames:v', '1', '-f', 'image2pipe', '-vcodec', 'mjpeg', '-']);
    const ph = await people.addPhoto(q.id, 'image/jpeg', gray);
    expect(await rec.enrol(q.id)).toEqual({ enrolled: 0, skipped: [{ photoId: ph.id, reason: 'no face found' }] });

    // the camera path: a frame with the enrolled face → 'face-read' with the person and the distance
    const reads: FaceFrameRead[] = [];
    const off = hub.on('face-read', (x) => reads.push(x));
    const n = await rec.frame({ camera: 'cam-w', ts: Date.now(), jpeg: variant });
    off();
    expect(n).toBe(same.length);
    const known = reads.find((x) => x.report.personId === String(p.id));
    expect(known).toMatchObject({ camera: 'cam-w', report: { name: 'Sample Two' } });
    expect(known!.report.distance!).toBeLessThan(0.5);
    // a broken frame: counted, no throw
    expect(await rec.frame({ camera: 'cam-w', ts: Date.now(), jpeg: Buffer.from('nope') })).toBe(0);
    expect(rec.stats.failed).toBe(1);
  });

  test('REST: with GATEPOST_FACE_RECOGNISER=on the admin enrols a person from an uploaded photo', async () => {
    const app = express();
    app.use((req, _res, next) => (((req as any).user = { username: 'admin', permissions: '*' }), next()));
    app.use('/api', peopleRouter(hub));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const saved = process.env.GATEPOST_FACE_RECOGNISER;
    process.env.GATEPOST_FACE_RECOGNISER = 'on';
    try {
      const p = (await (await fetch(`${base}/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Sample Four' }) })).json()).person;
      expect((await fetch(`${base}/people/${p.id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: sample(2) })).status).toBe(201);
      const r = await fetch(`${base}/people/${p.id}/enrol`, { method: 'POST' });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ enrolled: 1, skipped: [], faces: 1 });
      expect((await fetch(`${base}/people/${p.id}/faces`, { method: 'DELETE' }).then((x) => x.json())).removed).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.GATEPOST_FACE_RECOGNISER;
      else process.env.GATEPOST_FACE_RECOGNISER = saved;
      await new Promise((r) => server.close(r));
    }
  });
});
