/**
 * The mirror diff applied to the pass index in steps (issue 17: no long stall during a sync):
 * after every single step, no removed pass matches (exact, without region, by edit distance) or
 * shows in search, every pass kept or updated still matches, and the end state is exactly the
 * one-block applyMirrorDiff's. Also the sliced parse and diff give the one-block results.
 */
import { PassIndex } from '../../src/core/pass-index';
import { diffMirror, diffMirrorSteps, parseAllowedList, parseAllowedListSteps } from '../../src/core/eposelok-list';
import { runSliced, runSteps } from '../../src/core/steps';
import { syntheticPasses } from '../../src/emulators/eposelok';
import { EXACT } from '../../src/core/match';
import { normalizePlate } from '../../src/core/plate';
import type { MirrorPass } from '../../src/core/contracts';

const NOW = Date.parse('2024-06-10T12:00:00Z');
const FUZZY = { ignoreRegion: true, maxEditDistance: 1 };

function mirrorPasses(n: number, seed: number, firstId = 1): MirrorPass[] {
  const parse = parseAllowedList(JSON.stringify(syntheticPasses(n, seed)));
  if (!parse.ok) throw new Error('parse');
  return parse.entries.map((e, i) => ({ id: firstId + i, ...e, firstSeen: 1, lastSeen: 1 }));
}

const matchedRef = (idx: PassIndex, canonical: string, policy = EXACT): string | null => {
  const m = idx.match(normalizePlate(canonical)!, policy, NOW);
  return m && 'entry' in m ? m.entry.ref : null;
};

describe('mirror diff in steps', () => {
  test('after every step: removed passes never match, kept and updated ones always do; end = applyMirrorDiff', () => {
    const passes = mirrorPasses(4000, 3);
    const taken = new Set(passes.map((p) => p.canonical));
    const removed = passes.filter((_, i) => i % 3 === 0);
    const removedIds = removed.map((p) => p.id);
    const removedPlates = new Set(removed.map((p) => p.canonical));
    const updated = passes.filter((_, i) => i % 5 === 1 && i % 3 !== 0).map((p) => ({ ...p, raw: `${p.raw} `, house: `${p.house}b`, lastSeen: 2 }));
    // new passes, one of them reusing the largest removed id (sqlite's MAX(id) + 1 after the delete)
    const added = mirrorPasses(1500, 99, 50_000).filter((p) => !taken.has(p.canonical));
    added[0] = { ...added[0], id: Math.max(...removedIds) };
    const kept = passes.filter((p) => !removedPlates.has(p.canonical));

    const reference = new PassIndex();
    reference.upsertMirrors(passes);
    reference.applyMirrorDiff(added, removedIds, updated);

    const idx = new PassIndex();
    idx.upsertMirrors(passes);
    const revoked = idx.revokeMirror(removedIds);
    // at once: no removed pass matches any more, before a single step ran
    const check = (stage: string) => {
      for (const p of removed) if (matchedRef(idx, p.canonical) !== null) throw new Error(`${stage}: removed ${p.canonical} matched`);
      // the edit-distance scan (every pass) for a sample: never a removed entry
      for (const p of removed.slice(0, 60)) {
        const r = matchedRef(idx, p.canonical, FUZZY);
        if (r !== null && removedIds.includes(Number(r.slice(7))) && r !== `mirror:${added[0].id}`) throw new Error(`${stage}: removed ${p.canonical} matched ${r} by edit distance`);
      }
      for (const p of kept) if (matchedRef(idx, p.canonical) !== `mirror:${p.id}`) throw new Error(`${stage}: kept ${p.canonical} not matched`);
      for (const e of idx.search(removed[0].canonical.slice(1, 6), 500, NOW)) expect(removedPlates.has(e.canonical!) && e.ref !== `mirror:${added[0].id}`).toBe(false);
    };
    check('revoked');
    const steps = idx.mirrorDiffSteps(added, removedIds, updated, revoked);
    let n = 0;
    for (;;) {
      const r = steps.next();
      n++;
      check(`step ${n}`);
      if (r.done) break;
    }
    expect(n).toBeGreaterThan(5); // it really ran in several steps
    // the end state: the one-block result, the new passes (the reused id included) match
    expect(idx.mirrorSize).toBe(reference.mirrorSize);
    for (const p of added) expect(matchedRef(idx, p.canonical)).toBe(`mirror:${p.id}`);
    for (const p of updated) expect(idx.match(normalizePlate(p.canonical)!, EXACT, NOW)).toMatchObject({ entry: { ref: `mirror:${p.id}`, house: p.house, raw: p.raw } });
    const plates = [...passes, ...added].map((p) => p.canonical);
    for (const c of plates) expect(matchedRef(idx, c, FUZZY)).toBe(matchedRef(reference, c, FUZZY));
    for (const q of ['777', '123', 'A00', 'B12', ...plates.slice(0, 30).map((p) => p.slice(1, 6))]) {
      expect(idx.search(q, 500, NOW).map((e) => e.ref)).toEqual(reference.search(q, 500, NOW).map((e) => e.ref));
    }
  });

  test('two diffs announced back to back: the second one’s removals are revoked at once too', async () => {
    const passes = mirrorPasses(3000, 4);
    const idx = new PassIndex();
    idx.upsertMirrors(passes);
    const first = passes.slice(0, 1000).map((p) => p.id);
    const second = passes.slice(1000, 2000).map((p) => p.id);
    const r1 = idx.revokeMirror(first);
    const a1 = runSliced(idx.mirrorDiffSteps([], first, [], r1), 0);
    const r2 = idx.revokeMirror(second);
    for (const p of passes.slice(0, 2000)) expect(matchedRef(idx, p.canonical)).toBeNull();
    await a1;
    await runSliced(idx.mirrorDiffSteps([], second, [], r2), 0);
    expect(idx.mirrorSize).toBe(1000);
    for (const p of passes.slice(2000)) expect(matchedRef(idx, p.canonical)).toBe(`mirror:${p.id}`);
    expect((idx as any).revoked).toEqual([]);
  });

  test('sliced parse and diff = the one-block ones', async () => {
    const body = JSON.stringify(syntheticPasses(6000, 12));
    const whole = parseAllowedList(body);
    const sliced = await runSliced(parseAllowedListSteps(body), 0);
    expect(sliced).toEqual(whole);
    if (!whole.ok) throw new Error('parse');
    const current = mirrorPasses(5000, 12).filter((_, i) => i % 4 !== 0);
    const next = whole.entries.filter((_, i) => i % 7 !== 0).map((e, i) => (i % 9 === 0 ? { ...e, raw: `${e.raw}.` } : e));
    const d = diffMirror(current, next);
    expect(d.added.length + d.removed.length + d.updated.length).toBeGreaterThan(100);
    expect(await runSliced(diffMirrorSteps(current, next), 0)).toEqual(d);
    expect(runSteps(diffMirrorSteps(current, next))).toEqual(d);
  });
});
