/**
 * Licence plates: one canonical form for everything that is compared (LPR output, E-Poselok
 * `Plate`, guard input). Pure TypeScript.
 *
 * Canonical form: uppercase, no separators, the 12 Cyrillic plate letters written as their
 * Latin look-alikes (А→A В→B Е→E К→K М→M Н→H О→O Р→P С→C Т→T У→Y Х→X), a trailing `RUS`
 * dropped. Russian layouts are recognised; in the standard layout (А123ВС77 / А123ВС777)
 * OCR confusions are corrected by position (O/D/Q in a digit position → 0, B → 8; 0 in a
 * letter position → O, 8 → B). Anything else that looks like a plate is kept as it is
 * (layout 'foreign'), never rejected.
 */
import type { Plate, PlateLayout } from './contracts';

/** Cyrillic plate letters → Latin look-alikes (upper case; lower case is upper-cased first). */
export const CYR_TO_LAT: Readonly<Record<string, string>> = {
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  У: 'Y',
  Х: 'X',
  Ё: 'E', // never on plates, but LPR/keyboard input may carry it for Е
};
/** Latin plate letters → Cyrillic (for display). */
export const LAT_TO_CYR: Readonly<Record<string, string>> = {
  A: 'А',
  B: 'В',
  E: 'Е',
  K: 'К',
  M: 'М',
  H: 'Н',
  O: 'О',
  P: 'Р',
  C: 'С',
  T: 'Т',
  Y: 'У',
  X: 'Х',
};
/** The 12 letters used on Russian plates (Latin look-alikes). */
export const PLATE_LETTERS = 'ABEKMHOPCTYX';

const LETTER = new Set(PLATE_LETTERS.split(''));
const isDigit = (c: string) => c >= '0' && c <= '9';
const isLetter = (c: string) => LETTER.has(c);
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
/** upper-case ASCII letters and digits only (cleanPlateText keeps such a text as it is) */
const ASCII_CLEAN = /^[0-9A-Z]+$/;
/** in a digit position of a standard plate */
const TO_DIGIT: Record<string, string> = { O: '0', D: '0', Q: '0', B: '8', I: '1', Z: '2', S: '5' };
/** in a letter position of a standard plate */
const TO_LETTER: Record<string, string> = { '0': 'O', '8': 'B' };

const MIN_LEN = 4;
const MAX_LEN = 12;
/** longest raw input looked at (a plate is short; anything longer is garbage) */
const MAX_RAW = 64;

/**
 * Uppercase, Cyrillic look-alikes to Latin, every separator and stray punctuation removed,
 * a trailing RUS dropped. Letters outside the 12 are kept (foreign plates). No positional fixes.
 */
export function cleanPlateText(raw: string): string {
  const up = raw.toUpperCase();
  // already clean (a canonical plate, a plain LPR read): nothing to map or drop
  let out = ASCII_CLEAN.test(up) ? up : '';
  if (!out) {
    for (let i = 0; i < up.length; i++) {
      const c = up.charCodeAt(i);
      if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a)) {
        out += up[i];
        continue;
      }
      if (c < 0x80) continue; // ASCII separators and punctuation (no lower case left)
      // one code point: a surrogate pair is one character
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < up.length && isLowSurrogate(up.charCodeAt(i + 1));
      const ch = pair ? up.slice(i, i + 2) : up[i];
      if (pair) i++;
      const mapped = CYR_TO_LAT[ch];
      if (mapped) out += mapped;
      else if (/\p{L}/u.test(ch)) out += ch; // other letters (e.g. Д, Ä) kept as they are
      // everything else (spaces, -, |, ., flags, punctuation) is a separator
    }
  }
  // trailing RUS (Latin or Cyrillic РУС → PYC) after the region digits
  const m = /^(.*\d)(RUS|PYC)$/.exec(out);
  if (m) out = m[1];
  return out;
}

interface Shape {
  layout: PlateLayout;
  re: RegExp;
  split: (s: string) => { series: string; number: string; region: string };
  digits: (number: string) => string | null;
}

const L = `[${PLATE_LETTERS}]`;
// Order matters: the first exact match wins.
const SHAPES: Shape[] = [
  {
    layout: 'standard',
    re: new RegExp(`^${L}\\d{3}${L}{2}\\d{2,3}$`),
    split: (s) => ({ series: s[0] + s.slice(4, 6), number: s.slice(1, 4), region: s.slice(6) }),
    digits: (n) => n,
  },
  {
    layout: 'taxi',
    re: new RegExp(`^${L}{2}\\d{3}\\d{2}$`), // АВ123 77 (a 3-digit region is read as a trailer)
    split: (s) => ({ series: s.slice(0, 2), number: s.slice(2, 5), region: s.slice(5) }),
    digits: (n) => n,
  },
  {
    layout: 'trailer',
    re: new RegExp(`^${L}{2}\\d{4}\\d{2,3}$`),
    split: (s) => ({ series: s.slice(0, 2), number: s.slice(2, 6), region: s.slice(6) }),
    digits: () => null,
  },
  {
    layout: 'moto',
    re: new RegExp(`^\\d{4}${L}{2}\\d{2,3}$`),
    split: (s) => ({ series: s.slice(4, 6), number: s.slice(0, 4), region: s.slice(6) }),
    digits: () => null,
  },
  {
    layout: 'police',
    re: new RegExp(`^${L}\\d{4}\\d{2,3}$`),
    split: (s) => ({ series: s[0], number: s.slice(1, 5), region: s.slice(5) }),
    digits: () => null,
  },
];

