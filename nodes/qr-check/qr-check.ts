/**
 * `qr-check`: a QR read in (any reader on `gatepost/qr/<reader>` via `mqtt in`, any flow, and —
 * with "read camera frames" — the codes gatepost reads itself in the cameras' frames), the access
 * event out on three outputs: 1 allowed (to the door node of msg.gate), 2 denied (foreign,
 * replayed, expired, revoked, wrong door), 3 repeat reads and malformed input. Every read is
 * recorded as an access event of kind `qr`. A thin adapter over peopleOf(hub).decideQr.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor } from '../common/hub';
import { fail, nodeConfig, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { parseCameraMap } from '../../src/services/plate-checker';
import { peopleOf } from '../../src/services/people-service';
import { accessOutputs, rawInput } from '../common/access-check';
import { qrFramesOf } from '../../src/services/qr-frames';
import { qrReadOf, readerOfTopic } from '../../src/core/people';
import { textProp } from '../common/env';

interface QrCheckDef extends NodeDef {
  readers?: string;
  gate?: string;
  direction?: string;
  frames?: boolean | string;
  repeatWindow?: string | number;
}

const SCHEMA = {
  repeatWindow: { type: 'number', min: 0, max: 600, default: 5, label: 'repeat window (s)' },
} satisfies Schema;

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function QrCheckNode(this: Node, config: QrCheckDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const cfg = nodeConfig(RED, node, 'qr-check', config, SCHEMA);
    let configError: string | null = cfg.invalid;
    let readers: ReturnType<typeof parseCameraMap> = null;
    try {
      readers = parseCameraMap(config.readers);
    } catch (err) {
      configError = `reader map: ${(err as Error).message}`;
      node.error(t('qr-check.errors.readers', `reader map is invalid: ${(err as Error).message}`, { error: (err as Error).message }));
    }
    const defaultGate = textProp(config.gate ?? '') || 'wicket';
    const defaultDirection = config.direction === 'entry' || config.direction === 'exit' ? config.direction : undefined;
    const repeatWindowMs = (cfg.value?.repeatWindow ?? 5) * 1000;
    const people = peopleOf(hub);

    if (configError) {
      if (!cfg.invalid) node.status({ fill: 'red', shape: 'ring', text: t('qr-check.status.config', 'configuration error') });
    } else node.status({ fill: 'grey', shape: 'dot', text: t('qr-check.status.ready', 'ready') });

    const { routeOf, emit } = accessOutputs(node, {
      map: readers,
      defaultGate,
      defaultDirection,
      rejectedText: (reason) => t('qr-check.errors.rejected', `QR read rejected: ${reason}`, { reason }),
      statusText: (e) => `${e.decision}: ${e.reason.slice(0, 28)}`,
    });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (configError) return done(new Error(configError));
      const reader = readerOfTopic(msg.topic, 'qr') ?? (typeof msg.reader === 'string' && msg.reader ? msg.reader.slice(0, 64) : 'flow');
      const route = routeOf(reader, msg.gate);
      const parsed = qrReadOf(msg.payload);
      const input = parsed.ok ? '' : rawInput(msg.payload);
      people
        .decideQr(
          {
            text: parsed.ok ? parsed.value.text : null,
            ts: parsed.ok ? parsed.value.ts : undefined,
            retain: msg.retain === true,
            rejected: parsed.ok ? undefined : parsed.error,
            input,
            reader,
            accessPoint: route.gate,
            direction: route.direction,
            requestId: typeof msg._msgid === 'string' ? msg._msgid : undefined,
          },
          { repeatWindowMs },
        )
        .then(
          (o) => {
            emit(o, msg, send);
            done();
          },
          (err) => fail(node, done, err),
        );
    });

    // the codes gatepost reads in the camera frames (issue 14's 'camera-frame')
    const frames = config.frames === true || config.frames === 'true';
    let stopFrames: (() => void) | null = null;
    let offRead: (() => void) | null = null;
    if (frames && !configError) {
      stopFrames = qrFramesOf(hub).start();
      offRead = hub.on('qr-read', (r) => {
        // only cameras this node maps (or every camera when the map is empty)
        if (readers && !readers[r.reader]) return;
        const route = routeOf(r.reader, undefined);
        people.decideQr({ text: r.text, reader: r.reader, accessPoint: route.gate, direction: route.direction, ts: r.ts, image: r.jpeg }, { repeatWindowMs }).then(
          (o) => emit(o, { _msgid: RED.util.generateId() }, (m) => node.send(m)),
          (err) => node.error(t('qr-check.errors.frame', `QR read from ${r.reader} not decided: ${(err as Error).message}`, { reader: r.reader, error: (err as Error).message })),
        );
      });
    }
    node.on('close', (done: () => void) => {
      offRead?.();
      stopFrames?.();
      done();
    });
  }
  RED.nodes.registerType('qr-check', QrCheckNode as any);
};
