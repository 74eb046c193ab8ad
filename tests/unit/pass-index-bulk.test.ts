/** The pass index's bulk paths (upsertMirrors, removeRefs, applyMirrorDiff) build the same index as the incremental ones. */
import { PassIndex } from '../../src/core/pass-index';
import { parseAllowedList } from '../../src/core/eposelok-list';
import { syntheticPasses } from '../../src/emulators/eposelok';
import { EXACT } from '../../src/core/match';
import { normalizePlate } from '../../src/core/plate';
import type { MirrorPass, TempPass } from '../../src/core/contracts';

const NOW = Date.parse('2024-06-10T12:00:00Z');

function mirrorPasses(n: number, seed: number, firstId = 1): MirrorPass[] {
  const parse = parseAllowedList(JSON.stringify(syntheticPasses(n, seed)));
  if (!parse.ok) throw new Error('parse');
  return parse.entries.map((e, i) => ({ id: firstId + i, ...e, firstSeen: 1, lastSeen: 1 }));
}

const temp = (id: number, canonical: string | null, digits: string | null): TempPass => ({
  id,
  kind: canonical ? 'plate' : 'digits',
  raw: canonical ?? digits ?? '',
  canonical,
  digits,
  house: '7',
  note: '',
  author: 'guard',
  createdAt: NOW - 1000,
  validFrom: NOW - 1000,
  validTo: NOW + 3600_000,
  cancelledAt: null,
  cancelledBy: null,
});

/** Every internal structure, in iteration order (the order decides search results at a limit). */
function snapshot(idx: PassIndex): unknown {
  // a key with one entry holds the entry itself, with more an array (pass-index.ts Multi)
  const refs = (l: any) => (Array.isArray(l) ? l : [l]).map((e: any) => e.ref);
  const side = (s: any) => ({
    byRef: [...s.byRef.keys()],
    byCanonical: [...s.byCanonical].map(([k, l]: [string, any]) => [k, refs(l)]).sort(),
    byRegionless: [...s.byRegionless].map(([k, l]: [string, any]) => [k, refs(l)]).sort(),
    byDigits: [...s.byDigits].map(([k, l]: [string, any]) => [k, refs(l)]).sort(),
    digitsOnly: [...s.digitsOnly].map(([k, l]: [string, any]) => [k, refs(l)]).sort(),
    entries: [...s.byRef.values()],
  });
  const i = idx as any;
  return {
    mirror: side(i.mirror),
    temp: side(i.temp),
    trigrams: [...i.trigrams].map(([g, l]: [string, any[]]) => [g, [...l].map((e) => e.ref)]).sort(),
  };
}

function queries(idx: PassIndex, plates: string[]): unknown {
  const out: unknown[] = [];
  for (const q of ['777', '123', '001', 'A00', 'AB', '77', 'B12', 'XX', 'AA7', ...plates.slice(0, 40).map((p) => p.slice(1, 6))]) {
    out.push(idx.search(q, 7, NOW).map((e) => e.ref));
    out.push(idx.search(q, 500, NOW, 'mirror').map((e) => e.ref));
  }
  const fuzzy = { ignoreRegion: true, maxEditDistance: 1 };
  const refOf = (m: ReturnType<PassIndex['match']>) => (m && 'entry' in m ? m.entry.ref : m);
  for (const c of plates.slice(0, 60)) {
    const p = normalizePlate(c)!;
    out.push(refOf(idx.match(p, EXACT, NOW)), refOf(idx.match(p, fuzzy, NOW)));
  }
  return out;
}

