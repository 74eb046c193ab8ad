/**
 * Emulator of a Sokol (ISCOM X1) intercom panel: HTTP Basic auth on every request (default
 * root / 123456, 401 otherwise), `PUT /relay/{1|2}/open`, `PUT /relay/external/{n}/open`,
 * `PUT /relay/{n}/settings` and `PUT /relay/external/{n}/settings` with `{switchTime, alwaysOpen}`,
 * `GET /relay/{n}/settings`, `GET /system/info`. An opened relay closes by itself after
 * `switchTime` seconds unless `alwaysOpen` is set. `relayState('1')`, `relayState('external/2')`
 * (or a number for 1/2) tell whether a relay is open now; `GET /__emulator/relays` over HTTP.
 */
import { HttpEmulator } from './http-emulator';

export interface SokolEmulatorOptions {
  port?: number;
  username?: string;
  password?: string;
  /** default door-open time, seconds (default 5) */
  switchTime?: number;
}

interface RelayState {
  open: boolean;
  alwaysOpen: boolean;
  switchTime: number;
  timer: NodeJS.Timeout | null;
  opens: number;
}

export interface SokolEmulator extends HttpEmulator {
  /** true while the relay keeps the door unlocked (pulse running or alwaysOpen) */
  relayState(n: number | string): boolean;
  settings(n: number | string): { alwaysOpen: boolean; switchTime: number };
  /** how many open requests the relay accepted */
  opens(n: number | string): number;
}

export async function startSokolEmulator(opts: SokolEmulatorOptions = {}): Promise<SokolEmulator> {
  const username = opts.username ?? 'root';
  const password = opts.password ?? '123456';
  const relays = new Map<string, RelayState>();
  const key = (n: number | string) => String(n);
  const relay = (k: string): RelayState => {
    let r = relays.get(k);
    if (!r) {
      r = { open: false, alwaysOpen: false, switchTime: opts.switchTime ?? 5, timer: null, opens: 0 };
      relays.set(k, r);
    }
    return r;
  };
  const json = (status: number, body?: unknown) => ({ status, body: body === undefined ? '' : JSON.stringify(body) });
  const validRelay = (k: string) => /^(1|2|external\/[1-9]\d*)$/.test(k);

  const emu = new HttpEmulator('sokol', (req, body, url) => {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(.+)$/i.exec(header);
    const creds = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    if (creds !== `${username}:${password}`) {
      return { status: 401, body: JSON.stringify({ errors: ['Unauthorized'] }), headers: { 'www-authenticate': 'Basic realm="sokol"' } };
    }
    if (url.pathname === '/system/info' && req.method === 'GET') {
      return json(200, { model: 'ISCOM X1 Plus (emulated)', deviceID: 'EMU-SOKOL', fwVersion: '2.5.0' });
    }
    const pm = /^\/relay\/(1|2|external\/\d+)\/(open|settings)$/.exec(url.pathname);
    if (!pm || !validRelay(pm[1])) return json(404, { errors: ['not found'] });
    const r = relay(pm[1]);
    if (pm[2] === 'open') {
      if (req.method !== 'PUT') return json(405, { errors: ['method not allowed'] });
      r.open = true;
      r.opens += 1;
      if (r.timer) clearTimeout(r.timer);
      r.timer = setTimeout(() => {
        r.timer = null;
        if (!r.alwaysOpen) r.open = false;
      }, r.switchTime * 1000);
      r.timer.unref?.();
      return json(200);
    }
    if (req.method === 'GET') return json(200, { switchTime: r.switchTime, alwaysOpen: r.alwaysOpen });
    if (req.method !== 'PUT') return json(405, { errors: ['method not allowed'] });
    let s: any;
    try {
      s = body ? JSON.parse(body) : {};
    } catch {
      return json(400, { errors: ['body must be JSON'] });
    }
    if (s.switchTime !== undefined) {
      if (typeof s.switchTime !== 'number' || s.switchTime < 1 || s.switchTime > 600) return json(400, { errors: ['switchTime must be 1..600'] });
      r.switchTime = s.switchTime;
    }
    if (s.alwaysOpen !== undefined) {
      if (typeof s.alwaysOpen !== 'boolean') return json(400, { errors: ['alwaysOpen must be boolean'] });
      r.alwaysOpen = s.alwaysOpen;
      r.open = s.alwaysOpen || r.timer !== null;
    }
    return json(200, { switchTime: r.switchTime, alwaysOpen: r.alwaysOpen });
  }) as SokolEmulator;

  emu.extraControl = (method, url) => {
    if (url.pathname === '/__emulator/relays' && method === 'GET') {
      const out: Record<string, unknown> = {};
      for (const [k, r] of relays) out[k] = { open: r.open, alwaysOpen: r.alwaysOpen, switchTime: r.switchTime, opens: r.opens };
      return { status: 200, body: JSON.stringify(out) };
    }
    return undefined;
  };
  Object.assign(emu, {
    relayState: (n: number | string) => relays.get(key(n))?.open ?? false,
    settings: (n: number | string) => {
      const r = relay(key(n));
      return { alwaysOpen: r.alwaysOpen, switchTime: r.switchTime };
    },
    opens: (n: number | string) => relays.get(key(n))?.opens ?? 0,
  });
  const close = emu.close.bind(emu);
  emu.close = async () => {
    for (const r of relays.values()) if (r.timer) clearTimeout(r.timer);
    await close();
  };
  return emu.listen(opts.port ?? 0);
}
