/**
 * gatepost-lpr against a real aedes broker (child process) with the lpr account and ACL, and a
 * stand-in decider on the broker side. The full runtime path is in tests/e2e/lpr*.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { main, exitCodeOf, deliverQueue } from '../../src/cli/gatepost-lpr';
import { parseArgs, loadConfig, UsageError } from '../../src/cli/lpr-config';
import { FallbackQueue, FallbackEntry } from '../../src/cli/lpr-queue';
import { MqttLite } from '../../src/cli/mqtt-lite';
import { ChildBroker, captureIo, closedPort, startChildBroker, tempDir } from '../helpers/lpr-test-utils';

let broker: ChildBroker;
let dir: string;

beforeAll(async () => {
  broker = await startChildBroker({ ALLOW: 'A123BC77,K001KK99', REPEAT: 'E777EE77' });
});
afterAll(async () => {
  await broker.stop();
});
beforeEach(() => {
  dir = tempDir();
});

const envFor = (extra: Record<string, string> = {}) => ({
  GATEPOST_LPR_URL: broker.url,
  GATEPOST_LPR_USERNAME: broker.user,
  GATEPOST_LPR_PASSWORD: broker.password,
  GATEPOST_LPR_QUEUE: path.join(dir, 'queue.jsonl'),
  ...extra,
});

describe('gatepost-lpr with gatepost reachable', () => {
  test('allowed plate exits 0 and the plate went out as JSON with a fresh requestId', async () => {
    const io = captureIo(envFor());
    const code = await main(['A123BC77', '--camera', 'cam1', '--gate', 'main', '--confidence', '0.93'], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    expect(io.out[0]).toMatch(/^allowed A123BC77 gate=main/);
    const m = await broker.waitPublished((p) => p.topic === 'gatepost/lpr/cam1' && p.payload.includes('A123BC77'));
    const p = JSON.parse(m.payload);
    expect(p).toMatchObject({ plate: 'A123BC77', gate: 'main', confidence: 0.93 });
    expect(p.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof p.ts).toBe('number');
  });

  test('denied plate exits 1; --json prints the decision', async () => {
    const io = captureIo(envFor());
    expect(await main(['X999XX99', '--json'], io)).toBe(1);
    expect(JSON.parse(io.out[0])).toMatchObject({ decision: 'denied', plate: 'X999XX99' });
  });

  test('a repeat of an allowed car exits 0', async () => {
    const io = captureIo(envFor());
    expect(await main(['E777EE77'], io)).toBe(0);
    expect(io.out[0]).toMatch(/^repeat/);
  });

  test('two concurrent commands each get their own decision', async () => {
    const [a, b] = await Promise.all([main(['K001KK99', '-q'], captureIo(envFor())), main(['O000OO00', '-q'], captureIo(envFor()))]);
    expect([a, b]).toEqual([0, 1]);
  });

  test('settings come from a config file too (--config)', async () => {
    const file = path.join(dir, 'lpr.json');
    fs.writeFileSync(file, JSON.stringify({ url: broker.url, username: broker.user, password: broker.password, camera: 'filecam', queueFile: path.join(dir, 'q.jsonl') }));
    const io = captureIo({});
    expect(await main(['A123BC77', '--config', file], io)).toBe(0);
    await broker.waitPublished((p) => p.topic === 'gatepost/lpr/filecam');
  });
});

describe('gatepost-lpr errors', () => {
  test('no decision within the timeout exits 2 and does not pulse the relay directly', async () => {
    const silent = await startChildBroker({ SILENT: '1' });
    try {
      const io = captureIo({ ...envFor(), GATEPOST_LPR_URL: silent.url, GATEPOST_RELAY_URL: 'http://127.0.0.1:9' });
      let asked = false;
      io.fallbackDeps = async () => {
        asked = true;
        throw new Error('must not be used');
      };
      const started = Date.now();
      expect(await main(['A123BC77', '--timeout', '300'], io)).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(io.err.join('\n')).toMatch(/no decision within 300 ms/);
      expect(asked).toBe(false);
      await silent.waitPublished((p) => p.topic === 'gatepost/lpr/lpr');
    } finally {
      await silent.stop();
    }
  });

  test('usage errors exit 2 with a message', async () => {
    for (const argv of [[], ['A1', 'B2'], ['A1', '--camera'], ['A1', '--bogus'], ['A1', '--direction', 'up'], ['A1', '--confidence', 'high'], ['A1', '--config', path.join(dir, 'missing.json')]]) {
      const io = captureIo(envFor());
      expect(await main(argv, io)).toBe(2);
      expect(io.err[0]).toMatch(/^gatepost-lpr: /);
    }
  });

  test('a config file that is not JSON is a clear error', () => {
    const f = path.join(dir, 'bad.json');
    fs.writeFileSync(f, '{ url: nope');
    expect(() => loadConfig(parseArgs(['A1', '--config', f]), {})).toThrow(UsageError);
  });
});

describe('exit codes', () => {
  const d = (decision: any, extra: any = {}) => ({ decision, source: 'none' as const, reason: '', ...extra });
  test('mapping', () => {
    expect(exitCodeOf(d('allowed'))).toBe(0);
    expect(exitCodeOf(d('denied'))).toBe(1);
    expect(exitCodeOf(d('rejected'))).toBe(2);
    expect(exitCodeOf(d('repeat', { previous: { decision: 'allowed' } }))).toBe(0);
    expect(exitCodeOf(d('repeat', { previous: { decision: 'denied' } }))).toBe(1);
    expect(exitCodeOf(d('repeat', { pass: { ref: 'mirror:1', kind: 'mirror', house: '1' } }))).toBe(0);
    expect(exitCodeOf(d('repeat'))).toBe(1);
  });
});

describe('fallback queue', () => {
  const entry = (id: string, plate = 'A123BC77'): FallbackEntry => ({
    v: 1,
    id,
    ts: 1_700_000_000_000,
    camera: 'cam1',
    gate: 'main',
    plate,
    decision: 'allowed',
    source: 'online',
    reason: 'fallback: E-Poselok allowed',
    relay: 'ok',
  });

  test('append is durable, read skips a torn line, remove keeps later appends', async () => {
    const q = new FallbackQueue(path.join(dir, 'sub', 'q.jsonl'));
    await q.append(entry('a'));
    await q.append(entry('b'));
    fs.appendFileSync(q.file, '{"v":1,"id":"torn","pla'); // a crash mid-write
    await q.append(entry('c'));
    const r = q.read();
    expect(r.entries.map((e) => e.id)).toEqual(['a', 'b']);
    expect(r.bad.length).toBe(1); // the torn line swallowed the newline of 'c' → one bad line
    expect(await q.remove(['a'])).toBe(1);
    expect(q.read().entries.map((e) => e.id)).toEqual(['b']);
    expect(fs.readFileSync(`${q.file}.bad`, 'utf8')).toMatch(/torn/);
    await q.append(entry('d'));
    expect(q.read().entries.map((e) => e.id)).toEqual(['b', 'd']);
  });

  test('concurrent appends are all kept', async () => {
    const q = new FallbackQueue(path.join(dir, 'q.jsonl'));
    await Promise.all(Array.from({ length: 30 }, (_, i) => q.append(entry(`id${i}`))));
    expect(q.read().entries.length).toBe(30);
  });

  test('delivery publishes each entry on gatepost/lpr/<camera>/fallback and empties the queue', async () => {
    const cfg = loadConfig(parseArgs(['x']), envFor());
    const q = new FallbackQueue(cfg.queueFile);
    await q.append(entry('f1', 'B111BB11'));
    await q.append({ ...entry('f2', 'B222BB22'), decision: 'denied', source: 'online', reason: 'fallback: E-Poselok denied', relay: undefined });
    const r = await deliverQueue(cfg, { stderr: () => undefined });
    expect(r).toEqual({ delivered: 2, left: 0 });
    const m1 = await broker.waitPublished((p) => p.topic === 'gatepost/lpr/cam1/fallback' && p.payload.includes('B111BB11'));
    expect(JSON.parse(m1.payload)).toEqual({
      plate: 'B111BB11',
      ts: 1_700_000_000_000,
      requestId: 'f1',
      gate: 'main',
      fallback: { decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok' },
    });
    await broker.waitPublished((p) => p.payload.includes('B222BB22') && p.payload.includes('"denied"'));
    expect(q.hasEntries()).toBe(false);
  });

  test('--flush with gatepost down keeps everything', async () => {
    const q = new FallbackQueue(path.join(dir, 'queue.jsonl'));
    await q.append(entry('k1'));
    const io = captureIo({ ...envFor(), GATEPOST_LPR_URL: `mqtt://127.0.0.1:${await closedPort()}` });
    expect(await main(['--flush'], io)).toBe(2);
    expect(q.read().entries.map((e) => e.id)).toEqual(['k1']);
  });
});

describe('mqtt-lite', () => {
  test('bad credentials are refused with the broker reason', async () => {
    await expect(MqttLite.connect({ url: broker.url, username: 'lpr', password: 'wrong' })).rejects.toThrow(/bad user name or password|closed/);
  });
  test('a subscription outside the ACL is refused', async () => {
    const c = await MqttLite.connect({ url: broker.url, username: broker.user, password: broker.password });
    try {
      await expect(c.subscribe('gatepost/gate/#')).rejects.toThrow(/refused the subscription/);
    } finally {
      await c.end();
    }
  });
  test('connect to a closed port fails fast; to a silent server it times out', async () => {
    await expect(MqttLite.connect({ url: `mqtt://127.0.0.1:${await closedPort()}` })).rejects.toThrow(/ECONNREFUSED/);
    const net = await import('net');
    const sockets: any[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as any).port;
      await expect(MqttLite.connect({ url: `mqtt://127.0.0.1:${port}`, connectTimeoutMs: 200 })).rejects.toThrow(/within 200 ms/);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describe('gatepost-lpr with gatepost down (direct path)', () => {
  test('without E-Poselok settings nothing opens; the passage is queued as rejected and the exit is 2', async () => {
    const { startClGateEmulator } = await import('../../src/emulators/clgate');
    const relay = await startClGateEmulator({ token: 'relay-tok' });
    try {
      const io = captureIo({ ...envFor(), GATEPOST_LPR_URL: `mqtt://127.0.0.1:${await closedPort()}`, GATEPOST_RELAY_URL: relay.url, GATEPOST_RELAY_TOKEN: 'relay-tok' });
      expect(await main(['A123BC77', '--camera', 'cam1'], io)).toBe(2);
      expect(io.err.join('\n')).toMatch(/gatepost unreachable.*direct path/);
      expect(io.err.join('\n')).toMatch(/fallback not configured/);
      expect(relay.requests.length).toBe(0);
      const q = new FallbackQueue(path.join(dir, 'queue.jsonl')).read().entries;
      expect(q).toEqual([expect.objectContaining({ plate: 'A123BC77', camera: 'cam1', gate: 'main', decision: 'rejected', source: 'none' })]);
      expect(io.err.join('\n')).not.toMatch(/relay-tok/);
    } finally {
      await relay.close();
    }
  });

  test('E-Poselok allows → relay pulse (open, wait, close) → queued → delivered when gatepost is back', async () => {
    const { startClGateEmulator } = await import('../../src/emulators/clgate');
    const { startEposelokEmulator } = await import('../../src/emulators/eposelok');
    const relay = await startClGateEmulator({ token: 'relay-tok' });
    const epos = await startEposelokEmulator({ name: 'test', token: 'epos-tok', camId: 'cam-9', passes: { AllowedList1: [{ Number: '12', Plate: 'А123ВС77' }] } });
    try {
      const env = {
        ...envFor(),
        GATEPOST_LPR_URL: `mqtt://127.0.0.1:${await closedPort()}`,
        GATEPOST_LPR_PULSE_MS: '300',
        GATEPOST_RELAY_URL: relay.url,
        GATEPOST_RELAY_TOKEN: 'relay-tok',
        GATEPOST_RELAY_CHANNEL: '2',
        GATEPOST_EPOSELOK_NAME: epos.settlement,
        GATEPOST_EPOSELOK_TOKEN: epos.token,
        GATEPOST_EPOSELOK_CAMID: 'cam-9',
        GATEPOST_EPOSELOK_CHECK_URL: epos.checkUrl,
      };
      const io = captureIo(env);
      const started = Date.now();
      expect(await main(['A123BC77', '--camera', 'cam1'], io)).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(relay.changes.map((c) => [c.channel, c.state])).toEqual([
        [2, 1],
        [2, 0],
      ]);
      const q = new FallbackQueue(path.join(dir, 'queue.jsonl'));
      expect(q.read().entries).toEqual([expect.objectContaining({ plate: 'A123BC77', decision: 'allowed', source: 'online', relay: 'ok' })]);
      // a plate E-Poselok does not know: denied, no relay request, queued too
      const before = relay.requests.length;
      expect(await main(['X000XX00'], captureIo(env))).toBe(1);
      expect(relay.requests.length).toBe(before);
      expect(q.read().entries.length).toBe(2);
      // gatepost is back: the next run hands the queue over
      const r = await deliverQueue(loadConfig(parseArgs(['x']), envFor()), { stderr: () => undefined });
      expect(r).toEqual({ delivered: 2, left: 0 });
      await broker.waitPublished((p) => p.topic === 'gatepost/lpr/cam1/fallback' && p.payload.includes('"allowed"'));
    } finally {
      await relay.close();
      await epos.close();
    }
  });
});
