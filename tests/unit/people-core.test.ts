/** The pure rules of people at the wicket (src/core/people.ts): persons, QR tokens and decisions, face reports, matching, multi-factor. */
import { randomBytes } from 'crypto';
import {
  decideQr,
  descriptorDistance,
  isQrToken,
  matchFace,
  parseFaceReport,
  personRefusal,
  qrTextOf,
  qrTokenOf,
  QR_TOKEN_BYTES,
  readerOfTopic,
  secondFactorMet,
  validatePerson,
  validateQrPass,
  type QrTokenState,
} from '../../src/core/people';
import { mayPublish, maySubscribe } from '../../src/runtime/mqtt-acl';

const TZ = 'Europe/Moscow';
const NOW = Date.parse('2026-03-10T09:00:00Z');
const H = 3600_000;

const token = (over: Partial<QrTokenState> = {}): QrTokenState => ({
  id: 7,
  passId: null,
  personId: null,
  label: 'guest',
  accessPoints: [],
  validFrom: NOW - H,
  validTo: NOW + H,
  maxUses: 1,
  uses: 0,
  revokedAt: null,
  ...over,
});

describe('QR tokens', () => {
  test('a token carries at least 128 random bits and has one shape', () => {
    const a = qrTokenOf(randomBytes(QR_TOKEN_BYTES));
    const b = qrTokenOf(randomBytes(QR_TOKEN_BYTES));
    expect(a).not.toBe(b);
    expect(isQrToken(a)).toBe(true);
    expect(QR_TOKEN_BYTES * 8).toBeGreaterThanOrEqual(128);
    expect(() => qrTokenOf(randomBytes(8))).toThrow(/128/);
    for (const bad of ['', 'GPQ1.', 'GPQ1.short', `${a}x`, a.replace('GPQ1', 'GPQ2'), 'https://example.org/x']) expect(isQrToken(bad)).toBe(false);
  });

  const text = qrTokenOf(Buffer.alloc(QR_TOKEN_BYTES, 1));
  test.each([
    ['valid, unused, in time', token(), 'wicket', { ok: true }],
    ['used up (a replay)', token({ uses: 1 }), 'wicket', { ok: false, reason: 'used' }],
    ['three uses, two taken', token({ uses: 2, maxUses: 3 }), 'wicket', { ok: true }],
    ['expired', token({ validTo: NOW - 1 }), 'wicket', { ok: false, reason: 'expired' }],
    ['not yet valid', token({ validFrom: NOW + 1 }), 'wicket', { ok: false, reason: 'not yet valid' }],
    ['revoked', token({ revokedAt: NOW - 5 }), 'wicket', { ok: false, reason: 'revoked' }],
    ['another door', token({ accessPoints: ['main'] }), 'wicket', { ok: false, reason: 'wrong access point' }],
    ['its door', token({ accessPoints: ['main', 'wicket'] }), 'wicket', { ok: true }],
    ['its temporary pass cancelled', token({ passId: 3, pass: { cancelledAt: NOW - 1, validFrom: NOW - H, validTo: NOW + H } }), 'wicket', { ok: false, reason: 'pass cancelled' }],
    ['its temporary pass deleted', token({ passId: 3, pass: null }), 'wicket', { ok: false, reason: 'pass cancelled' }],
    ['its temporary pass extended: the pass validity applies', token({ passId: 3, validTo: NOW - 1, pass: { cancelledAt: null, validFrom: NOW - H, validTo: NOW + H } }), 'wicket', { ok: true }],
    ['its temporary pass ended', token({ passId: 3, pass: { cancelledAt: null, validFrom: NOW - 2 * H, validTo: NOW - 1 } }), 'wicket', { ok: false, reason: 'expired' }],
  ])('%s', (_name, state, ap, want) => {
    expect(decideQr(text, state as QrTokenState, ap as string, NOW)).toMatchObject(want as object);
  });

  test('foreign and malformed codes', () => {
    expect(decideQr('https://example.org/promo', undefined, 'wicket', NOW)).toMatchObject({ ok: false, reason: 'foreign' });
    expect(decideQr(text, undefined, 'wicket', NOW)).toMatchObject({ ok: false, reason: 'foreign', detail: 'unknown QR pass' });
    expect(decideQr('', undefined, 'wicket', NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(decideQr('x'.repeat(5000), undefined, 'wicket', NOW)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  test('reader payloads: text, Buffer, JSON; broken ones are errors, never throws', () => {
    expect(qrTextOf(' GPQ1.abc ')).toEqual({ ok: true, value: 'GPQ1.abc' });
    expect(qrTextOf(Buffer.from('hello'))).toEqual({ ok: true, value: 'hello' });
    expect(qrTextOf('{"text":"abc"}')).toEqual({ ok: true, value: 'abc' });
    expect(qrTextOf({ code: 'abc' })).toEqual({ ok: true, value: 'abc' });
    for (const bad of ['', '{"text":', '{"text": 5}', null, undefined, 42, [], { text: '' }, 'y'.repeat(3000), Buffer.from([0xff, 0xfe, 0x00]), 'a\u0000b']) expect(qrTextOf(bad).ok).toBe(false);
    expect(readerOfTopic('gatepost/qr/reader1', 'qr')).toBe('reader1');
    expect(readerOfTopic('gatepost/qr/a/b', 'qr')).toBeNull();
    expect(readerOfTopic('gatepost/face/cam', 'face')).toBe('cam');
    expect(readerOfTopic(5, 'qr')).toBeNull();
  });

  test('a new QR pass: default one use, today; bound to a temporary pass it takes its validity', () => {
    const v = validateQrPass({}, NOW, TZ);
    expect(v).toMatchObject({ ok: true, value: { maxUses: 1, validFrom: NOW } });
    if (v.ok) expect(v.value.validTo).toBeGreaterThan(NOW);
    expect(validateQrPass({ maxUses: 3, days: 2 }, NOW, TZ)).toMatchObject({ ok: true, value: { maxUses: 3 } });
    expect(validateQrPass({}, NOW, TZ, { validFrom: NOW - H, validTo: NOW + 5 * H })).toMatchObject({ ok: true, value: { validFrom: NOW - H, validTo: NOW + 5 * H } });
    for (const bad of [{ maxUses: 0 }, { maxUses: 1.5 }, { maxUses: 'x' }, { maxUses: 5000 }, { preset: 'never' }, { accessPoints: ['a/b'] }, { label: 'x'.repeat(300) }])
      expect(validateQrPass(bad, NOW, TZ).ok).toBe(false);
    expect(validateQrPass({}, NOW, TZ, { validFrom: NOW - 2 * H, validTo: NOW - H }).ok).toBe(false);
  });
});

describe('persons', () => {
  test('validation: name required, cards normalised and unique, access points, validity', () => {
    const v = validatePerson({ name: ' Иванов Иван ', unit: 'дом 12', cards: ['00123', ' ab7 ', '00123'], accessPoints: 'wicket, main', validTo: '2026-12-31' }, TZ);
    expect(v).toMatchObject({ ok: true, value: { name: 'Иванов Иван', unit: 'дом 12', cards: ['00123', 'AB7'], accessPoints: ['wicket', 'main'], validFrom: null } });
    if (v.ok) expect(new Date(v.value.validTo!).toISOString()).toBe('2026-12-31T20:59:59.999Z');
    for (const bad of [
      {},
      { name: '' },
      { name: 5 as unknown as string, cards: 'a;b' },
      { name: 'A', cards: ['x'.repeat(40)] },
      { name: 'A', validFrom: 'soon' },
      { name: 'A', validFrom: '2026-05-01', validTo: '2026-04-01' },
      { name: 'A', disabled: 'yes' },
      { name: 'A\u0000' },
    ]) {
      expect(validatePerson(bad as Record<string, unknown>, TZ).ok).toBe(false);
    }
    // an update changes only what it names
    if (v.ok) expect(validatePerson({ unit: 'дом 14' }, TZ, v.value)).toMatchObject({ ok: true, value: { name: 'Иванов Иван', unit: 'дом 14', cards: ['00123', 'AB7'] } });
  });

  test('refusals: disabled, validity, access points', () => {
    const p = { disabled: false, validFrom: NOW - H, validTo: NOW + H, accessPoints: ['wicket'] };
    expect(personRefusal(p, 'wicket', NOW)).toBeNull();
    expect(personRefusal({ ...p, disabled: true }, 'wicket', NOW)).toBe('person disabled');
    expect(personRefusal(p, 'main', NOW)).toBe('person not allowed at main');
    expect(personRefusal({ ...p, accessPoints: [] }, 'main', NOW)).toBeNull();
    expect(personRefusal(p, 'wicket', NOW + 2 * H)).toBe('person no longer valid');
    expect(personRefusal(p, 'wicket', NOW - 2 * H)).toBe('person not yet valid');
  });
});

describe('faces', () => {
  test('external reports: personId or name, confidence 0..1', () => {
    expect(parseFaceReport('{"personId": 12, "confidence": 0.93, "ts": 1700000000000}')).toEqual({ ok: true, value: { personId: '12', confidence: 0.93, ts: 1700000000000 } });
    expect(parseFaceReport({ name: 'Анна', confidence: 1 })).toMatchObject({ ok: true, value: { name: 'Анна' } });
    for (const bad of [
      'not json',
      '[]',
      '{}',
      '{"personId":1}',
      '{"personId":1,"confidence":1.5}',
      '{"name":"x","confidence":"high"}',
      '{"personId":{},"confidence":0.9}',
      '{"name":"x","confidence":0.9,"ts":"yesterday"}',
    ]) {
      expect(parseFaceReport(bad).ok).toBe(false);
    }
  });

  test('matching: nearest within the threshold; ambiguous or far is no match', () => {
    const v = (...x: number[]) => Float32Array.from([...x, ...new Array(128 - x.length).fill(0)]);
    expect(descriptorDistance(v(0, 0), v(3, 4))).toBeCloseTo(5);
    expect(descriptorDistance(v(1), new Float32Array(3))).toBe(Infinity);
    const enrolled = [
      { personId: 1, descriptor: v(0.1) },
      { personId: 1, descriptor: v(0.2) },
      { personId: 2, descriptor: v(1.0) },
    ];
    expect(matchFace(v(0.15), enrolled, 0.5)).toMatchObject({ personId: 1 });
    expect(matchFace(v(0.9), enrolled, 0.5)).toMatchObject({ personId: 2 });
    expect(matchFace(v(5), enrolled, 0.5)).toBeNull();
    expect(
      matchFace(
        v(0.6),
        [
          { personId: 1, descriptor: v(0.4) },
          { personId: 2, descriptor: v(0.8) },
        ],
        0.5,
      ),
    ).toBeNull();
    expect(matchFace(v(0), [], 0.5)).toBeNull();
  });

  test('second factor: the same person at this door within the window', () => {
    const f = [
      { kind: 'qr' as const, personId: 4, accessPoint: 'wicket', ts: NOW - 10_000 },
      { kind: 'card' as const, personId: 5, accessPoint: 'wicket', ts: NOW - 50_000 },
    ];
    expect(secondFactorMet('none', 9, 'wicket', [], NOW, 30_000)).toBe(true);
    expect(secondFactorMet('qr', 4, 'wicket', f, NOW, 30_000)).toBe(true);
    expect(secondFactorMet('card', 4, 'wicket', f, NOW, 30_000)).toBe(false);
    expect(secondFactorMet('qr-or-card', 4, 'wicket', f, NOW, 30_000)).toBe(true);
    expect(secondFactorMet('qr', 4, 'main', f, NOW, 30_000)).toBe(false);
    expect(secondFactorMet('card', 5, 'wicket', f, NOW, 30_000)).toBe(false);
    expect(secondFactorMet('card', 5, 'wicket', f, NOW, 60_000)).toBe(true);
    expect(secondFactorMet('qr', 9, 'wicket', f, NOW, 30_000)).toBe(false);
  });
});

describe('MQTT ACL for QR readers and face recognisers', () => {
  test('a camera-role account publishes its own QR / face topic only, never retained', () => {
    expect(mayPublish('camera', 'reader1', 'gatepost/qr/reader1')).toBe(true);
    expect(mayPublish('camera', 'cam-w', 'gatepost/face/cam-w')).toBe(true);
    expect(mayPublish('camera', 'reader1', 'gatepost/qr/reader2')).toBe(false);
    expect(mayPublish('camera', 'reader1', 'gatepost/face/cam-w')).toBe(false);
    expect(mayPublish('camera', 'reader1', 'gatepost/qr/reader1', true)).toBe(false);
    expect(mayPublish('admin', 'x', 'gatepost/face/cam', true)).toBe(false);
    expect(mayPublish('lpr', 'lpr', 'gatepost/qr/lpr')).toBe(false);
    expect(mayPublish('operator', 'ops', 'gatepost/qr/x')).toBe(false);
    expect(maySubscribe('operator', 'ops', 'gatepost/access/#')).toBe(true);
    expect(maySubscribe('camera', 'reader1', 'gatepost/access/#')).toBe(false);
  });
});
