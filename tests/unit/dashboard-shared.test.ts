/**
 * dashboard/shared.js — the client code all dashboard widgets share — run under Node: i18n,
 * plate display, time formatting in the post's time zone, and the REST helper against a real
 * HTTP server on 127.0.0.1 (Node's own fetch stands in for the browser's).
 */
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';

const ROOT = path.resolve(__dirname, '..', '..');
const { createGatepost } = require(path.join(ROOT, 'dashboard', 'shared.js'));
const LIVE_EVENTS = require(path.join(ROOT, 'src', 'core', 'live-events.json'));
const { GATEPOST_STRINGS } = require(path.join(ROOT, 'dashboard', 'i18n.js'));

function storage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => (m.has(k) ? m.get(k)! : null), setItem: (k: string, v: string) => void m.set(k, String(v)), map: m };
}

function makeWindow(base = 'http://127.0.0.1:1') {
  const assigned: string[] = [];
  const win: any = {
    localStorage: storage(),
    location: { pathname: '/dashboard/post', search: '?x=1', assign: (u: string) => assigned.push(u) },
    fetch: (p: string, init: any) => fetch(new URL(p, base), init),
    setTimeout,
    clearTimeout,
    console,
  };
  return { win, assigned };
}

describe('i18n', () => {
  test('Russian by default; English remembered in localStorage and announced', () => {
    const { win } = makeWindow();
    const gp = createGatepost(win, GATEPOST_STRINGS, LIVE_EVENTS);
    expect(gp.lang).toBe('ru');
    expect(gp.t(gp.lang, 'gates.open')).toBe('Открыть');
    const seen: string[] = [];
    gp.on('lang', (l: string) => seen.push(l));
    gp.setLang('en');
    expect(seen).toEqual(['en']);
    expect(win.localStorage.getItem('gatepost.lang')).toBe('en');
    // a new page load starts in the remembered language
    const again = createGatepost(win, GATEPOST_STRINGS, LIVE_EVENTS);
    expect(again.lang).toBe('en');
    expect(again.t(again.lang, 'gates.open')).toBe('Open');
    gp.setLang('de');
    expect(gp.lang).toBe('en');
  });

  test('placeholders, fallback to Russian, unknown keys shown as the key', () => {
    const gp = createGatepost(makeWindow().win, { ru: { a: 'дом {house}, {n} шт.', b: 'только ru' }, en: { a: 'house {house}' } });
    expect(gp.t('ru', 'a', { house: '12А', n: 3 })).toBe('дом 12А, 3 шт.');
    expect(gp.t('en', 'a', { house: 7 })).toBe('house 7');
    expect(gp.t('en', 'b')).toBe('только ru');
    expect(gp.t('en', 'nope')).toBe('nope');
  });

  test('off() stops a listener; a failing listener does not stop the others', () => {
    const gp = createGatepost({ ...makeWindow().win, console: { error: () => undefined } }, GATEPOST_STRINGS, LIVE_EVENTS);
    const got: number[] = [];
    const off = gp.on('event', (d: number) => got.push(d));
    gp.on('event', () => {
      throw new Error('boom');
    });
    gp.on('event', (d: number) => got.push(d * 10));
    gp.emit('event', 1);
    off();
    gp.emit('event', 2);
    expect(got).toEqual([1, 10, 20]);
  });
});

