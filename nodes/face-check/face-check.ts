/**
 * `face-check`: a face report in (an external recogniser on `gatepost/face/<camera>` via
 * `mqtt in`: `{personId | name, confidence, ts, image}`, see docs/MQTT.md; or — with "built-in
 * recogniser" — the faces gatepost finds itself in the cameras' frames), the access event out:
 * 1 allowed (to the door node of msg.gate), 2 denied (unknown, low confidence, not allowed here,
 * second factor missing), 3 malformed input. Every decision is recorded as kind `face` with the
 * person and the distance. Multi-factor: `second` = qr / card / qr-or-card makes a live face
 * alone never enough at this access point (the same person's QR or card within N seconds).
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor } from '../common/hub';
import { fail, nodeConfig, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { parseCameraMap } from '../../src/services/plate-checker';
import { peopleOf } from '../../src/services/people-service';
import { accessOutputs, rawInput } from '../common/access-check';
import { faceRecogniserOf } from '../../src/media/face-recogniser';
import { parseFaceReport, readerOfTopic, SECOND_FACTORS, type FaceReport, type SecondFactor } from '../../src/core/people';
import { textProp } from '../common/env';

interface FaceCheckDef extends NodeDef {
  cameras?: string;
  gate?: string;
  direction?: string;
  minConfidence?: string | number;
  second?: string;
  secondWindow?: string | number;
  builtin?: boolean | string;
  threshold?: string | number;
}

const SCHEMA = {
  minConfidence: { type: 'number', min: 0, max: 1, default: 0.8, label: 'minimum confidence' },
  secondWindow: { type: 'number', min: 1, max: 600, default: 30, label: 'second factor window (s)' },
  threshold: { type: 'number', min: 0.2, max: 0.8, default: 0.5, label: 'match threshold (distance)' },
} satisfies Schema;

/** the same person (or an unknown face) at the same camera within this is one read of the built-in recogniser */
const BUILTIN_REPEAT_MS = 10_000;
const MAX_IMAGE_BYTES = 2 * 1024 * 1024;

/** A report's image: base64 / data URL → bytes; anything else is not kept. */
function imageOf(r: FaceReport | null): Buffer | undefined {
  const s = r?.image;
  if (!s) return undefined;
  const b64 = s.startsWith('data:image/') ? s.slice(s.indexOf(',') + 1) : /^[A-Za-z0-9+/=\s]+$/.test(s) ? s : null;
  if (!b64 || b64.length > (MAX_IMAGE_BYTES * 4) / 3) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  return bytes[0] === 0xff && bytes[1] === 0xd8 ? bytes : undefined;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function FaceCheckNode(this: Node, config: FaceCheckDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const cfg = nodeConfig(RED, node, 'face-check', config, SCHEMA);
    let configError: string | null = cfg.invalid;
    let cameras: ReturnType<typeof parseCameraMap> = null;
    try {
      cameras = parseCameraMap(config.cameras);
    } catch (err) {
      configError = `camera map: ${(err as Error).message}`;
      node.error(t('face-check.errors.cameras', `camera map is invalid: ${(err as Error).message}`, { error: (err as Error).message }));
    }
    const secondIn = textProp(config.second ?? '') ?? 'none';
    if (!(SECOND_FACTORS as readonly string[]).includes(secondIn)) {
      configError = `face-check: second factor must be one of ${SECOND_FACTORS.join(', ')} (got "${secondIn.slice(0, 20)}")`;
      node.error(configError);
    }
    const second = secondIn as SecondFactor;
    const defaultGate = textProp(config.gate ?? '') || 'wicket';
    const defaultDirection = config.direction === 'entry' || config.direction === 'exit' ? config.direction : undefined;
    const minConfidence = cfg.value?.minConfidence ?? 0.8;
    const secondWindowMs = (cfg.value?.secondWindow ?? 30) * 1000;
    const threshold = cfg.value?.threshold ?? 0.5;
    const people = peopleOf(hub);

    if (configError) node.status({ fill: 'red', shape: 'ring', text: t('face-check.status.config', 'configuration error') });
    else node.status({ fill: 'grey', shape: 'dot', text: t('face-check.status.ready', 'ready') });

    const { routeOf, emit } = accessOutputs(node, {
      map: cameras,
      defaultGate,
      defaultDirection,
      rejectedText: (reason) => t('face-check.errors.rejected', `face report rejected: ${reason}`, { reason }),
      statusText: (e) => `${e.personName ?? ''} ${e.decision}`,
    });
    const decide = (camera: string, report: FaceReport | null, rejected: string | undefined, input: string, msgGate: unknown, image?: Buffer) => {
      const route = routeOf(camera, msgGate);
      return people.decideFace({
        report,
        rejected,
        input,
        camera,
        accessPoint: route.gate,
        direction: route.direction,
        minConfidence,
        second,
        secondWindowMs,
        threshold,
        image: image ?? imageOf(report),
      });
    };

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (configError) return done(new Error(configError));
      const camera = readerOfTopic(msg.topic, 'face') ?? (typeof msg.camera === 'string' && msg.camera ? msg.camera.slice(0, 64) : 'flow');
      const parsed = parseFaceReport(msg.payload);
      const input = parsed.ok ? '' : rawInput(msg.payload);
      decide(camera, parsed.ok ? parsed.value : null, parsed.ok ? undefined : parsed.error, input, msg.gate).then(
        (o) => {
          emit(o, msg, send);
          done();
        },
        (err) => fail(node, done, err),
      );
    });

    // the built-in recogniser on camera frames (off by default: it loads ~300 MB of models)
    const builtin = config.builtin === true || config.builtin === 'true';
    let stop: (() => void) | null = null;
    let off: (() => void) | null = null;
    if (builtin && !configError) {
      const rec = faceRecogniserOf(hub);
      rec.opts.threshold = threshold;
      stop = rec.start();
      const last = new Map<string, number>();
      off = hub.on('face-read', (r) => {
        if (cameras && !cameras[r.camera]) return;
        const key = `${r.camera}\u0000${r.report.personId ?? r.report.name}`;
        const seen = last.get(key);
        if (seen !== undefined && Math.abs(r.ts - seen) < BUILTIN_REPEAT_MS) return;
        last.set(key, r.ts);
        if (last.size > 1000) last.delete(last.keys().next().value as string);
        decide(r.camera, r.report, undefined, '', undefined, r.jpeg).then(
          (o) => emit(o, { _msgid: RED.util.generateId() }, (m) => node.send(m)),
          (err) => node.error(t('face-check.errors.frame', `face from ${r.camera} not decided: ${(err as Error).message}`, { camera: r.camera, error: (err as Error).message })),
        );
      });
    }
    node.on('close', (done: () => void) => {
      off?.();
      stop?.();
      done();
    });
  }
  RED.nodes.registerType('face-check', FaceCheckNode as any);
};
