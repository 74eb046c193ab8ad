/**
 * Runtime configuration from the environment (a `.env` file in the working directory is read
 * first if present; real environment variables win). Every variable is documented in
 * `.env.example`. Parsing never throws for a bad value of an optional setting: it falls back to
 * the default and records a warning the runtime logs at start.
 */
import * as fs from 'fs';
import * as path from 'path';
import { anyDeviceConfigured } from '../devices/registry';

export type DemoSetting = 'auto' | 'on' | 'off';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RuntimeConfig {
  /** project root (where package.json, flows/ and settings.js are) */
  root: string;
  version: string;
  httpPort: number;
  bind: string;
  mqttPort: number;
  /** `false` = no embedded TCP listener (ws /mqtt only) */
  mqttTcp: boolean;
  dataDir: string;
  /** external broker; empty = embedded aedes */
  mqttUrl: string;
  mqttUsername: string;
  mqttPassword: string;
  timezone: string;
  adminPassword: string;
  logLevel: LogLevel;
  /** also log to the console (default on; GATEPOST_LOG_CONSOLE=0 turns it off) */
  logConsole: boolean;
  logMaxBytes: number;
  logKeep: number;
  demo: DemoSetting;
  /** the demo decision once devices are known */
  demoActive: boolean;
  /** extra guard accounts: "name:password[,name:password]" */
  users: string;
  /** extra MQTT accounts: "name:password:role[,...]" */
  mqttUsers: string;
  /** a JSON file of extra MQTT accounts: [{ username, password | hash, role }] */
  mqttUsersFile: string;
  /** where the shipped flows are (default <root>/flows) */
  flowsDir: string;
  /** how long the start waits for the flows' mqtt in nodes before it says ready anyway, ms */
  flowsReadyTimeoutMs: number;
  /** how often the devices are probed (read-only requests), ms; 0 = never */
  probeIntervalMs: number;
  /** how long a probe waits for a device's answer, ms */
  probeTimeoutMs: number;
  /** browser origins besides the Host's own that may use a session / open WebSockets (origin.ts) */
  allowedOrigins: string;
  /** years of event history kept (GATEPOST_RETENTION_YEARS, default 3; 0 = keep all) */
  retentionYears: number;
  /** nightly backups kept in <data>/backups (GATEPOST_BACKUP_KEEP, default 7; 0 = no nightly backup) */
  backupKeep: number;
  /** the site hour (0-23) after which the nightly backup is made (GATEPOST_BACKUP_HOUR, default 3) */
  backupHour: number;
  /** start even when PRAGMA quick_check finds the database damaged (GATEPOST_ALLOW_CORRUPT_DB=1) */
  allowCorruptDb: boolean;
  warnings: string[];
}

/** Reads `.env` (if present) into process.env without overriding what is already set. */
export function loadDotEnv(file = path.join(process.cwd(), '.env')): boolean {
  if (!fs.existsSync(file)) return false;
  require('dotenv').config({ path: file, override: false });
  return true;
}