describe('plates and times', () => {
  const gp = createGatepost(makeWindow().win, GATEPOST_STRINGS, LIVE_EVENTS);
  gp.timeZone = 'Europe/Moscow';

  test.each([
    ['A123BC77', 'А123ВС77'],
    ['X001XX777', 'Х001ХХ777'],
    ['AB12377', 'АВ12377'], // taxi
    ['AB1234777', 'АВ1234777'], // trailer
    ['1234AB77', '1234АВ77'], // moto
    ['A123477', 'А123477'], // police
    ['1234AB7', '1234AB7'], // not a Russian layout: as it is
    ['KZ123ABC02', 'KZ123ABC02'],
    ['', ''],
  ])('plate(%s) = %s', (canonical, shown) => {
    expect(gp.plate(canonical)).toBe(shown);
  });

  test('digits-only input is recognised', () => {
    expect(gp.isDigits('123')).toBe(true);
    expect(gp.isDigits(' 123 ')).toBe(true);
    expect(gp.isDigits('А123')).toBe(false);
    expect(gp.isDigits('')).toBe(false);
  });

  test("times in the post's time zone; validity today vs later; permanent", () => {
    const now = Date.UTC(2025, 10, 21, 9, 0, 0); // 12:00 in Moscow
    const tonight = Date.UTC(2025, 10, 21, 20, 59, 0); // 23:59 in Moscow
    const later = Date.UTC(2025, 10, 23, 20, 59, 0);
    expect(gp.time('ru', now)).toBe('12:00:00');
    expect(gp.isoDate(tonight)).toBe('2025-11-21');
    expect(gp.validity('ru', tonight, now)).toBe('до 23:59');
    expect(gp.validity('en', later, now)).toBe('until 23/11 23:59');
    expect(gp.validity('ru', later, now)).toBe('до 23.11 23:59');
    expect(gp.validity('ru', undefined, now)).toBe('постоянный');
    expect(gp.dateTime('ru', now - 3600_000, now)).toBe('11:00:00');
    expect(gp.dateTime('ru', now - 86400_000, now)).toBe('20.11 12:00');
    expect(gp.ago('ru', now - 5 * 60_000, now)).toBe('5 мин назад');
    expect(gp.duration('en', 90061)).toBe('1 d 1 h');
    expect(gp.bytes(123 * 1024 * 1024)).toBe('123 MiB');
  });

  test('query strings leave out empty values and encode the rest', () => {
    expect(gp.query({ q: 'А 12', gate: '', from: 0, to: undefined, decision: null })).toBe('?q=%D0%90%2012&from=0');
    expect(gp.query({})).toBe('');
  });
});

describe('api() against a real HTTP server', () => {
  let server: http.Server;
  let base = '';
  const seen: Array<{ method: string; url: string; body: string; type: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body, type: String(req.headers['content-type'] ?? '') });
        if (req.url === '/api/ok') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"a":1}');
        if (req.url === '/api/bad') return res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"plate is required"}');
        if (req.url === '/api/me') return res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"login required"}');
        if (req.url === '/api/post') return res.writeHead(201, { 'Content-Type': 'application/json' }).end(body);
        res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('JSON in, JSON out', async () => {
    const gp = createGatepost(makeWindow(base).win, GATEPOST_STRINGS, LIVE_EVENTS);
    await expect(gp.api('/api/ok')).resolves.toEqual({ a: 1 });
    await expect(gp.api('/api/post', { method: 'POST', body: { digits: '123' } })).resolves.toEqual({ digits: '123' });
    const post = seen.find((s) => s.url === '/api/post')!;
    expect(post.method).toBe('POST');
    expect(post.type).toMatch(/application\/json/);
  });

  test("a refusal carries the server's message and status", async () => {
    const gp = createGatepost(makeWindow(base).win, GATEPOST_STRINGS, LIVE_EVENTS);
    await expect(gp.api('/api/bad')).rejects.toMatchObject({ status: 400, message: 'plate is required' });
    await expect(gp.api('/api/other')).rejects.toMatchObject({ status: 502, message: 'сервер ответил 502' });
  });

  test('401 sends the browser to the login page, back to where it was', async () => {
    const { win, assigned } = makeWindow(base);
    const gp = createGatepost(win, GATEPOST_STRINGS, LIVE_EVENTS);
    await expect(gp.api('/api/me')).rejects.toMatchObject({ status: 401 });
    expect(assigned).toEqual(['/login?next=%2Fdashboard%2Fpost%3Fx%3D1']);
  });

  test('an unreachable server is reported as such', async () => {
    const gp = createGatepost(makeWindow('http://127.0.0.1:9').win, GATEPOST_STRINGS, LIVE_EVENTS);
    await expect(gp.api('/api/ok')).rejects.toMatchObject({ status: 0, message: 'нет связи с сервером' });
  });
});

