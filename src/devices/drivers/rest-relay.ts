/**
 * A generic REST relay: method + URL templates for open and close with {channel} {token}
 * {username} {password} placeholders, optional header templates and Basic auth. Probe: any HTTP
 * answer of its open URL's origin. No site variables, no emulator (any HTTP server will do).
 */
import { DeviceError } from '../http';
import { HttpMethod, HTTP_METHODS, HttpRelay } from '../http-relay';
import { ConfigError, configOrThrow, parseConfig, Schema } from '../../core/schema';
import { defineRelayDriver } from '../driver';
import type { ActuatorResult, DeviceAction } from '../../core/gate';

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

const SCHEMA = {
  headers: { type: 'string-map' },
  channel: { type: 'string', default: '' },
  token: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  basicAuth: { type: 'bool' },
} satisfies Schema;
const TEMPLATE = {
  method: { type: 'enum', values: HTTP_METHODS, default: 'GET', ignoreCase: true, label: 'HTTP method' },
  url: { type: 'url', required: true, label: 'URL template' },
  body: { type: 'string' },
} satisfies Schema;

/** open / close of a settings-file entry ({ open: { method, url, body } }) or of a node's flat properties (openMethod, openUrl, openBody). */
function template(raw: Record<string, unknown>, which: 'open' | 'close', problems: string[]): RestRequestTemplate | undefined {
  const nested = raw[which];
  const src = nested && typeof nested === 'object' ? (nested as Record<string, unknown>) : { method: raw[`${which}Method`], url: raw[`${which}Url`], body: raw[`${which}Body`] };
  const r = parseConfig(TEMPLATE, src);
  if (!r.ok) {
    problems.push(...r.problems.map((p) => `${which} ${p}`));
    return undefined;
  }
  return r.value;
}

function configOf(raw: Record<string, unknown>): RestRelayConfig {
  const problems: string[] = [];
  const open = template(raw, 'open', problems);
  const close = template(raw, 'close', problems);
  let rest: ReturnType<typeof configOrThrow<typeof SCHEMA>> | undefined;
  try {
    rest = configOrThrow(SCHEMA, raw);
  } catch (err) {
    problems.push(...(err as ConfigError).problems);
  }
  if (problems.length || !open || !close || !rest) throw new ConfigError(problems, 'rest-relay');
  return { driver: 'rest-relay', open, close, ...rest, headers: rest.headers ?? {} };
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

export const restRelay = defineRelayDriver<RestRelayConfig>({
  name: 'rest-relay',
  kind: 'relay',
  label: { en: 'Generic REST relay', ru: 'Любое REST-реле' },
  editorFields: ['rest', 'channel', 'token', 'login'],
  configOf,
  create: (cfg, timeoutMs) => new RestRelay(cfg, timeoutMs),
});
