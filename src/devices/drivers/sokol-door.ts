/**
 * Sokol (ISCOM X1) intercom panel: `PUT /relay/{n}/open` or `PUT /relay/external/{n}/open` with
 * Basic auth; the panel closes the door by itself (no close request); hold / release use
 * `PUT /relay/{n}/settings {"alwaysOpen": true|false}`. Probe: `GET /system/info` (documented as a
 * health check; 401 = wrong credentials). Site variables GATEPOST_SOKOL_URL / _USER / _PASSWORD /
 * _RELAY (the wicket, gate `wicket`).
 */
import { HttpRelay, trimBase } from '../http-relay';
import type { Schema } from '../../core/schema';
import { defineRelayDriver, demoSecret, relayEnv, schemaConfigOf } from '../driver';
import type { ActuatorResult, DeviceAction } from '../../core/gate';

const SCHEMA = {
  url: { type: 'url', required: true, label: 'panel URL' },
  relay: { type: 'int', min: 1, default: 1 },
  external: { type: 'bool' },
  username: { type: 'string', default: 'root' },
  password: { type: 'string', default: '' },
} satisfies Schema;

export interface SokolDoorConfig {
  driver: 'sokol-door';
  /** panel URL, e.g. http://192.168.1.60 */
  url: string;
  /** relay 1 or 2 of the panel, or the external module number when `external` */
  relay: number;
  external?: boolean;
  username: string;
  password: string;
}

export class SokolDoor extends HttpRelay {
  constructor(
    private readonly cfg: SokolDoorConfig,
    timeoutMs: number,
  ) {
    super(timeoutMs, [cfg.password]);
    if (!/^https?:\/\//i.test(cfg.url)) throw new Error(`sokol-door: panel URL must start with http:// or https:// (got "${cfg.url}")`);
    if (!Number.isInteger(cfg.relay) || cfg.relay < 1) throw new Error(`sokol-door: relay must be a positive integer (got ${cfg.relay})`);
    if (!cfg.external && cfg.relay > 2) throw new Error(`sokol-door: the panel has relays 1 and 2 (got ${cfg.relay}); use an external module for others`);
  }

  private path(): string {
    return this.cfg.external ? `/relay/external/${this.cfg.relay}` : `/relay/${this.cfg.relay}`;
  }

  private get auth() {
    return { username: this.cfg.username ?? '', password: this.cfg.password ?? '' };
  }

  probe(timeoutMs: number): Promise<void> {
    return this.answers('Sokol', `${trimBase(this.cfg.url)}/system/info`, timeoutMs, this.auth, true);
  }

  actuate(action: DeviceAction): Promise<ActuatorResult> {
    const base = trimBase(this.cfg.url);
    const wrong = 'Sokol: wrong login or password';
    switch (action) {
      case 'open':
        return this.send('Sokol', { method: 'PUT', url: `${base}${this.path()}/open`, auth: this.auth }, wrong);
      case 'close':
        // the panel closes the door by itself after its switch time
        return Promise.resolve({ latencyMs: 0, skipped: true });
      case 'hold':
      case 'release':
        return this.send(
          'Sokol',
          { method: 'PUT', url: `${base}${this.path()}/settings`, auth: this.auth, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ alwaysOpen: action === 'hold' }) },
          wrong,
        );
    }
  }
}

const configOf: (raw: Record<string, unknown>) => SokolDoorConfig = schemaConfigOf('sokol-door', SCHEMA);

export const sokolDoor = defineRelayDriver<SokolDoorConfig>({
  name: 'sokol-door',
  kind: 'intercom',
  label: { en: 'Sokol intercom panel', ru: 'Домофон «Сокол»' },
  editorFields: ['url', 'relay', 'login'],
  configOf,
  create: (cfg, timeoutMs) => new SokolDoor(cfg, timeoutMs),
  ...relayEnv(
    { prefix: 'GATEPOST_SOKOL', id: 'sokol', kind: 'intercom', gate: 'wicket', gateVar: 'GATEPOST_LPR_SOKOL_GATE', vars: { url: 'URL', relay: 'RELAY', username: 'USER', password: 'PASSWORD' } },
    configOf,
  ),
  emulator: {
    name: 'sokol',
    description: 'Sokol intercom panel (Basic auth: $GATEPOST_SOKOL_USER / $GATEPOST_SOKOL_PASSWORD, default root / 123456)',
    start: async (o) =>
      (await import('../../emulators/sokol')).startSokolEmulator({ port: o.port, username: process.env.GATEPOST_SOKOL_USER || undefined, password: process.env.GATEPOST_SOKOL_PASSWORD || undefined }),
    // the examples (examples/sokol-door.json) get relay 2 of the same emulated panel
    async demo() {
      const password = demoSecret();
      const emulator = await (await import('../../emulators/sokol')).startSokolEmulator({ username: 'root', password });
      return {
        emulator,
        env: {
          GATEPOST_SOKOL_URL: emulator.url,
          GATEPOST_SOKOL_USER: 'root',
          GATEPOST_SOKOL_PASSWORD: password,
          GATEPOST_SOKOL_RELAY: '1',
          GATEPOST_EXAMPLE_SOKOL_URL: emulator.url,
          GATEPOST_EXAMPLE_SOKOL_USER: 'root',
          GATEPOST_EXAMPLE_SOKOL_PASSWORD: password,
          GATEPOST_EXAMPLE_SOKOL_RELAY: '2',
        },
      };
    },
  },
});
