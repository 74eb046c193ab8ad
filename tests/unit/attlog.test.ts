import { kindOfVerifyMode, LocalTime, mapDirection, normalizeIvmsRow, parseHourMinute, Passage, personKeyOf, timeOfRow, whoIsInside, workDaysOf, workTotals, LastPassage } from '../../src/core/attlog';
import { garble } from '../../src/core/mojibake';
import type { IvmsRow } from '../../src/core/contracts';

const MSK = new LocalTime('Europe/Moscow');
/** epoch of a Moscow wall clock 'YYYY-MM-DD HH:MM' */
const at = (s: string) => Date.parse(`${s.replace(' ', 'T')}:00+03:00`);
const H = 3600000;

describe('direction and kind mapping', () => {
  it.each([
    ['vhod', undefined, 'in'],
    ['VIHOD', undefined, 'out'],
    ['Вход', undefined, 'in'],
    [' выход ', undefined, 'out'],
    ['in', undefined, 'in'],
    ['out', undefined, 'out'],
    ['1', undefined, 'in'],
    ['0', undefined, 'out'],
    ['entry', undefined, 'in'],
    ['side', undefined, null],
    ['', undefined, null],
    [null, undefined, null],
    ['side', { SIDE: 'out' as const }, 'out'],
    ['vhod', { vhod: 'out' as const }, 'out'],
    ['x', { x: 'sideways' as never }, null],
  ])('%j with map %j → %j', (label, map, want) => {
    expect(mapDirection(label, map)).toBe(want);
  });

  it.each([
    [null, 'card'],
    ['', 'card'],
    ['card', 'card'],
    ['Card or Face', 'face'],
    ['face', 'face'],
    ['Лицо', 'face'],
    ['fingerPrint', 'fingerprint'],
    ['FP', 'fingerprint'],
    ['отпечаток', 'fingerprint'],
    ['pin', 'card'],
  ])('verifyMode %j → %s', (mode, want) => {
    expect(kindOfVerifyMode(mode)).toBe(want);
  });

  it.each([
    ['20:00', 1200],
    ['7', 420],
    ['07:30', 450],
    ['24:00', null],
    ['off', null],
    ['', null],
    [undefined, null],
  ])('hour %j → %j', (v, want) => {
    expect(parseHourMinute(v)).toBe(want);
  });

  it.each([
    ['42', 'Иван', '1', 'id:42'],
    [null, ' Иван Петров ', '1', 'name:иван петров'],
    ['', null, '0007', 'card:0007'],
    [null, null, null, null],
  ])('person key of (%j, %j, %j) = %j', (e, n, c, want) => {
    expect(personKeyOf(e, n, c)).toBe(want);
  });
});

