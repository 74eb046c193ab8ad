/**
 * What a device module is. Every device kind gatepost talks to — relays, door panels, the
 * E-Poselok service, and later cameras, FTP targets, messengers — is ONE module under
 * src/devices/drivers/ that exports a `DeviceModule` (a relay: a `RelayDriver`), listed once in
 * src/devices/registry.ts. The module carries everything the rest of the code needs: its name and
 * labels, its config schema (`configOf`), how to create it, the environment variables that
 * configure it on a site, and its emulator (npm run emulators, demo mode). Nobody else switches on
 * driver names.
 */
import * as crypto from 'crypto';
import type { GateActuator } from '../core/gate';
import { configOrThrow, Parsed, Schema } from '../core/schema';

export type DeviceKind = 'relay' | 'intercom' | 'eposelok' | 'ivms';

export interface RunningEmulator {
  url: string;
  close(): Promise<void>;
}

export interface DeviceEmulator {
  /** the name of `npm run emulators -- <name>` */
  name: string;
  description: string;
  /** started by `npm run emulators` (secrets from the environment or fixed defaults) */
  start(opts: { port?: number }): Promise<RunningEmulator>;
  /**
   * demo mode: started with fresh secrets; returns the environment variables the shipped flows
   * read (GATEPOST_*, and GATEPOST_EXAMPLE_* for the examples' own channels). Absent: not in the demo.
   */
  demo?(): Promise<{ emulator: RunningEmulator; env: Record<string, string> }>;
}

/** A device configured by the site's environment (shown in /api/system, probed by the device monitor). */
export interface EnvDevice {
  id: string;
  kind: DeviceKind;
  url: string;
}

export interface DeviceModule {
  /** the driver name stored in configs ('sarapul-relay') */
  readonly name: string;
  readonly kind: DeviceKind;
  readonly label: { en: string; ru: string };
  /** the variables whose presence means "a real device is configured" (then demo mode's auto stays off) */
  readonly envVars?: readonly string[];
  /** the device the environment configures, if any */
  envDevice?(env: NodeJS.ProcessEnv): EnvDevice | undefined;
  readonly emulator?: DeviceEmulator;
}

/** The form rows of the gatepost-gate editor a relay driver uses (nodes/gatepost-gate/gatepost-gate.html). */
export type GateEditorField = 'url' | 'channel' | 'relay' | 'rest' | 'token' | 'login';

export interface RelayDriver<C extends { driver: string } = { driver: string }> extends DeviceModule {
  readonly name: C['driver'];
  readonly kind: 'relay' | 'intercom';
  readonly editorFields: readonly GateEditorField[];
  /**
   * The driver config of a settings-file entry or of a gatepost-gate node's properties plus
   * credentials; throws a ConfigError (src/core/schema.ts) naming every invalid field.
   */
  configOf(raw: Record<string, unknown>): C;
  create(cfg: C, timeoutMs: number): GateActuator;
  /** the relay the environment configures for `gatepost-lpr`'s fallback path: gate id + config */
  envRelay?(env: NodeJS.ProcessEnv): { gate: string; config: C } | undefined;
}

/** Typed identity: lets a driver module declare its config type once. */
export function defineRelayDriver<C extends { driver: string }>(d: RelayDriver<C>): RelayDriver<C> {
  return d;
}

/** A fresh random secret for an emulated device of the demo mode. */
export function demoSecret(): string {
  return crypto.randomBytes(9).toString('base64url');
}

/** The driver config function of a schema: `{ driver: name, ...the parsed fields }`, a ConfigError naming every invalid field otherwise. */
export function schemaConfigOf<N extends string, S extends Schema>(name: N, schema: S): (raw: Record<string, unknown>) => { driver: N } & Parsed<S> {
  return (raw) => ({ driver: name, ...configOrThrow(schema, raw, name) });
}

/** A relay driver's site variables: `<prefix>_URL` configures it; `vars` maps its config fields to variable suffixes. */
export interface RelayEnvSpec {
  prefix: string;
  /** the device id in /api/system and the probes */
  id: string;
  kind: 'relay' | 'intercom';
  /** the gate `gatepost-lpr`'s fallback path drives with it, unless `gateVar` names another */
  gate: string;
  gateVar: string;
  vars: Record<string, string>;
}

/** envVars / envDevice / envRelay of a relay driver from its variables. */
export function relayEnv<C extends { driver: string }>(spec: RelayEnvSpec, configOf: (raw: Record<string, unknown>) => C): Pick<RelayDriver<C>, 'envVars' | 'envDevice' | 'envRelay'> {
  const urlVar = `${spec.prefix}_URL`;
  return {
    envVars: [urlVar],
    envDevice: (env) => (env[urlVar] ? { id: spec.id, kind: spec.kind, url: env[urlVar] as string } : undefined),
    envRelay: (env) => {
      if (!env[urlVar]) return undefined;
      const raw: Record<string, unknown> = {};
      for (const [field, suffix] of Object.entries(spec.vars)) raw[field] = env[`${spec.prefix}_${suffix}`];
      return { gate: env[spec.gateVar] || spec.gate, config: configOf(raw) };
    },
  };
}
