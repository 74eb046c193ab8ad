/**
 * Jest reporter: clears test-output/faults/ when the run starts and prints the rows the fault
 * tests reported (tests/helpers/faults.ts) as one table when it ends.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const DIR = path.join(__dirname, '..', '..', 'test-output', 'faults');

function readRows() {
  if (!fs.existsSync(DIR)) return [];
  const rows = [];
  for (const f of fs.readdirSync(DIR).sort()) {
    if (!f.endsWith('.jsonl')) continue;
    for (const line of fs.readFileSync(path.join(DIR, f), 'utf8').split('\n')) if (line.trim()) rows.push(JSON.parse(line));
  }
  return rows;
}

function table(rows) {
  const head = ['attack / fault', 'tried', 'survived', 'lost', 'crashes', 'note'];
  const cells = rows.map((r) => [r.attack, String(r.tried), String(r.survived), String(r.lost), String(r.crashes ?? 0), r.note ?? '']);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => '| ' + c.map((x, i) => x.padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}

class FaultReporter {
  onRunStart() {
    fs.rmSync(DIR, { recursive: true, force: true });
  }
  onRunComplete() {
    const rows = readRows();
    if (!rows.length) return;
    rows.sort((a, b) => a.attack.localeCompare(b.attack));
    const lost = rows.reduce((n, r) => n + r.lost, 0);
    const crashes = rows.reduce((n, r) => n + (r.crashes ?? 0), 0);
    process.stdout.write(`\nFault suite: ${rows.length} rows, ${lost} lost, ${crashes} crashes\n${table(rows)}\n`);
  }
}
module.exports = FaultReporter;
module.exports.readRows = readRows;
module.exports.table = table;
