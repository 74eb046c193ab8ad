/**
 * FTP upload queue (issue 14), service level with real parts: a real sqlite file, the hub, and a
 * real FTP server on 127.0.0.1 (harness/ftp-server.ts, ftp-srv in this process — its CPU counts in
 * the figures). Measured:
 *  - 'clip-ready' → the item durably queued (sqlite row written, 'upload-state' queued);
 *  - 'clip-ready' → delivered (.part, size check, rename) for 2 MB clips one at a time;
 *  - throughput of a backlog of 40 × 2 MB clips;
 *  - the server back after an outage: start → the first and the last of 20 queued clips delivered.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, summarize, fmt } from './lib';
import { Hub } from '../src/services/hub';
import { FTP_DEFAULTS, uploadsOf } from '../src/services/upload-service';
import { silentLogger } from '../src/core/log';
import type { UploadState } from '../src/core/contracts';
import { startFtpServer } from '../harness/ftp-server';

const MB = 1024 * 1024;

export async function run(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-ftp-'));
  const ftp = await startFtpServer({ user: 'bench', password: 'bench-secret' });
  const hub = Hub.open({ dbPath: path.join(dir, 'bench.db'), logger: silentLogger });
  const svc = uploadsOf(hub);
  const rows: BenchRow[] = [];
  let id = 0;
  const waiters = new Map<string, (ts: number) => void>();
  hub.on('upload-state', (u: UploadState) => {
    const w = waiters.get(`${u.clipId}:${u.state}`);
    if (w) {
      waiters.delete(`${u.clipId}:${u.state}`);
      w(performance.now());
    }
  });
  const when = (clipId: number, state: string) => new Promise<number>((r) => waiters.set(`${clipId}:${state}`, r));
  const file = (bytes: number) => {
    const f = path.join(dir, `clip-${++id}.mp4`);
    fs.writeFileSync(f, Buffer.alloc(bytes, id & 0xff));
    return { clipId: id, camera: 'bench', file: f, start: Date.now(), end: Date.now() + 10_000, size: bytes, target: 't' };
  };
  try {
    await hub.ready();
    svc.defineTarget('t', { ...FTP_DEFAULTS, host: '127.0.0.1', port: ftp.port, user: ftp.user, password: ftp.password, retryMinMs: 200, retryMaxMs: 1000, probeIntervalMs: 0 });
    await svc.idle();

    // queued durably: 200 clips while the server is down (nothing is uploaded meanwhile)
    await ftp.stop();
    const queued: number[] = [];
    for (let i = 0; i < 200; i++) {
      const c = file(1000);
      const t0 = performance.now();
      const seen = when(c.clipId, 'queued');
      hub.emit('clip-ready', c);
      queued.push((await seen) - t0);
    }
    rows.push({ area: 'ftp', metric: "clip-ready → queued in sqlite ('upload-state' queued)", value: summarize(queued).text, note: 'server down; the row is written first' });
    // the outage ends: 200 small + 20 × 2 MB waiting → how fast the queue drains
    const backlog = Array.from({ length: 20 }, () => file(2 * MB));
    for (const c of backlog) hub.emit('clip-ready', c);
    const last = when(backlog[backlog.length - 1].clipId, 'done');
    const t0 = performance.now();
    await ftp.start();
    const lastAt = await last;
    rows.push({
      area: 'ftp',
      metric: 'server back after an outage: 200 small + 20 × 2 MB delivered',
      value: `${fmt(lastAt - t0)} ms`,
      note: `retry pause ≤ 1 s; ${(220 / ((lastAt - t0) / 1000)).toFixed(0)} files/s`,
    });

    // one at a time: clip-ready → delivered
    const single: number[] = [];
    for (let i = 0; i < 20; i++) {
      const c = file(2 * MB);
      const s0 = performance.now();
      const done = when(c.clipId, 'done');
      hub.emit('clip-ready', c);
      single.push((await done) - s0);
    }
    rows.push({ area: 'ftp', metric: 'clip-ready → delivered, 2 MB (.part, SIZE, rename)', value: summarize(single).text, note: '127.0.0.1, session kept open' });

    // a backlog of 40 × 2 MB
    const many = Array.from({ length: 40 }, () => file(2 * MB));
    const lastDone = when(many[many.length - 1].clipId, 'done');
    const b0 = performance.now();
    for (const c of many) hub.emit('clip-ready', c);
    const ms = (await lastDone) - b0;
    rows.push({ area: 'ftp', metric: 'backlog 40 × 2 MB', value: `${fmt(ms)} ms`, note: `${((40 * 2) / (ms / 1000)).toFixed(1)} MB/s, ${(40 / (ms / 1000)).toFixed(1)} files/s` });
  } finally {
    await Hub.closeAll();
    await ftp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
