/**
 * The operator commands of the `gatepost` CLI (bin/gatepost.js → main.ts cli()):
 *   gatepost service install|uninstall|status [options]   (service.ts)
 *   gatepost backup [FILE]                                 (backup.ts; gatepost may run)
 *   gatepost restore FILE                                  (backup.ts; gatepost must be stopped)
 *   gatepost doctor [--lang ru|en]                         (doctor.ts; exit 1 when a check fails)
 * backup, restore and doctor also take --env-file FILE (the service's settings) and --data-dir DIR.
 * runOpsCommand() returns the exit code, or null when argv is not one of these.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig, RuntimeConfig } from '../runtime/config';
import { acquireInstanceLock, InstanceLockedError } from '../runtime/instance-lock';
import { createBackup, restoreBackup } from './backup';
import { formatDoctor, langOf, runDoctor } from './doctor';
import { defaultServiceOptions, installService, serviceStatus, uninstallService, ServiceOptions } from './service';

/** Exit code: gatepost is running (restore refused). */
export const EXIT_RUNNING = 2;

const SERVICE_HELP = `usage: gatepost service install [--user gatepost] [--data-dir /var/lib/gatepost] [--env-file /etc/gatepost/gatepost.env]
                               [--name gatepost] [--no-start] [--dry-run] [--root DIR]
       gatepost service uninstall [--name gatepost]
       gatepost service status [--name gatepost]
  --dry-run    print the unit and the commands, change nothing
  --root DIR   write the files under DIR (an image, a test); no user, no systemctl`;

function opt(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

function serviceOptions(argv: string[], cfg: RuntimeConfig): ServiceOptions {
  const o = defaultServiceOptions(cfg.root);
  o.user = opt(argv, '--user') ?? o.user;
  o.name = opt(argv, '--name') ?? o.name;
  o.dataDir = path.resolve(opt(argv, '--data-dir') ?? o.dataDir);
  o.envFile = path.resolve(opt(argv, '--env-file') ?? o.envFile);
  const root = opt(argv, '--root');
  o.root = root ? path.resolve(root) : null;
  o.dryRun = argv.includes('--dry-run');
  o.start = !argv.includes('--no-start');
  return o;
}

/** The first argument that is neither an option nor an option's value. */
function positional(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (['--env-file', '--data-dir', '--lang'].includes(args[i])) i++;
    else if (!args[i].startsWith('--')) return args[i];
  }
  return undefined;
}

async function withLock<T>(cfg: RuntimeConfig, what: string, fn: () => Promise<T>): Promise<T | number> {
  let lock;
  try {
    lock = await acquireInstanceLock(cfg.dataDir);
  } catch (err) {
    if (!(err instanceof InstanceLockedError)) throw err;
    console.error(
      `gatepost is running on ${cfg.dataDir}${err.pid ? ` (pid ${err.pid})` : ''}; stop it first (systemctl stop gatepost), then ${what} again. / ` +
        `gatepost запущен — остановите его, затем повторите.`,
    );
    return EXIT_RUNNING;
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** KEY=VALUE lines of a systemd EnvironmentFile (the service's settings), comments skipped. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim().replace(/^"(.*)"$/, '$1');
  }
  return out;
}

export async function runOpsCommand(argv: string[], cfg: RuntimeConfig): Promise<number | null> {
  const [cmd, ...rest] = argv;
  if (!['service', 'backup', 'restore', 'doctor'].includes(cmd)) return null;
  try {
    if (cmd !== 'service') {
      // the service's settings and data dir: --env-file /etc/gatepost/gatepost.env --data-dir /var/lib/gatepost
      const envFile = opt(rest, '--env-file');
      if (envFile) {
        Object.assign(process.env, readEnvFile(envFile));
        cfg = loadConfig(process.env);
      }
      const dataDir = opt(rest, '--data-dir');
      if (dataDir) cfg = { ...cfg, dataDir: path.resolve(dataDir) };
    }
    switch (cmd) {
      case 'service': {
        const sub = rest[0];
        if (!sub || rest.includes('--help') || rest.includes('-h') || !['install', 'uninstall', 'status'].includes(sub)) {
          console.log(SERVICE_HELP);
          return sub && !rest.includes('--help') && !rest.includes('-h') ? 1 : 0;
        }
        const o = serviceOptions(rest, cfg);
        if (sub === 'install') {
          installService(o);
          if (!o.dryRun && !o.root)
            console.log(`gatepost runs as the service ${o.name}: systemctl status ${o.name}; logs: ${o.dataDir}/logs/gatepost.log; the first-start passwords: journalctl -u ${o.name}`);
          return 0;
        }
        if (sub === 'uninstall') {
          uninstallService(o);
          return 0;
        }
        const host = cfg.bind === '0.0.0.0' || cfg.bind === '::' ? '127.0.0.1' : cfg.bind;
        return await serviceStatus(o, `http://${host.includes(':') ? `[${host}]` : host}:${cfg.httpPort}/api/health`);
      }
      case 'backup': {
        const file = positional(rest);
        const r = await createBackup(cfg.dataDir, file ? path.resolve(file) : undefined);
        console.log(`backup ${r.file}: ${r.events ?? '?'} events, ${(r.bytes / 1e6).toFixed(2)} MB, ${r.ms} ms`);
        return 0;
      }
      case 'restore': {
        const file = positional(rest);
        if (!file) {
          console.error('usage: gatepost restore FILE   (gatepost must be stopped)');
          return 1;
        }
        return await withLock(cfg, 'restore', async () => {
          const r = await restoreBackup(cfg.dataDir, path.resolve(file));
          console.log(`restored ${r.files.join(', ')} into ${cfg.dataDir}${r.events !== null ? ` (${r.events} events)` : ''}${r.savedTo ? `; the replaced files are in ${r.savedTo}` : ''}`);
          return 0;
        });
      }
      case 'doctor': {
        const lang = langOf(rest);
        const checks = await runDoctor({ cfg, mode: 'cli' });
        const { text, code } = formatDoctor(checks, lang);
        console.log(text);
        return code;
      }
      default:
        return null;
    }
  } catch (err) {
    console.error(`gatepost ${cmd}: ${(err as Error).message}`);
    return 1;
  }
}
