/**
 * E-Poselok's allowed-plates list, pure: decoding the body (UTF-8 with or without a BOM,
 * Windows-1251), parsing `AllowedList1` / `AllowedList2` (either may be missing; extra fields
 * ignored; invalid items counted and skipped), normalising every plate with the plate core,
 * and the diff of a new list against the mirror (added / removed / updated / unchanged) with
 * the suspicious-shrink rule. No I/O.
 */
import type { MirrorPass } from './contracts';
import { normalizePlate } from './plate';
import { parseJsonSteps, runSteps, Steps } from './steps';

/** items handled between two yields of the `…Steps` generators */
const STEP_ITEMS = 1000;

export const LIST_NAMES = ['AllowedList1', 'AllowedList2'] as const;
export type ListName = (typeof LIST_NAMES)[number];

/** One allowed plate from the list, normalised. */
export interface ListEntry {
  list: ListName;
  canonical: string;
  raw: string;
  digits: string | null;
  house: string;
}

export interface InvalidItem {
  list: ListName;
  index: number;
  reason: string;
  /** the item as received, shortened (for the log) */
  item: string;
}

export type ListErrorKind = 'empty-body' | 'html' | 'not-json' | 'no-lists';

export type ListParse =
  | {
      ok: true;
      entries: ListEntry[];
      invalid: InvalidItem[];
      /** items per list as received ('missing' when the key was absent or not an array) */
      lists: Record<ListName, number | 'missing'>;
      /** same (list, plate, house) more than once */
      duplicates: number;
      encoding: 'utf-8' | 'utf-8-bom' | 'windows-1251';
    }
  | { ok: false; kind: ListErrorKind; error: string; encoding?: string };