function projectRoot(): string {
  // dist/src/runtime/config.js → root is three levels up; src/runtime/config.ts (ts-jest) → two
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const warnings: string[] = [];
  const root = projectRoot();
  let version = '0.0.0';
  try {
    version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version ?? version;
  } catch {
    /* keep default */
  }
  const port = (name: string, def: number, allowZero = true): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
      warnings.push(`${name}="${raw}" is not a port number; using ${def}`);
      return def;
    }
    return n;
  };
  const int = (name: string, def: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      warnings.push(`${name}="${raw}" is invalid; using ${def}`);
      return def;
    }
    return n;
  };
  const str = (name: string, def = ''): string => (env[name] ?? '').trim() || def;

  const levelRaw = str('GATEPOST_LOG_LEVEL', 'info').toLowerCase();
  const logLevel: LogLevel = (['debug', 'info', 'warn', 'error'] as const).includes(levelRaw as LogLevel) ? (levelRaw as LogLevel) : 'info';
  if (logLevel !== levelRaw) warnings.push(`GATEPOST_LOG_LEVEL="${levelRaw}" is unknown; using info`);

  const demoRaw = str('GATEPOST_DEMO', 'auto').toLowerCase();
  const demo: DemoSetting = demoRaw === 'on' || demoRaw === 'true' || demoRaw === '1' ? 'on' : demoRaw === 'off' || demoRaw === 'false' || demoRaw === '0' ? 'off' : 'auto';
  if (!['auto', 'on', 'off', 'true', 'false', '1', '0'].includes(demoRaw)) warnings.push(`GATEPOST_DEMO="${demoRaw}" is unknown; using auto`);
  const anyDevice = anyDeviceConfigured(env);

  let timezone = str('GATEPOST_TZ', 'Europe/Moscow');
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    warnings.push(`GATEPOST_TZ="${timezone}" is not a known time zone; using Europe/Moscow`);
    timezone = 'Europe/Moscow';
  }

  const mqttPortRaw = str('GATEPOST_MQTT_PORT');
  return {
    root,
    version,
    httpPort: port('GATEPOST_HTTP_PORT', 1880),
    bind: str('GATEPOST_BIND', '0.0.0.0'),
    mqttPort: port('GATEPOST_MQTT_PORT', 1883),
    mqttTcp: mqttPortRaw.toLowerCase() !== 'off',
    dataDir: path.resolve(str('GATEPOST_DATA_DIR', path.join(process.cwd(), 'data'))),
    mqttUrl: str('GATEPOST_MQTT_URL'),
    mqttUsername: str('GATEPOST_MQTT_USERNAME'),
    mqttPassword: env.GATEPOST_MQTT_PASSWORD ?? '',
    timezone,
    adminPassword: env.GATEPOST_ADMIN_PASSWORD ?? '',
    logLevel,
    logConsole: !['0', 'false', 'off'].includes(str('GATEPOST_LOG_CONSOLE', '1').toLowerCase()),
    logMaxBytes: int('GATEPOST_LOG_MAX_BYTES', 5 * 1024 * 1024, 1024),
    logKeep: int('GATEPOST_LOG_KEEP', 5, 1),
    demo,
    demoActive: demo === 'on' || (demo === 'auto' && !anyDevice),
    users: str('GATEPOST_USERS'),
    mqttUsers: str('GATEPOST_MQTT_USERS'),
    mqttUsersFile: str('GATEPOST_MQTT_USERS_FILE'),
    flowsDir: path.resolve(str('GATEPOST_FLOWS_DIR', path.join(root, 'flows'))),
    flowsReadyTimeoutMs: int('GATEPOST_FLOWS_READY_TIMEOUT_MS', 5000, 0),
    probeIntervalMs: int('GATEPOST_PROBE_INTERVAL_MS', 30_000, 0),
    probeTimeoutMs: int('GATEPOST_PROBE_TIMEOUT_MS', 2000, 100),
    allowedOrigins: str('GATEPOST_ALLOWED_ORIGINS'),
    retentionYears: int('GATEPOST_RETENTION_YEARS', 3, 0),
    backupKeep: int('GATEPOST_BACKUP_KEEP', 7, 0),
    backupHour: Math.min(23, int('GATEPOST_BACKUP_HOUR', 3, 0)),
    allowCorruptDb: ['1', 'true', 'yes', 'on'].includes(str('GATEPOST_ALLOW_CORRUPT_DB').toLowerCase()),
    warnings,
  };
}

/** Parses "a:b:c,d:e:f" lists (GATEPOST_USERS, GATEPOST_MQTT_USERS); bad items are reported, not fatal. */
export function parseAccountList(raw: string, fields: number): { items: string[][]; errors: string[] } {
  const items: string[][] = [];
  const errors: string[] = [];
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const bits = part.split(':');
    // the password may contain ':' — it is everything between the first and the last field
    if (bits.length < fields || !bits[0]) {
      errors.push(`"${bits[0] || '?'}": expected ${fields} ':'-separated fields`);
      continue;
    }
    if (fields === 3) items.push([bits[0], bits.slice(1, -1).join(':'), bits[bits.length - 1]]);
    else items.push([bits[0], bits.slice(1).join(':')]);
  }
  return { items, errors };
}