/** Standard layout positions: true = letter. */
const STANDARD_POS = [true, false, false, false, true, true, false, false, false];

/** The standard plate a string becomes after positional 0/O, 8/B fixes, or null. */
function fixStandard(s: string): string | null {
  if (s.length !== 8 && s.length !== 9) return null;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (STANDARD_POS[i]) {
      if (isLetter(c)) out += c;
      else if (TO_LETTER[c]) out += TO_LETTER[c];
      else return null;
    } else {
      if (isDigit(c)) out += c;
      else if (TO_DIGIT[c]) out += TO_DIGIT[c];
      else return null;
    }
  }
  return out;
}

function build(raw: string, canonical: string, shape: Shape): Plate {
  const { series, number, region } = shape.split(canonical);
  return { raw, canonical, layout: shape.layout, series, number, region, digits: shape.digits(number) };
}

/** The one canonical Plate of an input, or null for nothing plate-like (empty, no digit, too short/long). */
export function normalizePlate(raw: unknown): Plate | null {
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const text = String(raw);
  if (!text.trim() || text.length > MAX_RAW) return null;
  const s = cleanPlateText(text);
  if (s.length < MIN_LEN || s.length > MAX_LEN || !/\d/.test(s)) return null;
  for (const shape of SHAPES) if (shape.re.test(s)) return build(text, s, shape);
  const fixed = fixStandard(s);
  if (fixed) return build(text, fixed, SHAPES[0]);
  return { raw: text, canonical: s, layout: 'foreign', digits: null };
}

/** ASCII characters an LPR read may hold besides letters and digits: spaces and plate separators. */
const READ_SEPARATORS = /^[\s\-|._/:]$/;

/**
 * Why a recognised text (an LPR read) is no plate although normalisation would keep something
 * of it, or null when it may be one: a read needs a letter and a digit (`12345` is a number, not
 * a plate), and no ASCII symbol other than spaces and separators — `' OR 1=1--` must not become
 * the plate `OR11`. Guard input and E-Poselok lists are not held to this (normalizePlate).
 */
export function implausibleRead(raw: string): string | null {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) continue;
    if (!READ_SEPARATORS.test(raw[i])) return `symbol ${JSON.stringify(raw[i])} in a plate read`;
  }
  const s = cleanPlateText(raw);
  if (!/\d/.test(s)) return 'no digit';
  if (!/\p{L}/u.test(s)) return 'no letter';
  return null;
}

/** The canonical form of an input, or null. */
export function canonicalOf(raw: unknown): string | null {
  return normalizePlate(raw)?.canonical ?? null;
}

/** Russian layouts (whose letters are Cyrillic on the plate). */
export function isRussianLayout(layout: PlateLayout): boolean {
  return layout !== 'foreign' && layout !== 'unknown';
}

/** A canonical plate for people: Cyrillic letters for Russian layouts; foreign plates unchanged. */
export function displayPlate(canonical: string): string {
  if (!canonical) return '';
  const p = normalizePlate(canonical);
  if (p && !isRussianLayout(p.layout)) return canonical;
  let out = '';
  for (const ch of canonical) out += LAT_TO_CYR[ch] ?? ch;
  return out;
}

/** The plate without its region (series + number) for Russian layouts; null otherwise. */
export function withoutRegion(p: Plate): string | null {
  if (!isRussianLayout(p.layout) || p.region === undefined) return null;
  return p.canonical.slice(0, p.canonical.length - p.region.length);
}

/**
 * A search query (partial plate or digits, Latin or Cyrillic) in canonical letters: uppercase,
 * Cyrillic → Latin, anything that is not a letter or digit removed. '' when nothing is left.
 */
export function normalizeQuery(q: unknown): string {
  if (typeof q !== 'string' && typeof q !== 'number') return '';
  const text = String(q).slice(0, MAX_RAW);
  let out = '';
  for (const ch of text.toUpperCase()) {
    const mapped = CYR_TO_LAT[ch];
    if (mapped) out += mapped;
    else if ((ch >= 'A' && ch <= 'Z') || isDigit(ch)) out += ch;
    else if (/\p{L}/u.test(ch)) out += ch;
  }
  return out;
}
