/**
 * Package habits: `main` is a real, light library entry; mssql pinned to a version that installs;
 * bench/ does not import from tests/ (the runtime harness is harness/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

test('package.json main is built and exports the contracts, the normaliser and the topic helpers without loading anything heavy', () => {
  const main = path.join(ROOT, pkg.main);
  expect(fs.existsSync(main)).toBe(true); // npm run build first (npm test does)
  const script = `
    const lib = require(${JSON.stringify(main)});
    const loaded = Object.keys(require.cache).filter((f) => /node_modules/.test(f));
    console.log(JSON.stringify({ plate: lib.normalizePlate('а123вс77').canonical, kinds: lib.CREDENTIAL_KINDS, topic: lib.gateSetTopic('main'), loaded }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ plate: 'A123BC77', topic: 'gatepost/gate/main/set' });
  expect(out.kinds).toContain('card');
  expect(out.loaded).toEqual([]);
});

test('mssql is pinned to 12.7.14 in package.json and the lock file', () => {
  expect(pkg.dependencies.mssql).toBe('12.7.14');
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  expect(lock.packages[''].dependencies.mssql).toBe('12.7.14');
  expect(lock.packages['node_modules/mssql'].version).toBe('12.7.14');
});

test('bench/ imports nothing from tests/', () => {
  for (const f of fs.readdirSync(path.join(ROOT, 'bench')).filter((x) => x.endsWith('.ts'))) {
    const src = fs.readFileSync(path.join(ROOT, 'bench', f), 'utf8');
    expect([f, /(from|require\()\s*['"][^'"]*\/tests\//.test(src) || /['"]tests['"]\s*,\s*['"]helpers['"]/.test(src)]).toEqual([f, false]);
  }
});
