/** The gate definition (GateDef) of a `gatepost-gate` node configuration. */
import type { NodeDef, Node } from 'node-red';
import type { GateDef } from '../../src/services/gate-service';
import type { RelayConfig, HttpMethod, RelayDriverName } from '../../src/devices/relay';
import type { GateKind } from '../../src/core/contracts';
import { credentialProp, intProp } from '../common/env';

export interface GatepostGateDef extends NodeDef {
  gateId: string;
  kind: GateKind;
  driver: RelayDriverName;
  url: string;
  channel: string | number;
  relay: string | number;
  external: boolean | string;
  openMethod: HttpMethod;
  openUrl: string;
  openBody: string;
  closeMethod: HttpMethod;
  closeUrl: string;
  closeBody: string;
  headers: string;
  basicAuth: boolean | string;
  pulse: string | number;
  timeout: string | number;
}

export interface GatepostGateCredentials {
  token?: string;
  username?: string;
  password?: string;
}

export interface GatepostGateNode extends Node<GatepostGateCredentials> {
  gateId: string;
  driver: RelayDriverName;
  /** why the gate could not be defined (bad configuration), or null */
  defineError: string | null;
}

const truthy = (v: unknown) => v === true || v === 'true';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Seconds (number or `${VAR}`-substituted string) → ms, or the default. */
function seconds(v: unknown, dflt: number): number {
  const n = typeof v === 'number' ? v : parseFloat(String(v ?? '').replace(',', '.'));
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : dflt * 1000;
}

function method(v: unknown): HttpMethod {
  const m = String(v || 'GET').toUpperCase();
  if (!METHODS.includes(m)) throw new Error(`HTTP method must be one of ${METHODS.join(', ')} (got "${v}")`);
  return m as HttpMethod;
}

/** The gate definition of a node's configuration; throws a clear Error when it is invalid. */
export function gateDefOf(config: GatepostGateDef, rawCreds: GatepostGateCredentials): GateDef {
  // credentials may name an environment variable (`${GATEPOST_RELAY_TOKEN}`), as the shipped flows do
  const creds: GatepostGateCredentials = { token: credentialProp(rawCreds.token), username: credentialProp(rawCreds.username), password: credentialProp(rawCreds.password) };
  const kind: GateKind = config.kind === 'wicket' || config.kind === 'door' ? config.kind : 'barrier';
  let relay: RelayConfig;
  switch (config.driver) {
    case 'sokol-door':
      relay = {
        driver: 'sokol-door',
        url: String(config.url ?? '').trim(),
        relay: intProp(config.relay, 1),
        external: truthy(config.external),
        username: creds.username || 'root',
        password: creds.password ?? '',
      };
      break;
    case 'rest-relay': {
      let headers: Record<string, string> = {};
      if (config.headers && String(config.headers).trim()) {
        try {
          headers = JSON.parse(String(config.headers));
        } catch {
          throw new Error('headers must be a JSON object, e.g. {"Authorization": "Bearer {token}"}');
        }
        if (!headers || typeof headers !== 'object' || Array.isArray(headers)) throw new Error('headers must be a JSON object');
      }
      relay = {
        driver: 'rest-relay',
        open: { method: method(config.openMethod), url: String(config.openUrl ?? '').trim(), body: config.openBody || undefined },
        close: { method: method(config.closeMethod), url: String(config.closeUrl ?? '').trim(), body: config.closeBody || undefined },
        headers,
        channel: String(config.channel ?? ''),
        token: creds.token,
        username: creds.username,
        password: creds.password,
        basicAuth: truthy(config.basicAuth),
      };
      break;
    }
    case 'sarapul-relay':
    default:
      relay = { driver: 'sarapul-relay', url: String(config.url ?? '').trim(), channel: intProp(config.channel, 1), token: creds.token ?? '' };
  }
  return {
    id: String(config.gateId ?? '').trim(),
    name: config.name || undefined,
    kind,
    relay,
    pulseMs: seconds(config.pulse, kind === 'barrier' ? 6 : 5),
    timeoutMs: seconds(config.timeout, 3),
  };
}

