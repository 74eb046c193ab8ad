/**
 * People at the wicket, service and REST (issue 16): real sqlite files, a real express app on
 * 127.0.0.1 with /api/people and the QR pass API; the QR PNG is decoded back with ffmpeg + zxing.
 * Time is a manual clock, so validity and expiry are exact.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import type { AddressInfo } from 'net';
import type http from 'http';
import express from 'express';
import { Hub } from '../../src/services/hub';
import { peopleOf } from '../../src/services/people-service';
import { passesOf } from '../../src/services/passes-service';
import { eventsOf } from '../../src/services/events-service';
import { peopleRouter } from '../../src/api/people';
import { passesRouter } from '../../src/api/passes';
import { silentLogger } from '../../src/core/log';
import type { Clock } from '../../src/core/clock';
import { decodeImage } from '../../src/media/image';
import { decodeQr } from '../../src/media/qr-decoder';

const T0 = Date.parse('2026-03-10T09:00:00Z');
const SAMPLE = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample2.jpg');

let now = T0;
const clock: Clock = { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

describe('people service and API', () => {
  let dir: string;
  let hub: Hub;
  let server: http.Server;
  let base: string;

  beforeEach(async () => {
    now = T0;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp-people-'));
    hub = Hub.open({ dbPath: path.join(dir, 'p.db'), clock, logger: silentLogger, timezone: 'Europe/Moscow' });
    const app = express();
    // the runtime's auth puts the user on the request: admin ('*') or a guard ('read')
    app.use((req, _res, next) => {
      const who = String(req.headers['x-test-user'] ?? 'admin');
      (req as any).user = { username: who, permissions: who === 'admin' ? '*' : 'read' };
      next();
    });
    app.use('/api', passesRouter(hub), peopleRouter(hub));
    server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    await peopleOf(hub).ready();
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await Hub.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = async (p: string, init: RequestInit & { user?: string; json?: unknown } = {}) => {
    const headers: Record<string, string> = { 'x-test-user': init.user ?? 'admin', ...((init.headers as Record<string, string>) ?? {}) };
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await fetch(base + p, { ...init, headers, body });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, type, body: type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer()) } as { status: number; type: string; body: any };
  };

  test('CRUD: admin writes, guards read; cards map to people (byCard); a card belongs to one person', async () => {
    const created = await call('/people', { method: 'POST', json: { name: 'Петров Пётр', unit: 'дом 7', cards: ['0012345'], accessPoints: ['wicket'] } });
    expect(created.status).toBe(201);
    const id = created.body.person.id;
    expect(created.body.person).toMatchObject({ name: 'Петров Пётр', unit: 'дом 7', cards: ['0012345'], accessPoints: ['wicket'], author: 'admin', photos: 0, faces: 0 });
    expect((await call('/people', { method: 'POST', user: 'guard1', json: { name: 'X' } })).status).toBe(403);
    expect((await call(`/people/${id}`, { method: 'PUT', user: 'guard1', json: { unit: 'x' } })).status).toBe(403);
    expect((await call(`/people/${id}`, { method: 'DELETE', user: 'guard1' })).status).toBe(403);
    // guards read
    expect((await call('/people?q=петр', { user: 'guard1' })).body.people.map((p: any) => p.id)).toEqual([id]);
    expect((await call('/people/by-card/0012345', { user: 'guard1' })).body.person.id).toBe(id);
    expect(peopleOf(hub).byCard(' 0012345 ')?.name).toBe('Петров Пётр');
    expect((await call('/people/by-card/999')).status).toBe(404);
    // one card, one person
    const other = await call('/people', { method: 'POST', json: { name: 'Сидоров', cards: ['0012345'] } });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/card 0012345 already belongs to person/);
    // update: the card moves to a new number
    const upd = await call(`/people/${id}`, { method: 'PUT', json: { cards: ['777'], validTo: '2026-12-31' } });
    expect(upd.status).toBe(200);
    expect(upd.body.person).toMatchObject({ cards: ['777'], unit: 'дом 7' });
    expect(peopleOf(hub).byCard('0012345')).toBeNull();
    expect(peopleOf(hub).byCard('777')?.id).toBe(id);
    // bad input: 400 with a reason; unknown ids 404; broken JSON 400
    expect((await call('/people', { method: 'POST', json: { unit: 'no name' } })).body.error).toMatch(/needs a name/);
    expect((await call('/people/9999', { method: 'PUT', json: { unit: 'x' } })).status).toBe(404);
    expect((await call('/people/abc')).status).toBe(404);
    expect((await call('/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' })).status).toBe(400);
    // kept across a restart (sqlite)
    await Hub.closeAll();
    hub = Hub.open({ dbPath: path.join(dir, 'p.db'), clock, logger: silentLogger });
    await peopleOf(hub).ready();
    expect(peopleOf(hub).byCard('777')).toMatchObject({ id, name: 'Петров Пётр', accessPoints: ['wicket'] });
  });

  test('photos: JPEG/PNG only, ≤ 2 MB, ≤ 10 per person, served back; delete removes the person with them', async () => {
    const { body } = await call('/people', { method: 'POST', json: { name: 'Анна' } });
    const id = body.person.id;
    const jpeg = fs.readFileSync(SAMPLE);
    const up = await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
    expect(up.status).toBe(201);
    const back = await call(`/people/${id}/photos/${up.body.photo.id}`, { user: 'guard1' });
    expect(back.type).toBe('image/jpeg');
    expect(Buffer.compare(back.body, jpeg)).toBe(0);
    expect((await call(`/people/${id}`)).body.photos).toHaveLength(1);
    expect((await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.alloc(2 * 1024 * 1024 + 10, 0xff) })).status).toBe(413);
    expect((await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/gif' }, body: Buffer.from('GIF89a') })).status).toBe(415);
    expect((await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('not a jpeg at all') })).body.error).toMatch(/not a image\/jpeg/);
    expect((await call(`/people/${id}/photos`, { method: 'POST', user: 'guard1', headers: { 'content-type': 'image/jpeg' }, body: jpeg })).status).toBe(403);
    for (let i = 1; i < 10; i++) expect((await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg })).status).toBe(201);
    expect((await call(`/people/${id}/photos`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg })).status).toBe(409);
    // the built-in recogniser is off by default: enrolling says so
    expect((await call(`/people/${id}/enrol`, { method: 'POST' })).status).toBe(409);
    expect((await call(`/people/${id}/photos/${up.body.photo.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await call(`/people/${id}/photos/${up.body.photo.id}`)).status).toBe(404);
    expect((await call(`/people/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await call(`/people/${id}`)).status).toBe(404);
    const db = await hub.db();
    expect((await db.get('SELECT count(*) AS n FROM person_photos')).n).toBe(0);
  });

  test('QR passes: issued on a temporary pass, the PNG decodes to the token, one entry, replay denied, only the hash stored', async () => {
    const tp = await call('/passes/temporary', { method: 'POST', user: 'guard1', json: { digits: '123', house: '12', preset: 'today' } });
    expect(tp.status).toBe(201);
    const issued = await call(`/passes/temporary/${tp.body.pass.id}/qr`, { method: 'POST', user: 'guard1', json: { label: 'гость к дому 12' } });
    expect(issued.status).toBe(201);
    const { qr, token, png } = issued.body;
    expect(qr).toMatchObject({ passId: tp.body.pass.id, maxUses: 1, uses: 0, author: 'guard1', label: 'гость к дому 12', validTo: tp.body.pass.validTo });
    expect(token).toMatch(/^GPQ1\.[A-Za-z0-9_-]{24}$/);
    // the PNG (data URL and the PNG endpoint) really carries the token
    const fromDataUrl = decodeQr(await decodeImage(Buffer.from(png.split(',')[1], 'base64'), { gray: true }));
    expect(fromDataUrl).toBe(token);
    const pngRes = await call('/passes/qr/png', { method: 'POST', user: 'guard1', json: { token, width: 400 } });
    expect(pngRes.type).toBe('image/png');
    const img = await decodeImage(pngRes.body, { gray: true });
    expect(img.width).toBe(400);
    expect(decodeQr(img)).toBe(token);
    expect((await call('/passes/qr/png', { method: 'POST', json: { token: 'GPQ1.AAAAAAAAAAAAAAAAAAAAAAAA' } })).status).toBe(404);
    expect((await call('/passes/qr/png', { method: 'POST', json: { token: 'https://evil.example/' } })).status).toBe(404);
    // the database never holds the token
    const db = await hub.db();
    const rows = await db.all('SELECT * FROM qr_passes');
    expect(JSON.stringify(rows)).not.toContain(token.slice(5));
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);

    const people = peopleOf(hub);
    const first = await people.decideQr({ text: token, reader: 'r1', accessPoint: 'wicket' });
    expect(first.output).toBe(1);
    expect(first.event).toMatchObject({ decision: 'allowed', kind: 'qr', gate: 'wicket', camera: 'r1', credential: `qr:${qr.id}` });
    expect(first.event.eventId).toBeGreaterThan(0);
    const replay = await people.decideQr({ text: token, reader: 'r2', accessPoint: 'wicket' });
    expect(replay.output).toBe(2);
    expect(replay.event.reason).toMatch(/^used: /);
    const list = await call(`/passes/qr?passId=${tp.body.pass.id}&all=1`, { user: 'guard1' });
    expect(list.body.qr[0]).toMatchObject({ id: qr.id, uses: 1 });
    // recorded as access events of kind qr, with the reason
    const { rows: rowsQr } = await eventsOf(hub).query({ kind: 'qr' });
    expect(rowsQr.map((e) => e.decision).sort()).toEqual(['allowed', 'denied']);
  });

  test('QR decisions: concurrent reads of a single-use code pass once; revoke, cancel, expiry, use limit, access points, the repeat window', async () => {
    const people = peopleOf(hub);
    const { token, qr } = await people.createQr({ maxUses: 1 }, 'admin');
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => people.decideQr({ text: token, reader: `r${i}`, accessPoint: 'wicket' })));
    expect(results.filter((r) => r.output === 1)).toHaveLength(1);
    expect(results.filter((r) => r.output === 2)).toHaveLength(4);

    // three uses; the same reader again within the repeat window is a repeat, not a use
    const three = await people.createQr({ maxUses: 3, accessPoints: ['wicket'] }, 'admin');
    expect((await people.decideQr({ text: three.token, reader: 'r1', accessPoint: 'wicket' }, { repeatWindowMs: 5000 })).output).toBe(1);
    now += 1000;
    const rep = await people.decideQr({ text: three.token, reader: 'r1', accessPoint: 'wicket' }, { repeatWindowMs: 5000 });
    expect(rep.output).toBe(3);
    expect(rep.event.decision).toBe('repeat');
    now += 10_000;
    expect((await people.decideQr({ text: three.token, reader: 'r1', accessPoint: 'wicket' }, { repeatWindowMs: 5000 })).output).toBe(1);
    expect((await people.decideQr({ text: three.token, reader: 'r1', accessPoint: 'main' })).event.reason).toMatch(/^wrong access point/);
    expect((await people.getQr(three.qr.id)).uses).toBe(2);

    // revoked
    const rv = await people.createQr({ maxUses: 5 }, 'admin');
    await people.revokeQr(rv.qr.id, 'admin');
    expect((await people.decideQr({ text: rv.token, reader: 'r1' })).event.reason).toMatch(/^revoked/);
    await expect(people.revokeQr(rv.qr.id, 'admin')).rejects.toMatchObject({ status: 409 });

    // bound to a temporary pass: cancelling the pass ends the QR pass too
    const tp = await passesOf(hub).addTemp({ digits: '555', preset: 'days', days: 2 }, 'guard');
    const bound = await people.createQr({ passId: tp.id, maxUses: 2 }, 'guard');
    expect((await people.decideQr({ text: bound.token, reader: 'r1' })).output).toBe(1);
    await passesOf(hub).cancelTemp(tp.id, 'guard');
    expect((await people.decideQr({ text: bound.token, reader: 'r9' })).event.reason).toMatch(/^pass cancelled/);
    await expect(people.createQr({ passId: tp.id }, 'guard')).rejects.toMatchObject({ status: 409 });
    await expect(people.createQr({ passId: 99999 }, 'guard')).rejects.toMatchObject({ status: 404 });

    // expiry: a day pass read the next day
    const day = await people.createQr({ preset: 'today', maxUses: 10 }, 'admin');
    now += 2 * 86400_000;
    expect((await people.decideQr({ text: day.token, reader: 'r1' })).event.reason).toMatch(/^expired/);
    expect(qr.id).toBeGreaterThan(0);

    // foreign and malformed reads are recorded, never throw
    const foreign = await people.decideQr({ text: 'https://shop.example/promo?id=1', reader: 'r1', accessPoint: 'wicket' });
    expect(foreign).toMatchObject({ output: 2, event: { decision: 'denied', credential: 'https://shop.example/promo?id=1' } });
    expect(foreign.event.reason).toMatch(/^foreign/);
    const mal = await people.decideQr({ text: null, rejected: 'empty QR text', input: '', reader: 'r1' });
    expect(mal).toMatchObject({ output: 3, event: { decision: 'rejected' } });
  });

  test('QR pass of a person: the person is on the event; a disabled person is refused', async () => {
    const people = peopleOf(hub);
    const p = await people.create({ name: 'Гость Г.', accessPoints: ['wicket'] }, 'admin');
    const { token } = await people.createQr({ personId: p.id, maxUses: 5 }, 'admin');
    const ok = await people.decideQr({ text: token, reader: 'r1', accessPoint: 'wicket' });
    expect(ok.event).toMatchObject({ decision: 'allowed', personId: String(p.id), personName: 'Гость Г.' });
    await people.update(p.id, { disabled: true }, 'admin');
    const no = await people.decideQr({ text: token, reader: 'r2', accessPoint: 'wicket' });
    expect(no.event).toMatchObject({ decision: 'denied', reason: 'person disabled' });
  });

  test('faces: external reports decided by person, confidence, access point and the second factor (face + QR / card)', async () => {
    const people = peopleOf(hub);
    const p = await people.create({ name: 'Мария', cards: ['C-42'], accessPoints: ['wicket'] }, 'admin');
    const face = (report: any, extra: Partial<Parameters<typeof people.decideFace>[0]> = {}) =>
      people.decideFace({ report, camera: 'cam-w', accessPoint: 'wicket', minConfidence: 0.8, second: 'none', secondWindowMs: 30_000, ...extra });
    expect((await face({ personId: String(p.id), confidence: 0.95, distance: 0.31 })).event).toMatchObject({
      decision: 'allowed',
      kind: 'face',
      personId: String(p.id),
      personName: 'Мария',
      confidence: 0.95,
      credential: 'face:0.310',
    });
    expect((await face({ name: 'мария', confidence: 0.9 })).output).toBe(1);
    expect((await face({ personId: String(p.id), confidence: 0.5 })).event.reason).toMatch(/confidence 0.50 below 0.8/);
    expect((await face({ name: 'Никто', confidence: 0.99 })).event.reason).toMatch(/unknown person/);
    expect((await face({ personId: String(p.id), confidence: 0.99 }, { accessPoint: 'main' })).event.reason).toMatch(/not allowed at main/);
    expect((await face({ personId: String(p.id), confidence: 0.99, ts: now - 60_000 })).event.reason).toMatch(/^stale report: taken 60 s ago/);
    expect((await face({ personId: String(p.id), confidence: 0.99, ts: now + 3600_000 })).event.reason).toMatch(/^clock skew/);
    // face + card: the card read (an iVMS event of kind card) must come first, within the window
    const needCard = await face({ personId: String(p.id), confidence: 0.99 }, { second: 'card' });
    expect(needCard.output).toBe(2);
    expect(needCard.event.reason).toMatch(/face alone is not enough here: card within 30 s needed/);
    await eventsOf(hub).recordAccess({ kind: 'card', ts: now, accessPoint: 'wicket', device: 'ivms-1', decision: 'allowed', source: 'device', reason: 'card', credential: 'c-42' });
    await new Promise((r) => setTimeout(r, 20));
    expect((await face({ personId: String(p.id), confidence: 0.99 }, { second: 'card' })).output).toBe(1);
    now += 60_000;
    expect((await face({ personId: String(p.id), confidence: 0.99 }, { second: 'card' })).output).toBe(2);
    // face + QR
    const { token } = await people.createQr({ personId: p.id }, 'admin');
    expect((await face({ personId: String(p.id), confidence: 0.99 }, { second: 'qr' })).output).toBe(2);
    expect((await people.decideQr({ text: token, reader: 'r1', accessPoint: 'wicket' })).output).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await face({ personId: String(p.id), confidence: 0.99 }, { second: 'qr-or-card' })).output).toBe(1);
    // a malformed report: recorded as rejected
    expect((await face(null, { rejected: 'face payload is not JSON', input: '{oops' })).event).toMatchObject({ decision: 'rejected', kind: 'face' });
  });

  test('descriptors: stored as 128 float32, matched after a restart', async () => {
    const people = peopleOf(hub);
    const p = await people.create({ name: 'Олег' }, 'admin');
    const d = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) / 4);
    await people.addFace(p.id, d, null, 0.9);
    await expect(people.addFace(p.id, new Float32Array(5), null, null)).rejects.toMatchObject({ status: 400 });
    await Hub.closeAll();
    hub = Hub.open({ dbPath: path.join(dir, 'p.db'), clock, logger: silentLogger });
    await peopleOf(hub).ready();
    expect(peopleOf(hub).get(p.id)?.faces).toBe(1);
    const probe = Float32Array.from(d, (x) => x + 0.01);
    expect(peopleOf(hub).matchDescriptor(probe, 0.5)).toMatchObject({ personId: p.id });
    expect(
      peopleOf(hub).matchDescriptor(
        Float32Array.from(d, (x) => x + 0.2),
        0.5,
      ),
    ).toBeNull();
  });
});

test('ffmpeg is there (the frame reader and the recogniser decode with it)', () => {
  expect(execFileSync('ffmpeg', ['-hide_banner', '-version']).toString()).toMatch(/ffmpeg version/);
});
