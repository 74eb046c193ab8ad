/**
 * Configuration of `gatepost-lpr`: command-line flags, then environment variables, then a JSON
 * config file (`--config FILE`, else /etc/gatepost/lpr.json, else ~/.config/gatepost/lpr.json),
 * then defaults. Loads nothing heavy: only fs/path (`os` only when $HOME is not set).
 */
import fs = require('fs');
import path = require('path');

/**
 * A relay of the config file's `relays` as written: `{ driver, ... }`, validated by that driver's
 * schema (src/devices/registry.ts) only when the fallback path needs it — the registry loads the
 * HTTP stack, which the normal path must not.
 */
export interface FallbackRelayConfig {
  driver: string;
}

export interface EposelokFallbackConfig {
  name?: string;
  token?: string;
  camId?: string;
  /** online-check URL override (tests, proxies) */
  checkUrl?: string;
  timeoutMs?: number;
}

export interface LprConfig {
  url: string;
  username?: string;
  password?: string;
  camera: string;
  gate?: string;
  direction?: 'entry' | 'exit';
  /** how long to wait for the decision once the plate is published, ms */
  timeoutMs: number;
  /** how long to wait for the broker's CONNACK, ms */
  connectTimeoutMs: number;
  queueFile: string;
  /** barrier pulse of the fallback path, ms */
  pulseMs: number;
  eposelok: EposelokFallbackConfig;
  /** gate id → relay of the config file, for the fallback path (the environment's relays are added there: fallbackRelays() in gatepost-lpr.ts) */
  relays: Record<string, FallbackRelayConfig>;
  /** gate used by the fallback path when none is given (unset: `main` if it has a relay, else the first relay's gate) */
  defaultGate?: string;
  /** the environment the settings came from (the fallback path reads the device variables from it) */
  env: NodeJS.ProcessEnv;
  /** where the config file was found (for messages) */
  configFile?: string;
}

export interface CliArgs {
  plate?: string;
  camera?: string;
  gate?: string;
  direction?: string;
  confidence?: string;
  config?: string;
  timeout?: string;
  json: boolean;
  flush: boolean;
  help: boolean;
  version: boolean;
  quiet: boolean;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { json: false, flush: false, help: false, version: false, quiet: false };
  const valued: Record<string, keyof CliArgs> = {
    '--camera': 'camera',
    '-c': 'camera',
    '--gate': 'gate',
    '-g': 'gate',
    '--direction': 'direction',
    '--confidence': 'confidence',
    '--config': 'config',
    '--timeout': 'timeout',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (valued[flag]) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      (out as any)[valued[flag]] = v;
    } else if (a === '--json') out.json = true;
    else if (a === '--flush') out.flush = true;
    else if (a === '--quiet' || a === '-q') out.quiet = true;
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--version') out.version = true;
    else if (a === '--') {
      if (argv[i + 1] !== undefined && out.plate === undefined) out.plate = argv[i + 1];
      break;
    } else if (a.startsWith('-') && a.length > 1) throw new UsageError(`unknown option ${a}`);
    else if (out.plate === undefined) out.plate = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  return out;
}

export const USAGE = `usage: gatepost-lpr <plate> [--camera ID] [--gate ID] [--direction entry|exit]
                    [--confidence 0..1] [--timeout MS] [--config FILE] [--json] [--quiet]
       gatepost-lpr --flush [--config FILE]

Publishes the plate to gatepost (MQTT gatepost/lpr/<camera>, QoS 1) and waits for its decision.
Exit status: 0 allowed (also a repeat read of an allowed car), 1 denied, 2 error / no decision.
When gatepost cannot be reached it checks E-Poselok online and pulses the relay itself, and
queues the passage for gatepost (delivered later; --flush delivers it now).
Settings: GATEPOST_LPR_URL, GATEPOST_LPR_USERNAME, GATEPOST_LPR_PASSWORD, ... or a JSON file
(/etc/gatepost/lpr.json, ~/.config/gatepost/lpr.json). See docs/MQTT.md.`;

