/**
 * Wiring the compiler and the tests can check: one owner per MQTT topic, `close` over MQTT, the
 * live-stream event list in one place, the hub's logger kept, a typed bus.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BRIDGE_TOPICS, parseSetPayload } from '../../src/runtime/mqtt-bridge';
import { Hub, LIVE_EVENTS } from '../../src/services/hub';
import type { Logger } from '../../src/core/log';

const ROOT = path.resolve(__dirname, '..', '..');
const topicMatches = (filter: string, topic: string) =>
  new RegExp(
    '^' +
      filter
        .split('/')
        .map((l) => (l === '+' ? '[^/]+' : l.replace(/[.*?^${}()|[\]\\]/g, '\\$&')))
        .join('/') +
      '$',
  ).test(topic);

test('no shipped flow or example publishes on a topic the MQTT bridge owns (gatepost/eposelok/state had two publishers)', () => {
  expect(BRIDGE_TOPICS).toContain('gatepost/eposelok/state');
  const offenders: string[] = [];
  for (const dir of ['flows', 'examples']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir)).filter((x) => x.endsWith('.json'))) {
      const nodes: any[] = JSON.parse(fs.readFileSync(path.join(ROOT, dir, f), 'utf8'));
      const byId = new Map(nodes.map((n) => [n.id, n]));
      for (const n of nodes) {
        if (n.type === 'mqtt out' && n.topic) {
          const topic = String(n.topic).replace(/\$\{\w+\}/g, 'x');
          if (BRIDGE_TOPICS.some((t) => topicMatches(t, topic))) offenders.push(`${dir}/${f}: ${n.id} → ${n.topic}`);
        }
        // e-poselok-sync's output 2 carries msg.topic gatepost/eposelok/state: an mqtt out there publishes it again
        if (n.type === 'e-poselok-sync') for (const id of n.wires?.[1] ?? []) if (byId.get(id)?.type === 'mqtt out') offenders.push(`${dir}/${f}: ${id} ← e-poselok-sync output 2`);
      }
    }
  }
  expect(offenders).toEqual([]);
});

test('gatepost/gate/<id>/set takes close, as docs/MQTT.md says', () => {
  expect(parseSetPayload('close')).toBe('close');
  expect(parseSetPayload('{"command":"CLOSE"}')).toBe('close');
  expect(parseSetPayload('open')).toBe('open');
  expect(parseSetPayload('explode')).toBeNull();
  expect(fs.readFileSync(path.join(ROOT, 'docs', 'MQTT.md'), 'utf8')).toMatch(/`open` \/ `hold` \/ `release` \/ `close`/);
});

test('the live-stream event list exists once: the dashboard gets it from src/core/live-events.json', () => {
  const list = JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'core', 'live-events.json'), 'utf8'));
  expect([...LIVE_EVENTS]).toEqual(list);
  const shared = fs.readFileSync(path.join(ROOT, 'dashboard', 'shared.js'), 'utf8');
  for (const name of list) expect(shared).not.toContain(`'${name}', '`); // no second literal list
  const flow = JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', 'dashboard.json'), 'utf8'));
  const tpl = flow.find((n: any) => n.name === 'gatepost: shared');
  expect(tpl.format).toContain(`var GATEPOST_STREAM_EVENTS = ${JSON.stringify(list)};`);
});

describe('hub', () => {
  afterEach(() => Hub.closeAll());
  const logger = (lines: string[], tag: string): Logger => ({
    debug: () => undefined,
    info: (m) => lines.push(`${tag} ${m}`),
    warn: (m) => lines.push(`${tag} ${m}`),
    error: (m) => lines.push(`${tag} ${m}`),
  });

  test("the first opener's logger is kept: a later hubFor() does not take the runtime's log", async () => {
    const lines: string[] = [];
    const file = path.join(require('os').tmpdir(), `gp-hub-log-${process.pid}.db`);
    try {
      const hub = Hub.open({ dbPath: file, logger: logger(lines, 'runtime') });
      const again = Hub.open({ dbPath: file, logger: logger(lines, 'node') });
      expect(again).toBe(hub);
      hub.logger.info('hello');
      expect(lines).toEqual(['runtime hello']);
      await hub.ready();
    } finally {
      await Hub.closeAll();
      for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true });
    }
  });

  test('bus listeners get the typed payload of their event', async () => {
    const hub = Hub.open({ dbPath: ':memory:' });
    const seen: string[] = [];
    hub.on('gate-state', (s) => seen.push(`${s.gate}:${s.state}`));
    hub.emit('gate-state', { gate: 'main', name: 'Main', kind: 'barrier', state: 'open', since: 1, by: null, lastError: null });
    // @ts-expect-error a payload of the wrong shape does not compile (npm run typecheck)
    hub.emit('gate-state', { gate: 'main' });
    expect(seen).toEqual(['main:open', 'main:undefined']);
    await hub.ready();
  });
});
