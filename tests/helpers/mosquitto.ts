/**
 * A Mosquitto broker for tests (the external-broker configuration, GATEPOST_MQTT_URL): the Debian
 * binary on a free port of 127.0.0.1 with a password file (mosquitto_passwd) and an ACL file.
 * `mosquittoAvailable` is false without the binaries (suites then fail in CI, skip locally).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { freePort } from './runtime';
import { connect, end, sleep } from './mqtt-test';

function which(bin: string, extra: string[]): string | null {
  for (const p of [...(process.env.PATH ?? '').split(':'), ...extra]) {
    const f = path.join(p, bin);
    if (p && fs.existsSync(f)) return f;
  }
  return null;
}
export const MOSQUITTO = which('mosquitto', ['/usr/sbin', '/usr/local/sbin']);
export const MOSQUITTO_PASSWD = which('mosquitto_passwd', ['/usr/bin', '/usr/local/bin']);
export const mosquittoAvailable = !!(MOSQUITTO && MOSQUITTO_PASSWD);

export interface Mosquitto {
  port: number;
  url: string;
  proc: ChildProcess;
  /** what it wrote (errors and warnings) */
  log(): string;
  stop(): void;
}

/** Starts Mosquitto in `dir` (password file, ACL lines, config) and resolves once `probeUser` can connect. */
export async function startMosquitto(dir: string, users: Record<string, string>, acl: string[], probeUser = Object.keys(users)[0]): Promise<Mosquitto> {
  const port = await freePort();
  const pwFile = path.join(dir, 'passwd');
  fs.writeFileSync(pwFile, '');
  for (const [u, p] of Object.entries(users)) {
    const r = spawnSync(MOSQUITTO_PASSWD!, ['-b', pwFile, u, p], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
  }
  fs.writeFileSync(path.join(dir, 'acl'), [...acl, ''].join('\n'));
  fs.writeFileSync(
    path.join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${pwFile}`,
      `acl_file ${path.join(dir, 'acl')}`,
      'persistence false',
      // as root, mosquitto would switch to the `mosquitto` user, which cannot read this private temp dir
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  let log = '';
  const proc = spawn(MOSQUITTO!, ['-c', path.join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr!.on('data', (b) => (log += b));
  proc.stdout!.on('data', (b) => (log += b));
  for (let i = 0; ; i++) {
    try {
      await end(await connect(`mqtt://127.0.0.1:${port}`, { username: probeUser, password: users[probeUser] }, 1000));
      break;
    } catch (err) {
      if (i > 50) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not start: ${(err as Error).message}\n${log}`);
      }
      await sleep(100);
    }
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, proc, log: () => log, stop: () => void proc.kill('SIGTERM') };
}
