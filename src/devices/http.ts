/**
 * The one HTTP client of gatepost's device drivers (E-Poselok, relays, intercoms): keep-alive
 * agents, a hard timeout, and an answer that never throws for HTTP status — callers decide what a
 * status means. Network errors and timeouts do throw a DeviceError.
 *
 * Two ways through, one contract: a plain http:// request without a body and with a text answer
 * (every relay command, the E-Poselok online check) goes straight through node:http — the plate's
 * hot path, where axios's config merging, adapters and interceptors cost ~1 ms of CPU a request
 * (bench/footprint.bench.ts); everything else (https, bodies, binary answers such as the
 * E-Poselok list) goes through axios.
 */
import http from 'http';
import https from 'https';
import zlib from 'zlib';
import axios, { AxiosRequestConfig } from 'axios';

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
const client = axios.create({ httpAgent, httpsAgent, maxRedirects: 0, proxy: false });

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  auth?: { username: string; password: string };
  body?: unknown;
  /** 'text' (default) or 'buffer' for bodies that need their own decoding */
  responseType?: 'text' | 'buffer';
  /** largest body accepted, bytes (default 16 MiB) */
  maxBytes?: number;
}

export interface HttpAnswer<B = string> {
  status: number;
  headers: Record<string, string>;
  body: B;
  latencyMs: number;
}

export class DeviceError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'network' | 'http' | 'auth' | 'protocol',
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function httpRequest(req: HttpRequest & { responseType: 'buffer' }): Promise<HttpAnswer<Buffer>>;
export async function httpRequest(req: HttpRequest): Promise<HttpAnswer<string>>;
export async function httpRequest(req: HttpRequest): Promise<HttpAnswer<string | Buffer>> {
  const started = performance.now();
  if (req.body === undefined && req.responseType !== 'buffer' && req.url.startsWith('http://')) return plainRequest(req, started);
  const config: AxiosRequestConfig = {
    method: req.method ?? 'GET',
    url: req.url,
    timeout: req.timeoutMs,
    signal: AbortSignal.timeout(req.timeoutMs + 50),
    headers: req.headers,
    auth: req.auth,
    data: req.body,
    responseType: req.responseType === 'buffer' ? 'arraybuffer' : 'text',
    transformResponse: (d) => d,
    validateStatus: () => true,
    maxContentLength: req.maxBytes ?? 16 * 1024 * 1024,
  };
  try {
    const res = await client.request(config);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v);
    const body = req.responseType === 'buffer' ? Buffer.from(res.data as ArrayBuffer) : String(res.data ?? '');
    return { status: res.status, headers, body, latencyMs: performance.now() - started };
  } catch (caught) {
    const err = caught as { code?: string; name?: string; message?: string } | undefined;
    const ms = Math.round(performance.now() - started);
    if (err?.code === 'ECONNABORTED' || err?.code === 'ETIMEDOUT' || err?.name === 'CanceledError' || err?.name === 'AbortError') {
      throw new DeviceError(`timeout after ${ms} ms`, 'timeout');
    }
    throw new DeviceError(`${err?.code ?? 'network error'}: ${err?.message ?? err}`, 'network');
  }
}

const ACCEPT = 'application/json, text/plain, */*';

/** A bodiless http:// request with a text answer through node:http (see the top of this file). */
function plainRequest(req: HttpRequest, started: number): Promise<HttpAnswer<string>> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch (err) {
      return reject(new DeviceError(`ERR_INVALID_URL: ${(err as Error).message}`, 'network'));
    }
    const headers: Record<string, string> = { Accept: ACCEPT, 'Accept-Encoding': 'gzip, deflate', ...req.headers };
    const user = req.auth ?? (u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined);
    if (user) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    const maxBytes = req.maxBytes ?? 16 * 1024 * 1024;
    let settled = false;
    const fail = (err: DeviceError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const r = http.request({ agent: httpAgent, method: req.method ?? 'GET', hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || 80, path: `${u.pathname}${u.search}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          fail(new DeviceError(`ERR_BAD_RESPONSE: maxContentLength size of ${maxBytes} exceeded`, 'network'));
          r.destroy();
        } else chunks.push(c);
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail(new DeviceError(`${err.code ?? 'network error'}: ${err.message}`, 'network')));
      res.on('end', () => {
        if (settled) return;
        let body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
        try {
          if (enc === 'gzip' || enc === 'x-gzip') body = zlib.gunzipSync(body);
          else if (enc === 'deflate') body = zlib.inflateSync(body);
        } catch (err) {
          return fail(new DeviceError(`ERR_BAD_RESPONSE: ${(err as Error).message}`, 'network'));
        }
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = String(v);
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: out, body: body.toString('utf8'), latencyMs: performance.now() - started });
      });
    });
    const timer = setTimeout(() => {
      fail(new DeviceError(`timeout after ${Math.round(performance.now() - started)} ms`, 'timeout'));
      r.destroy();
    }, req.timeoutMs);
    r.on('error', (err: NodeJS.ErrnoException) => fail(new DeviceError(`${err.code ?? 'network error'}: ${err.message}`, 'network')));
    r.end();
  });
}

/** A URL with its password-like query parameters masked, for logs. */
export function redactUrl(url: string, secretParams: string[] = ['token', 'action', 'id', 'password', 'CamId', 'camid']): string {
  try {
    const u = new URL(url);
    for (const p of secretParams) if (u.searchParams.has(p)) u.searchParams.set(p, '***');
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
