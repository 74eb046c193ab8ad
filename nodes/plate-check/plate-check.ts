/**
 * `plate-check`: a plate message in (LPR MQTT `gatepost/lpr/<camera>` via `mqtt in`, or any
 * flow), the Decision out on three outputs: 1 allowed, 2 denied, 3 other (repeat reads,
 * rejected input and fallback passages). A thin adapter over PlateChecker
 * (src/services/plate-checker.ts); the event is recorded in the background, after the allowed
 * decision has gone out. A fallback passage (`gatepost/lpr/<camera>/fallback`, decided by
 * `gatepost-lpr` while gatepost was down) is only recorded and always leaves on output 3.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor } from '../common/hub';
import { fail, nodeConfig, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { DEFAULT_MAX_AGE_MS, PlateChecker, parseCameraMap } from '../../src/services/plate-checker';
import { isPolicyName, policyFrom } from '../../src/core/match';
import type { OnlineChecker } from '../../src/core/contracts';

interface PlateCheckDef extends NodeDef {
  cameras?: string;
  gate?: string;
  direction?: string;
  policy?: string;
  maxEdit?: string | number;
  repeatWindow?: string | number;
  maxAge?: string | number;
  onlineTimeout?: string | number;
  eposelok?: string;
}

/** The numeric properties, in seconds (empty or an unset ${VAR}: the default; out of range: invalid). */
const SCHEMA = {
  repeatWindow: { type: 'number', min: 0, max: 3600, default: 15, label: 'repeat window (s)' },
  maxAge: { type: 'number', min: 1, max: 3600, default: DEFAULT_MAX_AGE_MS / 1000, label: 'maximum age (s)' },
  onlineTimeout: { type: 'number', min: 0.1, max: 10, default: 1.5, label: 'online check timeout (s)' },
} satisfies Schema;

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function PlateCheckNode(this: Node, config: PlateCheckDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const cfg = nodeConfig(RED, node, 'plate-check', config, SCHEMA);
    let configError: string | null = cfg.invalid;
    let cameras = null;
    try {
      cameras = parseCameraMap(config.cameras);
    } catch (err) {
      configError = `camera map: ${(err as Error).message}`;
      node.error(t('plate-check.errors.cameras', `camera map is invalid: ${(err as Error).message}`, { error: (err as Error).message }));
    }
    // an unknown policy name (a hand-edited flow) is read as exact: say so instead of guessing
    if (config.policy !== undefined && config.policy !== '' && !isPolicyName(config.policy)) {
      node.warn(t('plate-check.errors.policy', `unknown match policy "${config.policy}": exact plate used`, { policy: String(config.policy) }));
    }
    const direction = config.direction === 'entry' || config.direction === 'exit' ? config.direction : undefined;
    const eposelokNode = config.eposelok ? (RED.nodes.getNode(config.eposelok) as unknown as { checker?: OnlineChecker } | null) : null;
    const checker = new PlateChecker(hub, {
      cameras,
      defaultGate: config.gate && !/^\$\{/.test(config.gate) ? config.gate : 'main',
      defaultDirection: direction,
      policy: policyFrom({ policy: config.policy, maxEditDistance: config.maxEdit }),
      repeatWindowMs: (cfg.value?.repeatWindow ?? 15) * 1000,
      maxAgeMs: (cfg.value?.maxAge ?? DEFAULT_MAX_AGE_MS / 1000) * 1000,
      onlineTimeoutMs: (cfg.value?.onlineTimeout ?? 1.5) * 1000,
      checker: null,
    });
    // the E-Poselok config node may expose its checker a little later than our construction
    const onlineChecker = (): OnlineChecker | null => eposelokNode?.checker ?? null;

    const counters = () => {
      const c = checker.counters;
      return `✓${c.allowed} ✗${c.denied} ↻${c.repeat} ⚠${c.rejected}${c.fallback ? ` ⇄${c.fallback}` : ''}`;
    };
    if (configError) {
      if (!cfg.invalid) node.status({ fill: 'red', shape: 'ring', text: t('plate-check.status.config', 'configuration error') });
    } else node.status({ fill: 'grey', shape: 'dot', text: t('plate-check.status.ready', 'ready') });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (configError) {
        done(new Error(configError));
        return;
      }
      checker.setChecker(onlineChecker());
      let result;
      try {
        result = checker.check({ payload: msg.payload, topic: msg.topic, gate: msg.gate, camera: msg.camera, retain: msg.retain });
      } catch (err) {
        fail(node, done, err);
        return;
      }
      result.then(
        (r) => {
          const d = r.decision;
          msg.payload = d;
          msg.topic = `gatepost/decision/${d.gate ?? 'main'}`;
          msg.gate = d.gate;
          const out: Array<typeof msg | null> = [null, null, null];
          out[r.output - 1] = msg;
          send(out as any);
          if (d.fallback) {
            // a passage gatepost-lpr decided (a 'rejected' one too): recorded, not bad input
            const what = d.fallback.duplicate ? t('plate-check.status.duplicate', 'fallback already recorded') : `${t('plate-check.status.fallback', 'fallback')} ${d.decision}`;
            node.status({ fill: 'blue', shape: 'ring', text: `${d.plate} ${what} · ${counters()}` });
          } else if (d.decision === 'rejected') {
            node.warn(t('plate-check.errors.rejected', `plate input rejected: ${d.reason}`, { reason: d.reason }));
            node.status({ fill: 'yellow', shape: 'ring', text: `${d.reason.slice(0, 24)} · ${counters()}` });
          } else {
            const fill = d.decision === 'allowed' ? 'green' : d.decision === 'denied' ? 'red' : 'blue';
            node.status({ fill, shape: 'dot', text: `${d.plate} ${d.decision} · ${counters()}` });
          }
          r.recorded.catch((err) => node.error(t('plate-check.errors.record', `event not recorded: ${(err as Error).message}`, { error: (err as Error).message })));
          done();
        },
        (err) => fail(node, done, err),
      );
    });
  }
  RED.nodes.registerType('plate-check', PlateCheckNode as any);
};
