/**
 * E-Poselok nodes (one runtime file, two types):
 *  - `e-poselok-config`: settlement name, token + camId (credentials), list / check base URLs,
 *    timeouts, breaker; exposes `client` (EposelokClient) and `checker: OnlineChecker` (for
 *    plate-check; null when the configuration is incomplete).
 *  - `e-poselok-sync`: keeps the local mirror in step with E-Poselok: on start, every N minutes
 *    and on any input (msg.confirm === true confirms a suspicious shrink). Output 1: the sync
 *    report; output 2: the sync state (msg.topic `gatepost/eposelok/state`) for the flow — the runtime's MQTT bridge is
 *    that topic's one publisher, so do not wire it to an mqtt-out node. A thin adapter
 *    over `eposelokOf(hub)`.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from '../common/hub';
import { textProp, credentialProp } from '../common/env';
import { nodeConfig, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { TOPIC_EPOSELOK_STATE } from '../../src/core/topics';
import { EposelokClient, EposelokConfig } from '../../src/devices/eposelok-client';
import { eposelokOf, EposelokState, SyncReport, SyncTrigger } from '../../src/services/eposelok-service';
import { passesOf } from '../../src/services/passes-service';
import type { OnlineChecker } from '../../src/core/contracts';

interface ConfigDef extends NodeDef {
  settlement?: string;
  listBase?: string;
  checkBase?: string;
  listTimeout?: string | number;
  checkTimeout?: string | number;
  breakerFailures?: string | number;
  breakerReset?: string | number;
  plateForm?: string;
}
interface ConfigCreds {
  token?: string;
  camId?: string;
}
interface SyncDef extends NodeDef {
  eposelok?: string;
  interval?: string | number;
  maxShrink?: string | number;
  staleHours?: string | number;
  syncOnStart?: boolean | string;
}

interface EposelokConfigNode extends Node {
  client: EposelokClient | null;
  checker: OnlineChecker | null;
  problems: string[];
}

const STATE_TOPIC = TOPIC_EPOSELOK_STATE;
const REPORT_TOPIC = 'gatepost/eposelok/sync';

/** The config node's numeric properties (seconds; empty or an unset ${VAR}: the default; out of range: invalid). */
const CONFIG_SCHEMA = {
  listTimeout: { type: 'number', min: 1, max: 300, default: 20, label: 'list timeout (s)' },
  checkTimeout: { type: 'number', min: 0.1, max: 10, default: 1.5, label: 'check timeout (s)' },
  breakerFailures: { type: 'int', min: 1, max: 100, default: 3, label: 'breaker failures' },
  breakerReset: { type: 'number', min: 1, max: 3600, default: 30, label: 'breaker reset (s)' },
} satisfies Schema;
/** The sync node's: interval in minutes, shrink in %, stale after hours. */
const SYNC_SCHEMA = {
  interval: { type: 'number', min: 1, max: 7 * 24 * 60, default: 60, label: 'interval (min)' },
  maxShrink: { type: 'number', min: 0, max: 100, default: 50, label: 'maximum shrink (%)' },
  staleHours: { type: 'number', above: 0, max: 24 * 30, default: 3, label: 'stale after (h)' },
} satisfies Schema;

