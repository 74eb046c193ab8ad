/**
 * Passes REST API (mounted under /api by the runtime, behind auth):
 *  GET  /passes/search?q=&limit=50          → { results: PassSearchResult[] } (active passes only)
 *  GET  /passes/temporary[?all=1]           → { passes: TempPassView[] } (active by default)
 *  POST /passes/temporary                   {plate? | digits?, house?, note?, preset, days?, from?, to?, confirm?}
 *                                           → 201 { pass } | 400 { error } | 409 { error, existing } (the same
 *                                             digits / plate already has a pass for that time; confirm: true issues it anyway)
 *  POST /passes/temporary/:id/cancel        → { pass } | 404 | 409
 *  POST /passes/temporary/:id/extend        {days? | to?} → { pass } | 400 | 404 | 409
 * The author of a change is the logged-in user (actorOf).
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { passesOf, PassError } from '../services/passes-service';
import { actorOf, asyncHandler, HttpError } from './util';

const json = express.json({ limit: '16kb' });

function limitOf(v: unknown, def: number, max: number): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(400, `limit must be an integer 1..${max}`);
  return n;
}

function body(req: express.Request): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new HttpError(400, 'body must be a JSON object');
  return b as Record<string, unknown>;
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PassError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

export function passesRouter(hub: Hub): express.Router {
  const router = express.Router();
  const passes = () => passesOf(hub);

  router.get(
    '/passes/search',
    asyncHandler(async (req, res) => {
      const svc = passes();
      await svc.ready();
      const q = typeof req.query.q === 'string' ? req.query.q : '';
      res.json({ results: svc.search(q, limitOf(req.query.limit, 50, 500)) });
    }),
  );

  router.get(
    '/passes/temporary',
    asyncHandler(async (req, res) => {
      const all = req.query.all === '1' || req.query.all === 'true';
      res.json({ passes: await passes().listTemp({ all, limit: limitOf(req.query.limit, 500, 5000) }) });
    }),
  );

  router.post(
    '/passes/temporary',
    json,
    asyncHandler(async (req, res) => {
      const b = body(req);
      try {
        const pass = await passes().addTemp(b, actorOf(req), { confirm: b.confirm === true });
        res.status(201).json({ pass });
      } catch (err) {
        // a duplicate: the client shows the existing pass and may repeat the request with confirm: true
        if (err instanceof PassError && err.existing) return void res.status(409).json({ error: err.message, existing: err.existing });
        throw err instanceof PassError ? new HttpError(err.status, err.message) : err;
      }
    }),
  );

  router.post(
    '/passes/temporary/:id/cancel',
    json,
    asyncHandler(async (req, res) => {
      const pass = await guard(() => passes().cancelTemp(req.params.id, actorOf(req)));
      res.json({ pass });
    }),
  );

  router.post(
    '/passes/temporary/:id/extend',
    json,
    asyncHandler(async (req, res) => {
      const pass = await guard(() => passes().extendTemp(req.params.id, body(req), actorOf(req)));
      res.json({ pass });
    }),
  );

  // a body that is not JSON gets a 400, not a 500
  router.use('/passes', (err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.type === 'entity.parse.failed' || err?.type === 'entity.too.large') {
      res.status(err.status ?? 400).json({ error: err.type === 'entity.too.large' ? 'body too large' : 'body must be valid JSON' });
      return;
    }
    next(err);
  });

  return router;
}
