/**
 * The pure alarm rules (src/core/alarms.ts): mapping of the hub's alarms, refused-plate hours,
 * flood control (N a minute, repeats grouped, quiet hours), group texts with Russian plurals,
 * held-open and stale watches, settings validation, the code attempt limiter, token redaction.
 */
import {
  alertOfAlarm,
  alertText,
  AttemptLimiter,
  ChatLimits,
  DEFAULT_ALERT_SETTINGS,
  FloodControl,
  groupText,
  HeldOpenWatch,
  inWindow,
  localMinute,
  parseAlertSettings,
  plural,
  refusedAlerts,
  StaleWatch,
  tagOf,
} from '../../src/core/alarms';
import { redactToken } from '../../src/services/telegram-bot';

const MIN = 60_000;
const lim = (over: Partial<ChatLimits> = {}): ChatLimits => ({ perMinute: 3, groupMs: 5 * MIN, quiet: null, minute: 12 * 60, ...over });

describe('alertOfAlarm: every alarm of the hub in one model', () => {
  test('gate fault, degraded devices (relay, camera, SQL Server, FTP), disk, E-Poselok shrink', () => {
    expect(alertOfAlarm({ source: 'gate', gate: 'main', ts: 5, message: 'close failed' })).toEqual({ type: 'gate-fault', severity: 'critical', subject: 'main', ts: 5, message: 'close failed' });
    for (const what of ['gate:wicket', 'camera:yard', 'ivms:src1', 'ftp:nas', 'relay', 'sokol', 'eposelok']) {
      expect(alertOfAlarm({ source: 'health', what, ts: 1, message: 'x' })).toMatchObject({ type: 'device-offline', severity: 'critical', subject: what });
    }
    expect(alertOfAlarm({ source: 'health', what: 'disk:log', ts: 1, message: 'EROFS' })).toMatchObject({ type: 'system', severity: 'warning' });
    expect(alertOfAlarm({ source: 'eposelok', kind: 'shrink', ts: 1, message: 'list shrank' })).toMatchObject({ type: 'eposelok-stale' });
    // stale is the alarm service's own rule (N hours), motion comes from 'camera-motion': no double alerts
    expect(alertOfAlarm({ source: 'eposelok', kind: 'stale', ts: 1, message: '' })).toBeNull();
    expect(alertOfAlarm({ source: 'camera', kind: 'motion', severity: 'info', subject: 'c', ts: 1, message: '' })).toBeNull();
  });
  test('FeatureAlarm: iVMS after hours, any other kind as a tag; the image kept', () => {
    const img = Buffer.from([0xff, 0xd8, 1, 2]);
    expect(alertOfAlarm({ source: 'ivms', kind: 'after-hours', severity: 'warning', subject: 'Петров', ts: 9, message: 'inside', image: img })).toEqual({
      type: 'ivms-after-hours',
      severity: 'warning',
      subject: 'Петров',
      ts: 9,
      message: 'inside',
      image: img,
    });
    expect(alertOfAlarm({ source: 'people', kind: 'Face Unknown!', severity: 'bogus' as any, subject: 'door', ts: 1, message: '' })).toMatchObject({
      type: 'people-face-unknown-',
      severity: 'warning',
    });
    expect(alertOfAlarm(null as any)).toBeNull();
    expect(tagOf('  ')).toBe('flow');
  });
});

describe('refused plates: per gate, optionally only in set hours', () => {
  test('windows, crossing midnight, gate filter', () => {
    expect(inWindow(23 * 60, 22 * 60, 6 * 60)).toBe(true);
    expect(inWindow(5 * 60 + 59, 22 * 60, 6 * 60)).toBe(true);
    expect(inWindow(6 * 60, 22 * 60, 6 * 60)).toBe(false);
    expect(inWindow(10 * 60, 9 * 60, 18 * 60)).toBe(true);
    expect(inWindow(10 * 60, 9 * 60, 9 * 60)).toBe(false);
    const s = { ...DEFAULT_ALERT_SETTINGS, refused: { enabled: true, gates: ['main'], from: '22:00', to: '06:00' } };
    expect(refusedAlerts(s, 'main', 23 * 60)).toBe(true);
    expect(refusedAlerts(s, 'main', 12 * 60)).toBe(false);
    expect(refusedAlerts(s, 'wicket', 23 * 60)).toBe(false);
    expect(refusedAlerts({ ...s, refused: { ...s.refused, enabled: false } }, 'main', 23 * 60)).toBe(false);
    expect(refusedAlerts(DEFAULT_ALERT_SETTINGS, undefined, 0)).toBe(true);
  });
  test('local minute in the site time zone', () => {
    expect(localMinute(Date.parse('2026-12-01T21:15:00Z'), 'Europe/Moscow')).toBe(15);
    expect(localMinute(Date.parse('2026-12-01T21:15:00Z'), 'UTC')).toBe(21 * 60 + 15);
  });
});

