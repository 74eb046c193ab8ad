/** Validity in site time zones (DST and not), partial passes, the pass index, decision order, repeat window, LPR input. */
import { endOfLocalDay, extendedValidTo, parseTime, startOfLocalDay, validateTempPass, validityWindow } from '../../src/core/validity';
import { PassIndex } from '../../src/core/pass-index';
import { decideLocal, outcomeOfOnline, RepeatWindow } from '../../src/core/decision';
import { normalizePlate } from '../../src/core/plate';
import { parseLprInput, imageOf, cameraOfTopic, lprTopicOf, parseFallbackInput, fallbackReason, FALLBACK_MAX_AGE_MS } from '../../src/core/lpr-input';
import { policyFrom, EXACT } from '../../src/core/match';
import type { MirrorPass, TempPass } from '../../src/core/contracts';

const iso = (s: string) => Date.parse(s);
const at = (t: number) => new Date(t).toISOString();

describe('validity windows', () => {
  test('Moscow (no DST): a pass issued at 00:30 local is good until 23:59:59.999 that local day', () => {
    const issued = iso('2024-06-09T21:30:00Z'); // 00:30 MSK on 10 June
    const w = validityWindow({ preset: 'today' }, issued, 'Europe/Moscow');
    expect(w.ok && at(w.value.to)).toBe('2024-06-10T20:59:59.999Z');
    expect(w.ok && w.value.from).toBe(issued);
    // 23:59 local on the same day: still today
    expect(at(endOfLocalDay(iso('2024-06-10T20:59:00Z'), 'Europe/Moscow'))).toBe('2024-06-10T20:59:59.999Z');
    // 00:00 local next day: the next day
    expect(at(endOfLocalDay(iso('2024-06-10T21:00:00Z'), 'Europe/Moscow'))).toBe('2024-06-11T20:59:59.999Z');
  });

  test('Berlin spring forward (23 h day) and fall back (25 h day)', () => {
    const tz = 'Europe/Berlin';
    expect(at(endOfLocalDay(iso('2024-03-30T23:30:00Z'), tz))).toBe('2024-03-31T21:59:59.999Z'); // 00:30 CET → 23:59:59 CEST
    expect(endOfLocalDay(iso('2024-03-30T23:30:00Z'), tz) + 1 - startOfLocalDay(iso('2024-03-30T23:30:00Z'), tz)).toBe(23 * 3600000);
    expect(at(endOfLocalDay(iso('2024-10-26T22:30:00Z'), tz))).toBe('2024-10-27T22:59:59.999Z'); // 00:30 CEST → 23:59:59 CET
    expect(endOfLocalDay(iso('2024-10-27T12:00:00Z'), tz) + 1 - startOfLocalDay(iso('2024-10-27T12:00:00Z'), tz)).toBe(25 * 3600000);
    // 'days' across the change: 2 days from noon on 30 March end at 23:59:59 CEST on 31 March
    const w = validityWindow({ preset: 'days', days: 2 }, iso('2024-03-30T11:00:00Z'), tz);
    expect(w.ok && at(w.value.to)).toBe('2024-03-31T21:59:59.999Z');
  });

  test('New York: 23:30 on the evening before spring forward ends at local midnight', () => {
    expect(at(endOfLocalDay(iso('2024-03-10T04:30:00Z'), 'America/New_York'))).toBe('2024-03-10T04:59:59.999Z');
    expect(at(endOfLocalDay(iso('2024-03-10T05:00:00Z'), 'America/New_York'))).toBe('2024-03-11T03:59:59.999Z');
  });

  test('range: date-only and local times in the site zone; end before start refused', () => {
    const tz = 'Europe/Moscow';
    const now = iso('2024-06-10T09:00:00Z');
    const w = validityWindow({ preset: 'range', from: '2024-06-11', to: '2024-06-12' }, now, tz);
    expect(w.ok && [at(w.value.from), at(w.value.to)]).toEqual(['2024-06-10T21:00:00.000Z', '2024-06-12T20:59:59.999Z']);
    expect(parseTime('2024-06-11T08:30', tz)).toBe(iso('2024-06-11T05:30:00Z'));
    expect(parseTime('2024-06-11T08:30:00+03:00', tz)).toBe(iso('2024-06-11T05:30:00Z'));
    expect(parseTime('tomorrow', tz)).toBeNull();
    const bad = validityWindow({ preset: 'range', from: '2024-06-12', to: '2024-06-11' }, now, tz);
    expect(bad).toEqual({ ok: false, error: 'the validity window ends before it starts' });
    expect(validityWindow({ preset: 'days', days: 0 }, now, tz).ok).toBe(false);
    expect(validityWindow({ preset: 'weekly' }, now, tz).ok).toBe(false);
  });

  test('temporary pass validation: digits, plates and refusals', () => {
    const now = iso('2024-06-10T09:00:00Z');
    const tz = 'Europe/Moscow';
    const d = validateTempPass({ digits: '123', house: '12', preset: 'today' }, now, tz);
    expect(d.ok && d.value).toMatchObject({ kind: 'digits', digits: '123', canonical: null, house: '12' });
    const p3 = validateTempPass({ plate: '123' }, now, tz);
    expect(p3.ok && p3.value.kind).toBe('digits');
    const p = validateTempPass({ plate: 'а123вс77', note: 'гости' }, now, tz);
    expect(p.ok && p.value).toMatchObject({ kind: 'plate', canonical: 'A123BC77', digits: '123', note: 'гости' });
    for (const bad of [
      { digits: '12a' },
      { digits: '' },
      {},
      { digits: '12' },
      { digits: '1234' },
      { plate: '12a' },
      { plate: 'hello' },
      { plate: 'A123BC77', digits: '123' },
      { digits: '123', preset: 'range', from: '2024-06-12', to: '2024-06-11' },
      { digits: 123.5 },
      { plate: 'A123BC77', house: 'x'.repeat(300) },
    ]) {
      const v = validateTempPass(bad as any, now, tz);
      expect(v.ok).toBe(false);
      expect(!v.ok && v.error.length).toBeGreaterThan(5);
    }
  });

  test('extend: N more local days from the current end, or to a date; expired passes restart from today', () => {
    const tz = 'Europe/Moscow';
    const now = iso('2024-06-10T09:00:00Z');
    const cur = { validFrom: now, validTo: iso('2024-06-10T20:59:59.999Z') };
    const e1 = extendedValidTo(cur, { days: 1 }, now, tz);
    expect(e1.ok && at(e1.value)).toBe('2024-06-11T20:59:59.999Z');
    const e2 = extendedValidTo(cur, { to: '2024-06-20' }, now, tz);
    expect(e2.ok && at(e2.value)).toBe('2024-06-20T20:59:59.999Z');
    const expired = { validFrom: iso('2024-06-01T00:00:00Z'), validTo: iso('2024-06-05T20:59:59.999Z') };
    const e3 = extendedValidTo(expired, { days: 1 }, now, tz);
    expect(e3.ok && at(e3.value)).toBe('2024-06-10T20:59:59.999Z');
    expect(extendedValidTo(cur, { to: '2024-06-01' }, now, tz).ok).toBe(false);
    expect(extendedValidTo(cur, { days: -1 }, now, tz).ok).toBe(false);
  });
});

