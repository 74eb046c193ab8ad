#!/usr/bin/env node
// Build: TypeScript -> CommonJS in dist/, then copy the editor files (.html) and locales of every
// node beside its compiled .js, where Node-RED looks for them.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});

function copyAssets(srcDir, dstDir) {
  for (const entry of fs.readdirSync(srcDir, { withFileTypes: true })) {
    const s = path.join(srcDir, entry.name);
    const d = path.join(dstDir, entry.name);
    if (entry.isDirectory()) copyAssets(s, d);
    else if (!entry.name.endsWith('.ts')) {
      fs.mkdirSync(dstDir, { recursive: true });
      fs.copyFileSync(s, d);
    }
  }
}
copyAssets(path.join(root, 'nodes'), path.join(root, 'dist', 'nodes'));
// the synthetic RTSP camera (GStreamer, Python) of tests, demo mode and benchmarks
fs.copyFileSync(path.join(root, 'src', 'emulators', 'rtsp_camera.py'), path.join(root, 'dist', 'src', 'emulators', 'rtsp_camera.py'));
