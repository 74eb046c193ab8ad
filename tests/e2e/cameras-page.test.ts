/**
 * The «Камеры» page in a real browser (Debian's Chromium via playwright-core) against the built
 * runtime with the shipped flows: flows/cameras.json's camera1 from GATEPOST_CAMERA_1_* points at
 * the synthetic RTSP camera (GStreamer's RTSP server, tests/helpers/rtsp-camera.ts) and uploads to
 * the shipped ftp-target from GATEPOST_FTP_* — a real FTP server (ftp-srv on 127.0.0.1).
 *  - the live view plays: fMP4 over the WebSocket into Media Source Extensions, currentTime advances;
 *  - the recording switch changes the retained MQTT state gatepost/camera/<name>/recording/state;
 *    pre/post-roll saved from the tile;
 *  - motion → a clip is listed on the tile, uploaded to the FTP server, its state shown as uploaded;
 *  - the FTP queue of the target is shown (connected, nothing queued).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { connect, collector, subscribe, end } from '../helpers/mqtt-test';
import { startRtspCamera, RtspCamera, rtspCameraUnavailable } from '../helpers/rtsp-camera';
import { startFtpServer, FtpServer } from '../../harness/ftp-server';

jest.setTimeout(240_000);

const CHROMIUM = '/usr/bin/chromium';
const CAM = 'camera1';
const TARGET = 'gp_cam_ftp';
let tmp: string;
let cam: RtspCamera;
let ftp: FtpServer;
let rt: GatepostHandle;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  const why = rtspCameraUnavailable();
  if (why) throw new Error(`the RTSP test camera cannot run here: ${why}`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-e2e-cams-'));
  const flowsDir = path.join(tmp, 'flows');
  fs.mkdirSync(flowsDir);
  for (const f of fs.readdirSync(path.join(ROOT, 'flows'))) fs.copyFileSync(path.join(ROOT, 'flows', f), path.join(flowsDir, f));
  cam = await startRtspCamera();
  ftp = await startFtpServer({ user: 'nas', password: 'nas-Secret-7' });
  rt = await startGatepost({
    flowsDir,
    env: {
      GATEPOST_TZ: 'Europe/Moscow',
      GATEPOST_CAMERA_1_URL: cam.url,
      GATEPOST_CAMERA_1_TITLE: 'Въезд',
      GATEPOST_FTP_HOST: '127.0.0.1',
      GATEPOST_FTP_PORT: String(ftp.port),
      GATEPOST_FTP_USER: ftp.user,
      GATEPOST_FTP_PASSWORD: ftp.password,
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  if (rt) {
    await rt.stop();
    rt.cleanup();
  }
  await cam?.close();
  await ftp?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The live video's currentTime. */
const currentTime = () => page.$eval(`[data-testid=gp-cam-video-${CAM}]`, (v) => (v as HTMLVideoElement).currentTime);

