/**
 * The benchmark dataset, shared by the benchmarks that need a realistic database: 100k E-Poselok
 * mirror passes, 5k temporary passes (a fifth of them digits-only, a quarter expired) and 1M
 * events over the last ~3 years, written straight into a gatepost sqlite file through `Db` (the
 * schema of the migrations) with multi-row INSERTs (~25 s on a 2-core VM). Deterministic (mulberry32, seed 42): the same plates every run.
 *
 *   const db = await hub.db();                 // in-process (plates.bench.ts)
 *   const ds = await generateDataset(db);      // or into <dataDir>/gatepost.db before a runtime start
 *   ds.mirrorPlates[i]                         // distinct canonical plates, all allowed by the mirror
 */
import type { Db, Tx } from '../src/store/db';
import { PLATE_LETTERS } from '../src/core/plate';

export const REGIONS = ['77', '97', '99', '177', '197', '199', '777', '799', '50', '90', '150', '190', '750', '16', '116', '78', '98', '178'];

/** deterministic pseudo-random (mulberry32) */
export function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes rows with multi-row INSERTs (`rowsPerStatement` rows a statement): one sqlite3 round
 * trip per few hundred rows instead of one per row (1M events: ~60 s → a few seconds).
 */
export class BatchInsert {
  private buf: unknown[] = [];
  private n = 0;
  private readonly one: string;

  constructor(
    private readonly tx: Tx,
    private readonly table: string,
    private readonly columns: string[],
    private readonly rowsPerStatement = Math.floor(900 / columns.length),
  ) {
    this.one = `(${columns.map(() => '?').join(',')})`;
  }

  async add(row: unknown[]): Promise<void> {
    this.buf.push(...row);
    if (++this.n >= this.rowsPerStatement) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.n) return;
    const sql = `INSERT INTO ${this.table} (${this.columns.join(', ')}) VALUES ${Array(this.n).fill(this.one).join(',')}`;
    const params = this.buf;
    this.buf = [];
    this.n = 0;
    await this.tx.run(sql, params);
  }
}

export interface DatasetOptions {
  mirror?: number;
  temp?: number;
  events?: number;
  seed?: number;
  /** epoch ms the data is relative to (default Date.now()) */
  now?: number;
  /** ms between two events (default 90 s: 1M events span ~2.85 years) */
  spacingMs?: number;
}

export interface Dataset {
  /** distinct canonical plates of the mirror (every one is allowed) */
  mirrorPlates: string[];
  /** plates of the temporary passes that are plates (not digits-only); some are expired */
  tempPlates: string[];
  /** the generator, left where the generation ended (callers continue the same sequence) */
  rand: () => number;
  pick<T>(a: ArrayLike<T>): T;
  /** a random plate in the canonical form */
  plate(): string;
  counts: { mirror: number; temp: number; events: number };
  genMs: number;
}

export async function generateDataset(db: Db, opts: DatasetOptions = {}): Promise<Dataset> {
  const MIRROR = opts.mirror ?? 100_000;
  const TEMP = opts.temp ?? 5_000;
  const EVENTS = opts.events ?? 1_000_000;
  const now = opts.now ?? Date.now();
  const spacing = opts.spacingMs ?? 90_000;
  const rand = rng(opts.seed ?? 42);
  const pick = <T>(a: ArrayLike<T>): T => a[Math.floor(rand() * a.length)];
  const plate = () => `${pick(PLATE_LETTERS)}${String(Math.floor(rand() * 1000)).padStart(3, '0')}${pick(PLATE_LETTERS)}${pick(PLATE_LETTERS)}${pick(REGIONS)}`;
  const genStart = Date.now();
  // a large page cache on the writer while the 7 indexes of events grow (restored afterwards)
  const cacheBefore = (await db.getAfterWrites<{ cache_size: number }>('PRAGMA cache_size'))?.cache_size;
  await db.run('PRAGMA cache_size=-400000');

  const mirrorPlates: string[] = [];
  const seen = new Set<string>();
  while (mirrorPlates.length < MIRROR) {
    const p = plate();
    if (!seen.has(p)) {
      seen.add(p);
      mirrorPlates.push(p);
    }
  }
  await db.transaction(async (tx) => {
    const ins = new BatchInsert(tx, 'mirror_passes', ['list', 'canonical', 'raw', 'digits', 'house', 'first_seen', 'last_seen']);
    for (let i = 0; i < MIRROR; i++) {
      const p = mirrorPlates[i];
      await ins.add([i % 3 ? 'AllowedList1' : 'AllowedList2', p, p, p.slice(1, 4), String(1 + (i % 900)), now, now]);
    }
    await ins.flush();
  });
  const tempPlates: string[] = [];
  await db.transaction(async (tx) => {
    const ins = new BatchInsert(tx, 'temp_passes', ['kind', 'raw', 'canonical', 'digits', 'house', 'note', 'author', 'created_at', 'valid_from', 'valid_to']);
    for (let i = 0; i < TEMP; i++) {
      const digitsOnly = i % 5 === 0;
      const p = plate();
      if (!digitsOnly) tempPlates.push(p);
      const expired = i % 4 === 3;
      await ins.add([
        digitsOnly ? 'digits' : 'plate',
        digitsOnly ? p.slice(1, 4) : p,
        digitsOnly ? null : p,
        p.slice(1, 4),
        String(i % 900),
        '',
        'bench',
        now - 86400000,
        now - 86400000,
        expired ? now - 3600000 : now + 86400000,
      ]);
    }
    await ins.flush();
  });
  const decisions = ['allowed', 'denied', 'repeat', 'rejected'];
  const sources = ['mirror', 'temporary', 'online', 'none'];
  const CHUNK = 100_000;
  for (let c = 0; c < EVENTS; c += CHUNK) {
    await db.transaction(async (tx) => {
      const ins = new BatchInsert(tx, 'events', ['ts', 'camera', 'gate', 'direction', 'plate_raw', 'canonical', 'digits', 'confidence', 'decision', 'source', 'reason', 'latency_ms']);
      for (let i = c; i < Math.min(EVENTS, c + CHUNK); i++) {
        const p = i % 3 ? pick(mirrorPlates) : plate();
        await ins.add([
          now - (EVENTS - i) * spacing,
          i % 2 ? 'cam1' : 'cam2',
          i % 2 ? 'main' : 'side',
          i % 2 ? 'entry' : 'exit',
          p,
          p,
          p.slice(1, 4),
          0.9,
          decisions[i % 4],
          sources[i % 4],
          'bench',
          0.1,
        ]);
      }
      await ins.flush();
    });
  }
  if (cacheBefore !== undefined) await db.run(`PRAGMA cache_size=${Number(cacheBefore)}`);
  return { mirrorPlates, tempPlates, rand, pick, plate, counts: { mirror: MIRROR, temp: TEMP, events: EVENTS }, genMs: Date.now() - genStart };
}
