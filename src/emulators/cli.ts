/**
 * `npm run emulators [-- name[:port] ...]`: starts gatepost's device emulators on 127.0.0.1 (all
 * of them when no name is given) and keeps them running until SIGINT/SIGTERM. Each emulator
 * registers itself below with one line.
 */
import { startClGateEmulator } from './clgate';
import { startSokolEmulator } from './sokol';
import { startEposelokEmulator } from './eposelok';

export interface RunningEmulator {
  url: string;
  close(): Promise<void>;
}

export interface EmulatorEntry {
  description: string;
  start(opts: { port?: number }): Promise<RunningEmulator>;
}

/** name → how to start it (ports: 0 = any free port). */
export const EMULATORS: Record<string, EmulatorEntry> = {
  eposelok: { description: 'E-Poselok list + online check (name $GATEPOST_EPOSELOK_NAME or "demo", token $GATEPOST_EPOSELOK_TOKEN or "secret", list file $GATEPOST_EPOSELOK_PASSES or the demo list)', start: (o) => startEposelokEmulator({ port: o.port, name: process.env.GATEPOST_EPOSELOK_NAME || undefined, token: process.env.GATEPOST_EPOSELOK_TOKEN || undefined, passesFile: process.env.GATEPOST_EPOSELOK_PASSES || undefined }) },
  clgate: { description: 'Sarapul CL-Gate relay (token: $GATEPOST_RELAY_TOKEN or "secret")', start: (o) => startClGateEmulator({ port: o.port, token: process.env.GATEPOST_RELAY_TOKEN || undefined }) },
  sokol: { description: 'Sokol intercom panel (Basic auth: $GATEPOST_SOKOL_USER / $GATEPOST_SOKOL_PASSWORD, default root / 123456)', start: (o) => startSokolEmulator({ port: o.port, username: process.env.GATEPOST_SOKOL_USER || undefined, password: process.env.GATEPOST_SOKOL_PASSWORD || undefined }) },
};

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
