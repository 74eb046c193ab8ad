/**
 * The FTP upload queue (issue 14) with real parts: a real sqlite file, the hub, and a real FTP
 * server (ftp-srv on 127.0.0.1, passive ports on loopback) that is stopped, restarted and made to
 * refuse. The REST router runs on a real express app.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import http from 'http';
import express from 'express';
import type { AddressInfo } from 'net';
import { Hub } from '../../src/services/hub';
import { FtpTargetConfig, FTP_DEFAULTS, uploadsOf } from '../../src/services/upload-service';
import { degradedOf } from '../../src/services/degraded';
import { uploadsRouter } from '../../src/api/uploads';
import { silentLogger } from '../../src/core/log';
import { remoteDir, safeLevel, templateProblems, retryDelay } from '../../src/core/ftp-path';
import type { ClipReady, FtpState, UploadState } from '../../src/core/contracts';
import { startFtpServer, FtpServer } from '../../harness/ftp-server';
import { waitFor } from '../../harness/runtime';
import { runDoctor } from '../../src/ops/doctor';
import { loadConfig } from '../../src/runtime/config';

jest.setTimeout(60_000);

let dir: string;
let ftp: FtpServer;
let clipNo = 0;
/** 2026-03-01 22:30 UTC = 2026-03-02 01:30 in Moscow: the directory takes the site's date */
const START = Date.UTC(2026, 2, 1, 22, 30);

const cfgOf = (over: Partial<FtpTargetConfig> = {}): FtpTargetConfig => ({
  ...FTP_DEFAULTS,
  name: 'test FTP',
  host: '127.0.0.1',
  port: ftp.port,
  user: ftp.user,
  password: ftp.password,
  timeoutMs: 3000,
  retryMinMs: 100,
  retryMaxMs: 400,
  probeIntervalMs: 0,
  ...over,
});

function openHub(file = path.join(dir, 'gatepost.db')): Hub {
  return Hub.open({ dbPath: file, timezone: 'Europe/Moscow', logger: silentLogger });
}

/** A clip file with distinct content, announced as ClipReady. */
function clip(camera = 'gate-cam', bytes = 50_000, target: string | null = 'ftp1'): ClipReady {
  const n = ++clipNo;
  const file = path.join(dir, 'clips', `${camera}-${n}.mp4`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(bytes, n % 251));
  return { clipId: n, camera, file, start: START + n * 1000, end: START + n * 1000 + 10_000, size: bytes, target };
}

function events(hub: Hub) {
  const uploads: UploadState[] = [];
  const ftpStates: FtpState[] = [];
  hub.on('upload-state', (u) => void uploads.push(u));
  hub.on('ftp-state', (s) => void ftpStates.push(s));
  return { uploads, ftpStates };
}

