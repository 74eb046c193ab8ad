/**
 * The cameras' MQTT topics, published by the runtime's MQTT bridge (their one owner, docs/MQTT.md):
 *  - `gatepost/camera/<name>/status` retained JSON `{"status":"online"|"offline","reason":…,"ts":…}`;
 *  - `gatepost/camera/<name>/motion` retained `ON` / `OFF`;
 *  - `gatepost/camera/<name>/snapshot` retained JPEG bytes taken at motion start;
 *  - `gatepost/camera/<name>/recording/state` retained `ON` / `OFF`;
 *  - `gatepost/camera/<name>/recording/set` `ON` / `OFF` (never retained: a retained one is ignored)
 *    → camerasOf(hub).setRecording.
 */
import type { Hub } from '../services/hub';
import { camerasOf } from '../media/camera-service';
import type { CameraState } from '../core/contracts';
import { cameraMotionTopic, cameraRecordingStateTopic, cameraSnapshotTopic, cameraStatusTopic } from '../core/topics';

export const CAMERA_BRIDGE_TOPICS: readonly string[] = [cameraStatusTopic('+'), cameraMotionTopic('+'), cameraSnapshotTopic('+'), cameraRecordingStateTopic('+')];
export const CAMERA_SET_FILTER = 'gatepost/camera/+/recording/set';
const SET_TOPIC = /^gatepost\/camera\/([A-Za-z0-9_-]{1,64})\/recording\/set$/;

/** ON / OFF (also on/off, true/false, 1/0, {"on": bool}); null for anything else. */
export function parseOnOff(payload: Buffer | string): boolean | null {
  const s = (Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload)).trim().toLowerCase();
  if (s.length > 64) return null;
  if (['on', 'true', '1', '"on"'].includes(s)) return true;
  if (['off', 'false', '0', '"off"'].includes(s)) return false;
  try {
    const o = JSON.parse(s);
    if (typeof o?.on === 'boolean') return o.on;
  } catch {
    /* not JSON */
  }
  return null;
}

export interface CameraMqtt {
  /** the current states again (after a reconnect) */
  republish(): void;
  /** a message on a set topic: true when it was a camera command (handled or refused) */
  handleSet(topic: string, payload: Buffer, retain: boolean, actor: string): boolean;
  stop(): void;
}

export function cameraMqtt(hub: Hub, publish: (topic: string, payload: string | Buffer, retain: boolean) => void, log: { warn(m: string): void; info(m: string): void }): CameraMqtt {
  const last = new Map<string, { state?: CameraState; motion?: boolean }>();
  const entry = (name: string) => {
    let e = last.get(name);
    if (!e) last.set(name, (e = {}));
    return e;
  };
  const valid = (name: unknown): name is string => typeof name === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(name);
  const pubState = (s: CameraState) => {
    publish(cameraStatusTopic(s.camera), JSON.stringify({ status: s.online ? 'online' : 'offline', reason: s.online ? null : s.reason, ts: s.ts }), true);
    publish(cameraRecordingStateTopic(s.camera), s.recording ? 'ON' : 'OFF', true);
  };
  const offState = hub.on('camera-state', (s) => {
    if (!valid(s?.camera)) return;
    const e = entry(s.camera);
    const prev = e.state;
    e.state = s;
    if (prev && prev.online === s.online && prev.reason === s.reason && prev.recording === s.recording) return;
    pubState(s);
    if (e.motion === undefined) {
      e.motion = false;
      publish(cameraMotionTopic(s.camera), 'OFF', true);
    }
  });
  const offMotion = hub.on('camera-motion', (m) => {
    if (!valid(m?.camera)) return;
    entry(m.camera).motion = m.on;
    // the snapshot first: a client reacting to ON finds the picture of this motion
    if (m.on && m.snapshot) publish(cameraSnapshotTopic(m.camera), m.snapshot, true);
    publish(cameraMotionTopic(m.camera), m.on ? 'ON' : 'OFF', true);
  });
  return {
    republish() {
      for (const [name, e] of last) {
        if (e.state) pubState(e.state);
        if (e.motion !== undefined) publish(cameraMotionTopic(name), e.motion ? 'ON' : 'OFF', true);
      }
    },
    handleSet(topic, payload, retain, actor) {
      const m = SET_TOPIC.exec(topic);
      if (!m) return false;
      if (retain) {
        log.warn(`ignored retained command on ${topic} (commands must not be retained)`);
        return true;
      }
      const on = parseOnOff(payload);
      if (on === null) {
        log.warn(`ignored command on ${topic}: expected ON or OFF`);
        return true;
      }
      camerasOf(hub)
        .setRecording(m[1], on, `mqtt ${actor}`)
        .catch((err: Error) => log.warn(`MQTT recording ${on ? 'ON' : 'OFF'} for camera ${m[1]} by ${actor} failed: ${err.message}`));
      return true;
    },
    stop() {
      offState();
      offMotion();
    },
  };
}
