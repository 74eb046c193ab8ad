/** diffMirror (keyed by plate, then list and house) gives exactly the diff of one key string per pass. */
import { diffMirror, diffMirrorKeyed, ListEntry, mirrorKey } from '../../src/core/eposelok-list';
import type { MirrorPass } from '../../src/core/contracts';

/** The reference: one `list \0 plate \0 house` key per pass (the earlier implementation, kept as diffMirror's fallback). */
const reference = diffMirrorKeyed;

/** A small deterministic generator (plates, lists and houses collide often). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function sample(seed: number, n: number, distinctIdentities: boolean): { current: MirrorPass[]; next: ListEntry[] } {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const plates = Array.from({ length: Math.max(3, Math.floor(n / 3)) }, (_, i) => `A${String(i).padStart(3, '0')}BC77`);
  const lists: ListEntry['list'][] = ['AllowedList1', 'AllowedList2'];
  const houses = ['', '1', '2', '3'];
  const raws = ['x', 'y'];
  const current: MirrorPass[] = [];
  const seen = new Set<string>();
  for (let i = 0; current.length < n && i < n * 10; i++) {
    const p: MirrorPass = { id: i + 1, list: pick(lists), canonical: pick(plates), raw: pick(raws), digits: null, house: pick(houses), firstSeen: 1, lastSeen: 1 };
    if (distinctIdentities && seen.has(mirrorKey(p))) continue;
    seen.add(mirrorKey(p));
    current.push(p);
  }
  const next: ListEntry[] = [];
  for (let i = 0; i < n; i++) next.push({ list: pick(lists), canonical: pick(plates), raw: pick(raws), digits: null, house: pick(houses) });
  return { current, next };
}

describe('diffMirror', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8])('random lists (seed %i): same diff as the keyed reference', (seed) => {
    for (const n of [0, 1, 5, 40, 300]) {
      const { current, next } = sample(seed * 101 + n, n, true);
      expect(diffMirror(current, next)).toEqual(reference(current, next));
      expect(diffMirror(current, [])).toEqual(reference(current, []));
      expect(diffMirror([], next)).toEqual(reference([], next));
    }
  });

  test('a current mirror holding the same identity twice: the reference rules (the last one counts)', () => {
    for (const seed of [11, 12, 13]) {
      const { current, next } = sample(seed, 200, false);
      expect(diffMirror(current, next)).toEqual(reference(current, next));
    }
  });

  test('the removed passes keep the mirror order; same pass objects', () => {
    const cur: MirrorPass[] = ['A001AA77', 'A002AA77', 'A001AA77', 'A003AA77'].map((c, i) => ({
      id: i + 1,
      list: 'AllowedList1',
      canonical: c,
      raw: c,
      digits: null,
      house: String(i),
      firstSeen: 1,
      lastSeen: 1,
    }));
    const d = diffMirror(cur, [{ list: 'AllowedList1', canonical: 'A001AA77', raw: 'A001AA77', digits: null, house: '2' }]);
    expect(d.removed).toEqual([cur[0], cur[1], cur[3]]);
    expect(d.removed[0]).toBe(cur[0]);
    expect(d.unchanged).toBe(1);
  });
});

describe('parseAllowedList duplicates', () => {
  test('one entry per (list, plate, house): several houses per plate, both lists, respelled plates', () => {
    const { parseAllowedList } = require('../../src/core/eposelok-list') as typeof import('../../src/core/eposelok-list');
    const r = rng(7);
    const plates = ['А123ВС77', 'A123BC77', 'a 123 bc 77', 'В456ОР199', 'B456OP199', 'Х001ХХ18'];
    const houses = ['1', '2', ' 2 ', '3', '', 4, 5];
    const doc = { AllowedList1: [] as unknown[], AllowedList2: [] as unknown[] };
    for (let i = 0; i < 400; i++) (r() < 0.5 ? doc.AllowedList1 : doc.AllowedList2).push({ Plate: plates[Math.floor(r() * plates.length)], Number: houses[Math.floor(r() * houses.length)] });
    const p = parseAllowedList(JSON.stringify(doc));
    if (!p.ok) throw new Error('parse');
    // the reference: first occurrence of each key string, in list order
    const keys = new Set<string>();
    const expected: string[] = [];
    for (const list of ['AllowedList1', 'AllowedList2'] as const) {
      for (const it of doc[list] as Array<{ Plate: string; Number: unknown }>) {
        const one = parseAllowedList(JSON.stringify({ [list]: [it] }));
        if (!one.ok) throw new Error('parse one');
        const k = mirrorKey({ list, canonical: one.entries[0].canonical, house: String(it.Number).trim() });
        if (keys.has(k)) continue;
        keys.add(k);
        expected.push(k);
      }
    }
    expect(p.entries.map(mirrorKey)).toEqual(expected);
    expect(p.duplicates).toBe(400 - expected.length);
    expect(p.entries.length).toBeLessThan(60);
  });
});
