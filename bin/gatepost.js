#!/usr/bin/env node
// gatepost CLI: runs the built runtime (dist/src/runtime/main.js). `gatepost --restore-flows`,
// `gatepost --version`. Build first (`npm run build`; `npm start` does it).
'use strict';
const path = require('path');
const fs = require('fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'runtime', 'main.js');
if (!fs.existsSync(main)) {
  console.error(`gatepost: ${main} is missing; run "npm run build" first`);
  process.exit(1);
}
require(main).cli(process.argv.slice(2));
