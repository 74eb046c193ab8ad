/** Plate normalisation, layouts, display, match policies (pure core). */
import { displayPlate, normalizePlate, normalizeQuery, withoutRegion } from '../../src/core/plate';
import { editDistance, policyFrom, policyName, withinOneEdit } from '../../src/core/match';

// [raw, canonical, layout, digits]
const CASES: Array<[string, string, string, string | null]> = [
  // standard, alphabets and case
  ['А123ВС77', 'A123BC77', 'standard', '123'],
  ['A123BC77', 'A123BC77', 'standard', '123'],
  ['а123вс77', 'A123BC77', 'standard', '123'],
  ['a123bc77', 'A123BC77', 'standard', '123'],
  ['b663kt777', 'B663KT777', 'standard', '663'],
  ['В663КТ777', 'B663KT777', 'standard', '663'],
  ['А123Bс77', 'A123BC77', 'standard', '123'], // mixed alphabets
  ['Х001ХХ99', 'X001XX99', 'standard', '001'],
  ['Е777ЕЕ197', 'E777EE197', 'standard', '777'],
  ['М555МР50', 'M555MP50', 'standard', '555'],
  ['Н001НН01', 'H001HH01', 'standard', '001'],
  ['У999УУ799', 'Y999YY799', 'standard', '999'],
  ['Т010ТТ16', 'T010TT16', 'standard', '010'],
  ['О777ОО77', 'O777OO77', 'standard', '777'],
  ['Ё123ЁЁ77', 'E123EE77', 'standard', '123'],
  // separators, RUS, |
  ['А 123 ВС 77', 'A123BC77', 'standard', '123'],
  ['А123ВС 77 RUS', 'A123BC77', 'standard', '123'],
  ['А123ВС77RUS', 'A123BC77', 'standard', '123'],
  ['a123bc77rus', 'A123BC77', 'standard', '123'],
  ['А123ВС|77', 'A123BC77', 'standard', '123'],
  ['А123ВС | 777 | RUS', 'A123BC777', 'standard', '123'],
  ['А-123-ВС-77', 'A123BC77', 'standard', '123'],
  ['  а123вс77\n', 'A123BC77', 'standard', '123'],
  ['А.123.ВС.77', 'A123BC77', 'standard', '123'],
  ['"А123ВС77"', 'A123BC77', 'standard', '123'],
  ['А123ВС77 РУС', 'A123BC77', 'standard', '123'],
  ['А123ВС77🇷🇺', 'A123BC77', 'standard', '123'],
  ['А_123_ВС/77', 'A123BC77', 'standard', '123'],
  // 0/O, 8/B swaps by position
  ['AO23BC77', 'A023BC77', 'standard', '023'],
  ['A1O3BC77', 'A103BC77', 'standard', '103'],
  ['А12ОВС77', 'A120BC77', 'standard', '120'],
  ['A123BC7O', 'A123BC70', 'standard', '123'],
  ['A123B077', 'A123BO77', 'standard', '123'],
  ['0123BC77', '0123BC77', 'moto', null], // exact moto layout wins over a fix
  ['A1B3BC77', 'A183BC77', 'standard', '183'],
  ['A123 8C 77', 'A123BC77', 'standard', '123'],
  ['8123BC777', '8123BC777', 'moto', null],
  ['A123BCT7', 'A123BCT7', 'foreign', null], // T in a digit position is not a known confusion
  ['A123BC7B', 'A123BC78', 'standard', '123'],
  ['А12ЗВС77', 'A12ЗBC77', 'foreign', null], // Cyrillic З is not a plate letter: kept
  ['A1D3BC77', 'A103BC77', 'standard', '103'],
  // 2- and 3-digit regions
  ['K001KK01', 'K001KK01', 'standard', '001'],
  ['K001KK102', 'K001KK102', 'standard', '001'],
  ['K001KK977', 'K001KK977', 'standard', '001'],
  // taxi
  ['АВ12377', 'AB12377', 'taxi', '123'],
  ['ав 123 77', 'AB12377', 'taxi', '123'],
  // trailer
  ['АВ123477', 'AB123477', 'trailer', null],
  ['АВ 1234 777', 'AB1234777', 'trailer', null],
  // moto
  ['1234АВ77', '1234AB77', 'moto', null],
  ['1234 ав 777', '1234AB777', 'moto', null],
  // police
  ['А123477', 'A123477', 'police', null],
  ['А 1234 777', 'A1234777', 'police', null],
  // foreign: kept as is
  ['1234 AB-7', '1234AB7', 'foreign', null], // Belarus
  ['123ABC02', '123ABC02', 'foreign', null], // Kazakhstan
  ['AA1234BB', 'AA1234BB', 'foreign', null], // Ukraine
  ['B MW 1234', 'BMW1234', 'foreign', null], // Germany
  ['01 A 123 BC', '01A123BC', 'foreign', null], // Kyrgyzstan-like
  ['ABC-1234', 'ABC1234', 'foreign', null],
  ['N123BC77', 'N123BC77', 'foreign', null], // N is not Н
  ['R123BC77', 'R123BC77', 'foreign', null], // R is not Р
  ['12345', '12345', 'foreign', null],
];