const MAX_ITEM_TEXT = 120;
const short = (v: unknown): string => {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > MAX_ITEM_TEXT ? s.slice(0, MAX_ITEM_TEXT - 1) + '…' : s;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const cp1251 = new TextDecoder('windows-1251');

/**
 * The text of a body: a UTF-8 BOM is dropped; a body that is not valid UTF-8 (or is declared
 * windows-1251 / cp1251 in the content type) is decoded as Windows-1251.
 */
export function decodeBody(body: Uint8Array | string, contentType = ''): { text: string; encoding: 'utf-8' | 'utf-8-bom' | 'windows-1251' } {
  if (typeof body === 'string') {
    return body.charCodeAt(0) === 0xfeff ? { text: body.slice(1), encoding: 'utf-8-bom' } : { text: body, encoding: 'utf-8' };
  }
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    return { text: new TextDecoder('utf-8').decode(body.subarray(3)), encoding: 'utf-8-bom' };
  }
  if (/charset\s*=\s*"?(windows-1251|cp1251|win-1251)/i.test(contentType)) return { text: cp1251.decode(body), encoding: 'windows-1251' };
  try {
    return { text: utf8.decode(body), encoding: 'utf-8' };
  } catch {
    return { text: cp1251.decode(body), encoding: 'windows-1251' };
  }
}

/** Parses a list body (bytes as received, or text) into normalised entries, or says why not. */
export function parseAllowedList(body: Uint8Array | string, contentType = ''): ListParse {
  return runSteps(parseAllowedListSteps(body, contentType));
}

/** parseAllowedList in steps (the body's JSON in chunks: parseJsonSteps; a yield every STEP_ITEMS items). */
export function* parseAllowedListSteps(body: Uint8Array | string, contentType = ''): Steps<ListParse> {
  const { text, encoding } = decodeBody(body, contentType);
  const trimmed = text.trim();
  if (!trimmed) return { ok: false, kind: 'empty-body', error: 'empty body', encoding };
  if (/^</.test(trimmed) || /text\/html/i.test(contentType)) {
    const title = /<title[^>]*>([^<]{0,80})/i.exec(trimmed)?.[1]?.trim();
    return { ok: false, kind: 'html', error: `HTML page instead of JSON${title ? ` ("${title}")` : ''}`, encoding };
  }
  yield;
  let doc: unknown;
  try {
    doc = yield* parseJsonSteps(trimmed);
  } catch (err) {
    return { ok: false, kind: 'not-json', error: `not JSON: ${(err as Error).message} (starts with ${JSON.stringify(trimmed.slice(0, 40))})`, encoding };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, kind: 'no-lists', error: `JSON ${Array.isArray(doc) ? 'array' : typeof doc} without AllowedList1/AllowedList2`, encoding };
  }
  const obj = doc as Record<string, unknown>;
  const lists = { AllowedList1: 'missing', AllowedList2: 'missing' } as Record<ListName, number | 'missing'>;
  const entries: ListEntry[] = [];
  const invalid: InvalidItem[] = [];
  // (list, plate, house) seen: per list, plate → its house(s) (no key string per item; the
  // plate's hash is computed here once and kept for the diff and the index)
  const seen: Record<ListName, Map<string, string | Set<string>>> = { AllowedList1: new Map(), AllowedList2: new Map() };
  let duplicates = 0;
  for (const list of LIST_NAMES) {
    const items = obj[list];
    if (!Array.isArray(items)) continue;
    lists[list] = items.length;
    for (let i = 0; i < items.length; i++) {
      if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
      const item = items[i];
      if (!item || typeof item !== 'object' || Array.isArray(item)) {
        invalid.push({ list, index: i, reason: 'item is not an object', item: short(item) });
        continue;
      }
      const rec = item as Record<string, unknown>;
      const rawPlate = rec.Plate;
      if (typeof rawPlate !== 'string' && typeof rawPlate !== 'number') {
        invalid.push({ list, index: i, reason: 'no Plate', item: short(item) });
        continue;
      }
      const plate = normalizePlate(String(rawPlate));
      if (!plate) {
        invalid.push({ list, index: i, reason: 'Plate is not a plate', item: short(item) });
        continue;
      }
      const n = rec.Number;
      const house = typeof n === 'string' || typeof n === 'number' ? String(n).trim().slice(0, 64) : '';
      const houses = seen[list];
      const had = houses.get(plate.canonical);
      if (had === undefined) houses.set(plate.canonical, house);
      else if (had === house || (typeof had !== 'string' && had.has(house))) {
        duplicates++;
        continue;
      } else if (typeof had === 'string') houses.set(plate.canonical, new Set([had, house]));
      else had.add(house);
      entries.push({ list, canonical: plate.canonical, raw: String(rawPlate).trim().slice(0, 64), digits: plate.digits, house });
    }
  }
  if (lists.AllowedList1 === 'missing' && lists.AllowedList2 === 'missing') {
    const keys = Object.keys(obj).slice(0, 5).join(', ');
    return { ok: false, kind: 'no-lists', error: `JSON without AllowedList1/AllowedList2${keys ? ` (keys: ${keys})` : ''}`, encoding };
  }
  return { ok: true, entries, invalid, lists, duplicates, encoding };
}

/** The mirror's identity of a pass. */
export const mirrorKey = (p: { list: string; canonical: string; house: string }): string => `${p.list}\u0000${p.canonical}\u0000${p.house}`;

export interface MirrorDiff {
  added: ListEntry[];
  removed: MirrorPass[];
  /**
   * same pass, the raw text changed (e.g. spaces or Cyrillic letters), or the same plate now
   * under another house or list (a move: `house`/`list` set) — an update, never a removal
   */
  updated: Array<{ pass: MirrorPass; raw: string; house?: string; list?: string }>;
  unchanged: number;
  /** size of the new list */
  total: number;
}

/** What applying `next` to the mirror `current` changes. */
export function diffMirror(current: readonly MirrorPass[], next: readonly ListEntry[]): MirrorDiff {
  return runSteps(diffMirrorSteps(current, next));
}

