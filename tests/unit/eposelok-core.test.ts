/** E-Poselok domain core: circuit breaker, list decoding/parsing, mirror diff and shrink rule. */
import { CircuitBreaker } from '../../src/core/breaker';
import { decodeBody, diffMirror, diffMirrorKeyed, parseAllowedList, suspiciousShrink, ListEntry } from '../../src/core/eposelok-list';
import { encodeWin1251 } from '../../src/emulators/eposelok';
import type { MirrorPass } from '../../src/core/contracts';

const clockAt = (t = { now: 1000 }) => ({ now: () => t.now, t });

describe('CircuitBreaker', () => {
  test('opens after N consecutive failures, refuses until the reset time, then lets one trial through', () => {
    const t = { now: 0 };
    const b = new CircuitBreaker({ now: () => t.now }, { failureThreshold: 3, resetMs: 30000 });
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.success(); // a success resets the count
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    t.now = 29999;
    expect(b.tryAcquire()).toBe(false);
    t.now = 30000;
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true); // the trial
    expect(b.tryAcquire()).toBe(false); // only one at a time
    b.failure(); // trial failed: open again for resetMs
    expect(b.state).toBe('open');
    expect(b.snapshot()).toMatchObject({ retryAt: 60000, opens: 2 });
    t.now = 60000;
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.snapshot().consecutiveFailures).toBe(0);
    expect(b.tryAcquire()).toBe(true);
  });

  test('bad options fall back to the defaults', () => {
    const b = new CircuitBreaker(clockAt(), { failureThreshold: NaN, resetMs: -5 });
    expect(b.failureThreshold).toBe(3);
    expect(b.resetMs).toBe(30000);
  });
});

describe('list body decoding and parsing', () => {
  const doc = { AllowedList1: [{ Number: '12А', Plate: 'А 123 ВС 77' }], AllowedList2: [{ Number: 7, Plate: 'b663kt777', Extra: { x: 1 }, Comment: 'гость' }] };

  test('UTF-8, UTF-8 with BOM and Windows-1251 bodies give the same entries', () => {
    const json = JSON.stringify(doc);
    const plain = parseAllowedList(Buffer.from(json, 'utf8'));
    const bom = parseAllowedList(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json, 'utf8')]));
    const cp = parseAllowedList(encodeWin1251(json));
    const declared = parseAllowedList(encodeWin1251(json), 'application/json; charset=windows-1251');
    const bomString = parseAllowedList('\uFEFF' + json);
    for (const r of [plain, bom, cp, declared, bomString]) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.entries).toEqual([
        { list: 'AllowedList1', canonical: 'A123BC77', raw: 'А 123 ВС 77', digits: '123', house: '12А' },
        { list: 'AllowedList2', canonical: 'B663KT777', raw: 'b663kt777', digits: '663', house: '7' },
      ]);
    }
    expect(plain.ok && plain.encoding).toBe('utf-8');
    expect(bom.ok && bom.encoding).toBe('utf-8-bom');
    expect(cp.ok && cp.encoding).toBe('windows-1251');
    expect(decodeBody(encodeWin1251('Проходная №1')).text).toBe('Проходная №1');
  });

  test('either list may be missing; a non-array list counts as missing', () => {
    const r = parseAllowedList(JSON.stringify({ AllowedList2: [{ Number: '1', Plate: 'X001XX18' }], AllowedList1: 'oops' }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.lists).toEqual({ AllowedList1: 'missing', AllowedList2: 1 });
    expect(r.entries.map((e) => e.canonical)).toEqual(['X001XX18']);
  });

  test('invalid items are counted and skipped, duplicates merged, the rest kept', () => {
    const r = parseAllowedList(
      JSON.stringify({
        AllowedList1: [
          null,
          5,
          ['x'],
          { Number: '1' },
          { Number: '2', Plate: '' },
          { Number: '3', Plate: '---' },
          { Number: '4', Plate: { a: 1 } },
          { Number: '5', Plate: 'Е001КХ18' },
          { Number: '5', Plate: 'E001KX18' },
        ],
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entries).toHaveLength(1);
    expect(r.duplicates).toBe(1);
    expect(r.invalid.map((i) => [i.index, i.reason])).toEqual([
      [0, 'item is not an object'],
      [1, 'item is not an object'],
      [2, 'item is not an object'],
      [3, 'no Plate'],
      [4, 'Plate is not a plate'],
      [5, 'Plate is not a plate'],
      [6, 'no Plate'],
    ]);
  });

  test.each([
    ['', 'empty-body'],
    ['   ', 'empty-body'],
    ['<html><head><title>502 Bad Gateway</title></head></html>', 'html'],
    ['{"AllowedList1": [ {"Number": "1", "Plate": ', 'not-json'],
    ['Internal error', 'not-json'],
    ['{"error":"no data"}', 'no-lists'],
    ['[1,2]', 'no-lists'],
    ['null', 'no-lists'],
    ['"text"', 'no-lists'],
  ])('unusable body %j → %s', (body, kind) => {
    const r = parseAllowedList(Buffer.from(body));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.kind).toBe(kind);
  });

  test('an HTML content type is refused even with a JSON-looking body', () => {
    const r = parseAllowedList('{"AllowedList1":[]}', 'text/html; charset=utf-8');
    expect(r.ok).toBe(false);
  });
});

