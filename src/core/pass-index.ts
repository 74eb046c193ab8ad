/**
 * In-memory index of the active passes (E-Poselok mirror + temporary passes): synchronous
 * lookups for the decision hot path and fast search for the dashboard. Pure TypeScript; the
 * passes service keeps it in step with sqlite.
 *
 * Lookups: by canonical plate, by plate without region, by the 3-digit number (digits-only
 * temporary passes), and a bounded edit-distance scan. Search: by digits bucket and by
 * trigram postings with an early stop at the limit.
 */
import type { MatchPolicy, MatchPolicyName, MirrorPass, Plate, TempPass } from './contracts';
import { editDistance, withinOneEdit } from './match';
import { normalizePlate, normalizeQuery, withoutRegion } from './plate';
import { runSteps, Steps } from './steps';

/** passes handled between two yields of `mirrorDiffSteps` */
const DIFF_STEP = 500;

export interface PassEntry {
  /** 'mirror:<id>' | 'temp:<id>' */
  ref: string;
  source: 'mirror' | 'temporary';
  id: number;
  canonical: string | null;
  regionless: string | null;
  digits: string | null;
  raw: string;
  house: string;
  list?: string;
  kind?: 'plate' | 'digits';
  validFrom?: number;
  validTo?: number;
  note?: string;
  author?: string;
  /** the searchable text: the canonical plate, or the digits of a digits-only pass */
  text: string;
}

/** Under the edit-distance policy: two or more different plates within the distance. */
export interface PassAmbiguity {
  ambiguous: string[];
  distance: number;
}

export interface PassMatch {
  entry: PassEntry;
  policy: MatchPolicyName;
  /** human-readable how: 'exact', 'ignore-region', 'edit-distance 1', 'digits' */
  how: string;
}

/**
 * key → the entries under it. Most keys (a canonical plate, a plate without region) have one
 * entry: it is stored as itself, an array only from the second on (an array per entry is ~56
 * bytes; with 100k passes and two such maps that is ~11 MB of the index).
 */
type Multi = Map<string, PassEntry | PassEntry[]>;
const NONE: readonly PassEntry[] = [];
/** The entries under a key, in the order they were put (never mutate the result). */
function listOf(m: Multi, key: string | null | undefined): readonly PassEntry[] {
  const v = key ? m.get(key) : undefined;
  return v === undefined ? NONE : Array.isArray(v) ? v : [v];
}
function put(m: Multi, key: string | null, e: PassEntry): void {
  if (!key) return;
  const v = m.get(key);
  if (v === undefined) m.set(key, e);
  else if (Array.isArray(v)) v.push(e);
  else m.set(key, [v, e]);
}
function drop(m: Multi, key: string | null, e: PassEntry): void {
  if (!key) return;
  const v = m.get(key);
  if (v === undefined) return;
  if (!Array.isArray(v)) {
    if (v === e) m.delete(key);
    return;
  }
  const i = v.indexOf(e);
  if (i >= 0) v.splice(i, 1);
  if (!v.length) m.delete(key);
  else if (v.length === 1) m.set(key, v[0]);
}

function grams(text: string): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 3 <= text.length; i++) out.add(text.slice(i, i + 3));
  return out;
}

/**
 * One copy of each short repeated text (list names, houses, 3-digit numbers): every sqlite row
 * brings its own copy, 100k passes hold only a few thousand distinct values. Bounded: when it
 * holds `max` texts it starts over (a later copy is then only not shared).
 */
export class Interner {
  private texts = new Map<string, string>();
  constructor(private readonly max = 50_000) {}
  of<T extends string | null | undefined>(s: T): T {
    if (typeof s !== 'string' || s.length > 32) return s;
    const have = this.texts.get(s);
    if (have !== undefined) return have as T;
    if (this.texts.size >= this.max) this.texts.clear();
    this.texts.set(s, s);
    return s;
  }
}
const noIntern = { of: <T>(s: T): T => s };

export function mirrorEntry(p: MirrorPass, strings: Pick<Interner, 'of'> = noIntern): PassEntry {
  const plate = normalizePlate(p.canonical);
  return {
    ref: `mirror:${p.id}`,
    source: 'mirror',
    id: p.id,
    canonical: p.canonical,
    regionless: plate ? withoutRegion(plate) : null,
    digits: strings.of(p.digits),
    // most raw texts are the canonical plate: keep one string
    raw: p.raw === p.canonical ? p.canonical : p.raw,
    house: strings.of(p.house),
    list: strings.of(p.list),
    text: p.canonical,
  };
}

