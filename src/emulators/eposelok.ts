/**
 * E-Poselok emulator: one HTTP server on 127.0.0.1 serving both endpoints from a pass list
 * (in memory; loadable from a JSON file in E-Poselok's own shape; the demo list ships in
 * `eposelok-demo.json` beside this file):
 *   GET /cgi-bin/standalone/avto.cgi?action={token}&gate=0&json=1      → { AllowedList1, AllowedList2 }
 *   GET /cgi-bin/cars/avtogate.cgi?pnam={name}&api=1&id={token}&CamId={camId}&plate={plate}
 *                                                                      → text with isallowaccess=1|0
 * A wrong token (or settlement name / camId on the check) answers 403. Faults: everything the
 * HttpEmulator offers (latency, HTTP status, HTML error page, invalid JSON, connection reset,
 * hang) plus list faults: empty lists, JSON without the lists, one list missing, a shrunken
 * list, a Windows-1251 or BOM-prefixed body. Control over HTTP: `POST /__emulator/fault`,
 * `GET|PUT /__emulator/passes`.
 */
import * as fs from 'fs';
import { Fault, HttpEmulator } from './http-emulator';
import { normalizePlate } from '../core/plate';
import demoList from './eposelok-demo.json';

export interface EposelokItem {
  Number: string;
  Plate: string;
  [extra: string]: unknown;
}
export interface EposelokLists {
  AllowedList1?: EposelokItem[];
  AllowedList2?: EposelokItem[];
  [extra: string]: unknown;
}

export interface EposelokFault extends Fault {
  /** the list answers both lists empty */
  emptyLists?: boolean;
  /** the list answers JSON without AllowedList1/AllowedList2 */
  noLists?: boolean;
  /** this list is left out of the answer */
  missingList?: 'AllowedList1' | 'AllowedList2';
  /** only this share (0..1) of the passes is listed */
  shrinkTo?: number;
  /** the list body is encoded in Windows-1251 */
  win1251?: boolean;
  /** the list body starts with a UTF-8 BOM */
  bom?: boolean;
}

export interface EposelokEmulatorOptions {
  port?: number;
  /** settlement slug (default 'demo') */
  name?: string;
  /** module token (default 'secret') */
  token?: string;
  /** camera id the check requires (default: any) */
  camId?: string;
  /** the pass list (default: the shipped demo list) */
  passes?: EposelokLists;
  /** a JSON file with the pass list (used when `passes` is not given) */
  passesFile?: string;
}

export const LIST_PATH = '/cgi-bin/standalone/avto.cgi';
export const CHECK_PATH = '/cgi-bin/cars/avtogate.cgi';

/** The shipped demo list (~50 plates, Cyrillic, Latin, spaces, region separators, foreign). */
export function demoPasses(): EposelokLists {
  return JSON.parse(JSON.stringify(demoList)) as EposelokLists;
}

