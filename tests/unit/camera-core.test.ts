/**
 * The cameras' pure parts: frame differencing (threshold, area, mask, cooldown), the mask text,
 * ffmpeg's stderr turned into a reason, the JPEG / MP4 splitters, the live codec string, ON/OFF
 * payloads, the camera node's configuration (validated, passwords never in messages).
 */
import { MotionDetector, parseMask, maskOf, insidePolygon } from '../../src/core/motion';
import { ffmpegReason, JpegSplitter, Mp4BoxSplitter, avcCodecOf, withCredentials, redactText } from '../../src/media/ffmpeg';
import { parseOnOff } from '../../src/runtime/camera-mqtt';
import { cameraDefOf, unconfigured } from '../../nodes/camera/camera-def';

const W = 16;
const H = 10;
const frame = (fill: number, box?: { x: number; y: number; w: number; h: number; v: number }) => {
  const f = new Uint8Array(W * H).fill(fill);
  if (box) for (let y = box.y; y < box.y + box.h; y++) for (let x = box.x; x < box.x + box.w; x++) f[y * W + x] = box.v;
  return f;
};

describe('MotionDetector', () => {
  const det = (over: Partial<ConstructorParameters<typeof MotionDetector>[0]> = {}) => new MotionDetector({ width: W, height: H, pixelThreshold: 20, minArea: 0.05, cooldownMs: 1000, ...over });

  test('the first frame is a reference; a change over the area starts motion; it ends after the cooldown', () => {
    const d = det();
    expect(d.push(frame(100), 0)).toMatchObject({ changed: 0, moving: false, edge: null });
    // 4×3 = 12 of 160 pixels = 7.5 % ≥ 5 %
    expect(d.push(frame(100, { x: 0, y: 0, w: 4, h: 3, v: 200 }), 200)).toMatchObject({ moving: true, on: true, edge: 'start' });
    expect(d.push(frame(100, { x: 0, y: 0, w: 4, h: 3, v: 200 }), 400)).toMatchObject({ moving: false, on: true, edge: null });
    expect(d.push(frame(100, { x: 0, y: 0, w: 4, h: 3, v: 200 }), 1100)).toMatchObject({ on: true, edge: null });
    expect(d.push(frame(100, { x: 0, y: 0, w: 4, h: 3, v: 200 }), 1200)).toMatchObject({ on: false, edge: 'end' });
  });

  test('small changes: under the pixel threshold or under the area are no motion', () => {
    const d = det();
    d.push(frame(100), 0);
    expect(d.push(frame(115), 200).moving).toBe(false); // 15 ≤ 20 everywhere
    expect(d.push(frame(115, { x: 0, y: 0, w: 2, h: 2, v: 250 }), 400)).toMatchObject({ moving: false, changed: 4 / 160 });
  });

  test('a masked area is ignored; the area is a fraction of the unmasked pixels', () => {
    const d = det({
      mask: [
        [
          [0, 0],
          [0.5, 0],
          [0.5, 1],
          [0, 1],
        ],
      ],
    });
    d.push(frame(100), 0);
    expect(d.push(frame(100, { x: 0, y: 0, w: 8, h: 10, v: 200 }), 200).moving).toBe(false);
    // 4 of the 80 unmasked pixels = 5 %
    expect(d.push(frame(100, { x: 12, y: 0, w: 2, h: 2, v: 0 }), 400)).toMatchObject({ moving: true, changed: 4 / 80 });
  });

  test('stop() ends motion; reset() makes the next frame a reference; bad options and frames are refused', () => {
    const d = det();
    d.push(frame(0), 0);
    d.push(frame(255), 100);
    expect(d.on).toBe(true);
    expect(d.stop()).toBe('end');
    expect(d.stop()).toBeNull();
    d.reset();
    expect(d.push(frame(10), 200).moving).toBe(false);
    expect(() => d.push(new Uint8Array(3), 300)).toThrow(/expected 160/);
    expect(() => det({ pixelThreshold: 0 })).toThrow(/1–255/);
    expect(() => det({ minArea: 0 })).toThrow(/minimum area/);
  });
});

test('mask text: polygons by ";", points x,y in 0–1; clear errors', () => {
  expect(parseMask('')).toEqual([]);
  expect(parseMask('0,0 0.5,0 0.5,0.5; 0.6,0.6 1,0.6 1,1')).toEqual([
    [
      [0, 0],
      [0.5, 0],
      [0.5, 0.5],
    ],
    [
      [0.6, 0.6],
      [1, 0.6],
      [1, 1],
    ],
  ]);
  expect(() => parseMask('0,0 2,0 1,1')).toThrow(/point "2,0" must be x,y with both in 0–1/);
  expect(() => parseMask('0,0 1,1')).toThrow(/at least 3 points/);
  expect(
    insidePolygon(0.25, 0.25, [
      [0, 0],
      [0.5, 0],
      [0.5, 0.5],
      [0, 0.5],
    ]),
  ).toBe(true);
  expect(
    maskOf(4, 2, [
      [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
        [0, 1],
      ],
    ]),
  ).toEqual(new Uint8Array([0, 0, 1, 1, 0, 0, 1, 1]));
});

