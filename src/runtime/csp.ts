/**
 * Content-Security-Policy of gatepost's pages (issue 19, item 16): what a page may load and run,
 * so an injected script or a foreign resource is refused by the browser. One policy per kind of
 * page, each the strictest that the page still works with (checked in Chromium by
 * tests/faults/web.test.ts: no CSP violation on the login page, the dashboard and the editor):
 *  - login: no script at all, only its own style (by hash);
 *  - dashboard (Dashboard 2.0): its Vue ui-template widgets compile templates at run time
 *    ('unsafe-eval') and Vuetify sets inline styles; scripts only from this origin; the cameras'
 *    live video is a MediaSource behind a blob: URL (media-src);
 *  - editor (Node-RED /admin): the node definitions are inline scripts; Monaco's workers (blob:);
 *    no eval (the editor, a function node's Monaco editor: no violation without it);
 *  - everything else (API JSON, static files): nothing runs.
 * All: no framing by other sites, no <base>, forms post only here, no plugins.
 */
import * as crypto from 'crypto';
import type { RequestHandler } from 'express';
import { LOGIN_CSS } from './auth';

const COMMON = ["base-uri 'self'", "form-action 'self'", "frame-ancestors 'self'", "object-src 'none'"];

const join = (parts: string[]) => [...parts, ...COMMON].join('; ');
const sha256 = (text: string) => `'sha256-${crypto.createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const CSP = {
  login: join(["default-src 'none'", `style-src ${sha256(LOGIN_CSS)}`, "img-src 'self'"]),
  dashboard: join([
    "default-src 'self'",
    // without 'unsafe-eval' the dashboard stays blank: Vue compiles the ui-template widgets with new Function
    "script-src 'self' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    // the «Камеры» page: live video through Media Source Extensions plays from a blob: URL; clips from /api
    "media-src 'self' blob:",
  ]),
  editor: join([
    "default-src 'self'",
    // node definitions are inline <script>s of the editor page; no eval needed (tried in Chromium)
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
  ]),
  other: join(["default-src 'none'", "img-src 'self'", "style-src 'self'"]),
};

/** The policy for a request path. */
export function cspFor(pathname: string): string {
  if (pathname === '/login') return CSP.login;
  if (pathname === '/admin' || pathname.startsWith('/admin/')) return CSP.editor;
  if (pathname === '/dashboard' || pathname.startsWith('/dashboard/')) return CSP.dashboard;
  return CSP.other;
}

/** Express middleware: every response gets the CSP of its path (set before any router answers). */
export function contentSecurityPolicy(): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Content-Security-Policy', cspFor(req.path));
    next();
  };
}
