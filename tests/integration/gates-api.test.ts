/** The gates REST router on a real express app on 127.0.0.1, with the CL-Gate emulator. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import http from 'http';
import express from 'express';
import type { AddressInfo } from 'net';
import { Hub } from '../../src/services/hub';
import { gatesOf } from '../../src/services/gate-service';
import { gatesRouter } from '../../src/api/gates';
import { startClGateEmulator, ClGateEmulator } from '../../src/emulators/clgate';
import { silentLogger } from '../../src/core/log';

describe('gates API', () => {
  let dir: string;
  let relay: ClGateEmulator;
  let server: http.Server;
  let base: string;
  let hub: Hub;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-gapi-'));
    relay = await startClGateEmulator({ token: 'tok-123' });
    hub = Hub.open({ dbPath: path.join(dir, 'a.db'), logger: silentLogger });
    gatesOf(hub).define({ id: 'main', name: 'Въезд', relay: { driver: 'sarapul-relay', url: relay.url, channel: 1, token: 'tok-123' }, pulseMs: 5000, timeoutMs: 300 });
    await gatesOf(hub).idle('main');
    const app = express();
    app.use((req, _res, next) => {
      // stands in for the runtime's auth middleware
      (req as any).user = { username: 'guard-ivanov' };
      next();
    });
    app.use('/api', gatesRouter(hub));
    server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await Hub.closeAll();
    await relay.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('list, command as the logged-in user, actions with paging', async () => {
    const list = await (await fetch(`${base}/gates`)).json();
    expect(list).toEqual([expect.objectContaining({ gate: 'main', name: 'Въезд', kind: 'barrier', state: 'closed' })]);

    const res = await fetch(`${base}/gates/main/hold`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ gate: 'main', state: 'held', by: 'user:guard-ivanov' });
    expect(relay.channelState(1)).toBe(1);
    const rel = await (await fetch(`${base}/gates/main/release`, { method: 'POST' })).json();
    expect(rel.state).toBe('closed');

    await gatesOf(hub).idle('main');
    const actions = await (await fetch(`${base}/gates/actions?gate=main&limit=2`)).json();
    expect(actions.map((a: any) => a.command)).toEqual(['release', 'hold']);
    expect(actions[0]).toMatchObject({ source: 'user', actor: 'guard-ivanov', result: 'ok' });
    const page2 = await (await fetch(`${base}/gates/actions?gate=main&limit=2&offset=2`)).json();
    expect(page2.map((a: any) => a.command)).toEqual(['restart-close']);
  });

  test('bad input: unknown command 400, unknown gate 404, bad limit 400, device failure 502 with the state', async () => {
    expect((await fetch(`${base}/gates/main/explode`, { method: 'POST' })).status).toBe(400);
    const nf = await fetch(`${base}/gates/nope/open`, { method: 'POST' });
    expect(nf.status).toBe(404);
    expect((await nf.json()).error).toContain('unknown gate');
    expect((await fetch(`${base}/gates/actions?limit=abc`)).status).toBe(400);

    relay.setFault({ status: 500, pathPrefix: '/api/relay', count: 2 });
    const failed = await fetch(`${base}/gates/main/hold`, { method: 'POST' });
    expect(failed.status).toBe(502);
    const body = await failed.json();
    expect(body.error).toContain('HTTP 500');
    expect(body.error).not.toContain('tok-123');
    expect(body.state).toMatchObject({ gate: 'main', reachable: false });
  });
});
