/**
 * Demo mode: with GATEPOST_DEMO=on, or =auto and no real device configured, the runtime starts
 * the device emulators of the registry (src/devices/registry.ts: every module whose emulator has
 * a `demo()`: E-Poselok, CL-Gate relay, Sokol panel) on 127.0.0.1 and points the shipped flows at
 * them by filling the GATEPOST_* device variables in process.env before Node-RED starts. The
 * imported examples' gates (GATEPOST_EXAMPLE_*) get their own emulated channels; outside demo mode
 * those variables stay unset and the example gates are undefined (never the site's devices).
 */
import type { RuntimeLogger } from './logger';
import type { DeviceModule } from '../devices/driver';
import { DEVICES } from '../devices/registry';

export interface DemoDevice {
  name: string;
  kind: string;
  url: string;
  close(): Promise<void>;
}

/** Starts the demo emulators; sets their env variables; returns the running ones. */
export async function startDemo(log: RuntimeLogger, env: NodeJS.ProcessEnv = process.env, devices: readonly DeviceModule[] = DEVICES): Promise<DemoDevice[]> {
  const running: DemoDevice[] = [];
  for (const d of devices) {
    const demo = d.emulator?.demo;
    if (!demo) continue;
    const name = d.emulator!.name;
    // GATEPOST_DEMO_<NAME>=off leaves one emulator out (e.g. GATEPOST_DEMO_IVMS=off: no emulated access log)
    if ((env[`GATEPOST_DEMO_${name.toUpperCase()}`] ?? '').trim().toLowerCase() === 'off') {
      log.info(`demo: ${name} left out (GATEPOST_DEMO_${name.toUpperCase()}=off)`);
      continue;
    }
    try {
      const { emulator, env: vars } = await demo();
      for (const [k, v] of Object.entries(vars)) {
        env[k] = v;
        if (/TOKEN|PASSWORD/.test(k)) log.addSecret(v);
      }
      running.push({ name, kind: d.kind, url: emulator.url, close: () => emulator.close() });
      log.info(`demo: emulated ${name} at ${emulator.url}`);
    } catch (err) {
      log.error(`demo: emulator ${name} failed to start: ${(err as Error).message}`);
    }
  }
  return running;
}
