/**
 * The small base every gatepost node uses, so that all behave alike:
 *  - `translator(RED)`: the one t() — the catalog text of a full key (`<type>.<path>`), else the
 *    English fallback (when the catalog is not loaded, e.g. under the test helper);
 *  - `nodeConfig(...)`: a node's properties read through its schema (src/core/schema.ts) after
 *    its config migrations: an unset `${VAR}` counts as empty; an invalid value is never silently
 *    replaced — the node shows a red "configuration invalid" status, logs the clear error, and
 *    fails every message with done(err) (see `failInvalid`);
 *  - `userOf(msg)`: the one rule for the acting user of a message;
 *  - `fail(node, done, err)`: failures go to done(err) (Catch nodes see them) with a red status.
 *    A node with a documented error output sends there too, then calls done(err).
 *
 * Config versions: a node type lists migration steps; step i turns a config of version i into
 * version i + 1 (version 0: saved before versions existed). Sites whose edited flows are never
 * overwritten still get renamed or new properties when their nodes start; the editor's defaults
 * carry the current `configVersion`, so a saved node is not migrated again.
 */
import type { Node, NodeAPI } from 'node-red';
import { parseConfig, Parsed, Schema } from '../../src/core/schema';
import { textProp } from './env';
import { shortError } from './hub';

export type Translate = (key: string, fallback: string, vars?: Record<string, unknown>) => string;

/**
 * Catalog texts already translated, per runtime (the language is fixed at start): a status text
 * is set on every message, and i18next's lookup and interpolation cost more than the rest of the
 * status update. Only catalog hits are kept (a fallback may be replaced once the catalog loads);
 * bounded (texts with counts or times in their variables are many).
 */
const translated = new WeakMap<NodeAPI, Map<string, string>>();
const TRANSLATED_MAX = 2000;

/** The one t(): `key` is the full catalog key, e.g. 'plate-check.status.ready'. */
export function translator(RED: NodeAPI): Translate {
  let cache = translated.get(RED);
  if (!cache) translated.set(RED, (cache = new Map()));
  const texts = cache;
  return (key, fallback, vars) => {
    let id = key;
    if (vars) {
      try {
        id = `${key}\u0000${JSON.stringify(vars)}`;
      } catch {
        id = '';
      }
    }
    const hit = id ? texts.get(id) : undefined;
    if (hit !== undefined) return hit;
    const s = RED._(key, vars as Record<string, string> | undefined);
    if (!s || s === key) return fallback;
    if (id) {
      if (texts.size >= TRANSLATED_MAX) texts.clear();
      texts.set(id, s);
    }
    return s;
  };
}

/**
 * The acting user of a message: `msg.user` (a name, or `{ username | name | id }`), else Dashboard
 * 2.0's `msg._client.user` (a name, or `{ username | userId | name }`) or its socket id; '' when a
 * user is given without a name, null when the message names none. At most 64 characters.
 */
export function userOf(msg: Record<string, any>): string | null {
  const cut = (s: unknown) =>
    String(s ?? '')
      .trim()
      .slice(0, 64);
  const u = msg.user;
  if (typeof u === 'string') return cut(u);
  if (u && typeof u === 'object') return cut(u.username ?? u.name ?? u.id);
  const c = msg._client;
  if (c && typeof c === 'object') {
    const cu = c.user;
    if (typeof cu === 'string') return cut(cu);
    if (cu && typeof cu === 'object') return cut(cu.username ?? cu.userId ?? cu.name);
    return cut(c.socketId);
  }
  return null;
}

export type ConfigMigration = (config: Record<string, unknown>) => Record<string, unknown>;

/** Applies the steps a config has not had yet; the result carries `configVersion` = steps.length. */
export function migrateConfig<C extends object>(config: C, steps: readonly ConfigMigration[]): C & { configVersion: number } {
  const from = Number((config as { configVersion?: unknown }).configVersion) || 0;
  let c = { ...(config as Record<string, unknown>) };
  for (let v = from; v < steps.length; v++) c = steps[v]({ ...c });
  c.configVersion = Math.max(from, steps.length);
  return c as C & { configVersion: number };
}

/** A node property as the schema sees it: an unset `${VAR}` or blank text is empty. */
function prop(v: unknown): unknown {
  return typeof v === 'string' ? textProp(v) : v;
}

/**
 * A node's configuration read through `schema` (after `migrations`): the value, or null after the
 * red status and a clear node.error (`invalid` then says why, for done(err)).
 */
export function nodeConfig<S extends Schema>(
  RED: NodeAPI,
  node: Node,
  type: string,
  config: object,
  schema: S,
  migrations: readonly ConfigMigration[] = [],
): { value: Parsed<S>; invalid: null } | { value: null; invalid: string } {
  const migrated = migrateConfig(config, migrations) as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  for (const k of Object.keys(schema)) raw[k] = prop(migrated[k]);
  const r = parseConfig(schema, raw);
  if (r.ok) return { value: r.value, invalid: null };
  const invalid = `${type}: configuration invalid: ${r.problems.join('; ')}`;
  showInvalid(RED, node, type, invalid);
  return { value: null, invalid };
}

/** Red status + a clear error in the log for an invalid configuration. */
export function showInvalid(RED: NodeAPI, node: Node, type: string, message: string): void {
  node.error(message);
  node.status({ fill: 'red', shape: 'ring', text: translator(RED)(`${type}.status.badConfig`, 'configuration invalid') });
}

/** A failure: red status with the short reason, and done(err) so Catch nodes see it. */
export function fail(node: Node, done: (err?: Error) => void, err: unknown, statusText?: string): void {
  const e = err instanceof Error ? err : new Error(String(err));
  node.status({ fill: 'red', shape: 'ring', text: statusText ?? shortError(e) });
  done(e);
}
