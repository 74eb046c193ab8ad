/**
 * `npm run bench`: runs every benchmark module in bench/ (each exports `run(): Promise<BenchRow[]>`)
 * one after another and prints one table. `npm run bench -- plates gates` runs only those.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BenchRow, printTable } from './lib';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => !only.length || only.some((o) => f.startsWith(o)))
    .sort();
  const rows: BenchRow[] = [];
  for (const f of files) {
    const mod = require(path.join(__dirname, f)) as { run: () => Promise<BenchRow[]> };
    const started = Date.now();
    process.stderr.write(`bench ${f} ...\n`);
    try {
      rows.push(...(await mod.run()));
    } catch (err) {
      rows.push({ area: f, metric: 'error', value: String((err as Error).message) });
    }
    process.stderr.write(`bench ${f} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  printTable(rows);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
