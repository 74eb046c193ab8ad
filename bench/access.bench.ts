/**
 * The iVMS access log (issue 13) on a real sqlite file in a temp dir:
 *  - ingest through accessLogOf(hub).ingest (dedupe, mojibake repair, access events + log rows in
 *    one transaction) in batches of 1,000 rows — rows/s, goal ≥ 5,000;
 *  - a rescan of rows already stored (the reader's rescan window) — rows/s;
 *  - with BENCH_ACCESS_EVENTS (default 1,000,000) access events over 30 days for 1,500 people on 4
 *    doors (ingested the same way): the work-time report of the 30 days for everybody (goal ≤ 1 s)
 *    and for one person, the who-is-inside summary (goal ≤ 200 ms), and log queries with filters
 *    (door + direction + a day, a name search in both spellings, a page deep in the log).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, fmt, summarize, runStandalone } from './lib';
import { Hub } from '../src/services/hub';
import { accessLogOf } from '../src/services/access-log-service';
import { garble } from '../src/core/mojibake';
import { searchTerms } from '../src/api/access';
import type { IvmsRow } from '../src/core/contracts';
import { silentLogger } from '../src/core/log';

const N = Number(process.env.BENCH_ACCESS_EVENTS || 1_000_000);
const PEOPLE = 1500;
const DAYS = 30;
const DOORS = ['Проходная', 'Склад', 'Офис', 'Гараж'];
const BATCH = 1000;
const FIRST = ['Иван', 'Пётр', 'Ирина', 'Игорь', 'Анна', 'Олег', 'Мария', 'Илья'];
const LAST = ['Иванов', 'Петров', 'Сидоров', 'Кузнецов', 'Ильин', 'Смирнов', 'Попов', 'Волков'];

/** The rows of the dataset in serial order (a generator: a million rows are never all in memory). */
export function* dataset(n: number, startDay: Date): Generator<IvmsRow> {
  const perDay = Math.max(2, Math.round(n / PEOPLE / DAYS / 2) * 2);
  let serial = 0;
  for (let d = 0; d < DAYS && serial < n; d++) {
    const day = new Date(startDay.getTime() + d * 86400000).toISOString().slice(0, 10);
    for (let p = 0; p < PEOPLE && serial < n; p++) {
      const name = `${LAST[p % LAST.length]} ${FIRST[(p >> 3) % FIRST.length]} ${p}`;
      const stored = p % 3 === 0 ? garble(name) : name; // a third garbled, as iVMS often stores them
      const night = p % 20 === 0;
      let minute = night ? 20 * 60 : 7 * 60 + (p % 120);
      for (let k = 0; k < perDay && serial < n; k++) {
        minute += night ? Math.floor((10 * 60) / perDay) : Math.floor((9 * 60) / perDay);
        const dayOff = Math.floor(minute / 1440);
        const m = minute % 1440;
        const dt = dayOff ? new Date(Date.parse(day) + dayOff * 86400000).toISOString().slice(0, 10) : day;
        yield {
          serialNo: ++serial,
          authLocal: `${dt}T${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:${String(p % 60).padStart(2, '0')}.000`,
          authDate: dt,
          authTime: null,
          direction: k % 2 === 0 ? 'vhod' : 'vihod',
          deviceName: 'DS-K1T671',
          deviceSN: `SN${p % 4}`,
          personName: stored,
          cardNo: String(100000 + p),
          doorName: garble(DOORS[(p + k) % DOORS.length]),
          readerName: null,
          employeeID: String(p),
          verifyMode: p % 7 === 0 ? 'face' : 'card',
        };
      }
    }
  }
}

