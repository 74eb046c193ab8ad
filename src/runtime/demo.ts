/**
 * Demo mode: with GATEPOST_DEMO=on, or =auto and no real device configured, the runtime starts
 * the device emulators of the registry (src/devices/registry.ts: every module whose emulator has
 * a `demo()`: E-Poselok, CL-Gate relay, Sokol panel) on 127.0.0.1 and points the shipped flows at
 * them by filling the GATEPOST_* device variables in process.env before Node-RED starts. The
 * imported examples' gates (GATEPOST_EXAMPLE_*) get their own emulated channels; outside demo mode
 * those variables stay unset and the example gates are undefined (never the site's devices).
 */
import type { RuntimeLogger } from './logger';
import type { DeviceModule } from '../devices/driver';
import { DEVICES } from '../devices/registry';
import { spawnSync } from 'child_process';
import { rtspCameraUnavailable, startRtspCamera } from '../emulators/rtsp-camera';
import { setCameraNote } from '../api/cameras';
import { FFMPEG } from '../media/ffmpeg';

export interface DemoDevice {
  name: string;
  kind: string;
  url: string;
  close(): Promise<void>;
}

/** Starts the demo emulators; sets their env variables; returns the running ones. */
export async function startDemo(log: RuntimeLogger, env: NodeJS.ProcessEnv = process.env, devices: readonly DeviceModule[] = DEVICES): Promise<DemoDevice[]> {
  const running: DemoDevice[] = [];
  for (const d of devices) {
    const demo = d.emulator?.demo;
    if (!demo) continue;
    const name = d.emulator!.name;
    // GATEPOST_DEMO_<NAME>=off leaves one emulator out (e.g. GATEPOST_DEMO_IVMS=off: no emulated access log)
    if ((env[`GATEPOST_DEMO_${name.toUpperCase()}`] ?? '').trim().toLowerCase() === 'off') {
      log.info(`demo: ${name} left out (GATEPOST_DEMO_${name.toUpperCase()}=off)`);
      continue;
    }
    try {
      const { emulator, env: vars } = await demo();
      for (const [k, v] of Object.entries(vars)) {
        env[k] = v;
        if (/TOKEN|PASSWORD/.test(k)) log.addSecret(v);
      }
      running.push({ name, kind: d.kind, url: emulator.url, close: () => emulator.close() });
      log.info(`demo: emulated ${name} at ${emulator.url}`);
    } catch (err) {
      log.error(`demo: emulator ${name} failed to start: ${(err as Error).message}`);
    }
  }
  return running;
}

/**
 * Demo mode's camera: the synthetic RTSP camera (src/emulators/rtsp-camera.ts, GStreamer) as the
 * shipped flow's camera1 (GATEPOST_CAMERA_1_URL, unless the site set one) and the rtsp-motion
 * example's camera, with motion switched on and off every 20 s. Without GStreamer (or ffmpeg) the dashboard's
 * camera page shows why (GET /api/cameras/note).
 */
export async function startDemoCamera(log: RuntimeLogger, env: NodeJS.ProcessEnv = process.env): Promise<DemoDevice | null> {
  const missing = rtspCameraUnavailable() ?? (spawnSync(FFMPEG, ['-version'], { timeout: 10_000 }).status === 0 ? null : 'ffmpeg is not installed');
  if (missing) {
    setCameraNote(`demo camera unavailable / демо-камера недоступна: ${missing}`);
    log.warn(`demo: no camera: ${missing}`);
    return null;
  }
  try {
    const cam = await startRtspCamera();
    if (!env.GATEPOST_CAMERA_1_URL) {
      env.GATEPOST_CAMERA_1_URL = cam.url;
      env.GATEPOST_CAMERA_1_TITLE ||= 'Демо-камера';
    }
    env.GATEPOST_EXAMPLE_CAMERA_URL = cam.url;
    let on = false;
    const timer = setInterval(() => {
      on = !on;
      void cam.motion(on);
    }, 20_000);
    timer.unref();
    log.info(`demo: synthetic camera at ${cam.url}`);
    return {
      name: 'rtsp-camera',
      kind: 'camera',
      url: cam.url,
      close: async () => {
        clearInterval(timer);
        await cam.close();
      },
    };
  } catch (err) {
    setCameraNote(`demo camera failed to start / демо-камера не запустилась: ${(err as Error).message.slice(0, 200)}`);
    log.error(`demo: camera failed to start: ${(err as Error).message}`);
    return null;
  }
}