describe('flood control', () => {
  test('at most N a minute per chat; the rest summed up once a slot frees', () => {
    const f = new FloodControl();
    const a = (type: string) => ({ type, severity: 'warning' as const });
    const t0 = 1_000_000;
    expect(['x', 'y', 'z', 'w', 'v'].map((t, i) => f.offer(1, a(t), t0 + i, lim()))).toEqual(['send', 'send', 'send', 'grouped', 'grouped']);
    // another chat has its own budget
    expect(f.offer(2, a('w'), t0, lim())).toBe('send');
    expect(f.due(t0 + 30_000, () => lim())).toEqual([]);
    const due = f.due(t0 + 60_001, () => lim());
    expect(due.map((g) => [g.chatId, g.type, g.count])).toEqual([
      [1, 'w', 1],
      [1, 'v', 1],
    ]);
  });
  test('repeats of a type within the window are grouped: «ещё 12 отказов за 5 мин»', () => {
    const f = new FloodControl();
    const r = { type: 'plate-refused', severity: 'warning' as const };
    const t0 = 5_000_000;
    const l = lim({ perMinute: 20 });
    expect(f.offer(1, r, t0, l)).toBe('send');
    for (let i = 1; i <= 12; i++) expect(f.offer(1, r, t0 + i * 20_000, l)).toBe('grouped');
    expect(f.pending(1)).toBe(12);
    expect(f.due(t0 + 4 * MIN, () => l)).toEqual([]);
    const [g] = f.due(t0 + 5 * MIN, () => l);
    expect(g).toMatchObject({ chatId: 1, type: 'plate-refused', count: 12 });
    expect(groupText({ ...g, first: t0, last: t0 + 5 * MIN }, 'ru')).toBe('ещё 12 отказов за 5 мин');
    expect(groupText({ ...g, first: t0, last: t0 + 5 * MIN }, 'en')).toBe('12 more refusals in 5 min');
    // after the summary, the next repeat is grouped again for another window
    expect(f.offer(1, r, t0 + 5 * MIN + 1, l)).toBe('grouped');
    // a revoked chat (no limits) is forgotten
    expect(f.due(t0 + 20 * MIN, () => null)).toEqual([]);
    expect(f.pending(1)).toBe(0);
  });
  test('quiet hours hold non-critical alerts and sum them up afterwards; critical ones go through', () => {
    const f = new FloodControl();
    const quiet = { from: 23 * 60, to: 7 * 60 };
    const t0 = 9_000_000;
    expect(f.offer(1, { type: 'camera-motion', severity: 'info' }, t0, lim({ quiet, minute: 2 * 60 }))).toBe('grouped');
    expect(f.offer(1, { type: 'camera-motion', severity: 'info' }, t0 + 1, lim({ quiet, minute: 2 * 60 }))).toBe('grouped');
    expect(f.offer(1, { type: 'gate-fault', severity: 'critical' }, t0 + 2, lim({ quiet, minute: 2 * 60 }))).toBe('send');
    expect(f.due(t0 + 6 * MIN, () => lim({ quiet, minute: 3 * 60 }))).toEqual([]);
    const [g] = f.due(t0 + 6 * 60 * MIN, () => lim({ quiet, minute: 7 * 60 + 1 }));
    expect(g).toMatchObject({ type: 'camera-motion', count: 2, quiet: true });
    expect(groupText(g, 'ru')).toMatch(/^за тихие часы: ещё 2 оповещения «Движение» за \d+ мин$/);
  });
  test('Russian plurals', () => {
    expect([1, 2, 5, 11, 12, 21, 22, 25, 111].map((n) => plural(n, 'отказ', 'отказа', 'отказов'))).toEqual([
      'отказ',
      'отказа',
      'отказов',
      'отказов',
      'отказов',
      'отказ',
      'отказа',
      'отказов',
      'отказов',
    ]);
  });
});