async function timed<T>(runs: number, fn: () => Promise<T>): Promise<{ s: ReturnType<typeof summarize>; last: T }> {
  const ms: number[] = [];
  let last!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = await fn();
    ms.push(performance.now() - t0);
  }
  return { s: summarize(ms), last };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-access-'));
  const hub = Hub.open({ dbPath: path.join(dir, 'bench.db'), timezone: 'Europe/Moscow', retentionYears: 0, logger: silentLogger });
  try {
    const log = accessLogOf(hub);
    await hub.ready();
    const start = new Date(Date.UTC(2024, 2, 1));
    // ingest everything in batches, timing each
    const batchMs: number[] = [];
    let batch: IvmsRow[] = [];
    let total = 0;
    const t0 = performance.now();
    const flush = async () => {
      const b0 = performance.now();
      const r = await log.ingest('bench', batch);
      batchMs.push(performance.now() - b0);
      total += r.inserted;
      batch = [];
    };
    for (const r of dataset(N, start)) {
      batch.push(r);
      if (batch.length === BATCH) await flush();
    }
    if (batch.length) await flush();
    const ingestMs = performance.now() - t0;
    const bs = summarize(batchMs);
    rows.push({
      area: 'access',
      metric: `ingest through the service, batches of ${BATCH} (${(total / 1000).toFixed(0)}k rows, a third mojibake)`,
      value: `${Math.round(total / (ingestMs / 1000))} rows/s`,
      goal: '≥ 5,000 rows/s',
      note: `batch p50 ${fmt(bs.p50)} ms / p99 ${fmt(bs.p99)} ms; ${(ingestMs / 1000).toFixed(1)} s in all`,
    });

    // the rescan window: the last 20k rows again (all duplicates)
    const again: IvmsRow[] = [];
    let i = 0;
    for (const r of dataset(N, start)) if (++i > total - 20000) again.push(r);
    const rescan = await timed(1, async () => {
      let dup = 0;
      for (let k = 0; k < again.length; k += BATCH) dup += (await log.ingest('bench', again.slice(k, k + BATCH))).duplicates;
      return dup;
    });
    rows.push({
      area: 'access',
      metric: `rescan of ${again.length / 1000}k rows already stored`,
      value: `${Math.round(again.length / (rescan.s.max / 1000))} rows/s`,
      note: `${rescan.last} duplicates, nothing written`,
    });

    const from = start.toISOString().slice(0, 10);
    const to = new Date(start.getTime() + (DAYS - 1) * 86400000).toISOString().slice(0, 10);
    const wt = await timed(5, () => log.workTime(from, to));
    rows.push({
      area: 'access',
      metric: `work-time report, ${DAYS} days, everybody (${(total / 1e6).toFixed(2)}M events)`,
      value: `p50 ${fmt(wt.s.p50)} ms / max ${fmt(wt.s.max)} ms`,
      goal: '≤ 1 s',
      note: `${wt.last.total.people} people, ${wt.last.total.days} person-days, ${wt.last.total.flaggedDays} flagged`,
    });
    const one = await timed(10, () => log.workTime(from, to, 'id:42'));
    rows.push({ area: 'access', metric: 'work-time report, 30 days, one person', value: `p50 ${fmt(one.s.p50)} ms / max ${fmt(one.s.max)} ms`, note: `${one.last.days.length} days` });

    const sum = await timed(10, () => log.summary({ afterHours: 20 * 60 }));
    rows.push({
      area: 'access',
      metric: `who-is-inside summary (${sum.last.people.length} people)`,
      value: `p50 ${fmt(sum.s.p50)} ms / max ${fmt(sum.s.max)} ms`,
      goal: '≤ 200 ms',
      note: `${sum.last.inside} inside`,
    });

    const dayFrom = Date.parse(`${from}T00:00:00+03:00`) + 10 * 86400000;
    const queries: Array<[string, Parameters<typeof log.query>[0]]> = [
      ['log page 1, no filter (with the total)', { limit: 50 }],
      ['log: door + direction + one day', { door: 'Склад', direction: 'in', from: dayFrom, to: dayFrom + 86400000 - 1, limit: 50 }],
      ['log: name search (clean + garbled spellings), 30 days', { q: searchTerms('Ильин Игорь'), limit: 50 }],
      ['log: card number search', { q: searchTerms('100042'), limit: 50 }],
      ['log: page 200 of 50 rows', { limit: 50, offset: 10000 }],
    ];
    for (const [name, f] of queries) {
      const q = await timed(5, () => log.query(f));
      rows.push({ area: 'access', metric: name, value: `p50 ${fmt(q.s.p50)} ms / max ${fmt(q.s.max)} ms`, note: `${q.last.total} matching` });
    }
  } finally {
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) runStandalone(run);
