/**
 * A large E-Poselok sync applied in slices (issue 17) on a real sqlite file and the E-Poselok
 * emulator on 127.0.0.1: while the list is parsed, diffed, committed and indexed, lookups run
 * between the slices (a probe on every macrotask) and never see a removed pass once the diff is
 * committed, never lose a pass that stays listed, and the end state is the new list.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { passesOf } from '../../src/services/passes-service';
import { eposelokOf } from '../../src/services/eposelok-service';
import { EposelokClient } from '../../src/devices/eposelok-client';
import { startEposelokEmulator, EposelokEmulator, syntheticPasses, EposelokLists } from '../../src/emulators/eposelok';
import { normalizePlate } from '../../src/core/plate';
import { EXACT } from '../../src/core/match';
import { silentLogger } from '../../src/core/log';

const TOKEN = 'tok-slices';
const CAM = 'cam-1';

describe('E-Poselok sync in slices', () => {
  let dir: string;
  let hub: Hub;
  let emu: EposelokEmulator;
  let client: EposelokClient;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-epo-slices-'));
    hub = Hub.open({ dbPath: path.join(dir, 'e.db'), logger: silentLogger });
    await passesOf(hub).ready();
    await eposelokOf(hub).ready();
    emu = await startEposelokEmulator({ name: 'sosnovka', token: TOKEN, camId: CAM, passes: { AllowedList1: [], AllowedList2: [] } });
    client = new EposelokClient({ name: 'sosnovka', token: TOKEN, camId: CAM, listBase: emu.url, checkBase: emu.url, listTimeoutMs: 20000, checkTimeoutMs: 300 }, silentLogger);
  });
  afterEach(async () => {
    await emu.close();
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('20k → half removed, 8k added: removed plates refused from the commit on, kept plates allowed throughout', async () => {
    const svc = eposelokOf(hub);
    const passes = passesOf(hub);
    const old = syntheticPasses(20000, 21);
    emu.setPasses(old);
    expect(await svc.sync(client, { trigger: 'test' })).toMatchObject({ ok: true, added: 20000 });

    const plateOf = (it: { Plate: unknown }) => normalizePlate(String(it.Plate))!.canonical;
    const oldItems = [...old.AllowedList1!, ...old.AllowedList2!] as Array<{ Plate: string; Number: string }>;
    const oldPlates = new Set(oldItems.map(plateOf));
    const fresh = ([...syntheticPasses(9000, 77).AllowedList1!] as Array<{ Plate: string; Number: string }>).filter((it) => !oldPlates.has(plateOf(it)));
    const keptItems = oldItems.filter((_, i) => i % 2 === 1);
    const next: EposelokLists = { AllowedList1: [...keptItems, ...fresh], AllowedList2: [] };
    const keptPlates = new Set(keptItems.map(plateOf));
    const removedPlates = [...oldPlates].filter((p) => !keptPlates.has(p));
    const kept = [...keptPlates];
    emu.setPasses(next);

    const allowed = (c: string) => passes.match(normalizePlate(c)!, EXACT) !== null;
    // the moment the sync announces its committed diff to the index
    let announced = false;
    let indexed = false;
    const orig = passes.mirrorChanged.bind(passes);
    passes.mirrorChanged = (a, r, u) => {
      const done = orig(a, r, u);
      announced = true;
      void done.then(() => (indexed = true));
      return done;
    };
    const faults: string[] = [];
    let probes = 0;
    let probesWhileIndexing = 0;
    let stop = false;
    const probe = () => {
      if (stop) return;
      probes++;
      if (announced && !indexed) probesWhileIndexing++;
      // a slice of the plates on every macrotask (all removed plates once the diff is committed)
      const k = probes % 10;
      if (announced) for (let i = k; i < removedPlates.length; i += 10) if (allowed(removedPlates[i])) faults.push(`removed ${removedPlates[i]} allowed (probe ${probes})`);
      for (let i = k; i < kept.length; i += 25) if (!allowed(kept[i])) faults.push(`kept ${kept[i]} refused (probe ${probes})`);
      setImmediate(probe);
    };
    setImmediate(probe);
    const report = await svc.sync(client, { trigger: 'test', confirm: true });
    stop = true;
    expect(report).toMatchObject({ ok: true, added: fresh.length, removed: removedPlates.length, total: keptItems.length + fresh.length });
    expect(faults.slice(0, 5)).toEqual([]);
    // lookups really ran while the sync worked (between its slices), not only before and after
    expect(probes).toBeGreaterThan(20);
    expect(indexed).toBe(true);
    // the end state is the new list
    expect(passes.index.mirrorSize).toBe(keptItems.length + fresh.length);
    for (const c of removedPlates) expect(allowed(c)).toBe(false);
    for (const c of [...kept, ...fresh.map(plateOf)]) expect(allowed(c)).toBe(true);
    expect((passes.index as any).revoked).toEqual([]);
    void probesWhileIndexing;
  });
});
