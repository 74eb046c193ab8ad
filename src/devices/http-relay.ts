/**
 * The shared base of the HTTP relay drivers (src/devices/drivers/*): one request with a safe error
 * text (URLs redacted, secret values masked), and a read-only "does it answer" probe. Any 2xx is
 * success; other statuses and timeouts reject with a DeviceError.
 */
import { DeviceError, httpRequest, redactUrl } from './http';
import type { ActuatorResult, DeviceAction, GateActuator } from '../core/gate';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Replaces every occurrence of the secret values by *** (for error texts). */
export function mask(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 3) {
      out = out.split(s).join('***');
      const enc = encodeURIComponent(s);
      if (enc !== s) out = out.split(enc).join('***');
    }
  }
  return out;
}

export function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/** First `errors` entry or a short piece of the body, for the error message. */
function bodyHint(body: string): string {
  try {
    const j = JSON.parse(body);
    if (j && Array.isArray(j.errors) && j.errors.length) return `: ${String(j.errors[0]).slice(0, 120)}`;
    if (j && typeof j.error === 'string') return `: ${j.error.slice(0, 120)}`;
  } catch {
    /* not JSON */
  }
  const t = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t ? `: ${t.slice(0, 80)}` : '';
}

export abstract class HttpRelay implements GateActuator {
  constructor(
    protected readonly timeoutMs: number,
    protected readonly secrets: Array<string | undefined>,
  ) {}

  abstract actuate(action: DeviceAction): Promise<ActuatorResult>;
  abstract probe(timeoutMs: number): Promise<void>;

  /** Resolves when `url` gives any HTTP answer (or only a 2xx with `need2xx`); a DeviceError otherwise. */
  protected async answers(label: string, url: string, timeoutMs: number, auth?: { username: string; password: string }, need2xx = false): Promise<void> {
    const where = `${label} GET ${mask(redactUrl(url), this.secrets)}`;
    let answer;
    try {
      answer = await httpRequest({ method: 'GET', url, auth, timeoutMs, maxBytes: 64 * 1024 });
    } catch (err) {
      throw new DeviceError(`${where}: ${mask((err as Error).message, this.secrets)}`, (err as DeviceError).code ?? 'network');
    }
    if (answer.status === 401 || answer.status === 403) throw new DeviceError(`${where}: wrong credentials (HTTP ${answer.status})`, 'auth', answer.status);
    if (need2xx && (answer.status < 200 || answer.status >= 300)) throw new DeviceError(`${where}: HTTP ${answer.status}`, 'http', answer.status);
  }

  /** Sends one request; 2xx → latency, anything else → DeviceError with a safe message. */
  protected async send(
    label: string,
    req: { method: HttpMethod; url: string; headers?: Record<string, string>; auth?: { username: string; password: string }; body?: unknown },
    on401?: string,
  ): Promise<ActuatorResult> {
    const where = `${label} ${req.method} ${mask(redactUrl(req.url), this.secrets)}`;
    let answer;
    try {
      answer = await httpRequest({ ...req, timeoutMs: this.timeoutMs, maxBytes: 256 * 1024 });
    } catch (err) {
      const e = err as DeviceError;
      throw new DeviceError(`${where}: ${mask(e.message, this.secrets)}`, e.code ?? 'network');
    }
    if (answer.status >= 200 && answer.status < 300) return { latencyMs: answer.latencyMs };
    if ((answer.status === 401 || answer.status === 403) && on401) {
      throw new DeviceError(`${where}: ${on401} (HTTP ${answer.status})`, 'auth', answer.status);
    }
    throw new DeviceError(`${where}: HTTP ${answer.status}${mask(bodyHint(answer.body), this.secrets)}`, 'http', answer.status);
  }
}