function readJson(file: string): Record<string, any> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (err) {
    throw new UsageError(`config file ${file} is not a JSON object (${(err as Error).message})`);
  }
}

function num(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a non-negative number (got "${String(v)}")`);
  return n;
}

const first = <T>(...vals: Array<T | undefined | null | ''>): T | undefined => vals.find((v) => v !== undefined && v !== null && v !== '') as T | undefined;

export function loadConfig(args: CliArgs, env: NodeJS.ProcessEnv, home?: string): LprConfig {
  // what os.homedir() returns when $HOME is set, without loading `os`
  const homeDir = home ?? (process.env.HOME || (require('os') as typeof import('os')).homedir());
  let file: Record<string, any> = {};
  let configFile: string | undefined;
  if (args.config) {
    configFile = path.resolve(args.config);
    file = readJson(configFile);
  } else {
    for (const f of [env.GATEPOST_LPR_CONFIG, '/etc/gatepost/lpr.json', path.join(homeDir, '.config', 'gatepost', 'lpr.json')]) {
      if (f && fs.existsSync(f)) {
        configFile = f;
        file = readJson(f);
        break;
      }
    }
  }
  const fe = (file.eposelok ?? {}) as Record<string, any>;

  const relays: Record<string, FallbackRelayConfig> = {};
  if (file.relays && typeof file.relays === 'object') Object.assign(relays, file.relays);

  const direction = first<string>(args.direction, env.GATEPOST_LPR_DIRECTION, file.direction);
  if (direction !== undefined && direction !== 'entry' && direction !== 'exit') throw new UsageError(`direction must be entry or exit (got "${direction}")`);
  const dataDir = () => first<string>(env.GATEPOST_LPR_DATA_DIR, file.dataDir) ?? (fs.existsSync('/var/lib/gatepost') ? '/var/lib/gatepost' : path.join(homeDir, '.local', 'state', 'gatepost'));

  return {
    url: first<string>(env.GATEPOST_LPR_URL, file.url) ?? 'mqtt://127.0.0.1:1883',
    username: first<string>(env.GATEPOST_LPR_USERNAME, file.username),
    password: first<string>(env.GATEPOST_LPR_PASSWORD, file.password),
    camera: first<string>(args.camera, env.GATEPOST_LPR_CAMERA, file.camera) ?? 'lpr',
    gate: first<string>(args.gate, env.GATEPOST_LPR_GATE, file.gate),
    direction: direction as LprConfig['direction'],
    timeoutMs: num(first(args.timeout, env.GATEPOST_LPR_TIMEOUT_MS, file.timeoutMs), 'timeout') ?? 1000,
    connectTimeoutMs: num(first(env.GATEPOST_LPR_CONNECT_TIMEOUT_MS, file.connectTimeoutMs), 'connect timeout') ?? 1000,
    queueFile: first<string>(env.GATEPOST_LPR_QUEUE, file.queueFile) ?? path.join(dataDir(), 'lpr-queue.jsonl'),
    pulseMs: num(first(env.GATEPOST_LPR_PULSE_MS, env.GATEPOST_RELAY_PULSE_MS, file.pulseMs), 'pulse') ?? 6000,
    eposelok: {
      name: first<string>(env.GATEPOST_EPOSELOK_NAME, fe.name),
      token: first<string>(env.GATEPOST_EPOSELOK_TOKEN, fe.token),
      camId: first<string>(env.GATEPOST_EPOSELOK_CAMID, fe.camId),
      checkUrl: first<string>(env.GATEPOST_EPOSELOK_CHECK_URL, fe.checkUrl),
      timeoutMs: num(first(env.GATEPOST_EPOSELOK_TIMEOUT_MS, fe.timeoutMs), 'E-Poselok timeout'),
    },
    relays,
    defaultGate: first<string>(env.GATEPOST_LPR_DEFAULT_GATE, file.defaultGate),
    env,
    configFile,
  };
}
