/**
 * Authentication of people (guards, admin) for the editor, the dashboard and /api:
 *  - accounts: the admin (password hash from secrets.json, src/runtime/password-hash.ts) plus optional guards (GATEPOST_USERS);
 *  - a signed, HttpOnly, SameSite=Lax session cookie set by the /login page (Russian + English);
 *  - HTTP Basic for integrators;
 *  - `req.user = { username }` for the API routers (src/api/util.ts actorOf);
 *  - the bridge into Node-RED's adminAuth: a request the runtime has authenticated carries a
 *    short-lived signed token in a private header that `adminAuth.tokens` accepts, so the editor
 *    (and its /admin/comms websocket) works with the same cookie;
 *  - Dashboard 2.0's socket.io checks the cookie through `dashboard.ioMiddleware`.
 * Cookie-authenticated unsafe requests must come from the same origin (CSRF guard).
 */
import * as crypto from 'crypto';
import type { IncomingMessage } from 'http';
import express, { Request, Response, NextFunction, RequestHandler } from 'express';
import type { RuntimeLogger } from './logger';
import { hashPasswordSync, verifyPassword } from './password-hash';

export const SESSION_COOKIE = 'gatepost_session';
export const EDITOR_TOKEN_HEADER = 'x-gatepost-editor-token';
const SESSION_TTL_MS = 24 * 3600 * 1000;

export interface UserAccount {
  username: string;
  hash: string;
  /** Node-RED permissions: '*' for the admin, 'read' for guards */
  permissions: '*' | 'read';
}

