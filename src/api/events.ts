/**
 * Event history REST API (mounted under /api by the runtime, behind auth):
 *  GET /events?q=&from=&to=&gate=&camera=&decision=&source=&kind=&person=&limit=&offset= → { rows, total }
 *    (every credential kind; `gate` = the access point, also as `accessPoint`; `kind` one of
 *    CREDENTIAL_KINDS; `person` a person id or a part of a name)
 *  GET /events/kinds                                                       → { kinds: CREDENTIAL_KINDS }
 *  GET /events.csv (same filters)                                          → text/csv attachment,
 *    streamed in pages (src/api/csv-stream.ts: at most 2 at once, else 429 + Retry-After)
 * Filters combine. `q` of 3 digits matches the plate number, anything else the canonical plate
 * (contains; Latin or Cyrillic). `from`/`to`: epoch ms or ISO time (date-only in the site zone).
 */
import * as path from 'path';
import express from 'express';
import type { Hub } from '../services/hub';
import { eventsOf, EVENT_VIEW_COLUMNS } from '../services/events-service';
import type { EventFilter } from '../store/events-store';
import { parseTime } from '../core/validity';
import { asyncHandler, HttpError } from './util';
import { streamCsv } from './csv-stream';
import { CREDENTIAL_KINDS, DECISION_OUTCOMES, DECISION_SOURCES } from '../core/contracts';

function filterOf(q: express.Request['query'], tz: string, maxLimit: number, defLimit: number): EventFilter {
  const s = (k: string): string | undefined => {
    const v = q[k];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string' || v.length > 128) throw new HttpError(400, `${k} must be a short text`);
    return v;
  };
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = s(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${k} must be an integer ${min}..${max}`);
    return n;
  };
  const time = (k: string, endOfDay: boolean): number | undefined => {
    const v = s(k);
    if (v === undefined) return undefined;
    const t = parseTime(/^\d+$/.test(v) ? Number(v) : v, tz, endOfDay);
    if (t === null) throw new HttpError(400, `${k} must be epoch ms or an ISO date/time`);
    return t;
  };
  const oneOf = <T extends string>(k: string, values: readonly T[]): T | undefined => {
    const v = s(k);
    if (v !== undefined && !(values as readonly string[]).includes(v)) throw new HttpError(400, `${k} must be one of ${values.join(', ')}`);
    return v as T | undefined;
  };
  const gate = s('gate');
  const accessPoint = s('accessPoint');
  if (gate && accessPoint && gate !== accessPoint) throw new HttpError(400, 'gate and accessPoint name the same filter: give one');
  return {
    q: s('q'),
    from: time('from', false),
    to: time('to', true),
    gate: gate ?? accessPoint,
    camera: s('camera'),
    decision: oneOf('decision', DECISION_OUTCOMES),
    source: oneOf('source', DECISION_SOURCES),
    kind: oneOf('kind', CREDENTIAL_KINDS),
    person: s('person'),
    limit: int('limit', 1, maxLimit) ?? defLimit,
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  };
}

export function eventsRouter(hub: Hub): express.Router {
  const router = express.Router();

  router.get('/events/kinds', (_req, res) => {
    res.json({ kinds: CREDENTIAL_KINDS });
  });

  router.get(
    '/events',
    asyncHandler(async (req, res) => {
      res.json(await eventsOf(hub).query(filterOf(req.query, hub.timezone, 1000, 100)));
    }),
  );

  router.get(
    '/events.csv',
    asyncHandler(async (req, res) => {
      const filter = filterOf(req.query, hub.timezone, 100000, 10000);
      await streamCsv(req, res, {
        columns: EVENT_VIEW_COLUMNS as string[],
        filename: 'gatepost-events.csv',
        pages: eventsOf(hub).pages(filter) as AsyncIterable<unknown> as AsyncIterable<Record<string, unknown>[]>,
      });
    }),
  );

  // the snapshot stored with an event (the dashboard's thumbnails); only files under the images dir
  router.get(
    '/events/:id/image',
    asyncHandler(async (req, res) => {
      const id = Number(req.params.id);
      if (!Number.isInteger(id) || id < 1) throw new HttpError(400, 'id must be a positive integer');
      const svc = eventsOf(hub);
      const ev = await svc.get(id);
      const dir = svc.imagesDir();
      if (!ev?.image || !dir || /^[a-z]+:/i.test(ev.image)) throw new HttpError(404, 'no stored image');
      const file = path.resolve(path.dirname(dir), ev.image);
      if (!file.startsWith(dir + path.sep)) throw new HttpError(404, 'no stored image');
      res.setHeader('Cache-Control', 'private, max-age=86400');
      res.type('image/jpeg');
      res.sendFile(file, (err) => {
        if (err && !res.headersSent) res.status(404).json({ error: 'no stored image' });
      });
    }),
  );

  return router;
}
