/**
 * The runtime logger: levelled, one line per event, written to a size-rotated file in the data
 * dir (logs/gatepost.log, .1 … .N) and, when enabled, to the console. Implements the Logger of
 * src/core/log.ts, so the hub, the services and Node-RED (through settings.logging) all write here.
 *
 * Safety net against leaking secrets: every registered secret (`addSecret`) is masked in every
 * line, whoever wrote it.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '../core/log';
import type { LogLevel } from './config';

export interface RuntimeLogger extends Logger {
  /** a child logger that prefixes its lines with [component] */
  child(component: string): RuntimeLogger;
  /** masks this value in every later line */
  addSecret(value: string): void;
  /** writes a line whatever the level (the first-start notice goes to the console only) */
  console(line: string): void;
  readonly file: string | null;
  /** why the log file cannot be written now (lines go to stderr meanwhile); null while it can */
  fileError(): string | null;
  /** called when the log file stops (error text) or starts again (null) being writable */
  onFileState(fn: (error: string | null) => void): void;
  close(): void;
}

export interface LoggerOptions {
  /** directory of the log files; null = console only */
  dir: string | null;
  level: LogLevel;
  console: boolean;
  maxBytes?: number;
  keep?: number;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** How often a log file that could not be opened is tried again, ms. */
const REOPEN_EVERY_MS = 5000;

/**
 * The log file. It never throws: a full or read-only disk (or a log dir that is gone) must not
 * stop gatepost — a line that cannot be written returns false (the caller puts it on stderr) and
 * the file is opened again every few seconds until it works.
 */
class RotatingFile {
  private fd: number | null = null;
  private size = 0;
  private nextOpenAt = 0;
  /** why the file cannot be written now; null while it can */
  error: string | null = null;
  constructor(
    readonly file: string,
    private maxBytes: number,
    private keep: number,
    private readonly onState: (error: string | null) => void,
  ) {
    this.open();
  }
  private fail(err: unknown): void {
    const text = `log file ${this.file}: ${(err as NodeJS.ErrnoException)?.code ?? ''} ${(err as Error)?.message ?? err}`.replace(/\s+/g, ' ').trim();
    const first = this.error === null;
    this.error = text;
    if (first) this.onState(text);
  }
  private ok(): void {
    if (this.error === null) return;
    this.error = null;
    this.onState(null);
  }
  private open(): boolean {
    this.nextOpenAt = Date.now() + REOPEN_EVERY_MS;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      const fd = fs.openSync(this.file, 'a', 0o640);
      this.size = fs.fstatSync(fd).size;
      this.fd = fd;
      return true;
    } catch (err) {
      this.fd = null;
      this.fail(err);
      return false;
    }
  }
  /** Writes one line; false when it could not be written. */
  write(line: string): boolean {
    if (this.fd === null && (Date.now() < this.nextOpenAt || !this.open())) return false;
    const buf = Buffer.from(line + '\n', 'utf8');
    if (this.size + buf.length > this.maxBytes && this.size > 0 && !this.rotate()) return false;
    try {
      const n = fs.writeSync(this.fd!, buf);
      this.size += n;
      if (n < buf.length) throw Object.assign(new Error(`short write (${n} of ${buf.length} bytes)`), { code: 'EFBIG' });
      this.ok();
      return true;
    } catch (err) {
      // a full disk: keep the file open, the next line tries again
      this.fail(err);
      return false;
    }
  }
  private rotate(): boolean {
    try {
      fs.closeSync(this.fd!);
    } catch {
      /* already gone */
    }
    this.fd = null;
    try {
      for (let i = this.keep - 1; i >= 1; i--) {
        const from = `${this.file}.${i}`;
        if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i + 1}`);
      }
      fs.renameSync(this.file, `${this.file}.1`);
    } catch {
      /* keep writing to whatever we can open */
    }
    return this.open();
  }
  close(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* nothing to do */
      }
    }
    this.fd = null;
  }
}

export function createLogger(opts: LoggerOptions): RuntimeLogger {
  const min = ORDER[opts.level] ?? ORDER.info;
  const fileListeners: Array<(error: string | null) => void> = [];
  let reporting = false;
  const fileState = (error: string | null): void => {
    // say it where it can be seen (the file is what failed); listeners may log: no re-entry
    process.stderr.write(error ? `gatepost: ${error}; logging to stderr until it can be written again\n` : `gatepost: the log file can be written again\n`);
    if (reporting) return;
    reporting = true;
    try {
      for (const fn of fileListeners) fn(error);
    } finally {
      reporting = false;
    }
  };
  const out = opts.dir ? new RotatingFile(path.join(opts.dir, 'gatepost.log'), opts.maxBytes ?? 5 * 1024 * 1024, Math.max(1, opts.keep ?? 5), fileState) : null;
  const secrets: string[] = [];
  const mask = (s: string): string => {
    for (const sec of secrets) if (s.includes(sec)) s = s.split(sec).join('***');
    return s;
  };
  const fmtMeta = (meta?: Record<string, unknown>): string => {
    if (!meta || !Object.keys(meta).length) return '';
    try {
      return ' ' + JSON.stringify(meta);
    } catch {
      return ' [meta]';
    }
  };
  const write = (level: LogLevel, component: string, msg: string, meta?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const text = String(msg).replace(/[\r\n]+/g, ' ⏎ ');
    const line = mask(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${component ? `[${component}] ` : ''}${text}${fmtMeta(meta)}`);
    const written = out ? out.write(line) : true;
    if (opts.console) (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
    else if (!written) process.stderr.write(line + '\n'); // the file failed: the line must go somewhere
  };
  const make = (component: string): RuntimeLogger => ({
    debug: (m, meta) => write('debug', component, m, meta),
    info: (m, meta) => write('info', component, m, meta),
    warn: (m, meta) => write('warn', component, m, meta),
    error: (m, meta) => write('error', component, m, meta),
    child: (c) => make(component ? `${component}/${c}` : c),
    addSecret: (v) => {
      if (v && v.length >= 4 && !secrets.includes(v)) secrets.push(v);
    },
    console: (line) => process.stdout.write(line + '\n'),
    get file() {
      return out?.file ?? null;
    },
    fileError: () => out?.error ?? null,
    onFileState: (fn) => void fileListeners.push(fn),
    close: () => out?.close(),
  });
  return make('');
}
