/**
 * The iVMS-4200 access log over REST (mounted under /api by the runtime, behind auth):
 *  GET /access/doors                                → { doors: [{ door, doorRaw, firstTs, lastTs }] }
 *  GET /access/events?from=&to=&door=&q=&kind=&direction=&person=&source=&limit=&offset=
 *                                                   → { rows, total } (newest first; each row with
 *    `time` (ISO) and `local` (the site's wall clock))
 *  GET /access/events.csv (same filters)            → text/csv, streamed in pages (csv-stream.ts)
 *  GET /access/summary?afterHours=HH:MM             → who is inside: { inside, afterHours, people, afterHoursAt, ts }
 *  GET /access/worktime?from=YYYY-MM-DD&to=YYYY-MM-DD&person=
 *                                                   → { from, to, days, totals, total } (site's days)
 *  GET /access/worktime.csv (same)                  → one line per person and day
 *  POST /access/rows (admin only) { source, rows: IvmsRow[], directionMap?, timezone? }
 *                                                   → { inserted, duplicates } — attlog rows pushed
 *    by an external reader (a site where gatepost cannot reach SQL Server itself; tests), ingested
 *    exactly like the ivms-attlog node's (dedupe, mojibake repair, access events, the stream)
 * `from`/`to` of the log: epoch ms, an ISO time, a local 'YYYY-MM-DDTHH:mm' or a date (site zone).
 * `q`: a part of a name, card number or employee ID, matched in the clean and in the garbled
 * (as iVMS stored it) spelling; a garbled query matches too. Only parameters reach SQL, and the
 * match is instr(), so `%`, `_` and quotes are plain characters. `person`: a person key
 * (`id:…`, `name:…`, `card:…`) or, in the work time, a search text like `q`.
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { accessLogOf } from '../services/access-log-service';
import type { AccessFilter, AccessLogRow } from '../store/access-store';
import { parseHourMinute, type WorkDay } from '../core/attlog';
import { garble, repairMojibake } from '../core/mojibake';
import { isValidTimeZone, parseTime } from '../core/validity';
import { asyncHandler, HttpError, requireAdmin } from './util';
import { IVMS_COLUMNS, type IvmsRow } from '../core/contracts';
import { streamCsv } from './csv-stream';

export const ACCESS_KINDS = ['card', 'face', 'fingerprint'] as const;
export const ACCESS_DIRECTIONS = ['in', 'out', 'unknown'] as const;
const MAX_REPORT_DAYS = 366;

// prettier-ignore
export const ACCESS_CSV_COLUMNS = [
  'id', 'local', 'time', 'direction', 'door', 'personName', 'employeeID', 'cardNo', 'kind', 'reader', 'device',
  'deviceSN', 'directionRaw', 'personNameRaw', 'doorRaw', 'source', 'serialNo',
];
export const WORKTIME_CSV_COLUMNS = ['person', 'name', 'day', 'firstIn', 'lastOut', 'hours', 'pairs', 'passages', 'flags'];

type Query = express.Request['query'];

function text(q: Query, k: string, max = 128): string | undefined {
  const v = q[k];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new HttpError(400, `${k} must be a short text`);
  return v;
}

/** The spellings to look for: as typed, repaired, and garbled the way iVMS stores it (lower case). */
export function searchTerms(q: string): string[] {
  const t = q.trim();
  if (!t) return [];
  return [...new Set([t, repairMojibake(t), garble(t), garble(t, 'drop')].map((s) => s.toLowerCase()))];
}