/** diffMirror in steps (a yield every STEP_ITEMS passes: run it with `runSliced` off the hot path). */
export function* diffMirrorSteps(current: readonly MirrorPass[], next: readonly ListEntry[]): Steps<MirrorDiff> {
  // Keyed by the plate, then list and house inside the (nearly always single) bucket: no key
  // strings to build for 2 × 50k passes, and the plates' hashes are computed once and kept.
  const byPlate = new Map<string, MirrorPass | MirrorPass[]>();
  let n = 0;
  for (const p of current) {
    if (++n % STEP_ITEMS === 0) yield;
    const had = byPlate.get(p.canonical);
    if (had === undefined) byPlate.set(p.canonical, p);
    else {
      const bucket = Array.isArray(had) ? had : [had];
      // the same identity twice (not in a mirror read from its table): the keyed diff's rules
      if (bucket.some((o) => o.list === p.list && o.house === p.house)) return diffMirrorKeyed(current, next);
      bucket.push(p);
      if (bucket !== had) byPlate.set(p.canonical, bucket);
    }
  }
  const added: ListEntry[] = [];
  const updated: Array<{ pass: MirrorPass; raw: string }> = [];
  let unchanged = 0;
  for (const e of next) {
    if (++n % STEP_ITEMS === 0) yield;
    const had = byPlate.get(e.canonical);
    let old: MirrorPass | undefined;
    if (had !== undefined) {
      if (!Array.isArray(had)) {
        if (had.list === e.list && had.house === e.house) {
          old = had;
          byPlate.delete(e.canonical);
        }
      } else {
        const at = had.findIndex((o) => o.list === e.list && o.house === e.house);
        if (at >= 0) {
          old = had[at];
          had.splice(at, 1);
          if (!had.length) byPlate.delete(e.canonical);
        }
      }
    }
    if (!old) {
      added.push(e);
      continue;
    }
    if (old.raw !== e.raw) updated.push({ pass: old, raw: e.raw });
    else unchanged++;
  }
  // the passes left unmatched, in the mirror's order
  const removed: MirrorPass[] = [];
  if (byPlate.size) {
    for (const p of current) {
      if (++n % STEP_ITEMS === 0) yield;
      const left = byPlate.get(p.canonical);
      if (left === p || (Array.isArray(left) && left.includes(p))) removed.push(p);
    }
  }
  return yield* pairMovesSteps({ added, removed, updated, unchanged, total: next.length });
}

/**
 * A plate that left one (list, house) and arrived under another is a move: the removed pass and
 * the added entry become one update (the pass keeps its id; the shrink guard does not count it).
 * Pairs in order, one removed pass per added entry of the same plate. In steps (a yield every
 * STEP_ITEMS passes): 100k removed against 50k added took ~40 ms in one go.
 */
function* pairMovesSteps(d: MirrorDiff): Steps<MirrorDiff> {
  if (!d.removed.length || !d.added.length) return d;
  const gone = new Map<string, MirrorPass[]>();
  let n = 0;
  for (const p of d.removed) {
    if (++n % STEP_ITEMS === 0) yield;
    const l = gone.get(p.canonical);
    if (l) l.push(p);
    else gone.set(p.canonical, [p]);
  }
  const moved = new Set<MirrorPass>();
  const added: ListEntry[] = [];
  for (const e of d.added) {
    if (++n % STEP_ITEMS === 0) yield;
    const p = gone.get(e.canonical)?.shift();
    if (!p) {
      added.push(e);
      continue;
    }
    moved.add(p);
    d.updated.push({ pass: p, raw: e.raw, house: e.house, list: e.list });
  }
  if (!moved.size) return d;
  const removed: MirrorPass[] = [];
  for (const p of d.removed) {
    if (++n % STEP_ITEMS === 0) yield;
    if (!moved.has(p)) removed.push(p);
  }
  return { ...d, added, removed };
}

/** diffMirror by one key string per pass (a `current` holding the same identity twice: the last one counts); also the reference the tests compare diffMirror with. */
export function diffMirrorKeyed(current: readonly MirrorPass[], next: readonly ListEntry[]): MirrorDiff {
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
  return runSteps(pairMovesSteps({ added, removed: [...byKey.values()], updated, unchanged, total: next.length }));
}

/**
 * Suspicious shrink: more than `maxShare` (0..1) of the current mirror would be removed.
 * Returns the human-readable reason, or null when the diff may be applied without confirmation.
 */
export function suspiciousShrink(currentSize: number, diff: MirrorDiff, maxShare = 0.5): string | null {
  if (currentSize <= 0 || diff.removed.length === 0) return null;
  const share = diff.removed.length / currentSize;
  if (share <= maxShare) return null;
  return `${diff.removed.length} of ${currentSize} passes (${Math.round(share * 100)} %) would be removed, the limit is ${Math.round(maxShare * 100)} %; new list: ${diff.total}`;
}
