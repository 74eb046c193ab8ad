/**
 * Fault suite: people at the wicket (issue 16). The built runtime with the shipped flows (the
 * «Люди» tab) on the Sokol emulator takes, from reader accounts over MQTT:
 *  - junk QR payloads (SQL-ish text, symbols, binary, broken JSON, oversized) and junk face reports:
 *    every one comes back as a published, recorded event (rejected / denied), none opens the door;
 *  - a single-use pass read by 12 readers at once (a replay race): exactly one entry;
 *  - photo uploads that lie about their type or size: 4xx, nothing stored;
 * and the runtime stays healthy and lets the next valid pass in.
 */
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { startSite, Site } from '../helpers/site';
import { reportFault } from '../helpers/faults';

jest.setTimeout(180_000);

const READERS = 12;
let site: Site;
let rt: GatepostHandle;
let readers: MqttClient[] = [];
let watcher: MqttClient;
let seen: ReturnType<typeof collector>;

const api = <T = any>(p: string, init: RequestInit = {}): Promise<T> => apiOf<T>(rt, p, init);
const opens = () => site.sokol.requests.filter((r) => r.method === 'PUT' && /\/relay\/1\/open$/.test(r.url)).length;
const publish = (c: MqttClient, topic: string, payload: string | Buffer) => new Promise<void>((resolve, reject) => c.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
const access = (from: number) =>
  seen.messages
    .slice(from)
    .filter((m) => m.topic === 'gatepost/access/wicket')
    .map((m) => JSON.parse(m.payload));

function junk(): Array<string | Buffer> {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out: Array<string | Buffer> = [
    "' OR 1=1--",
    "'; DROP TABLE qr_passes; --",
    '<script>alert(1)</script>',
    '${jndi:ldap://x}',
    '{"text": null}',
    '{"text": ["GPQ1.x"]}',
    '[]',
    'null',
    '{',
    Buffer.from([0xff, 0xfe, 0x00]),
    'GPQ1.' + 'A'.repeat(23),
    'GPQ1.' + '%'.repeat(24),
    'x'.repeat(4000),
    '',
  ];
  const symbols = '\'";=<>()*%$#@!?{}[]\\`~^&';
  while (out.length < 120) out.push(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => symbols[Math.floor(rnd() * symbols.length)]).join(''));
  return out;
}

beforeAll(async () => {
  site = await startSite({ name: 'people-faults', pulseS: 0.3 });
  const users = Array.from({ length: READERS }, (_, i) => `r${i}:r${i}-secret:camera`).join(',');
  rt = await startGatepost({ env: site.env(), mqttUsers: users });
  readers = await Promise.all(Array.from({ length: READERS }, (_, i) => connect(rt.mqttUrl, { username: `r${i}`, password: `r${i}-secret`, clientId: `fault-r${i}` })));
  const internal = rt.internalMqtt();
  watcher = await connect(rt.mqttUrl, { username: internal.username, password: internal.password, clientId: 'fault-people-watcher' });
  seen = collector(watcher);
  await subscribe(watcher, 'gatepost/access/#');
  await waitFor(
    'the people flow to take QR reads',
    async () => {
      const n = seen.messages.length;
      await publish(readers[0], 'gatepost/qr/r0', 'probe');
      await new Promise((r) => setTimeout(r, 300));
      return access(n).length > 0;
    },
    30_000,
    200,
  );
});

afterAll(async () => {
  await Promise.all([...readers, watcher].map((c) => end(c)));
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await site?.close();
});

