/**
 * Demo mode: with GATEPOST_DEMO=on, or =auto and no real device configured, the runtime starts
 * the project's own device emulators on 127.0.0.1 (E-Poselok, CL-Gate relay, Sokol panel) and
 * points the shipped flows at them by filling the GATEPOST_* device variables in process.env
 * before Node-RED starts. Emulator modules that do not exist yet are logged and skipped. The
 * imported examples' gates (GATEPOST_EXAMPLE_*) get their own emulated channels; outside demo mode
 * those variables stay unset and the example gates are undefined (never the site's devices).
 */
import * as crypto from 'crypto';
import type { RuntimeLogger } from './logger';

export interface DemoDevice {
  name: string;
  kind: string;
  url: string;
  close(): Promise<void>;
}

interface EmulatorSpec {
  name: string;
  kind: string;
  module: string;
  fn: string;
  options: () => Record<string, unknown>;
  /** the env variables the shipped flows read, from the running emulator */
  env: (emu: any, opts: Record<string, unknown>) => Record<string, string>;
}

const secret = () => crypto.randomBytes(9).toString('base64url');

export const DEMO_EMULATORS: EmulatorSpec[] = [
  {
    name: 'eposelok',
    kind: 'eposelok',
    module: '../emulators/eposelok',
    fn: 'startEposelokEmulator',
    options: () => ({ token: secret(), camId: 'demo-cam', name: 'demo' }),
    env: (emu, o) => {
      const base: string = emu.url;
      const token = String(emu.token ?? o.token);
      const name = String(emu.settlement ?? emu.name_ ?? o.name);
      return {
        GATEPOST_EPOSELOK_NAME: name,
        GATEPOST_EPOSELOK_TOKEN: token,
        GATEPOST_EPOSELOK_CAMID: String(emu.camId ?? o.camId),
        GATEPOST_EPOSELOK_LIST_URL: String(emu.listUrl ?? `${base}/cgi-bin/standalone/avto.cgi`),
        GATEPOST_EPOSELOK_CHECK_URL: String(emu.checkUrl ?? `${base}/cgi-bin/cars/avtogate.cgi`),
      };
    },
  },
  {
    name: 'clgate',
    kind: 'relay',
    module: '../emulators/clgate',
    fn: 'startClGateEmulator',
    options: () => ({ token: secret(), channels: 4 }),
    // the examples (examples/sarapul-relay.json) get channel 4 of the same emulated relay, never the barrier's
    env: (emu, o) => ({
      GATEPOST_RELAY_URL: emu.url,
      GATEPOST_RELAY_TOKEN: String(emu.token ?? o.token),
      GATEPOST_RELAY_CHANNEL: '1',
      GATEPOST_EXAMPLE_RELAY_URL: emu.url,
      GATEPOST_EXAMPLE_RELAY_TOKEN: String(emu.token ?? o.token),
      GATEPOST_EXAMPLE_RELAY_CHANNEL: '4',
    }),
  },
  {
    name: 'sokol',
    kind: 'intercom',
    module: '../emulators/sokol',
    fn: 'startSokolEmulator',
    options: () => ({ username: 'root', password: secret() }),
    // the examples (examples/sokol-door.json) get relay 2 of the same emulated panel
    env: (emu, o) => ({
      GATEPOST_SOKOL_URL: emu.url,
      GATEPOST_SOKOL_USER: String(o.username),
      GATEPOST_SOKOL_PASSWORD: String(o.password),
      GATEPOST_SOKOL_RELAY: '1',
      GATEPOST_EXAMPLE_SOKOL_URL: emu.url,
      GATEPOST_EXAMPLE_SOKOL_USER: String(o.username),
      GATEPOST_EXAMPLE_SOKOL_PASSWORD: String(o.password),
      GATEPOST_EXAMPLE_SOKOL_RELAY: '2',
    }),
  },
];

/** Starts the emulators that exist; sets their env variables; returns the running ones. */
export async function startDemo(log: RuntimeLogger, env: NodeJS.ProcessEnv = process.env, specs = DEMO_EMULATORS): Promise<DemoDevice[]> {
  const running: DemoDevice[] = [];
  for (const spec of specs) {
    let mod: any;
    try {
      mod = require(spec.module);
    } catch (err: any) {
      log.warn(`demo: emulator ${spec.name} not available (${err?.code === 'MODULE_NOT_FOUND' ? 'not built yet' : err?.message})`);
      continue;
    }
    const start = mod?.[spec.fn];
    if (typeof start !== 'function') {
      log.warn(`demo: ${spec.module} has no ${spec.fn}()`);
      continue;
    }
    try {
      const opts = spec.options();
      const emu = await start(opts);
      const vars = spec.env(emu, opts);
      for (const [k, v] of Object.entries(vars)) {
        env[k] = v;
        if (/TOKEN|PASSWORD/.test(k)) log.addSecret(v);
      }
      running.push({ name: spec.name, kind: spec.kind, url: emu.url, close: () => emu.close() });
      log.info(`demo: emulated ${spec.name} at ${emu.url}`);
    } catch (err) {
      log.error(`demo: emulator ${spec.name} failed to start: ${(err as Error).message}`);
    }
  }
  return running;
}
