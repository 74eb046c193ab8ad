/**
 * Sarapul Systems CL-Gate GSM relay: `GET {base}/api/relay?relay={n}&state={1|0}&token={token}`.
 * Probe: CL-Gate documents no status endpoint, so any HTTP answer of its base URL counts (that
 * request carries no token and no relay command). Site variables GATEPOST_RELAY_URL / _TOKEN /
 * _CHANNEL (the barrier, gate `main`).
 */
import { HttpRelay, trimBase } from '../http-relay';
import type { Schema } from '../../core/schema';
import { defineRelayDriver, demoSecret, relayEnv, schemaConfigOf } from '../driver';
import type { ActuatorResult, DeviceAction } from '../../core/gate';

const SCHEMA = {
  url: { type: 'url', required: true, label: 'relay URL' },
  channel: { type: 'int', min: 1, default: 1 },
  token: { type: 'string', default: '' },
} satisfies Schema;

export interface SarapulRelayConfig {
  driver: 'sarapul-relay';
  /** relay base URL, e.g. http://192.168.1.50 */
  url: string;
  channel: number;
  token: string;
}

export class SarapulRelay extends HttpRelay {
  constructor(
    private readonly cfg: SarapulRelayConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, [cfg.token]);
    if (!/^https?:\/\//i.test(cfg.url)) throw new Error(`sarapul-relay: relay URL must start with http:// or https:// (got "${cfg.url}")`);
    if (!Number.isInteger(cfg.channel) || cfg.channel < 1) throw new Error(`sarapul-relay: channel must be a positive integer (got ${cfg.channel})`);
  }

  url(state: 0 | 1): string {
    const q = new URLSearchParams({ relay: String(this.cfg.channel), state: String(state), token: this.cfg.token ?? '' });
    return `${trimBase(this.cfg.url)}/api/relay?${q.toString()}`;
  }

  probe(timeoutMs: number): Promise<void> {
    return this.answers('CL-Gate', `${trimBase(this.cfg.url)}/`, timeoutMs);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const state = action === 'open' || action === 'hold' ? 1 : 0;
    return this.send('CL-Gate', { method: 'GET', url: this.url(state) }, 'wrong relay token');
  }
}

const configOf: (raw: Record<string, unknown>) => SarapulRelayConfig = schemaConfigOf('sarapul-relay', SCHEMA);

export const sarapulRelay = defineRelayDriver<SarapulRelayConfig>({
  name: 'sarapul-relay',
  kind: 'relay',
  label: { en: 'Sarapul CL-Gate relay', ru: 'Реле Сарапул CL-Gate' },
  editorFields: ['url', 'channel', 'token'],
  configOf,
  create: (cfg, timeoutMs) => new SarapulRelay(cfg, timeoutMs),
  ...relayEnv({ prefix: 'GATEPOST_RELAY', id: 'relay', kind: 'relay', gate: 'main', gateVar: 'GATEPOST_LPR_RELAY_GATE', vars: { url: 'URL', channel: 'CHANNEL', token: 'TOKEN' } }, configOf),
  emulator: {
    name: 'clgate',
    description: 'Sarapul CL-Gate relay (token: $GATEPOST_RELAY_TOKEN or "secret")',
    start: async (o) => (await import('../../emulators/clgate')).startClGateEmulator({ port: o.port, token: process.env.GATEPOST_RELAY_TOKEN || undefined }),
    // the examples (examples/sarapul-relay.json) get channel 4 of the same emulated relay, never the barrier's
    async demo() {
      const token = demoSecret();
      const emulator = await (await import('../../emulators/clgate')).startClGateEmulator({ token, channels: 4 });
      return {
        emulator,
        env: {
          GATEPOST_RELAY_URL: emulator.url,
          GATEPOST_RELAY_TOKEN: token,
          GATEPOST_RELAY_CHANNEL: '1',
          GATEPOST_EXAMPLE_RELAY_URL: emulator.url,
          GATEPOST_EXAMPLE_RELAY_TOKEN: token,
          GATEPOST_EXAMPLE_RELAY_CHANNEL: '4',
        },
      };
    },
  },
});
