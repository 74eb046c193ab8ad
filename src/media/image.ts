/**
 * Decoding JPEG / PNG images to raw pixels without new packages: ffmpeg (`image2pipe`) turns any
 * still image into a PGM (gray, for QR) or PPM (RGB, for faces) whose header carries the size.
 * At most `maxSide` pixels on the longer side (scaled down, aspect kept); a time limit kills a
 * stuck ffmpeg. Used by the QR frame reader and the built-in face recogniser.
 */
import { spawn } from 'child_process';

export interface RawImage {
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB) bytes per pixel */
  channels: 1 | 3;
  data: Buffer;
}

export const FFMPEG = process.env.GATEPOST_FFMPEG || 'ffmpeg';

/** Parses a binary PGM (P5) or PPM (P6) with maxval 255. */
export function parsePnm(buf: Buffer): RawImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
      if (buf[pos] === 0x23) while (pos < buf.length && buf[pos] !== 0x0a) pos++;
      else break;
    }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    return buf.toString('latin1', start, pos);
  };
  const magic = token();
  if (magic !== 'P5' && magic !== 'P6') throw new Error(`not a binary PGM/PPM (${magic.slice(0, 4)})`);
  const width = Number(token());
  const height = Number(token());
  const max = Number(token());
  pos++; // the single whitespace after maxval
  if (!(width > 0 && height > 0 && max === 255)) throw new Error(`unsupported PNM header ${width}x${height} max ${max}`);
  const channels = magic === 'P5' ? 1 : 3;
  const size = width * height * channels;
  if (buf.length - pos < size) throw new Error(`PNM data truncated: ${buf.length - pos} of ${size} bytes`);
  return { width, height, channels, data: buf.subarray(pos, pos + size) };
}

/** Decodes an encoded image (JPEG, PNG, …) to gray or RGB pixels through ffmpeg. */
export function decodeImage(bytes: Buffer, opts: { gray?: boolean; maxSide?: number; timeoutMs?: number } = {}): Promise<RawImage> {
  const max = opts.maxSide ?? 1280;
  const codec = opts.gray ? 'pgm' : 'ppm';
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'image2pipe',
    '-i',
    '-',
    '-frames:v',
    '1',
    '-vf',
    `scale='min(${max},iw)':'min(${max},ih)':force_original_aspect_ratio=decrease`,
    '-f',
    'image2pipe',
    '-vcodec',
    codec,
    '-pix_fmt',
    opts.gray ? 'gray' : 'rgb24',
    '-',
  ];
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(FFMPEG, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      return reject(err as Error);
    }
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 5000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-500)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`ffmpeg: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`ffmpeg could not decode the image (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`));
      try {
        resolve(parsePnm(Buffer.concat(out)));
      } catch (e) {
        reject(e as Error);
      }
    });
    child.stdin.on('error', () => undefined); // ffmpeg gave up early: reported by 'close'
    child.stdin.end(bytes);
  });
}
