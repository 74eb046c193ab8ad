/**
 * `peopleOf(hub)`: the person registry (issue 16) and the QR guest passes.
 *  - people with their cards (`byCard(cardNo)`: the iVMS card numbers), photos and face
 *    descriptors; an in-memory copy (loaded at init, updated after each committed write) answers
 *    `byCard`, `get`, `byName` and face matching synchronously;
 *  - QR passes: a random token (144 bits from crypto) shown once; only its sha256 is stored.
 *    Bound to a temporary pass (its validity and cancellation apply), to a person, or standalone
 *    with its own window; a use limit (default 1 entry); revocable;
 *  - decisions: `decideQr` (qr-check) and `decideFace` (face-check) decide, count the use, and
 *    record every read as an access event of kind `qr` / `face` (eventsOf(hub).recordAccess);
 *  - multi-factor: allowed QR reads and card events are remembered for a few minutes, so a
 *    face-check configured for "face + QR" / "face + card" can ask `secondFactorMet`.
 */
import { createHash, randomBytes } from 'crypto';
import type { Hub, Service } from './hub';
import { eventsOf } from './events-service';
import { passesOf } from './passes-service';
import type { AccessEventPayload, AccessInput } from '../core/contracts';
import {
  decideQr,
  FaceReport,
  isQrToken,
  matchFace,
  normalizeCard,
  Person,
  personRefusal,
  qrTokenOf,
  QR_TOKEN_BYTES,
  SecondFactor,
  secondFactorMet,
  validatePerson,
  validateQrPass,
  type FaceMatch,
  type QrTokenState,
} from '../core/people';
import { CardTaken, PeopleStore, QrPassView, qrStateOfRow } from '../store/people-store';
import type { EventRecord } from '../store/events-store';
import { DURABLE_WAIT_MS } from './plate-checker';
import { DEFAULT_MAX_AGE_MS, readAgeRefusal, RETAINED_READ } from '../core/read-age';

/** A refused request: 400 bad input, 404 unknown, 409 conflict. */
export class PeopleError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 413 | 415,
  ) {
    super(message);
  }
}

export const PHOTO_MAX_BYTES = 2 * 1024 * 1024;
export const PHOTOS_PER_PERSON = 10;
export const PHOTO_TYPES = ['image/jpeg', 'image/png'];
/** allowed QR reads and card events kept for the second factor */
const FACTOR_KEEP_MS = 10 * 60_000;

/** A raw reader payload as it may be stored (a rejected read's credential): a pass token in it is never kept. */
const hideTokens = (s: string): string => s.replace(/GPQ1\.[A-Za-z0-9_-]+/g, 'GPQ1.…');

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** What a QR / face decision produced: the recorded event, and the output of the node (1 allowed, 2 denied, 3 repeat / rejected). */
export interface AccessOutcome {
  event: EventRecord;
  output: 1 | 2 | 3;
  /** resolves once the event is in the database */
  recorded: Promise<EventRecord>;
}

export interface QrRead {
  /** the QR text as read (validated by qrReadOf) or null with `rejected` */
  text: string | null;
  rejected?: string;
  /** the raw input, for the record of a rejected read */
  input?: string;
  reader: string;
  accessPoint?: string;
  direction?: 'entry' | 'exit';
  /** when the reader saw it (a reader's `ts`, a camera frame's time): older than 30 s → denied as stale */
  ts?: number;
  requestId?: string;
  image?: Buffer;
  /** the MQTT retain flag: a retained code is a replay (every reconnect / deploy), rejected */
  retain?: boolean;
}

export interface FaceRead {
  report: FaceReport | null;
  rejected?: string;
  input?: string;
  camera: string;
  accessPoint?: string;
  direction?: 'entry' | 'exit';
  minConfidence: number;
  second: SecondFactor;
  secondWindowMs: number;
  /** the built-in recogniser's distance threshold (reported with the event) */
  threshold?: number;
  image?: Buffer;
}