export interface AuthUser {
  username: string;
  permissions: '*' | 'read';
  via: 'session' | 'basic';
}

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export class Auth {
  private users = new Map<string, UserAccount>();
  /** sha256(user:password) of recent successful checks: avoids a password hash per Basic request */
  private verified = new Map<string, number>();
  private failures = new Map<string, { count: number; first: number }>();
  /** compared against for unknown users, so that timing does not tell which names exist */
  private readonly dummyHash = hashPasswordSync(crypto.randomBytes(8).toString('hex'));

  constructor(
    private readonly secret: string,
    accounts: UserAccount[],
    private readonly log: RuntimeLogger,
  ) {
    for (const a of accounts) this.users.set(a.username, a);
  }

  get accounts(): UserAccount[] {
    return [...this.users.values()];
  }

  async verify(username: string, password: string): Promise<UserAccount | null> {
    const user = this.users.get(username);
    const key = sha(`${username}\u0000${password}`);
    const cached = this.verified.get(key);
    if (user && cached && cached > Date.now()) return user;
    // compare against a dummy hash for unknown users too: same timing
    const ok = await verifyPassword(password, user?.hash ?? this.dummyHash);
    if (!user || !ok) return null;
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(key, Date.now() + 10 * 60 * 1000);
    return user;
  }

  private sign(purpose: string, payload: string): string {
    return crypto.createHmac('sha256', this.secret).update(`${purpose}\u0000${payload}`).digest('base64url');
  }

  /** A session cookie value for username. */
  issueSession(username: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ u: username, exp: now + SESSION_TTL_MS })).toString('base64url');
    return `${payload}.${this.sign('session', payload)}`;
  }

  /** The user of a session cookie value, or null (bad signature, expired, unknown user). */
  checkSession(value: string | undefined, now = Date.now()): UserAccount | null {
    return this.checkSigned('session', value, now);
  }

  /** A short-lived token for Node-RED's adminAuth.tokens (header EDITOR_TOKEN_HEADER). */
  issueEditorToken(username: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ u: username, exp: now + 60_000 })).toString('base64url');
    return `${payload}.${this.sign('editor', payload)}`;
  }
  checkEditorToken(value: string | undefined, now = Date.now()): UserAccount | null {
    return this.checkSigned('editor', value, now);
  }

  private checkSigned(purpose: string, value: string | undefined, now: number): UserAccount | null {
    if (!value || typeof value !== 'string' || value.length > 2048) return null;
    const dot = value.indexOf('.');
    if (dot < 1) return null;
    const payload = value.slice(0, dot);
    const sig = Buffer.from(value.slice(dot + 1));
    const want = Buffer.from(this.sign(purpose, payload));
    if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return null;
    try {
      const { u, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (typeof u !== 'string' || typeof exp !== 'number' || exp < now) return null;
      return this.users.get(u) ?? null;
    } catch {
      return null;
    }
  }

  /** Who the request is: session cookie first, then HTTP Basic. */
  async identify(req: IncomingMessage): Promise<AuthUser | null> {
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const fromCookie = this.checkSession(cookie);
    if (fromCookie) return { username: fromCookie.username, permissions: fromCookie.permissions, via: 'session' };
    const h = req.headers.authorization;
    if (h && /^basic /i.test(h)) {
      const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) {
        const ip = req.socket.remoteAddress ?? '?';
        if (this.throttled(ip)) return null;
        const user = await this.verify(decoded.slice(0, i), decoded.slice(i + 1));
        if (user) return { username: user.username, permissions: user.permissions, via: 'basic' };
        this.failed(ip, decoded.slice(0, i));
      }
    }
    return null;
  }

  throttled(ip: string): boolean {
    const f = this.failures.get(ip);
    if (!f) return false;
    if (Date.now() - f.first > 60_000) {
      this.failures.delete(ip);
      return false;
    }
    return f.count >= 10;
  }
  failed(ip: string, username: string): void {
    const f = this.failures.get(ip);
    if (!f || Date.now() - f.first > 60_000) this.failures.set(ip, { count: 1, first: Date.now() });
    else f.count += 1;
    if (this.failures.size > 10000) this.failures.clear();
    this.log.warn(`login failed for "${username.slice(0, 64)}" from ${ip}`);
  }

  /**
   * Express middleware: puts the user on req.user or refuses the request — 401 JSON for API
   * callers, a redirect to /login for a browser asking for a page.
   */
  require(mode: 'api' | 'page'): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      this.identify(req).then(
        (user) => {
          if (!user) return refuse(req, res, mode);
          if (user.via === 'session' && !sameOrigin(req)) return res.status(403).json({ error: 'cross-origin request refused' });
          (req as any).user = { username: user.username, permissions: user.permissions };
          next();
        },
        (err) => next(err),
      );
    };
  }

  /** Login / logout routes. */
  routes(): express.Router {
    const r = express.Router();
    r.get('/login', (req, res) => {
      res.type('html').send(loginPage(String(req.query.next ?? ''), req.query.error === '1'));
    });
    r.post('/login', express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '8kb' }), async (req, res, next) => {
      try {
        const ip = req.socket.remoteAddress ?? '?';
        const username = String(req.body?.username ?? '').trim();
        const password = String(req.body?.password ?? '');
        const nextUrl = safeNext(String(req.body?.next ?? req.query.next ?? ''));
        const wantsJson = !!req.is('application/json');
        if (this.throttled(ip)) {
          return wantsJson ? res.status(429).json({ error: 'too many attempts, wait a minute' }) : res.status(429).type('html').send(loginPage(nextUrl, true));
        }
        const user = username && password ? await this.verify(username, password) : null;
        if (!user) {
          this.failed(ip, username);
          return wantsJson ? res.status(401).json({ error: 'wrong user name or password' }) : res.redirect(303, `/login?error=1&next=${encodeURIComponent(nextUrl)}`);
        }
        this.log.info(`login: ${user.username} from ${ip}`);
        res.cookie(SESSION_COOKIE, this.issueSession(user.username), {
          httpOnly: true,
          sameSite: 'lax',
          secure: req.secure,
          path: '/',
          maxAge: SESSION_TTL_MS,
        });
        return wantsJson ? res.json({ username: user.username }) : res.redirect(303, nextUrl);
      } catch (err) {
        next(err);
      }
    });
    const logout = (_req: Request, res: Response) => {
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.redirect(303, '/login');
    };
    r.get('/logout', logout);
    r.post('/logout', logout);
    return r;
  }

  /** Node-RED's adminAuth setting: the same accounts, plus the runtime's editor tokens. */
  adminAuth(): Record<string, unknown> {
    return {
      type: 'credentials',
      // only the admin may use the editor; guards have the dashboard and /api
      users: this.accounts.filter((a) => a.permissions === '*').map((a) => ({ username: a.username, permissions: a.permissions })),
      // Node-RED's own login compares with bcrypt on the main thread; ours is password-hash.ts
      authenticate: async (username: string, password: string) => {
        const user = typeof username === 'string' && typeof password === 'string' ? await this.verify(username, password) : null;
        return user && user.permissions === '*' ? { username: user.username, permissions: user.permissions } : null;
      },
      tokenHeader: EDITOR_TOKEN_HEADER,
      tokens: async (token: string) => {
        const user = this.checkEditorToken(token);
        return user && user.permissions === '*' ? { username: user.username, permissions: user.permissions } : null;
      },
    };
  }

  /** In front of RED.httpAdmin: a request we authenticated gets an editor token header. */
  editorBridge(): RequestHandler {
    return (req, res, next) => {
      delete req.headers[EDITOR_TOKEN_HEADER];
      const isEditorPage = req.method === 'GET' && (req.path === '/' || req.path === '') && !req.headers.authorization;
      this.identify(req).then(
        (user) => {
          if (user) {
            if (user.via === 'session' && !sameOrigin(req)) return res.status(403).json({ error: 'cross-origin request refused' });
            if (user.permissions !== '*') return res.status(403).json({ error: 'the editor is for the admin only' });
            req.headers[EDITOR_TOKEN_HEADER] = this.issueEditorToken(user.username);
            // Basic must not reach Node-RED's own bearer strategy as a malformed token
            if (user.via === 'basic') delete req.headers.authorization;
          } else if (isEditorPage) {
            return res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
          }
          next();
        },
        (err) => next(err),
      );
    };
  }

  /** For the server 'upgrade' event of /admin/comms: adds the editor token if the cookie is valid. */
  decorateUpgrade(req: IncomingMessage): void {
    delete req.headers[EDITOR_TOKEN_HEADER];
    const user = this.checkSession(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
    if (user) req.headers[EDITOR_TOKEN_HEADER] = this.issueEditorToken(user.username);
  }

  /** Dashboard 2.0 socket.io middleware: the session cookie is required. */
  ioMiddleware(): (socket: { request: IncomingMessage }, next: (err?: Error) => void) => void {
    return (socket, next) => {
      this.identify(socket.request).then(
        (user) => {
          if (!user) return next(new Error('unauthorized'));
          (socket.request as any).user = { username: user.username };
          next();
        },
        (err) => next(err instanceof Error ? err : new Error(String(err))),
      );
    };
  }
}