const mirror = (id: number, raw: string, house = '1', list = 'AllowedList1'): MirrorPass => {
  const p = normalizePlate(raw)!;
  return { id, list, canonical: p.canonical, raw, digits: p.digits, house, firstSeen: 0, lastSeen: 0 };
};
const temp = (id: number, o: Partial<TempPass> & { raw: string }, from: number, to: number): TempPass => {
  const p = o.kind === 'digits' ? null : normalizePlate(o.raw);
  return {
    id,
    kind: o.kind ?? 'plate',
    raw: o.raw,
    canonical: p?.canonical ?? null,
    digits: o.kind === 'digits' ? o.raw : (p?.digits ?? null),
    house: o.house ?? '7',
    note: '',
    author: 'guard',
    createdAt: from,
    validFrom: from,
    validTo: to,
    cancelledAt: o.cancelledAt ?? null,
    cancelledBy: null,
  };
};

describe('pass index and the local decision', () => {
  const now = iso('2024-06-10T09:00:00Z');
  const end = iso('2024-06-10T20:59:59.999Z');
  let idx: PassIndex;
  beforeEach(() => {
    idx = new PassIndex();
    idx.upsertMirror(mirror(1, 'А123ВС77', '10'));
    idx.upsertMirror(mirror(2, 'К555ММ799', '20', 'AllowedList2'));
    idx.upsertTemp(temp(1, { raw: '321', kind: 'digits', house: '30' }, now - 1000, end), now);
    idx.upsertTemp(temp(2, { raw: 'А123ВС77', house: '99' }, now - 1000, end), now);
    idx.upsertTemp(temp(3, { raw: 'Е777ЕЕ77' }, now + 3600000, end), now); // starts later today
  });

  test('mirror is checked before temporary passes; the matched pass is on the outcome', () => {
    const o = decideLocal(normalizePlate('a123bc77')!, idx, EXACT, now)!;
    expect(o).toMatchObject({ decision: 'allowed', source: 'mirror', policy: 'exact', house: '10', pass: { ref: 'mirror:1', kind: 'mirror', list: 'AllowedList1' } });
  });

  test('partial pass: the 3-digit number matches any letters and region, nothing else', () => {
    for (const raw of ['А321ВС77', 'К321ММ199', 'Х321ХХ01', 'АВ32177']) {
      expect(decideLocal(normalizePlate(raw)!, idx, EXACT, now)).toMatchObject({ source: 'temporary', house: '30', pass: { ref: 'temp:1', validTo: end } });
    }
    for (const raw of ['А322ВС77', 'АВ321477', '3210АВ77', 'А3210777']) expect(decideLocal(normalizePlate(raw)!, idx, EXACT, now)).toBeNull();
  });

  test('expired passes stop matching by themselves; not-yet-valid ones do not match yet', () => {
    const p = normalizePlate('А321ВС77')!;
    expect(decideLocal(p, idx, EXACT, end)).not.toBeNull();
    expect(decideLocal(p, idx, EXACT, end + 1)).toBeNull();
    expect(decideLocal(normalizePlate('Е777ЕЕ77')!, idx, EXACT, now)).toBeNull();
    expect(decideLocal(normalizePlate('Е777ЕЕ77')!, idx, EXACT, now + 3600000)).toMatchObject({ source: 'temporary' });
    expect(idx.sweep(end + 1)).toBe(3);
    expect(idx.tempSize).toBe(0);
  });

  test('cancelled passes leave the index', () => {
    idx.upsertTemp(temp(1, { raw: '321', kind: 'digits', cancelledAt: now }, now - 1000, end), now);
    expect(decideLocal(normalizePlate('А321ВС77')!, idx, EXACT, now)).toBeNull();
  });

  test('ignore-region and edit-distance policies are recorded when they matched', () => {
    const p = normalizePlate('А123ВС777')!;
    expect(decideLocal(p, idx, EXACT, now)).toBeNull();
    expect(decideLocal(p, idx, policyFrom({ policy: 'ignore-region' }), now)).toMatchObject({ policy: 'ignore-region', pass: { ref: 'mirror:1' } });
    const typo = normalizePlate('К555МН799')!;
    expect(decideLocal(typo, idx, EXACT, now)).toBeNull();
    expect(decideLocal(typo, idx, policyFrom({ policy: 'edit-distance', maxEditDistance: 1 }), now)).toMatchObject({ policy: 'edit-distance', pass: { ref: 'mirror:2' } });
    expect(decideLocal(normalizePlate('К556МН799')!, idx, policyFrom({ policy: 'edit-distance', maxEditDistance: 1 }), now)).toBeNull();
  });

  test('mirror changes replace and remove entries', () => {
    idx.upsertMirror({ ...mirror(1, 'А123ВС77'), house: '11' });
    expect(decideLocal(normalizePlate('А123ВС77')!, idx, EXACT, now)?.house).toBe('11');
    idx.removeRef('mirror:1');
    expect(decideLocal(normalizePlate('А123ВС77')!, idx, EXACT, now)).toMatchObject({ source: 'temporary', house: '99' });
  });

  test('search: digits, partial plate in either alphabet, active only, SQL-ish input harmless', () => {
    expect(idx.search('321', 50, now).map((e) => e.ref)).toEqual(['temp:1']);
    expect(
      idx
        .search('123', 50, now)
        .map((e) => e.ref)
        .sort(),
    ).toEqual(['mirror:1', 'temp:2']);
    expect(
      idx
        .search('вс7', 50, now)
        .map((e) => e.ref)
        .sort(),
    ).toEqual(['mirror:1', 'temp:2']);
    expect(idx.search('к5', 50, now).map((e) => e.ref)).toEqual(['mirror:2']);
    expect(idx.search('Е777', 50, now)).toEqual([]); // not valid yet
    expect(idx.search("' OR 1=1 --", 50, now)).toEqual([]);
    expect(idx.search('%', 50, now)).toEqual([]);
    expect(idx.search('7', 1, now)).toHaveLength(1);
  });
});

