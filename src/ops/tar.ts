/**
 * A minimal streaming ustar writer/reader with gzip, for gatepost's backup archives (regular files
 * only, names < 100 bytes). The archives open with any `tar xzf`; nothing is read into memory whole
 * (a database of gigabytes streams through).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { pipeline } from 'stream/promises';
import { Readable, Writable } from 'stream';

function header(name: string, size: number, mode: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) >= 100) throw new Error(`tar: name too long: ${name}`);
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 'utf8');
  h.write(mode.toString(8).padStart(7, '0') + '\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write(
    Math.floor(mtime / 1000)
      .toString(8)
      .padStart(11, '0') + '\0',
    136,
    'ascii',
  );
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** Writes `entries` (archive name → file on disk) into a .tar.gz at `dest` (via a temp file, then renamed). */
export async function writeTarGz(dest: string, entries: Array<{ name: string; file: string }>): Promise<void> {
  const tmp = `${dest}.part`;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      const st = fs.statSync(e.file);
      yield header(e.name, st.size, st.mode & 0o777, st.mtimeMs);
      let n = 0;
      for await (const c of fs.createReadStream(e.file)) {
        n += (c as Buffer).length;
        yield c as Buffer;
      }
      if (n !== st.size) throw new Error(`tar: ${e.file} changed while archived`);
      if (n % 512) yield Buffer.alloc(512 - (n % 512), 0);
    }
    yield Buffer.alloc(1024, 0);
  }
  try {
    await pipeline(Readable.from(chunks()), zlib.createGzip(), fs.createWriteStream(tmp, { mode: 0o600 }));
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Extracts a .tar.gz written by writeTarGz into `dir`; returns the names. Refuses names that leave `dir`. */
export async function extractTarGz(archive: string, dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let out: { fd: number; left: number; pad: number } | null = null;
  let ended = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          if (ended) {
            buf = Buffer.alloc(0);
            break;
          }
          if (out) {
            if (out.left > 0) {
              if (!buf.length) break;
              const n = Math.min(out.left, buf.length);
              fs.writeSync(out.fd, buf, 0, n);
              out.left -= n;
              buf = buf.subarray(n);
              continue;
            }
            if (buf.length < out.pad) break;
            buf = buf.subarray(out.pad);
            fs.closeSync(out.fd);
            out = null;
            continue;
          }
          if (buf.length < 512) break;
          const h = buf.subarray(0, 512);
          buf = buf.subarray(512);
          if (h.every((b) => b === 0)) {
            ended = true;
            continue;
          }
          const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
          const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
          const type = String.fromCharCode(h[156] || 48);
          const target = path.resolve(dir, name);
          if (!name || (type !== '0' && type !== '\0') || !target.startsWith(path.resolve(dir) + path.sep) || !Number.isFinite(size)) {
            throw new Error(`not a gatepost backup (entry "${name.slice(0, 60)}")`);
          }
          fs.mkdirSync(path.dirname(target), { recursive: true });
          names.push(name);
          out = { fd: fs.openSync(target, 'w', 0o600), left: size, pad: size % 512 ? 512 - (size % 512) : 0 };
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    final(cb) {
      if (out) {
        fs.closeSync(out.fd);
        return cb(new Error('the backup archive is truncated'));
      }
      cb();
    },
  });
  await pipeline(fs.createReadStream(archive), zlib.createGunzip(), sink);
  return names;
}