function refuse(req: Request, res: Response, mode: 'api' | 'page'): void {
  const wantsHtml = req.method === 'GET' && /text\/html/.test(String(req.headers.accept ?? ''));
  if (mode === 'page' && wantsHtml) {
    res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  if (req.headers.authorization) res.setHeader('WWW-Authenticate', 'Basic realm="gatepost", charset="UTF-8"');
  res.status(401).json({ error: 'login required' });
}

/** Cookie-authenticated unsafe requests must come from this origin (when the browser says). */
export function sameOrigin(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const origin = req.headers.origin ?? req.headers.referer;
  if (!origin) return true;
  try {
    return new URL(String(origin)).host === req.headers.host;
  } catch {
    return false;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** Only local paths: never an open redirect. */
export function safeNext(next: string): string {
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !next.startsWith('/login') ? next : '/dashboard';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function loginPage(next: string, error: boolean): string {
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatepost — вход / sign in</title>
<style>
body{font-family:system-ui,sans-serif;background:#1f2937;color:#111;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;width:min(22rem,90vw);box-shadow:0 4px 20px #0006}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .3rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #999;border-radius:4px}
button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;background:#2563eb;color:#fff;border:0;border-radius:4px;cursor:pointer}
.err{color:#b91c1c;margin:.5rem 0}.en{color:#666;font-size:.85em}
</style></head><body>
<form method="post" action="/login">
<h1>gatepost — вход <span class="en">/ sign in</span></h1>
${error ? '<p class="err" role="alert">Неверное имя или пароль <span class="en">/ wrong user name or password</span></p>' : ''}
<label for="u">Имя пользователя <span class="en">/ user name</span></label>
<input id="u" name="username" autocomplete="username" autofocus required>
<label for="p">Пароль <span class="en">/ password</span></label>
<input id="p" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="${esc(safeNext(next))}">
<button type="submit">Войти <span class="en">/ sign in</span></button>
</form></body></html>`;
}