test("ffmpeg's stderr becomes a readable reason, without passwords", () => {
  expect(ffmpegReason('[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized\nrtsp://u:p@h/cam: Server returned 401 Unauthorized (authorization failed)', 1)).toBe('camera refused the password');
  expect(ffmpegReason('[tcp @ 0x1] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused', 1)).toBe('no answer (connection refused)');
  expect(ffmpegReason('rtsp://h/cam: Connection timed out', 1)).toBe('no answer (timed out)');
  expect(ffmpegReason('rtsp://h/cam: Server returned 404 Not Found', 1)).toBe('no such stream on the camera (404)');
  expect(ffmpegReason('', 0)).toBe('stream ended');
  expect(ffmpegReason('something odd at rtsp://admin:hunter2@10.0.0.5/cam', 1)).toBe('something odd at rtsp://admin:***@10.0.0.5/cam');
  expect(redactText('see rtsp://a:b@h:554/x and more')).toBe('see rtsp://a:***@h:554/x and more');
  expect(withCredentials('rtsp://127.0.0.1:554/cam', 'us er', 'p@ss:w')).toBe('rtsp://us%20er:p%40ss%3Aw@127.0.0.1:554/cam');
  expect(withCredentials('rtsp://x:y@h/cam')).toBe('rtsp://x:y@h/cam');
});

test('JPEG and MP4 splitters cut a byte stream at any chunk boundary; the codec string of an init segment', () => {
  const j1 = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  const j2 = Buffer.from([0xff, 0xd8, 0xff, 0xdb, 9, 0xff, 0xd9]);
  const stream = Buffer.concat([j1, j2, j1]);
  const got: Buffer[] = [];
  const s = new JpegSplitter((j) => got.push(j));
  for (let i = 0; i < stream.length; i += 4) s.push(stream.subarray(i, i + 4));
  expect(got).toEqual([j1, j2, j1]);

  const box = (type: string, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 8 + body.length]), Buffer.from(type, 'latin1'), body]);
  const avcC = box('avcC', Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff]));
  const moov = box('moov', avcC);
  const mp4 = Buffer.concat([box('ftyp', Buffer.from('isom')), moov, box('moof', Buffer.alloc(3)), box('mdat', Buffer.alloc(5))]);
  const boxes: string[] = [];
  const m = new Mp4BoxSplitter((t) => boxes.push(t));
  for (let i = 0; i < mp4.length; i += 3) m.push(mp4.subarray(i, i + 3));
  expect(boxes).toEqual(['ftyp', 'moov', 'moof', 'mdat']);
  expect(avcCodecOf(moov)).toBe('avc1.42c01e');
  expect(avcCodecOf(Buffer.from('nothing'))).toBeNull();
});

test('recording/set payloads: ON / OFF and friends; anything else refused', () => {
  expect(parseOnOff('ON')).toBe(true);
  expect(parseOnOff(' off ')).toBe(false);
  expect(parseOnOff(Buffer.from('{"on":true}'))).toBe(true);
  expect(parseOnOff('1')).toBe(true);
  expect(parseOnOff('maybe')).toBeNull();
  expect(parseOnOff('x'.repeat(100))).toBeNull();
});

describe('camera node configuration', () => {
  const base = {
    id: 'n1',
    type: 'camera',
    z: '',
    name: 'gate_cam',
    url: 'rtsp://10.0.0.5/Streaming/101',
    subUrl: '',
    title: '',
    enabled: true,
    ftp: '',
    threshold: '25',
    minArea: '1',
    mask: '',
    cooldown: '5',
    preRoll: '5',
    postRoll: '10',
    recording: false,
    maxAgeDays: '7',
    maxSizeMb: '2048',
  } as any;

  test('a valid camera; credentials from ${VAR}', () => {
    process.env.GP_TEST_CAM_PW = 's3cret';
    const d = cameraDefOf({ ...base, ftp: 'ftp1', mask: '0,0 1,0 1,0.2' }, { user: 'admin', password: '${GP_TEST_CAM_PW}' });
    expect(d).toMatchObject({ name: 'gate_cam', user: 'admin', password: 's3cret', ftp: 'ftp1', detect: { pixelThreshold: 25, minArea: 0.01, cooldownMs: 5000 }, preRoll: 5, postRoll: 10 });
    expect(d.detect.mask).toHaveLength(1);
    delete process.env.GP_TEST_CAM_PW;
  });

  test('an unset URL or name leaves the camera unconfigured; bad values are every one reported, URLs without passwords', () => {
    expect(unconfigured({ ...base, url: '${GATEPOST_CAMERA_1_URL}' })).toMatch(/no stream URL/);
    expect(unconfigured(base)).toBeNull();
    expect(() => cameraDefOf({ ...base, name: 'gate/cam', url: 'http://admin:pw123@10.0.0.5/x', preRoll: '99' }, {})).toThrow(
      /camera name must be letters.*main stream URL must be an rtsp:\/\/ URL \(got "http:\/\/admin:\*\*\*@10\.0\.0\.5\/x"\).*pre-roll \(s\) must be at most 60/,
    );
    expect(() => cameraDefOf({ ...base, mask: '0,0 5,5 1,1' }, {})).toThrow(/^mask: /);
  });
});