describe('pass index bulk paths', () => {
  test('upsertMirrors on an empty index = upsertMirror of each pass', () => {
    const passes = mirrorPasses(3000, 5);
    const a = new PassIndex();
    for (const p of passes) a.upsertMirror(p);
    const b = new PassIndex();
    b.upsertMirrors(passes);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(b.mirrorSize).toBe(3000);
    expect(
      queries(
        b,
        passes.map((p) => p.canonical),
      ),
    ).toEqual(
      queries(
        a,
        passes.map((p) => p.canonical),
      ),
    );
  });

  test('upsertMirrors over existing entries, repeated refs and texts with a repeated trigram', () => {
    const base = mirrorPasses(800, 9);
    const odd: MirrorPass[] = [
      { id: 5000, list: 'AllowedList1', canonical: 'AAA777', raw: 'AAA777', digits: null, house: '1', firstSeen: 1, lastSeen: 1 },
      { id: 5001, list: 'AllowedList2', canonical: 'A777777', raw: 'A777777', digits: null, house: '2', firstSeen: 1, lastSeen: 1 },
      { id: 5000, list: 'AllowedList1', canonical: 'AAA777', raw: 'aaa 777', digits: null, house: '1', firstSeen: 1, lastSeen: 2 },
    ];
    const again = base.slice(100, 300).map((p) => ({ ...p, raw: p.raw + ' ', lastSeen: 2 }));
    const batch = [...base.slice(400), ...odd, ...again, ...base.slice(10, 20)];
    const a = new PassIndex();
    const b = new PassIndex();
    for (const idx of [a, b]) {
      for (const p of base.slice(0, 400)) idx.upsertMirror(p);
      idx.upsertTemp(temp(1, 'A777AA777', '777'), NOW);
      idx.upsertTemp(temp(2, null, '123'), NOW);
    }
    for (const p of batch) a.upsertMirror(p);
    b.upsertMirrors(batch);
    expect(snapshot(b)).toEqual(snapshot(a));
    // an entry is in a trigram's postings once, even when the trigram repeats in its text
    const postings = [...((b as any).trigrams as Map<string, unknown[]>).values()];
    expect(postings.every((l) => new Set(l).size === l.length)).toBe(true);
    expect(((b as any).trigrams as Map<string, unknown[]>).get('777')!.filter((e: any) => e.ref === 'mirror:5001')).toHaveLength(1);
    expect(
      queries(
        b,
        batch.map((p) => p.canonical),
      ),
    ).toEqual(
      queries(
        a,
        batch.map((p) => p.canonical),
      ),
    );
  });

  test('removeRefs = removeRef of each (mirror and temporary refs, unknown refs ignored)', () => {
    const passes = mirrorPasses(2000, 3);
    const a = new PassIndex();
    const b = new PassIndex();
    for (const idx of [a, b]) {
      idx.upsertMirrors(passes);
      idx.upsertTemp(temp(1, 'A777AA777', '777'), NOW);
      idx.upsertTemp(temp(2, null, '123'), NOW);
    }
    const refs = ['temp:2', 'mirror:999999', ...passes.filter((_, i) => i % 3 === 0).map((p) => `mirror:${p.id}`), 'mirror:1', 'mirror:1'];
    let n = 0;
    for (const r of refs) if (a.removeRef(r)) n++;
    expect(b.removeRefs(refs)).toBe(n);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(
      queries(
        b,
        passes.map((p) => p.canonical),
      ),
    ).toEqual(
      queries(
        a,
        passes.map((p) => p.canonical),
      ),
    );
    // everything gone: no empty postings left behind
    a.removeRefs([...passes.map((p) => `mirror:${p.id}`), 'temp:1']);
    expect(a.mirrorSize + a.tempSize).toBe(0);
    expect((a as any).trigrams.size).toBe(0);
  });

  test('applyMirrorDiff = removeRef of the removed, then upsertMirror of the added, then of the updated', () => {
    const passes = mirrorPasses(3000, 7);
    const added = mirrorPasses(300, 70, 10_000);
    const removedIds = [...passes.filter((_, i) => i % 7 === 0).map((p) => p.id), 424242];
    const updated = passes.filter((_, i) => i % 11 === 1).map((p) => ({ ...p, raw: `${p.raw}!`, lastSeen: 2 }));
    // odd replays: an added pass that is also updated, an updated one not indexed, an updated one also removed
    added.push({ ...passes[1], raw: 'replayed' });
    updated.push({ ...added[0], raw: 'twice' }, { ...added[5], id: 77_777 }, { ...passes[0], raw: 'gone?' });
    const a = new PassIndex();
    const b = new PassIndex();
    for (const idx of [a, b]) {
      idx.upsertMirrors(passes);
      idx.upsertTemp(temp(1, passes[3].canonical, passes[3].digits), NOW);
    }
    for (const id of removedIds) a.removeRef(`mirror:${id}`);
    for (const p of added) a.upsertMirror(p);
    for (const p of updated) a.upsertMirror(p);
    b.applyMirrorDiff(added, removedIds, updated);
    expect(snapshot(b)).toEqual(snapshot(a));
    const plates = [...passes, ...added].map((p) => p.canonical);
    expect(queries(b, plates)).toEqual(queries(a, plates));
  });
});