export function tempEntry(p: TempPass): PassEntry {
  const plate = p.canonical ? normalizePlate(p.canonical) : null;
  return {
    ref: `temp:${p.id}`,
    source: 'temporary',
    id: p.id,
    kind: p.kind,
    canonical: p.canonical,
    regionless: plate ? withoutRegion(plate) : null,
    digits: p.digits,
    raw: p.raw,
    house: p.house,
    validFrom: p.validFrom,
    validTo: p.validTo,
    note: p.note,
    author: p.author,
    text: p.canonical ?? p.digits ?? '',
  };
}

class Side {
  readonly byRef = new Map<string, PassEntry>();
  readonly byCanonical: Multi = new Map();
  readonly byRegionless: Multi = new Map();
  readonly byDigits: Multi = new Map();
  /** digits-only passes (temporary) */
  readonly digitsOnly: Multi = new Map();

  add(e: PassEntry): void {
    this.byRef.set(e.ref, e);
    put(this.byCanonical, e.canonical, e);
    put(this.byRegionless, e.regionless, e);
    put(this.byDigits, e.digits, e);
    if (e.kind === 'digits') put(this.digitsOnly, e.digits, e);
  }
  remove(e: PassEntry): void {
    this.byRef.delete(e.ref);
    drop(this.byCanonical, e.canonical, e);
    drop(this.byRegionless, e.regionless, e);
    drop(this.byDigits, e.digits, e);
    if (e.kind === 'digits') drop(this.digitsOnly, e.digits, e);
  }
}

export class PassIndex {
  private mirror = new Side();
  private temp = new Side();
  /**
   * Trigram postings: the entries whose text holds the trigram, each once, in the order they
   * were indexed (arrays: a bulk load only pushes; removals keep the order of the others).
   */
  private trigrams = new Map<string, PassEntry[]>();
  private readonly strings = new Interner();
  /**
   * Mirror pass ids removed by a committed diff whose index update is still running (in slices):
   * their entries no longer match nor show in search, from the moment the diff is announced.
   */
  private revoked: Array<ReadonlySet<number>> = [];

  get mirrorSize(): number {
    return this.mirror.byRef.size;
  }
  get tempSize(): number {
    return this.temp.byRef.size;
  }

  /** Is the entry usable now (mirror: always; temporary: inside its window). */
  static isActive(e: PassEntry, now: number): boolean {
    return e.source === 'mirror' || ((e.validFrom ?? 0) <= now && now <= (e.validTo ?? 0));
  }

  private addGrams(e: PassEntry): void {
    const text = e.text;
    for (let i = 0; i + 3 <= text.length; i++) {
      const g = text.slice(i, i + 3);
      const list = this.trigrams.get(g);
      if (!list) this.trigrams.set(g, [e]);
      // a trigram repeated in the text: e was pushed by this call, so it is the last one
      else if (list[list.length - 1] !== e) list.push(e);
    }
  }
  private dropGrams(e: PassEntry): void {
    const text = e.text;
    for (let i = 0; i + 3 <= text.length; i++) {
      const g = text.slice(i, i + 3);
      const list = this.trigrams.get(g);
      if (!list) continue;
      const at = list.indexOf(e);
      if (at < 0) continue;
      if (list.length === 1) this.trigrams.delete(g);
      else list.splice(at, 1);
    }
  }
  /** dropGrams for many entries: every touched postings list is filtered once. */
  private dropGramsOfMany(gone: ReadonlySet<PassEntry>): void {
    const touched = new Set<string>();
    for (const e of gone) for (let i = 0; i + 3 <= e.text.length; i++) touched.add(e.text.slice(i, i + 3));
    for (const g of touched) {
      const list = this.trigrams.get(g);
      if (!list) continue;
      const kept = list.filter((x) => !gone.has(x));
      if (kept.length) this.trigrams.set(g, kept);
      else this.trigrams.delete(g);
    }
  }

  /** isActive, and not a mirror pass removed by a diff still being applied. */
  private live(e: PassEntry, now: number): boolean {
    if (e.source === 'mirror') {
      for (const r of this.revoked) if (r.has(e.id)) return false;
      return true;
    }
    return PassIndex.isActive(e, now);
  }

  private side(e: PassEntry): Side {
    return e.source === 'mirror' ? this.mirror : this.temp;
  }

  /** Adds or replaces (same ref) an entry. */
  upsert(e: PassEntry): void {
    this.removeRef(e.ref);
    this.side(e).add(e);
    this.addGrams(e);
  }

  removeRef(ref: string): boolean {
    const side = ref.startsWith('mirror:') ? this.mirror : this.temp;
    const old = side.byRef.get(ref);
    if (!old) return false;
    side.remove(old);
    this.dropGrams(old);
    return true;
  }

  /** removeRef of each ref (the same index afterwards); returns how many were indexed. */
  removeRefs(refs: Iterable<string>): number {
    const gone = new Set<PassEntry>();
    for (const ref of refs) {
      const side = ref.startsWith('mirror:') ? this.mirror : this.temp;
      const old = side.byRef.get(ref);
      if (!old) continue;
      side.remove(old);
      gone.add(old);
    }
    if (gone.size) this.dropGramsOfMany(gone);
    return gone.size;
  }

