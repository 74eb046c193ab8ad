/**
 * `camera` config node: one IP camera (name = one MQTT topic level, main RTSP URL, optional
 * detection sub-stream, user/password as credentials, motion settings, pre/post-roll defaults, an
 * optional `ftp-target`). It registers the camera with `camerasOf(hub)` (src/media/camera-service.ts),
 * which runs its ffmpeg pipelines; a redeploy or a stop closes the node and stops them. A camera
 * without a URL (an unset `${GATEPOST_CAMERA_1_URL}`) stays unconfigured: nothing runs and the
 * nodes using it say so.
 */
import type { NodeAPI } from 'node-red';
import { hubFor } from '../common/hub';
import { camerasOf } from '../../src/media/camera-service';
import { cameraDefOf, CameraNode, CameraNodeDef, unconfigured } from './camera-def';

export = function (RED: NodeAPI): void {
  function Camera(this: CameraNode, config: CameraNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.cameraName = null;
    node.problem = null;
    node.unconfigured = false;
    const hub = hubFor(RED);
    const missing = unconfigured(config);
    if (missing) {
      node.problem = missing;
      node.unconfigured = true;
      node.log(`camera ${config.name || node.id}: not configured: ${missing}`);
      return;
    }
    let name: string | null = null;
    try {
      const def = cameraDefOf(config, node.credentials ?? {});
      name = def.name;
      node.cameraName = name;
      camerasOf(hub)
        .define(def, node.id)
        .catch((err: Error) => {
          node.problem = err.message;
          node.error(`camera ${def.name}: ${err.message}`);
        });
    } catch (err) {
      node.problem = (err as Error).message;
      node.error(`${RED._('camera.errors.invalid')}: ${node.problem}`);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      if (!name) return done();
      camerasOf(hub)
        .remove(name, node.id)
        .catch((err: Error) => node.error(`camera ${name}: ${err.message}`))
        .finally(() => done());
    });
  }

  RED.nodes.registerType('camera', Camera as any, {
    credentials: {
      user: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
