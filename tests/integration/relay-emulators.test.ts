/** The CL-Gate and Sokol emulators over HTTP on 127.0.0.1 (what tests, demo mode and benchmarks rely on). */
import { startClGateEmulator } from '../../src/emulators/clgate';
import { startSokolEmulator } from '../../src/emulators/sokol';
import { startEmulators } from '../../src/emulators/cli';

test('CL-Gate: token check, channel state in-process and over the control API, faults', async () => {
  const emu = await startClGateEmulator({ token: 't0k' });
  try {
    expect((await fetch(`${emu.url}/api/relay?relay=1&state=1`)).status).toBe(401);
    expect((await fetch(`${emu.url}/api/relay?relay=1&state=1&token=bad`)).status).toBe(403);
    expect((await fetch(`${emu.url}/api/relay?relay=9&state=1&token=t0k`)).status).toBe(400);
    expect(emu.channelState(1)).toBe(0);
    expect((await fetch(`${emu.url}/api/relay?relay=1&state=1&token=t0k`)).status).toBe(200);
    expect(emu.channelState(1)).toBe(1);
    expect(await (await fetch(`${emu.url}/__emulator/relays`)).json()).toMatchObject({ '1': 1, '2': 0 });
    await fetch(`${emu.url}/__emulator/fault`, { method: 'POST', body: JSON.stringify({ status: 500, count: 1 }) });
    expect((await fetch(`${emu.url}/api/relay?relay=1&state=0&token=t0k`)).status).toBe(500);
    expect(emu.channelState(1)).toBe(1);
    const r = await fetch(`${emu.url}/api/relay?relay=1&state=0&token=t0k`);
    expect(r.status).toBe(200);
    expect(emu.channelState(1)).toBe(0);
    expect(emu.changes.map((c) => c.state)).toEqual([1, 0]);
  } finally {
    await emu.close();
  }
});

test('Sokol: Basic auth, open closes by itself after switchTime, alwaysOpen, system info', async () => {
  const emu = await startSokolEmulator({ username: 'admin', password: 'pw' });
  const auth = { authorization: 'Basic ' + Buffer.from('admin:pw').toString('base64') };
  try {
    expect((await fetch(`${emu.url}/relay/1/open`, { method: 'PUT' })).status).toBe(401);
    expect((await fetch(`${emu.url}/system/info`, { headers: auth })).status).toBe(200);
    const set = await fetch(`${emu.url}/relay/2/settings`, { method: 'PUT', headers: auth, body: JSON.stringify({ switchTime: 1 }) });
    expect(await set.json()).toEqual({ switchTime: 1, alwaysOpen: false });
    expect((await fetch(`${emu.url}/relay/2/open`, { method: 'PUT', headers: auth })).status).toBe(200);
    expect(emu.relayState(2)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(emu.relayState(2)).toBe(false);
    await fetch(`${emu.url}/relay/external/4/settings`, { method: 'PUT', headers: auth, body: '{"alwaysOpen":true}' });
    expect(emu.relayState('external/4')).toBe(true);
    expect((await fetch(`${emu.url}/relay/3/open`, { method: 'PUT', headers: auth })).status).toBe(404);
    expect((await fetch(`${emu.url}/relay/1/settings`, { method: 'PUT', headers: auth, body: 'nope' })).status).toBe(400);
  } finally {
    await emu.close();
  }
});

test('emulator cli registry starts named emulators and refuses unknown ones', async () => {
  const running = await startEmulators(['clgate', 'sokol']);
  try {
    expect(running.map((r) => r.name)).toEqual(['clgate', 'sokol']);
    for (const r of running) expect(r.emu.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await Promise.all(running.map((r) => r.emu.close()));
  }
  await expect(startEmulators(['nope'])).rejects.toThrow(/unknown emulator/);
});
