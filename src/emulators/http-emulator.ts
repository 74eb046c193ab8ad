/**
 * The common base of gatepost's device emulators (E-Poselok, CL-Gate relay, Sokol panel): a real
 * HTTP server on 127.0.0.1 with a request log and fault injection. Faults are set in-process
 * (`emu.setFault(...)`) or over HTTP (`POST /__emulator/fault` with the Fault JSON,
 * `DELETE /__emulator/fault`, `GET /__emulator/requests`), so tests, the demo mode and the
 * benchmarks drive the same servers.
 */
import http from 'http';
import type { AddressInfo } from 'net';

export interface Fault {
  /** added delay before answering, ms */
  latencyMs?: number;
  /** answer with this HTTP status instead */
  status?: number;
  /** answer an HTML error page (with `status`, default 502) */
  html?: boolean;
  /** answer a body that is not JSON */
  invalidJson?: boolean;
  /** destroy the socket without an answer */
  reset?: boolean;
  /** never answer (the client must time out) */
  hang?: boolean;
  /** only requests whose path starts with this are affected */
  pathPrefix?: string;
  /** affect only the next N requests, then clear */
  count?: number;
}

export interface LoggedRequest {
  ts: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (
  req: http.IncomingMessage,
  body: string,
  url: URL,
  /** the body as received (binary uploads), up to 1 MB */
  raw: Buffer,
) => { status: number; body?: string | Buffer; headers?: Record<string, string> } | Promise<{ status: number; body?: string | Buffer; headers?: Record<string, string> }>;

export class HttpEmulator {
  readonly requests: LoggedRequest[] = [];
  private fault: Fault | null = null;
  /** device-specific control paths under /__emulator/ (e.g. relay state); undefined → 404 */
  extraControl?: (method: string, url: URL, body: string) => { status: number; body?: string } | undefined;
  private server: http.Server;
  private listeners: Array<(r: LoggedRequest) => void> = [];
  port = 0;

  constructor(
    readonly name: string,
    private handler: Handler,
    private maxLog = 10000,
  ) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 30000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  setFault(f: Fault | null): void {
    this.fault = f && Object.keys(f).length ? { ...f } : null;
  }
  clearFault(): void {
    this.fault = null;
  }

  /** Calls fn for every request the device handles (after it is logged). */
  onRequest_(fn: (r: LoggedRequest) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((l) => l !== fn));
  }

  /** Resolves with the first logged request (already logged or future) matching pred. */
  waitForRequest(pred: (r: LoggedRequest) => boolean, timeoutMs = 5000): Promise<LoggedRequest> {
    const found = this.requests.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onRequest_((r) => {
        if (pred(r)) {
          clearTimeout(t);
          off();
          resolve(r);
        }
      });
    });
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    await new Promise<void>((r) => req.on('end', () => r()));
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, payload: string | Buffer = '', headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(payload);
    };

    if (url.pathname.startsWith('/__emulator/')) return this.control(req.method ?? 'GET', url, body, send);

    const entry: LoggedRequest = { ts: Date.now(), method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    this.requests.push(entry);
    if (this.requests.length > this.maxLog) this.requests.splice(0, this.requests.length - this.maxLog);

    const f = this.fault && (!this.fault.pathPrefix || url.pathname.startsWith(this.fault.pathPrefix)) ? this.fault : null;
    if (f && f.count !== undefined) {
      f.count -= 1;
      if (f.count <= 0) this.fault = null;
    }
    if (f?.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    for (const l of this.listeners) l(entry);
    if (f?.hang) return; // the client times out
    if (f?.reset) {
      req.socket.destroy();
      return;
    }
    if (f?.html) return send(f.status ?? 502, '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>', { 'content-type': 'text/html' });
    if (f?.status) return send(f.status, JSON.stringify({ errors: [`emulated HTTP ${f.status}`] }));
    if (f?.invalidJson) return send(200, '{"AllowedList1": [ {"Number": "1", "Plate": ', {});
    try {
      const out = await this.handler(req, body, url, Buffer.concat(chunks));
      send(out.status, out.body ?? '', out.headers);
    } catch (err) {
      send(500, JSON.stringify({ errors: [String((err as Error).message)] }));
    }
  }

  private control(method: string, url: URL, body: string, send: (s: number, b?: string) => void): void {
    if (url.pathname === '/__emulator/fault') {
      if (method === 'DELETE') {
        this.clearFault();
        return send(204);
      }
      if (method === 'POST' || method === 'PUT') {
        try {
          this.setFault(body ? (JSON.parse(body) as Fault) : null);
          return send(200, JSON.stringify({ fault: this.fault }));
        } catch {
          return send(400, JSON.stringify({ errors: ['fault must be JSON'] }));
        }
      }
      return send(200, JSON.stringify({ fault: this.fault }));
    }
    if (url.pathname === '/__emulator/requests') {
      if (method === 'DELETE') {
        this.requests.length = 0;
        return send(204);
      }
      return send(200, JSON.stringify(this.requests.slice(-500).map(({ ts, method: m, url: u, body: b }) => ({ ts, method: m, url: u, body: b }))));
    }
    const extra = this.extraControl?.(method, url, body);
    if (extra) return send(extra.status, extra.body);
    return send(404, JSON.stringify({ errors: ['unknown control path'] }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
