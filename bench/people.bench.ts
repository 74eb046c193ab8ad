/**
 * People at the wicket (issue 16): QR decoding of a 640×480 camera frame (@zxing/library), the QR
 * pass decision with its sqlite use count, the built-in face recogniser on TensorFlow.js WASM (tiny
 * face detector per 640×480 frame; JPEG → person end to end) and the process RSS with the models
 * loaded. Fixtures: a generated QR pass and face-api's sample photos, made into 640×480 frames by ffmpeg.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as QRCode from 'qrcode';
import { BenchRow, runStandalone, summarize } from './lib';
import { Hub } from '../src/services/hub';
import { silentLogger } from '../src/core/log';
import { peopleOf } from '../src/services/people-service';
import { decodeImage } from '../src/media/image';
import { decodeQr } from '../src/media/qr-decoder';
import { faceRecogniserOf, loadFaceApi } from '../src/media/face-recogniser';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;

/** A 640×480 JPEG of an image file (scaled to fit, padded). */
function frame640(file: string): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    file,
    '-vf',
    'scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2:color=gray',
    '-q:v',
    '4',
    '-f',
    'image2pipe',
    '-vcodec',
    'mjpeg',
    '-',
  ]);
}

async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-people-'));
  const hub = Hub.open({ dbPath: path.join(dir, 'b.db'), logger: silentLogger });
  try {
    const people = peopleOf(hub);
    await people.ready();
    // ---- QR ----
    const { token } = await people.createQr({ maxUses: 1000 }, 'bench');
    const png = path.join(dir, 'qr.png');
    fs.writeFileSync(png, await QRCode.toBuffer(token, { width: 260, margin: 4 }));
    const jpeg = frame640(png);
    const gray = await decodeImage(jpeg, { gray: true });
    const qrOnly: number[] = [];
    for (let i = 0; i < 60; i++) {
      const [ms, text] = await time(() => decodeQr(gray));
      if (text !== token) throw new Error('QR not decoded in the bench frame');
      if (i >= 10) qrOnly.push(ms);
    }
    rows.push({
      area: 'people',
      metric: 'QR decode of a 640×480 frame (gray pixels → text, zxing)',
      value: summarize(qrOnly).text,
      goal: '≤ 20 ms',
      note: `@zxing/library ${require('@zxing/library/package.json').version}`,
    });
    const qrJpeg: number[] = [];
    for (let i = 0; i < 20; i++) qrJpeg.push((await time(async () => decodeQr(await decodeImage(jpeg, { gray: true }))))[0]);
    rows.push({ area: 'people', metric: 'QR read of a camera JPEG (ffmpeg decode + zxing)', value: summarize(qrJpeg).text, note: 'what a camera-frame costs' });
    const decide: number[] = [];
    for (let i = 0; i < 200; i++) decide.push((await time(() => people.decideQr({ text: token, reader: `r${i}`, accessPoint: 'wicket' })))[0]);
    rows.push({ area: 'people', metric: 'QR pass decision (lookup, use counted, event recorded)', value: summarize(decide).text, note: 'sqlite, service level' });

    // ---- faces ----
    const rss0 = process.memoryUsage().rss;
    const [loadMs, faceapi] = await time(() => loadFaceApi());
    const rss1 = process.memoryUsage().rss;
    rows.push({ area: 'people', metric: 'face models load (tfjs WASM + tiny detector + landmarks + recognition)', value: `${Math.round(loadMs)} ms`, note: `RSS ${mb(rss0)} → ${mb(rss1)}` });
    const frames = [1, 2, 3, 4, 5, 6].map((n) => frame640(path.join(DEMO, `sample${n}.jpg`)));
    const raws = await Promise.all(frames.map((f) => decodeImage(f)));
    const detect: number[] = [];
    for (let i = 0; i < 18; i++) {
      const img = raws[i % raws.length];
      const t = faceapi.tf.tensor3d(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length), [img.height, img.width, 3], 'int32');
      const [ms] = await time(() => faceapi.detectAllFaces(t as any, new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 })));
      t.dispose();
      if (i >= 3) detect.push(ms);
    }
    rows.push({ area: 'people', metric: 'face detection, tiny detector, 640×480 frame (WASM)', value: summarize(detect).text, goal: '≤ 100 ms', note: `${os.cpus().length} CPUs` });
    const rec = faceRecogniserOf(hub);
    const p = await people.create({ name: 'Bench Person' }, 'bench');
    await people.addPhoto(p.id, 'image/jpeg', fs.readFileSync(path.join(DEMO, 'sample2.jpg')));
    await rec.enrol(p.id);
    const e2e: number[] = [];
    for (let i = 0; i < 8; i++) {
      const [ms, faces] = await time(() => rec.recognise(frames[1]));
      if (!faces.some((f) => f.personId === p.id)) throw new Error('the enrolled person was not recognised in the bench');
      e2e.push(ms);
    }
    rows.push({ area: 'people', metric: 'recognition end to end (JPEG → faces → descriptors → person)', value: summarize(e2e).text, goal: '≤ 1 s', note: '1 face, 640×480' });
    const group: number[] = [];
    for (let i = 0; i < 4; i++) group.push((await time(() => rec.recognise(frames[5])))[0]);
    rows.push({ area: 'people', metric: 'recognition end to end, a group photo (5 faces)', value: summarize(group).text, note: '640×480' });
    rows.push({ area: 'people', metric: 'process RSS with the face models loaded', value: mb(process.memoryUsage().rss), note: `heap ${mb(process.memoryUsage().heapUsed)}` });
  } finally {
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) runStandalone(run);
