/**
 * Which browser origins may use a session (issue 19, item 11). A browser sends its cookies with a
 * WebSocket handshake from any site, and WebSockets are not covered by CORS: without a check a
 * foreign page could open /admin/comms or the dashboard's socket.io with the guard's cookie and
 * read live plates. Browsers always send `Origin` on a WebSocket handshake and on cross-site
 * POSTs; programs (MQTT-over-WS clients, curl) usually send none, and are not a cross-site risk.
 *
 * Allowed: no Origin at all, the origin of the request's own Host, or one listed in
 * GATEPOST_ALLOWED_ORIGINS (e.g. `https://gate.example.ru` behind a TLS proxy that rewrites Host).
 * `Origin: null` (sandboxed frames, file://) is refused.
 */
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';

/** Parses GATEPOST_ALLOWED_ORIGINS ("https://a.example, http://b:1880"); bad items are reported. */
export function parseAllowedOrigins(raw: string): { origins: string[]; errors: string[] } {
  const origins: string[] = [];
  const errors: string[] = [];
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      const u = new URL(item);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash || u.username) throw new Error('not an origin');
      origins.push(u.origin);
    } catch {
      errors.push(`GATEPOST_ALLOWED_ORIGINS: "${item.slice(0, 100)}" is not an origin like https://host[:port]; ignored`);
    }
  }
  return { origins, errors };
}

let allowList: string[] = [];

/** Set once at start from the configuration. */
export function setAllowedOrigins(origins: string[]): void {
  allowList = [...origins];
}

/** Is a request with this Origin (or Referer) header and Host header from an allowed origin? */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || origin === '') return true;
  if (origin === 'null') return false;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (allowList.includes(u.origin)) return true;
  return !!host && (u.protocol === 'http:' || u.protocol === 'https:') && u.host === host.toLowerCase();
}

/** The check for an HTTP upgrade (WebSocket) request. */
export function upgradeOriginAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  return originAllowed(Array.isArray(origin) ? origin[0] : origin, req.headers.host);
}

/** Refuses an upgrade: 403 on the raw socket, then closed (the other upgrade listeners see a dead socket). */
export function refuseUpgrade(socket: Duplex): void {
  try {
    const body = 'cross-origin WebSocket refused\n';
    socket.write(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  } catch {
    /* already gone */
  }
  socket.destroy();
}
