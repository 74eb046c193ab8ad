/**
 * Periodic device probes (GATEPOST_PROBE_INTERVAL_MS, default 30 s; GATEPOST_PROBE_TIMEOUT_MS):
 * every gate's device through its driver's read-only probe() (gatesOf(hub).probeAll), and the
 * configured device URLs of /api/system (E-Poselok: any HTTP answer of the list URL's origin —
 * no token, so nothing is logged as a passage; relay and Sokol through the same drivers).
 * What does not answer is listed in degradedOf(hub) (health's `degraded`) and shown unreachable;
 * until the first probe a device's reachability is unknown (null). Probes never switch a relay.
 */
import type { Hub } from '../services/hub';
import { gatesOf } from '../services/gate-service';
import { degradedOf } from '../services/degraded';
import { envDevices, envRelayOf } from '../devices/registry';
import type { GateActuator } from '../core/gate';
import { DeviceError, httpRequest, redactUrl } from '../devices/http';
import type { RuntimeLogger } from './logger';

export interface MonitoredDevice {
  id: string;
  kind: string;
  url: string;
}

export interface DeviceHealth {
  reachable: boolean | null;
  lastError: string | null;
}

export interface DeviceMonitor {
  /** the last probe result of a configured device URL (null reachable: not probed yet) */
  health(id: string): DeviceHealth;
  /** runs one round of probes now; resolves when all answered or timed out */
  probeNow(): Promise<void>;
  stop(): void;
}

/** A read-only probe of one configured device URL. */
export function prober(d: MonitoredDevice, env: NodeJS.ProcessEnv): (timeoutMs: number) => Promise<void> {
  const driver = (): GateActuator | null => {
    try {
      return envRelayOf(d.id, env) ?? null;
    } catch {
      return null;
    }
  };
  const drv = driver();
  if (drv?.probe) return (t) => drv.probe!(t);
  return async (timeoutMs) => {
    let origin: string;
    try {
      origin = new URL(d.url).origin;
    } catch {
      throw new DeviceError(`${d.id}: invalid URL`, 'protocol');
    }
    try {
      await httpRequest({ method: 'GET', url: `${origin}/`, timeoutMs, maxBytes: 64 * 1024 });
    } catch (err) {
      throw new DeviceError(`GET ${redactUrl(`${origin}/`)}: ${(err as Error).message}`, (err as DeviceError).code ?? 'network');
    }
  };
}

export function startDeviceMonitor(opts: { hub: Hub; devices: MonitoredDevice[]; intervalMs: number; timeoutMs: number; log: RuntimeLogger; env?: NodeJS.ProcessEnv }): DeviceMonitor {
  const { hub, log } = opts;
  const results = new Map<string, DeviceHealth>();
  const probes = opts.devices.map((d) => ({ d, probe: prober(d, opts.env ?? process.env) }));
  let stopped = false;
  let running: Promise<void> | null = null;

  const round = async (): Promise<void> => {
    await Promise.all([
      gatesOf(hub)
        .probeAll(opts.timeoutMs)
        .catch((err) => log.warn(`gate probes failed: ${(err as Error).message}`)),
      ...probes.map(async ({ d, probe }) => {
        let error: string | null = null;
        try {
          await probe(opts.timeoutMs);
        } catch (err) {
          error = (err as Error).message;
        }
        if (stopped) return;
        results.set(d.id, { reachable: error === null, lastError: error });
        if (error) degradedOf(hub).set(d.id, `unreachable: ${error}`);
        else degradedOf(hub).clear(d.id);
      }),
    ]);
  };
  const probeNow = (): Promise<void> => {
    // one round at a time: a slow device must not pile rounds up
    if (!running) running = round().finally(() => (running = null));
    return running;
  };
  const timer = opts.intervalMs > 0 ? setInterval(() => void probeNow(), opts.intervalMs) : null;
  timer?.unref();
  if (opts.intervalMs > 0) void probeNow();
  return {
    health: (id) => results.get(id) ?? { reachable: null, lastError: null },
    probeNow,
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
    },
  };
}

/** The device URLs configured in the environment (the device registry's envDevices): what /api/system, the monitor and `gatepost doctor` probe. */
export function configuredDevices(env: NodeJS.ProcessEnv = process.env): MonitoredDevice[] {
  return envDevices(env);
}
