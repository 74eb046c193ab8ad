/**
 * The Shelly Gen2 relay driver — the proof that a new device is one module in the registry: its
 * emulator on 127.0.0.1, the driver through the registry, a gate of the gate service on a real
 * sqlite file, the gatepost-gate node's config, the environment and `npm run emulators`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { gatesOf } from '../../src/services/gate-service';
import { startShellyEmulator, ShellyEmulator } from '../../src/emulators/shelly';
import { createRelayDriver, envDevices, envRelays, relayConfigOf, RELAY_DRIVER_NAMES, anyDeviceConfigured } from '../../src/devices/registry';
import { startEmulators } from '../../src/emulators/cli';
import { gateDefOf } from '../../nodes/gatepost-gate/gate-def';
import type { Logger } from '../../src/core/log';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('Shelly Gen2 relay', () => {
  let emu: ShellyEmulator;
  let dir: string;
  beforeEach(async () => {
    emu = await startShellyEmulator({ switches: 2 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-shelly-'));
  });
  afterEach(async () => {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the driver switches with /rpc/Switch.Set?id=N&on=true|false and probes without switching', async () => {
    expect(RELAY_DRIVER_NAMES).toContain('shelly-relay');
    const relay = createRelayDriver({ driver: 'shelly-relay', url: emu.url, channel: 1 });
    await relay.actuate('open');
    expect(emu.requests.map((r) => r.url)).toEqual(['/rpc/Switch.Set?id=1&on=true']);
    expect(emu.output(1)).toBe(true);
    expect(emu.output(0)).toBe(false);
    await relay.actuate('close');
    expect(emu.output(1)).toBe(false);
    await relay.actuate('hold');
    expect(emu.output(1)).toBe(true);
    await relay.actuate('release');
    expect(emu.output(1)).toBe(false);
    emu.requests.length = 0;
    await relay.probe!(1000);
    expect(emu.requests.map((r) => r.url)).toEqual(['/rpc/Shelly.GetDeviceInfo']);
  });

  test('an RPC error and a fault are DeviceErrors with the device answer; an invalid config is refused', async () => {
    await expect(createRelayDriver({ driver: 'shelly-relay', url: emu.url, channel: 5 }).actuate('open')).rejects.toThrow(/Shelly GET .*HTTP 500.*not found/);
    emu.setFault({ status: 401, count: 1 });
    await expect(createRelayDriver({ driver: 'shelly-relay', url: emu.url, channel: 0 }).actuate('open')).rejects.toThrow(/authentication is on/);
    expect(() => createRelayDriver({ driver: 'shelly-relay', url: 'shelly.local', channel: 0 })).toThrow(/shelly-relay: Shelly URL must start with http/);
    expect(() => relayConfigOf({ driver: 'shelly-relay', url: emu.url, channel: 'x' })).toThrow(/switch id must be an integer/);
  });

  test('a Shelly gate of the gate service pulses: on, then off after the pulse', async () => {
    const hub = Hub.open({ dbPath: path.join(dir, 'g.db'), logger: quiet });
    const gates = gatesOf(hub);
    await hub.ready();
    gates.define({ id: 'garage', kind: 'door', relay: { driver: 'shelly-relay', url: emu.url, channel: 0 }, pulseMs: 150, timeoutMs: 500 });
    await gates.idle('garage');
    emu.requests.length = 0;
    const opened = await gates.command('garage', 'open', { kind: 'user', actor: 'guard' });
    expect(opened.state).toBe('open');
    expect(emu.output(0)).toBe(true);
    await emu.waitForRequest((r) => r.url === '/rpc/Switch.Set?id=0&on=false', 3000);
    expect(emu.output(0)).toBe(false);
    expect(emu.requests.map((r) => r.url)).toEqual(['/rpc/Switch.Set?id=0&on=true', '/rpc/Switch.Set?id=0&on=false']);
  });

  test('the gatepost-gate node config, the environment and npm run emulators know the driver', async () => {
    const node = { id: 'n', type: 'gatepost-gate', z: '', name: 'Garage', gateId: 'garage', kind: 'door', driver: 'shelly-relay', url: emu.url, channel: '1', pulse: '2' } as any;
    expect(gateDefOf(node, {}).relay).toEqual({ driver: 'shelly-relay', url: emu.url, channel: 1 });
    expect(() => gateDefOf({ ...node, channel: '-1' }, {})).toThrow(/switch id must be at least 0/);
    const env = { GATEPOST_SHELLY_URL: emu.url, GATEPOST_SHELLY_CHANNEL: '1', GATEPOST_SHELLY_GATE: 'garage' };
    expect(envRelays(env)).toEqual({ garage: { driver: 'shelly-relay', url: emu.url, channel: 1 } });
    expect(envDevices(env)).toEqual([{ id: 'shelly', kind: 'relay', url: emu.url }]);
    expect(anyDeviceConfigured(env)).toBe(true);
    expect(anyDeviceConfigured({})).toBe(false);
    const [started] = await startEmulators(['shelly']);
    try {
      expect(started.name).toBe('shelly');
      expect((await fetch(`${started.emu.url}/rpc/Switch.Set?id=0&on=true`)).status).toBe(200);
    } finally {
      await started.emu.close();
    }
  });
});
