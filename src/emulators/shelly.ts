/**
 * Emulator of a Shelly Gen2 / Plus relay (HTTP RPC, authentication off): `GET /rpc/Switch.Set?id={n}&on={true|false}`
 * → `{"was_on": …}`, `GET /rpc/Switch.GetStatus?id={n}` → `{id, output}`, `GET /rpc/Shelly.GetDeviceInfo`.
 * An unknown switch id or a bad `on` answers the device's RPC error (HTTP 500 with `{code, message}`).
 * `output(n)` and `GET /__emulator/relays` give the switch states; base request log and faults.
 */
import { HttpEmulator } from './http-emulator';

export interface ShellyEmulatorOptions {
  port?: number;
  /** number of switches, ids 0..n-1 (default 1, a Shelly Plus 1) */
  switches?: number;
}

export interface ShellyEmulator extends HttpEmulator {
  /** whether switch `id` is on now */
  output(id: number): boolean;
}

export async function startShellyEmulator(opts: ShellyEmulatorOptions = {}): Promise<ShellyEmulator> {
  const switches = opts.switches ?? 1;
  const on = new Map<number, boolean>();
  const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
  const rpcError = (code: number, message: string) => json(500, { code, message });
  const switchId = (url: URL): number | null => {
    const id = Number(url.searchParams.get('id') ?? '0');
    return Number.isInteger(id) && id >= 0 && id < switches ? id : null;
  };

  const emu = new HttpEmulator('shelly', (req, _body, url) => {
    if (req.method !== 'GET' && req.method !== 'POST') return json(405, { code: -114, message: 'method not allowed' });
    switch (url.pathname) {
      case '/rpc/Shelly.GetDeviceInfo':
        return json(200, { id: 'shellyplus1-emulated', mac: 'EMU000000000', model: 'SNSW-001X16EU', gen: 2, fw_id: 'emulated', ver: '1.4.4', app: 'Plus1', auth_en: false });
      case '/rpc/Switch.GetStatus': {
        const id = switchId(url);
        if (id === null) return rpcError(-105, `Argument 'id', value ${url.searchParams.get('id')} not found!`);
        return json(200, { id, source: 'http', output: on.get(id) ?? false });
      }
      case '/rpc/Switch.Set': {
        const id = switchId(url);
        if (id === null) return rpcError(-105, `Argument 'id', value ${url.searchParams.get('id')} not found!`);
        const v = url.searchParams.get('on');
        if (v !== 'true' && v !== 'false') return rpcError(-103, "Missing or invalid argument 'on'!");
        const was = on.get(id) ?? false;
        on.set(id, v === 'true');
        return json(200, { was_on: was });
      }
      default:
        return json(404, { code: -114, message: `No handler for ${url.pathname}` });
    }
  }) as ShellyEmulator;

  emu.extraControl = (method, url) => {
    if (url.pathname === '/__emulator/relays' && method === 'GET') {
      const out: Record<string, boolean> = {};
      for (let i = 0; i < switches; i++) out[String(i)] = on.get(i) ?? false;
      return { status: 200, body: JSON.stringify(out) };
    }
    return undefined;
  };
  Object.assign(emu, { output: (id: number) => on.get(id) ?? false });
  return emu.listen(opts.port ?? 0);
}
