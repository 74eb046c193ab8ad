/**
 * Fault suite of the FTP upload queue (issue 14): nothing queued is lost, nothing crashes.
 *  - the runtime killed (SIGKILL) in the middle of an upload: the interrupted item is queued again
 *    at the next start and every file is delivered once, in order;
 *  - the FTP server stopped in the middle of a transfer, a server that speaks garbage, one that never
 *    greets, a login storm of 530s, temporary refusals (452), local files that vanish: clear errors,
 *    retries with backoff, every deliverable file delivered intact.
 * Real parts: the built runtime (harness), real sqlite files, ftp-srv and raw TCP servers on 127.0.0.1.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Hub } from '../../src/services/hub';
import { FtpTargetConfig, FTP_DEFAULTS, uploadsOf } from '../../src/services/upload-service';
import { degradedOf } from '../../src/services/degraded';
import { silentLogger } from '../../src/core/log';
import type { ClipReady, UploadState } from '../../src/core/contracts';
import { startFtpServer, FtpServer } from '../../harness/ftp-server';
import { startGatepost, GatepostHandle, ROOT, apiOf, waitFor } from '../helpers/runtime';
import { reportFault } from '../helpers/faults';

jest.setTimeout(180_000);

let dir: string;
let ftp: FtpServer;
let n = 0;

const cfgOf = (over: Partial<FtpTargetConfig> = {}): FtpTargetConfig => ({
  ...FTP_DEFAULTS,
  host: '127.0.0.1',
  port: ftp.port,
  user: ftp.user,
  password: ftp.password,
  timeoutMs: 1500,
  retryMinMs: 50,
  retryMaxMs: 300,
  probeIntervalMs: 0,
  ...over,
});

function clip(bytes = 100_000): ClipReady {
  const id = ++n;
  const file = path.join(dir, 'clips', `c${id}.mp4`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 997) buf[i] = (id + i) & 0xff;
  fs.writeFileSync(file, buf);
  return { clipId: id, camera: 'cam', file, start: Date.now(), end: Date.now() + 1000, size: bytes, target: 't1' };
}

function openHub() {
  const hub = Hub.open({ dbPath: path.join(dir, 'gatepost.db'), logger: silentLogger });
  const states: UploadState[] = [];
  hub.on('upload-state', (u) => void states.push(u));
  uploadsOf(hub);
  return { hub, states, done: () => states.filter((u) => u.state === 'done').map((u) => u.clipId) };
}

/** Every delivered clip is on the server byte for byte. */
function intact(clips: ClipReady[]): number {
  let ok = 0;
  for (const c of clips) {
    const remote = ftp.files().find((f) => path.basename(f) === path.basename(c.file));
    if (remote && fs.readFileSync(path.join(ftp.root, remote)).equals(fs.readFileSync(c.file))) ok++;
  }
  return ok;
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ftp-faults-'));
  ftp = await startFtpServer({ user: 'rec', password: 'fault-Secret' });
});
afterEach(async () => {
  await Hub.closeAll();
  await ftp.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the FTP server stopped in the middle of transfers (3 times): every file delivered intact, in order', async () => {
  const { hub, done } = openHub();
  await hub.ready();
  uploadsOf(hub).defineTarget('t1', cfgOf());
  const clips = Array.from({ length: 6 }, () => clip(3_000_000));
  let cuts = 0;
  const cut = () =>
    ftp.onNextStore(() => {
      cuts++;
      setTimeout(() => {
        void ftp.stop().then(() => setTimeout(() => void ftp.start().then(() => cuts < 3 && cut()), 300));
      }, 5);
    });
  cut();
  for (const c of clips) hub.emit('clip-ready', c);
  await waitFor('all delivered', () => done().length === clips.length, 60_000);
  const ok = intact(clips);
  reportFault({
    attack: 'FTP server stopped mid-transfer (3×), restarted after 0.3 s',
    tried: cuts,
    survived: ok === clips.length ? cuts : 0,
    lost: clips.length - ok,
    note: `${clips.length} files of 3 MB`,
  });
  expect(cuts).toBe(3);
  expect(done()).toEqual(clips.map((c) => c.clipId));
  expect(ok).toBe(clips.length);
  expect(ftp.files().filter((f) => f.endsWith('.part'))).toEqual([]);
});

test('a server that speaks garbage, one that never greets, then the real one: clear errors, no crash, delivered', async () => {
  const garbage = net.createServer((s) => s.end('HELLO this is not FTP\r\n\x00\x01\x02'));
  const silent = net.createServer(() => undefined);
  const listen = (srv: net.Server) => new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
  const gp = await listen(garbage);
  const sp = await listen(silent);
  try {
    const { hub, done } = openHub();
    await hub.ready();
    const c = clip();
    hub.emit('clip-ready', c);
    const errors: string[] = [];
    uploadsOf(hub).defineTarget('t1', cfgOf({ port: gp }));
    errors.push((await waitFor('an error from the garbage server', () => uploadsOf(hub).list()[0]?.lastError)) as string);
    uploadsOf(hub).defineTarget('t1', cfgOf({ port: sp, timeoutMs: 500 }));
    errors.push((await waitFor('a timeout from the silent server', () => /did not answer in time/.exec(uploadsOf(hub).list()[0]?.lastError ?? '')?.input)) as string);
    expect(
      degradedOf(hub)
        .list()
        .map((d) => d.what),
    ).toEqual(['ftp:t1']);
    uploadsOf(hub).defineTarget('t1', cfgOf());
    await waitFor('delivered to the real server', () => done().includes(c.clipId), 15_000);
    reportFault({ attack: 'FTP target answering garbage / never greeting', tried: 2, survived: done().includes(c.clipId) ? 2 : 0, lost: 0, note: errors.map((e) => e.slice(0, 40)).join(' | ') });
    expect(errors[0]).toMatch(/127\.0\.0\.1:\d+/);
    expect(degradedOf(hub).list()).toEqual([]);
  } finally {
    garbage.close();
    silent.close();
  }
});

