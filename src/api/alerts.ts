/**
 * Alerts REST API (mounted under /api by the runtime, behind auth; src/services/alarm-service.ts):
 *  GET  /alerts?limit=                 → recent alerts, newest first (every user: the guard screen)
 *  GET  /alerts/:id/image              → the alert's JPEG (camera snapshot), 404 without one
 *  admin only («Система» → «Оповещения»):
 *  GET  /alerts/settings               → { settings, types, roles }
 *  PUT  /alerts/settings               → the new settings (400 with the problems when invalid)
 *  GET  /alerts/chats                  → the chats (pending with a code, verified, revoked)
 *  POST /alerts/chats/confirm          → { code, role, types, commands, quietFrom, quietTo }: verifies the
 *                                        chat that got this code (400 wrong/expired, 429 after 5 wrong codes)
 *  PUT  /alerts/chats/:chatId          → changes a verified chat's role, types, commands, quiet hours
 *  POST /alerts/chats/:chatId/revoke   → revokes it (nothing more is sent, its queue dropped)
 *  GET  /alerts/outbox?limit=          → delivery state: counts, recent messages, 429 pause, the bot's state
 */
import express from 'express';
import type { Hub } from '../services/hub';
import { alarmsOf } from '../services/alarm-service';
import { ALERT_TYPES, CHAT_ROLES } from '../core/alarms';
import { actorOf, asyncHandler, HttpError, requireAdmin } from './util';

function limitOf(v: unknown, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new HttpError(400, 'limit must be an integer 1..500');
  return n;
}

function chatIdOf(v: string): number {
  if (!/^-?\d{1,16}$/.test(v)) throw new HttpError(400, 'chat id must be an integer');
  return Number(v);
}

export function alertsRouter(hub: Hub): express.Router {
  const router = express.Router();
  const svc = () => alarmsOf(hub);
  const body = (req: express.Request): Record<string, unknown> => {
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw new HttpError(400, 'JSON object body required');
    return req.body as Record<string, unknown>;
  };
  const json = express.json({ limit: '64kb' });

  router.get(
    '/alerts',
    asyncHandler(async (req, res) => res.json(await svc().recent(limitOf(req.query.limit, 50)))),
  );
  router.get(
    '/alerts/settings',
    requireAdmin,
    asyncHandler(async (_req, res) => res.json({ settings: svc().getSettings(), types: ALERT_TYPES, roles: CHAT_ROLES })),
  );
  router.put(
    '/alerts/settings',
    requireAdmin,
    json,
    asyncHandler(async (req, res) => res.json({ settings: await svc().updateSettings(body(req)) })),
  );
  router.get(
    '/alerts/chats',
    requireAdmin,
    asyncHandler(async (_req, res) => res.json(svc().chatsList())),
  );
  router.post(
    '/alerts/chats/confirm',
    requireAdmin,
    json,
    asyncHandler(async (req, res) => {
      const b = body(req);
      res.json(await svc().confirm(b.code, { role: b.role, types: b.types, commands: b.commands, quietFrom: b.quietFrom, quietTo: b.quietTo }, actorOf(req)));
    }),
  );
  router.put(
    '/alerts/chats/:chatId',
    requireAdmin,
    json,
    asyncHandler(async (req, res) => {
      const b = body(req);
      res.json(await svc().update(chatIdOf(req.params.chatId), { role: b.role, types: b.types, commands: b.commands, quietFrom: b.quietFrom, quietTo: b.quietTo }));
    }),
  );
  router.post(
    '/alerts/chats/:chatId/revoke',
    requireAdmin,
    asyncHandler(async (req, res) => res.json(await svc().revoke(chatIdOf(req.params.chatId), actorOf(req)))),
  );
  router.get(
    '/alerts/outbox',
    requireAdmin,
    asyncHandler(async (req, res) => res.json(await svc().outbox(limitOf(req.query.limit, 50)))),
  );
  router.get(
    '/alerts/:id/image',
    asyncHandler(async (req, res) => {
      if (!/^\d{1,15}$/.test(req.params.id)) throw new HttpError(400, 'alert id must be an integer');
      const img = await svc().image(Number(req.params.id));
      if (!img) throw new HttpError(404, 'no image');
      res.setHeader('Content-Type', 'image/jpeg');
      res.end(img);
    }),
  );
  return router;
}
