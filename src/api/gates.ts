/**
 * Gates REST API (mounted under /api by the runtime, behind auth):
 *  GET  /gates                      → GateStatePayload[]
 *  POST /gates/:id/:command         → the new GateStatePayload (open | hold | release | close;
 *                                     actor = the logged-in user, source 'user'); 502 with
 *                                     `{ error, state }` when the device failed
 *  GET  /gates/actions?gate=&limit=&offset=&from=&to= → gate action rows, newest first
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { gatesOf, GateError } from '../services/gate-service';
import { isGateCommand } from '../core/gate';
import { actorOf, asyncHandler, HttpError } from './util';

function intParam(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer ${min}..${max}`);
  return n;
}

export function gatesRouter(hub: Hub): express.Router {
  const router = express.Router();
  const gates = () => gatesOf(hub);

  router.get(
    '/gates',
    asyncHandler(async (_req, res) => {
      res.json(gates().list());
    }),
  );

  router.get(
    '/gates/actions',
    asyncHandler(async (req, res) => {
      const gate = typeof req.query.gate === 'string' && req.query.gate ? req.query.gate : undefined;
      const rows = await gates().actions({
        gate,
        limit: intParam(req.query.limit, 'limit', 1, 1000) ?? 100,
        offset: intParam(req.query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
        from: intParam(req.query.from, 'from', 0, Number.MAX_SAFE_INTEGER),
        to: intParam(req.query.to, 'to', 0, Number.MAX_SAFE_INTEGER),
      });
      res.json(rows);
    }),
  );

  router.post(
    '/gates/:id/:command',
    asyncHandler(async (req, res) => {
      const { id, command } = req.params;
      if (!isGateCommand(command)) throw new HttpError(400, `unknown command "${command}" (expected open, hold, release or close)`);
      try {
        const state = await gates().command(id, command, { kind: 'user', actor: actorOf(req) });
        res.json(state);
      } catch (err) {
        if (err instanceof GateError) {
          res.status(err.status).json({ error: err.message, state: err.state ?? null });
          return;
        }
        throw err;
      }
    }),
  );

  return router;
}