/** A property that is still `${VAR}` (env not set) or empty → undefined. */
function age(ms: number): string {
  if (ms < 60_000) return '<1 min';
  if (ms < 3600_000) return `${Math.floor(ms / 60_000)} min`;
  if (ms < 48 * 3600_000) return `${Math.floor(ms / 3600_000)} h`;
  return `${Math.floor(ms / 86400_000)} d`;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);

  function EposelokConfigNode(this: EposelokConfigNode, config: ConfigDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const creds = ((this as any).credentials ?? {}) as ConfigCreds;
    const nums = nodeConfig(RED, node, 'e-poselok-config', config, CONFIG_SCHEMA);
    const n = nums.value ?? { listTimeout: 20, checkTimeout: 1.5, breakerFailures: 3, breakerReset: 30 };
    const cfg: Partial<EposelokConfig> = {
      name: textProp(config.settlement) ?? (process.env.GATEPOST_EPOSELOK_NAME || undefined),
      token: credentialProp(creds.token, 'GATEPOST_EPOSELOK_TOKEN'),
      camId: credentialProp(creds.camId, 'GATEPOST_EPOSELOK_CAMID'),
      listBase: textProp(config.listBase),
      checkBase: textProp(config.checkBase),
      listTimeoutMs: n.listTimeout * 1000,
      checkTimeoutMs: n.checkTimeout * 1000,
      breakerFailures: n.breakerFailures,
      breakerResetMs: n.breakerReset * 1000,
      plateForm: config.plateForm === 'cyrillic' ? 'cyrillic' : 'canonical',
    };
    node.problems = [...EposelokClient.problems(cfg), ...(nums.invalid ? [nums.invalid] : [])];
    if (node.problems.length) {
      node.client = null;
      node.checker = null;
      node.error(t('e-poselok-config.errors.incomplete', `E-Poselok configuration incomplete: ${node.problems.join(', ')}`, { missing: node.problems.join(', ') }));
    } else {
      node.client = new EposelokClient(cfg as EposelokConfig, hub.logger, hub.clock);
      node.checker = node.client;
    }
  }
  RED.nodes.registerType('e-poselok-config', EposelokConfigNode as any, {
    credentials: { token: { type: 'password' }, camId: { type: 'password' } },
  });

  function EposelokSyncNode(this: Node, config: SyncDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const svc = eposelokOf(hub);
    const cfgNode = config.eposelok ? (RED.nodes.getNode(config.eposelok) as unknown as EposelokConfigNode | null) : null;
    const client = cfgNode?.client ?? null;
    const sync = nodeConfig(RED, node, 'e-poselok-sync', config, SYNC_SCHEMA);
    if (!sync.value) {
      node.on('input', (_msg: NodeMessageInFlow, _send, done) => done(new Error(sync.invalid)));
      return;
    }
    const intervalMs = sync.value.interval * 60_000;
    const maxShrink = sync.value.maxShrink / 100;
    const staleAfterMs = sync.value.staleHours * 3600_000;
    const syncOnStart = config.syncOnStart !== false && config.syncOnStart !== 'false';
    let closed = false;
    let syncing = false;
    let last: EposelokState | null = null;

    const status = () => {
      if (closed) return;
      if (!client) {
        node.status({ fill: 'red', shape: 'ring', text: t('e-poselok-sync.status.config', 'not configured') });
        return;
      }
      if (syncing) {
        node.status({ fill: 'blue', shape: 'ring', text: t('e-poselok-sync.status.syncing', 'syncing…') });
        return;
      }
      const s = last ?? svc.state();
      const count = s.count;
      const ago = s.lastSuccessAt === null ? t('e-poselok-sync.status.never', 'never') : age(hub.clock.now() - s.lastSuccessAt);
      const base = t('e-poselok-sync.status.count', `${count} passes · ${ago}`, { count, age: ago });
      if (s.stale) node.status({ fill: 'red', shape: 'ring', text: `${t('e-poselok-sync.status.stale', 'stale')} · ${base}` });
      else if (s.pendingConfirm) node.status({ fill: 'yellow', shape: 'ring', text: `${t('e-poselok-sync.status.confirm', 'confirm shrink')} · ${base}` });
      else if (s.ok === false) node.status({ fill: 'yellow', shape: 'ring', text: `${t('e-poselok-sync.status.error', 'error')} · ${base}` });
      else if (s.ok === true) node.status({ fill: 'green', shape: 'dot', text: base });
      else node.status({ fill: 'grey', shape: 'ring', text: base });
    };

    if (!client) {
      node.error(
        cfgNode
          ? t('e-poselok-sync.errors.config', `E-Poselok configuration incomplete: ${cfgNode.problems.join(', ')}`, { missing: cfgNode.problems.join(', ') })
          : t('e-poselok-sync.errors.noConfig', 'no E-Poselok configuration selected'),
      );
      status();
      node.on('input', (_msg: NodeMessageInFlow, _send, done) =>
        done(new Error(cfgNode ? `E-Poselok configuration incomplete: ${cfgNode.problems.join(', ')}` : 'no E-Poselok configuration selected')),
      );
      return;
    }

    const offState = hub.on('eposelok-state', (s: EposelokState) => {
      if (closed) return;
      last = s;
      node.send([null, { topic: STATE_TOPIC, payload: s, retain: true } as any]);
      status();
    });

    const run = async (trigger: SyncTrigger, confirm: boolean): Promise<SyncReport> => {
      syncing = true;
      status();
      try {
        return await svc.sync(client, { trigger, confirm, maxShrink });
      } finally {
        syncing = false;
        status();
      }
    };
    const warnOf = (r: SyncReport) => {
      if (r.needsConfirm) node.warn(t('e-poselok-sync.errors.shrink', `suspicious shrink not applied: ${r.message}`, { message: r.message ?? '' }));
    };
    // start / interval / API: the report goes out as a new message
    const background = (trigger: SyncTrigger, confirm = false): Promise<SyncReport> =>
      run(trigger, confirm).then((r) => {
        if (!closed) node.send([{ topic: REPORT_TOPIC, payload: r } as any, null]);
        if (!r.ok && !r.needsConfirm && !closed) node.error(t('e-poselok-sync.errors.sync', `sync failed, the last good list is kept: ${r.error}`, { error: r.error ?? '' }));
        warnOf(r);
        return r;
      });
    const unregister = svc.registerSyncer((o) => background(o.trigger, o.confirm), { staleAfterMs });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      const confirm = msg.confirm === true;
      run('input', confirm).then(
        (r) => {
          msg.topic = REPORT_TOPIC;
          msg.payload = r;
          send([msg, null]);
          warnOf(r);
          if (!r.ok && !r.needsConfirm) done(new Error(`E-Poselok sync failed, the last good list is kept: ${r.error}`));
          else done();
        },
        (err) => {
          node.status({ fill: 'red', shape: 'ring', text: shortError(err) });
          done(err as Error);
        },
      );
    });

    let interval: NodeJS.Timeout | null = setInterval(() => void background('interval'), intervalMs);
    let startTimer: NodeJS.Timeout | null = null;
    const ageTimer = setInterval(status, 60_000);
    svc.ready().then(
      () => {
        if (closed) return;
        last = svc.state();
        status();
        // the first sync after the pass index is loaded: not beside it at start (CPU and memory peak)
        if (syncOnStart) {
          passesOf(hub)
            .ready()
            .catch(() => undefined)
            .then(() => {
              if (!closed) startTimer = setTimeout(() => void background('start'), 0);
            });
        }
      },
      (err) => {
        node.error(`E-Poselok state not loaded: ${(err as Error).message}`);
        node.status({ fill: 'red', shape: 'ring', text: shortError(err) });
      },
    );

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (interval) clearInterval(interval);
      interval = null;
      if (startTimer) clearTimeout(startTimer);
      clearInterval(ageTimer);
      offState();
      unregister();
      done();
    });
  }
  RED.nodes.registerType('e-poselok-sync', EposelokSyncNode as any);
};