export function loadPassesFile(file: string): EposelokLists {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected {"AllowedList1": [...], "AllowedList2": [...]}`);
  return doc as EposelokLists;
}

/** Windows-1251 bytes of a text (ASCII, Cyrillic, Ё/ё, №; anything else becomes '?'). */
export function encodeWin1251(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    let b: number;
    if (c < 0x80) b = c;
    else if (c >= 0x410 && c <= 0x44f) b = c - 0x410 + 0xc0;
    else if (c === 0x401) b = 0xa8;
    else if (c === 0x451) b = 0xb8;
    else if (c === 0x2116) b = 0xb9;
    else b = 0x3f;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** `n` distinct synthetic passes (benchmarks, large-list tests). */
export function syntheticPasses(n: number, seed = 1): EposelokLists {
  const letters = 'АВЕКМНОРСТУХ';
  const regions = ['18', '59', '77', '116', '716', '199', '777'];
  const items1: EposelokItem[] = [];
  const items2: EposelokItem[] = [];
  // a bijection of 0..n-1 into the plate space (12^3 letters × 999 numbers × 7 regions)
  for (let i = 0; i < n; i++) {
    const k = (i * 7919 + seed * 104729) % (1728 * 999 * 7);
    const num = (k % 999) + 1;
    const r = Math.floor(k / 999) % 7;
    const l = Math.floor(k / (999 * 7));
    const plate = `${letters[l % 12]}${String(num).padStart(3, '0')}${letters[Math.floor(l / 12) % 12]}${letters[Math.floor(l / 144) % 12]}${regions[r]}`;
    const item = { Number: String((i % 900) + 1), Plate: i % 3 === 0 ? plate.replace(/^(.)(\d{3})(..)/, '$1 $2 $3 ') : plate };
    (i % 10 === 0 ? items2 : items1).push(item);
  }
  return { AllowedList1: items1, AllowedList2: items2 };
}

export class EposelokEmulator extends HttpEmulator {
  readonly settlement: string;
  readonly token: string;
  readonly camId: string | undefined;
  private lists: EposelokLists = {};
  private allowed = new Set<string>();
  private listFault: EposelokFault = {};

  constructor(opts: EposelokEmulatorOptions = {}) {
    let self: EposelokEmulator | null = null;
    super('eposelok', (req, _body, url) => self!.handle(req.method ?? 'GET', url));
    self = this;
    this.settlement = opts.name ?? 'demo';
    this.token = opts.token ?? 'secret';
    this.camId = opts.camId;
    this.setPasses(opts.passes ?? (opts.passesFile ? loadPassesFile(opts.passesFile) : demoPasses()));
    this.extraControl = (method, url, body) => {
      if (url.pathname !== '/__emulator/passes') return undefined;
      if (method === 'PUT' || method === 'POST') {
        try {
          this.setPasses(JSON.parse(body));
          return { status: 200, body: JSON.stringify({ count: this.count }) };
        } catch (err) {
          return { status: 400, body: JSON.stringify({ errors: [`passes must be JSON: ${(err as Error).message}`] }) };
        }
      }
      return { status: 200, body: JSON.stringify(this.lists) };
    };
  }

  /** Base URL of the list endpoint and of the check endpoint (the same server). */
  get listUrl(): string {
    return this.url;
  }
  get checkUrl(): string {
    return this.url;
  }

  /** Replaces the pass list. */
  setPasses(lists: EposelokLists): void {
    if (!lists || typeof lists !== 'object' || Array.isArray(lists)) throw new Error('passes must be {"AllowedList1": [...], "AllowedList2": [...]}');
    this.lists = JSON.parse(JSON.stringify(lists));
    this.allowed = new Set();
    for (const key of ['AllowedList1', 'AllowedList2'] as const) {
      const items = this.lists[key];
      if (!Array.isArray(items)) continue;
      for (const it of items) {
        const p = it && typeof it === 'object' ? normalizePlate((it as EposelokItem).Plate) : null;
        if (p) this.allowed.add(p.canonical);
      }
    }
  }

  get passes(): EposelokLists {
    return JSON.parse(JSON.stringify(this.lists));
  }

  /** Items in both lists (as stored, valid or not). */
  get count(): number {
    return (this.lists.AllowedList1?.length ?? 0) + (this.lists.AllowedList2?.length ?? 0);
  }

  override setFault(f: EposelokFault | null): void {
    super.setFault(f);
    const { emptyLists, noLists, missingList, shrinkTo, win1251, bom } = f ?? {};
    this.listFault = { emptyLists, noLists, missingList, shrinkTo, win1251, bom };
  }
  override clearFault(): void {
    super.clearFault();
    this.listFault = {};
  }

  private handle(method: string, url: URL): { status: number; body?: string | Buffer; headers?: Record<string, string> } {
    const text = (status: number, body: string) => ({ status, body, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    if (method !== 'GET') return text(405, 'method not allowed');
    if (url.pathname === LIST_PATH) {
      if (url.searchParams.get('action') !== this.token) return text(403, 'access denied');
      return this.listAnswer();
    }
    if (url.pathname === CHECK_PATH) {
      const q = url.searchParams;
      if (q.get('id') !== this.token || q.get('pnam') !== this.settlement) return text(403, 'access denied');
      if (this.camId !== undefined && q.get('CamId') !== this.camId) return text(403, 'unknown camera');
      const raw = q.get('plate') ?? '';
      const p = normalizePlate(raw);
      const ok = p !== null && this.allowed.has(p.canonical);
      return text(200, `plate=${raw}\nisallowaccess=${ok ? 1 : 0}\n`);
    }
    return text(404, 'not found');
  }

  private listAnswer(): { status: number; body: Buffer; headers: Record<string, string> } {
    const f = this.listFault;
    let doc: EposelokLists;
    if (f.noLists) doc = { error: 'no data', result: 0 } as EposelokLists;
    else if (f.emptyLists) doc = { AllowedList1: [], AllowedList2: [] };
    else {
      doc = { ...this.lists };
      if (f.shrinkTo !== undefined) {
        const keep = Math.max(0, Math.min(1, Number(f.shrinkTo)));
        for (const key of ['AllowedList1', 'AllowedList2'] as const) {
          const items = doc[key];
          if (Array.isArray(items)) doc[key] = items.slice(0, Math.floor(items.length * keep));
        }
      }
      if (f.missingList) delete doc[f.missingList];
    }
    const json = JSON.stringify(doc);
    if (f.win1251) return { status: 200, body: encodeWin1251(json), headers: { 'content-type': 'application/json' } };
    const body = Buffer.from(json, 'utf8');
    return { status: 200, body: f.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body, headers: { 'content-type': 'application/json; charset=utf-8' } };
  }
}

export async function startEposelokEmulator(opts: EposelokEmulatorOptions = {}): Promise<EposelokEmulator> {
  return new EposelokEmulator(opts).listen(opts.port ?? 0);
}
