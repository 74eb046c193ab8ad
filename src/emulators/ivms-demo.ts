/**
 * The emulated iVMS-4200 database of demo mode and `npm run emulators -- ivms`: a TDS server
 * (./tds) holding `thirdparty.dbo.attlog`, seeded with a deterministic dataset — 20 people, 4
 * doors, 90 days up to today — with what real sites show: some names and doors stored as mojibake
 * (UTF-8 read as cp1251, «И» included), a night shift across midnight, days with a missing exit,
 * face and fingerprint besides cards, direction labels `vhod` / `vihod`. A live row is added now
 * and then (a passage of someone at a door), so the live log moves.
 *
 * Times are the site's wall clock (the zone of `timezone`, default the runtime's TZ), as iVMS stores them.
 */
import { garble } from '../core/mojibake';
import { TdsEmulator } from './tds';
import type { AttlogInsert } from './tds';

export const DEMO_PEOPLE = [
  'Иванов Иван',
  'Петров Пётр',
  'Сидорова Анна',
  'Смирнов Илья',
  'Кузнецова Ирина',
  'Попов Игорь',
  'Васильева Мария',
  'Соколов Дмитрий',
  'Михайлова Ольга',
  'Новиков Сергей',
  'Фёдорова Елена',
  'Морозов Алексей',
  'Волкова Наталья',
  'Алексеев Никита',
  'Лебедева Татьяна',
  'Семёнов Андрей',
  'Егорова Юлия',
  'Павлов Виктор',
  'Козлова Инна',
  'Степанов Олег',
] as const;
export const DEMO_DOORS = ['Проходная', 'Склад', 'Офис 2 этаж', 'Ворота'] as const;
/** people whose text iVMS stored as mojibake (indices into DEMO_PEOPLE) */
const GARBLED = new Set([0, 3, 5, 9, 13, 18]);
/** the night shift (in ~20:00, out ~08:00 the next morning) */
const NIGHT = new Set([7, 16]);

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 'YYYY-MM-DD HH:MM:SS' of epoch ms in zone `tz` (the site's wall clock). */
export function wallClockAt(epochMs: number, tz?: string): string {
  const f = new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return f.format(new Date(epochMs));
}

function rowOf(i: number, when: string, door: number, dir: 'in' | 'out', mode: string): AttlogInsert {
  const name = DEMO_PEOPLE[i];
  const doorName = DEMO_DOORS[door];
  const g = GARBLED.has(i);
  return {
    authDateTime: when,
    authDate: when.slice(0, 10),
    authTime: when.slice(11, 19),
    direction: dir === 'in' ? 'vhod' : 'vihod',
    deviceName: `DS-K1T671 ${door + 1}`,
    deviceSN: `DS-K1T671-${String(door + 1).padStart(4, '0')}`,
    personName: g ? garble(name) : name,
    cardNo: String(1000100 + i * 17),
    doorName: g ? garble(doorName) : doorName,
    readerName: `${doorName} ${dir === 'in' ? 'вход' : 'выход'}`,
    employeeID: String(100 + i),
    verifyMode: mode,
  };
}

/**
 * The demo rows of `days` days ending at `now` (sorted by time; serials follow): about 2,400 rows.
 * Deterministic for a given day: the same `now` date gives the same rows.
 */
export function demoRows(now: number, opts: { days?: number; timezone?: string } = {}): AttlogInsert[] {
  const days = opts.days ?? 90;
  const rand = rng(20240311);
  const out: Array<{ t: number; row: AttlogInsert }> = [];
  const tz = opts.timezone;
  const today = wallClockAt(now, tz).slice(0, 10);
  const dayStart = Date.parse(`${today}T00:00:00Z`); // wall-clock midnight as if UTC
  const wallNow = Date.parse(`${wallClockAt(now, tz).replace(' ', 'T')}Z`);
  const add = (t: number, i: number, door: number, dir: 'in' | 'out', mode: string) => {
    if (t > wallNow) return;
    const when = new Date(t).toISOString().slice(0, 19).replace('T', ' ');
    out.push({ t, row: rowOf(i, when, door, dir, mode) });
  };
  for (let d = days - 1; d >= 0; d--) {
    const base = dayStart - d * 86400000;
    const weekday = new Date(base).getUTCDay();
    for (let i = 0; i < DEMO_PEOPLE.length; i++) {
      const r = rand();
      const mode = i % 5 === 0 ? 'face' : i % 7 === 0 ? 'fingerprint' : 'card';
      const door = i % DEMO_DOORS.length;
      if (NIGHT.has(i)) {
        if (weekday === 0) continue;
        const inAt = base + 20 * 3600000 + Math.floor(r * 40) * 60000;
        const outAt = base + 86400000 + 8 * 3600000 + Math.floor(rand() * 30) * 60000;
        add(inAt, i, 0, 'in', mode);
        add(outAt, i, 0, 'out', mode);
        continue;
      }
      if (weekday === 0 || weekday === 6) continue;
      if (r < 0.06) continue; // a day off
      const inAt = base + 8 * 3600000 + Math.floor(rand() * 75) * 60000 + Math.floor(rand() * 60) * 1000;
      const lunchOut = base + 13 * 3600000 + Math.floor(rand() * 20) * 60000;
      const lunchIn = lunchOut + (35 + Math.floor(rand() * 20)) * 60000;
      const outAt = base + 17 * 3600000 + Math.floor(rand() * 90) * 60000;
      add(inAt, i, door, 'in', mode);
      if (i % 4 === 1) {
        add(lunchOut, i, 0, 'out', mode);
        add(lunchIn, i, 0, 'in', mode);
      }
      // a forgotten exit now and then (flagged by the work-time report, never guessed)
      if (rand() < 0.05) continue;
      add(outAt, i, (door + (i % 2)) % DEMO_DOORS.length, 'out', mode);
    }
  }
  out.sort((a, b) => a.t - b.t);
  return out.map((o) => o.row);
}

/** The example flow's table in the demo database and its column names. */
export const EXAMPLE_TABLE = 'example_attlog';
export const EXAMPLE_COLUMNS = { personName: 'name' };

export interface IvmsDemo {
  emulator: TdsEmulator;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the emulated iVMS database (user/password given), seeded; adds a live row every
 * `liveEveryMs` (default 20 s; 0 = never).
 */
export async function startIvmsDemo(opts: { port?: number; user: string; password: string; timezone?: string; liveEveryMs?: number; controlPort?: number; days?: number }): Promise<IvmsDemo> {
  const emulator = await new TdsEmulator({ users: { [opts.user]: opts.password }, controlPort: opts.controlPort }).listen(opts.port ?? 0);
  await emulator.createAttlog();
  const rows = demoRows(Date.now(), { timezone: opts.timezone, days: opts.days });
  for (let i = 0; i < rows.length; i += 1000) await emulator.insertRows(rows.slice(i, i + 1000));
  // the example flow's own table (examples/ivms-attlog.json): the person column is called `name`, directions Entrance / Exit
  await emulator.createAttlog(EXAMPLE_TABLE, EXAMPLE_COLUMNS);
  await emulator.insertRows(
    rows.slice(-10).map((r) => ({ ...r, direction: r.direction === 'vhod' ? 'Entrance' : 'Exit' })),
    EXAMPLE_TABLE,
    EXAMPLE_COLUMNS,
  );
  const rand = rng(Date.now() & 0xffff);
  let timer: NodeJS.Timeout | null = null;
  const every = opts.liveEveryMs ?? 20000;
  if (every > 0) {
    timer = setInterval(() => {
      const i = Math.floor(rand() * DEMO_PEOPLE.length);
      const when = wallClockAt(Date.now(), opts.timezone);
      void emulator.insertRows([rowOf(i, when, Math.floor(rand() * DEMO_DOORS.length), rand() < 0.5 ? 'in' : 'out', 'card')]).catch(() => undefined);
    }, every);
    timer.unref();
  }
  return {
    emulator,
    url: emulator.url,
    async close() {
      if (timer) clearInterval(timer);
      await emulator.close();
    },
  };
}
