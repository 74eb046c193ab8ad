/**
 * Shelly Gen2 / Plus relay over its HTTP RPC: open and hold `GET /rpc/Switch.Set?id={n}&on=true`,
 * close and release `…&on=false`. Probe: `GET /rpc/Shelly.GetDeviceInfo` (switches nothing).
 * The device's authentication must be off (Shelly's digest auth is not supported yet): a 401 is
 * reported as such. Site variables GATEPOST_SHELLY_URL / _CHANNEL (switch id, default 0) /
 * _GATE (the gate `gatepost-lpr` drives with it, default `shelly`).
 */
import { HttpRelay, trimBase } from '../http-relay';
import type { Schema } from '../../core/schema';
import { defineRelayDriver, relayEnv, schemaConfigOf } from '../driver';
import type { ActuatorResult, DeviceAction } from '../../core/gate';

const SCHEMA = {
  url: { type: 'url', required: true, label: 'Shelly URL' },
  channel: { type: 'int', min: 0, max: 15, default: 0, label: 'switch id' },
} satisfies Schema;

export interface ShellyRelayConfig {
  driver: 'shelly-relay';
  /** device URL, e.g. http://192.168.1.70 */
  url: string;
  /** the switch id (0 on a one-channel device) */
  channel: number;
}

export class ShellyRelay extends HttpRelay {
  constructor(
    private readonly cfg: ShellyRelayConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, []);
  }

  probe(timeoutMs: number): Promise<void> {
    return this.answers('Shelly', `${trimBase(this.cfg.url)}/rpc/Shelly.GetDeviceInfo`, timeoutMs, undefined, true);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const on = action === 'open' || action === 'hold';
    const url = `${trimBase(this.cfg.url)}/rpc/Switch.Set?id=${this.cfg.channel}&on=${on}`;
    return this.send('Shelly', { method: 'GET', url }, 'authentication is on (switch it off on the device)');
  }
}

const configOf: (raw: Record<string, unknown>) => ShellyRelayConfig = schemaConfigOf('shelly-relay', SCHEMA);

export const shellyRelay = defineRelayDriver<ShellyRelayConfig>({
  name: 'shelly-relay',
  kind: 'relay',
  label: { en: 'Shelly Gen2 relay (HTTP RPC)', ru: 'Реле Shelly Gen2 (HTTP RPC)' },
  editorFields: ['url', 'channel'],
  configOf,
  create: (cfg, timeoutMs) => new ShellyRelay(cfg, timeoutMs),
  ...relayEnv({ prefix: 'GATEPOST_SHELLY', id: 'shelly', kind: 'relay', gate: 'shelly', gateVar: 'GATEPOST_SHELLY_GATE', vars: { url: 'URL', channel: 'CHANNEL' } }, configOf),
  emulator: {
    name: 'shelly',
    description: 'Shelly Gen2 relay, one switch (id 0), authentication off',
    start: async (o) => (await import('../../emulators/shelly')).startShellyEmulator({ port: o.port }),
  },
});
