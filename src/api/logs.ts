/**
 * gatepost's own log for the admin (dashboard page «Журнал системы» / «System log»): the files
 * <data>/logs/gatepost.log and its rotated .1 … .N, read as they are (nothing kept in memory).
 *
 *   GET /api/logs?level=warn&component=api&from=&to=&q=&limit=500
 *        → { lines: [{ ts, level, component, msg }] (oldest first, the newest `limit` that match),
 *            matched, components: [...], files: [{ name, bytes }] }
 *   GET /api/logs/download?…same filters   → text/plain attachment of every matching line (streamed)
 *   GET /api/logs/stream?level=&component=&q=  → Server-Sent Events `line` as lines are written (live tail)
 * level = the lowest level shown (debug < info < warn < error); component matches itself and its
 * children (`mqtt` → `mqtt`, `mqtt/acl`); from/to: epoch ms or ISO time. Admin only (403 otherwise).
 */
import express, { Request, Response } from 'express';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import type { Hub } from '../services/hub';
import { asyncHandler, HttpError, requireAdmin } from './util';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];
const LINE_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (DEBUG|INFO|WARN|ERROR) +(?:\[([^\]]+)\] )?(.*)$/;
const MAX_LIMIT = 5000;
const TAIL_POLL_MS = 500;

export interface LogLine {
  ts: string;
  level: Level;
  component: string;
  msg: string;
}

export function parseLogLine(line: string): LogLine | null {
  const m = LINE_RE.exec(line);
  if (!m) return null;
  return { ts: m[1], level: m[2].toLowerCase() as Level, component: m[3] ?? '', msg: m[4] };
}

interface Filter {
  minLevel: number;
  component: string;
  from: number;
  to: number;
  q: string;
}

function time(raw: unknown, def: number): number {
  if (raw === undefined || raw === '') return def;
  const s = String(raw);
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new HttpError(400, `bad time: ${s.slice(0, 40)}`);
  return n;
}

function filterOf(req: Request): Filter {
  const level = String(req.query.level ?? 'debug').toLowerCase();
  const minLevel = LEVELS.indexOf(level as Level);
  if (minLevel < 0) throw new HttpError(400, `level: one of ${LEVELS.join(', ')}`);
  return {
    minLevel,
    component: String(req.query.component ?? '').trim(),
    from: time(req.query.from, -Infinity),
    to: time(req.query.to, Infinity),
    q: String(req.query.q ?? '')
      .trim()
      .toLowerCase()
      .slice(0, 200),
  };
}

function matches(l: LogLine, f: Filter): boolean {
  if (LEVELS.indexOf(l.level) < f.minLevel) return false;
  if (f.component && l.component !== f.component && !l.component.startsWith(f.component + '/')) return false;
  if (f.from !== -Infinity || f.to !== Infinity) {
    const t = Date.parse(l.ts);
    if (t < f.from || t > f.to) return false;
  }
  return !f.q || l.msg.toLowerCase().includes(f.q) || l.component.toLowerCase().includes(f.q);
}

export const logDirOf = (hub: Hub): string => path.join(path.dirname(path.resolve(hub.options.dbPath)), 'logs');

/** The log files, oldest first (gatepost.log.N … .1, gatepost.log). */
export function logFiles(dir: string): Array<{ name: string; file: string; bytes: number }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^gatepost\.log(\.\d+)?$/.test(n));
  } catch {
    return [];
  }
  const num = (n: string) => (n === 'gatepost.log' ? 0 : Number(n.slice('gatepost.log.'.length)));
  return names
    .sort((a, b) => num(b) - num(a))
    .map((name) => {
      const file = path.join(dir, name);
      let bytes = 0;
      try {
        bytes = fs.statSync(file).size;
      } catch {
        /* rotated away meanwhile */
      }
      return { name, file, bytes };
    });
}

