/**
 * FTP upload queue REST API (mounted under /api by the runtime, behind auth):
 *  GET  /uploads?target=&state=&limit=  → { targets: TargetStatus[] (per ftp-target: connected, queued,
 *                                          oldest, lastError, …), recent: UploadItem[] (newest first, default 50) }
 *  POST /uploads/:id/retry              → the item, queued again and its target tried now;
 *                                          404 unknown, 409 already delivered / being uploaded
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { uploadsOf, UploadError } from '../services/upload-service';
import type { UploadStateName } from '../core/contracts';
import { asyncHandler, HttpError } from './util';

const STATES: readonly UploadStateName[] = ['queued', 'uploading', 'done', 'failed', 'dropped'];

export function uploadsRouter(hub: Hub): express.Router {
  const router = express.Router();
  const uploads = () => uploadsOf(hub);

  router.get(
    '/uploads',
    asyncHandler(async (req, res) => {
      const target = typeof req.query.target === 'string' && req.query.target ? req.query.target.slice(0, 128) : undefined;
      const state = typeof req.query.state === 'string' && req.query.state ? req.query.state : undefined;
      if (state && !STATES.includes(state as UploadStateName)) throw new HttpError(400, `state must be one of ${STATES.join(', ')}`);
      const limit = req.query.limit === undefined || req.query.limit === '' ? 50 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be an integer 1..1000');
      await hub.ready();
      const targets = uploads()
        .list()
        .filter((t) => !target || t.target === target);
      const recent = await uploads().recent({ target, state: state as UploadStateName | undefined, limit });
      res.json({ targets, recent });
    }),
  );

  router.post(
    '/uploads/:id/retry',
    asyncHandler(async (req, res) => {
      const id = Number(req.params.id);
      if (!Number.isInteger(id) || id < 1) throw new HttpError(400, 'id must be a positive integer');
      try {
        await uploads().retry(id);
      } catch (err) {
        if (err instanceof UploadError) throw new HttpError(err.status, err.message);
        throw err;
      }
      res.json(await uploads().get(id));
    }),
  );

  return router;
}