describe('online outcome and repeat window', () => {
  test('only an explicit allowed opens; errors and skips deny with the reason', () => {
    expect(outcomeOfOnline({ status: 'allowed', latencyMs: 5 })).toMatchObject({ decision: 'allowed', source: 'online' });
    expect(outcomeOfOnline({ status: 'denied', latencyMs: 5 })).toMatchObject({ decision: 'denied', source: 'none' });
    expect(outcomeOfOnline({ status: 'unavailable', latencyMs: 5, error: 'HTTP 502' }).reason).toContain('HTTP 502');
    expect(outcomeOfOnline({ status: 'skipped', latencyMs: 0, error: 'breaker open' })).toMatchObject({ decision: 'denied', reason: expect.stringContaining('breaker open') });
  });

  test('same plate at the same gate within the window is a repeat; the window is not extended by repeats', () => {
    const w = new RepeatWindow(15000);
    expect(w.check('main', 'A123BC77', 1000)).toBe(false);
    expect(w.check('main', 'A123BC77', 5000)).toBe(true);
    expect(w.check('side', 'A123BC77', 5000)).toBe(false);
    expect(w.check('main', 'A123BC77', 15999)).toBe(true);
    expect(w.check('main', 'A123BC77', 16000)).toBe(false); // decided again
    expect(w.check('main', 'A123BC77', 16001)).toBe(true);
  });
});