/** Every line of the files in order (parsed; an unparsable line continues the previous one's level and component). */
async function eachLine(dir: string, fn: (l: LogLine, raw: string) => void | Promise<void>): Promise<void> {
  for (const f of logFiles(dir)) {
    let stream: fs.ReadStream;
    try {
      stream = fs.createReadStream(f.file, { encoding: 'utf8' });
    } catch {
      continue;
    }
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    let prev: LogLine | null = null;
    try {
      for await (const raw of rl) {
        if (!raw) continue;
        const l: LogLine = parseLogLine(raw) ?? (prev ? { ...prev, msg: raw } : { ts: new Date(0).toISOString(), level: 'info' as Level, component: '', msg: raw });
        prev = l;
        await fn(l, raw);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      rl.close();
      stream.destroy();
    }
  }
}

export function logsRouter(hub: Hub): express.Router {
  const router = express.Router();
  const dir = logDirOf(hub);

  router.get(
    '/logs',
    requireAdmin,
    asyncHandler(async (req: Request, res: Response) => {
      const f = filterOf(req);
      const limit = Math.min(MAX_LIMIT, Math.max(1, Number(req.query.limit) || 500));
      const ring: LogLine[] = [];
      const components = new Set<string>();
      let matched = 0;
      await eachLine(dir, (l) => {
        if (l.component) components.add(l.component.split('/')[0]);
        if (!matches(l, f)) return;
        matched++;
        ring.push(l);
        if (ring.length > limit) ring.shift();
      });
      res.json({ lines: ring, matched, components: [...components].sort(), files: logFiles(dir).map(({ name, bytes }) => ({ name, bytes })) });
    }),
  );

  router.get(
    '/logs/download',
    requireAdmin,
    asyncHandler(async (req: Request, res: Response) => {
      const f = filterOf(req);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="gatepost-log-${new Date().toISOString().slice(0, 10)}.txt"`);
      let closed = false;
      req.on('close', () => (closed = true));
      await eachLine(dir, async (l, raw) => {
        if (closed || !matches(l, f)) return;
        // backpressure: a slow client never makes the process buffer the whole log
        if (!res.write(raw + '\n')) await new Promise((r) => res.once('drain', r));
      });
      res.end();
    }),
  );

  router.get('/logs/stream', requireAdmin, (req: Request, res: Response) => {
    let f: Filter;
    try {
      f = filterOf(req);
    } catch (err) {
      return void res.status(400).json({ error: (err as Error).message });
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n\n');
    const file = path.join(dir, 'gatepost.log');
    const sizeOf = (p: string) => {
      try {
        return fs.statSync(p).size;
      } catch {
        return 0;
      }
    };
    let offset = sizeOf(file);
    let partial = '';
    let busy = false;
    let closed = false;
    const readRange = (p: string, from: number, to: number): string => {
      if (to <= from) return '';
      const fd = fs.openSync(p, 'r');
      try {
        const buf = Buffer.alloc(Math.min(to - from, 4 * 1024 * 1024));
        const n = fs.readSync(fd, buf, 0, buf.length, from);
        return buf.subarray(0, n).toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    };
    const poll = () => {
      if (busy || closed) return;
      busy = true;
      try {
        const size = sizeOf(file);
        let text = '';
        if (size < offset) {
          // rotated: the rest of the old file is gatepost.log.1 now
          text += readRange(`${file}.1`, offset, sizeOf(`${file}.1`));
          offset = 0;
        }
        if (size > offset) {
          const chunk = readRange(file, offset, size);
          offset += Buffer.byteLength(chunk, 'utf8');
          text += chunk;
        }
        if (!text) return;
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        for (const raw of parts) {
          const l = parseLogLine(raw);
          if (l && matches(l, f)) res.write(`event: line\ndata: ${JSON.stringify(l)}\n\n`);
        }
        if (res.writableLength > 1024 * 1024) close();
      } catch {
        /* the file is being rotated: next poll */
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(poll, TAIL_POLL_MS);
    const hb = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), 15_000);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      clearInterval(hb);
      if (!res.writableEnded) res.end();
    };
    req.on('close', close);
    res.on('error', close);
  });

  return router;
}
