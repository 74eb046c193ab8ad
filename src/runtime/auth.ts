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
 * Cookie-authenticated unsafe requests and every WebSocket must come from an allowed origin
 * (origin.ts: CSRF and cross-site WebSocket hijacking). Sessions carry an id that logout revokes
 * server-side (sessions.ts); failed logins slow further attempts down instead of locking anyone
 * out (login-throttle.ts), and a browser that logged in before keeps a device cookie that lets
 * the real user in while the user name is under attack.
 */
import * as crypto from 'crypto';
import type { IncomingMessage } from 'http';
import express, { Request, Response, NextFunction, RequestHandler } from 'express';
import type { RuntimeLogger } from './logger';
import { LoginThrottle } from './login-throttle';
import { RevokedSessions } from './sessions';
import { originAllowed } from './origin';
import { hashPassword, verifyPassword } from './password-hash';

export const SESSION_COOKIE = 'gatepost_session';
/** a long-lived, signed id of a browser that logged in as a user before (login-throttle.ts) */
export const DEVICE_COOKIE = 'gatepost_device';
const DEVICE_TTL_MS = 365 * 24 * 3600 * 1000;
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
  private readonly throttle = new LoginThrottle();
  private readonly revoked: RevokedSessions;
  /**
   * compared against for unknown users, so that timing does not tell which names exist; made on
   * the thread pool (a synchronous scrypt here cost every start ~0.1 s of the main thread)
   */
  private readonly dummyHash: Promise<string> = hashPassword(crypto.randomBytes(8).toString('hex'));

  constructor(
    private readonly secret: string,
    accounts: UserAccount[],
    private readonly log: RuntimeLogger,
    opts: { revokedSessionsFile?: string } = {},
  ) {
    for (const a of accounts) this.users.set(a.username, a);
    this.dummyHash.catch(() => undefined); // a failure surfaces in the login that awaits it
    this.revoked = new RevokedSessions(opts.revokedSessionsFile ?? null, (m) => log.error(m));
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
    const ok = await verifyPassword(password, user?.hash ?? (await this.dummyHash));
    if (!user || !ok) return null;
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(key, Date.now() + 10 * 60 * 1000);
    return user;
  }

  private sign(purpose: string, payload: string): string {
    return crypto.createHmac('sha256', this.secret).update(`${purpose}\u0000${payload}`).digest('base64url');
  }

  /** A session cookie value for username, with a random session id (revoked at logout). */
  issueSession(username: string, now = Date.now()): string {
    const sid = crypto.randomBytes(16).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ u: username, exp: now + SESSION_TTL_MS, sid })).toString('base64url');
    return `${payload}.${this.sign('session', payload)}`;
  }

  /** The user of a session cookie value, or null (bad signature, expired, revoked, unknown user). */
  checkSession(value: string | undefined, now = Date.now()): UserAccount | null {
    const s = this.readSigned('session', value, now);
    // a cookie without a session id (issued before revocation existed) cannot be revoked: refused
    if (!s || typeof s.sid !== 'string' || this.revoked.has(s.sid)) return null;
    return this.users.get(s.u) ?? null;
  }

  /** Logout: the session id of this cookie value is refused from now on (until it would expire). */
  revokeSession(value: string | undefined, now = Date.now()): boolean {
    const s = this.readSigned('session', value, now);
    if (!s || typeof s.sid !== 'string') return false;
    this.revoked.revoke(s.sid, s.exp);
    return true;
  }

  private issueDevice(username: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ u: username, exp: now + DEVICE_TTL_MS, d: crypto.randomBytes(12).toString('base64url') })).toString('base64url');
    return `${payload}.${this.sign('device', payload)}`;
  }

  /** The device id of a device cookie issued to `username`, or null. */
  private deviceOf(req: IncomingMessage, username: string): string | null {
    const d = this.readSigned('device', parseCookies(req.headers.cookie)[DEVICE_COOKIE], Date.now());
    return d && d.u === username && typeof d.d === 'string' ? d.d : null;
  }

  /** A short-lived token for Node-RED's adminAuth.tokens (header EDITOR_TOKEN_HEADER). */
  issueEditorToken(username: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ u: username, exp: now + 60_000 })).toString('base64url');
    return `${payload}.${this.sign('editor', payload)}`;
  }
  checkEditorToken(value: string | undefined, now = Date.now()): UserAccount | null {
    const t = this.readSigned('editor', value, now);
    return t ? (this.users.get(t.u) ?? null) : null;
  }

  /** The payload of a signed value of `purpose` if the signature holds and it has not expired. */
  private readSigned(purpose: string, value: string | undefined, now: number): { u: string; exp: number; [k: string]: unknown } | null {
    if (!value || typeof value !== 'string' || value.length > 2048) return null;
    const dot = value.indexOf('.');
    if (dot < 1) return null;
    const payload = value.slice(0, dot);
    const sig = Buffer.from(value.slice(dot + 1));
    const want = Buffer.from(this.sign(purpose, payload));
    if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return null;
    try {
      const p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (typeof p?.u !== 'string' || typeof p.exp !== 'number' || p.exp < now) return null;
      return p;
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
        const r = await this.attempt(req, decoded.slice(0, i), decoded.slice(i + 1));
        if (r.user) return { username: r.user.username, permissions: r.user.permissions, via: 'basic' };
        if (r.retryAfterS) (req as any)[RETRY_AFTER] = r.retryAfterS;
      }
    }
    return null;
  }

  /**
   * One password check under the login throttle: { user } on success, { retryAfterS } when the
   * attempt came too early (the password was not checked), {} on a wrong password.
   */
  async attempt(req: IncomingMessage, username: string, password: string): Promise<{ user?: UserAccount; retryAfterS?: number }> {
    const address = req.socket.remoteAddress ?? '?';
    const b = this.throttle.begin({ address, username, device: this.deviceOf(req, username) });
    if (!b.ok) return { retryAfterS: Math.max(1, Math.ceil(b.retryAfterMs / 1000)) };
    let user: UserAccount | null = null;
    try {
      user = await this.verify(username, password);
    } finally {
      b.finish(!!user);
    }
    if (!user) this.log.warn(`login failed for "${username.slice(0, 64)}" from ${address}`);
    return user ? { user } : {};
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
        const r = username && password ? await this.attempt(req, username, password) : {};
        if (r.retryAfterS) {
          res.setHeader('Retry-After', String(r.retryAfterS));
          return wantsJson
            ? res.status(429).json({ error: `too many failed attempts; try again in ${r.retryAfterS} s`, retryAfter: r.retryAfterS })
            : res
                .status(429)
                .type('html')
                .send(loginPage(nextUrl, false, r.retryAfterS));
        }
        const user = r.user;
        if (!user) {
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
        // this browser is now known for this user: an attack on the user name does not slow it down
        if (this.deviceOf(req, user.username) === null) {
          res.cookie(DEVICE_COOKIE, this.issueDevice(user.username), { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/login', maxAge: DEVICE_TTL_MS });
        }
        return wantsJson ? res.json({ username: user.username }) : res.redirect(303, nextUrl);
      } catch (err) {
        next(err);
      }
    });
    const logout = (req: Request, res: Response) => {
      const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
      if (this.revokeSession(cookie)) this.log.info(`logout: session of ${this.readSigned('session', cookie, 0)?.u ?? '?'} revoked`);
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
            if (user.permissions !== '*') {
              // a guard who opens /admin in a browser gets a page in words, with the way to the dashboard
              if (isEditorPage && /text\/html/.test(String(req.headers.accept ?? ''))) return res.status(403).type('html').send(editorForbiddenPage(user.username));
              return res.status(403).json({ error: 'the editor is for the admin only' });
            }
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

  /**
   * Dashboard 2.0 socket.io middleware: the session cookie is required, and the handshake must
   * come from an allowed origin (it replaces the dashboard's own same-origin check; the
   * long-polling transport is no upgrade, so the runtime's upgrade check does not see it).
   */
  ioMiddleware(): (socket: { request: IncomingMessage }, next: (err?: Error) => void) => void {
    return (socket, next) => {
      const origin = socket.request.headers.origin;
      if (!originAllowed(Array.isArray(origin) ? origin[0] : origin, socket.request.headers.host)) return next(new Error('cross-origin refused'));
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

/** where identify() leaves the Retry-After of a throttled HTTP Basic attempt for refuse() */
const RETRY_AFTER = Symbol('gatepost.retryAfter');

function refuse(req: Request, res: Response, mode: 'api' | 'page'): void {
  const wantsHtml = req.method === 'GET' && /text\/html/.test(String(req.headers.accept ?? ''));
  if (mode === 'page' && wantsHtml) {
    res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  const retryAfter = (req as any)[RETRY_AFTER] as number | undefined;
  if (retryAfter) {
    res.setHeader('Retry-After', String(retryAfter));
    res.status(429).json({ error: `too many failed attempts; try again in ${retryAfter} s` });
    return;
  }
  if (req.headers.authorization) res.setHeader('WWW-Authenticate', 'Basic realm="gatepost", charset="UTF-8"');
  res.status(401).json({ error: 'login required' });
}

/** Cookie-authenticated unsafe requests must come from an allowed origin (when the browser says). */
export function sameOrigin(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const origin = req.headers.origin ?? req.headers.referer;
  return originAllowed(origin ? String(origin) : undefined, req.headers.host);
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

/** the login page's only style; csp.ts allows exactly this text by its hash */
export const LOGIN_CSS = `
body{font-family:system-ui,sans-serif;background:#1f2937;color:#111;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;width:min(22rem,90vw);box-shadow:0 4px 20px #0006}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .3rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #999;border-radius:4px}
button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;background:#2563eb;color:#fff;border:0;border-radius:4px;cursor:pointer}
.err{color:#b91c1c;margin:.5rem 0}.en{color:#555;font-size:.85em}
button{min-height:48px;font-size:1.1rem;font-weight:600}button .en{color:#e0e7ff}
a.go{display:block;margin-top:1.2rem;padding:.8rem;min-height:48px;box-sizing:border-box;text-align:center;background:#2563eb;color:#fff;border-radius:4px;text-decoration:none;font-size:1.1rem;font-weight:600}
`;

/** What a guard (not the admin) sees at /admin: Russian first, English below, a link to the dashboard. */
export function editorForbiddenPage(username: string): string {
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatepost — редактор только для администратора</title>
<style>${LOGIN_CSS}</style></head><body>
<form>
<h1>Редактор потоков — только для администратора</h1>
<p>Вы вошли как <strong>${esc(username)}</strong>. Пост охраны, журнал и состояние системы — на пульте.</p>
<p class="en">The flow editor is for the admin only; the guard's screens are on the dashboard.</p>
<a class="go" href="/dashboard" data-testid="gp-admin-to-dashboard">Открыть пульт охраны</a>
<a class="go" href="/logout">Выйти и войти как администратор</a>
</form></body></html>`;
}

function loginPage(next: string, error: boolean, retryAfterS = 0): string {
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatepost — вход / sign in</title>
<style>${LOGIN_CSS}</style></head><body>
<form method="post" action="/login">
<h1>gatepost — вход <span class="en">/ sign in</span></h1>
${error ? '<p class="err" role="alert">Неверное имя или пароль <span class="en">/ wrong user name or password</span></p>' : ''}
${retryAfterS ? `<p class="err" role="alert">Слишком много неудачных попыток, повторите через ${retryAfterS} с <span class="en">/ too many failed attempts, try again in ${retryAfterS} s</span></p>` : ''}
<label for="u">Имя пользователя <span class="en">/ user name</span></label>
<input id="u" name="username" autocomplete="username" autofocus required>
<label for="p">Пароль <span class="en">/ password</span></label>
<input id="p" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="${esc(safeNext(next))}">
<button type="submit">Войти <span class="en">/ sign in</span></button>
</form></body></html>`;
}