  upsertMirror(p: MirrorPass): void {
    this.upsert(mirrorEntry(p, this.strings));
  }

  /**
   * `upsertMirror` of each pass in order (the same index afterwards). A pass whose ref is not
   * indexed yet is only added (nothing to remove first): on an empty mirror side (the load at
   * start, the first sync) that is every pass.
   */
  upsertMirrors(passes: readonly MirrorPass[]): void {
    const side = this.mirror;
    for (const p of passes) {
      const e = mirrorEntry(p, this.strings);
      if (side.byRef.has(e.ref)) this.upsert(e);
      else {
        side.add(e);
        this.addGrams(e);
      }
    }
  }

  /**
   * A committed mirror diff; the same index as, in this order, `removeRef` of every removed id,
   * `upsertMirror` of every added pass, then of every updated pass. (The updated passes' old
   * entries are dropped together with the removed ones: the updated passes are appended after
   * the added ones either way.)
   */
  applyMirrorDiff(added: readonly MirrorPass[], removedIds: readonly number[], updated: readonly MirrorPass[]): void {
    runSteps(this.mirrorDiffSteps(added, removedIds, updated, this.revokeMirror(removedIds)));
  }

  /**
   * The first half of a committed mirror diff, at once: the removed passes stop matching (and
   * showing in search) now. Pass the result to `mirrorDiffSteps`, which lifts it when their
   * entries are gone.
   */
  revokeMirror(removedIds: readonly number[]): ReadonlySet<number> {
    const ids = new Set(removedIds);
    if (ids.size) this.revoked.push(ids);
    return ids;
  }

  /**
   * `applyMirrorDiff` in steps (run with `runSliced`: a sync of 100k changes never holds the
   * event loop for long), after `revokeMirror(removedIds)`. At every step a lookup sees either
   * the old entry of a pass or its new one, never a wrong one: removed passes are revoked from
   * the start and their entries removed first; added passes appear one by one (a plate just
   * listed may be refused until its step ran, as before the sync); an updated pass (same plate,
   * new text / house / list) is replaced in one step.
   */
  *mirrorDiffSteps(added: readonly MirrorPass[], removedIds: readonly number[], updated: readonly MirrorPass[], revoked: ReadonlySet<number>): Steps<void> {
    try {
      // off the lookup maps first (cheap), then each trigram postings list touched is filtered
      // once (search hides the revoked entries meanwhile)
      const gone = new Set<PassEntry>();
      for (let i = 0; i < removedIds.length; i++) {
        const old = this.mirror.byRef.get(`mirror:${removedIds[i]}`);
        if (old) {
          this.mirror.remove(old);
          gone.add(old);
        }
        if (i % DIFF_STEP === DIFF_STEP - 1) yield;
      }
      if (gone.size) {
        const touched = new Set<string>();
        let n = 0;
        for (const e of gone) {
          for (let i = 0; i + 3 <= e.text.length; i++) touched.add(e.text.slice(i, i + 3));
          if (++n % DIFF_STEP === 0) yield;
        }
        let postings = 0;
        for (const g of touched) {
          const list = this.trigrams.get(g);
          if (!list) continue;
          const kept = list.filter((x) => !gone.has(x));
          if (kept.length) this.trigrams.set(g, kept);
          else this.trigrams.delete(g);
          postings += list.length;
          if (postings >= DIFF_STEP * 10) {
            postings = 0;
            yield;
          }
        }
      }
    } finally {
      // their entries are gone (or the steps were abandoned: never leave a pass revoked for good)
      const at = this.revoked.indexOf(revoked);
      if (at >= 0) this.revoked.splice(at, 1);
    }
    for (let i = 0; i < added.length; i += DIFF_STEP) {
      this.upsertMirrors(added.slice(i, i + DIFF_STEP));
      yield;
    }
    // (an update drops its old entry's postings one by one: smaller steps)
    for (let i = 0; i < updated.length; i += DIFF_STEP / 5) {
      this.upsertMirrors(updated.slice(i, i + DIFF_STEP / 5));
      yield;
    }
  }

  /** Temporary passes: cancelled or expired ones are removed instead. */
  upsertTemp(p: TempPass, now: number): void {
    if (p.cancelledAt !== null || p.validTo < now) this.removeRef(`temp:${p.id}`);
    else this.upsert(tempEntry(p));
  }

  get(ref: string): PassEntry | undefined {
    return (ref.startsWith('mirror:') ? this.mirror : this.temp).byRef.get(ref);
  }

