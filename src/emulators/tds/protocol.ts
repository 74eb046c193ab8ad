/**
 * TDS 7.4 wire format (MS-TDS) for the test server: packets, the tokens a server sends
 * (LOGINACK, ENVCHANGE, COLMETADATA, ROW, DONE*, ERROR, RETURNSTATUS) and the parsing of what a
 * client sends (PRELOGIN, LOGIN7, SQL_BATCH, RPC parameters with their TYPE_INFO, PLP included).
 * Only what a SQL client such as tedious (`mssql`) or FreeTDS needs for queries; no TLS, no MARS.
 */

export const PKT = { SQL_BATCH: 0x01, RPC: 0x03, REPLY: 0x04, ATTENTION: 0x06, LOGIN7: 0x10, PRELOGIN: 0x12 } as const;
export const STATUS_EOM = 0x01;

export const TOKEN = { COLMETADATA: 0x81, ERROR: 0xaa, INFO: 0xab, LOGINACK: 0xad, ROW: 0xd1, ENVCHANGE: 0xe3, DONE: 0xfd, DONEPROC: 0xfe, DONEINPROC: 0xff, RETURNSTATUS: 0x79 } as const;
export const DONE = { FINAL: 0x00, MORE: 0x01, ERROR: 0x02, COUNT: 0x10, ATTN: 0x20 } as const;

/** TDS data types (TYPE_INFO ids) the server reads or writes. */
export const T = {
  NULL: 0x1f,
  INT1: 0x30,
  BIT: 0x32,
  INT2: 0x34,
  INT4: 0x38,
  DATETIM4: 0x3a,
  FLT4: 0x3b,
  MONEY: 0x3c,
  DATETIME: 0x3d,
  FLT8: 0x3e,
  MONEY4: 0x7a,
  INT8: 0x7f,
  GUID: 0x24,
  INTN: 0x26,
  DECIMAL: 0x37,
  NUMERIC: 0x3f,
  BITN: 0x68,
  DECIMALN: 0x6a,
  NUMERICN: 0x6c,
  FLTN: 0x6d,
  MONEYN: 0x6e,
  DATETIMN: 0x6f,
  DATEN: 0x28,
  TIMEN: 0x29,
  DATETIME2N: 0x2a,
  DATETIMEOFFSETN: 0x2b,
  BIGVARBIN: 0xa5,
  BIGVARCHR: 0xa7,
  BIGBINARY: 0xad,
  BIGCHAR: 0xaf,
  NVARCHAR: 0xe7,
  NCHAR: 0xef,
  XML: 0xf1,
  TEXT: 0x23,
  IMAGE: 0x22,
  NTEXT: 0x63,
} as const;

/** SQL_Latin1_General_CP1_CI_AS */
export const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

/** Days from 0001-01-01 to 1970-01-01. */
const DAYS_0001_TO_1970 = 719162;
/** Days from 1900-01-01 to 1970-01-01. */
const DAYS_1900_TO_1970 = 25567;
const DAY_MS = 86400000;

/** A growable little-endian writer. */
export class Writer {
  private buf = Buffer.alloc(256);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.alloc(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u8(v: number): this {
    this.ensure(1);
    this.buf.writeUInt8(v & 0xff, this.len);
    this.len += 1;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }
  u16be(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v | 0, this.len);
    this.len += 4;
    return this;
  }
  i64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64LE(v, this.len);
    this.len += 8;
    return this;
  }
  u64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.len);
    this.len += 8;
    return this;
  }
  f64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
    return this;
  }
  uint(v: number, bytes: number): this {
    this.ensure(bytes);
    this.buf.writeUIntLE(v, this.len, bytes);
    this.len += bytes;
    return this;
  }
  bytes(b: Buffer): this {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
    return this;
  }
  /** B_VARCHAR: 1-byte length in characters + UCS-2 */
  bVarchar(s: string): this {
    const b = Buffer.from(s, 'utf16le');
    return this.u8(b.length / 2).bytes(b);
  }
  /** US_VARCHAR: 2-byte length in characters + UCS-2 */
  usVarchar(s: string): this {
    const b = Buffer.from(s, 'utf16le');
    return this.u16(b.length / 2).bytes(b);
  }
  get buffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A reader over one received message; every overrun throws. */
