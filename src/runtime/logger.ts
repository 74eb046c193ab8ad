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

class RotatingFile {
  private fd: number | null = null;
  private size = 0;
  constructor(
    readonly file: string,
    private maxBytes: number,
    private keep: number,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.open();
  }
  private open(): void {
    this.fd = fs.openSync(this.file, 'a', 0o640);
    this.size = fs.fstatSync(this.fd).size;
  }
  write(line: string): void {
    if (this.fd === null) return;
    const buf = Buffer.from(line + '\n', 'utf8');
    if (this.size + buf.length > this.maxBytes && this.size > 0) this.rotate();
    try {
      fs.writeSync(this.fd!, buf);
      this.size += buf.length;
    } catch {
      /* a full disk must not take the runtime down */
    }
  }
  private rotate(): void {
    try {
      fs.closeSync(this.fd!);
      for (let i = this.keep - 1; i >= 1; i--) {
        const from = `${this.file}.${i}`;
        if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i + 1}`);
      }
      fs.renameSync(this.file, `${this.file}.1`);
    } catch {
      /* keep writing to whatever we can open */
    }
    this.open();
  }
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

export function createLogger(opts: LoggerOptions): RuntimeLogger {
  const min = ORDER[opts.level] ?? ORDER.info;
  const out = opts.dir ? new RotatingFile(path.join(opts.dir, 'gatepost.log'), opts.maxBytes ?? 5 * 1024 * 1024, Math.max(1, opts.keep ?? 5)) : null;
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
    out?.write(line);
    if (opts.console) (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
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
    close: () => out?.close(),
  });
  return make('');
}
