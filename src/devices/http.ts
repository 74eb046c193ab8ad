/**
 * The one HTTP client of gatepost's device drivers (E-Poselok, relays, intercoms): axios with
 * keep-alive agents, a hard timeout, and an answer that never throws for HTTP status — callers
 * decide what a status means. Network errors and timeouts do throw a DeviceError.
 */
import http from 'http';
import https from 'https';
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