test('junk QR payloads and junk face reports: each one published and recorded, none opens the door; the runtime stays up', async () => {
  const before = opens();
  const n = seen.messages.length;
  const qr = junk();
  const face = [
    '{',
    '[]',
    'null',
    '{"personId": "1"}',
    '{"name": "x", "confidence": 7}',
    '{"name": {"a": 1}, "confidence": 0.9}',
    '{"personId": "\' OR 1=1--", "confidence": 0.99}',
    Buffer.from([0, 1, 2, 3]),
    '{"name":"x","confidence":0.9,"image":"' + 'A'.repeat(50_000) + '"}',
  ];
  for (const p of qr) await publish(readers[1], 'gatepost/qr/r1', p);
  for (const p of face) await publish(readers[2], 'gatepost/face/r2', p);
  const got = await waitFor('every junk read answered', () => (access(n).length >= qr.length + face.length ? access(n) : null), 30_000);
  const opened = got.filter((e) => e.decision === 'allowed').length;
  reportFault({
    attack: 'junk QR payloads + face reports over MQTT (SQL-ish, symbols, binary, broken JSON, 4 KB, 50 KB image)',
    tried: qr.length + face.length,
    survived: got.length - opened,
    lost: qr.length + face.length - got.length,
  });
  expect(opened).toBe(0);
  expect(got.every((e) => e.decision === 'rejected' || e.decision === 'denied')).toBe(true);
  expect(opens()).toBe(before);
  const rec = await api('/api/events?kind=qr&limit=1');
  expect(rec.total).toBeGreaterThanOrEqual(qr.length);
  expect((await fetch(`${rt.url}/api/health`)).status).toBe(200);
});

test('a replay race: one single-use pass read by 12 readers at the same moment lets one person in', async () => {
  const { token, qr } = await api('/api/passes/qr', { method: 'POST', body: JSON.stringify({ maxUses: 1 }) });
  const before = opens();
  const n = seen.messages.length;
  await Promise.all(readers.map((c, i) => publish(c, `gatepost/qr/r${i}`, token)));
  const got = await waitFor('all 12 decisions', () => (access(n).length >= READERS ? access(n) : null), 20_000);
  const allowed = got.filter((e) => e.decision === 'allowed');
  await waitFor('the wicket pulse', () => opens() >= before + 1);
  await new Promise((r) => setTimeout(r, 500));
  reportFault({
    attack: `replay race: one single-use QR pass from ${READERS} readers at once`,
    tried: READERS,
    survived: got.length - Math.max(0, allowed.length - 1),
    lost: Math.max(0, allowed.length - 1),
    note: `${allowed.length} allowed, ${opens() - before} opening(s)`,
  });
  expect(allowed).toHaveLength(1);
  expect(got.filter((e) => e.decision === 'denied' && /^used: /.test(e.reason))).toHaveLength(READERS - 1);
  expect(opens()).toBe(before + 1);
  expect((await api('/api/passes/qr?all=1')).qr.find((q: any) => q.id === qr.id)).toMatchObject({ uses: 1 });
});

test('lying photo uploads: 4xx each, nothing stored; then the next valid pass still opens', async () => {
  const { person } = await api('/api/people', { method: 'POST', body: JSON.stringify({ name: 'Fault Test' }) });
  const attempts: Array<[string, Buffer]> = [
    ['image/jpeg', Buffer.from('<?php echo 1; ?>')],
    ['image/png', Buffer.from([0xff, 0xd8, 0xff, 0xe0])],
    ['image/jpeg', Buffer.alloc(3 * 1024 * 1024, 0xff)],
    ['text/html', Buffer.from('<html>')],
    ['image/svg+xml', Buffer.from('<svg onload=alert(1)>')],
    ['image/jpeg', Buffer.alloc(0)],
  ];
  const statuses: number[] = [];
  for (const [type, body] of attempts) {
    const res = await fetch(`${rt.url}/api/people/${person.id}/photos`, { method: 'POST', headers: { ...rt.basicAuth(), 'content-type': type }, body: new Uint8Array(body) });
    statuses.push(res.status);
  }
  const stored = (await api(`/api/people/${person.id}`)).photos.length;
  reportFault({
    attack: 'photo uploads lying about type / size (PHP, SVG, 3 MB, empty, PNG header mismatch)',
    tried: attempts.length,
    survived: statuses.filter((s) => s >= 400 && s < 500).length,
    lost: stored,
  });
  expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
  expect(stored).toBe(0);

  const { token } = await api('/api/passes/qr', { method: 'POST', body: JSON.stringify({}) });
  const before = opens();
  const n = seen.messages.length;
  await publish(readers[3], 'gatepost/qr/r3', token);
  const [e] = await waitFor('the decision', () => (access(n).length ? access(n) : null));
  expect(e.decision).toBe('allowed');
  await waitFor('the wicket to open', () => opens() === before + 1);
});
