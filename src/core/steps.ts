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
export const SLICE_MS = 8;

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
