/**
 * The one password-hash implementation of gatepost (web login, Node-RED editor login, MQTT
 * accounts). A password check must never block the event loop: a flood of wrong-password
 * CONNECTs once ran pure-JS bcrypt on the main thread and stalled the plate decisions.
 *
 *  - new hashes: node:crypto scrypt (`$scrypt$ln=14,r=8,p=1$<salt>$<key>`, base64url); the async
 *    scrypt runs on the libuv thread pool;
 *  - existing bcrypt hashes (`$2a$`/`$2b$`/`$2y$`, from secrets.json of older installs or a users
 *    file) keep working: they are compared by bcryptjs in a worker thread;
 *  - at most MAX_CONCURRENT checks run at once (the thread pool also serves sqlite and the file
 *    system); more wait in order. `pendingChecks()` lets a caller refuse instead of queueing.
 * The *Sync variants are for start-up only (first start, accounts from the environment).
 */
import * as crypto from 'crypto';
import { Worker } from 'worker_threads';

const SCRYPT_LN = 14; // N = 2^14: ~16 MB, tens of ms on the thread pool
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_LEN = 32;
const PREFIX = '$scrypt$';
const MAX_CONCURRENT = 2;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

export function isBcryptHash(hash: string): boolean {
  return /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash);
}

export function isScryptHash(hash: string): boolean {
  return parseScrypt(hash) !== null;
}

function parseScrypt(hash: string): ScryptParams | null {
  if (typeof hash !== 'string' || !hash.startsWith(PREFIX)) return null;
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/.exec(hash);
  if (!m) return null;
  const ln = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // bounds: a stored hash must not be able to ask for gigabytes of memory
  if (ln < 10 || ln > 20 || r < 1 || r > 16 || p < 1 || p > 4) return null;
  return { N: 2 ** ln, r, p, salt: Buffer.from(m[4], 'base64url'), key: Buffer.from(m[5], 'base64url') };
}

const maxmem = (N: number, r: number) => 128 * N * r * 2 + 1024 * 1024;

function format(salt: Buffer, key: Buffer): string {
  return `${PREFIX}ln=${SCRYPT_LN},r=${SCRYPT_R},p=${SCRYPT_P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => crypto.scrypt(password, salt, keylen, { N, r, p, maxmem: maxmem(N, r) }, (err, key) => (err ? reject(err) : resolve(key))));
}

// ---- at most MAX_CONCURRENT checks at once

let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Checks running or waiting right now. */
export function pendingChecks(): number {
  return running + waiting.length;
}

// ---- bcrypt in a worker thread (legacy hashes only)

const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const mod = require(workerData.bcryptjs);
const bcrypt = mod.default || mod;
parentPort.on('message', ({ id, password, hash }) => {
  bcrypt.compare(password, hash).then(
    (ok) => parentPort.postMessage({ id, ok }),
    (err) => parentPort.postMessage({ id, error: String((err && err.message) || err) }),
  );
});
`;

let worker: Worker | null = null;
let nextId = 1;
const inWorker = new Map<number, { resolve: (ok: boolean) => void; reject: (err: Error) => void }>();

function bcryptWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: require.resolve('bcryptjs') } });
  w.on('message', (m: { id: number; ok?: boolean; error?: string }) => {
    const p = inWorker.get(m.id);
    if (!p) return;
    inWorker.delete(m.id);
    if (!inWorker.size) w.unref();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(!!m.ok);
  });
  const fail = (err: Error) => {
    if (worker === w) worker = null;
    for (const p of inWorker.values()) p.reject(err);
    inWorker.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`bcrypt worker exited (${code})`)));
  // an idle worker must not keep the process alive (after the listeners: adding a 'message' listener refs it again)
  w.unref();
  worker = w;
  return w;
}

function bcryptCompareOffThread(password: string, hash: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    inWorker.set(id, { resolve, reject });
    const w = bcryptWorker();
    w.ref(); // keep the process alive while a check is pending
    w.postMessage({ id, password, hash });
  });
}

// ---- the API

/** A new scrypt hash of password (async, on the thread pool). */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  return format(salt, await scryptAsync(password, salt, 2 ** SCRYPT_LN, SCRYPT_R, SCRYPT_P, KEY_LEN));
}

/** A new scrypt hash of password, synchronously: start-up only. */
export function hashPasswordSync(password: string): string {
  const salt = crypto.randomBytes(16);
  const N = 2 ** SCRYPT_LN;
  return format(salt, crypto.scryptSync(password, salt, KEY_LEN, { N, r: SCRYPT_R, p: SCRYPT_P, maxmem: maxmem(N, SCRYPT_R) }));
}

/** Does password match hash (scrypt or bcrypt)? Never on the main thread; false for an unknown hash format. */
export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return limited(async () => {
    const s = parseScrypt(hash);
    if (s) {
      const key = await scryptAsync(password, s.salt, s.N, s.r, s.p, s.key.length);
      return crypto.timingSafeEqual(key, s.key);
    }
    if (isBcryptHash(hash)) return bcryptCompareOffThread(password, hash);
    return false;
  });
}

/** verifyPassword, synchronously: start-up only (e.g. is GATEPOST_ADMIN_PASSWORD still the stored one?). */
export function verifyPasswordSync(password: string, hash: string): boolean {
  const s = parseScrypt(hash);
  if (s) return crypto.timingSafeEqual(crypto.scryptSync(password, s.salt, s.key.length, { N: s.N, r: s.r, p: s.p, maxmem: maxmem(s.N, s.r) }), s.key);
  if (isBcryptHash(hash)) {
    // loaded only for hashes of older installs (lazy, like the worker's)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('bcryptjs');
    return (mod.default ?? mod).compareSync(password, hash);
  }
  return false;
}