const doneIds = (uploads: UploadState[]) => uploads.filter((u) => u.state === 'done').map((u) => u.clipId);

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-uploads-'));
  ftp = await startFtpServer({ user: 'cam-uploader', password: 'p@ss:word/1' });
});
afterEach(async () => {
  await Hub.closeAll();
  await ftp.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('directory template (pure)', () => {
  test('renders camera and the local date, keeps a camera name inside its level', () => {
    expect(remoteDir('{camera}/{yyyy}-{mm}-{dd}/', { camera: 'gate', ts: START, timezone: 'Europe/Moscow' })).toBe('gate/2026-03-02');
    expect(remoteDir('{camera}/{yyyy}-{mm}-{dd}/', { camera: 'gate', ts: START, timezone: 'UTC' })).toBe('gate/2026-03-01');
    expect(remoteDir('/srv/{camera}/{hh}', { camera: '../../etc', ts: START, timezone: 'UTC' })).toBe('/srv/.._.._etc/22');
    expect(safeLevel('..')).toBe('_');
    expect(safeLevel('Въезд 1')).toBe('Въезд_1');
    expect(templateProblems('{camera}/{year}/../x')).toEqual([expect.stringMatching(/unknown placeholder \{year\}/), expect.stringMatching(/\.\./)]);
    expect([1, 2, 3, 10].map((n) => retryDelay(n, 100, 400))).toEqual([100, 200, 400, 400]);
  });
});

describe('upload queue', () => {
  test('a clip goes to {camera}/{yyyy}-{mm}-{dd}/ as .part, is size-checked and renamed; the local file stays; states on the hub', async () => {
    const hub = openHub();
    const seen = events(hub);
    const svc = uploadsOf(hub);
    await hub.ready();
    svc.defineTarget('ftp1', cfgOf());
    const c = clip();
    hub.emit('clip-ready', c);
    hub.emit('clip-ready', c); // announced twice: queued once
    await waitFor('the upload', () => doneIds(seen.uploads).includes(c.clipId));
    const name = path.basename(c.file);
    expect(ftp.files()).toEqual([`gate-cam/2026-03-02/${name}`]);
    expect(fs.readFileSync(path.join(ftp.root, 'gate-cam/2026-03-02', name)).equals(fs.readFileSync(c.file))).toBe(true);
    expect(ftp.stored).toEqual([`gate-cam/2026-03-02/${name}.part`]);
    expect(ftp.renamed).toEqual([`gate-cam/2026-03-02/${name}`]);
    expect(fs.existsSync(c.file)).toBe(true);
    const mine = seen.uploads.filter((u) => u.clipId === c.clipId);
    expect(mine.map((u) => u.state)).toEqual(['queued', 'uploading', 'done']);
    expect(mine[2]).toMatchObject({ remotePath: `/gate-cam/2026-03-02/${name}`, error: null });
    // ftp-state: 1 queued, then 0, connected, no error
    expect(seen.ftpStates.some((s) => s.target === 'ftp1' && s.queued === 1 && s.oldest !== null)).toBe(true);
    expect(seen.ftpStates[seen.ftpStates.length - 1]).toMatchObject({ target: 'ftp1', queued: 0, oldest: null, connected: true, lastError: null });
    expect((await svc.recent()).filter((r) => r.clipId === c.clipId)).toHaveLength(1);
    // a clip without a target is not queued
    hub.emit('clip-ready', clip('gate-cam', 10, null));
    await new Promise((r) => setTimeout(r, 100));
    expect(await svc.recent()).toHaveLength(1);
  });

  test('bad login (530): retried with growing pauses, a clear status and a degraded entry; delivered once the password is right', async () => {
    ftp.refuseLogins(true);
    const hub = openHub();
    const seen = events(hub);
    const svc = uploadsOf(hub);
    await hub.ready();
    svc.defineTarget('ftp1', cfgOf({ retryMinMs: 100, retryMaxMs: 800 }));
    const c = clip();
    hub.emit('clip-ready', c);
    await waitFor('four refused logins', () => ftp.logins.filter((l) => !l.ok).length >= 4, 15_000);
    const st = svc.list().find((t) => t.target === 'ftp1')!;
    expect(st).toMatchObject({ connected: false, queued: 1 });
    expect(st.lastError).toMatch(/login refused by 127\.0\.0\.1:\d+ \(530\): check the user and password/);
    expect(st.lastError).not.toContain(ftp.password);
    expect(
      degradedOf(hub)
        .list()
        .find((d) => d.what === 'ftp:ftp1')?.reason,
    ).toMatch(/530/);
    const retry = seen.uploads.find((u) => u.clipId === c.clipId && u.state === 'queued' && u.error);
    expect(retry?.error).toMatch(/530/);
    expect(seen.uploads.some((u) => u.state === 'failed')).toBe(false);
    ftp.refuseLogins(false);
    await waitFor('the upload after the login works', () => doneIds(seen.uploads).includes(c.clipId), 15_000);
    expect(
      degradedOf(hub)
        .list()
        .find((d) => d.what === 'ftp:ftp1'),
    ).toBeUndefined();
    expect(svc.list()[0]).toMatchObject({ connected: true, lastError: null, queued: 0 });
  });

  test('the server stopped and started again: the queue waits and drains in order, nothing lost', async () => {
    const hub = openHub();
    const seen = events(hub);
    const svc = uploadsOf(hub);
    await hub.ready();
    svc.defineTarget('ftp1', cfgOf());
    await ftp.stop();
    const clips = [clip('a'), clip('b'), clip('a'), clip('c'), clip('a')];
    for (const c of clips) hub.emit('clip-ready', c);
    await waitFor('the queue of 5 and a connection error', () => {
      const t = svc.list()[0];
      if (process.env.DEBUG_FTP) console.log(JSON.stringify(t));
      return t?.queued === 5 && /refused the connection/.test(t.lastError ?? '');
    });
    expect(svc.list()[0].connected).toBe(false);
    await ftp.start();
    await waitFor('all delivered', () => doneIds(seen.uploads).length === 5, 20_000);
    expect(doneIds(seen.uploads)).toEqual(clips.map((c) => c.clipId));
    expect(ftp.renamed.map((f) => path.basename(f))).toEqual(clips.map((c) => path.basename(c.file)));
    expect(ftp.files()).toHaveLength(5);
  });

  test('the runtime restarted with items queued: delivered after the restart, in order, each once', async () => {
    const dbFile = path.join(dir, 'gatepost.db');
    let hub = openHub(dbFile);
    await hub.ready();
    uploadsOf(hub).defineTarget('ftp1', cfgOf());
    await ftp.stop();
    const clips = [clip(), clip(), clip()];
    for (const c of clips) hub.emit('clip-ready', c);
    await waitFor('3 queued', () => uploadsOf(hub).list()[0]?.queued === 3);
    await Hub.closeAll();

    await ftp.start();
    hub = openHub(dbFile);
    const seen = events(hub);
    await uploadsOf(hub).init();
    // before the target is defined the items wait, visible as a target without a node
    expect(uploadsOf(hub).list()).toEqual([]);
    expect((await uploadsOf(hub).recent()).map((r) => r.state)).toEqual(['queued', 'queued', 'queued']);
    uploadsOf(hub).defineTarget('ftp1', cfgOf());
    await waitFor('delivered after the restart', () => doneIds(seen.uploads).length === 3, 20_000);
    expect(doneIds(seen.uploads)).toEqual(clips.map((c) => c.clipId));
    expect(ftp.files()).toHaveLength(3);
    // announced again after the restart (a camera re-announcing): not uploaded twice
    hub.emit('clip-ready', clips[0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(ftp.renamed).toHaveLength(3);
  });

  test('a missing local file is failed with the reason and the queue goes on; retry over REST delivers it once it is back', async () => {
    const hub = openHub();
    const seen = events(hub);
    uploadsOf(hub);
    await hub.ready();
    const app = express();
    app.use((req, _res, next) => (((req as any).user = { username: 'guard' }), next()));
    app.use('/api', uploadsRouter(hub));
    const server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    try {
      const gone = clip();
      const kept = fs.readFileSync(gone.file);
      fs.rmSync(gone.file);
      const ok = clip();
      hub.emit('clip-ready', gone);
      hub.emit('clip-ready', ok);
      uploadsOf(hub).defineTarget('ftp1', cfgOf());
      await waitFor('the second delivered', () => doneIds(seen.uploads).includes(ok.clipId));
      const failed = seen.uploads.find((u) => u.clipId === gone.clipId && u.state === 'failed')!;
      expect(failed.error).toMatch(/local file missing: .*ENOENT/);

      const list = await (await fetch(`${base}/uploads`)).json();
      expect(list.targets).toEqual([expect.objectContaining({ target: 'ftp1', name: 'test FTP', connected: true, queued: 0, defined: true })]);
      expect(list.recent.map((r: any) => [r.clipId, r.state])).toEqual([
        [ok.clipId, 'done'],
        [gone.clipId, 'failed'],
      ]);
      expect(JSON.stringify(list)).not.toContain(ftp.password);
      expect((await fetch(`${base}/uploads?state=nope`)).status).toBe(400);
      expect((await fetch(`${base}/uploads/999/retry`, { method: 'POST' })).status).toBe(404);
      const doneId = list.recent[0].id;
      expect((await fetch(`${base}/uploads/${doneId}/retry`, { method: 'POST' })).status).toBe(409);

      fs.writeFileSync(gone.file, kept);
      const r = await fetch(`${base}/uploads/${list.recent[1].id}/retry`, { method: 'POST' });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ state: 'queued', attempts: 0 });
      await waitFor('the retried one delivered', () => doneIds(seen.uploads).includes(gone.clipId));
      expect(ftp.files()).toHaveLength(2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('a file the server refuses (553) is tried maxAttempts times, then failed; the next file is not held up', async () => {
    const hub = openHub();
    const seen = events(hub);
    await hub.ready();
    ftp.failStores(3, 553);
    uploadsOf(hub).defineTarget('ftp1', cfgOf({ maxAttempts: 3 }));
    const bad = clip();
    const good = clip();
    hub.emit('clip-ready', bad);
    hub.emit('clip-ready', good);
    await waitFor('the good one delivered', () => doneIds(seen.uploads).includes(good.clipId), 15_000);
    const f = seen.uploads.find((u) => u.clipId === bad.clipId && u.state === 'failed')!;
    expect(f.error).toMatch(/553/);
    expect((await uploadsOf(hub).recent()).find((r) => r.clipId === bad.clipId)).toMatchObject({ state: 'failed', attempts: 3 });
    // the server was reachable all along: no degraded entry
    expect(degradedOf(hub).list()).toEqual([]);
  });

  test('an ftp-target left without a host (uploads off): its clips stay local, nothing waits in the queue', async () => {
    const hub = openHub();
    const seen = events(hub);
    const svc = uploadsOf(hub);
    await hub.ready();
    svc.skipTarget('ftp1', 'FTP target incomplete: host, user');
    hub.emit('clip-ready', clip());
    await new Promise((r) => setTimeout(r, 150));
    expect(await svc.recent()).toEqual([]);
    expect(seen.uploads).toEqual([]);
    expect(svc.list()).toEqual([]);
    // configured later: the next clip is queued and delivered
    svc.defineTarget('ftp1', cfgOf());
    const c = clip();
    hub.emit('clip-ready', c);
    await waitFor('delivered', () => doneIds(seen.uploads).includes(c.clipId));
  });

  test('items older than the maximum age are dropped with the reason', async () => {
    const hub = openHub();
    const seen = events(hub);
    uploadsOf(hub);
    await hub.ready();
    await ftp.stop();
    const old = clip();
    hub.emit('clip-ready', old);
    await waitFor('queued', async () => (await uploadsOf(hub).recent()).length === 1);
    await new Promise((r) => setTimeout(r, 120));
    await ftp.start();
    uploadsOf(hub).defineTarget('ftp1', cfgOf({ maxAgeMs: 100 }));
    await waitFor('dropped', () => seen.uploads.find((u) => u.clipId === old.clipId && u.state === 'dropped'));
    expect(seen.uploads.find((u) => u.state === 'dropped')!.error).toMatch(/older than/);
    expect(ftp.files()).toEqual([]);
  });

  test('FTPS (explicit TLS): a self-signed certificate is refused unless allowed', async () => {
    await ftp.close();
    ftp = await startFtpServer({ user: 'cam-uploader', password: 'tls-secret', tls: true });
    const hub = openHub();
    const seen = events(hub);
    await hub.ready();
    uploadsOf(hub).defineTarget('ftps', cfgOf({ secure: true, allowSelfSigned: false }));
    const c = clip('gate-cam', 20_000, 'ftps');
    hub.emit('clip-ready', c);
    await waitFor('a TLS error', () => /TLS|certificate/i.test(uploadsOf(hub).list()[0]?.lastError ?? ''));
    expect(uploadsOf(hub).list()[0].lastError).toMatch(/allow self-signed/);
    uploadsOf(hub).defineTarget('ftps', cfgOf({ secure: true, allowSelfSigned: true }));
    await waitFor('delivered over FTPS', () => doneIds(seen.uploads).includes(c.clipId), 15_000);
    expect(ftp.files()).toEqual([`gate-cam/2026-03-02/${path.basename(c.file)}`]);
  });
});

describe('doctor', () => {
  test('the recordings FTP check logs in with GATEPOST_FTP_*: ok, a wrong password fails with 530 (never shown), unset is skipped', async () => {
    const base = { GATEPOST_DATA_DIR: path.join(dir, 'data'), GATEPOST_HTTP_PORT: '0', GATEPOST_MQTT_PORT: '0', GATEPOST_BIND: '127.0.0.1' };
    const ftpCheck = async (extra: Record<string, string>) => {
      const env = { ...base, ...extra };
      return (await runDoctor({ cfg: loadConfig(env), env, mode: 'cli', timeoutMs: 2000 })).find((c) => c.id === 'ftp');
    };
    const server = { GATEPOST_FTP_HOST: '127.0.0.1', GATEPOST_FTP_PORT: String(ftp.port), GATEPOST_FTP_USER: ftp.user };
    expect(await ftpCheck({ ...server, GATEPOST_FTP_PASSWORD: ftp.password })).toMatchObject({ verdict: 'ok', en: `recordings FTP 127.0.0.1:${ftp.port}: logged in` });
    const bad = await ftpCheck({ ...server, GATEPOST_FTP_PASSWORD: 'wrong-Secret-9' });
    expect(bad).toMatchObject({ verdict: 'fail', en: expect.stringMatching(/login refused .*\(530\)/) });
    expect(JSON.stringify(bad)).not.toContain('wrong-Secret-9');
    await ftp.stop();
    expect((await ftpCheck({ ...server, GATEPOST_FTP_PASSWORD: ftp.password }))?.en).toMatch(/refused the connection/);
    expect(await ftpCheck({})).toMatchObject({ verdict: 'skip' });
  });
});
