/** The pure gate controller with an injected clock (time only moves when the test says so). */
import { GateController, GateActuator, DeviceAction, GateSnapshot, GateActionRecord } from '../../src/core/gate';
import type { Clock } from '../../src/core/clock';

class ManualClock implements Clock {
  t = 1_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  pending(): number {
    return this.timers.length;
  }
  /** moves time forward, firing due timers and letting their async work settle */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A relay in memory: records actions; `failNext` makes the next N calls fail. */
class MemoryRelay implements GateActuator {
  calls: DeviceAction[] = [];
  failNext = 0;
  async actuate(a: DeviceAction) {
    this.calls.push(a);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('HTTP 500');
    }
    return { latencyMs: 1 };
  }
}

function setup(initial?: Partial<GateSnapshot>) {
  const clock = new ManualClock();
  const relay = new MemoryRelay();
  const states: GateSnapshot[] = [];
  const actions: GateActionRecord[] = [];
  const alarms: string[] = [];
  const ctl = new GateController(
    'g',
    relay,
    { pulseMs: 6000, closeRetryBaseMs: 1000, closeRetryMaxMs: 30000 },
    clock,
    {
      state: (s) => states.push(s),
      action: (a) => actions.push(a),
      alarm: (m) => alarms.push(m),
    },
    initial,
  );
  return { clock, relay, states, actions, alarms, ctl };
}

test('open pulses for pulseMs; a second open extends the pulse; closesAt moves', async () => {
  const { clock, relay, ctl } = setup();
  const a = await ctl.command('open', { kind: 'decision', actor: '1' });
  expect(a.closesAt).toBe(clock.now() + 6000);
  await clock.advance(4000);
  const b = await ctl.command('open', { kind: 'decision', actor: '2' });
  expect(b.closesAt).toBe(clock.now() + 6000);
  expect(b.since).toBe(a.since);
  await clock.advance(5999);
  expect(ctl.snapshot().state).toBe('open');
  expect(relay.calls).toEqual(['open', 'open']);
  await clock.advance(1);
  expect(ctl.snapshot()).toMatchObject({ state: 'closed', by: 'system:pulse' });
  expect(relay.calls).toEqual(['open', 'open', 'close']);
});

test('hold cancels the close; release closes; open on a held gate keeps it held', async () => {
  const { clock, relay, ctl } = setup();
  await ctl.command('open', { kind: 'flow' });
  await ctl.command('hold', { kind: 'user', actor: 'g1' });
  expect(clock.pending()).toBe(0);
  expect((await ctl.command('open', { kind: 'decision' })).state).toBe('held');
  await clock.advance(60_000);
  expect(ctl.snapshot()).toMatchObject({ state: 'held', by: 'user:g1' });
  await ctl.command('release', { kind: 'user', actor: 'g1' });
  expect(ctl.snapshot().state).toBe('closed');
  expect(relay.calls).toEqual(['open', 'hold', 'hold', 'release']);
});

test('close failures: fault, one alarm, retries after 1, 2, 4, 8, 16, 30, 30, 30 s until success', async () => {
  const { clock, relay, ctl, alarms } = setup();
  await ctl.command('open', { kind: 'flow' });
  relay.failNext = 8;
  await clock.advance(6000);
  expect(ctl.snapshot().state).toBe('fault');
  const failedAt = clock.now();
  const times: number[] = [];
  let calls = relay.calls.length;
  for (let i = 0; i < 400 && ctl.snapshot().state !== 'closed'; i++) {
    await clock.advance(500);
    if (relay.calls.length !== calls) {
      times.push(clock.now());
      calls = relay.calls.length;
    }
  }
  const gaps = [times[0] - failedAt, ...times.slice(1).map((t, i) => t - times[i])];
  expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  expect(ctl.snapshot().state).toBe('closed');
  expect(alarms).toHaveLength(1);
});

test('restart: held → hold re-asserted; open or fault → closed (fault via release)', async () => {
  const held = setup();
  await held.ctl.restart({ state: 'held', by: 'user:g1', since: 5 });
  expect(held.relay.calls).toEqual(['hold']);
  expect(held.ctl.snapshot()).toMatchObject({ state: 'held', by: 'user:g1', since: 5 });
  expect(held.actions[0]).toMatchObject({ command: 'restart-hold', source: 'system', result: 'ok' });

  const open = setup();
  await open.ctl.restart({ state: 'open', since: 5 });
  expect(open.relay.calls).toEqual(['close']);
  expect(open.ctl.snapshot().state).toBe('closed');

  const fault = setup();
  await fault.ctl.restart({ state: 'fault', since: 5 });
  expect(fault.relay.calls).toEqual(['release']);
});

test('a command during a close retry takes over: hold keeps the gate open on purpose', async () => {
  const { clock, relay, ctl } = setup();
  await ctl.command('open', { kind: 'flow' });
  relay.failNext = 1;
  await clock.advance(6000);
  expect(ctl.snapshot().state).toBe('fault');
  await ctl.command('hold', { kind: 'user', actor: 'g' });
  await clock.advance(60_000);
  expect(ctl.snapshot().state).toBe('held');
  expect(relay.calls).toEqual(['open', 'close', 'hold']);
});
