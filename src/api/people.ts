/**
 * People and QR guest passes REST API (issue 16; mounted under /api by the runtime, behind auth).
 * Writes to the registry are for the admin; QR guest passes are issued by guards too (like
 * temporary passes).
 *  GET    /people[?q=]                        → { people: Person[] }
 *  GET    /people/by-card/:cardNo             → { person } | 404
 *  GET    /people/:id                         → { person, photos, qr }
 *  POST   /people                 (admin)     {name, unit?, note?, cards?, accessPoints?, validFrom?, validTo?, disabled?} → 201 { person } | 400 | 409 (card taken)
 *  PUT    /people/:id             (admin)     the fields to change → { person }
 *  DELETE /people/:id             (admin)     → { ok }
 *  POST   /people/:id/photos      (admin)     body: the image (Content-Type image/jpeg | image/png, ≤ 2 MB) → 201 { photo } | 413 | 415
 *  GET    /people/:id/photos/:photoId         → the image
 *  DELETE /people/:id/photos/:photoId (admin) → { ok }
 *  POST   /people/:id/enrol       (admin)     → { enrolled, skipped, faces } (the built-in recogniser: GATEPOST_FACE_RECOGNISER=on) | 409 when off
 *  DELETE /people/:id/faces       (admin)     → { removed }
 *  POST   /passes/qr                          {passId? | personId?, label?, maxUses? (1), accessPoints?, preset?/days?/from?/to?, sendTo?} → 201 { qr, token, png, sent? } (png: data URL; the token is shown only here)
 *                                              sendTo: a verified Telegram chat id (GET /passes/qr/chats): the PNG + validity, uses, door go
 *                                              through the alarm service's durable outbox; 400 not an id, 404 unknown / unverified chat (nothing issued)
 *  POST   /passes/temporary/:id/qr            the same, bound to that temporary pass
 *  GET    /passes/qr/chats                    → { chats: [{chatId, title, role}] } the verified chats a pass can be sent to
 *  GET    /passes/qr[?passId=&personId=&all=1] → { qr: QrPassView[] }
 *  POST   /passes/qr/:id/revoke               → { qr } | 404 | 409
 *  POST   /passes/qr/png                      {token, width?} → image/png of a known token (404 for any other text)
 */
import express from 'express';
import type * as QRCodeNs from 'qrcode';
import { lazy } from '../core/lazy';

/** qrcode, loaded when the first QR picture is made */
const QRCode = lazy((): typeof QRCodeNs => require('qrcode'));
import type { Hub } from '../services/hub';
import { peopleOf, PeopleError, PHOTO_MAX_BYTES } from '../services/people-service';
import { faceRecogniserOf } from '../media/face-recogniser';
import { alarmsOf } from '../services/alarm-service';
import { qrPassText } from '../core/people';
import { localStamp } from '../core/alarms';
import { actorOf, asyncHandler, HttpError, requireAdmin } from './util';

const json = express.json({ limit: '16kb' });
const image = express.raw({ type: ['image/jpeg', 'image/png'], limit: PHOTO_MAX_BYTES });

function body(req: express.Request): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b) || Buffer.isBuffer(b)) throw new HttpError(400, 'body must be a JSON object');
  return b as Record<string, unknown>;
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PeopleError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

/** The built-in face recogniser is off unless the site turns it on (it loads ~300 MB of models). */
export const faceRecogniserEnabled = (): boolean => /^(on|1|true|yes)$/i.test(process.env.GATEPOST_FACE_RECOGNISER ?? '');

/** A QR code PNG of a token (error correction M, 4-module quiet zone). */
export function qrPng(token: string, width = 320): Promise<Buffer> {
  return QRCode().toBuffer(token, { type: 'png', errorCorrectionLevel: 'M', margin: 4, width });
}

