/**
 * How a node reaches the shared gatepost hub: from the runtime settings (`settings.js` →
 * `gatepost: { dbPath, timezone, retentionYears }`), with environment fallbacks. Every node of
 * a runtime gets the same hub, so the plate check, the gates and the REST API see one state.
 */
import * as path from 'path';
import type { NodeAPI } from 'node-red';
import { Hub } from '../../src/services/hub';

export interface GatepostSettings {
  dbPath?: string;
  timezone?: string;
  retentionYears?: number;
}

export function hubFor(RED: NodeAPI): Hub {
  const s = ((RED.settings as any).gatepost ?? {}) as GatepostSettings;
  const userDir = (RED.settings as any).userDir as string | undefined;
  const dataDir = process.env.GATEPOST_DATA_DIR || userDir || process.cwd();
  return Hub.open({
    dbPath: s.dbPath || path.join(dataDir, 'gatepost.db'),
    timezone: s.timezone || process.env.GATEPOST_TZ || process.env.TZ,
    retentionYears: s.retentionYears,
    logger: {
      debug: (m) => RED.log.debug(`[gatepost] ${m}`),
      info: (m) => RED.log.info(`[gatepost] ${m}`),
      warn: (m) => RED.log.warn(`[gatepost] ${m}`),
      error: (m) => RED.log.error(`[gatepost] ${m}`),
    },
  });
}

/** Short error text for node.status (Node-RED wants < 20 chars, we allow a little more). */
export function shortError(err: unknown, max = 32): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > max ? m.slice(0, max - 1) + '…' : m;
}
