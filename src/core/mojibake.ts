/**
 * Mojibake of iVMS-4200: Russian text whose UTF-8 bytes were read as Windows-1251 and stored as
 * NVARCHAR (`Проходная` → `РџСЂРѕС…РѕРґРЅР°СЏ`). `repairMojibake` turns it back into clean text;
 * clean text (Russian, Latin, anything that is not such mojibake) passes through unchanged.
 *
 * Byte 0x98 has no character in Windows-1251, and it is the second UTF-8 byte of «И» (D0 98):
 * drivers store it as U+0098, drop it, or replace it with `?` or U+FFFD. A lead byte D0/D1
 * followed by no continuation byte (or by `?` / U+FFFD) is read as D0 98 / D1 98, so every «И»
 * comes back. Pure code (no Node-RED, no I/O).
 */

/** Windows-1251 bytes 0x80..0xBF (0x98 is undefined: null); 0xC0..0xFF are А..я (U+0410..U+044F). */
// prettier-ignore
const CP1251_HIGH: ReadonlyArray<number | null> = [
  0x0402, 0x0403, 0x201a, 0x0453, 0x201e, 0x2026, 0x2020, 0x2021, 0x20ac, 0x2030, 0x0409, 0x2039, 0x040a, 0x040c, 0x040b, 0x040f,
  0x0452, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, null, 0x2122, 0x0459, 0x203a, 0x045a, 0x045c, 0x045b, 0x045f,
  0x00a0, 0x040e, 0x045e, 0x0408, 0x00a4, 0x0490, 0x00a6, 0x00a7, 0x0401, 0x00a9, 0x0404, 0x00ab, 0x00ac, 0x00ad, 0x00ae, 0x0407,
  0x00b0, 0x00b1, 0x0406, 0x0456, 0x0491, 0x00b5, 0x00b6, 0x00b7, 0x0451, 0x2116, 0x0454, 0x00bb, 0x0458, 0x0405, 0x0455, 0x0457,
];

/** code point → Windows-1251 byte (for 0x80..0xFF; ASCII maps to itself). U+0098 stands for the undefined byte 0x98. */
const TO_CP1251 = new Map<number, number>();
CP1251_HIGH.forEach((cp, i) => cp !== null && TO_CP1251.set(cp, 0x80 + i));
for (let b = 0xc0; b <= 0xff; b++) TO_CP1251.set(0x0410 + b - 0xc0, b);
TO_CP1251.set(0x0098, 0x98);

/** The Windows-1251 character of a byte (0x98: U+0098, how most drivers keep it). */
function cp1251Char(b: number): string {
  if (b < 0x80) return String.fromCharCode(b);
  if (b >= 0xc0) return String.fromCharCode(0x0410 + b - 0xc0);
  return String.fromCharCode(CP1251_HIGH[b - 0x80] ?? 0x0098);
}

/**
 * The bytes of `text` read back as Windows-1251, or null when a character has no Windows-1251
 * byte (then it cannot be this mojibake). `?` and U+FFFD right after a D0/D1 lead byte become the
 * lost 0x98 (a lead byte with no continuation after it is handled while decoding).
 */
function cp1251Bytes(text: string): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const prev = out[out.length - 1];
    if ((c === 0x3f || c === 0xfffd) && (prev === 0xd0 || prev === 0xd1)) {
      out.push(0x98);
      continue;
    }
    if (c < 0x80) out.push(c);
    else {
      const b = TO_CP1251.get(c);
      if (b === undefined) return null;
      out.push(b);
    }
  }
  return out;
}

/** UTF-8 decode with the lost-0x98 rule; null when the bytes are not UTF-8. `multi`: how many multi-byte characters were decoded from complete sequences. */
function decodeUtf8(bytes: number[]): { text: string; multi: number } | null {
  let text = '';
  let multi = 0;
  let i = 0;
  const cont = (b: number | undefined) => b !== undefined && b >= 0x80 && b <= 0xbf;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      text += String.fromCharCode(b);
      i++;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (cont(bytes[i + 1])) {
        text += String.fromCharCode(((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f));
        multi++;
        i += 2;
      } else if (b === 0xd0 || b === 0xd1) {
        // the 0x98 after it was dropped by the driver: «И» (D0 98) or «ј» (D1 98)
        text += String.fromCharCode(((b & 0x1f) << 6) | (0x98 & 0x3f));
        i++;
      } else return null;
    } else if (b >= 0xe0 && b <= 0xef) {
      if (!cont(bytes[i + 1]) || !cont(bytes[i + 2])) return null;
      const cp = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return null;
      text += String.fromCharCode(cp);
      multi++;
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (!cont(bytes[i + 1]) || !cont(bytes[i + 2]) || !cont(bytes[i + 3])) return null;
      const cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      text += String.fromCodePoint(cp);
      multi++;
      i += 4;
    } else return null;
  }
  return { text, multi };
}

/** Quick test: mojibake holds a non-ASCII character (ASCII text is never changed). */
const MAYBE = /[^ -~\t\r\n]/;

/**
 * Clean text from iVMS text: mojibake repaired, anything else unchanged (null stays null).
 * A string is repaired only when all of it reads back as UTF-8 with at least one complete
 * multi-byte character; clean Russian text practically never does (its letters are lead bytes in
 * a row). Inherently ambiguous and left as stored: text made only of dropped-0x98 «И»s and ASCII
 * (`РРР`), and two-letter clean strings that are also valid mojibake (`Рё` = «и»).
 */
export function repairMojibake(text: string): string;
export function repairMojibake(text: string | null): string | null;
export function repairMojibake(text: string | null): string | null {
  if (text === null || text === '') return text;
  if (!MAYBE.test(text)) return text;
  const bytes = cp1251Bytes(text);
  if (!bytes) return text;
  const r = decodeUtf8(bytes);
  if (!r || r.multi === 0) return text;
  return r.text;
}

/** Whether `text` is mojibake that `repairMojibake` changes. */
export function isMojibake(text: string | null): boolean {
  return text !== null && repairMojibake(text) !== text;
}

const UTF8 = new TextEncoder();

/**
 * The mojibake iVMS would store for clean text: its UTF-8 bytes read as Windows-1251. `lost`:
 * what happens to the undefined byte 0x98 — 'keep' (U+0098, default), 'drop', '?' or U+FFFD.
 * Used by the demo database, the tests, and to search for the garbled spelling of a query.
 */
export function garble(text: string, lost: 'keep' | 'drop' | '?' | '\ufffd' = 'keep'): string {
  let out = '';
  for (const b of UTF8.encode(text)) {
    if (b === 0x98 && lost !== 'keep') out += lost === 'drop' ? '' : lost;
    else out += cp1251Char(b);
  }
  return out;
}
