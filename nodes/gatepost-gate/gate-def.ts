/** The gate definition (GateDef) of a `gatepost-gate` node configuration. */
import type { NodeDef, Node } from 'node-red';
import type { GateDef } from '../../src/services/gate-service';
import type { HttpMethod } from '../../src/devices/http-relay';
import { relayConfigOf, RELAY_DRIVER_NAMES, RelayDriverName } from '../../src/devices/registry';
import { configOrThrow, Schema } from '../../src/core/schema';
import type { GateKind } from '../../src/core/contracts';
import { credentialProp, textProp } from '../common/env';
import { ConfigMigration, migrateConfig } from '../common/node-base';

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

/** The gate's own properties; the device's are its driver's schema (src/devices/drivers/*). */
const GATE_SCHEMA = {
  gateId: { type: 'string', required: true, label: 'gate id' },
  kind: { type: 'enum', values: ['barrier', 'wicket', 'door'] as const, default: 'barrier' },
  driver: { type: 'enum', values: RELAY_DRIVER_NAMES, default: 'sarapul-relay' },
  /** seconds */
  pulse: { type: 'number', above: 0, max: 3600, label: 'pulse (s)' },
  /** seconds */
  timeout: { type: 'number', above: 0, max: 60, default: 3, label: 'timeout (s)' },
} satisfies Schema;

/**
 * Config versions of gatepost-gate (nodes/common/node-base.ts migrateConfig): step i turns version
 * i into i + 1. 0 → 1: a gate saved before the driver property existed was a CL-Gate relay.
 */
export const GATE_CONFIG_MIGRATIONS: readonly ConfigMigration[] = [(c) => ({ ...c, driver: c.driver || 'sarapul-relay' })];

/** A node property: its text, or undefined when empty or an unresolved `${VAR}` (an unset variable). */
function prop(v: unknown): unknown {
  return typeof v === 'string' ? textProp(v) : v;
}

/** The gate definition of a node's configuration; throws a clear Error (every invalid field) when it is invalid. */
export function gateDefOf(config: GatepostGateDef, rawCreds: GatepostGateCredentials): GateDef {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(migrateConfig(config, GATE_CONFIG_MIGRATIONS))) raw[k] = prop(v);
  const gate = configOrThrow(GATE_SCHEMA, raw);
  // credentials may name an environment variable (`${GATEPOST_RELAY_TOKEN}`), as the shipped flows do
  const creds = { token: credentialProp(rawCreds.token), username: credentialProp(rawCreds.username), password: credentialProp(rawCreds.password) };
  const relay = relayConfigOf({ ...raw, ...creds, driver: gate.driver });
  return {
    id: gate.gateId,
    name: config.name || undefined,
    kind: gate.kind,
    relay,
    pulseMs: Math.round((gate.pulse ?? (gate.kind === 'barrier' ? 6 : 5)) * 1000),
    timeoutMs: Math.round(gate.timeout * 1000),
  };
}