describe('LPR input parsing', () => {
  test('plain text, Buffer, JSON string and object', () => {
    expect(parseLprInput('b663kt777')).toEqual({ ok: true, value: { plate: 'b663kt777' } });
    expect(parseLprInput(Buffer.from('А123ВС77'))).toEqual({ ok: true, value: { plate: 'А123ВС77' } });
    expect(parseLprInput('{"plate":"A123BC77","confidence":0.93,"gate":"main","direction":"in","requestId":"r1","ts":1718000000}')).toEqual({
      ok: true,
      value: { plate: 'A123BC77', confidence: 0.93, gate: 'main', direction: 'entry', requestId: 'r1', ts: 1718000000000 },
    });
    expect(parseLprInput({ plate: 'A123BC77', confidence: 87 })).toEqual({ ok: true, value: { plate: 'A123BC77', confidence: 0.87 } });
  });

  test.each([
    ['', 'empty input'],
    ['   ', 'empty input'],
    [Buffer.from([0xff, 0xfe, 0x00, 0x41]), 'binary input (not UTF-8)'],
    ['A12\u00003BC', 'binary input (control characters)'],
    ['x'.repeat(70 * 1024), 'input over 64 KB'],
    ['{"plate": "A1', 'invalid JSON'],
    ['["A123BC77"]', 'wrong type: JSON payload must be an object, not an array'],
    ['"A123BC77"', 'wrong type: JSON payload must be an object, not string'],
    ['[A123BC77', 'invalid JSON'],
    ['{"plate": 5}', '"plate" must be a string'],
    [{ plate: 5 }, '"plate" must be a string'],
    [{ plate: 'A123BC77', gate: '+' }, '"gate" must be one MQTT topic level'],
    [{ plate: 'A123BC77', gate: 'a/#' }, '"gate" must be one MQTT topic level'],
    [{ plate: 'A123BC77', gate: 'a\u0000' }, '"gate" must be one MQTT topic level'],
    [{ plate: 'A123BC77', camera: 'x/y' }, '"camera" must be one MQTT topic level'],
    [{ plate: ['A'] }, '"plate" must be a string'],
    [{ nope: 1 }, 'JSON payload has no "plate"'],
    [{ plate: 'A123BC77', confidence: 'high' }, '"confidence" must be a number'],
    [{ plate: 'A123BC77', direction: 'up' }, '"direction" must be entry or exit'],
    [{ plate: 'A123BC77', gate: { x: 1 } }, '"gate" must be a short string'],
    [[1, 2], 'payload of type array'],
    [42, 'payload of type number'],
    [null, 'empty input'],
  ] as Array<[unknown, string]>)('%p is rejected (%s)', (payload, reason) => {
    const r = parseLprInput(payload);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
    expect(!r.ok && r.input.length).toBeLessThanOrEqual(300);
  });

  test('camera of topic and images', () => {
    expect(cameraOfTopic('gatepost/lpr/cam1')).toBe('cam1');
    expect(cameraOfTopic('other/cam1')).toBeUndefined();
    expect(imageOf('https://cam.local/snap/1.jpg')).toEqual({ kind: 'url', url: 'https://cam.local/snap/1.jpg' });
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    expect(imageOf('data:image/jpeg;base64,' + jpeg.toString('base64'))).toEqual({ kind: 'jpeg', bytes: jpeg });
    expect(imageOf(jpeg.toString('base64'))).toEqual({ kind: 'jpeg', bytes: jpeg });
    expect(imageOf('not an image').kind).toBe('invalid');
    expect(imageOf(Buffer.from('PNG....').toString('base64')).kind).toBe('invalid');
  });
});

