/**
 * Relay drivers of the gate controller, all over `httpRequest`:
 *  - Sarapul Systems CL-Gate: `GET {base}/api/relay?relay={n}&state={1|0}&token={token}`;
 *  - Sokol (ISCOM X1) panel: `PUT /relay/{n}/open` or `PUT /relay/external/{n}/open` with Basic
 *    auth; the panel closes the door by itself (no close request); hold / release use
 *    `PUT /relay/{n}/settings {"alwaysOpen": true|false}`;
 *  - generic REST relay: method + URL templates for open and close with {channel} {token}
 *    {username} {password} placeholders, optional header templates and Basic auth.
 * Any 2xx is success; other statuses and timeouts reject with a DeviceError whose message carries
 * no secret (URLs are redacted, secret values masked).
 *
 * `probe()` asks whether the device answers, switching nothing (periodic health probes):
 * CL-Gate has no documented status endpoint, so any HTTP answer of its base URL counts (that
 * request carries no token and no relay command); the Sokol panel answers `GET /system/info`
 * (documented as a health check; 401 = wrong credentials); a generic REST relay: any HTTP answer
 * of its open URL's origin.
 */
import { DeviceError, httpRequest, redactUrl } from './http';
import type { ActuatorResult, DeviceAction, GateActuator } from '../core/gate';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface SarapulRelayConfig {
  driver: 'sarapul-relay';
  /** relay base URL, e.g. http://192.168.1.50 */
  url: string;
  channel: number;
  token: string;
}

export interface SokolDoorConfig {
  driver: 'sokol-door';
  /** panel URL, e.g. http://192.168.1.60 */
  url: string;
  /** relay 1 or 2 of the panel, or the external module number when `external` */
  relay: number;
  external?: boolean;
  username: string;
  password: string;
}

export interface RestRequestTemplate {
  method: HttpMethod;
  /** URL template: {channel} {token} {username} {password} are replaced (URL-encoded) */
  url: string;
  /** optional body template (sent as is after placeholder replacement) */
  body?: string;
}

export interface RestRelayConfig {
  driver: 'rest-relay';
  open: RestRequestTemplate;
  close: RestRequestTemplate;
  /** header templates (same placeholders, not encoded) */
  headers?: Record<string, string>;
  channel?: number | string;
  token?: string;
  username?: string;
  password?: string;
  /** send Basic auth with username/password */
  basicAuth?: boolean;
}

export type RelayConfig = SarapulRelayConfig | SokolDoorConfig | RestRelayConfig;
export type RelayDriverName = RelayConfig['driver'];
export const RELAY_DRIVERS: readonly RelayDriverName[] = ['sarapul-relay', 'sokol-door', 'rest-relay'];

