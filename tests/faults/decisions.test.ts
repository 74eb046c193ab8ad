/**
 * Fault suite: no published decision is lost when the process is killed (kill -9) mid-stream.
 * The built runtime with the shipped flows takes plates over MQTT (the `lpr` account, QoS 1) at a
 * steady 200/s and in an unpaced burst; a subscriber collects every decision published on
 * gatepost/decision/#; the runtime is killed with SIGKILL; then the sqlite file is opened and every
 * published decision's event must be in it (a decision goes out only after its event is committed).
 */
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { Database } from 'sqlite3';
import { spawn } from 'child_process';
import { startGatepost, GatepostHandle, MAIN } from '../helpers/runtime';
import { connect, collector, subscribe, end, untilFlowTakesPlates } from '../helpers/mqtt-test';
import { reportFault } from '../helpers/faults';

jest.setTimeout(180_000);

function storedIds(dbFile: string, ids: number[]): Promise<Set<number>> {
  return new Promise((resolve, reject) => {
    const db = new Database(dbFile, (err) => {
      if (err) return reject(err);
      const found = new Set<number>();
      const chunks: number[][] = [];
      for (let i = 0; i < ids.length; i += 500) chunks.push(ids.slice(i, i + 500));
      const next = () => {
        const c = chunks.shift();
        if (!c) return db.close(() => resolve(found));
        db.all(`SELECT id FROM events WHERE id IN (${c.map(() => '?').join(',')})`, c, (e, rows: Array<{ id: number }>) => {
          if (e) return reject(e);
          for (const r of rows) found.add(r.id);
          next();
        });
      };
      next();
    });
  });
}

const plateOf = (i: number) => `А${String(i % 1000).padStart(3, '0')}ВС${10 + Math.floor(i / 1000)}`;

interface KillOptions {
  /** run `gatepost backup` (online, sqlite backup API) while the plates stream; the archive is restored after the kill */
  backupDuring?: boolean;
}

interface KillResult {
  published: number;
  lost: number;
  exitSignal: string | null;
  /** with backupDuring: the restart after the kill (quick_check at start) and the restored backup */
  restart?: { started: boolean; quickCheckOk: boolean; eventsAfterRestart: number; backupEvents: number | null; restoredEvents: number; restoreCode: number | null };
}

function countEvents(dbFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const db = new Database(dbFile, (err) => {
      if (err) return reject(err);
      db.get('SELECT COUNT(*) AS n FROM events', (e: Error | null, row: { n: number }) => db.close(() => (e ? reject(e) : resolve(row.n))));
    });
  });
}

function gatepostCli(rt: GatepostHandle, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { cwd: path.dirname(rt.dataDir), env: rt.env });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