export class PeopleService implements Service {
  private store: PeopleStore | null = null;
  private started: Promise<void> | null = null;
  private people = new Map<number, Person>();
  private cards = new Map<string, number>();
  private faceList: Array<{ id: number; personId: number; descriptor: Float32Array }> = [];
  private factors: Array<{ kind: 'qr' | 'card'; personId: number | null; accessPoint?: string; ts: number }> = [];
  /** QR decisions one after the other (look up, count the use, record): two reads of one single-use code never both pass */
  private qrChain: Promise<unknown> = Promise.resolve();
  /** reader + token hash → ts of its last allowed read (repeat reads of the code still in front of the reader) */
  private lastAllowed = new Map<string, number>();
  private offEvent: (() => void) | null = null;

  constructor(private readonly hub: Hub) {}

  async init(): Promise<void> {
    this.started = (async () => {
      this.store = new PeopleStore(await this.hub.db());
      await this.reload();
      // the second factor: allowed QR reads (with their person) and card reads (iVMS, readers)
      this.offEvent = this.hub.on('event', (e) => {
        if (e.decision !== 'allowed' || (e.kind !== 'qr' && e.kind !== 'card')) return;
        let pid = e.personId !== undefined && e.personId !== null && /^\d+$/.test(String(e.personId)) ? Number(e.personId) : null;
        if (e.kind === 'card' && e.credential) pid = this.byCard(e.credential)?.id ?? pid;
        this.factors.push({ kind: e.kind, personId: pid, accessPoint: e.gate, ts: e.ts });
        const cut = this.hub.clock.now() - FACTOR_KEEP_MS;
        while (this.factors.length && this.factors[0].ts < cut) this.factors.shift();
      });
      this.hub.logger.info(`people loaded: ${this.people.size} people, ${this.cards.size} cards, ${this.faceList.length} face descriptors`);
    })();
    return this.started;
  }

  async ready(): Promise<void> {
    await this.started;
  }

  private async st(): Promise<PeopleStore> {
    await this.started;
    if (!this.store) throw new Error('people service is not open');
    return this.store;
  }

  private async reload(): Promise<void> {
    const store = this.store!;
    const [all, faces] = await Promise.all([store.all(), store.faces()]);
    this.people = new Map(all.map((p) => [p.id, p]));
    this.cards = new Map();
    for (const p of all) for (const c of p.cards) this.cards.set(c, p.id);
    this.faceList = faces;
  }

  private async refresh(id: number): Promise<Person | null> {
    const p = await (await this.st()).get(id, true);
    const old = this.people.get(id);
    if (old) for (const c of old.cards) if (this.cards.get(c) === id) this.cards.delete(c);
    if (p) {
      this.people.set(id, p);
      for (const c of p.cards) this.cards.set(c, id);
    } else this.people.delete(id);
    return p;
  }

  // ---------- registry ----------
  list(q?: string): Person[] {
    const key = (q ?? '').trim().toLowerCase();
    const all = [...this.people.values()].sort((a, b) => a.name.localeCompare(b.name, 'ru') || a.id - b.id);
    return key ? all.filter((p) => p.name.toLowerCase().includes(key) || p.unit.toLowerCase().includes(key) || p.cards.some((c) => c.includes(key.toUpperCase()))) : all;
  }
  get(id: number): Person | null {
    return this.people.get(id) ?? null;
  }
  /** The person an iVMS / reader card number belongs to (synchronous). */
  byCard(cardNo: unknown): Person | null {
    const id = this.cards.get(normalizeCard(cardNo));
    return id === undefined ? null : (this.people.get(id) ?? null);
  }
  /** The person of an exact name (case-insensitive); null when none or several. */
  byName(name: string): Person | null {
    const key = name.trim().toLowerCase();
    const found = [...this.people.values()].filter((p) => p.name.toLowerCase() === key);
    return found.length === 1 ? found[0] : null;
  }

