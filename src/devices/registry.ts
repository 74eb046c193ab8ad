/**
 * THE list of device modules (src/devices/driver.ts). A new relay, camera, FTP target or messenger
 * is one module under src/devices/drivers/ plus one line here (and its test): the gate node, the
 * editor's driver list (GET /gatepost/drivers), `gatepost-lpr`'s fallback relays, demo mode,
 * `npm run emulators`, /api/system's configured devices and the device probes all read this list.
 */
import type { DeviceModule, EnvDevice, RelayDriver } from './driver';
import type { GateActuator } from '../core/gate';
import { eposelok } from './drivers/eposelok';
import { sarapulRelay } from './drivers/sarapul-relay';
import { sokolDoor } from './drivers/sokol-door';
import { restRelay } from './drivers/rest-relay';
import { shellyRelay } from './drivers/shelly-relay';
import { ivms } from './drivers/ivms';

/** The relay drivers, in the editor's order (the first is the default). */
export const RELAY_DRIVERS = [sarapulRelay, sokolDoor, restRelay, shellyRelay] as const;
/** Every device module; demo mode starts their emulators in this order. */
export const DEVICES: readonly DeviceModule[] = [eposelok, ...RELAY_DRIVERS, ivms];

type AnyRelayDriver = (typeof RELAY_DRIVERS)[number];
/** The config of any relay driver (a union derived from the list: adding a driver adds its config). */
export type RelayConfig = ReturnType<AnyRelayDriver['configOf']>;
export type RelayDriverName = RelayConfig['driver'];
export const RELAY_DRIVER_NAMES = RELAY_DRIVERS.map((d) => d.name) as readonly RelayDriverName[];

/** The relay driver called `name`, or undefined. */
export function relayDriverOf(name: unknown): RelayDriver<RelayConfig> | undefined {
  return (RELAY_DRIVERS as readonly RelayDriver<RelayConfig>[]).find((d) => d.name === name);
}

function driverOrThrow(name: unknown): RelayDriver<RelayConfig> {
  const d = relayDriverOf(name);
  if (!d) throw new Error(`unknown relay driver "${String(name)}" (expected ${RELAY_DRIVER_NAMES.join(', ')})`);
  return d;
}

/** The driver config of a settings entry / node properties (`raw.driver` names the driver); throws a clear Error. */
export function relayConfigOf(raw: object): RelayConfig {
  const r = raw as Record<string, unknown>;
  return driverOrThrow(r?.driver).configOf(r);
}

/** The actuator of a relay configuration, validated by its driver's schema; throws a clear Error for an invalid one. */
export function createRelayDriver(cfg: RelayConfig, timeoutMs = 3000): GateActuator {
  const d = driverOrThrow(cfg?.driver);
  return d.create(d.configOf(cfg as unknown as Record<string, unknown>), timeoutMs);
}

/** The devices the site's environment configures (/api/system, the device probes). */
export function envDevices(env: NodeJS.ProcessEnv = process.env): EnvDevice[] {
  return DEVICES.map((d) => d.envDevice?.(env)).filter((d): d is EnvDevice => !!d);
}

/** Whether any real device is configured (GATEPOST_DEMO=auto then stays off). */
export function anyDeviceConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return DEVICES.some((d) => (d.envVars ?? []).some((v) => (env[v] ?? '').trim() !== ''));
}

/** The relay of a configured device (for its probe), or undefined when it is not a relay. */
export function envRelayOf(id: string, env: NodeJS.ProcessEnv = process.env): GateActuator | undefined {
  for (const d of RELAY_DRIVERS as readonly RelayDriver<RelayConfig>[]) {
    if (d.envDevice?.(env)?.id !== id) continue;
    const r = d.envRelay?.(env);
    return r ? createRelayDriver(r.config) : undefined;
  }
  return undefined;
}

/** gate id → relay config of every relay the environment configures (`gatepost-lpr`'s fallback path). */
export function envRelays(env: NodeJS.ProcessEnv = process.env): Record<string, RelayConfig> {
  const out: Record<string, RelayConfig> = {};
  for (const d of RELAY_DRIVERS as readonly RelayDriver<RelayConfig>[]) {
    const r = d.envRelay?.(env);
    if (r) out[r.gate] = r.config;
  }
  return out;
}