export class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`TDS message truncated at ${this.pos} (+${n} of ${this.buf.length})`);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  uint(bytes: number): number {
    this.need(bytes);
    const v = this.buf.readUIntLE(this.pos, bytes);
    this.pos += bytes;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  bVarchar(): string {
    const n = this.u8();
    return this.bytes(n * 2).toString('utf16le');
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
}

/** Splits a message into packets of at most `packetSize` bytes (header included). */
export function packets(type: number, payload: Buffer, packetSize: number): Buffer[] {
  const room = packetSize - 8;
  const out: Buffer[] = [];
  let id = 1;
  for (let off = 0; off < payload.length || out.length === 0; off += room) {
    const part = payload.subarray(off, off + room);
    const last = off + room >= payload.length;
    const h = Buffer.alloc(8);
    h.writeUInt8(type, 0);
    h.writeUInt8(last ? STATUS_EOM : 0, 1);
    h.writeUInt16BE(part.length + 8, 2);
    h.writeUInt16BE(0x0033, 4); // spid
    h.writeUInt8(id++ & 0xff, 6);
    out.push(Buffer.concat([h, part]));
  }
  return out;
}

// ───────────── PRELOGIN / LOGIN7 ─────────────

export function preloginReply(): Buffer {
  // options: VERSION(6), ENCRYPTION(1), INSTOPT(1), THREADID(4), MARS(1), terminator
  const opts: Array<[number, Buffer]> = [
    [0x00, Buffer.from([16, 0, 0x10, 0x00, 0, 0])], // 16.0.4096
    [0x01, Buffer.from([0x02])], // ENCRYPT_NOT_SUP
    [0x02, Buffer.from([0x00])],
    [0x03, Buffer.from([0, 0, 0, 0])],
    [0x04, Buffer.from([0x00])],
  ];
  const headerLen = opts.length * 5 + 1;
  const w = new Writer();
  let off = headerLen;
  for (const [tok, data] of opts) {
    w.u8(tok).u16be(off).u16be(data.length);
    off += data.length;
  }
  w.u8(0xff);
  for (const [, data] of opts) w.bytes(data);
  return w.buffer;
}

export interface Login7 {
  tdsVersion: number;
  packetSize: number;
  hostName: string;
  userName: string;
  password: string;
  appName: string;
  serverName: string;
  database: string;
}

export function parseLogin7(buf: Buffer): Login7 {
  const r = new Reader(buf);
  r.need(94);
  const str = (at: number, password = false): string => {
    const off = buf.readUInt16LE(at);
    const len = buf.readUInt16LE(at + 2);
    if (!len) return '';
    if (off + len * 2 > buf.length) throw new Error('LOGIN7 field out of range');
    const b = Buffer.from(buf.subarray(off, off + len * 2));
    if (password)
      for (let i = 0; i < b.length; i++) {
        const x = b[i] ^ 0xa5;
        b[i] = ((x & 0x0f) << 4) | (x >> 4);
      }
    return b.toString('utf16le');
  };
  return {
    tdsVersion: buf.readUInt32BE(4),
    packetSize: buf.readUInt32LE(8),
    hostName: str(36),
    userName: str(40),
    password: str(44, true),
    appName: str(48),
    serverName: str(52),
    database: str(68),
  };
}

// ───────────── server tokens ─────────────

export function envChange(w: Writer, type: number, value: string, old: string): void {
  const v = new Writer().u8(type).bVarchar(value).bVarchar(old).buffer;
  w.u8(TOKEN.ENVCHANGE).u16(v.length).bytes(v);
}

export function envChangeCollation(w: Writer): void {
  const v = new Writer().u8(7).u8(COLLATION.length).bytes(COLLATION).u8(0).buffer;
  w.u8(TOKEN.ENVCHANGE).u16(v.length).bytes(v);
}

export function loginAck(w: Writer, progName: string): void {
  const v = new Writer()
    .u8(1)
    .bytes(Buffer.from([0x74, 0x00, 0x00, 0x04]))
    .bVarchar(progName)
    .bytes(Buffer.from([16, 0, 0x10, 0x00])).buffer;
  w.u8(TOKEN.LOGINACK).u16(v.length).bytes(v);
}

/** ERROR (class ≥ 11) or INFO token. */
export function message(w: Writer, kind: 'error' | 'info', number: number, text: string, cls: number, serverName: string, state = 1): void {
  const v = new Writer().i32(number).u8(state).u8(cls).usVarchar(text).bVarchar(serverName).bVarchar('').u32(1).buffer;
  w.u8(kind === 'error' ? TOKEN.ERROR : TOKEN.INFO)
    .u16(v.length)
    .bytes(v);
}

export function done(w: Writer, token: number, status: number, curCmd: number, rowCount: number): void {
  w.u8(token).u16(status).u16(curCmd).u64(BigInt(rowCount));
}

export function returnStatus(w: Writer, value: number): void {
  w.u8(TOKEN.RETURNSTATUS).i32(value);
}

/** The column types the server answers with. */
export type ColType = 'int' | 'bigint' | 'float' | 'nvarchar' | 'datetime2' | 'bit';
export interface Column {
  name: string;
  type: ColType;
}

export function colMetadata(w: Writer, cols: Column[]): void {
  w.u8(TOKEN.COLMETADATA).u16(cols.length);
  for (const c of cols) {
    w.u32(0).u16(0x0001 | 0x0008); // user type; flags: nullable, updateable-unknown
    switch (c.type) {
      case 'int':
        w.u8(T.INTN).u8(4);
        break;
      case 'bigint':
        w.u8(T.INTN).u8(8);
        break;
      case 'float':
        w.u8(T.FLTN).u8(8);
        break;
      case 'bit':
        w.u8(T.BITN).u8(1);
        break;
      case 'datetime2':
        w.u8(T.DATETIME2N).u8(3);
        break;
      case 'nvarchar':
        w.u8(T.NVARCHAR).u16(8000).bytes(COLLATION);
        break;
    }
    w.bVarchar(c.name);
  }
}

/** 'YYYY-MM-DD[ T]HH:MM[:SS[.fff…]]' → epoch ms of those UTC parts (the wall clock as stored), or null. */
export function wallClockMs(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?/.exec(v);
  if (!m) return null;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6) : 0;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), ms);
  return Number.isFinite(t) ? t : null;
}