  /** Drops expired temporary passes; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const e of [...this.temp.byRef.values()]) {
      if ((e.validTo ?? 0) < now) {
        this.removeRef(e.ref);
        n++;
      }
    }
    return n;
  }

  /** The first live entry of a list (exact lookups). */
  private firstActive(list: readonly PassEntry[], now: number): PassEntry | undefined {
    for (const e of list) if (this.live(e, now)) return e;
    return undefined;
  }

  /** Exact canonical, then (ignore-region policy) the plate without its region, on one side. */
  private findExact(side: Side, plate: Plate, policy: MatchPolicy, now: number): PassMatch | null {
    let e = this.firstActive(listOf(side.byCanonical, plate.canonical), now);
    if (e) return { entry: e, policy: 'exact', how: 'exact' };
    if (policy.ignoreRegion) {
      const key = withoutRegion(plate);
      e = key ? this.firstActive(listOf(side.byRegionless, key), now) : undefined;
      if (e) return { entry: e, policy: 'ignore-region', how: 'ignore-region' };
    }
    return null;
  }

  /**
   * Every active pass (both sides) whose plate is within `max` edits of the read plate, by
   * distinct plate: the nearest distance and the plates found. Scans all passes (only under
   * the edit-distance policy).
   */
  private within(plate: Plate, max: number, now: number): { distance: number; entries: PassEntry[] } {
    const found: Array<{ e: PassEntry; d: number }> = [];
    const len = plate.canonical.length;
    for (const side of [this.mirror, this.temp]) {
      for (const c of side.byRef.values()) {
        if (!c.canonical || Math.abs(c.canonical.length - len) > max || !this.live(c, now)) continue;
        const d = max === 1 ? (withinOneEdit(plate.canonical, c.canonical) ? 1 : 2) : editDistance(plate.canonical, c.canonical, max);
        if (d <= max) found.push({ e: c, d });
      }
    }
    const distance = found.reduce((m, x) => Math.min(m, x.d), max + 1);
    return { distance, entries: found.map((x) => x.e) };
  }

  /**
   * The pass that lets this plate in now. Exact matches first, on both sides: mirror, then
   * temporary passes (full plate, then digits-only); with the ignore-region policy each side
   * also by the plate without region. Only then, under the edit-distance policy, the passes
   * within the distance: exactly one plate → that pass; two or more different plates → the read
   * is ambiguous and lets nobody in (`{ ambiguous }`).
   */
  match(plate: Plate, policy: MatchPolicy, now: number): PassMatch | PassAmbiguity | null {
    const m = this.findExact(this.mirror, plate, policy, now) ?? this.findExact(this.temp, plate, policy, now);
    if (m) return m;
    if (plate.digits) {
      const e = this.firstActive(listOf(this.temp.digitsOnly, plate.digits), now);
      if (e) return { entry: e, policy: 'exact', how: 'digits' };
    }
    if (policy.maxEditDistance > 0) {
      const { distance, entries } = this.within(plate, policy.maxEditDistance, now);
      const plates = [...new Set(entries.map((e) => e.canonical as string))];
      if (plates.length > 1) return { ambiguous: plates, distance: policy.maxEditDistance };
      if (entries.length) {
        // one plate (possibly listed twice): mirror first, like the exact lookups
        const entry = entries.find((e) => e.source === 'mirror') ?? entries[0];
        return { entry, policy: 'edit-distance', how: `edit-distance ${distance}` };
      }
    }
    return null;
  }

  /**
   * Active passes whose plate contains the query (digits or a partial plate, Latin or Cyrillic);
   * a 3-digit query first lists the passes with that number. Stops at `limit`.
   */
  search(q: unknown, limit: number, now: number, source?: 'mirror' | 'temporary'): PassEntry[] {
    const nq = normalizeQuery(q);
    const out: PassEntry[] = [];
    if (!nq || limit <= 0) return out;
    const seen = new Set<PassEntry>();
    const take = (e: PassEntry): boolean => {
      if (seen.has(e) || (source && e.source !== source) || !this.live(e, now)) return false;
      seen.add(e);
      out.push(e);
      return out.length >= limit;
    };
    if (/^\d{3}$/.test(nq)) {
      for (const side of [this.temp, this.mirror]) for (const e of listOf(side.byDigits, nq)) if (take(e)) return out;
    }
    if (nq.length >= 3) {
      let smallest: PassEntry[] | undefined;
      for (const g of grams(nq)) {
        const s = this.trigrams.get(g);
        if (!s) return out; // a trigram nobody has: no plate contains the query
        if (!smallest || s.length < smallest.length) smallest = s;
      }
      for (const e of smallest ?? []) if (e.text.includes(nq) && take(e)) return out;
      return out;
    }
    for (const side of [this.temp, this.mirror]) for (const e of side.byRef.values()) if (e.text.includes(nq) && take(e)) return out;
    return out;
  }
}
