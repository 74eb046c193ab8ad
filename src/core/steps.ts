/**
 * Long pure computations written once as generators that `yield` between small pieces of work:
 * `runSteps` runs one to the end at once (tests, small inputs), `runSliced` runs it in time
 * slices with a macrotask between them, so a 100k-pass sync never holds the event loop for long
 * (decisions, MQTT and HTTP run between the slices). The timer only decides where to pause;
 * results never depend on it.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to the end synchronously. */
export function runSteps<T>(g: Steps<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Slice length of `runSliced` (ms): well under the 20 ms stall budget of issue 17. */
export const SLICE_MS = 2;

const nextMacrotask = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs the steps in slices of about `sliceMs`, a macrotask (setImmediate) between slices. The
 * first slice runs synchronously, inside the call (what it does is in effect when this returns).
 */
export function runSliced<T>(g: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  const slice = (): T | undefined => {
    const until = performance.now() + sliceMs;
    for (;;) {
      const r = g.next();
      if (r.done) {
        done = true;
        return r.value;
      }
      if (performance.now() >= until) return undefined;
    }
  };
  let done = false;
  try {
    const first = slice();
    if (done) return Promise.resolve(first as T);
  } catch (err) {
    return Promise.reject(err);
  }
  return (async () => {
    for (;;) {
      await nextMacrotask();
      const v = slice();
      if (done) return v as T;
    }
  })();
}

/** Characters of array elements parsed per step by parseJsonSteps (~1 ms of JSON.parse here). */
export const JSON_CHUNK_CHARS = 32 * 1024;

/**
 * JSON.parse in steps, for a document that is an object of large arrays (E-Poselok's list: a
 * 2 MB body held the event loop ~40 ms in one JSON.parse). The elements of each array that is a
 * value of the top-level object are parsed in chunks of about `chunkChars` characters, cut at
 * the array's own commas, with a yield between chunks; the rest (the object with those arrays
 * left empty) is one JSON.parse. The value is the one JSON.parse gives, and a text JSON.parse
 * rejects throws JSON.parse's own SyntaxError. Any other document (small, an array, a scalar) is
 * parsed whole.
 */
export function* parseJsonSteps(text: string, chunkChars = JSON_CHUNK_CHARS): Steps<unknown> {
  let start = 0;
  while (start < text.length && /\s/.test(text[start])) start++;
  if (text.length - start < 2 * chunkChars || text.charCodeAt(start) !== 0x7b /* { */) return JSON.parse(text);
  const arrays: unknown[][] = [];
  const skeleton: string[] = [];
  let copied = 0; // text before this index is in `skeleton` (or skipped as an array's elements)
  let depth = 0;
  let inString = false;
  let arrayFrom = -1; // the index after '[' of the top-level value being cut, or -1
  let chunkFrom = 0;
  let elements: unknown[] = [];
  let scanned = 0;
  const fail = (): never => {
    JSON.parse(text); // throws the parser's own message for the text as a whole
    throw new SyntaxError('Unexpected JSON structure'); // not reached for an invalid text
  };
  const take = (to: number, last: boolean) => {
    const piece = text.slice(chunkFrom, to);
    if (!/\S/.test(piece)) {
      // an empty array is fine; an empty piece after a cut is a stray comma ("[1,]", "[1,,2]")
      if (!last || chunkFrom !== arrayFrom) fail();
      return;
    }
    let values: unknown[];
    try {
      values = JSON.parse(`[${piece}]`) as unknown[];
    } catch {
      return fail();
    }
    for (const v of values) elements.push(v);
  };
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b /* { [ */) {
      depth++;
      if (depth === 2 && c === 0x5b) {
        arrayFrom = chunkFrom = i + 1;
        elements = [];
        skeleton.push(text.slice(copied, i + 1));
      }
    } else if (c === 0x7d || c === 0x5d /* } ] */) {
      if (depth === 2 && arrayFrom >= 0) {
        if (c !== 0x5d) fail();
        take(i, true);
        skeleton.push(String(arrays.length)); // a marker: the array's index
        arrays.push(elements);
        copied = i;
        arrayFrom = -1;
      }
      depth--;
    } else if (c === 0x2c /* , */ && depth === 2 && arrayFrom >= 0 && i - chunkFrom >= chunkChars) {
      take(i, false);
      chunkFrom = i + 1;
      yield;
    }
    if (++scanned % chunkChars === 0) yield;
  }
  if (inString || depth !== 0) fail();
  skeleton.push(text.slice(copied));
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(skeleton.join('')) as Record<string, unknown>;
  } catch {
    return fail();
  }
  for (const key of Object.keys(doc)) {
    const v = doc[key];
    // every array value of the object was cut and left its marker, [k] (defineProperty: a key "__proto__" stays a plain key)
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number' && arrays[v[0]]) Object.defineProperty(doc, key, { value: arrays[v[0]], writable: true, enumerable: true, configurable: true });
  }
  return doc;
}
