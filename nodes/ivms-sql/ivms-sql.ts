/**
 * `ivms-sql`: the config node of one iVMS-4200 SQL Server source (the attlog table iVMS writes
 * access events into): host, port, database, table, user + password (credentials; `${VAR}`
 * resolved), encrypt, trust server certificate, poll interval, batch size, rescan window, column
 * map, direction map, time zone. Exposes `source` (IvmsSource, null when not configured: the host
 * is unset) and `reader` settings for `ivms-attlog`. Nothing secret is logged.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { textProp, credentialProp } from '../common/env';
import { nodeConfig } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { IVMS_COLUMNS } from '../../src/core/contracts';
import type { IvmsColumn } from '../../src/core/contracts';
import { IvmsSource, IvmsError } from '../../src/devices/ivms-source';
import type { IvmsSqlNode } from '../ivms-sql/types';

interface ConfigDef extends NodeDef {
  host?: string;
  port?: string | number;
  database?: string;
  table?: string;
  encrypt?: string | boolean;
  trustCert?: string | boolean;
  poll?: string | number;
  batch?: string | number;
  rescanHours?: string | number;
  columns?: string;
  directions?: string;
  timezone?: string;
}
interface ConfigCreds {
  user?: string;
  password?: string;
}

const SCHEMA = {
  port: { type: 'int', min: 1, max: 65535, default: 1433, label: 'port' },
  database: { type: 'string', max: 128, default: 'thirdparty', label: 'database' },
  table: { type: 'string', max: 400, default: 'dbo.attlog', label: 'table' },
  encrypt: { type: 'bool', default: false, label: 'encrypt' },
  trustCert: { type: 'bool', default: true, label: 'trust server certificate' },
  poll: { type: 'number', min: 0.2, max: 3600, default: 1, label: 'poll interval (s)' },
  batch: { type: 'int', min: 1, max: 10000, default: 500, label: 'batch size' },
  rescanHours: { type: 'number', min: 0, max: 24 * 7, default: 2, label: 'rescan window (h)' },
  columns: { type: 'string-map', default: {}, label: 'column map' },
  directions: { type: 'string-map', default: {}, label: 'direction map' },
  timezone: { type: 'string', max: 64, label: 'time zone' },
} satisfies Schema;

export = function (RED: NodeAPI): void {
  function IvmsSqlConfigNode(this: IvmsSqlNode, config: ConfigDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = ((this as any).credentials ?? {}) as ConfigCreds;
    node.source = null;
    node.problem = null;
    node.unset = false;
    node.pollMs = 1000;
    node.rescanWindowMs = 2 * 3600_000;
    node.directionMap = {};
    node.timezone = undefined;
    const host = textProp(config.host);
    if (!host) {
      node.unset = true;
      node.problem = 'not configured (host unset)';
      return;
    }
    const parsed = nodeConfig(RED, node, 'ivms-sql', config, SCHEMA);
    if (!parsed.value) {
      node.problem = parsed.invalid;
      return;
    }
    const v = parsed.value;
    const columns: Partial<Record<IvmsColumn, string>> = {};
    const bad: string[] = [];
    for (const [k, name] of Object.entries(v.columns)) {
      if ((IVMS_COLUMNS as readonly string[]).includes(k)) columns[k as IvmsColumn] = name;
      else bad.push(`unknown column "${k}" in the column map (known: ${IVMS_COLUMNS.join(', ')})`);
    }
    for (const [label, dir] of Object.entries(v.directions)) {
      const d = dir.trim().toLowerCase();
      if (d === 'in' || d === 'out') node.directionMap[label] = d;
      else bad.push(`direction "${label}" must map to in or out (got "${dir}")`);
    }
    if (v.timezone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: v.timezone });
      } catch {
        bad.push(`time zone "${v.timezone}" is not an IANA zone (e.g. Europe/Moscow)`);
      }
    }
    if (bad.length) {
      node.problem = `ivms-sql: configuration invalid: ${bad.join('; ')}`;
      node.error(node.problem);
      return;
    }
    node.pollMs = Math.round(v.poll * 1000);
    node.rescanWindowMs = Math.round(v.rescanHours * 3600_000);
    node.timezone = v.timezone || undefined;
    try {
      node.source = new IvmsSource({
        host,
        port: v.port,
        database: v.database,
        table: v.table,
        user: credentialProp(creds.user, 'GATEPOST_IVMS_USER') ?? '',
        password: credentialProp(creds.password, 'GATEPOST_IVMS_PASSWORD') ?? '',
        encrypt: v.encrypt,
        trustServerCertificate: v.trustCert,
        batchSize: v.batch,
        columns,
      });
    } catch (err) {
      node.problem = `ivms-sql: configuration invalid: ${err instanceof IvmsError ? err.message : String(err)}`;
      node.error(node.problem);
      return;
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      const s = node.source;
      node.source = null;
      if (s) s.close().then(done, done);
      else done();
    });
  }
  RED.nodes.registerType('ivms-sql', IvmsSqlConfigNode as any, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });
};