export function peopleRouter(hub: Hub): express.Router {
  const router = express.Router();
  const people = async () => {
    const p = peopleOf(hub);
    await p.ready();
    return p;
  };

  router.get(
    '/people',
    asyncHandler(async (req, res) => {
      res.json({ people: (await people()).list(typeof req.query.q === 'string' ? req.query.q.slice(0, 100) : '') });
    }),
  );
  router.get(
    '/people/by-card/:cardNo',
    asyncHandler(async (req, res) => {
      const p = (await people()).byCard(req.params.cardNo);
      if (!p) throw new HttpError(404, `no person has card ${req.params.cardNo.slice(0, 32)}`);
      res.json({ person: p });
    }),
  );
  router.get(
    '/people/:id',
    asyncHandler(async (req, res) => {
      const svc = await people();
      const person = svc.get(Number(req.params.id));
      if (!person) throw new HttpError(404, `person ${req.params.id.slice(0, 20)} not found`);
      res.json({ person, photos: await svc.photos(person.id), qr: await svc.listQr({ personId: person.id, all: true }) });
    }),
  );
  router.post(
    '/people',
    requireAdmin,
    json,
    asyncHandler(async (req, res) => {
      const person = await guard(async () => (await people()).create(body(req), actorOf(req)));
      res.status(201).json({ person });
    }),
  );
  router.put(
    '/people/:id',
    requireAdmin,
    json,
    asyncHandler(async (req, res) => {
      res.json({ person: await guard(async () => (await people()).update(req.params.id, body(req), actorOf(req))) });
    }),
  );
  router.delete(
    '/people/:id',
    requireAdmin,
    asyncHandler(async (req, res) => {
      await guard(async () => (await people()).remove(req.params.id, actorOf(req)));
      res.json({ ok: true });
    }),
  );
  router.post(
    '/people/:id/photos',
    requireAdmin,
    image,
    asyncHandler(async (req, res) => {
      if (!Buffer.isBuffer(req.body)) throw new HttpError(415, 'send the photo as the body with Content-Type image/jpeg or image/png');
      const photo = await guard(async () => (await people()).addPhoto(req.params.id, String(req.headers['content-type'] ?? ''), req.body as Buffer));
      res.status(201).json({ photo });
    }),
  );
  router.get(
    '/people/:id/photos/:photoId',
    asyncHandler(async (req, res) => {
      const ph = await guard(async () => (await people()).photo(req.params.id, req.params.photoId));
      res.setHeader('Content-Type', ph.mime);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end(ph.bytes);
    }),
  );
  router.delete(
    '/people/:id/photos/:photoId',
    requireAdmin,
    asyncHandler(async (req, res) => {
      await guard(async () => (await people()).removePhoto(req.params.id, req.params.photoId));
      res.json({ ok: true });
    }),
  );
  router.post(
    '/people/:id/enrol',
    requireAdmin,
    asyncHandler(async (req, res) => {
      if (!faceRecogniserEnabled()) throw new HttpError(409, 'the built-in face recogniser is off (GATEPOST_FACE_RECOGNISER=on turns it on)');
      const svc = await people();
      if (!svc.get(Number(req.params.id))) throw new HttpError(404, `person ${req.params.id.slice(0, 20)} not found`);
      const r = await guard(() => faceRecogniserOf(hub).enrol(req.params.id));
      res.json({ ...r, faces: svc.get(Number(req.params.id))?.faces ?? 0 });
    }),
  );
  router.delete(
    '/people/:id/faces',
    requireAdmin,
    asyncHandler(async (req, res) => {
      res.json({ removed: await guard(async () => (await people()).clearFaces(req.params.id)) });
    }),
  );

  // ---------- QR guest passes ----------
  const issue = async (req: express.Request, res: express.Response, extra: Record<string, unknown>) => {
    const { sendTo, ...input } = body(req);
    // the chat is checked before the pass exists: a refused send issues nothing
    let chatId: number | null = null;
    if (sendTo !== undefined && sendTo !== null && sendTo !== '') {
      if (!/^-?\d{1,16}$/.test(String(sendTo))) throw new HttpError(400, 'sendTo must be a chat id (an integer)');
      chatId = Number(sendTo);
      if (!(await alarmsOf(hub).verifiedChats()).some((c) => c.chatId === chatId)) throw new HttpError(404, `no verified Telegram chat ${chatId}`);
    }
    const { qr, token } = await guard(async () => (await people()).createQr({ ...input, ...extra }, actorOf(req)));
    const png = await qrPng(token);
    let sent: { chatId: number; queued: boolean; error?: string } | undefined;
    if (chatId !== null) {
      const alarms = alarmsOf(hub);
      const text = qrPassText(qr, alarms.getSettings().lang, (ts) => localStamp(ts, hub.timezone));
      try {
        await alarms.sendTo(chatId, text, png);
        hub.logger.info(`QR pass ${qr.id} sent to Telegram chat ${chatId} by ${actorOf(req) || 'anonymous'}`);
        sent = { chatId, queued: true };
      } catch (err) {
        // revoked in between: the pass exists, its token is in this answer only
        sent = { chatId, queued: false, error: (err as Error).message };
      }
    }
    res.status(201).json({ qr, token, png: `data:image/png;base64,${png.toString('base64')}`, ...(sent ? { sent } : {}) });
  };
  router.post(
    '/passes/qr',
    json,
    asyncHandler((req, res) => issue(req, res, {})),
  );
  router.post(
    '/passes/temporary/:id/qr',
    json,
    asyncHandler((req, res) => issue(req, res, { passId: req.params.id })),
  );
  router.get(
    '/passes/qr/chats',
    asyncHandler(async (_req, res) => {
      res.json({ chats: await alarmsOf(hub).verifiedChats() });
    }),
  );
  router.get(
    '/passes/qr',
    asyncHandler(async (req, res) => {
      const q = (k: string) => (typeof req.query[k] === 'string' && req.query[k] !== '' ? req.query[k] : undefined);
      const all = req.query.all === '1' || req.query.all === 'true';
      res.json({ qr: await guard(async () => (await people()).listQr({ passId: q('passId'), personId: q('personId'), all })) });
    }),
  );
  router.post(
    '/passes/qr/png',
    json,
    asyncHandler(async (req, res) => {
      const b = body(req);
      const token = typeof b.token === 'string' ? b.token.trim() : '';
      const width = b.width === undefined ? 320 : Number(b.width);
      if (!Number.isInteger(width) || width < 100 || width > 1200) throw new HttpError(400, 'width must be a whole number 100..1200');
      const qr = await (await people()).qrOfToken(token);
      if (!qr) throw new HttpError(404, 'not a QR pass of this site');
      res.setHeader('Content-Type', 'image/png');
      res.end(await qrPng(token, width));
    }),
  );
  router.post(
    '/passes/qr/:id/revoke',
    json,
    asyncHandler(async (req, res) => {
      res.json({ qr: await guard(async () => (await people()).revokeQr(req.params.id, actorOf(req))) });
    }),
  );

  // a body that is not JSON / too large gets its status, not a 500
  router.use(['/people', '/passes/qr', '/passes/temporary'], (err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.type === 'entity.parse.failed' || err?.type === 'entity.too.large') {
      res.status(err.type === 'entity.too.large' ? 413 : 400).json({ error: err.type === 'entity.too.large' ? 'body too large' : 'body must be valid JSON' });
      return;
    }
    next(err);
  });
  return router;
}