const GARBAGE: unknown[] = ['', '   ', 'hello', '!!!', '---', 'RUS', '12', 'ab', '%', '-- ; --', 'x'.repeat(100), null, undefined, {}, [], true, 'ABCDEFGHIJKLMN1', '1234567890123'];

describe('normalizePlate', () => {
  test('has at least 60 table cases', () => expect(CASES.length).toBeGreaterThanOrEqual(60));

  test.each(CASES)('%s → %s (%s)', (raw, canonical, layout, digits) => {
    const p = normalizePlate(raw);
    expect(p).not.toBeNull();
    expect(p!.canonical).toBe(canonical);
    expect(p!.layout).toBe(layout);
    expect(p!.digits).toBe(digits);
    expect(p!.raw).toBe(raw);
  });

  test.each(GARBAGE.map((g) => [g]))('garbage %p → null', (g) => {
    expect(normalizePlate(g)).toBeNull();
  });

  test('parser gives series / number / region', () => {
    expect(normalizePlate('А123ВС777')).toMatchObject({ series: 'ABC', number: '123', region: '777' });
    expect(normalizePlate('АВ12377')).toMatchObject({ series: 'AB', number: '123', region: '77' });
    expect(normalizePlate('АВ123477')).toMatchObject({ series: 'AB', number: '1234', region: '77' });
    expect(normalizePlate('1234АВ77')).toMatchObject({ series: 'AB', number: '1234', region: '77' });
    expect(normalizePlate('А123477')).toMatchObject({ series: 'A', number: '1234', region: '77' });
    expect(normalizePlate('123ABC02')?.series).toBeUndefined();
  });

  test('canonical is a fixed point', () => {
    for (const [, canonical] of CASES) expect(normalizePlate(canonical)!.canonical).toBe(canonical);
  });

  test('display in Cyrillic for Russian layouts, foreign unchanged', () => {
    expect(displayPlate('A123BC77')).toBe('А123ВС77');
    expect(displayPlate('B663KT777')).toBe('В663КТ777');
    expect(displayPlate('AB12377')).toBe('АВ12377');
    expect(displayPlate('AA1234BB')).toBe('AA1234BB');
    expect(displayPlate('')).toBe('');
  });

  test('without region', () => {
    expect(withoutRegion(normalizePlate('А123ВС77')!)).toBe('A123BC');
    expect(withoutRegion(normalizePlate('А123ВС777')!)).toBe('A123BC');
    expect(withoutRegion(normalizePlate('AA1234BB')!)).toBeNull();
  });

  test('query normalisation: Cyrillic, case, separators; SQL-ish text loses its punctuation', () => {
    expect(normalizeQuery('ав 12')).toBe('AB12');
    expect(normalizeQuery("' OR 1=1 --")).toBe('OR11');
    expect(normalizeQuery('%')).toBe('');
    expect(normalizeQuery(123)).toBe('123');
    expect(normalizeQuery({})).toBe('');
  });
});

describe('match policies', () => {
  test('policy from config and its name', () => {
    expect(policyFrom({})).toEqual({ ignoreRegion: false, maxEditDistance: 0 });
    expect(policyName(policyFrom({ policy: 'exact' }))).toBe('exact');
    expect(policyFrom({ policy: 'ignore-region' })).toEqual({ ignoreRegion: true, maxEditDistance: 0 });
    expect(policyFrom({ policy: 'edit-distance', maxEditDistance: '2' })).toEqual({ ignoreRegion: false, maxEditDistance: 2 });
    expect(policyFrom({ policy: 'edit-distance' }).maxEditDistance).toBe(1);
    expect(policyName(policyFrom({ policy: 'edit-distance' }))).toBe('edit-distance');
  });

  test('bounded edit distance', () => {
    expect(editDistance('A123BC77', 'A123BC77', 1)).toBe(0);
    expect(editDistance('A123BC77', 'A128BC77', 1)).toBe(1);
    expect(editDistance('A123BC77', 'A123BC777', 1)).toBe(1);
    expect(editDistance('A123BC77', 'A12BC77', 1)).toBe(1);
    expect(editDistance('A123BC77', 'X128BC77', 1)).toBe(2); // over the bound
    expect(editDistance('A123BC77', 'X128BC77', 2)).toBe(2);
    expect(editDistance('A123BC77', 'K999MM99', 2)).toBe(3);
    expect(editDistance('A1', 'A123BC77', 2)).toBe(3);
  });

  test('one-edit fast path agrees with the bounded distance', () => {
    const pairs = [
      ['A123BC77', 'A128BC77'],
      ['A123BC77', 'A123BC777'],
      ['A123BC77', 'A12BC77'],
      ['A123BC77', 'X128BC77'],
      ['A123BC77', 'A123BC77'],
      ['A123BC77', '123BC77'],
      ['A123BC77', 'A123BC7'],
      ['AB', 'BA'],
      ['A123BC77', 'A123CB77'],
    ];
    for (const [a, b] of pairs) {
      expect(withinOneEdit(a, b)).toBe(editDistance(a, b, 1) <= 1);
      expect(withinOneEdit(b, a)).toBe(editDistance(b, a, 1) <= 1);
    }
  });
});