describe('mirror diff and shrink rule', () => {
  const pass = (id: number, canonical: string, house = '1', list = 'AllowedList1', raw = canonical): MirrorPass => ({ id, list, canonical, raw, digits: null, house, firstSeen: 0, lastSeen: 0 });
  const entry = (canonical: string, house = '1', list: 'AllowedList1' | 'AllowedList2' = 'AllowedList1', raw = canonical): ListEntry => ({ list, canonical, raw, digits: null, house });

  test('added, removed, updated (raw text changed, or the plate moved to another house) and unchanged', () => {
    const cur = [pass(1, 'A111AA18'), pass(2, 'B222BB18'), pass(3, 'C333CC18', '2'), pass(4, 'E444EE18')];
    const next = [entry('A111AA18'), entry('B222BB18', '1', 'AllowedList1', 'В 222 ВВ 18'), entry('C333CC18', '3'), entry('K555KK18', '5', 'AllowedList2')];
    for (const d of [diffMirror(cur, next), diffMirrorKeyed(cur, next)]) {
      expect(d.unchanged).toBe(1);
      // C333CC18 moved from house 2 to house 3: an update of pass 3, not a removal
      expect(d.updated.map((u) => [u.pass.id, u.raw, u.house])).toEqual([
        [2, 'В 222 ВВ 18', undefined],
        [3, 'C333CC18', '3'],
      ]);
      expect(d.added.map((a) => `${a.canonical}/${a.house}`)).toEqual(['K555KK18/5']);
      expect(d.removed.map((r) => r.id).sort()).toEqual([4]);
      expect(d.total).toBe(4);
    }
  });

  test("a growing list holding the mirror's one plate under another house is no shrink", () => {
    const cur = [pass(1, 'A111AA18', '7')];
    const next = [entry('A111AA18', '8'), ...Array.from({ length: 19 }, (_, i) => entry(`K${100 + i}KK18`, String(i)))];
    const d = diffMirror(cur, next);
    expect(d.removed).toEqual([]);
    expect(d.updated).toEqual([{ pass: cur[0], raw: 'A111AA18', house: '8', list: 'AllowedList1' }]);
    expect(d.added).toHaveLength(19);
    expect(suspiciousShrink(1, d, 0.5)).toBeNull();
    // the plate really gone: a removal, held as before
    expect(suspiciousShrink(1, diffMirror(cur, next.slice(1)), 0.5)).toMatch(/1 of 1 passes \(100 %\)/);
  });

  test('more than the allowed share removed is suspicious; at the limit it is not; an empty mirror never is', () => {
    const cur = Array.from({ length: 10 }, (_, i) => pass(i + 1, `A${100 + i}AA18`));
    const keep = (n: number) =>
      diffMirror(
        cur,
        cur.slice(0, n).map((p) => entry(p.canonical)),
      );
    expect(suspiciousShrink(10, keep(5), 0.5)).toBeNull();
    expect(suspiciousShrink(10, keep(4), 0.5)).toMatch(/6 of 10 passes \(60 %\)/);
    expect(suspiciousShrink(10, keep(0), 0.5)).toMatch(/10 of 10/);
    expect(suspiciousShrink(10, keep(8), 0.1)).toMatch(/2 of 10/);
    expect(suspiciousShrink(0, diffMirror([], []), 0.5)).toBeNull();
  });
});
