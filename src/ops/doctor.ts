/**
 * `gatepost doctor` and GET /api/doctor (the «Система» page): one list of checks with a plain
 * verdict each, in Russian and English — config, ports, data dir permissions, disk space, clock,
 * database, backups and every configured device (relay, intercom, E-Poselok through the device
 * monitor's own probes; the iVMS SQL Server by TCP, login and its table; the recordings' FTP server by a
 * login with GATEPOST_FTP_*; cameras by a connection to their address; Telegram by getMe).
 * What is not configured is said so and skipped. Exit code of the command: 1 when a check fails.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { RuntimeConfig } from '../runtime/config';
import { configuredDevices, prober } from '../runtime/device-monitor';
import { acquireInstanceLock, InstanceLockedError } from '../runtime/instance-lock';
import { redactUrl } from '../devices/http';
import { DEFAULT_API_ROOT, telegramGetMe } from '../services/telegram-bot';
import { quickCheck } from '../store/db';
import { FFMPEG } from '../media/ffmpeg';
import { listBackups } from './backup';
import sqlite3 from 'sqlite3';
import type * as BasicFtp from 'basic-ftp';
import { lazy } from '../core/lazy';
import { describeFtpError, ftpAccess } from '../services/upload-service';

/** basic-ftp, loaded when the FTP check runs */
const basicFtp = lazy((): typeof BasicFtp => require('basic-ftp'));

export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';
export interface Check {
  id: string;
  verdict: Verdict;
  ru: string;
  en: string;
}

export interface DoctorContext {
  cfg: RuntimeConfig;
  env?: NodeJS.ProcessEnv;
  /** 'runtime': asked by the running gatepost (its ports are its own); 'cli': from the command line */
  mode: 'cli' | 'runtime';
  timeoutMs?: number;
  now?: number;
  /** the running gatepost's gates (id, reachable, lastError), when asked by it */
  gates?: Array<{ id: string; reachable: boolean | null; lastError: string | null }>;
}

const c = (id: string, verdict: Verdict, ru: string, en: string): Check => ({ id, verdict, ru, en });
const MB = 1024 * 1024;

/** Is a gatepost running on the data dir? Its pid (or true when unknown), false when not. */
async function runningGatepost(dataDir: string): Promise<number | true | false> {
  try {
    const lock = await acquireInstanceLock(dataDir);
    await lock.release();
    return false;
  } catch (err) {
    if (err instanceof InstanceLockedError) return err.pid ?? true;
    return false;
  }
}

function canBind(port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
}

function tcpReach(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (e: string | null) => {
      clearTimeout(t);
      sock.destroy();
      resolve(e);
    };
    const t = setTimeout(() => done(`no answer in ${timeoutMs} ms`), timeoutMs);
    sock.once('connect', () => done(null));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function hostPort(raw: string, defPort: number): { host: string; port: number; shown: string } | null {
  try {
    const u = new URL(raw.includes('://') ? raw : `tcp://${raw}`);
    if (!u.hostname) return null;
    const port = Number(u.port) || defPort;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port, shown: `${u.hostname}:${port}` };
  } catch {
    return null;
  }
}

function checkConfig(ctx: DoctorContext): Check[] {
  const { cfg } = ctx;
  const out: Check[] = [];
  if (!cfg.warnings.length) out.push(c('config', 'ok', 'настройки: без ошибок', 'configuration: no errors'));
  for (const w of cfg.warnings) out.push(c('config', 'warn', `настройки: ${w}`, `configuration: ${w}`));
  if (cfg.demoActive)
    out.push(c('config:demo', 'warn', 'демо-режим: устройства ЭМУЛИРУЮТСЯ (не заданы адреса E-Poselok/реле/Сокол)', 'demo mode: the devices are EMULATED (no E-Poselok/relay/Sokol URL set)'));
  return out;
}

