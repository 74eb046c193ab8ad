/**
 * `rtsp-motion`: the motion of a `camera` (config node) as messages, and the camera's controls.
 * Output: at motion start `{ topic: gatepost/camera/<name>/motion, payload: 'ON', camera, ts,
 * snapshot: Buffer (JPEG) }`, at the end `payload: 'OFF'` — the same as the MQTT topics the runtime
 * publishes. Input: `msg.payload` `{ recording: true|false }` switches recording (persisted),
 * `{ restart: 'detect'|'record'|'live' }` restarts a pipeline. The status tells the truth: online,
 * motion, or offline with the reason (camera refused the password, no answer, …), or unconfigured.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { hubFor } from '../common/hub';
import { fail, translator } from '../common/node-base';
import { camerasOf } from '../../src/media/camera-service';
import { cameraMotionTopic } from '../../src/core/topics';
import type { CameraNode } from '../camera/camera-def';

interface RtspMotionDef extends NodeDef {
  camera: string;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function RtspMotion(this: Node, config: RtspMotionDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const cam = RED.nodes.getNode(config.camera) as CameraNode | null;
    const name = cam?.cameraName ?? null;
    const problem = !cam ? t('rtsp-motion.status.noCamera', 'no camera selected') : cam.problem;
    if (!name || problem) {
      node.status({
        fill: cam?.unconfigured ? 'yellow' : 'red',
        shape: 'ring',
        text: cam?.unconfigured ? t('rtsp-motion.status.unconfigured', 'camera not configured') : (problem ?? '').slice(0, 40),
      });
      if (problem && !cam?.unconfigured) node.warn(problem);
    }
    const show = () => {
      if (!name) return;
      const v = camerasOf(hub).get(name);
      if (!v) return;
      if (!v.enabled) node.status({ fill: 'grey', shape: 'ring', text: t('rtsp-motion.status.disabled', 'disabled') });
      else if (v.motion) node.status({ fill: 'red', shape: 'dot', text: t('rtsp-motion.status.motion', 'motion') });
      else if (v.online) node.status({ fill: 'green', shape: 'dot', text: t('rtsp-motion.status.online', 'online') + (v.recording ? ' · REC' : '') });
      else node.status({ fill: 'red', shape: 'ring', text: `${t('rtsp-motion.status.offline', 'offline')}: ${v.reason ?? ''}`.slice(0, 48) });
    };
    const offState = hub.on('camera-state', (s) => s.camera === name && show());
    const offMotion = hub.on('camera-motion', (m) => {
      if (m.camera !== name) return;
      const msg: Record<string, unknown> = { topic: cameraMotionTopic(m.camera), payload: m.on ? 'ON' : 'OFF', camera: m.camera, ts: m.ts };
      if (m.snapshot) msg.snapshot = m.snapshot;
      node.send(msg);
      show();
    });
    show();

    node.on('input', (msg: any, send: (m: any) => void, done: (err?: Error) => void) => {
      if (!name) return fail(node, done, new Error(problem ?? 'camera not configured'));
      const p = msg.payload;
      let job: Promise<unknown>;
      if (p && typeof p === 'object' && typeof p.recording === 'boolean') job = camerasOf(hub).setRecording(name, p.recording, `flow ${node.id}`);
      else if (p && typeof p === 'object' && typeof p.restart === 'string') job = camerasOf(hub).restartPipeline(name, p.restart);
      else return fail(node, done, new Error('rtsp-motion: msg.payload must be {recording: true|false} or {restart: "detect"|"record"|"live"}'));
      job.then(
        () => {
          show();
          done();
        },
        (err) => fail(node, done, err),
      );
    });
    node.on('close', () => {
      offState();
      offMotion();
    });
  }
  RED.nodes.registerType('rtsp-motion', RtspMotion as any);
};
