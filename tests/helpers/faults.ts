/**
 * The fault suite's table (issue: hardening). A test under tests/faults/ that attacks or breaks the
 * real runtime reports what it measured with `reportFault()`; the jest reporter
 * tests/helpers/fault-reporter.js prints every row as one table at the end of the run
 * (`npm test` and `npm run faults`). Rows are measurements of the run, never constants: `tried` is
 * how many attacks/faults were made, `survived` how many the runtime answered correctly afterwards,
 * `lost` how many acknowledged things (decisions, events, plates) went missing, `crashes` how many
 * times the process died unasked.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './runtime';

export interface FaultRow {
  /** what was done, e.g. 'MQTT CONNECT as cam1 with the flows' client id' */
  attack: string;
  tried: number;
  survived: number;
  lost: number;
  crashes?: number;
  /** a short measured detail: 'p50 9 → 11 ms', 'RSS +3 MB' */
  note?: string;
}

export const FAULTS_DIR = path.join(ROOT, 'test-output', 'faults');

export function reportFault(row: FaultRow): void {
  fs.mkdirSync(FAULTS_DIR, { recursive: true });
  const file = path.join(FAULTS_DIR, `${process.pid}.jsonl`);
  fs.appendFileSync(file, JSON.stringify({ crashes: 0, ...row }) + '\n');
}
