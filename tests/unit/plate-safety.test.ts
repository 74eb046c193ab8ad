/**
 * Plate decisions exactly as configured (the plate-safety issue), through the real services on a
 * real sqlite file and the E-Poselok online emulator on 127.0.0.1:
 *  - the policy NAME decides: `exact` is exact whatever maxEdit says (a table over every value the
 *    editor can save, and hand-edited ones);
 *  - near misses (one letter, one digit, the region) are denied under exact;
 *  - edit-distance: one near pass allowed, two different near passes → ambiguous, denied, no online check;
 *  - stale reads and clock skew are denied and recorded, never allowed, no repeat window;
 *  - retained messages, junk texts and bad gate/camera ids are rejected and recorded.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';
import { PlateChecker } from '../../src/services/plate-checker';
import { EXACT, policyFrom, policyName } from '../../src/core/match';
import { implausibleRead, normalizePlate } from '../../src/core/plate';
import { silentLogger } from '../../src/core/log';
import type { Clock } from '../../src/core/clock';
import type { HttpEmulator } from '../../src/emulators/http-emulator';
import { startOnlineEmulator, TestOnlineChecker } from '../helpers/plates-online';

const NOW = Date.parse('2024-06-10T09:00:00Z');

describe('policyFrom: the policy name decides', () => {
  // every (policy, maxEdit) pair the editor can save, plus hand-edited and legacy values
  const policies: unknown[] = ['exact', 'ignore-region', 'edit-distance', '', undefined, null, 'EXACT', 'fuzzy', '${GATEPOST_POLICY}', 1];
  const maxEdits: unknown[] = ['1', '2', 1, 2, '', undefined, '0', '3', '-1', 'x', '${GATEPOST_MAX_EDIT}', 1.5];
  const rows: Array<[unknown, unknown]> = [];
  for (const p of policies) for (const m of maxEdits) rows.push([p, m]);

  test.each(rows)('policy %p, maxEdit %p', (policy, maxEdit) => {
    const got = policyFrom({ policy, maxEditDistance: maxEdit });
    if (policy === 'edit-distance') {
      const n = Math.floor(Number(maxEdit)) === 2 ? 2 : 1;
      expect(got).toEqual({ ignoreRegion: false, maxEditDistance: n });
      expect(policyName(got)).toBe('edit-distance');
    } else if (policy === 'ignore-region') {
      expect(got).toEqual({ ignoreRegion: true, maxEditDistance: 0 });
    } else {
      // exact, and anything that is not a known name: never fuzzy, whatever maxEdit says
      expect(got).toEqual(EXACT);
      expect(policyName(got)).toBe('exact');
    }
  });
});

describe('implausible reads', () => {
  test.each([
    ['12345', 'no letter'],
    ["' OR 1=1--", 'symbol'],
    ['A1; DROP TABLE', 'symbol'],
    ['<script>1', 'symbol'],
    ['ABCDEF', 'no digit'],
    ['%%%A1%%', 'symbol'],
  ])('%p is not a plate read (%s)', (text, why) => {
    expect(implausibleRead(text)).toContain(why);
  });
  test.each(['А123ВС77', 'a123bc 777 RUS', 'А 123 ВС | 77', 'A-123-BC-77', 'В555ОР199', 'AB12377', '1234AB77', 'ABC.123', 'E 777 EE 77 🇷🇺'])('%p may be a plate', (text) => {
    expect(implausibleRead(text)).toBeNull();
  });
});

describe('plate decisions as configured (services, sqlite, E-Poselok emulator)', () => {
  let dir: string;
  let hub: Hub;
  const clock: Clock & { t: number } = {
    t: NOW,
    now: () => clock.t,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
  let emu: HttpEmulator;
  let online: TestOnlineChecker;

  beforeEach(async () => {
    clock.t = NOW;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-safety-'));
    hub = Hub.open({ dbPath: path.join(dir, 'g.db'), timezone: 'Europe/Moscow', clock, logger: silentLogger });
    passesOf(hub);
    eventsOf(hub);
    await hub.ready();
    // the online check allows nothing but one plate that is in no local list
    emu = await startOnlineEmulator(new Set(['E777EE77']));
    online = new TestOnlineChecker(emu.url, 600, 2, 60000);
    const db = await hub.db();
    const added = [];
    for (const [canonical, raw, digits, house] of [
      ['A123BC77', 'А123ВС77', '123', '10'],
      ['K456MH99', 'К456МН99', '456', '11'],
      ['K457MH99', 'К457МН99', '457', '12'],
    ]) {
      const r = await db.run('INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES (?,?,?,?,?,?,?)', [
        'AllowedList1',
        canonical,
        raw,
        digits,
        house,
        NOW,
        NOW,
      ]);
      added.push({ id: r.lastID, list: 'AllowedList1', canonical, raw, digits, house, firstSeen: NOW, lastSeen: NOW });
    }
    passesOf(hub).mirrorChanged(added, [], []);
  });
  afterEach(async () => {
    await Hub.closeAll();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const NEAR_MISSES = [
    ['А128ВС77', 'one digit'],
    ['А123ВЕ77', 'one letter'],
    ['А123ВС78', 'the region'],
    ['А123ВС777', 'a digit more in the region'],
    ['А23ВС77', 'a digit less'],
  ];

  test.each(NEAR_MISSES)('exact with the maxEdit "1" every shipped flow carries: %p (%s) is denied', async (plate) => {
    const checker = new PlateChecker(hub, { policy: policyFrom({ policy: 'exact', maxEditDistance: '1' }), checker: online, repeatWindowMs: 0 });
    const r = await checker.check({ payload: plate, topic: 'gatepost/lpr/cam1' });
    expect(r.output).toBe(2);
    expect(r.decision).toMatchObject({ decision: 'denied', source: 'none' });
    const ev = await eventsOf(hub).get((await r.recorded).eventId);
    expect(ev).toMatchObject({ decision: 'denied' });
  });

  test('exact still allows the listed plate, with the positional OCR fixes', async () => {
    const checker = new PlateChecker(hub, { policy: policyFrom({ policy: 'exact', maxEditDistance: '1' }), repeatWindowMs: 0 });
    // I → 1 and Z → 2 in digit positions, 8 → B in a letter position
    for (const read of ['А123ВС77', 'a123bc 77 RUS', 'AI23BC77', 'A1Z3BC77', 'A1238C77']) {
      const r = await checker.check({ payload: read });
      expect(r.decision).toMatchObject({ decision: 'allowed', source: 'mirror', policy: 'exact', plate: 'A123BC77' });
    }
  });

  test('edit-distance: one near pass is allowed; two different near passes are ambiguous and denied without the online check', async () => {
    const checker = new PlateChecker(hub, { policy: policyFrom({ policy: 'edit-distance', maxEditDistance: '1' }), checker: online, repeatWindowMs: 0 });
    const one = await checker.check({ payload: 'А128ВС77' });
    expect(one.decision).toMatchObject({ decision: 'allowed', policy: 'edit-distance', pass: { ref: expect.stringMatching(/^mirror:/) } });
    const before = emu.requests.length;
    // К458МН99 is one digit off both К456МН99 and К457МН99
    const amb = await checker.check({ payload: 'К458МН99' });
    expect(amb.output).toBe(2);
    expect(amb.decision).toMatchObject({ decision: 'denied', source: 'none', policy: 'edit-distance' });
    expect(amb.decision.reason).toMatch(/^ambiguous read: 2 passes within edit distance 1 \(K45[67]MH99, K45[67]MH99\)$/);
    expect(emu.requests.length).toBe(before);
    // an exact pass wins over every near one
    const exact = await checker.check({ payload: 'К456МН99' });
    expect(exact.decision).toMatchObject({ decision: 'allowed', policy: 'exact', house: '11' });
    // a temporary pass by digits is exact too: it comes before an edit-distance match of the mirror
    await passesOf(hub).addTemp({ digits: '124', house: '40', preset: 'today' }, 'guard');
    const digits = await checker.check({ payload: 'А124ВС77' });
    expect(digits.decision).toMatchObject({ decision: 'allowed', source: 'temporary', policy: 'exact', house: '40' });
  });

  test('the online check is asked for the plate as read, never for a near one', async () => {
    const checker = new PlateChecker(hub, { policy: EXACT, checker: online, repeatWindowMs: 0 });
    const r = await checker.check({ payload: 'Е777ЕЕ78' });
    expect(r.decision).toMatchObject({ decision: 'denied' });
    expect(emu.requests.at(-1)!.url).toContain('plate=E777EE78');
  });

  test('stale reads and clock skew are denied and recorded; they open nothing and start no repeat window', async () => {
    const checker = new PlateChecker(hub, { policy: EXACT, checker: online, repeatWindowMs: 15000, maxAgeMs: 30000 });
    for (const ageMin of [10, 60]) {
      const r = await checker.check({ payload: JSON.stringify({ plate: 'А123ВС77', ts: NOW - ageMin * 60000 }), topic: 'gatepost/lpr/cam1' });
      expect(r.output).toBe(2);
      expect(r.decision).toMatchObject({ decision: 'denied', source: 'none', reason: `stale read: taken ${ageMin * 60} s ago (max 30 s)` });
      const ev = await eventsOf(hub).get((await r.recorded).eventId);
      expect(ev).toMatchObject({ decision: 'denied', plate: 'A123BC77', reason: expect.stringMatching(/^stale read/) });
    }
    // epoch seconds, 31 s old: stale too
    const sec = await checker.check({ payload: { plate: 'А123ВС77', ts: Math.floor((NOW - 31000) / 1000) } });
    expect(sec.decision.reason).toMatch(/^stale read/);
    const skew = await checker.check({ payload: { plate: 'А123ВС77', ts: new Date(NOW + 6 * 60000).toISOString() } });
    expect(skew).toMatchObject({ output: 2, decision: { decision: 'denied', reason: expect.stringMatching(/^clock skew/) } });
    // a fresh read of the same plate right after: allowed (the stale ones started no repeat window)
    const fresh = await checker.check({ payload: { plate: 'А123ВС77', ts: NOW - 2000 } });
    expect(fresh).toMatchObject({ output: 1, decision: { decision: 'allowed', ts: NOW - 2000 } });
    // a read 4 min ahead is within the skew allowance
    const ahead = await checker.check({ payload: { plate: 'К456МН99', ts: NOW + 4 * 60000 } });
    expect(ahead.decision.decision).toBe('allowed');
    expect(checker.counters).toMatchObject({ allowed: 2, denied: 4 });
  });

  test('retained messages, junk texts and bad gate/camera ids are rejected and recorded', async () => {
    const checker = new PlateChecker(hub, { policy: EXACT, repeatWindowMs: 0 });
    const cases: Array<[Parameters<PlateChecker['check']>[0], RegExp]> = [
      [{ payload: 'А123ВС77', topic: 'gatepost/lpr/cam1', retain: true }, /^retained message/],
      [{ payload: '12345', topic: 'gatepost/lpr/cam1' }, /^not a plate: "12345" \(no letter\)/],
      [{ payload: "' OR 1=1--", topic: 'gatepost/lpr/cam1' }, /^not a plate/],
      [{ payload: { plate: 5 } }, /^"plate" must be a string$/],
      [{ payload: 'А123ВС77', gate: '+' }, /^"gate" must be one MQTT topic level/],
      [{ payload: 'А123ВС77', gate: 'a/#' }, /^"gate" must be one MQTT topic level/],
      [{ payload: { plate: 'А123ВС77', gate: 'x\u0000' } }, /^"gate" must be one MQTT topic level/],
      [{ payload: 'А123ВС77', camera: 'c/1' }, /^"camera" must be one MQTT topic level/],
    ];
    for (const [input, reason] of cases) {
      const r = await checker.check(input);
      expect(r.output).toBe(3);
      expect(r.decision.decision).toBe('rejected');
      expect(r.decision.reason).toMatch(reason);
      expect(r.decision.gate).toBe('main');
      const ev = await eventsOf(hub).get((await r.recorded).eventId);
      expect(ev).toMatchObject({ decision: 'rejected' });
    }
    expect(normalizePlate('OR11')).not.toBeNull(); // what the junk would have become
  });
});
