/** diffMirror (keyed by plate, then list and house) gives exactly the diff of one key string per pass. */
import { diffMirror, ListEntry, MirrorDiff, mirrorKey } from '../../src/core/eposelok-list';
import type { MirrorPass } from '../../src/core/contracts';

/** The reference: one `list \0 plate \0 house` key per pass (the earlier implementation). */
function reference(current: readonly MirrorPass[], next: readonly ListEntry[]): MirrorDiff {
  const byKey = new Map<string, MirrorPass>();
  for (const p of current) byKey.set(mirrorKey(p), p);
  const added: ListEntry[] = [];
  const updated: Array<{ pass: MirrorPass; raw: string }> = [];
  let unchanged = 0;
  for (const e of next) {
    const key = mirrorKey(e);
    const old = byKey.get(key);
    if (!old) {
      added.push(e);
      continue;
    }
    byKey.delete(key);
    if (old.raw !== e.raw) updated.push({ pass: old, raw: e.raw });
    else unchanged++;
  }
  return { added, removed: [...byKey.values()], updated, unchanged, total: next.length };
}

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
    const cur: MirrorPass[] = ['A001AA77', 'A002AA77', 'A001AA77', 'A003AA77'].map((c, i) => ({ id: i + 1, list: 'AllowedList1', canonical: c, raw: c, digits: null, house: String(i), firstSeen: 1, lastSeen: 1 }));
    const d = diffMirror(cur, [{ list: 'AllowedList1', canonical: 'A001AA77', raw: 'A001AA77', digits: null, house: '2' }]);
    expect(d.removed).toEqual([cur[0], cur[1], cur[3]]);
    expect(d.removed[0]).toBe(cur[0]);
    expect(d.unchanged).toBe(1);
  });
});