async function checkPorts(ctx: DoctorContext): Promise<Check[]> {
  const { cfg } = ctx;
  const ports: Array<[string, number]> = [['HTTP', cfg.httpPort]];
  if (!cfg.mqttUrl && cfg.mqttTcp) ports.push(['MQTT', cfg.mqttPort]);
  if (ctx.mode === 'runtime') return ports.map(([n, p]) => c(`port:${n}`, 'ok', `порт ${n} ${cfg.bind}:${p}: слушает gatepost`, `port ${n} ${cfg.bind}:${p}: gatepost listens`));
  const running = await runningGatepost(cfg.dataDir);
  const out: Check[] = [];
  for (const [n, p] of ports) {
    const err = await canBind(p, cfg.bind);
    if (!err) out.push(c(`port:${n}`, 'ok', `порт ${n} ${cfg.bind}:${p}: свободен`, `port ${n} ${cfg.bind}:${p}: free`));
    else if (err === 'EADDRINUSE' && running)
      out.push(
        c(
          `port:${n}`,
          'ok',
          `порт ${n} ${cfg.bind}:${p}: занят запущенным gatepost${running === true ? '' : ` (pid ${running})`}`,
          `port ${n} ${cfg.bind}:${p}: taken by the running gatepost${running === true ? '' : ` (pid ${running})`}`,
        ),
      );
    else if (err === 'EADDRINUSE')
      out.push(c(`port:${n}`, 'fail', `порт ${n} ${cfg.bind}:${p}: ЗАНЯТ другой программой — gatepost не запустится`, `port ${n} ${cfg.bind}:${p}: TAKEN by another program — gatepost cannot start`));
    else if (err === 'EACCES') out.push(c(`port:${n}`, 'fail', `порт ${n} ${p}: нет прав (порт < 1024)`, `port ${n} ${p}: permission denied (port < 1024)`));
    else out.push(c(`port:${n}`, 'fail', `порт ${n} ${cfg.bind}:${p}: ${err}`, `port ${n} ${cfg.bind}:${p}: ${err}`));
  }
  return out;
}

function checkDataDir(ctx: DoctorContext): Check[] {
  const dir = ctx.cfg.dataDir;
  if (!fs.existsSync(dir)) return [c('data-dir', 'warn', `каталог данных ${dir}: ещё не создан (создаётся при первом запуске)`, `data dir ${dir}: not created yet (the first start creates it)`)];
  const out: Check[] = [];
  try {
    const probe = path.join(dir, `.doctor-${process.pid}`);
    fs.writeFileSync(probe, 'x');
    fs.rmSync(probe);
  } catch (err) {
    return [c('data-dir', 'fail', `каталог данных ${dir}: запись невозможна (${(err as NodeJS.ErrnoException).code})`, `data dir ${dir}: cannot be written (${(err as NodeJS.ErrnoException).code})`)];
  }
  const open: string[] = [];
  for (const rel of ['', 'secrets.json', 'gatepost.db']) {
    try {
      const st = fs.statSync(path.join(dir, rel));
      if (st.mode & 0o077) open.push(`${rel || '.'} ${(st.mode & 0o777).toString(8)}`);
      if (process.getuid && st.uid !== process.getuid() && process.getuid() !== 0) open.push(`${rel || '.'} owner uid ${st.uid}`);
    } catch {
      /* not there yet */
    }
  }
  if (open.length)
    out.push(
      c(
        'data-dir',
        'warn',
        `каталог данных ${dir}: доступ шире нужного (${open.join(', ')}); gatepost исправит при запуске`,
        `data dir ${dir}: wider access than needed (${open.join(', ')}); gatepost fixes it at start`,
      ),
    );
  else out.push(c('data-dir', 'ok', `каталог данных ${dir}: запись есть, доступ только у владельца`, `data dir ${dir}: writable, owner-only access`));
  return out;
}

function checkDisk(ctx: DoctorContext): Check {
  let dir = ctx.cfg.dataDir;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const st = fs.statfsSync(dir);
    const free = st.bavail * st.bsize;
    const pct = (100 * st.bavail) / Math.max(1, st.blocks);
    const txt = `${(free / MB / 1024).toFixed(1)} GB (${pct.toFixed(0)} %)`;
    if (free < 200 * MB || pct < 2) return c('disk', 'fail', `диск: свободно ${txt} — мало, записи журнала могут не сохраниться`, `disk: ${txt} free — too little, events may not be written`);
    if (free < 1024 * MB || pct < 5) return c('disk', 'warn', `диск: свободно ${txt} — скоро кончится`, `disk: ${txt} free — running low`);
    return c('disk', 'ok', `диск: свободно ${txt}`, `disk: ${txt} free`);
  } catch (err) {
    return c('disk', 'warn', `диск: не удалось узнать свободное место (${(err as Error).message})`, `disk: free space unknown (${(err as Error).message})`);
  }
}

