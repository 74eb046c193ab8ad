import { garble, isMojibake, repairMojibake } from '../../src/core/mojibake';

const cp1251 = new TextDecoder('windows-1251');

const NAMES = [
  'Проходная',
  'Иванов Иван Ильич',
  'Игорь Ильин',
  'Вход',
  'Выход',
  'Дверь 1 (склад)',
  'Ёлкин Пётр',
  'Склад №2',
  'Кузнецова Ирина — ночная смена',
  'Мария-Изабелла «Ира»',
  'ИП Шишкин',
  'Сервер И1',
];

describe('mojibake (UTF-8 read as Windows-1251)', () => {
  it('garble() is what a Windows-1251 decoder makes of the UTF-8 bytes', () => {
    for (const n of NAMES) {
      const dec = cp1251.decode(new TextEncoder().encode(n));
      // the decoder turns the undefined 0x98 into U+0098 or U+FFFD depending on the ICU build
      expect(garble(n)).toBe(dec.replace(/\ufffd/g, '\u0098'));
    }
    expect(garble('Проходная')).toBe('РџСЂРѕС…РѕРґРЅР°СЏ');
  });

  it.each(NAMES.flatMap((n) => (['keep', 'drop', '?', '\ufffd'] as const).map((lost) => [n, lost] as const)))('repairs %s with 0x98 stored as %j', (name, lost) => {
    const g = garble(name, lost);
    expect(g).not.toBe(name);
    expect(repairMojibake(g)).toBe(name);
    expect(isMojibake(g)).toBe(true);
  });

  it.each([...NAMES, 'Smith John', 'card 0012345', '', 'Р', 'Р 1', 'СССР', 'РРР', 'Café', '日本語', 'emoji 🚪', "'; DROP TABLE events; --", '100% _x_'])(
    'passes clean text through unchanged: %j',
    (clean) => {
      expect(repairMojibake(clean)).toBe(clean);
      expect(isMojibake(clean)).toBe(false);
    },
  );

  it('cannot tell text made only of dropped «И» from clean «Р»s, nor «и» from clean «Рё»: those stay as they are', () => {
    expect(repairMojibake(garble('ИИИ', 'drop'))).toBe('РРР');
    expect(repairMojibake(garble('ИИИ'))).toBe('ИИИ');
    expect(repairMojibake(garble('И', '?'))).toBe('И');
    expect(repairMojibake('Рё')).toBe('и');
  });

  it('keeps null as null', () => {
    expect(repairMojibake(null)).toBeNull();
    expect(isMojibake(null)).toBe(false);
  });

  it('repairs mojibake of mixed Latin, digits and Cyrillic', () => {
    expect(repairMojibake(garble('Door 3 / Дверь 3'))).toBe('Door 3 / Дверь 3');
    expect(repairMojibake(garble('Иван', 'drop') + ' ' + garble('Ильич', '?'))).toBe('Иван Ильич');
  });
});
