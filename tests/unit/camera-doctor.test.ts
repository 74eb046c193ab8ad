/** `gatepost doctor` checks the shipped cameras flow's variables: each GATEPOST_CAMERA_<n>_URL answers, ffmpeg is installed. */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { loadConfig } from '../../src/runtime/config';
import { runDoctor } from '../../src/ops/doctor';

test('camera URLs that answer are OK, one that does not FAILS, a non-RTSP URL FAILS, none = skipped; ffmpeg found', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-cam-doctor-'));
  const up = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  try {
    const base = { GATEPOST_DATA_DIR: path.join(dir, 'data'), GATEPOST_HTTP_PORT: '0', GATEPOST_MQTT_PORT: '0', GATEPOST_BIND: '127.0.0.1' };
    const env = {
      ...base,
      GATEPOST_CAMERA_1_URL: `rtsp://admin:secret@127.0.0.1:${(up.address() as net.AddressInfo).port}/cam`,
      GATEPOST_CAMERA_2_URL: `rtsp://127.0.0.1:${closed}/cam`,
      GATEPOST_CAMERA_3_URL: 'http://127.0.0.1/cam',
    };
    const cfg = loadConfig(env);
    fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
    const checks = await runDoctor({ cfg, env, mode: 'cli', timeoutMs: 2000 });
    const by = (id: string) => checks.find((c) => c.id === id);
    expect(by('camera:camera1')?.verdict).toBe('ok');
    expect(by('camera:camera2')).toEqual(expect.objectContaining({ verdict: 'fail' }));
    expect(by('camera:camera2')?.en).toMatch(/DOES NOT ANSWER/);
    expect(by('camera:camera3')?.en).toMatch(/must start with rtsp:\/\//);
    expect(by('ffmpeg')?.verdict).toBe('ok');
    expect(JSON.stringify(checks)).not.toContain('secret');
    const none = await runDoctor({ cfg: loadConfig(base), env: base, mode: 'cli', timeoutMs: 2000 });
    expect(none.find((c) => c.id === 'cameras')).toEqual(expect.objectContaining({ verdict: 'skip', en: 'cameras: not configured (GATEPOST_CAMERA_1_URL)' }));
  } finally {
    up.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