async function killMidStream(rate: number | 'burst', plates: number, killAfter: number, opts: KillOptions = {}): Promise<KillResult> {
  const rt: GatepostHandle = await startGatepost({ env: { GATEPOST_LOG_LEVEL: 'warn' } });
  let lpr: MqttClient | null = null;
  let watcher: MqttClient | null = null;
  try {
    lpr = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: `kill-lpr-${rate}` });
    watcher = await connect(rt.mqttUrl, { username: 'lpr', password: rt.lprPassword, clientId: `kill-watch-${rate}` });
    const seen = collector(watcher);
    await subscribe(watcher, 'gatepost/decision/#');
    await untilFlowTakesPlates(watcher);
    const from = seen.messages.length;
    let stop = false;
    const killAt = new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (seen.messages.length - from >= killAfter) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    const sending = (async () => {
      for (let i = 0; i < plates && !stop && !lpr!.disconnected && !lpr!.disconnecting; i++) {
        try {
          lpr!.publish('gatepost/lpr/cam1', JSON.stringify({ plate: plateOf(i), requestId: `k${i}` }), { qos: 1 });
        } catch {
          break; // the broker died with the process
        }
        if (rate !== 'burst') await new Promise((r) => setTimeout(r, 1000 / rate));
        else if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
    })();
    let backup: Promise<{ code: number | null; out: string }> | null = null;
    const archive = path.join(path.dirname(rt.dataDir), 'during-stream.tar.gz');
    if (opts.backupDuring) {
      // halfway: an online backup while the plates keep coming; the kill waits for it
      await seen.wait(() => seen.messages.length - from >= killAfter / 2, 60_000);
      backup = gatepostCli(rt, ['backup', archive]);
    }
    await killAt;
    const backupDone = backup ? await backup : null;
    stop = true;
    rt.proc.kill('SIGKILL');
    const exit = await rt.stop('SIGKILL', 5000);
    await sending.catch(() => undefined);
    // decisions that were on the wire when the process died are in `seen` by now
    await new Promise((r) => setTimeout(r, 200));
    const published = seen.messages
      .slice(from)
      .filter((m) => m.topic.startsWith('gatepost/decision/'))
      .map((m) => JSON.parse(m.payload))
      .filter((d) => typeof d.requestId === 'string' && d.requestId.startsWith('k'));
    const ids = published.map((d) => d.eventId as number);
    const stored = await storedIds(path.join(rt.dataDir, 'gatepost.db'), ids);
    const lost = ids.filter((id) => !stored.has(id)).length;
    const result: KillResult = { published: published.length, lost, exitSignal: exit.signal };
    if (opts.backupDuring) {
      if (backupDone?.code !== 0) throw new Error(`gatepost backup during the stream failed: ${backupDone?.out}`);
      const backupEvents = Number(/: (\d+) events/.exec(backupDone.out)?.[1] ?? NaN);
      // the restart after the power cut: quick_check at start must pass (else the start is refused)
      const again = await startGatepost({ dataDir: rt.dataDir, known: { adminPassword: rt.adminPassword, lprPassword: rt.lprPassword }, env: { GATEPOST_LOG_LEVEL: 'info' } });
      const quickCheckOk = /database check \(quick_check\) ok/.test(again.output());
      const total = await fetch(`${again.url}/api/events?limit=1`, { headers: again.basicAuth() }).then((r) => r.json());
      await again.stop();
      const restored = await gatepostCli(rt, ['restore', archive]);
      result.restart = {
        started: true,
        quickCheckOk,
        eventsAfterRestart: Number(total.total),
        backupEvents: Number.isFinite(backupEvents) ? backupEvents : null,
        restoredEvents: await countEvents(path.join(rt.dataDir, 'gatepost.db')),
        restoreCode: restored.code,
      };
    }
    return result;
  } finally {
    if (lpr) await end(lpr).catch(() => undefined);
    if (watcher) await end(watcher).catch(() => undefined);
    if (rt.proc.exitCode === null && rt.proc.signalCode === null) await rt.stop('SIGKILL', 5000);
    rt.cleanup();
  }
}

describe('kill -9 mid-stream loses no published decision', () => {
  test('200 plates/s, killed after ~2 s', async () => {
    const r = await killMidStream(200, 2000, 400);
    reportFault({ attack: 'kill -9 at 200 plates/s (published decisions vs events on disk)', tried: r.published, survived: r.published - r.lost, lost: r.lost, note: `signal ${r.exitSignal}` });
    expect(r.exitSignal).toBe('SIGKILL');
    expect(r.published).toBeGreaterThanOrEqual(400);
    expect(r.lost).toBe(0);
  });

  test('200 plates/s with an online backup meanwhile, killed: the restart checks the database and finds every event; the backup restores', async () => {
    const r = await killMidStream(200, 3000, 600, { backupDuring: true });
    const x = r.restart!;
    reportFault({
      attack: 'kill -9 at 200 plates/s after an online backup mid-stream; restart + restore of that backup',
      tried: r.published,
      survived: r.published - r.lost,
      lost: r.lost,
      note: `restart quick_check ${x.quickCheckOk ? 'ok' : 'FAILED'}; backup held ${x.backupEvents} events, restored ${x.restoredEvents}`,
    });
    expect(r.exitSignal).toBe('SIGKILL');
    expect(r.published).toBeGreaterThanOrEqual(600);
    expect(r.lost).toBe(0);
    expect(x.quickCheckOk).toBe(true);
    expect(x.eventsAfterRestart).toBeGreaterThanOrEqual(r.published);
    expect(x.restoreCode).toBe(0);
    expect(x.backupEvents).toBeGreaterThan(0);
    expect(x.restoredEvents).toBe(x.backupEvents);
  });

  test('an unpaced burst, killed mid-burst', async () => {
    const r = await killMidStream('burst', 5000, 800);
    reportFault({ attack: 'kill -9 mid-burst (5,000 plates unpaced)', tried: r.published, survived: r.published - r.lost, lost: r.lost, note: `signal ${r.exitSignal}` });
    expect(r.exitSignal).toBe('SIGKILL');
    expect(r.published).toBeGreaterThanOrEqual(800);
    expect(r.lost).toBe(0);
  });
});