describe('fallback passages (gatepost/lpr/<camera>/fallback)', () => {
  const NOW = iso('2024-06-21T17:00:00Z');
  const DAY = 86400000;
  /** the payload exactly as gatepost-lpr's deliverQueue builds it (undefined fields vanish in JSON) */
  const delivered = (over: Record<string, unknown> = {}, fallback: Record<string, unknown> = {}) =>
    JSON.stringify({
      plate: 'А123ВС77',
      ts: NOW - 2 * DAY,
      requestId: '5b2f9c8e-0d1e-4c55-9a0e-6f1d2f3a4b5c',
      gate: 'main',
      direction: undefined,
      confidence: 0.9,
      fallback: { decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok', latencyMs: 41.2, ...fallback },
      ...over,
    });

  test('topics: the fallback level is recognised, the camera is the same', () => {
    expect(lprTopicOf('gatepost/lpr/cam1')).toEqual({ camera: 'cam1', fallback: false });
    expect(lprTopicOf('gatepost/lpr/cam1/fallback')).toEqual({ camera: 'cam1', fallback: true });
    expect(cameraOfTopic('gatepost/lpr/cam1/fallback')).toBe('cam1');
    for (const t of ['gatepost/lpr/cam1/other', 'gatepost/lpr//fallback', 'gatepost/lpr/cam1/fallback/x', 'x/gatepost/lpr/cam1', 42]) expect(lprTopicOf(t)).toBeUndefined();
  });

  test("gatepost-lpr's payload: plate fields, requestId, original ts and the decision taken", () => {
    const r = parseFallbackInput(delivered(), NOW);
    expect(r).toEqual({
      ok: true,
      value: {
        plate: 'А123ВС77',
        ts: NOW - 2 * DAY,
        requestId: '5b2f9c8e-0d1e-4c55-9a0e-6f1d2f3a4b5c',
        gate: 'main',
        confidence: 0.9,
        fallback: { decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok', latencyMs: 41.2 },
      },
    });
    // a Buffer (mqtt in) and an object (a flow) read the same
    expect(parseFallbackInput(Buffer.from(delivered()), NOW)).toEqual(r);
    expect(parseFallbackInput(JSON.parse(delivered()), NOW)).toEqual(r);
    // denied and rejected passages, without relay or latency
    const d = parseFallbackInput(delivered({}, { decision: 'denied', source: 'none', reason: 'fallback: E-Poselok unavailable: timeout', relay: undefined, latencyMs: undefined }), NOW);
    expect(d.ok && d.value.fallback).toEqual({ decision: 'denied', source: 'none', reason: 'fallback: E-Poselok unavailable: timeout' });
    const x = parseFallbackInput(delivered({}, { decision: 'rejected', source: 'none', reason: 'fallback not configured: no E-Poselok name' }), NOW);
    expect(x.ok && x.value.fallback.decision).toBe('rejected');
  });

  test('ts: days old is accepted; older than the limit or ahead of now by more than 5 min is refused', () => {
    expect(parseFallbackInput(delivered({ ts: NOW - FALLBACK_MAX_AGE_MS + 1000 }), NOW).ok).toBe(true);
    expect(parseFallbackInput(delivered({ ts: NOW + 4 * 60000 }), NOW).ok).toBe(true);
    expect(parseFallbackInput(delivered({ ts: Math.floor((NOW - DAY) / 1000) }), NOW)).toMatchObject({ ok: true, value: { ts: Math.floor((NOW - DAY) / 1000) * 1000 } }); // epoch seconds
    expect(parseFallbackInput(delivered({ ts: NOW - FALLBACK_MAX_AGE_MS - 1000 }), NOW)).toMatchObject({ ok: false, reason: 'fallback refused: "ts" is older than 30 days' });
    expect(parseFallbackInput(delivered({ ts: NOW + 6 * 60000 }), NOW)).toMatchObject({ ok: false, reason: 'fallback refused: "ts" is in the future' });
  });

  test.each([
    [{ requestId: undefined }, {}, 'fallback refused: no "requestId"'],
    [{ requestId: '' }, {}, 'fallback refused: no "requestId"'],
    [{ ts: undefined }, {}, 'fallback refused: no "ts"'],
    [{ fallback: undefined }, {}, 'fallback refused: no "fallback" object'],
    [{ fallback: 'allowed' }, {}, 'fallback refused: "fallback" must be an object'],
    [{ fallback: ['allowed'] }, {}, 'fallback refused: "fallback" must be an object'],
    [{}, { decision: 'repeat' }, 'fallback refused: "fallback.decision" must be allowed, denied or rejected'],
    [{}, { decision: undefined }, 'fallback refused: "fallback.decision" must be allowed, denied or rejected'],
    [{}, { source: 'mirror' }, 'fallback refused: "fallback.source" must be online or none'],
    [{}, { source: 'none' }, 'fallback refused: an allowed fallback passage must have "fallback.source" online'],
    [{}, { reason: 42 }, 'fallback refused: "fallback.reason" must be a short string'],
    [{}, { relay: 'x'.repeat(300) }, 'fallback refused: "fallback.relay" must be a short string'],
    [{}, { latencyMs: -1 }, 'fallback refused: "fallback.latencyMs" must be a number ≥ 0'],
    [{}, { latencyMs: '41' }, 'fallback refused: "fallback.latencyMs" must be a number ≥ 0'],
    [{ plate: ['A'] }, {}, 'fallback refused: "plate" must be a string'],
    [{ confidence: 'high' }, {}, 'fallback refused: "confidence" must be a number'],
  ] as Array<[Record<string, unknown>, Record<string, unknown>, string]>)('%p %p is refused (%s)', (over, fallback, reason) => {
    const r = parseFallbackInput(delivered(over, fallback), NOW);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
    expect(!r.ok && r.input.length).toBeLessThanOrEqual(300);
  });

  test('not JSON at all is refused with the reason of a bad plate message', () => {
    expect(parseFallbackInput('А123ВС77', NOW)).toMatchObject({ ok: false, reason: 'fallback refused: payload must be a JSON object', input: 'А123ВС77' });
    expect(parseFallbackInput('{"plate":', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^fallback refused: invalid JSON/) });
    expect(parseFallbackInput(Buffer.from([0xff, 0x00]), NOW)).toMatchObject({ ok: false, reason: 'fallback refused: binary input (not UTF-8)' });
    expect(parseFallbackInput(undefined, NOW)).toMatchObject({ ok: false, reason: 'fallback refused: empty input' });
  });

  test('recorded reason: one "fallback: " prefix, the relay result kept', () => {
    expect(fallbackReason({ decision: 'allowed', source: 'online', reason: 'fallback: E-Poselok allowed', relay: 'ok' })).toBe('fallback: E-Poselok allowed (relay ok)');
    expect(fallbackReason({ decision: 'allowed', source: 'online', reason: 'E-Poselok allowed', relay: 'error: timeout' })).toBe('fallback: E-Poselok allowed (relay error: timeout)');
    expect(fallbackReason({ decision: 'denied', source: 'online', reason: 'fallback: E-Poselok denied' })).toBe('fallback: E-Poselok denied');
    expect(fallbackReason({ decision: 'rejected', source: 'none', reason: 'fallback not configured: x' })).toBe('fallback: not configured: x');
    expect(fallbackReason({ decision: 'denied', source: 'none', reason: '' })).toBe('fallback: denied');
  });

  test('the plate parser itself is unchanged: a fallback field on a plain plate topic is not a decision', () => {
    expect(parseLprInput(delivered())).toMatchObject({ ok: true, value: { plate: 'А123ВС77', requestId: '5b2f9c8e-0d1e-4c55-9a0e-6f1d2f3a4b5c' } });
    expect((parseLprInput(delivered()) as any).value.fallback).toBeUndefined();
  });
});