/** epoch ms (UTC parts = wall clock) → 'YYYY-MM-DD HH:MM:SS.mmm', the form the table stores. */
export function wallClockText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
}

export function row(w: Writer, cols: Column[], values: unknown[]): void {
  w.u8(TOKEN.ROW);
  cols.forEach((c, i) => {
    const v = values[i];
    if (v === null || v === undefined) {
      if (c.type === 'nvarchar') w.u16(0xffff);
      else w.u8(0);
      return;
    }
    switch (c.type) {
      case 'int':
        w.u8(4).i32(Number(v));
        break;
      case 'bigint':
        w.u8(8).i64(BigInt(Math.trunc(Number(v))));
        break;
      case 'float':
        w.u8(8).f64(Number(v));
        break;
      case 'bit':
        w.u8(1).u8(v ? 1 : 0);
        break;
      case 'datetime2': {
        const ms = typeof v === 'number' ? v : wallClockMs(String(v));
        if (ms === null) {
          w.u8(0);
          break;
        }
        const days = Math.floor(ms / DAY_MS);
        const inDay = ms - days * DAY_MS;
        w.u8(7)
          .uint(inDay, 4)
          .uint(days + DAYS_0001_TO_1970, 3);
        break;
      }
      case 'nvarchar': {
        let b = Buffer.from(String(v), 'utf16le');
        if (b.length > 8000) b = b.subarray(0, 8000);
        w.u16(b.length).bytes(b);
        break;
      }
    }
  });
}

// ───────────── client requests ─────────────

/** Skips ALL_HEADERS (TDS 7.2+) at the start of SQL_BATCH and RPC messages. */
export function skipAllHeaders(r: Reader): void {
  const total = r.u32();
  if (total < 4 || r.pos - 4 + total > r.buf.length) throw new Error('bad ALL_HEADERS');
  r.pos += total - 4;
}

export interface RpcParam {
  name: string;
  value: unknown;
}
export interface RpcRequest {
  procId: number | null;
  procName: string | null;
  params: RpcParam[];
}

function readPlp(r: Reader): Buffer | null {
  const lo = r.u32();
  const hi = r.u32();
  if (lo === 0xffffffff && hi === 0xffffffff) return null;
  const parts: Buffer[] = [];
  for (;;) {
    const n = r.u32();
    if (n === 0) break;
    parts.push(r.bytes(n));
  }
  return Buffer.concat(parts);
}

function decodeScaledTime(r: Reader, scale: number): number {
  const n = scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
  const units = r.uint(n);
  return Math.floor(units / 10 ** (scale - 3) + 1e-9); // ms
}