async function newestEventTs(dbFile: string): Promise<number | null> {
  if (!fs.existsSync(dbFile)) return null;
  return new Promise((resolve) => {
    const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY, (err: Error | null) => {
      if (err) return resolve(null);
      db.get('SELECT MAX(ts) AS ts FROM events', (e: Error | null, row: { ts: number | null } | undefined) => db.close(() => resolve(e ? null : (row?.ts ?? null))));
    });
  });
}

async function checkClock(ctx: DoctorContext): Promise<Check[]> {
  const now = ctx.now ?? Date.now();
  const out: Check[] = [];
  const shown = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
  const newest = await newestEventTs(path.join(ctx.cfg.dataDir, 'gatepost.db'));
  if (new Date(now).getUTCFullYear() < 2025)
    out.push(c('clock', 'fail', `часы: ${shown} — дата в прошлом (нет батарейки часов / NTP?)`, `clock: ${shown} — the date is in the past (no RTC battery / NTP?)`));
  else if (newest !== null && newest > now + 5 * 60_000)
    out.push(
      c(
        'clock',
        'fail',
        `часы: ${shown} — раньше последнего проезда в журнале (${new Date(newest).toISOString()}); часы ушли назад`,
        `clock: ${shown} — earlier than the newest logged passage (${new Date(newest).toISOString()}); the clock went back`,
      ),
    );
  else out.push(c('clock', 'ok', `часы: ${shown}${newest !== null ? ', не раньше последнего проезда' : ''}`, `clock: ${shown}${newest !== null ? ', not before the newest passage' : ''}`));
  const td = spawnSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', timeout: 3000 });
  if (td.status === 0 && td.stdout.trim() === 'no') out.push(c('clock:ntp', 'warn', 'часы: не синхронизированы по NTP (timedatectl)', 'clock: not NTP-synchronised (timedatectl)'));
  return out;
}

async function checkDatabase(ctx: DoctorContext): Promise<Check[]> {
  const file = path.join(ctx.cfg.dataDir, 'gatepost.db');
  const out: Check[] = [];
  if (!fs.existsSync(file)) out.push(c('db', 'skip', 'база данных: ещё не создана', 'database: not created yet'));
  else {
    const problems = await quickCheck(file);
    if (problems.length)
      out.push(
        c(
          'db',
          'fail',
          `база данных: ПОВРЕЖДЕНА (${problems.slice(0, 2).join('; ')}) — восстановите копию: gatepost restore …`,
          `database: DAMAGED (${problems.slice(0, 2).join('; ')}) — restore a backup: gatepost restore …`,
        ),
      );
    else
      out.push(
        c('db', 'ok', `база данных: проверка quick_check пройдена (${(fs.statSync(file).size / MB).toFixed(1)} MB)`, `database: quick_check passed (${(fs.statSync(file).size / MB).toFixed(1)} MB)`),
      );
  }
  if (ctx.cfg.backupKeep <= 0) out.push(c('backup', 'warn', 'резервные копии: ночные копии выключены (GATEPOST_BACKUP_KEEP=0)', 'backups: nightly backups are off (GATEPOST_BACKUP_KEEP=0)'));
  else if (fs.existsSync(file)) {
    const newest = listBackups(ctx.cfg.dataDir)[0];
    const when = newest ? Date.parse(newest.name.slice(9, 29).replace(/T(\d\d)-(\d\d)-(\d\d)Z/, 'T$1:$2:$3Z')) : NaN;
    const ageH = ((ctx.now ?? Date.now()) - when) / 3600_000;
    if (!newest)
      out.push(
        c('backup', 'warn', 'резервные копии: ещё ни одной (ночная копия делается после ' + ctx.cfg.backupHour + ':00)', `backups: none yet (the nightly one is made after ${ctx.cfg.backupHour}:00)`),
      );
    else if (ageH > 48) out.push(c('backup', 'warn', `резервные копии: последняя ${newest.name} — старше 2 суток`, `backups: the newest, ${newest.name}, is over 2 days old`));
    else out.push(c('backup', 'ok', `резервные копии: последняя ${newest.name}`, `backups: newest ${newest.name}`));
  }
  return out;
}

