/**
 * GET /api/doctor (admin only): the checks of `gatepost doctor` (src/ops/doctor.ts — one
 * implementation) run by the running gatepost, for the «Система» page: { checks: [{ id, verdict,
 * ru, en }], fails, at }. Its own ports count as fine (it listens on them); the gates' reachability
 * is the device monitor's last probe.
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { asyncHandler, requireAdmin } from './util';
import { loadConfig } from '../runtime/config';
import { runDoctor } from '../ops/doctor';
import { gatesOf } from '../services/gate-service';

export function doctorRouter(hub: Hub): express.Router {
  const router = express.Router();
  let running: Promise<unknown> | null = null;
  router.get(
    '/doctor',
    requireAdmin,
    asyncHandler(async (_req, res) => {
      // one run at a time: a page refreshed in a loop must not stack device probes
      if (!running) {
        running = (async () => {
          const cfg = loadConfig(process.env);
          const gates = gatesOf(hub)
            .list()
            .map((g) => ({ id: g.gate, reachable: g.reachable ?? null, lastError: g.lastError ?? null }));
          const checks = await runDoctor({ cfg, mode: 'runtime', gates });
          return { checks, fails: checks.filter((c) => c.verdict === 'fail').length, at: Date.now() };
        })().finally(() => (running = null));
      }
      res.json(await running);
    }),
  );
  return router;
}
