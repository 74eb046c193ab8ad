/**
 * iVMS access log, the source side: (1) ingest from SQL Server (the TDS server on 127.0.0.1, the
 * real `mssql` driver) into the store — the reader's incremental reads + accessLogOf(hub).ingest,
 * rows/s; (2) a row inserted at the source → its event on `/api/stream` of the running gatepost
 * (shipped flow flows/access-log.json, the default 1 s poll), p50/p99.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, runStandalone, summarize } from './lib';
import { startGatepost, ROOT } from '../harness/runtime';
import { TdsEmulator } from '../src/emulators/tds';
import { IvmsSource } from '../src/devices/ivms-source';
import { IvmsReader } from '../src/services/ivms-reader';
import { Hub } from '../src/services/hub';
import { silentLogger } from '../src/core/log';
import { garble } from '../src/core/mojibake';

const USER = 'bench';
const PASSWORD = 'bench-pass-1';
const ROWS = 30000;

const wall = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');

async function ingestRate(): Promise<BenchRow[]> {
  const emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-ivms-'));
  try {
    await emu.createAttlog();
    const t0 = Date.now() - 30 * 86400_000;
    const people = ['Иванов Иван', 'Петров Пётр', 'Смирнов Илья', 'Kim Lee'];
    const rows = Array.from({ length: ROWS }, (_, i) => ({
      authDateTime: wall(t0 + i * 60_000),
      personName: i % 3 === 0 ? garble(people[i % 4]) : people[i % 4],
      doorName: i % 2 ? 'Проходная' : garble('Склад'),
      direction: i % 2 ? 'vhod' : 'vihod',
      cardNo: String(100000 + (i % 500)),
      deviceName: 'DS-K1T671',
      verifyMode: 'card',
    }));
    for (let i = 0; i < rows.length; i += 5000) await emu.insertRows(rows.slice(i, i + 5000));
    const out: BenchRow[] = [];
    // the driver alone: the reads the poller makes, batch 1000
    const src = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD, batchSize: 1000 });
    let after = 0;
    const r0 = process.hrtime.bigint();
    for (;;) {
      const got = await src.readAfter(after);
      if (!got.length) break;
      after = got[got.length - 1].serialNo;
    }
    const readS = Number(process.hrtime.bigint() - r0) / 1e9;
    out.push({ area: 'ivms', metric: `read ${ROWS} rows from the TDS server (mssql, batch 1000)`, value: `${Math.round(ROWS / readS)} rows/s`, note: `${readS.toFixed(2)} s` });
    // the whole path: reader → ingest (dedupe, repair, events + log rows) into sqlite
    for (const batch of [500, 2000]) {
      await Hub.closeAll();
      const hub = Hub.open({ dbPath: path.join(dir, `b${batch}.db`), timezone: 'Europe/Moscow', logger: silentLogger });
      const s = new IvmsSource({ host: '127.0.0.1', port: emu.port, user: USER, password: PASSWORD, batchSize: batch });
      const reader = new IvmsReader(hub, s, { source: 'bench', rescanEveryMs: 3600_000 });
      const i0 = process.hrtime.bigint();
      while ((reader.state.lastSerial ?? 0) < ROWS) await reader.pollNow();
      const s1 = Number(process.hrtime.bigint() - i0) / 1e9;
      out.push({
        area: 'ivms',
        metric: `TDS → store ingest, ${ROWS} rows, batch ${batch}`,
        value: `${Math.round(ROWS / s1)} rows/s`,
        goal: '≥ 5000 rows/s',
        note: `${s1.toFixed(2)} s, ${reader.stats.inserted} stored`,
      });
      await reader.stop();
      await s.close();
    }
    await src.close();
    return out;
  } finally {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function streamLatency(): Promise<BenchRow[]> {
  const emu = await new TdsEmulator({ users: { [USER]: PASSWORD } }).listen();
  await emu.createAttlog();
  await emu.insertRows([{ authDateTime: wall(Date.now()), personName: 'warm-up', doorName: 'Проходная', direction: 'vhod', cardNo: 'warm' }]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-ivms-rt-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  fs.copyFileSync(path.join(ROOT, 'flows', 'access-log.json'), path.join(flowsDir, 'access-log.json'));
  const rt = await startGatepost({
    flowsDir,
    env: {
      GATEPOST_TZ: 'UTC',
      GATEPOST_IVMS_HOST: '127.0.0.1',
      GATEPOST_IVMS_PORT: String(emu.port),
      GATEPOST_IVMS_USER: USER,
      GATEPOST_IVMS_PASSWORD: PASSWORD,
      GATEPOST_IVMS_TABLE: 'dbo.attlog',
    },
  });
  const abort = new AbortController();
  const seen = new Map<string, number>();
  try {
    const res = await fetch(`${rt.url}/api/stream`, { headers: rt.basicAuth(), signal: abort.signal });
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          for (const m of buf.matchAll(/"credential":"(lat-\d+)"/g)) if (!seen.has(m[1])) seen.set(m[1], Date.now());
          buf = buf.slice(Math.max(0, buf.length - 400));
        }
      } catch {
        /* aborted */
      }
    })();
    const until = async (pred: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return pred();
    };
    // the warm-up row shows the flow is reading
    await emu.insertRows([{ authDateTime: wall(Date.now()), personName: 'warm', doorName: 'Проходная', direction: 'vhod', cardNo: 'lat-0' }]);
    if (!(await until(() => seen.has('lat-0'), 30_000))) throw new Error('the shipped flow did not deliver the warm-up row on /api/stream');
    const samples: number[] = [];
    const N = 60;
    for (let i = 1; i <= N; i++) {
      await new Promise((r) => setTimeout(r, 150 + ((i * 389) % 700)));
      const at = Date.now();
      await emu.insertRows([{ authDateTime: wall(at), personName: `Bench ${i}`, doorName: 'Проходная', direction: i % 2 ? 'vhod' : 'vihod', cardNo: `lat-${i}` }]);
      if (await until(() => seen.has(`lat-${i}`), 10_000)) samples.push(seen.get(`lat-${i}`)! - at);
    }
    const s = summarize(samples);
    return [{ area: 'ivms', metric: 'row inserted at the source → event on /api/stream (1 s poll)', value: s.text, goal: 'p99 ≤ 1500 ms', note: `${N - samples.length} lost` }];
  } finally {
    abort.abort();
    await rt.stop();
    rt.cleanup();
    await emu.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  return [...(await ingestRate()), ...(await streamLatency())];
}

if (require.main === module) runStandalone(run);
