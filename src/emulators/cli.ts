/**
 * `npm run emulators [-- name[:port] ...]`: starts gatepost's device emulators on 127.0.0.1 (all
 * of them when no name is given) and keeps them running until SIGINT/SIGTERM. The emulators are
 * those of the device modules (src/devices/registry.ts).
 */
import { DEVICES } from '../devices/registry';
import type { DeviceEmulator, RunningEmulator } from '../devices/driver';

export type { RunningEmulator };

/** name → how to start it (ports: 0 = any free port). */
export const EMULATORS: Record<string, DeviceEmulator> = Object.fromEntries(
  DEVICES.map((d) => d.emulator)
    .filter((e): e is DeviceEmulator => !!e)
    .map((e) => [e.name, e]),
);

export async function startEmulators(specs: string[]): Promise<Array<{ name: string; emu: RunningEmulator }>> {
  const wanted = specs.length ? specs : Object.keys(EMULATORS);
  const started: Array<{ name: string; emu: RunningEmulator }> = [];
  try {
    for (const spec of wanted) {
      const [name, portText] = spec.split(':');
      const entry = EMULATORS[name];
      if (!entry) throw new Error(`unknown emulator "${name}" (known: ${Object.keys(EMULATORS).join(', ')})`);
      const port = portText ? Number(portText) : 0;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in "${spec}"`);
      started.push({ name, emu: await entry.start({ port }) });
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.emu.close()));
    throw err;
  }
  return started;
}

async function main(): Promise<void> {
  const running = await startEmulators(process.argv.slice(2));
  for (const { name, emu } of running) console.log(`${name.padEnd(12)} ${emu.url}  ${EMULATORS[name].description}`);
  const stop = async () => {
    await Promise.all(running.map((r) => r.emu.close()));
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
