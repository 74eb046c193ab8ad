/** MirrorStore's bulk insert: the rows, ids and returned passes are those of a plain row-by-row insert. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Db } from '../../src/store/db';
import { MirrorStore } from '../../src/store/mirror-store';
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
    await db.run('UPDATE mirror_passes SET last_seen = ?', [now]);
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
});
