/**
 * Emulator of the Sarapul Systems GSM relay CL-Gate: `GET /api/relay?relay={n}&state={1|0}&token={t}`.
 * A missing token answers 401, a wrong one 403; a bad channel or state 400. The state of each
 * channel is readable in-process (`channelState(n)`) and over HTTP
 * (`GET /__emulator/relays` → `{ "1": 0, "2": 1 }`), besides the base request log and faults.
 */
import { HttpEmulator } from './http-emulator';

export interface ClGateEmulatorOptions {
  port?: number;
  /** the relay password (default 'secret') */
  token?: string;
  /** number of output channels (default 4) */
  channels?: number;
}

export interface ClGateEmulator extends HttpEmulator {
  readonly token: string;
  /** 1 = contact closed (barrier opening / open), 0 = released */
  channelState(n: number): 0 | 1;
  /** every state change, oldest first: [ts, channel, state] */
  readonly changes: Array<{ ts: number; channel: number; state: 0 | 1 }>;
}

export async function startClGateEmulator(opts: ClGateEmulatorOptions = {}): Promise<ClGateEmulator> {
  const token = opts.token ?? 'secret';
  const channels = opts.channels ?? 4;
  const state = new Map<number, 0 | 1>();
  const changes: Array<{ ts: number; channel: number; state: 0 | 1 }> = [];
  const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });

  const emu = new HttpEmulator('clgate', (req, _body, url) => {
    if (url.pathname !== '/api/relay') return json(404, { error: 'not found' });
    if (req.method !== 'GET') return json(405, { error: 'method not allowed' });
    const t = url.searchParams.get('token');
    if (!t) return json(401, { error: 'token required' });
    if (t !== token) return json(403, { error: 'wrong token' });
    const n = Number(url.searchParams.get('relay'));
    const s = url.searchParams.get('state');
    if (!Number.isInteger(n) || n < 1 || n > channels) return json(400, { error: `relay must be 1..${channels}` });
    if (s !== '0' && s !== '1') return json(400, { error: 'state must be 0 or 1' });
    const v = s === '1' ? 1 : 0;
    if (state.get(n) !== v) changes.push({ ts: Date.now(), channel: n, state: v });
    state.set(n, v);
    return json(200, { result: 'ok', relay: n, state: v });
  }) as ClGateEmulator;

  emu.extraControl = (method, url) => {
    if (url.pathname === '/__emulator/relays' && method === 'GET') {
      const out: Record<string, number> = {};
      for (let i = 1; i <= channels; i++) out[String(i)] = state.get(i) ?? 0;
      return { status: 200, body: JSON.stringify(out) };
    }
    return undefined;
  };
  Object.assign(emu, { token, changes, channelState: (n: number) => state.get(n) ?? 0 });
  return emu.listen(opts.port ?? 0);
}