/** Replaces every occurrence of the secret values by *** (for error texts). */
function mask(text: string, secrets: Array<string | undefined>): string {
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

function trimBase(url: string): string {
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
  const t = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return t ? `: ${t.slice(0, 80)}` : '';
}

abstract class HttpRelay implements GateActuator {
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
  protected async send(label: string, req: { method: HttpMethod; url: string; headers?: Record<string, string>; auth?: { username: string; password: string }; body?: unknown }, on401?: string): Promise<ActuatorResult> {
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

export class SarapulRelay extends HttpRelay {
  constructor(
    private readonly cfg: SarapulRelayConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, [cfg.token]);
    if (!/^https?:\/\//i.test(cfg.url)) throw new Error(`sarapul-relay: relay URL must start with http:// or https:// (got "${cfg.url}")`);
    if (!Number.isInteger(cfg.channel) || cfg.channel < 1) throw new Error(`sarapul-relay: channel must be a positive integer (got ${cfg.channel})`);
  }

  url(state: 0 | 1): string {
    const q = new URLSearchParams({ relay: String(this.cfg.channel), state: String(state), token: this.cfg.token ?? '' });
    return `${trimBase(this.cfg.url)}/api/relay?${q.toString()}`;
  }

  probe(timeoutMs: number): Promise<void> {
    // the base URL only: no token, no relay command (CL-Gate documents no status endpoint)
    return this.answers('CL-Gate', `${trimBase(this.cfg.url)}/`, timeoutMs);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const state = action === 'open' || action === 'hold' ? 1 : 0;
    return this.send('CL-Gate', { method: 'GET', url: this.url(state) }, 'wrong relay token');
  }
}

export class SokolDoor extends HttpRelay {
  constructor(
    private readonly cfg: SokolDoorConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, [cfg.password]);
    if (!/^https?:\/\//i.test(cfg.url)) throw new Error(`sokol-door: panel URL must start with http:// or https:// (got "${cfg.url}")`);
    if (!Number.isInteger(cfg.relay) || cfg.relay < 1) throw new Error(`sokol-door: relay must be a positive integer (got ${cfg.relay})`);
    if (!cfg.external && cfg.relay > 2) throw new Error(`sokol-door: the panel has relays 1 and 2 (got ${cfg.relay}); use an external module for others`);
  }

  private path(): string {
    return this.cfg.external ? `/relay/external/${this.cfg.relay}` : `/relay/${this.cfg.relay}`;
  }

  private get auth() {
    return { username: this.cfg.username ?? '', password: this.cfg.password ?? '' };
  }

  probe(timeoutMs: number): Promise<void> {
    return this.answers('Sokol', `${trimBase(this.cfg.url)}/system/info`, timeoutMs, this.auth, true);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const base = trimBase(this.cfg.url);
    const wrong = 'Sokol: wrong login or password';
    switch (action) {
      case 'open':
        return this.send('Sokol', { method: 'PUT', url: `${base}${this.path()}/open`, auth: this.auth }, wrong);
      case 'close':
        // the panel closes the door by itself after its switch time
        return Promise.resolve({ latencyMs: 0, skipped: true });
      case 'hold':
      case 'release':
        return this.send(
          'Sokol',
          { method: 'PUT', url: `${base}${this.path()}/settings`, auth: this.auth, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ alwaysOpen: action === 'hold' }) },
          wrong,
        );
    }
  }
}

export class RestRelay extends HttpRelay {
  constructor(
    private readonly cfg: RestRelayConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, [cfg.token, cfg.password]);
    for (const k of ['open', 'close'] as const) {
      const t = cfg[k];
      if (!t || !/^https?:\/\//i.test(t.url ?? '')) throw new Error(`rest-relay: ${k} URL template must start with http:// or https://`);
    }
  }

  private fill(template: string, encode: boolean): string {
    const values: Record<string, string> = {
      channel: String(this.cfg.channel ?? ''),
      token: this.cfg.token ?? '',
      username: this.cfg.username ?? '',
      password: this.cfg.password ?? '',
    };
    return template.replace(/\{(channel|token|username|password)\}/g, (_, k: string) => (encode ? encodeURIComponent(values[k]) : values[k]));
  }

  probe(timeoutMs: number): Promise<void> {
    let origin: string;
    try {
      origin = new URL(this.fill(this.cfg.open.url, true)).origin;
    } catch {
      return Promise.reject(new DeviceError('relay: invalid open URL', 'protocol'));
    }
    return this.answers('relay', `${origin}/`, timeoutMs);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const t = action === 'open' || action === 'hold' ? this.cfg.open : this.cfg.close;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.cfg.headers ?? {})) headers[k] = this.fill(String(v), false);
    return this.send(
      'relay',
      {
        method: t.method || 'GET',
        url: this.fill(t.url, true),
        headers,
        auth: this.cfg.basicAuth ? { username: this.cfg.username ?? '', password: this.cfg.password ?? '' } : undefined,
        body: t.body ? this.fill(t.body, false) : undefined,
      },
      'relay refused the credentials',
    );
  }
}

/** The driver for a relay configuration; throws a clear Error for an invalid one. */
export function createRelayDriver(cfg: RelayConfig, timeoutMs = 3000): GateActuator {
  switch (cfg?.driver) {
    case 'sarapul-relay':
      return new SarapulRelay(cfg, timeoutMs);
    case 'sokol-door':
      return new SokolDoor(cfg, timeoutMs);
    case 'rest-relay':
      return new RestRelay(cfg, timeoutMs);
    default:
      throw new Error(`unknown relay driver "${(cfg as any)?.driver}" (expected ${RELAY_DRIVERS.join(', ')})`);
  }
}
