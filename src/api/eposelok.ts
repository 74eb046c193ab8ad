/**
 * E-Poselok REST API (mounted under /api by the runtime, behind auth):
 *  GET  /eposelok/state            → EposelokState (last success, last error, count, stale, pending confirmation)
 *  POST /eposelok/sync {confirm?}  → 200 { ok: true, report, state }
 *                                    200 { ok: false, needsConfirm: true, message, report, state } (suspicious shrink)
 *                                    502 { error, report, state } (E-Poselok failed; the mirror is kept)
 *                                    503 { error } (no e-poselok-sync node deployed)
 *                                    400 { error } (bad body)
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { eposelokOf, EposelokNotConfigured } from '../services/eposelok-service';
import { actorOf, asyncHandler, HttpError } from './util';

const json = express.json({ limit: '4kb' });

export function eposelokRouter(hub: Hub): express.Router {
  const router = express.Router();
  const svc = () => eposelokOf(hub);

  router.get(
    '/eposelok/state',
    asyncHandler(async (_req, res) => {
      await svc().ready();
      res.json(svc().state());
    }),
  );

  router.post(
    '/eposelok/sync',
    json,
    asyncHandler(async (req, res) => {
      const b = req.body;
      if (b !== undefined && b !== null && (typeof b !== 'object' || Array.isArray(b))) throw new HttpError(400, 'body must be a JSON object');
      const confirm = (b as Record<string, unknown> | undefined)?.confirm;
      if (confirm !== undefined && typeof confirm !== 'boolean') throw new HttpError(400, 'confirm must be true or false');
      const s = svc();
      await s.ready();
      let report;
      try {
        report = await s.syncNow({ confirm: confirm === true, trigger: 'api' });
      } catch (err) {
        if (err instanceof EposelokNotConfigured) throw new HttpError(503, err.message);
        throw err;
      }
      hub.logger.info(`e-poselok: manual sync by ${actorOf(req)}${confirm ? ' (confirmed)' : ''}: ${report.ok ? 'ok' : report.needsConfirm ? 'needs confirmation' : 'failed'}`);
      const state = s.state();
      if (report.ok) return res.json({ ok: true, report, state });
      if (report.needsConfirm) return res.json({ ok: false, needsConfirm: true, message: report.message, report, state });
      res.status(502).json({ error: report.error ?? 'sync failed', report, state });
    }),
  );

  return router;
}