/**
 * The iVMS-4200 SQL Server of the shipped access-log flow (GATEPOST_IVMS_HOST / _PORT / _DATABASE /
 * _TABLE / _USER / _PASSWORD / _ENCRYPT): TCP, then the login, then the table (its largest serialNo).
 */
async function checkIvms(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Check> {
  const host = (env.GATEPOST_IVMS_HOST ?? '').trim();
  if (!host) return c('mssql', 'skip', 'SQL Server iVMS: не настроено (GATEPOST_IVMS_HOST)', 'iVMS SQL Server: not configured (GATEPOST_IVMS_HOST)');
  const port = Number((env.GATEPOST_IVMS_PORT ?? '').trim() || 1433);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return c('mssql', 'fail', `SQL Server iVMS: неверный порт в GATEPOST_IVMS_PORT`, `iVMS SQL Server: invalid port in GATEPOST_IVMS_PORT`);
  const shown = `${host}:${port}`;
  const tcp = await tcpReach(host, port, timeoutMs);
  if (tcp) return c('mssql', 'fail', `SQL Server iVMS ${shown}: НЕ ОТВЕЧАЕТ (${tcp})`, `iVMS SQL Server ${shown}: DOES NOT ANSWER (${tcp})`);
  const { IvmsSource } = await import('../devices/ivms-source');
  let src: InstanceType<typeof IvmsSource> | null = null;
  try {
    src = new IvmsSource({
      host,
      port,
      database: (env.GATEPOST_IVMS_DATABASE ?? '').trim() || undefined,
      table: (env.GATEPOST_IVMS_TABLE ?? '').trim() || undefined,
      user: env.GATEPOST_IVMS_USER ?? '',
      password: env.GATEPOST_IVMS_PASSWORD ?? '',
      encrypt: /^(1|true|yes|on)$/i.test((env.GATEPOST_IVMS_ENCRYPT ?? '').trim()),
      connectTimeoutMs: Math.max(1000, timeoutMs),
      requestTimeoutMs: Math.max(1000, timeoutMs),
    });
    await src.ping();
    const max = await src.maxSerial();
    const last = max === null ? 'таблица пуста' : `последний serialNo ${max}`;
    return c(
      'mssql',
      'ok',
      `SQL Server iVMS ${shown}: вход выполнен, ${src.config.table}: ${last}`,
      `iVMS SQL Server ${shown}: logged in, ${src.config.table}: ${max === null ? 'empty' : `last serialNo ${max}`}`,
    );
  } catch (err) {
    const e = err as { kind?: string; message?: string };
    const what = e.kind === 'login' ? 'ВХОД ОТКЛОНЁН' : e.kind === 'config' ? 'ОШИБКА НАСТРОЙКИ' : e.kind === 'sql' ? 'ТАБЛИЦА НЕ ЧИТАЕТСЯ' : 'НЕ ОТВЕЧАЕТ';
    const whatEn = e.kind === 'login' ? 'LOGIN REFUSED' : e.kind === 'config' ? 'CONFIGURATION INVALID' : e.kind === 'sql' ? 'TABLE NOT READABLE' : 'DOES NOT ANSWER';
    return c('mssql', 'fail', `SQL Server iVMS ${shown}: ${what} (${e.message})`, `iVMS SQL Server ${shown}: ${whatEn} (${e.message})`);
  } finally {
    await src?.close();
  }
}

const KIND_RU: Record<string, string> = { relay: 'реле', intercom: 'домофон (Сокол)', eposelok: 'E-Poselok' };
const KIND_EN: Record<string, string> = { relay: 'relay', intercom: 'intercom (Sokol)', eposelok: 'E-Poselok' };

async function checkDevices(ctx: DoctorContext): Promise<Check[]> {
  const env = ctx.env ?? process.env;
  const timeoutMs = ctx.timeoutMs ?? ctx.cfg.probeTimeoutMs;
  const devices = configuredDevices(env);
  const jobs: Array<Promise<Check>> = [];
  for (const kind of ['relay', 'intercom', 'eposelok']) {
    const d = devices.find((x) => x.kind === kind);
    if (!d) {
      jobs.push(Promise.resolve(c(`device:${kind}`, 'skip', `${KIND_RU[kind]}: не настроено`, `${KIND_EN[kind]}: not configured`)));
      continue;
    }
    jobs.push(
      prober(
        d,
        env,
      )(timeoutMs).then(
        () => c(`device:${d.id}`, 'ok', `${KIND_RU[kind]} ${redactUrl(d.url)}: отвечает`, `${KIND_EN[kind]} ${redactUrl(d.url)}: answers`),
        (err) =>
          c(
            `device:${d.id}`,
            'fail',
            `${KIND_RU[kind]} ${redactUrl(d.url)}: НЕ ОТВЕЧАЕТ (${(err as Error).message})`,
            `${KIND_EN[kind]} ${redactUrl(d.url)}: DOES NOT ANSWER (${(err as Error).message})`,
          ),
      ),
    );
  }
  for (const g of ctx.gates ?? []) {
    const v: Verdict = g.reachable === false ? 'fail' : g.reachable ? 'ok' : 'skip';
    jobs.push(
      Promise.resolve(
        c(
          `gate:${g.id}`,
          v,
          `ворота ${g.id}: ${v === 'ok' ? 'устройство отвечает' : v === 'fail' ? `устройство НЕ ОТВЕЧАЕТ (${g.lastError ?? ''})` : 'ещё не проверялись'}`,
          `gate ${g.id}: ${v === 'ok' ? 'its device answers' : v === 'fail' ? `its device DOES NOT ANSWER (${g.lastError ?? ''})` : 'not probed yet'}`,
        ),
      ),
    );
  }
  jobs.push(checkIvms(env, timeoutMs));
  jobs.push(checkFtp(env, timeoutMs));
  // the shipped cameras flow's cameras (flows/cameras.json): GATEPOST_CAMERA_<n>_URL (+ _SUB_URL), n = 1…9
  const cams: Array<{ name: string; url: string }> = [];
  for (let n = 1; n <= 9; n++) {
    for (const [suffix, label] of [
      ['URL', `camera${n}`],
      ['SUB_URL', `camera${n} sub`],
    ]) {
      const url = (env[`GATEPOST_CAMERA_${n}_${suffix}`] ?? '').trim();
      if (url) cams.push({ name: label, url });
    }
  }
  if (!cams.length) jobs.push(Promise.resolve(c('cameras', 'skip', 'камеры: не настроено (GATEPOST_CAMERA_1_URL)', 'cameras: not configured (GATEPOST_CAMERA_1_URL)')));
  else {
    const ff = spawnSync(FFMPEG, ['-hide_banner', '-version'], { timeout: 10_000, encoding: 'utf8' });
    if (ff.status === 0) jobs.push(Promise.resolve(c('ffmpeg', 'ok', `ffmpeg: ${ff.stdout.split('\n')[0].slice(0, 60)}`, `ffmpeg: ${ff.stdout.split('\n')[0].slice(0, 60)}`)));
    else jobs.push(Promise.resolve(c('ffmpeg', 'fail', 'ffmpeg не установлен: камеры не работают (apt-get install ffmpeg)', 'ffmpeg is not installed: cameras cannot run (apt-get install ffmpeg)')));
  }
  for (const { name, url } of cams) {
    const hp = /^rtsps?:\/\//i.test(url) ? hostPort(url, 554) : null;
    if (!hp) jobs.push(Promise.resolve(c(`camera:${name}`, 'fail', `камера ${name}: адрес должен начинаться с rtsp://`, `camera ${name}: the URL must start with rtsp://`)));
    else
      jobs.push(
        tcpReach(hp.host, hp.port, timeoutMs).then((e) =>
          e
            ? c(`camera:${name}`, 'fail', `камера ${name} ${hp.shown}: НЕ ОТВЕЧАЕТ (${e})`, `camera ${name} ${hp.shown}: DOES NOT ANSWER (${e})`)
            : c(`camera:${name}`, 'ok', `камера ${name} ${hp.shown}: отвечает`, `camera ${name} ${hp.shown}: answers`),
        ),
      );
  }
  if (!(env.GATEPOST_TELEGRAM_BOT_TOKEN ?? '').trim()) jobs.push(Promise.resolve(c('telegram', 'skip', 'Telegram: не настроено', 'Telegram: not configured')));
  else {
    // a real getMe against the API root: the address answers AND the token is accepted (never shown)
    const root = (env.GATEPOST_TELEGRAM_API_URL ?? '').trim() || DEFAULT_API_ROOT;
    const shown = redactUrl(root);
    jobs.push(
      telegramGetMe(env.GATEPOST_TELEGRAM_BOT_TOKEN!.trim(), root, timeoutMs).then(
        (name) => c('telegram', 'ok', `Telegram ${shown}: бот @${name} отвечает`, `Telegram ${shown}: bot @${name} answers`),
        (err: Error) => c('telegram', 'fail', `Telegram ${shown}: НЕДОСТУПЕН (${err.message})`, `Telegram ${shown}: UNREACHABLE (${err.message})`),
      ),
    );
  }
  return Promise.all(jobs);
}

const truthy = (v: string | undefined) => /^(1|true|yes|on)$/i.test((v ?? '').trim());

/** The recordings' FTP server of the shipped flows (GATEPOST_FTP_*): a real connection and login. */
async function checkFtp(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Check> {
  const host = (env.GATEPOST_FTP_HOST ?? '').trim();
  if (!host) return c('ftp', 'skip', 'FTP записей: не настроено (GATEPOST_FTP_HOST)', 'recordings FTP: not configured (GATEPOST_FTP_HOST)');
  const port = Number((env.GATEPOST_FTP_PORT ?? '').trim() || 21);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return c('ftp', 'fail', 'FTP записей: неверный порт в GATEPOST_FTP_PORT', 'recordings FTP: invalid port in GATEPOST_FTP_PORT');
  const shown = `${host}:${port}`;
  const secure = truthy(env.GATEPOST_FTP_SECURE);
  const client = new (basicFtp().Client)(Math.max(500, timeoutMs));
  try {
    await ftpAccess(client, {
      host,
      port,
      user: env.GATEPOST_FTP_USER || 'anonymous',
      password: env.GATEPOST_FTP_PASSWORD || '',
      secure,
      allowSelfSigned: truthy(env.GATEPOST_FTP_ALLOW_SELF_SIGNED),
    });
    const tls = secure ? ', FTPS' : '';
    return c('ftp', 'ok', `FTP записей ${shown}: вход выполнен${tls}`, `recordings FTP ${shown}: logged in${tls}`);
  } catch (err) {
    const why = describeFtpError(err, shown).text;
    return c('ftp', 'fail', `FTP записей: ${why}`, `recordings FTP: ${why}`);
  } finally {
    client.close();
  }
}

export async function runDoctor(ctx: DoctorContext): Promise<Check[]> {
  const [ports, clock, db, devices] = await Promise.all([checkPorts(ctx), checkClock(ctx), checkDatabase(ctx), checkDevices(ctx)]);
  return [...checkConfig(ctx), ...ports, ...checkDataDir(ctx), checkDisk(ctx), ...clock, ...db, ...devices];
}

const MARK: Record<Verdict, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: '--  ' };

/** The lines the command prints, and its exit code (1 when any check failed). */
export function formatDoctor(checks: Check[], lang: 'ru' | 'en'): { text: string; code: number } {
  const fails = checks.filter((x) => x.verdict === 'fail').length;
  const lines = checks.map((x) => `${MARK[x.verdict]}  ${x[lang]}`);
  lines.push(fails ? (lang === 'ru' ? `ИТОГ: проблем — ${fails}` : `RESULT: ${fails} problem(s)`) : lang === 'ru' ? 'ИТОГ: всё в порядке' : 'RESULT: all good');
  return { text: lines.join('\n'), code: fails ? 1 : 0 };
}

export function langOf(argv: string[], env: NodeJS.ProcessEnv = process.env): 'ru' | 'en' {
  const i = argv.indexOf('--lang');
  const v = (i >= 0 ? argv[i + 1] : '') || env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return /^ru/i.test(v) ? 'ru' : 'en';
}
