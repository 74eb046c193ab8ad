/**
 * Fault suite: junk on the LPR topic. The built runtime with the shipped flows takes generated
 * junk over MQTT (the `lpr` account): SQL-ish and script-ish text, numbers, symbol soup, binary,
 * JSON of wrong types, and plates whose `gate` / `camera` is not one topic level (`+`, `a/#`, NUL).
 * Every message must come back as a published `rejected` decision (none decided as a plate, none
 * missing) and be recorded; the runtime stays healthy and decides the next real plate.
 */
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end, untilFlowTakesPlates } from '../helpers/mqtt-test';
import { reportFault } from '../helpers/faults';

jest.setTimeout(180_000);

/** Deterministic junk (a tiny LCG), none of it a plausible plate read. */
function junk(n: number): Array<string | Buffer> {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const fixed: Array<string | Buffer> = [
    "' OR 1=1--",
    "'; DROP TABLE events; --",
    '" OR ""="',
    '1; SELECT * FROM passes',
    '<script>alert(1)</script>',
    '${jndi:ldap://x}',
    '{{7*7}}',
    '%00%0d%0a',
    '../../etc/passwd',
    '12345',
    '000',
    '9999999',
    'ABCDEF',
    'ТЕСТ',
    '!!!',
    '@@@@',
    '{"plate": 5}',
    '{"plate": null}',
    '{"plate": ["A123BC77"]}',
    '{"plate": {"x": 1}}',
    '[1,2,3]',
    'null',
    'true',
    Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    Buffer.from([0xc3, 0x28]),
  ];
  const out = [...fixed];
  const symbols = '\'";=<>()*%$#@!?{}[]\\`~^&';
  while (out.length < n) {
    const kind = Math.floor(rnd() * 5);
    if (kind === 0) out.push(Array.from({ length: 3 + Math.floor(rnd() * 10) }, () => pick(symbols.split(''))).join(''));
    else if (kind === 1) out.push(String(Math.floor(rnd() * 1e9)));
    else if (kind === 2) out.push(`${pick(['A', 'K', 'M'])}${Math.floor(rnd() * 1000)}${pick(symbols.split(''))}${pick(["' OR ", '; --', '<b>', '=1'])}`);
    else if (kind === 3) out.push(Buffer.from(Array.from({ length: 4 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * 32))));
    else out.push(JSON.stringify({ plate: pick([Math.floor(rnd() * 1e6), true, null, [], {}]) }));
  }
  return out;
}

describe('junk on gatepost/lpr/<camera>', () => {
  let rt: GatepostHandle;
  let lpr: MqttClient;

  beforeAll(async () => {
    rt = await startGatepost({ env: { GATEPOST_LOG_LEVEL: 'error' } });
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: 'junk-lpr' });
    await subscribe(lpr, 'gatepost/decision/#');
    await untilFlowTakesPlates(lpr);
  });
  afterAll(async () => {
    if (lpr) await end(lpr);
    if (rt) {
      await rt.stop();
      rt.cleanup();
    }
  });

  test('every junk payload is rejected, published and recorded; none decided as a plate', async () => {
    const seen = collector(lpr);
    const payloads = junk(1500);
    const pub = (p: string | Buffer) => new Promise<void>((r, j) => lpr.publish('gatepost/lpr/cam1', p, { qos: 1 }, (e) => (e ? j(e) : r())));
    for (let i = 0; i < payloads.length; i += 50) await Promise.all(payloads.slice(i, i + 50).map(pub));
    await waitFor('a decision for every junk payload', () => seen.messages.filter((m) => m.topic.startsWith('gatepost/decision/')).length >= payloads.length, 60_000).catch(() => undefined);
    const decisions = seen.messages.filter((m) => m.topic.startsWith('gatepost/decision/')).map((m) => JSON.parse(m.payload));
    const rejected = decisions.filter((d) => d.decision === 'rejected').length;
    const asPlates = decisions.filter((d) => d.decision === 'allowed' || d.decision === 'denied' || d.decision === 'repeat');
    const missing = Math.max(0, payloads.length - decisions.length);
    const health = (await fetch(`${rt.url}/api/health`)).status;
    reportFault({
      attack: `junk LPR payloads (SQL-ish, symbols, numbers, binary, wrong JSON types)`,
      tried: payloads.length,
      survived: rejected,
      lost: missing,
      crashes: rt.proc.exitCode === null ? 0 : 1,
      note: `decided as plates ${asPlates.length}${
        asPlates.length
          ? ` (${asPlates
              .slice(0, 3)
              .map((d) => JSON.stringify(d.raw))
              .join(', ')})`
          : ''
      }; health ${health}`,
    });
    expect(asPlates.map((d) => d.raw)).toEqual([]);
    expect(missing).toBe(0);
    expect(rejected).toBe(payloads.length);
    // recorded: the events API counts them
    const page = await apiOf(rt, `/api/events?decision=rejected&limit=1`);
    expect(page.total).toBeGreaterThanOrEqual(payloads.length);
    expect(health).toBe(200);
  });

  test('a gate or camera that is not one topic level is rejected and its decision published (on the default gate)', async () => {
    const seen = collector(lpr);
    const bad: Array<Record<string, string>> = [{ gate: '+' }, { gate: 'a/#' }, { gate: 'x\u0000' }, { gate: '#' }, { camera: 'c/1' }, { camera: '+' }];
    for (const [i, b] of bad.entries()) {
      await new Promise<void>((r, j) => lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'А123ВС77', requestId: `badgate-${i}`, ...b }), { qos: 1 }, (e) => (e ? j(e) : r())));
    }
    const got = await waitFor(
      'the decisions of the bad gates',
      () => {
        const ds = seen.messages
          .filter((m) => m.topic === 'gatepost/decision/main')
          .map((m) => JSON.parse(m.payload))
          .filter((d) => String(d.requestId ?? '').startsWith('badgate-'));
        return ds.length >= bad.length ? ds : null;
      },
      20_000,
    ).catch(() =>
      seen.messages
        .filter((m) => m.topic === 'gatepost/decision/main')
        .map((m) => JSON.parse(m.payload))
        .filter((d) => String(d.requestId ?? '').startsWith('badgate-')),
    );
    const rejected = got.filter((d: any) => d.decision === 'rejected' && /must be one MQTT topic level/.test(d.reason));
    reportFault({ attack: 'plates with gate/camera "+", "a/#", "#", NUL, "c/1"', tried: bad.length, survived: rejected.length, lost: bad.length - got.length });
    expect(got).toHaveLength(bad.length);
    expect(rejected).toHaveLength(bad.length);
    // and the next real plate is decided as usual
    const seen2 = collector(lpr);
    await new Promise<void>((r, j) => lpr.publish('gatepost/lpr/cam1', JSON.stringify({ plate: 'Т321ТТ77', requestId: 'after-junk' }), { qos: 1 }, (e) => (e ? j(e) : r())));
    const d = await waitFor('the next plate', () => seen2.messages.map((m) => JSON.parse(m.payload)).find((x) => x.requestId === 'after-junk'));
    expect(d.decision).toBe('denied');
  });
});