describe('decision reasons in the screen language', () => {
  const gp = createGatepost(makeWindow().win, GATEPOST_STRINGS, LIVE_EVENTS);

  test.each([
    ['E-Poselok list 1 (exact)', 'список E-Poselok 1'],
    ['E-Poselok list 2 (edit-distance 1)', 'список E-Poselok 2 (с ошибкой в 1 симв.)'],
    ['temporary pass by digits 403 (digits)', 'временный пропуск по цифрам 403'],
    ['temporary pass (ignore-region)', 'временный пропуск (без региона)'],
    ['E-Poselok online check allowed', 'E-Poselok разрешил (онлайн-проверка)'],
    ['no pass (E-Poselok online check denied)', 'пропуска нет (E-Poselok отказал)'],
    ['no local pass; E-Poselok unavailable: timeout after 1500 ms', 'пропуска нет; E-Poselok недоступен (E-Poselok не отвечает)'],
    ['repeat read within 15 s', 'повторное чтение за 15 с'],
    ['unknown camera "cam9"', 'неизвестная камера «cam9»'],
    ['input over 64 KB', 'сообщение больше 64 КБ'],
    ['something new', 'something new'],
  ])('ru: %s', (en, ru) => {
    expect(gp.reason('ru', en)).toBe(ru);
    expect(gp.reason('en', en)).toBe(en);
  });

  test('the reasons the decision core writes are all translated', () => {
    // the real texts, from the real core (a changed text there must be changed here too)
    const { outcomeOfOnline } = require('../../src/core/decision');
    for (const status of ['allowed', 'denied', 'unavailable', 'skipped']) {
      const r = outcomeOfOnline({ status, latencyMs: 1 }).reason;
      expect(gp.reason('ru', r)).not.toBe(r);
    }
    const { parseLprInput } = require('../../src/core/lpr-input');
    for (const bad of ['', Buffer.from([0xff, 0xfe, 0x00]), 'x'.repeat(70 * 1024), '{"plate": ', '[1]']) {
      const r = parseLprInput(bad);
      expect(r.ok).toBe(false);
      expect(gp.reason('ru', r.reason)).not.toBe(r.reason);
    }
  });
});

describe("errors and dates in the guard's words", () => {
  const gp = createGatepost(makeWindow().win, GATEPOST_STRINGS);

  test.each([
    ['CL-Gate GET http://10.0.0.5/protect/rb1.cgi: wrong relay token (HTTP 401)', 'неверный пароль реле'],
    ['CL-Gate GET http://10.0.0.5/x: ECONNREFUSED connect ECONNREFUSED 10.0.0.5:80', 'реле не отвечает'],
    ['Sokol GET http://10.0.0.6/system/info: timeout after 3000 ms', 'домофон не отвечает'],
    ['Sokol PUT http://10.0.0.6/relay: wrong credentials (HTTP 403)', 'неверный пароль домофона'],
    ['CL-Gate GET http://10.0.0.5/x: HTTP 500', 'реле сообщило об ошибке'],
  ])('device error %s', (tech, words) => {
    expect(gp.deviceError('ru', tech)).toEqual({ text: words, tech, known: true });
  });

  test('an unknown device text stays as it is, marked unknown', () => {
    expect(gp.deviceError('ru', 'something odd')).toEqual({ text: 'something odd', tech: 'something odd', known: false });
  });

  test("the pass API's validation messages in Russian; English unchanged", () => {
    const digits = 'digits must be exactly 3 digits (got "45")';
    expect(gp.errorText('ru', digits)).toBe('по цифрам выдаётся только на три цифры (например 123)');
    expect(gp.errorText('en', digits)).toBe(digits);
    expect(gp.errorText('ru', '"abc" is not a plate (or give the 3 digits)')).toMatch(/^это не номер/);
    expect(gp.errorText('ru', 'the validity window is longer than 31 days')).toBe('срок больше 31 суток');
    expect(gp.errorText('ru', 'whatever else')).toBe('whatever else');
  });

  test.each([
    ['05.12.2026', '2026-12-05'],
    ['5.1.26', '2026-01-05'],
    ['05/12/2026', '2026-12-05'],
    ['2026-12-05', '2026-12-05'],
    ['31.02.2026', ''],
    ['12-2026', ''],
    ['', ''],
  ])('parseDate(%s) = %s', (text, iso) => {
    expect(gp.parseDate(text)).toBe(iso);
  });

  test('showDate gives dd.mm.yyyy', () => {
    expect(gp.showDate('2026-12-05')).toBe('05.12.2026');
    expect(gp.showDate('nonsense')).toBe('');
  });

  test('the sound choice: on by default, remembered per device', () => {
    const w = makeWindow();
    const a = createGatepost(w.win, GATEPOST_STRINGS);
    expect(a.sound).toBe(true);
    expect(a.beep('refused')).toBe(true);
    a.setSound(false);
    expect(a.beep('refused')).toBe(false);
    expect(a.beeps).toBe(1);
    const b = createGatepost(w.win, GATEPOST_STRINGS);
    expect(b.sound).toBe(false);
  });
});
