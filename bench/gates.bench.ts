/**
 * Gate command latency, service level: `gatesOf(hub).command(id, 'open', …)` called → the relay
 * request seen by the emulator's request listener. Both drivers (CL-Gate, Sokol), real sqlite in
 * a temp dir, emulators on 127.0.0.1.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchRow, summarize } from './lib';
import { Hub } from '../src/services/hub';
import { gatesOf, GateDef } from '../src/services/gate-service';
import { startClGateEmulator } from '../src/emulators/clgate';
import { startSokolEmulator } from '../src/emulators/sokol';
import { HttpEmulator } from '../src/emulators/http-emulator';
import { silentLogger } from '../src/core/log';

const N = 300;
const WARMUP = 20;

async function measure(hub: Hub, emu: HttpEmulator, gate: string): Promise<{ request: number[]; roundTrip: number[] }> {
  const gates = gatesOf(hub);
  const samples: number[] = [];
  const roundTrip: number[] = [];
  let started = 0;
  let resolveSeen: (() => void) | null = null;
  const off = emu.onRequest_(() => {
    if (resolveSeen) {
      samples.push(performance.now() - started);
      const r = resolveSeen;
      resolveSeen = null;
      r();
    }
  });
  try {
    for (let i = 0; i < N + WARMUP; i++) {
      const seen = new Promise<void>((r) => (resolveSeen = r));
      started = performance.now();
      const done = gates.command(gate, 'open', { kind: 'decision', actor: String(i) });
      await seen;
      await done;
      roundTrip.push(performance.now() - started);
    }
  } finally {
    off();
  }
  return { request: samples.slice(WARMUP), roundTrip: roundTrip.slice(WARMUP) };
}

export async function run(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-bench-gates-'));
  const relay = await startClGateEmulator({ token: 'bench-token' });
  const panel = await startSokolEmulator({ switchTime: 60 });
  const hub = Hub.open({ dbPath: path.join(dir, 'bench.db'), logger: silentLogger });
  const rows: BenchRow[] = [];
  try {
    const gates = gatesOf(hub);
    const defs: GateDef[] = [
      { id: 'barrier', kind: 'barrier', relay: { driver: 'sarapul-relay', url: relay.url, channel: 1, token: 'bench-token' }, pulseMs: 600_000 },
      { id: 'wicket', kind: 'wicket', relay: { driver: 'sokol-door', url: panel.url, relay: 1, username: 'root', password: '123456' }, pulseMs: 600_000 },
    ];
    for (const d of defs) {
      gates.define(d);
      await gates.idle(d.id);
    }
    for (const [gate, emu, label] of [
      ['barrier', relay, 'sarapul-relay (CL-Gate)'],
      ['wicket', panel, 'sokol-door'],
    ] as const) {
      const m = await measure(hub, emu, gate);
      const s = summarize(m.request);
      rows.push({ area: 'gates', metric: `command open → relay request, ${label}`, value: s.text, goal: 'p99 < 50 ms', note: 'service level, 127.0.0.1 emulator' });
      const rt = summarize(m.roundTrip);
      rows.push({ area: 'gates', metric: `command open → new state returned, ${label}`, value: rt.text, note: 'includes the device answer' });
    }
    await gates.command('barrier', 'close', { kind: 'system' });
  } finally {
    await hub.close();
    await relay.close();
    await panel.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
