/**
 * A site's devices for end-to-end tests: the project's emulators of the CL-Gate relay, the Sokol
 * panel and E-Poselok on 127.0.0.1 (the same ones the demo mode runs), and the GATEPOST_* variables
 * that point the shipped guard-post flow at them.
 */
import { startClGateEmulator } from '../../src/emulators/clgate';
import { startEposelokEmulator, EposelokEmulator } from '../../src/emulators/eposelok';
import { startSokolEmulator } from '../../src/emulators/sokol';

export type ClGate = Awaited<ReturnType<typeof startClGateEmulator>>;
export type Sokol = Awaited<ReturnType<typeof startSokolEmulator>>;

export interface Site {
  relay: ClGate;
  sokol: Sokol;
  epos: EposelokEmulator;
  /** the environment of a runtime on these devices (barrier on relay channel `barrierChannel`) */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export async function startSite(opts: { name: string; barrierChannel?: number; pulseS?: number; cameras?: string }): Promise<Site> {
  const relay = await startClGateEmulator({ token: `relay-${opts.name}-token`, channels: 4 });
  const sokol = await startSokolEmulator({ username: 'root', password: 'sokol-pw' });
  const epos = await startEposelokEmulator({ name: opts.name, token: `epos-${opts.name}-token` });
  const pulse = String(opts.pulseS ?? 0.4);
  return {
    relay,
    sokol,
    epos,
    env: (extra = {}) => ({
      GATEPOST_RELAY_URL: relay.url,
      GATEPOST_RELAY_TOKEN: relay.token,
      GATEPOST_RELAY_CHANNEL: String(opts.barrierChannel ?? 2),
      GATEPOST_BARRIER_PULSE_S: pulse,
      GATEPOST_SOKOL_URL: sokol.url,
      GATEPOST_SOKOL_USER: 'root',
      GATEPOST_SOKOL_PASSWORD: 'sokol-pw',
      GATEPOST_SOKOL_RELAY: '1',
      GATEPOST_WICKET_PULSE_S: pulse,
      GATEPOST_EPOSELOK_NAME: epos.settlement,
      GATEPOST_EPOSELOK_TOKEN: epos.token,
      GATEPOST_EPOSELOK_CAMID: `${opts.name}-cam`,
      GATEPOST_EPOSELOK_LIST_URL: epos.listUrl,
      GATEPOST_EPOSELOK_CHECK_URL: epos.checkUrl,
      ...(opts.cameras !== undefined ? { GATEPOST_CAMERAS: opts.cameras } : {}),
      ...extra,
    }),
    close: async () => {
      await Promise.all([relay.close(), sokol.close(), epos.close()]);
    },
  };
}