describe('the stored wall clock in the site zone', () => {
  const row = (authLocal: string | null, authDate: string | null = null, authTime: string | null = null) => ({ authLocal, authDate, authTime });
  it.each([
    [row('2024-03-11T08:00:00.000'), '2024-03-11T05:00:00.000Z'],
    [row('2024-03-11 08:00:00'), '2024-03-11T05:00:00.000Z'],
    [row('2024-03-11T08:00:00.5'), '2024-03-11T05:00:00.500Z'],
    [row('2024-03-11T08:00'), '2024-03-11T05:00:00.000Z'],
    [row(null, '2024-03-11', '08:00:01'), '2024-03-11T05:00:01.000Z'],
    [row(null, '11.03.2024', '8:00'), '2024-03-11T05:00:00.000Z'],
    [row('garbage', '2024-03-11', '08:00:00'), '2024-03-11T05:00:00.000Z'],
    [row('2024-13-11T08:00:00'), null],
    [row(null), null],
  ])('%j → %j', (r, want) => {
    const t = timeOfRow(r, MSK);
    expect(t === null ? null : new Date(t).toISOString()).toBe(want);
  });

  it('follows daylight saving time (Berlin)', () => {
    const lt = new LocalTime('Europe/Berlin');
    expect(new Date(timeOfRow(row('2024-07-01T12:00:00'), lt)!).toISOString()).toBe('2024-07-01T10:00:00.000Z');
    expect(new Date(timeOfRow(row('2024-01-01T12:00:00'), lt)!).toISOString()).toBe('2024-01-01T11:00:00.000Z');
    expect(lt.day(Date.parse('2024-06-30T22:30:00Z'))).toBe('2024-07-01');
    expect(lt.minuteOfDay(Date.parse('2024-06-30T22:30:00Z'))).toBe(30);
  });

  it('normalizes a whole row: clean + raw text, search key with both spellings', () => {
    const r: IvmsRow = {
      serialNo: 9,
      authLocal: '2024-03-11T08:00:00',
      authDate: null,
      authTime: null,
      direction: garble('Выход'),
      deviceName: garble('Терминал'),
      deviceSN: ' SN9 ',
      personName: garble('Ильин Илья'),
      cardNo: ' 00123 ',
      doorName: null,
      readerName: garble('Считыватель И'),
      employeeID: 'E-5',
      verifyMode: null,
    };
    const n = normalizeIvmsRow(r, { lt: MSK, now: 0 });
    expect(n).toMatchObject({
      direction: 'out',
      personName: 'Ильин Илья',
      personNameRaw: garble('Ильин Илья'),
      door: 'Считыватель И',
      doorRaw: null,
      device: 'Терминал',
      cardNo: '00123',
      deviceSN: 'SN9',
      personKey: 'id:E-5',
      kind: 'card',
      timeMissing: false,
    });
    expect(n.searchKey).toContain('ильин илья');
    expect(n.searchKey).toContain(garble('Ильин Илья').toLowerCase());
    expect(n.searchKey).toContain('00123');
  });
});

describe('work time: pairing passages', () => {
  type Case = [string, Array<[string, 'in' | 'out' | null]>, string, Array<[string, string | null, string | null, number, string[]]>];
  const now = at('2024-03-20 12:00');
  const cases: Case[] = [
    [
      'a plain day',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-11 17:00', 'out'],
      ],
      '',
      [['2024-03-11', '08:00', '17:00', 9, []]],
    ],
    [
      'lunch break: two pairs',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-11 12:00', 'out'],
        ['2024-03-11 13:00', 'in'],
        ['2024-03-11 17:30', 'out'],
      ],
      '',
      [['2024-03-11', '08:00', '17:30', 8.5, []]],
    ],
    [
      'night shift across midnight belongs to its first day',
      [
        ['2024-03-11 22:00', 'in'],
        ['2024-03-12 06:00', 'out'],
      ],
      '',
      [['2024-03-11', '22:00', '06:00', 8, []]],
    ],
    [
      'night shifts two nights in a row',
      [
        ['2024-03-11 22:00', 'in'],
        ['2024-03-12 06:00', 'out'],
        ['2024-03-12 22:00', 'in'],
        ['2024-03-13 06:30', 'out'],
      ],
      '',
      [
        ['2024-03-11', '22:00', '06:00', 8, []],
        ['2024-03-12', '22:00', '06:30', 8.5, []],
      ],
    ],
    [
      'missing exit: flagged, not counted, next day fine',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-12 08:00', 'in'],
        ['2024-03-12 17:00', 'out'],
      ],
      '',
      [
        ['2024-03-11', '08:00', null, 0, ['missing-exit']],
        ['2024-03-12', '08:00', '17:00', 9, []],
      ],
    ],
    ['missing entry: flagged', [['2024-03-11 17:00', 'out']], '', [['2024-03-11', null, '17:00', 0, ['missing-entry']]]],
    [
      'an exit after more than a shift is no pair',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-12 09:00', 'out'],
      ],
      '',
      [
        ['2024-03-11', '08:00', null, 0, ['missing-exit']],
        ['2024-03-12', null, '09:00', 0, ['missing-entry']],
      ],
    ],
    [
      'repeated swipes within a minute merged',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-11 08:00', 'in'],
        ['2024-03-11 17:00', 'out'],
        ['2024-03-11 17:00', 'out'],
      ],
      '',
      [['2024-03-11', '08:00', '17:00', 9, []]],
    ],
    [
      'unknown directions ignored',
      [
        ['2024-03-11 08:00', 'in'],
        ['2024-03-11 10:00', null],
        ['2024-03-11 17:00', 'out'],
      ],
      '',
      [['2024-03-11', '08:00', '17:00', 9, []]],
    ],
    ['still inside now: flagged inside, not missing', [['2024-03-20 08:00', 'in']], '', [['2024-03-20', '08:00', null, 0, ['inside']]]],
    [
      'unsorted input',
      [
        ['2024-03-11 17:00', 'out'],
        ['2024-03-11 08:00', 'in'],
      ],
      '',
      [['2024-03-11', '08:00', '17:00', 9, []]],
    ],
    [
      'period edge: the night before the period pairs but is not reported',
      [
        ['2024-03-10 22:00', 'in'],
        ['2024-03-11 06:00', 'out'],
        ['2024-03-11 22:00', 'in'],
        ['2024-03-12 06:00', 'out'],
      ],
      '2024-03-11',
      [['2024-03-11', '22:00', '06:00', 8, []]],
    ],
    ['nothing', [], '', []],
  ];
  it.each(cases)('%s', (_name, passages, fromDay, want) => {
    const ps: Passage[] = passages.map(([t, d]) => ({ ts: at(t), direction: d }));
    const days = workDaysOf('id:1', 'Иван', ps, { lt: MSK, now, fromDay: fromDay || undefined });
    const hm = (t: number | null) => (t === null ? null : MSK.wallClock(t).slice(11, 16));
    expect(days.map((d) => [d.day, hm(d.firstIn), hm(d.lastOut), d.insideMs / H, d.flags])).toEqual(want);
  });

  it('totals per person', () => {
    const a = workDaysOf(
      'a',
      'A',
      [
        { ts: at('2024-03-11 08:00'), direction: 'in' },
        { ts: at('2024-03-11 17:00'), direction: 'out' },
        { ts: at('2024-03-12 08:00'), direction: 'in' },
      ],
      { lt: MSK, now },
    );
    const b = workDaysOf(
      'b',
      'B',
      [
        { ts: at('2024-03-11 09:00'), direction: 'in' },
        { ts: at('2024-03-11 10:00'), direction: 'out' },
      ],
      { lt: MSK, now },
    );
    expect(workTotals([...a, ...b])).toEqual([
      { person: 'a', name: 'A', days: 2, insideMs: 9 * H, flaggedDays: 1 },
      { person: 'b', name: 'B', days: 1, insideMs: 1 * H, flaggedDays: 0 },
    ]);
  });
});

