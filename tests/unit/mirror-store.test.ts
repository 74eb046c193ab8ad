/**
 * MirrorStore's apply: the rows, ids and returned passes are those of a plain row-by-row insert;
 * a large diff is built beside the mirror (short writes that other writes can follow) and swapped
 * in whole; an apply cut short leaves the mirror as it was.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Db } from '../../src/store/db';
import { MirrorStore, SWAP_MIN_CHANGES } from '../../src/store/mirror-store';
import type { ListEntry } from '../../src/core/eposelok-list';

const COLS = 'id, list, canonical, raw, digits, house, first_seen, last_seen';

const entry = (canonical: string, house: string, raw = canonical, digits: string | null = null, list: ListEntry['list'] = 'AllowedList1'): ListEntry => ({ list, canonical, raw, digits, house });

describe('MirrorStore apply', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-mirror-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The same list inserted the plain way (one bound INSERT per row, ids chosen by sqlite). */
  async function plainRows(entries: ListEntry[], now: number, preset: ListEntry[] = [], presetNow = 0, drop: string[] = []): Promise<any[]> {
    const db = await Db.open(path.join(dir, 'plain.db'));
    const ins = 'INSERT INTO mirror_passes (list, canonical, raw, digits, house, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)';
    for (const e of preset) await db.run(ins, [e.list, e.canonical, e.raw, e.digits, e.house, presetNow, presetNow]);
    for (const c of drop) await db.run('DELETE FROM mirror_passes WHERE canonical = ?', [c]);
    for (const e of entries) await db.run(ins, [e.list, e.canonical, e.raw, e.digits, e.house, now, now]);
    const rows = await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`);
    await db.close();
    return rows;
  }

  test('a first list: rows and ids as sqlite assigns them, odd texts stored as bound strings', async () => {
    const entries: ListEntry[] = [];
    for (let i = 0; i < 23_456; i++)
      entries.push(entry(`A${String(i % 1000).padStart(3, '0')}BC${100 + Math.floor(i / 1000)}`, String(i % 7), `а ${i}`, String(i % 1000).padStart(3, '0'), i % 2 ? 'AllowedList2' : 'AllowedList1'));
    entries.push(entry('X1Y2', '', 'x1y2 \u{1F600}'), entry('X1Y3', 'дом "5" \\ \n', 'cut \ud83d'), entry('X1Y4', '', 'lone \ude00 low', '000'));
    const db = await Db.open(path.join(dir, 'a.db'));
    const store = new MirrorStore(db);
    const r = await store.applyList(entries, { now: 1000 });
    if (!r.applied) throw new Error('not applied');
    const rows = await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`);
    expect(rows).toEqual(await plainRows(entries, 1000));
    // the returned passes are the rows, in list order (the JS strings as given)
    expect(r.added.map((p) => p.id)).toEqual(rows.map((x) => x.id));
    expect(r.added[1]).toEqual({
      id: rows[1].id,
      list: 'AllowedList2',
      canonical: entries[1].canonical,
      raw: entries[1].raw,
      digits: entries[1].digits,
      house: entries[1].house,
      firstSeen: 1000,
      lastSeen: 1000,
    });
    expect(r.added[r.added.length - 2].raw).toBe('cut \ud83d');
    await db.close();
  });

  test('a later list: new ids follow the largest one left after the removals', async () => {
    const first = [entry('A001AA77', '1'), entry('A002AA77', '2'), entry('A003AA77', '3'), entry('A004AA77', '4')];
    const second = [entry('A001AA77', '1'), entry('A002AA77', '2'), entry('B005BB77', '5'), entry('B006BB77', '6')];
    const db = await Db.open(path.join(dir, 'b.db'));
    const store = new MirrorStore(db);
    await store.applyList(first, { now: 10 });
    const r = await store.applyList(second, { now: 20, confirm: true });
    if (!r.applied) throw new Error('not applied');
    expect(r.removedIds).toEqual([3, 4]);
    expect(r.added.map((p) => [p.id, p.canonical])).toEqual([
      [3, 'B005BB77'],
      [4, 'B006BB77'],
    ]);
    const rows = await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`);
    expect(rows).toEqual(await plainRows(second.slice(2), 20, first, 10, ['A003AA77', 'A004AA77']));
    await db.close();
  });

  const many = (n: number, prefix: string, house = '1'): ListEntry[] => Array.from({ length: n }, (_, i) => entry(`${prefix}${String(i).padStart(5, '0')}`, house));
  // read on the writer: the schema after every write queued so far
  const schemaOf = async (db: Db): Promise<Array<{ type: string; name: string; tbl_name: string }>> =>
    JSON.parse(
      (
        await db.getAfterWrites(
          "SELECT json_group_array(json_object('type', type, 'name', name, 'tbl_name', tbl_name)) AS j FROM (SELECT * FROM sqlite_master WHERE tbl_name LIKE 'mirror%' ORDER BY type, name)",
        )
      ).j,
    );

  test('a list replaced: built beside and swapped in; ids, rows and indexes as an in-place apply gives', async () => {
    const first = many(SWAP_MIN_CHANGES + 500, 'A');
    // the second keeps the first 300, changes the house of the next 200, drops the rest, adds more than SWAP_MIN_CHANGES
    const second = [...first.slice(0, 300), ...first.slice(300, 500).map((e) => ({ ...e, house: '2' })), ...many(SWAP_MIN_CHANGES + 100, 'B')];
    const db = await Db.open(path.join(dir, 'c.db'));
    const store = new MirrorStore(db);
    const r1 = await store.applyList(first, { now: 10 });
    const r2 = await store.applyList(second, { now: 20, confirm: true });
    if (!r1.applied || !r2.applied) throw new Error('not applied');
    expect(r2.removedIds).toEqual(r1.added.slice(500).map((p) => p.id));
    expect(r2.updated.map((p) => [p.id, p.house, p.lastSeen])).toEqual(r1.added.slice(300, 500).map((p) => [p.id, '2', 20]));
    // new ids follow the largest id left (the kept and updated ones: 1..500)
    expect(r2.added.map((p) => p.id)).toEqual(Array.from({ length: SWAP_MIN_CHANGES + 100 }, (_, i) => 501 + i));
    const rows = await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`);
    expect(rows.length).toBe(500 + SWAP_MIN_CHANGES + 100);
    expect(rows.slice(0, 300)).toEqual(
      r1.added.slice(0, 300).map((p) => ({ id: p.id, list: p.list, canonical: p.canonical, raw: p.raw, digits: p.digits, house: '1', first_seen: 10, last_seen: 10 })),
    );
    expect(rows.slice(300, 500).map((x) => [x.house, x.first_seen, x.last_seen])).toEqual(Array(200).fill(['2', 10, 20]));
    expect(rows.slice(500).map((x) => [x.id, x.canonical, x.first_seen])).toEqual(r2.added.map((p) => [p.id, p.canonical, 20]));
    // the same two indexes (the first list, large too, was built beside: suffix _a, this one _b), no copy left, and the planner uses them
    const schema = await schemaOf(db);
    expect(schema.filter((x) => x.type === 'table').map((x) => x.name)).toEqual(['mirror_passes']);
    expect(schema.filter((x) => x.type === 'index').map((x) => [x.name, x.tbl_name])).toEqual([
      ['mirror_passes_canonical_b', 'mirror_passes'],
      ['mirror_passes_digits_b', 'mirror_passes'],
      ['sqlite_autoindex_mirror_passes_1', 'mirror_passes'], // UNIQUE (list, canonical, house), renamed with the table
    ]);
    const plan = await db.getAfterWrites('EXPLAIN QUERY PLAN SELECT id FROM mirror_passes WHERE canonical = ?', ['B00001']);
    expect(plan.detail).toMatch(/USING (COVERING )?INDEX mirror_passes_canonical_b/);
    // the run is recorded once, in the swap
    expect((await store.lastRuns(5)).map((x) => [x.ok, x.added, x.removed, x.total])).toEqual([
      [true, SWAP_MIN_CHANGES + 100, SWAP_MIN_CHANGES, second.length],
      [true, first.length, 0, first.length],
    ]);
    // a third large apply takes the first suffix again
    const r3 = await store.applyList(many(SWAP_MIN_CHANGES + 1, 'C'), { now: 30, confirm: true });
    expect(r3.applied).toBe(true);
    expect((await schemaOf(db)).filter((x) => x.type === 'index').map((x) => x.name)).toEqual(['mirror_passes_canonical_a', 'mirror_passes_digits_a', 'sqlite_autoindex_mirror_passes_1']);
    expect((await db.get('SELECT COUNT(*) AS n FROM mirror_passes')).n).toBe(SWAP_MIN_CHANGES + 1);
    await db.close();
  });

  test('a large apply lets other writes through while it builds the copy', async () => {
    const db = await Db.open(path.join(dir, 'd.db'));
    const store = new MirrorStore(db);
    await db.run('CREATE TABLE probe (ts INTEGER)');
    const order: string[] = [];
    const apply = store.applyList(many(SWAP_MIN_CHANGES * 5, 'D'), { now: 1 }).then(() => order.push('apply'));
    // once the copy exists, a write queued now is done before the apply is
    for (let i = 0; i < 500 && !(await db.get("SELECT 1 AS x FROM sqlite_master WHERE name = 'mirror_next'")); i++) await new Promise((r) => setTimeout(r, 2));
    await db.run('INSERT INTO probe VALUES (1)').then(() => order.push('write'));
    await apply;
    expect(order).toEqual(['write', 'apply']);
    await db.close();
  });

  test('a large apply cut short by a write error leaves the mirror as it was, and the next one works', async () => {
    const db = await Db.open(path.join(dir, 'e.db'));
    const store = new MirrorStore(db);
    const first = many(100, 'E');
    await store.applyList(first, { now: 1 });
    const before = await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`);
    // the copy's third insert fails (a real sqlite error in its place)
    const realRun = db.run.bind(db);
    let inserts = 0;
    db.run = (sql, params) => {
      if (sql.startsWith('INSERT INTO mirror_next') && ++inserts === 3) return realRun('INSERT INTO mirror_next (id, list) VALUES (1, NULL)');
      return realRun(sql, params);
    };
    await expect(store.applyList(many(SWAP_MIN_CHANGES * 3, 'F'), { now: 2, confirm: true })).rejects.toThrow(/NOT NULL constraint failed: mirror_next.list/);
    db.run = realRun;
    expect(await db.all(`SELECT ${COLS} FROM mirror_passes ORDER BY id`)).toEqual(before);
    expect((await schemaOf(db)).map((x) => x.name)).toEqual(['mirror_passes_canonical', 'mirror_passes_digits', 'sqlite_autoindex_mirror_passes_1', 'mirror_passes']);
    // a copy left by a crash is dropped by the next large apply
    await db.run('CREATE TABLE mirror_next (id INTEGER PRIMARY KEY, junk TEXT)');
    const r = await store.applyList(many(SWAP_MIN_CHANGES * 3, 'F'), { now: 3, confirm: true });
    expect(r.applied && r.added.length).toBe(SWAP_MIN_CHANGES * 3);
    expect((await db.get('SELECT COUNT(*) AS n FROM mirror_passes')).n).toBe(SWAP_MIN_CHANGES * 3);
    expect((await schemaOf(db)).map((x) => x.name)).toEqual(['mirror_passes_canonical_a', 'mirror_passes_digits_a', 'sqlite_autoindex_mirror_passes_1', 'mirror_passes']);
    await db.close();
  });
});