describe('watches', () => {
  test('a gate open or held longer than N minutes: once per episode', () => {
    const w = new HeldOpenWatch();
    const g = { gate: 'main', name: 'Въезд', kind: 'barrier' as const, since: 1000 };
    w.state({ ...g, state: 'held' }, 1000);
    expect(w.check(1000 + 9 * MIN, 10)).toEqual([]);
    expect(w.check(1000 + 10 * MIN, 10)).toEqual([{ gate: 'main', name: 'Въезд', kind: 'barrier', since: 1000 }]);
    expect(w.check(1000 + 30 * MIN, 10)).toEqual([]);
    w.state({ ...g, state: 'closed' }, 2000);
    w.state({ ...g, state: 'open', since: 50 * MIN }, 50 * MIN);
    expect(w.check(61 * MIN, 10)).toHaveLength(1);
    expect(w.check(100 * MIN, 0)).toEqual([]);
  });
  test('E-Poselok without a good sync for N hours: once, re-armed by a good sync; not configured: never', () => {
    const H = 3_600_000;
    const w = new StaleWatch(0);
    expect(w.check(10 * H, 6)).toBeNull();
    w.state({ configured: true, lastSuccessAt: 1 * H });
    expect(w.check(6 * H, 6)).toBeNull();
    expect(w.check(7 * H + 1, 6)).toEqual({ since: 1 * H });
    expect(w.check(8 * H, 6)).toBeNull();
    w.state({ configured: true, lastSuccessAt: 9 * H });
    expect(w.check(16 * H, 6)).toEqual({ since: 9 * H });
  });
});

describe('settings, codes, texts', () => {
  test('settings are validated, nothing silently changed', () => {
    expect(parseAlertSettings({ perMinute: 5, refused: { gates: ['main'], from: '22:00', to: '06:00' } }).value).toMatchObject({
      perMinute: 5,
      refused: { gates: ['main'], from: '22:00', to: '06:00', enabled: true },
    });
    const bad = parseAlertSettings({ perMinute: 0, heldOpenMinutes: 'x', refused: { from: '25:00', to: '06:00', gates: 'main' }, lang: 'de', maxAgeHours: true });
    expect(bad.problems).toEqual(
      expect.arrayContaining([
        'perMinute must be a number 1..60',
        'heldOpenMinutes must be a number 0..1440',
        'refused.from must be HH:MM',
        'refused.gates must be a list of gate ids',
        "lang must be 'ru' or 'en'",
        'maxAgeHours must be a number 0.01..720',
      ]),
    );
    expect(parseAlertSettings({ refused: { from: '22:00' } }).problems).toContain('refused.from and refused.to are set together');
    expect(parseAlertSettings([]).problems).toContain('settings must be an object');
  });
  test('wrong codes: 5 in 10 minutes, then refused until the window passes', () => {
    const l = new AttemptLimiter(5, 10 * MIN);
    for (let i = 0; i < 4; i++) l.fail(i);
    expect(l.blockedFor(10)).toBe(0);
    l.fail(10);
    expect(l.blockedFor(20)).toBe(10 * MIN - 20);
    expect(l.blockedFor(10 * MIN + 1)).toBe(0);
  });
  test('the message carries the original time in the site zone', () => {
    const text = alertText({ type: 'plate-refused', severity: 'warning', subject: 'А123ВС77', ts: Date.parse('2026-12-01T21:15:07Z'), message: 'not listed' }, 'ru', 'Europe/Moscow');
    expect(text).toBe('🚫 Отказ в проезде: А123ВС77\nnot listed\n🕒 02.12 00:15:07');
  });
  test('the bot token never survives redaction', () => {
    const token = '123456789:AAFakeTokenForTheGatepostEmulator00000';
    expect(redactToken(`request to https://api.telegram.org/bot${token}/getMe failed`, token)).toBe('request to https://api.telegram.org/bot***/getMe failed');
    expect(redactToken(`request to http://x/bot${token}/getMe failed`)).not.toContain('AAFake');
    expect(redactToken(`token ${token} leaked`)).not.toContain('AAFake');
  });
});

test("a flow's own messages are rate-limited but not folded as repeats", () => {
  const f = new FloodControl();
  const m = { type: 'doorbell', severity: 'info' as const };
  expect([0, 1, 2, 3].map((i) => f.offer(1, m, 1000 + i, lim(), false))).toEqual(['send', 'send', 'send', 'grouped']);
});
