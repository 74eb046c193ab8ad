/** The one read-age rule (src/core/read-age.ts) and the QR reader payload with `ts` (qrReadOf). */
import { readAgeRefusal, readTsOf, DEFAULT_MAX_AGE_MS, MAX_AHEAD_MS } from '../../src/core/read-age';
import { qrReadOf, qrTextOf, qrPassText } from '../../src/core/people';

const NOW = Date.UTC(2026, 11, 2, 3, 0, 0);

test('readTsOf: epoch ms, epoch seconds, digit strings, ISO; absent → undefined; junk → null', () => {
  expect(readTsOf(NOW)).toBe(NOW);
  expect(readTsOf(NOW / 1000)).toBe(NOW);
  expect(readTsOf(String(NOW))).toBe(NOW);
  expect(readTsOf(new Date(NOW).toISOString())).toBe(NOW);
  for (const v of [undefined, null, '']) expect(readTsOf(v)).toBeUndefined();
  for (const v of ['yesterday', -5, 0, NaN, {}, [], true]) expect(readTsOf(v)).toBeNull();
});

test('readAgeRefusal: fresh passes; older than the limit is stale; far ahead is clock skew; the limit is inclusive', () => {
  expect(readAgeRefusal(undefined, NOW)).toBeNull();
  expect(readAgeRefusal(NOW - DEFAULT_MAX_AGE_MS, NOW)).toBeNull();
  expect(readAgeRefusal(NOW + MAX_AHEAD_MS, NOW)).toBeNull();
  expect(readAgeRefusal(NOW - DEFAULT_MAX_AGE_MS - 1, NOW)).toEqual({ kind: 'stale', reason: 'stale read: taken 30 s ago (max 30 s)' });
  expect(readAgeRefusal(NOW - 60_000, NOW, 10_000, 'QR read')).toEqual({ kind: 'stale', reason: 'stale QR read: taken 60 s ago (max 10 s)' });
  expect(readAgeRefusal(NOW + MAX_AHEAD_MS + 60_000, NOW, DEFAULT_MAX_AGE_MS, 'report')).toEqual({ kind: 'skew', reason: "clock skew: report time 360 s ahead of gatepost's clock" });
});

test('qrReadOf: text with an optional ts; a bad ts is rejected; qrTextOf keeps its answer', () => {
  expect(qrReadOf('GPQ1.abc')).toEqual({ ok: true, value: { text: 'GPQ1.abc' } });
  expect(qrReadOf(JSON.stringify({ text: 'GPQ1.abc', ts: NOW }))).toEqual({ ok: true, value: { text: 'GPQ1.abc', ts: NOW } });
  expect(qrReadOf({ code: 'x', ts: NOW / 1000 })).toEqual({ ok: true, value: { text: 'x', ts: NOW } });
  expect(qrReadOf({ text: 'x', ts: 'soon' })).toEqual({ ok: false, error: '"ts" must be epoch ms or an ISO time' });
  expect(qrTextOf(JSON.stringify({ text: 'abc', ts: NOW }))).toEqual({ ok: true, value: 'abc' });
});

test('qrPassText: validity, uses and doors, in Russian and English; never the token', () => {
  const q = { id: 7, label: 'Петров', validFrom: NOW, validTo: NOW + 86_400_000, maxUses: 2, accessPoints: [] as string[] };
  const when = (ts: number) => new Date(ts).toISOString().slice(0, 16);
  expect(qrPassText(q, 'ru', when)).toBe(
    '🎫 Гостевой пропуск №7: Петров\nДействует 2026-12-02T03:00 – 2026-12-03T03:00\nПроходов: 2\nДверь: любая дверь\nПокажите этот QR-код камере или считывателю у двери.',
  );
  expect(qrPassText({ ...q, label: '', accessPoints: ['wicket', 'main'] }, 'en', when)).toMatch(/^🎫 Guest pass #7\nValid .+\nEntries: 2\nDoor: wicket, main\n/);
});