  private idOf(v: unknown): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new PeopleError('id must be a positive whole number', 400);
    return n;
  }
  private existing(v: unknown): Person {
    const id = this.idOf(v);
    const p = this.people.get(id);
    if (!p) throw new PeopleError(`person ${id} not found`, 404);
    return p;
  }

  async create(input: Record<string, unknown>, author: string): Promise<Person> {
    const store = await this.st();
    const v = validatePerson(input, this.hub.timezone);
    if (!v.ok) throw new PeopleError(v.error, 400);
    const id = await this.save(store, v.value, author);
    this.hub.logger.info(`person ${id} added by ${author}`);
    return (await this.refresh(id))!;
  }

  private async save(store: PeopleStore, d: Parameters<PeopleStore['save']>[0], author: string, id?: number): Promise<number> {
    try {
      return await store.save(d, author || 'anonymous', this.hub.clock.now(), id);
    } catch (err) {
      if (err instanceof CardTaken) throw new PeopleError(err.message, 409);
      throw err;
    }
  }

  async update(idIn: unknown, input: Record<string, unknown>, author: string): Promise<Person> {
    const store = await this.st();
    const p = this.existing(idIn);
    const v = validatePerson(input, this.hub.timezone, p);
    if (!v.ok) throw new PeopleError(v.error, 400);
    await this.save(store, v.value, author, p.id);
    this.hub.logger.info(`person ${p.id} changed by ${author}`);
    return (await this.refresh(p.id))!;
  }

  async remove(idIn: unknown, by: string): Promise<void> {
    const store = await this.st();
    const p = this.existing(idIn);
    await store.remove(p.id);
    await this.refresh(p.id);
    this.faceList = this.faceList.filter((f) => f.personId !== p.id);
    this.hub.logger.info(`person ${p.id} removed by ${by}`);
  }

  async addPhoto(idIn: unknown, mime: string, bytes: Buffer): Promise<{ id: number; size: number }> {
    const store = await this.st();
    const p = this.existing(idIn);
    const type = mime.split(';')[0].trim().toLowerCase();
    if (!PHOTO_TYPES.includes(type)) throw new PeopleError(`a photo must be ${PHOTO_TYPES.join(' or ')}`, 415);
    if (!bytes.length) throw new PeopleError('empty photo', 400);
    if (bytes.length > PHOTO_MAX_BYTES) throw new PeopleError(`a photo must be at most ${PHOTO_MAX_BYTES / 1024 / 1024} MB`, 413);
    const magicOk = type === 'image/jpeg' ? bytes[0] === 0xff && bytes[1] === 0xd8 : bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    if (!magicOk) throw new PeopleError(`the body is not a ${type} image`, 400);
    if ((await store.photos(p.id)).length >= PHOTOS_PER_PERSON) throw new PeopleError(`at most ${PHOTOS_PER_PERSON} photos per person`, 409);
    const id = await store.addPhoto(p.id, type, bytes, this.hub.clock.now());
    await this.refresh(p.id);
    return { id, size: bytes.length };
  }
  async photos(idIn: unknown): Promise<Array<{ id: number; mime: string; size: number; createdAt: number }>> {
    const p = this.existing(idIn);
    return (await this.st()).photos(p.id);
  }
  async photo(idIn: unknown, photoIn: unknown): Promise<{ mime: string; bytes: Buffer }> {
    const p = this.existing(idIn);
    const r = await (await this.st()).photo(p.id, this.idOf(photoIn));
    if (!r) throw new PeopleError(`photo ${String(photoIn)} of person ${p.id} not found`, 404);
    return r;
  }
  async removePhoto(idIn: unknown, photoIn: unknown): Promise<void> {
    const p = this.existing(idIn);
    const photoId = this.idOf(photoIn);
    if (!(await (await this.st()).removePhoto(p.id, photoId))) throw new PeopleError(`photo ${photoId} of person ${p.id} not found`, 404);
    // its descriptors went with it (person_faces.photo_id)
    await this.reloadFaces();
    await this.refresh(p.id);
  }

  // ---------- faces ----------
  /** Stores a 128-d descriptor of a person (from a photo, by the built-in recogniser). */
  async addFace(idIn: unknown, descriptor: Float32Array, photoId: number | null, score: number | null): Promise<number> {
    const p = this.existing(idIn);
    if (descriptor.length !== 128 || ![...descriptor].every(Number.isFinite)) throw new PeopleError('a face descriptor is 128 finite numbers', 400);
    const id = await (await this.st()).addFace(p.id, photoId, descriptor, score, this.hub.clock.now());
    this.faceList.push({ id, personId: p.id, descriptor: Float32Array.from(descriptor) });
    await this.refresh(p.id);
    return id;
  }
  async clearFaces(idIn: unknown): Promise<number> {
    const p = this.existing(idIn);
    const n = await (await this.st()).clearFaces(p.id);
    this.faceList = this.faceList.filter((f) => f.personId !== p.id);
    await this.refresh(p.id);
    return n;
  }
  private async reloadFaces(): Promise<void> {
    this.faceList = await (await this.st()).faces();
  }
  get faceCount(): number {
    return this.faceList.length;
  }
  /** The enrolled person nearest to a descriptor within `threshold` (synchronous). */
  matchDescriptor(probe: ArrayLike<number>, threshold: number): FaceMatch | null {
    return matchFace(probe, this.faceList, threshold);
  }

  // ---------- QR passes ----------
  /**
   * Issues a QR pass; returns its view and the token (shown once: only its hash is stored).
   * `passId`: bound to that temporary pass; `personId`: to that person; else its own window.
   */
  async createQr(input: Record<string, unknown>, author: string): Promise<{ qr: QrPassView; token: string }> {
    const store = await this.st();
    const now = this.hub.clock.now();
    let passId: number | null = null;
    let personId: number | null = null;
    let pass: { validFrom: number; validTo: number } | undefined;
    if (input.passId !== undefined && input.passId !== null && input.passId !== '') {
      passId = this.idOf(input.passId);
      const tp = await passesOf(this.hub).getTemp(passId);
      if (!tp) throw new PeopleError(`temporary pass ${passId} not found`, 404);
      if (tp.cancelledAt !== null) throw new PeopleError(`temporary pass ${passId} is cancelled`, 409);
      pass = tp;
    }
    if (input.personId !== undefined && input.personId !== null && input.personId !== '') personId = this.existing(input.personId).id;
    const v = validateQrPass(input, now, this.hub.timezone, pass);
    if (!v.ok) throw new PeopleError(v.error, 400);
    const token = qrTokenOf(randomBytes(QR_TOKEN_BYTES));
    const qr = await store.insertQr(hashToken(token), v.value, { passId, personId }, author || 'anonymous', now);
    this.hub.logger.info(
      `QR pass ${qr.id} issued by ${qr.author}${passId ? ` for temporary pass ${passId}` : ''}${personId ? ` for person ${personId}` : ''}, ${qr.maxUses} use(s), until ${new Date(qr.validTo).toISOString()}`,
    );
    return { qr, token };
  }

  async listQr(f: { passId?: unknown; personId?: unknown; all?: boolean } = {}): Promise<QrPassView[]> {
    return (await this.st()).listQr({
      passId: f.passId !== undefined ? this.idOf(f.passId) : undefined,
      personId: f.personId !== undefined ? this.idOf(f.personId) : undefined,
      all: f.all,
      now: this.hub.clock.now(),
    });
  }

  async getQr(idIn: unknown): Promise<QrPassView> {
    const id = this.idOf(idIn);
    const q = await (await this.st()).qr(id, true);
    if (!q) throw new PeopleError(`QR pass ${id} not found`, 404);
    return q;
  }

  /** The QR pass a token belongs to, or null (the API renders a PNG only for a known token). */
  async qrOfToken(token: string): Promise<QrPassView | null> {
    if (!isQrToken(token)) return null;
    const row = await (await this.st()).qrByHash(hashToken(token));
    return row ? this.getQr(row.id) : null;
  }

  async revokeQr(idIn: unknown, by: string): Promise<QrPassView> {
    const store = await this.st();
    const q = await this.getQr(idIn);
    if (q.revokedAt !== null) throw new PeopleError(`QR pass ${q.id} is already revoked`, 409);
    await store.revokeQr(q.id, by || 'anonymous', this.hub.clock.now());
    this.hub.logger.info(`QR pass ${q.id} revoked by ${by}`);
    return this.getQr(q.id);
  }

  private async qrState(text: string): Promise<{ state?: QrTokenState; hash: string }> {
    const hash = hashToken(text);
    if (!isQrToken(text)) return { hash };
    const row = await (await this.st()).qrByHash(hash);
    if (!row) return { hash };
    const state = qrStateOfRow(row);
    if (row.pass_id !== null) {
      const tp = await passesOf(this.hub).getTemp(row.pass_id);
      state.pass = tp ? { cancelledAt: tp.cancelledAt, validFrom: tp.validFrom, validTo: tp.validTo } : null;
    }
    return { state, hash };
  }

  /**
   * Decides a QR read and records it (kind `qr`). Reads are decided one after the other; a use is
   * counted before the allowed decision goes out. The same code at the same reader within
   * `repeatWindowMs` after it was allowed is a repeat read (recorded, output 3, no use counted).
   */
  decideQr(read: QrRead, opts: { repeatWindowMs?: number } = {}): Promise<AccessOutcome> {
    const run = this.qrChain.then(() => this.decideQrNow(read, opts.repeatWindowMs ?? 0));
    this.qrChain = run.catch(() => undefined);
    return run;
  }

  private async decideQrNow(read: QrRead, repeatWindowMs: number): Promise<AccessOutcome> {
    const store = await this.st();
    const now = this.hub.clock.now();
    const late = readAgeRefusal(read.ts, now, DEFAULT_MAX_AGE_MS, 'QR read');
    // a read refused for its age is recorded at the decision time (its age is in the reason)
    const ts = late ? now : (read.ts ?? now);
    const base: Omit<AccessInput, 'decision' | 'source' | 'reason'> = { kind: 'qr', ts, accessPoint: read.accessPoint, device: read.reader, direction: read.direction, requestId: read.requestId };
    if (read.retain === true) {
      return this.recordOutcome({ ...base, decision: 'rejected', source: 'none', reason: RETAINED_READ, credential: hideTokens(read.text ?? read.input ?? '').slice(0, 64) }, 3, read.image);
    }
    if (read.text === null) {
      return this.recordOutcome(
        { ...base, decision: 'rejected', source: 'none', reason: `malformed QR read: ${read.rejected ?? 'no text'}`, credential: hideTokens(read.input ?? '').slice(0, 64) },
        3,
        read.image,
      );
    }
    const { state, hash } = await this.qrState(read.text);
    const credential = state ? `qr:${state.id}` : isQrToken(read.text) ? `qr:unknown:${hash.slice(0, 8)}` : read.text.slice(0, 64);
    const person = state?.personId ? this.people.get(state.personId) : undefined;
    const who = { personId: person ? String(person.id) : undefined, personName: person?.name };
    // a code that waited at the broker (or a reader with a wrong clock) opens nothing and is not counted
    if (late) return this.recordOutcome({ ...base, ...who, credential, decision: 'denied', source: 'none', reason: late.reason }, 2, read.image);
    const key = `${read.reader}\u0000${hash}`;
    const last = this.lastAllowed.get(key);
    if (state && last !== undefined && repeatWindowMs > 0 && now - last <= repeatWindowMs) {
      return this.recordOutcome(
        { ...base, ...who, credential, decision: 'repeat', source: 'temporary', reason: `repeat read of QR pass ${state.id} (allowed ${Math.round((now - last) / 1000)} s ago)` },
        3,
        read.image,
      );
    }
    const v = decideQr(read.text, state, read.accessPoint, now);
    if (!v.ok) {
      const out = v.reason === 'malformed' ? 3 : 2;
      return this.recordOutcome({ ...base, ...who, credential, decision: out === 3 ? 'rejected' : 'denied', source: 'none', reason: `${v.reason}: ${v.detail}` }, out, read.image);
    }
    const refusal = person ? personRefusal(person, read.accessPoint, now) : null;
    if (refusal) return this.recordOutcome({ ...base, ...who, credential, decision: 'denied', source: 'none', reason: refusal }, 2, read.image);
    // count the use before the door opens: a failed write denies (never a second entry on one use)
    const counted = await store.useQr(state!.id, now).catch((err: Error) => {
      this.hub.logger.error(`QR pass ${state!.id}: use not counted: ${err.message}`);
      return false;
    });
    if (!counted) return this.recordOutcome({ ...base, ...who, credential, decision: 'denied', source: 'none', reason: `used: QR pass ${state!.id} could not be counted` }, 2, read.image);
    this.lastAllowed.set(key, now);
    if (this.lastAllowed.size > 5000) this.lastAllowed.delete(this.lastAllowed.keys().next().value as string);
    const left = state!.maxUses - state!.uses - 1;
    return this.recordOutcome(
      { ...base, ...who, credential, decision: 'allowed', source: 'temporary', reason: `QR pass ${state!.id}${state!.label ? ` (${state!.label})` : ''}: ${left} use(s) left` },
      1,
      read.image,
    );
  }

  /**
   * Decides a face report (external recogniser or the built-in one) and records it (kind `face`):
   * the person (by id, or by an exact name), the minimum confidence, the person's validity and
   * access points, and the second factor where the access point asks for one.
   */
  async decideFace(read: FaceRead): Promise<AccessOutcome> {
    await this.st();
    const now = this.hub.clock.now();
    const r = read.report;
    const base: Omit<AccessInput, 'decision' | 'source' | 'reason'> = { kind: 'face', ts: r?.ts ?? now, accessPoint: read.accessPoint, device: read.camera, direction: read.direction };
    if (!r)
      return this.recordOutcome(
        { ...base, decision: 'rejected', source: 'none', reason: `malformed face report: ${read.rejected ?? 'empty'}`, credential: (read.input ?? '').slice(0, 64) },
        3,
        read.image,
      );
    let person: Person | null = null;
    if (r.personId !== undefined) person = /^\d+$/.test(r.personId) ? this.get(Number(r.personId)) : null;
    if (!person && r.name) person = this.byName(r.name);
    const dist = r.distance !== undefined ? `, distance ${r.distance.toFixed(3)}${read.threshold !== undefined ? ` (threshold ${read.threshold})` : ''}` : '';
    const credential = `face:${r.distance !== undefined ? r.distance.toFixed(3) : r.confidence.toFixed(2)}`;
    const rec = (decision: 'allowed' | 'denied', reason: string, out: 1 | 2) =>
      this.recordOutcome(
        {
          ...base,
          personId: person ? String(person.id) : r.personId,
          personName: person?.name ?? r.name,
          credential,
          confidence: r.confidence,
          decision,
          source: decision === 'allowed' ? 'device' : 'none',
          reason,
        },
        out,
        read.image,
      );
    // a report that waited in a queue (a broker backlog after an outage) never opens the door late
    const late = readAgeRefusal(r.ts, now, DEFAULT_MAX_AGE_MS, 'report');
    if (late) return rec('denied', `${late.reason}${dist}`, 2);
    if (!person) return rec('denied', `unknown person ${r.personId ?? r.name}${dist}`, 2);
    if (r.confidence < read.minConfidence) return rec('denied', `confidence ${r.confidence.toFixed(2)} below ${read.minConfidence}${dist}`, 2);
    const refusal = personRefusal(person, read.accessPoint, now);
    if (refusal) return rec('denied', `${refusal}${dist}`, 2);
    if (!secondFactorMet(read.second, person.id, read.accessPoint, this.factors, now, read.secondWindowMs)) {
      return rec('denied', `face alone is not enough here: ${read.second === 'qr-or-card' ? 'QR or card' : read.second} within ${Math.round(read.secondWindowMs / 1000)} s needed${dist}`, 2);
    }
    return rec('allowed', `face of ${person.name}, confidence ${r.confidence.toFixed(2)}${dist}${read.second !== 'none' ? ` + ${read.second}` : ''}`, 1);
  }

  private recordOutcome(a: AccessInput, output: 1 | 2 | 3, image?: Buffer): Promise<AccessOutcome> {
    const recorded = eventsOf(this.hub).recordAccess(a, image);
    const unrecorded = (why: string): AccessOutcome => {
      const event = {
        eventId: 0,
        ts: a.ts,
        gate: a.accessPoint,
        camera: a.device,
        plate: '',
        raw: a.credential ?? '',
        digits: null,
        decision: a.decision,
        source: a.source,
        reason: a.reason,
        latencyMs: NaN,
        kind: a.kind,
        personId: a.personId,
        personName: a.personName,
        credential: a.credential,
      } as EventRecord;
      this.hub.logger.error(`${a.kind} event not recorded yet (${why}): the decision stands`);
      return { event, output, recorded };
    };
    // a hung or failing disk must not keep the door shut: the decision goes out after at most DURABLE_WAIT_MS
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<AccessOutcome>((resolve) => {
      timer = setTimeout(() => resolve(unrecorded(`no commit within ${DURABLE_WAIT_MS} ms`)), DURABLE_WAIT_MS);
      timer.unref?.();
    });
    const done = recorded.then(
      (event) => ({ event, output, recorded }),
      (err: Error) => unrecorded(err.message),
    );
    return Promise.race([done, late]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.offEvent?.();
  }
}

export const peopleOf = (hub: Hub): PeopleService => hub.service('people', (h) => new PeopleService(h));

/** The event as a node sends it (the access event payload). */
export type AccessDecision = AccessEventPayload;
