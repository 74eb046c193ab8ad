/**
 * The package's library entry (`main`): gatepost's contracts, the plate normaliser and client
 * helpers (topics, plate input parsing, gate commands) — pure code, nothing heavy is loaded (no
 * Node-RED, sqlite, HTTP or MQTT client). The Node-RED nodes are registered through `node-red.nodes`;
 * the standalone runtime is `gatepost` (bin/).
 */
export * from './core/contracts';
export { normalizePlate, displayPlate, canonicalOf, normalizeQuery } from './core/plate';
export { parseLprInput, lprTopicOf } from './core/lpr-input';
export { GATE_COMMANDS, isGateCommand } from './core/gate';
export * from './core/topics';
