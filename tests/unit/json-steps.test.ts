/**
 * parseJsonSteps (src/core/steps.ts): the E-Poselok list's JSON parsed in chunks with yields
 * between them gives exactly JSON.parse's value, and exactly JSON.parse's error for a text it
 * rejects — for documents cut at many places (small chunk sizes) and for broken ones.
 */
import { parseJsonSteps, runSteps, Steps } from '../../src/core/steps';

/** Runs the steps, counting the yields. */
function run(g: Steps<unknown>): { value: unknown; yields: number } {
  let yields = 0;
  for (;;) {
    const r = g.next();
    if (r.done) return { value: r.value, yields };
    yields++;
  }
}

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
  return 'no error';
};

function list(n: number, seed: number): string {
  const items1: unknown[] = [];
  const items2: unknown[] = [];
  for (let i = 0; i < n; i++) {
    // texts with the characters a scanner could trip on: quotes, escapes, brackets, commas
    const odd = ['А 123 ВС 77', 'x"y', 'a\\"],[{', '}{', '\\', 'тест, [1]', '\u2028', '😀'][(i + seed) % 8];
    const item: Record<string, unknown> = { Number: i % 5 === 0 ? i : String(i), Plate: i % 7 === 0 ? odd : `A${String(i % 1000).padStart(3, '0')}BC77` };
    if (i % 11 === 0) item.Extra = [1, [2, { a: '[]' }], null];
    (i % 3 ? items1 : items2).push(i % 13 === 0 ? [item] : item);
  }
  return JSON.stringify({ AllowedList1: items1, Meta: { count: n, lists: [1, 2] }, AllowedList2: items2, Empty: [], Scalar: 'x', '7': [7] });
}

describe('parseJsonSteps', () => {
  test.each([64, 200, 1024, 1 << 20])('a list cut every ~%i characters: the value of JSON.parse', (chunk) => {
    for (const seed of [0, 3]) {
      const text = list(500, seed);
      const { value, yields } = run(parseJsonSteps(text, chunk));
      expect(value).toEqual(JSON.parse(text));
      // cut into steps when the text is long against the chunk size, whole otherwise
      if (text.length > 2 * chunk) expect(yields).toBeGreaterThan(text.length / chunk / 2);
      else expect(yields).toBe(0);
    }
  });

  test('whitespace around and inside, duplicate keys, a "__proto__" key, nested and empty arrays', () => {
    const texts = [
      ` \n {"a" : [ 1 , 2 ,\n 3 ] , "a": [ 4 ], "b" : [ ] , "c": [[1,2],[3,[4,5]]] }\n `,
      `{"__proto__": [1, 2, 3], "x": [{"__proto__": 1}]}`,
      `{"k": "[\\"]", "l": ["\\\\", "]", "[", ",", "\\u005d"]}`,
      `{"a": [${Array.from({ length: 300 }, (_, i) => `{"n":${i},"s":"${'x'.repeat(i % 17)}"}`).join(' , ')}]}`,
    ];
    for (const text of texts) {
      const value = runSteps(parseJsonSteps(text, 8));
      expect(value).toEqual(JSON.parse(text));
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value as object)).toEqual(Object.keys(JSON.parse(text)));
    }
  });

  test('a text JSON.parse rejects throws its error (cuts or not)', () => {
    const good = list(200, 1);
    const broken = [
      good.slice(0, -1), // unclosed object
      good.slice(0, good.length / 2), // cut in the middle
      good.replace('},{', '},,{'), // an empty element
      good.replace(/\](,"Meta")/, ',$1'), // a trailing comma instead of ]
      good.replace(/\](,"Meta")/, ',]$1'), // a trailing comma before ]
      good.replace(/\](,"Meta")/, '}$1'), // ] closed by }
      good.replace('"Meta"', 'Meta'), // a bare key
      good + '{}', // two documents
      good + ']', // a stray bracket
      good.replace('[', '[,'), // a leading comma
      '{"a": [1, 2] "b": [3]}'.padEnd(400, ' '), // a missing comma between members
      `{"a": [${'1,'.repeat(300)}]}`,
      `{"a": [${'"x",'.repeat(300)}"y"}`,
      `{"a": [${'"x",'.repeat(300)}"y]}`, // an unterminated string
      '{"a": [1, 2]]}'.padEnd(400, ' '),
    ];
    for (const text of broken) {
      const expected = errorOf(() => JSON.parse(text));
      expect(expected).toMatch(/^SyntaxError/);
      expect({ text: text.slice(0, 60), error: errorOf(() => runSteps(parseJsonSteps(text, 16))) }).toEqual({ text: text.slice(0, 60), error: expected });
    }
  });

  test('other documents (an array, a scalar, a small object) are parsed whole', () => {
    for (const text of [`[${'1,'.repeat(500)}2]`, '"x"', '12', 'null', '{"a":[1]}']) {
      const { value, yields } = run(parseJsonSteps(text, 8));
      expect(yields).toBe(0);
      expect(value).toEqual(JSON.parse(text));
    }
  });
});
