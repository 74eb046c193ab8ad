/** The ffmpeg processes of this machine that read a given RTSP port (from /proc: no ps needed). */
import * as fs from 'fs';

export function ffmpegOf(port: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmd.split('\0');
    if (!args.some((a) => /(^|\/)ffmpeg$/.test(a))) continue;
    if (args.some((a) => a.includes(`:${port}/`))) out.push(Number(d));
  }
  return out;
}
