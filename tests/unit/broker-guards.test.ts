/** The broker's pure guards: the packet size meter, the failed-login limiter, the password hashes. */
import bcrypt from 'bcryptjs';
import { MqttPacketMeter, PRE_AUTH_MAX_PACKET, MAX_PACKET } from '../../src/runtime/mqtt-packet-guard';
import { LoginLimiter, ADDRESS_LIMITS } from '../../src/runtime/login-limiter';
import { hashPassword, verifyPassword, verifyPasswordSync } from '../../src/runtime/password-hash';
import { mayPublish, reservedClientId } from '../../src/runtime/mqtt-acl';

const header = (type: number, len: number) => {
  const out = [type << 4];
  do {
    let b = len % 128;
    len = Math.floor(len / 128);
    if (len) b |= 0x80;
    out.push(b);
  } while (len);
  return Buffer.from(out);
};

test('the meter stops a packet by its announced length, split across chunks, before and after login', () => {
  const m = new MqttPacketMeter();
  const h = header(1, 268_435_455);
  expect(m.feed(h.subarray(0, 2), false)).toBeNull(); // the length is not complete yet
  expect(m.feed(h.subarray(2), false)?.reason).toBe(`CONNECT packet of 268435455 bytes announced before login (limit ${PRE_AUTH_MAX_PACKET})`);
  // small packets pass, a body is skipped across chunks, then the post-login cap applies
  const ok = new MqttPacketMeter();
  expect(ok.feed(Buffer.concat([header(1, 20), Buffer.alloc(10)]), false)).toBeNull();
  expect(ok.feed(Buffer.alloc(10), false)).toBeNull();
  expect(ok.feed(Buffer.concat([header(3, MAX_PACKET), Buffer.alloc(5)]), true)).toBeNull();
  expect(ok.feed(Buffer.alloc(MAX_PACKET - 5), true)).toBeNull();
  expect(ok.feed(header(3, MAX_PACKET + 1), true)?.reason).toMatch(/PUBLISH packet of 1048577 bytes announced \(limit 1048576\)/);
  expect(new MqttPacketMeter().feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), true)?.reason).toMatch(/malformed remaining length/);
  // many small packets before login: the total is capped
  const pre = new MqttPacketMeter();
  let v = null;
  for (let i = 0; i < 100 && !v; i++) v = pre.feed(Buffer.concat([header(3, 4000), Buffer.alloc(4000)]), false);
  expect(v?.reason).toMatch(/bytes sent before login/);
});

test('the limiter delays progressively, then refuses, and forgets after the window', () => {
  let now = 0;
  const l = new LoginLimiter(() => now);
  const delays: number[] = [];
  for (let i = 0; i < ADDRESS_LIMITS.refuseAfter; i++) {
    const v = l.verdict('10.0.0.1', `u${i}`);
    expect(v.action).toBe('check');
    if (v.action === 'check') delays.push(v.delayMs);
    l.failed('10.0.0.1', `u${i}`);
    now += 10;
  }
  expect(delays.slice(0, ADDRESS_LIMITS.free)).toEqual([0, 0, 0, 0, 0]);
  expect(delays[ADDRESS_LIMITS.free]).toBe(100);
  expect(delays[ADDRESS_LIMITS.free + 1]).toBe(200);
  expect(Math.max(...delays)).toBe(ADDRESS_LIMITS.maxDelayMs);
  expect(l.verdict('10.0.0.1', 'other')).toMatchObject({ action: 'refuse', key: 'address 10.0.0.1' });
  expect(l.verdict('10.0.0.2', 'other')).toEqual({ action: 'check', delayMs: 0 });
  now += ADDRESS_LIMITS.windowMs + 1;
  expect(l.verdict('10.0.0.1', 'other')).toEqual({ action: 'check', delayMs: 0 });
});

test('scrypt hashes for new passwords; bcrypt hashes of older installs still verify', async () => {
  const h = await hashPassword('secret-1');
  expect(h).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
  expect(await verifyPassword('secret-1', h)).toBe(true);
  expect(await verifyPassword('secret-2', h)).toBe(false);
  const old = bcrypt.hashSync('legacy-1', 4);
  expect(await verifyPassword('legacy-1', old)).toBe(true);
  expect(await verifyPassword('legacy-2', old)).toBe(false);
  expect(verifyPasswordSync('legacy-1', old)).toBe(true);
  expect(await verifyPassword('x', 'not a hash')).toBe(false);
  // a stored hash cannot ask for unbounded memory
  expect(await verifyPassword('x', '$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
});

test('ACL: no retained plates or commands; internal client ids are reserved', () => {
  expect(mayPublish('lpr', 'lpr', 'gatepost/lpr/cam1')).toBe(true);
  expect(mayPublish('lpr', 'lpr', 'gatepost/lpr/cam1', true)).toBe(false);
  expect(mayPublish('admin', 'gatepost-internal', 'gatepost/lpr/cam1/fallback', true)).toBe(false);
  expect(mayPublish('operator', 'ops', 'gatepost/gate/main/set', true)).toBe(false);
  expect(mayPublish('admin', 'gatepost-internal', 'gatepost/available', true)).toBe(true);
  expect(reservedClientId('gatepost-flows')).toBe(true);
  expect(reservedClientId('gatepost-bridge-1a2b')).toBe(true);
  expect(reservedClientId('gatepost-lpr-123-abc')).toBe(false);
});
