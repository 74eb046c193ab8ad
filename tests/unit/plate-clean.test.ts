/** cleanPlateText (code-unit loop with an already-clean fast path) = the plain per-code-point cleaner. */
import { CYR_TO_LAT, cleanPlateText, normalizePlate } from '../../src/core/plate';

/** The reference: every code point of the upper-cased text, mapped, kept or dropped. */
function reference(raw: string): string {
  let out = '';
  for (const ch of raw.toUpperCase()) {
    const mapped = CYR_TO_LAT[ch];
    if (mapped) out += mapped;
    else if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) out += ch;
    else if (/\p{L}/u.test(ch)) out += ch;
  }
  const m = /^(.*\d)(RUS|PYC)$/.exec(out);
  if (m) out = m[1];
  return out;
}

const ALPHABET = [
  ...'0123456789ABEKMHOPCTYXabekmhopctyxDQZISdqzis',
  ...'АВЕКМНОРСТУХЁавекмнорстухёДдЖжЯя',
  ...' -_.|/,:;+*#@!?\t\n',
  ...'ÄäÖößẞǅǆĲĳΣσς',
  'RUS',
  'rus',
  'РУС',
  'рус',
  'PYC',
  '\u{1F600}',
  '\u{1D400}',
  '\u{20000}',
  '\u{1F1F7}\u{1F1FA}',
  '\ud83d',
  '\ude00',
  '\u00a0',
  '\u200b',
  '\u0301',
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('cleanPlateText', () => {
  test('random texts: the same as the per-code-point reference', () => {
    const r = rng(42);
    for (let n = 0; n < 20000; n++) {
      let s = '';
      const len = Math.floor(r() * 14);
      for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
      expect([s, cleanPlateText(s)]).toEqual([s, reference(s)]);
    }
  });

  test('typical and odd inputs', () => {
    for (const s of ['А123ВС77', 'a123bc777rus', 'A123BC77', 'A 123 BC | 77 RUS', 'Х027ВВ18', 'ab1234 56', 'x\ud83d', '\ude00a1', 'ß1', 'ǆ12', 'A1RUSRUS', '77RUS', '']) {
      expect(cleanPlateText(s)).toBe(reference(s));
    }
    expect(normalizePlate('а 123 вс 77 rus')?.canonical).toBe('A123BC77');
  });
});