describe('«Камеры»', () => {
  test('login → the camera tile: online, the live view plays (currentTime advances)', async () => {
    await waitFor('the camera online', async () => (await apiOf(rt, '/api/cameras')).find((c: any) => c.name === CAM && c.online), 60_000);
    await page.goto(`${rt.url}/dashboard/cameras`);
    await page.waitForURL('**/login**');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', rt.adminPassword);
    await Promise.all([page.waitForURL('**/dashboard/**'), page.click('button[type=submit]')]);
    if (!/\/dashboard\/cameras/.test(page.url())) await page.goto(`${rt.url}/dashboard/cameras`);
    await page.waitForSelector(`[data-testid=gp-cam][data-cam=${CAM}][data-online="1"]`);
    await expect(page.textContent(`[data-testid=gp-cam][data-cam=${CAM}] .gp-cam-name`)).resolves.toBe('Въезд');
    await expect(page.textContent('[data-testid=gp-nav-cameras]')).resolves.toBe('Камеры');
    // fMP4 → MSE: playing, and time goes on
    await page.waitForSelector(`[data-testid=gp-cam-live-${CAM}][data-state=playing]`, { timeout: 30_000 });
    const t0 = await waitFor('the video to play', async () => ((await currentTime()) > 0.5 ? currentTime() : null), 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await currentTime()).toBeGreaterThan(t0 + 0.5);
    const size = await page.$eval(`[data-testid=gp-cam-video-${CAM}]`, (v) => [(v as HTMLVideoElement).videoWidth, (v as HTMLVideoElement).videoHeight]);
    expect(size).toEqual([640, 360]);
    // touch targets: the recording switch and the buttons are at least 44 px high
    const heights = await page.$$eval(`[data-testid=gp-cam][data-cam=${CAM}] .gp-btn, [data-testid=gp-cam][data-cam=${CAM}] .gp-switch`, (els) =>
      els.filter((e) => (e as HTMLElement).offsetParent).map((e) => Math.round(e.getBoundingClientRect().height)),
    );
    expect(heights.length).toBeGreaterThan(2);
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(44);
    // the FTP target of the camera: connected, nothing queued
    await page.waitForSelector(`[data-testid=gp-ftp-target][data-target=${TARGET}][data-connected="1"][data-queued="0"]`);
  });

  test('the recording switch changes the retained MQTT state gatepost/camera/<name>/recording/state', async () => {
    const retainedState = async (): Promise<string> => {
      const c: MqttClient = await connect(rt.mqttUrl, { ...rt.internalMqtt(), clientId: `cams-e2e-${Date.now()}` });
      try {
        const seen = collector(c);
        await subscribe(c, `gatepost/camera/${CAM}/recording/state`);
        return (await seen.wait((m) => m.retain)).payload;
      } finally {
        await end(c);
      }
    };
    expect(await retainedState()).toBe('OFF');
    await page.click(`[data-testid=gp-cam][data-cam=${CAM}] .gp-switch`);
    await waitFor('the retained state ON', async () => (await retainedState()) === 'ON', 10_000);
    expect(await page.isChecked(`[data-testid=gp-cam-rec-${CAM}]`)).toBe(true);
    expect((await apiOf(rt, '/api/cameras')).find((c: any) => c.name === CAM).recording).toBe(true);
    // pre/post-roll from the tile (the shipped 5 s / 10 s made shorter)
    await page.fill(`[data-testid=gp-cam-pre-${CAM}]`, '1');
    await page.fill(`[data-testid=gp-cam-post-${CAM}]`, '2');
    await page.click(`[data-testid=gp-cam-save-${CAM}]`);
    await waitFor('the settings saved', async () => {
      const c = (await apiOf(rt, '/api/cameras')).find((x: any) => x.name === CAM);
      return c.preRoll === 1 && c.postRoll === 2;
    });
  });

  test('motion → a clip is listed on the tile and uploaded to the FTP server, its state shown', async () => {
    await cam.motion(true);
    await page.waitForSelector(`[data-testid=gp-cam][data-cam=${CAM}][data-motion="1"]`, { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 3000));
    await cam.motion(false);
    const clip = await page.waitForSelector(`[data-testid=gp-cam-clips-${CAM}] [data-testid=gp-cam-clip][data-upload=done]`, { timeout: 60_000 });
    await expect(clip.$eval('[data-testid=gp-cam-clip-upload]', (e) => e.textContent?.trim())).resolves.toBe('на FTP');
    const files = ftp.files();
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(files[0]).toMatch(new RegExp(`^${CAM}/\\d{4}-\\d\\d-\\d\\d/[^/]+\\.mp4$`));
    const local = (await apiOf(rt, `/api/cameras/${CAM}/clips?limit=5`)).find((k: any) => k.upload === 'done');
    expect(local.remotePath).toContain(path.basename(files[0]));
    expect(fs.statSync(path.join(ftp.root, files[0])).size).toBe(local.size);
    // the download link serves the clip
    const href = await clip.$eval('[data-testid=gp-cam-clip-download]', (a) => (a as HTMLAnchorElement).getAttribute('href'));
    const res = await page.request.get(`${rt.url}${href}`);
    expect(res.status()).toBe(200);
    expect((await res.body()).length).toBe(local.size);
    // the FTP queue shows the upload
    await page.waitForSelector('[data-testid=gp-ftp-item][data-state=done]');
    expect(pageErrors).toEqual([]);
  });
});
