/** The camera definition (CameraDef) of a `camera` config node's configuration. */
import type { Node, NodeDef } from 'node-red';
import { configOrThrow, Schema } from '../../src/core/schema';
import { parseMask } from '../../src/core/motion';
import { CAMERA_NAME, CAMERA_NAME_TEXT, CameraDef, ROLL_LIMITS } from '../../src/media/camera-service';
import { credentialProp, textProp } from '../common/env';
import { redactText } from '../../src/media/ffmpeg';

export interface CameraNodeDef extends NodeDef {
  url: string;
  subUrl: string;
  title: string;
  enabled: boolean | string;
  ftp: string;
  threshold: string | number;
  minArea: string | number;
  mask: string;
  cooldown: string | number;
  preRoll: string | number;
  postRoll: string | number;
  recording: boolean | string;
  maxAgeDays: string | number;
  maxSizeMb: string | number;
}

export interface CameraCredentials {
  user?: string;
  password?: string;
}

export interface CameraNode extends Node<CameraCredentials> {
  cameraName: string | null;
  /** why the camera does not run (unconfigured or invalid), or null */
  problem: string | null;
  /** true when the problem is a missing setting rather than a wrong one */
  unconfigured: boolean;
}

const RTSP = /^rtsps?:\/\/[^\s]+$/i;

export const CAMERA_SCHEMA = {
  name: { type: 'string', required: true, pattern: CAMERA_NAME, patternText: CAMERA_NAME_TEXT, label: 'camera name' },
  url: { type: 'string', required: true, pattern: RTSP, patternText: 'an rtsp:// URL', label: 'main stream URL' },
  subUrl: { type: 'string', pattern: RTSP, patternText: 'an rtsp:// URL', label: 'detection sub-stream URL' },
  title: { type: 'string', max: 100 },
  enabled: { type: 'bool', default: true },
  threshold: { type: 'int', min: 1, max: 255, default: 25, label: 'pixel threshold' },
  /** % of the frame */
  minArea: { type: 'number', above: 0, max: 100, default: 1, label: 'minimum changed area (%)' },
  /** s */
  cooldown: { type: 'number', min: 0, max: 600, default: 5, label: 'cooldown (s)' },
  preRoll: { type: 'int', min: ROLL_LIMITS.preRoll[0], max: ROLL_LIMITS.preRoll[1], default: 5, label: 'pre-roll (s)' },
  postRoll: { type: 'int', min: ROLL_LIMITS.postRoll[0], max: ROLL_LIMITS.postRoll[1], default: 10, label: 'post-roll (s)' },
  recording: { type: 'bool', default: false },
  maxAgeDays: { type: 'number', min: 0, max: 3650, default: 7, label: 'keep clips (days)' },
  maxSizeMb: { type: 'number', min: 0, max: 10_000_000, default: 2048, label: 'clips at most (MB)' },
} satisfies Schema;

const prop = (v: unknown): unknown => (typeof v === 'string' ? textProp(v) : v);

/** Is the camera left unconfigured (no name or no URL: an unset `${GATEPOST_CAMERA_1_URL}`)? */
export function unconfigured(config: Partial<CameraNodeDef>): string | null {
  if (prop(config.url) === undefined) return 'no stream URL (set GATEPOST_CAMERA_1_URL or the node’s URL)';
  if (prop(config.name) === undefined) return 'no camera name';
  return null;
}

/** The camera definition of a node's configuration; throws a clear Error (every invalid field) when it is invalid. */
export function cameraDefOf(config: CameraNodeDef, creds: CameraCredentials): CameraDef {
  const raw: Record<string, unknown> = {};
  for (const k of Object.keys(CAMERA_SCHEMA)) raw[k] = prop((config as unknown as Record<string, unknown>)[k]);
  let c;
  try {
    c = configOrThrow(CAMERA_SCHEMA, raw);
  } catch (err) {
    // the messages quote bad values: never a password of a URL
    throw new Error(redactText((err as Error).message));
  }
  let mask;
  try {
    mask = parseMask(config.mask);
  } catch (err) {
    throw new Error(`mask: ${(err as Error).message}`);
  }
  return {
    name: c.name,
    title: c.title,
    url: c.url,
    subUrl: c.subUrl,
    user: credentialProp(creds.user),
    password: credentialProp(creds.password),
    enabled: c.enabled,
    ftp: textProp(config.ftp) ?? null,
    detect: { pixelThreshold: c.threshold, minArea: c.minArea / 100, mask, cooldownMs: Math.round(c.cooldown * 1000) },
    preRoll: c.preRoll,
    postRoll: c.postRoll,
    recording: c.recording,
    retention: { maxAgeDays: c.maxAgeDays, maxSizeMb: c.maxSizeMb },
  };
}
