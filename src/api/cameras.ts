/**
 * Cameras REST API (mounted under /api by the runtime, behind auth) — the contract the dashboard's
 * «Камеры» page is built on:
 *  GET  /cameras                               → CameraView[] (name, title, enabled, online, reason, motion,
 *                                                recording, preRoll, postRoll, lastMotionAt, pipelines{detect,record,live}
 *                                                each {running, restarts, lastError}, ftp, viewers)
 *  GET  /cameras/note                          → { note: string | null }: why there is no camera to show (demo mode
 *                                                without GStreamer …), null when fine
 *  POST /cameras/:name/recording   {on}        → CameraView (persisted)
 *  POST /cameras/:name/settings    {preRoll, postRoll} → CameraView (whole seconds; 400 with a clear error)
 *  POST /cameras/:name/pipelines/:p/restart    → 202 { restarted: p } (detect | record | live)
 *  GET  /cameras/:name/clips?limit=            → [{ id, start, end, size, upload, remotePath }] newest first
 *  GET  /cameras/:name/clips/:id.mp4           → the MP4 (Range requests: play and download)
 *  GET  /cameras/:name/snapshot.jpg            → the latest JPEG (404 before the first one)
 *  GET  /cameras/:name/live  (WebSocket)       → a text message {"mime":"video/mp4; codecs=\"avc1.…\""}, then binary fMP4:
 *                                                the init segment, then fragments (see src/media/live.ts)
 * The WebSocket is authenticated like every /api route (session cookie or HTTP Basic; a session
 * also needs the same origin) by `cameraUpgrade`, called from the runtime's upgrade dispatcher.
 */
import express from 'express';
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Hub } from '../services/hub';
import { camerasOf, CameraError } from '../media/camera-service';
import { actorOf, asyncHandler, HttpError } from './util';

const json = express.json({ limit: '4kb' });

/** The runtime's note about cameras (demo mode without GStreamer, no ffmpeg); null when fine. */
let cameraNote: string | null = null;
export function setCameraNote(note: string | null): void {
  cameraNote = note;
}

function wrap(err: unknown): never {
  if (err instanceof CameraError) throw new HttpError(err.status, err.message);
  throw err;
}

export function camerasRouter(hub: Hub): express.Router {
  const router = express.Router();
  const cams = () => camerasOf(hub);

  router.get('/cameras', (_req, res) => {
    res.json(cams().list());
  });
  router.get('/cameras/note', (_req, res) => {
    res.json({ note: cameraNote });
  });

  router.post(
    '/cameras/:name/recording',
    json,
    asyncHandler(async (req, res) => {
      const on = req.body?.on;
      if (typeof on !== 'boolean') throw new HttpError(400, 'body must be {"on": true|false}');
      res.json(
        await cams()
          .setRecording(req.params.name, on, `user ${actorOf(req)}`)
          .catch(wrap),
      );
    }),
  );

  router.post(
    '/cameras/:name/settings',
    json,
    asyncHandler(async (req, res) => {
      const b = req.body;
      if (!b || typeof b !== 'object' || Array.isArray(b)) throw new HttpError(400, 'body must be {"preRoll": seconds, "postRoll": seconds}');
      res.json(await cams().setRolls(req.params.name, { preRoll: b.preRoll, postRoll: b.postRoll }).catch(wrap));
    }),
  );

  router.post(
    '/cameras/:name/pipelines/:pipeline/restart',
    asyncHandler(async (req, res) => {
      await cams().restartPipeline(req.params.name, req.params.pipeline).catch(wrap);
      res.status(202).json({ restarted: req.params.pipeline });
    }),
  );

  router.get(
    '/cameras/:name/clips',
    asyncHandler(async (req, res) => {
      const raw = req.query.limit;
      const limit = raw === undefined || raw === '' ? 50 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be an integer 1..1000');
      res.json(await cams().clips(req.params.name, limit).catch(wrap));
    }),
  );

  router.get(
    '/cameras/:name/clips/:id.mp4',
    asyncHandler(async (req, res) => {
      const id = Number(req.params.id);
      if (!Number.isInteger(id) || id < 1) throw new HttpError(400, 'clip id must be a positive integer');
      const clip = await cams().clip(req.params.name, id).catch(wrap);
      res.setHeader('Content-Disposition', `inline; filename="${req.params.name}-${clip.id}.mp4"`);
      // express' sendFile answers Range requests (206) and HEAD
      await new Promise<void>((resolve, reject) =>
        res.sendFile(clip.file, { headers: { 'Content-Type': 'video/mp4' }, cacheControl: false }, (err) => (err && !res.headersSent ? reject(err) : resolve())),
      );
    }),
  );

  router.get(
    '/cameras/:name/snapshot.jpg',
    asyncHandler(async (req, res) => {
      let jpeg: Buffer | null;
      try {
        jpeg = cams().snapshot(req.params.name);
      } catch (err) {
        wrap(err);
      }
      if (!jpeg) throw new HttpError(404, 'no picture from this camera yet');
      res.type('image/jpeg').send(jpeg);
    }),
  );

  return router;
}

const LIVE_PATH = /^\/api\/cameras\/([A-Za-z0-9_-]{1,64})\/live$/;
let wss: WebSocketServer | null = null;

/** Is this upgrade a camera's live view? */
export function isCameraUpgrade(pathname: string): boolean {
  return LIVE_PATH.test(pathname);
}

/**
 * The live view's WebSocket upgrade: `identify` is the runtime's auth (null = refused: 401);
 * an unknown or disabled camera gets 404 / 409.
 */
export function cameraUpgrade(
  hub: Hub,
  identify: ((req: IncomingMessage) => Promise<{ username: string; via: 'session' | 'basic' } | null>) | null,
  sameOrigin: (req: IncomingMessage) => boolean,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const pathname = (req.url ?? '').split('?')[0];
  const m = LIVE_PATH.exec(pathname);
  const refuse = (status: number, text: string) => {
    try {
      socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    } catch {
      /* gone */
    }
    socket.destroy();
  };
  if (!m) return refuse(404, 'Not Found');
  const who = identify ? identify(req) : Promise.resolve({ username: 'admin', via: 'basic' as const });
  who.then(
    (user) => {
      if (!user) return refuse(401, 'Unauthorized');
      if (user.via === 'session' && !sameOrigin(req)) return refuse(403, 'Forbidden');
      let live;
      try {
        live = camerasOf(hub).live(m[1]);
      } catch (err) {
        const st = err instanceof CameraError ? err.status : 500;
        return refuse(st, st === 404 ? 'Not Found' : st === 409 ? 'Conflict' : 'Internal Server Error');
      }
      wss ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const viewer = {
          sendText: (t: string) => ws.readyState === WebSocket.OPEN && ws.send(t),
          sendBinary: (b: Buffer) => ws.readyState === WebSocket.OPEN && ws.send(b, { binary: true }),
          buffered: () => ws.bufferedAmount,
          close: (reason: string) => ws.close(1001, reason.slice(0, 100)),
        };
        hub.logger.info(`camera ${m[1]}: live view opened by ${user.username}`);
        live.add(viewer);
        const gone = () => live.remove(viewer);
        ws.on('close', gone);
        ws.on('error', gone);
        // viewers send nothing; anything sent is ignored
        ws.on('message', () => undefined);
      });
    },
    () => refuse(500, 'Internal Server Error'),
  );
}
