/**
 * Where an upload goes on the FTP server (issue 14), pure TypeScript: the directory template of an
 * ftp-target (`{camera}/{yyyy}-{mm}-{dd}/` by default) rendered for one file, and the upload
 * retry delay. Placeholders: {camera}, {yyyy}, {mm}, {dd}, {hh} — the date of the clip's start in
 * the site's time zone. Values are made safe for one path level (no `/`, `..` or control
 * characters), so a camera name can never walk out of the target's directory.
 */
import { localParts } from './validity';

export const DEFAULT_DIR_TEMPLATE = '{camera}/{yyyy}-{mm}-{dd}/';
const PLACEHOLDER = /\{(camera|yyyy|mm|dd|hh)\}/g;

/** One path level: letters (any alphabet), digits, `_ - . @ +`; anything else becomes `_`; never `.`/`..`/empty. */
export function safeLevel(v: string): string {
  const s = v
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}_\-.@+]/gu, '_')
    .slice(0, 100);
  return !s || /^\.+$/.test(s) ? '_' : s;
}

/** Problems of a directory template ([] when it is usable). */
export function templateProblems(template: string): string[] {
  const out: string[] = [];
  if (template.length > 300) out.push('directory template longer than 300 characters');
  // eslint-disable-next-line no-control-regex -- control characters are what this check refuses
  if (/[\u0000-\u001f\u007f\\]/.test(template)) out.push('directory template contains control characters or a backslash');
  const unknown = (template.match(/\{[^}]*\}/g) ?? []).filter((p) => !/^\{(camera|yyyy|mm|dd|hh)\}$/.test(p));
  if (unknown.length) out.push(`unknown placeholder ${unknown.join(', ')} (known: {camera} {yyyy} {mm} {dd} {hh})`);
  if (template.split('/').some((l) => l === '..')) out.push('directory template must not contain ".."');
  return out;
}

/**
 * The remote directory of a file: the template rendered and normalised to `a/b/c` (no leading or
 * trailing slash; '' = the login's home directory). A template starting with `/` is absolute on
 * the server (`/a/b/c`).
 */
export function remoteDir(template: string, v: { camera: string | null; ts: number; timezone: string }): string {
  const p = localParts(v.ts, v.timezone);
  const two = (n: number) => String(n).padStart(2, '0');
  const values: Record<string, string> = {
    camera: safeLevel(v.camera ?? 'files'),
    yyyy: String(p.year),
    mm: two(p.month),
    dd: two(p.day),
    hh: two(p.hour),
  };
  const absolute = template.trim().startsWith('/');
  const levels = template
    .trim()
    .split('/')
    .map((level) => level.replace(PLACEHOLDER, (_m, k: string) => values[k]).trim())
    .filter((level) => level && level !== '.')
    .map((level) => (level === '..' ? '_' : level));
  return (absolute ? '/' : '') + levels.join('/');
}

/** The remote file name of a local file: its base name made safe. */
export function remoteName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? '';
  return safeLevel(base);
}

/** Retry delay after `failures` consecutive failures: min · 2^(failures−1), at most max (ms). */
export function retryDelay(failures: number, minMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, minMs * 2 ** Math.min(30, failures - 1));
}