test('a storm of refused logins (530) and temporary refusals (452): retried, never failed, delivered after', async () => {
  const { hub, states, done } = openHub();
  await hub.ready();
  ftp.refuseLogins(true);
  uploadsOf(hub).defineTarget('t1', cfgOf({ retryMinMs: 10, retryMaxMs: 40, maxAttempts: 3 }));
  const clips = [clip(), clip(), clip()];
  for (const c of clips) hub.emit('clip-ready', c);
  await waitFor('20 refused logins', () => ftp.logins.filter((l) => !l.ok).length >= 20, 20_000);
  const refused = ftp.logins.filter((l) => !l.ok).length;
  ftp.failStores(5, 452); // "insufficient storage" for a while: a server-side condition, not the file's fault
  ftp.refuseLogins(false);
  await waitFor('all delivered', () => done().length === 3, 20_000);
  const failed = states.filter((s) => s.state === 'failed').length;
  reportFault({ attack: 'FTP logins refused (530) then STOR 452 ×5', tried: refused + 5, survived: refused + 5, lost: 3 - intact(clips), note: `${failed} items failed` });
  expect(failed).toBe(0);
  expect(done()).toEqual(clips.map((c) => c.clipId));
});

test('local files that vanish before upload are failed with the reason; the others delivered', async () => {
  const { hub, states, done } = openHub();
  await hub.ready();
  await ftp.stop();
  uploadsOf(hub).defineTarget('t1', cfgOf());
  const clips = Array.from({ length: 6 }, () => clip());
  for (const c of clips) hub.emit('clip-ready', c);
  await waitFor('6 queued', () => uploadsOf(hub).list()[0]?.queued === 6);
  const gone = [clips[1], clips[4]];
  for (const c of gone) fs.rmSync(c.file);
  await ftp.start();
  await waitFor('the rest delivered', () => done().length === 4, 20_000);
  const failed = states.filter((s) => s.state === 'failed');
  reportFault({ attack: 'local clip files deleted while queued', tried: gone.length, survived: failed.length, lost: 4 - intact(clips.filter((c) => !gone.includes(c))) });
  expect(failed.map((f) => f.clipId)).toEqual(gone.map((c) => c.clipId));
  for (const f of failed) expect(f.error).toMatch(/local file missing/);
});

describe('runtime', () => {
  let rt: GatepostHandle | null = null;
  let tmp: string;
  afterEach(async () => {
    if (rt) {
      if (rt.proc.exitCode === null && rt.proc.signalCode === null) await rt.stop();
      rt.cleanup();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the runtime killed (SIGKILL) in the middle of an upload: queued again at the next start, all delivered once, in order', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-ftp-kill-'));
    const flowsDir = path.join(tmp, 'flows');
    fs.mkdirSync(flowsDir);
    fs.copyFileSync(path.join(ROOT, 'examples', 'ftp-target.json'), path.join(flowsDir, 'ftp-target.json'));
    fs.writeFileSync(path.join(tmp, 'big.bin'), Buffer.alloc(8_000_000, 3));
    const env = {
      GATEPOST_FTP_HOST: '127.0.0.1',
      GATEPOST_FTP_PORT: String(ftp.port),
      GATEPOST_FTP_USER: ftp.user,
      GATEPOST_FTP_PASSWORD: ftp.password,
      GATEPOST_FTP_EXAMPLE_FILE: path.join(tmp, 'big.bin'),
    };
    rt = await startGatepost({ flowsDir, env });
    const api = <T = any>(p: string): Promise<T> => apiOf<T>(rt!, p);
    await waitFor('connected', async () => (await api('/api/uploads')).targets[0]?.connected);
    // the server is down while three files are queued; when it is back, the runtime is killed as the first STOR starts
    await ftp.stop();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${rt.url}/admin/inject/ftp-target-example-inject`, { method: 'POST', headers: rt.basicAuth() });
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 20));
    }
    await waitFor('3 queued', async () => (await api('/api/uploads')).targets[0]?.queued === 3);
    const names = (await api('/api/uploads')).recent.map((r: any) => r.name).reverse();
    let killed = false;
    ftp.onNextStore(() => {
      killed = rt!.proc.kill('SIGKILL');
    });
    await ftp.start();
    await waitFor('the kill', () => rt!.proc.signalCode === 'SIGKILL', 30_000);
    const known = { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword };
    rt = await startGatepost({ flowsDir, env, dataDir: rt.dataDir, known });
    await waitFor('delivered after the restart', async () => (await apiOf(rt!, '/api/uploads')).recent.filter((r: any) => r.state === 'done').length === 3, 60_000);
    const finals = ftp.renamed.map((f) => path.basename(f));
    const ok = ftp.files().filter((f) => fs.statSync(path.join(ftp.root, f)).size === 8_000_000 && !f.endsWith('.part')).length;
    reportFault({ attack: 'runtime SIGKILL during an FTP upload, restarted', tried: 1, survived: ok === 3 ? 1 : 0, lost: 3 - ok, crashes: 0 });
    expect(killed).toBe(true);
    expect(finals).toEqual(names);
    expect(ok).toBe(3);
    expect(rt.output()).toMatch(/interrupted by the last stop queued again/);
  });
});