/** Reads one TYPE_INFO + value (as sent in RPC parameters). */
export function readTypedValue(r: Reader): unknown {
  const type = r.u8();
  switch (type) {
    case T.NULL:
      return null;
    case T.INT1:
      return r.u8();
    case T.BIT:
      return r.u8() !== 0;
    case T.INT2:
      return r.bytes(2).readInt16LE(0);
    case T.INT4:
      return r.i32();
    case T.INT8:
      return Number(r.bytes(8).readBigInt64LE(0));
    case T.FLT8:
      return r.bytes(8).readDoubleLE(0);
    case T.FLT4:
      return r.bytes(4).readFloatLE(0);
    case T.INTN:
    case T.BITN:
    case T.FLTN:
    case T.MONEYN:
    case T.DATETIMN:
    case T.GUID: {
      r.u8(); // max length
      const len = r.u8();
      if (!len) return null;
      const b = r.bytes(len);
      if (type === T.INTN) return len === 1 ? b.readUInt8(0) : len === 2 ? b.readInt16LE(0) : len === 4 ? b.readInt32LE(0) : Number(b.readBigInt64LE(0));
      if (type === T.BITN) return b[0] !== 0;
      if (type === T.FLTN) return len === 4 ? b.readFloatLE(0) : b.readDoubleLE(0);
      if (type === T.MONEYN) return len === 4 ? b.readInt32LE(0) / 10000 : (b.readInt32LE(0) * 2 ** 32 + b.readUInt32LE(4)) / 10000;
      if (type === T.DATETIMN) {
        if (len === 4) return wallClockText((b.readUInt16LE(0) - DAYS_1900_TO_1970) * DAY_MS + b.readUInt16LE(2) * 60000);
        return wallClockText((b.readInt32LE(0) - DAYS_1900_TO_1970) * DAY_MS + Math.round((b.readUInt32LE(4) * 10) / 3));
      }
      return b.toString('hex');
    }
    case T.DECIMALN:
    case T.NUMERICN: {
      r.u8();
      r.u8(); // precision
      const scale = r.u8();
      const len = r.u8();
      if (!len) return null;
      const sign = r.u8();
      const mag = r.bytes(len - 1);
      let n = 0n;
      for (let i = mag.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(mag[i]);
      const v = Number(n) / 10 ** scale;
      return sign === 1 ? v : -v;
    }
    case T.DATEN: {
      const len = r.u8();
      if (!len) return null;
      return wallClockText((r.uint(3) - DAYS_0001_TO_1970) * DAY_MS).slice(0, 10);
    }
    case T.TIMEN: {
      const scale = r.u8();
      const len = r.u8();
      if (!len) return null;
      return wallClockText(decodeScaledTime(r, scale)).slice(11);
    }
    case T.DATETIME2N:
    case T.DATETIMEOFFSETN: {
      const scale = r.u8();
      const len = r.u8();
      if (!len) return null;
      const ms = decodeScaledTime(r, scale);
      const days = r.uint(3) - DAYS_0001_TO_1970;
      if (type === T.DATETIMEOFFSETN) r.bytes(2); // offset: the value is UTC already
      return wallClockText(days * DAY_MS + ms);
    }
    case T.BIGVARCHR:
    case T.BIGCHAR:
    case T.NVARCHAR:
    case T.NCHAR:
    case T.BIGVARBIN:
    case T.BIGBINARY: {
      const max = r.u16();
      const text = type !== T.BIGVARBIN && type !== T.BIGBINARY;
      if (text) r.bytes(5);
      const b = max === 0xffff ? readPlp(r) : ((n) => (n === 0xffff ? null : r.bytes(n)))(r.u16());
      if (b === null) return null;
      if (type === T.NVARCHAR || type === T.NCHAR) return b.toString('utf16le');
      if (text) return b.toString('latin1');
      return b;
    }
    case T.TEXT:
    case T.NTEXT:
    case T.IMAGE: {
      r.u32();
      if (type !== T.IMAGE) r.bytes(5);
      const len = r.u32();
      if (len === 0xffffffff) return null;
      const b = r.bytes(len);
      return type === T.NTEXT ? b.toString('utf16le') : type === T.TEXT ? b.toString('latin1') : b;
    }
    default:
      throw new Error(`unsupported TDS parameter type 0x${type.toString(16)}`);
  }
}

export function parseRpc(buf: Buffer): RpcRequest {
  const r = new Reader(buf);
  skipAllHeaders(r);
  const nameLen = r.u16();
  let procId: number | null = null;
  let procName: string | null = null;
  if (nameLen === 0xffff) procId = r.u16();
  else procName = r.bytes(nameLen * 2).toString('utf16le');
  r.u16(); // option flags
  const params: RpcParam[] = [];
  while (!r.done) {
    const b = r.buf[r.pos];
    if (b === 0x80 || b === 0xff || b === 0xfe) break; // batch separator (not supported: one RPC per message)
    const name = r.bVarchar();
    r.u8(); // status flags
    params.push({ name, value: readTypedValue(r) });
  }
  return { procId, procName, params };
}

export function parseSqlBatch(buf: Buffer): string {
  const r = new Reader(buf);
  if (buf.length >= 4 && buf.readUInt32LE(0) >= 4 && buf.readUInt32LE(0) <= buf.length && buf.readUInt32LE(0) < 1024) skipAllHeaders(r);
  return buf.subarray(r.pos).toString('utf16le');
}