describe('who is inside', () => {
  const last = (person: string, t: string, direction: 'in' | 'out' | null, door = 'Проходная'): LastPassage => ({ person, name: person, employeeID: null, cardNo: null, ts: at(t), direction, door });
  const people = [
    last('a', '2024-03-11 08:00', 'in'),
    last('b', '2024-03-11 09:00', 'out'),
    last('c', '2024-03-10 22:00', 'in', 'Склад'),
    last('d', '2024-03-01 08:00', 'in'),
    last('e', '2024-03-11 07:00', null),
  ];
  it.each([
    ['midday, after-hours off', '2024-03-11 12:00', null, 2, 0, []],
    ['midday, 20:00: the night-shift worker since yesterday is highlighted', '2024-03-11 12:00', 1200, 2, 1, ['c']],
    ['21:00, 20:00: both', '2024-03-11 21:00', 1200, 2, 2, ['c', 'a']],
    ['next morning: c is stale (over 24 h), a since yesterday', '2024-03-12 07:00', 1200, 1, 1, ['a']],
  ])('%s', (_n, now, afterHours, inside, after, highlighted) => {
    const s = whoIsInside(people, { lt: MSK, now: at(now), afterHours });
    expect(s.inside).toBe(inside);
    expect(s.afterHours).toBe(after);
    expect(s.people.filter((p) => p.afterHours).map((p) => p.person)).toEqual(highlighted);
    expect(s.people.find((p) => p.person === 'd')).toMatchObject({ inside: false, stale: true });
    expect(s.people.find((p) => p.person === 'e')).toMatchObject({ inside: false, stale: false });
    // inside first, earliest entry first
    const firstOut = s.people.findIndex((p) => !p.inside);
    expect(s.people.slice(firstOut).every((p) => !p.inside)).toBe(true);
  });
});
