/** gatepost's MQTT topics (docs/MQTT.md), for the bridge and for clients. `<camera>` / `<gate>` are single topic levels. */
export const TOPIC_AVAILABLE = 'gatepost/available';
export const TOPIC_EPOSELOK_STATE = 'gatepost/eposelok/state';
export const lprTopic = (camera: string): string => `gatepost/lpr/${camera}`;
export const fallbackTopic = (camera: string): string => `gatepost/lpr/${camera}/fallback`;
export const decisionTopic = (gate: string): string => `gatepost/decision/${gate}`;
export const gateStateTopic = (gate: string): string => `gatepost/gate/${gate}/state`;
export const gateSetTopic = (gate: string): string => `gatepost/gate/${gate}/set`;
export const TOPIC_IVMS_STATE = 'gatepost/ivms/state';
/** `gatepost/access/<door>`: the door name as one topic level (`/`, `+`, `#` and control characters → `_`, at most 64 characters; empty → `unknown`). */
export const accessTopic = (door: string): string =>
  `gatepost/access/${
    [...door]
      .map((ch) => (ch === '/' || ch === '+' || ch === '#' || ch.charCodeAt(0) < 0x20 ? '_' : ch))
      .join('')
      .slice(0, 64) || 'unknown'
  }`;
export const cameraStatusTopic = (camera: string): string => `gatepost/camera/${camera}/status`;
export const cameraMotionTopic = (camera: string): string => `gatepost/camera/${camera}/motion`;
export const cameraSnapshotTopic = (camera: string): string => `gatepost/camera/${camera}/snapshot`;
export const cameraRecordingStateTopic = (camera: string): string => `gatepost/camera/${camera}/recording/state`;
export const cameraRecordingSetTopic = (camera: string): string => `gatepost/camera/${camera}/recording/set`;
/** the FTP upload queues' summary (retained) and one target's queue (retained) */
export const TOPIC_FTP_STATE = 'gatepost/ftp/state';
export const ftpStateTopic = (target: string): string => `gatepost/ftp/${target}/state`;
