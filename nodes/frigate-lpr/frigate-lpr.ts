/**
 * `frigate-lpr`: Frigate 0.16+ plate reads (from a core `mqtt in` node subscribed to
 * `frigate/tracked_object_update` and/or `frigate/events`) → one plate message per Frigate object
 * for plate-check. A thin adapter over `FrigatePlateTracker` (src/core/frigate.ts).
 *
 * Output 1: plate messages (`msg.topic = gatepost/lpr/<camera>`, `msg.payload = {plate, confidence,
 * gate, direction, ts, requestId, frigateId}`, `msg.gate`, `msg.camera`, `msg.requestId`).
 * Output 2: refused Frigate messages (malformed), with `msg.error`; they also go to done(err).
 */
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { FrigatePlateTracker, parseCameraMap } from '../../src/core/frigate';
import { systemClock } from '../../src/core/clock';
import { shortError } from '../common/hub';
import { textProp } from '../common/env';
import { nodeConfig, showInvalid, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';

const SCHEMA = {
  minScore: { type: 'number', min: 0, max: 1, default: 0, label: 'minimum score' },
  ttl: { type: 'number', above: 0, default: 600, label: 'memory time (s)' },
} satisfies Schema;

interface FrigateLprDef extends NodeDef {
  cameraMap: string;
  zones: string;
  cameras: string;
  minScore: string | number;
  ttl: string | number;
}

/** a comma/space separated list; empty or an unset `${VAR}` of the shipped flow = no filter */
const list = (s: unknown): string[] =>
  (textProp(s) ?? '')
    .split(/[,;\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);

export = function (RED: NodeAPI): void {
  const tr = translator(RED);
  const t = (key: string, fallback: string): string => tr(`frigate-lpr.${key}`, fallback);

  function FrigateLpr(this: Node, config: FrigateLprDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let tracker: FrigatePlateTracker | null = null;
    let configError: string | null = null;
    let plates = 0;
    let refused = 0;

    const cfg = nodeConfig(RED, node, 'frigate-lpr', config, SCHEMA);
    if (cfg.value) {
      try {
        tracker = new FrigatePlateTracker(systemClock, {
          cameraMap: parseCameraMap(config.cameraMap ?? ''),
          zones: list(config.zones),
          cameras: list(config.cameras),
          minScore: cfg.value.minScore,
          ttlMs: cfg.value.ttl * 1000,
        });
        node.status({ fill: 'grey', shape: 'ring', text: t('status.waiting', 'waiting for Frigate') });
      } catch (err) {
        configError = (err as Error).message;
        showInvalid(RED, node, 'frigate-lpr', `frigate-lpr: ${configError}`);
      }
    } else configError = cfg.invalid;

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (!tracker) return done(new Error(configError?.startsWith('frigate-lpr') ? configError : `frigate-lpr: ${configError}`));
      let r;
      try {
        r = tracker.ingest(typeof msg.topic === 'string' ? msg.topic : undefined, msg.payload);
      } catch (err) {
        r = { kind: 'error' as const, reason: (err as Error).message };
      }
      switch (r.kind) {
        case 'emit': {
          plates++;
          const m = r.message;
          msg.frigate = { topic: msg.topic, id: m.payload.frigateId };
          msg.topic = m.topic;
          msg.payload = m.payload;
          msg.camera = m.camera;
          msg.requestId = m.payload.requestId;
          if (m.gate) msg.gate = m.gate;
          else delete msg.gate;
          node.status({ fill: 'green', shape: 'dot', text: `${m.payload.plate}${m.gate ? ` → ${m.gate}` : ''} (${plates}/${refused})` });
          send([msg, null]);
          return done();
        }
        case 'error': {
          refused++;
          const reason = r.reason;
          node.status({ fill: 'red', shape: 'ring', text: `${shortError(reason, 24)} (${plates}/${refused})` });
          msg.error = { message: reason, source: { id: node.id, type: 'frigate-lpr' } };
          send([null, msg]);
          return done(new Error(`frigate-lpr: refused Frigate message on "${String(msg.topic ?? '')}": ${reason}`));
        }
        default:
          // ignored (other objects / update types), duplicate (same Frigate object) or pending (zone, score)
          if (r.kind === 'pending') node.debug(`frigate-lpr: ${r.reason}`);
          return done();
      }
    });
  }

  RED.nodes.registerType('frigate-lpr', FrigateLpr as any);
};