function filterOf(q: Query, tz: string, maxLimit: number, defLimit: number): AccessFilter {
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = text(q, k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${k} must be an integer ${min}..${max}`);
    return n;
  };
  const time = (k: string, endOfDay: boolean): number | undefined => {
    const v = text(q, k);
    if (v === undefined) return undefined;
    const t = parseTime(/^\d+$/.test(v) ? Number(v) : v, tz, endOfDay);
    if (t === null) throw new HttpError(400, `${k} must be epoch ms or an ISO date/time`);
    return t;
  };
  const oneOf = <T extends string>(k: string, values: readonly T[]): T | undefined => {
    const v = text(q, k);
    if (v !== undefined && !(values as readonly string[]).includes(v)) throw new HttpError(400, `${k} must be one of ${values.join(', ')}`);
    return v as T | undefined;
  };
  const door = text(q, 'door');
  const search = text(q, 'q');
  return {
    from: time('from', false),
    to: time('to', true),
    door: door === undefined ? undefined : repairMojibake(door),
    q: search === undefined ? undefined : searchTerms(search),
    kind: oneOf('kind', ACCESS_KINDS),
    direction: oneOf('direction', ACCESS_DIRECTIONS),
    person: text(q, 'person'),
    source: text(q, 'source'),
    limit: int('limit', 1, maxLimit) ?? defLimit,
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  };
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_PUSH_ROWS = 5000;

/** IvmsRow[] from a request body: serialNo an integer, the other columns text or null (numbers become text). */
function rowsOf(body: unknown): IvmsRow[] {
  if (!Array.isArray(body)) throw new HttpError(400, 'rows must be an array of attlog rows');
  if (body.length > MAX_PUSH_ROWS) throw new HttpError(400, `at most ${MAX_PUSH_ROWS} rows at once`);
  return body.map((r, i) => {
    if (!r || typeof r !== 'object') throw new HttpError(400, `rows[${i}] is not an object`);
    const o = r as Record<string, unknown>;
    const serialNo = Number(o.serialNo);
    if (!Number.isSafeInteger(serialNo)) throw new HttpError(400, `rows[${i}].serialNo must be an integer`);
    const row: Record<string, unknown> = { serialNo };
    for (const c of IVMS_COLUMNS) {
      if (c === 'serialNo' || c === 'authDateTime') continue;
      const v = o[c];
      row[c] = v === undefined || v === null ? null : typeof v === 'string' ? v.slice(0, 256) : typeof v === 'number' ? String(v) : null;
    }
    const local = o.authLocal ?? o.authDateTime;
    row.authLocal = typeof local === 'string' ? local.slice(0, 40) : null;
    return row as unknown as IvmsRow;
  });
}

export function accessRouter(hub: Hub): express.Router {
  const router = express.Router();
  const log = () => accessLogOf(hub);
  const view = (r: AccessLogRow) => ({ ...r, time: new Date(r.ts).toISOString(), local: log().localTime().wallClock(r.ts).replace('T', ' ') });

  router.get(
    '/access/doors',
    asyncHandler(async (_req, res) => {
      res.json({ doors: await log().doors() });
    }),
  );

  router.get(
    '/access/events',
    asyncHandler(async (req, res) => {
      const r = await log().query(filterOf(req.query, hub.timezone, 1000, 100));
      res.json({ rows: r.rows.map(view), total: r.total });
    }),
  );

  router.get(
    '/access/events.csv',
    asyncHandler(async (req, res) => {
      const filter = filterOf(req.query, hub.timezone, 1000000, 100000);
      const svc = log();
      async function* pages() {
        for await (const rows of svc.pages(filter)) yield rows.map(view) as unknown as Record<string, unknown>[];
      }
      await streamCsv(req, res, { columns: ACCESS_CSV_COLUMNS, filename: 'gatepost-access.csv', pages: pages() });
    }),
  );

  router.get(
    '/access/summary',
    asyncHandler(async (req, res) => {
      const v = text(req.query, 'afterHours', 8);
      let afterHours: number | null | undefined;
      if (v !== undefined) {
        afterHours = v === 'off' ? null : parseHourMinute(v);
        if (afterHours === null && v !== 'off') throw new HttpError(400, 'afterHours must be HH:MM or off');
      }
      const s = await log().summary({ afterHours });
      const lt = log().localTime();
      res.json({ ...s, people: s.people.map((p) => ({ ...p, local: lt.wallClock(p.ts).replace('T', ' ') })) });
    }),
  );

  const report = async (q: Query) => {
    const lt = log().localTime();
    const today = lt.day(hub.clock.now());
    const from = text(q, 'from') ?? lt.day(lt.dayStart(today, -6));
    const to = text(q, 'to') ?? today;
    if (!DAY_RE.test(from) || !DAY_RE.test(to) || Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to))) throw new HttpError(400, 'from and to must be dates YYYY-MM-DD');
    if (from > to) throw new HttpError(400, 'from must not be after to');
    if ((Date.parse(to) - Date.parse(from)) / 86400000 >= MAX_REPORT_DAYS) throw new HttpError(400, `at most ${MAX_REPORT_DAYS} days`);
    const person = text(q, 'person');
    let persons: string[] | undefined;
    if (person !== undefined) persons = /^(id|name|card):/.test(person) ? [person] : await log().personsMatching(searchTerms(person));
    if (persons && !persons.length) return { from, to, days: [] as WorkDay[], totals: [], total: { people: 0, days: 0, insideMs: 0, flaggedDays: 0 } };
    return log().workTime(from, to, persons);
  };

  router.get(
    '/access/worktime',
    asyncHandler(async (req, res) => {
      res.json(await report(req.query));
    }),
  );

  router.get(
    '/access/worktime.csv',
    asyncHandler(async (req, res) => {
      const r = await report(req.query);
      const lt = log().localTime();
      const local = (t: number | null) => (t === null ? '' : lt.wallClock(t).replace('T', ' '));
      const rows = r.days.map((d) => ({
        person: d.person,
        name: d.name ?? '',
        day: d.day,
        firstIn: local(d.firstIn),
        lastOut: local(d.lastOut),
        hours: (d.insideMs / 3600000).toFixed(2),
        pairs: d.pairs,
        passages: d.passages,
        flags: d.flags.join(' '),
      }));
      async function* pages() {
        for (let i = 0; i < rows.length; i += 500) yield rows.slice(i, i + 500);
      }
      await streamCsv(req, res, { columns: WORKTIME_CSV_COLUMNS, filename: `gatepost-worktime-${r.from}-${r.to}.csv`, pages: pages() });
    }),
  );

  router.post(
    '/access/rows',
    requireAdmin,
    express.json({ limit: '4mb' }),
    asyncHandler(async (req, res) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const source = typeof b.source === 'string' && /^[\w.:-]{1,64}$/.test(b.source) ? b.source : null;
      if (!source) throw new HttpError(400, 'source must be a short name (letters, digits, . : - _)');
      const map = b.directionMap;
      if (map !== undefined && (typeof map !== 'object' || map === null || Object.values(map).some((v) => v !== 'in' && v !== 'out')))
        throw new HttpError(400, 'directionMap maps labels to in or out');
      const timezone = typeof b.timezone === 'string' && b.timezone ? b.timezone : undefined;
      if (timezone && !isValidTimeZone(timezone)) throw new HttpError(400, 'timezone must be an IANA time zone');
      const r = await log().ingest(source, rowsOf(b.rows), { directionMap: map as Record<string, 'in' | 'out'> | undefined, timezone });
      res.json({ inserted: r.inserted, duplicates: r.duplicates });
    }),
  );

  return router;
}
