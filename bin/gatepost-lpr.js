#!/usr/bin/env node
// gatepost-lpr: publish a plate to gatepost and exit with its decision (see docs/MQTT.md).
// A tiny shim: the compiled command lives in dist/ (npm run build).
'use strict';
require('../dist/src/cli/gatepost-lpr.js').run();
