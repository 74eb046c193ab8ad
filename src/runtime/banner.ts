/**
 * The console notice printed once gatepost is ready: addresses a person can actually type (the
 * machine's own addresses, not `<host>`), the admin account named beside its generated password,
 * and in demo mode a few residents' plates of the emulated E-Poselok list to try (a plate that is
 * on no list — the README's sample — is refused in demo mode, as it should be).
 */
import * as os from 'os';
import { normalizePlate, displayPlate, isRussianLayout } from '../core/plate';

/** The IPv4 (then IPv6) addresses the server can be reached on, given the address it is bound to. */
export function reachableAddresses(bind: string, ifaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces()): string[] {
  const any = bind === '0.0.0.0' || bind === '::' || bind === '';
  if (!any) return [bind.includes(':') ? `[${bind}]` : bind];
  const external: string[] = [];
  const external6: string[] = [];
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') external.push(a.address);
      // link-local IPv6 needs a zone id in a URL: not something to type
      else if (bind === '::' && !a.address.toLowerCase().startsWith('fe80')) external6.push(`[${a.address}]`);
    }
  }
  return [...external, ...external6, '127.0.0.1'];
}

export interface DemoPlate {
  plate: string;
  house: string;
}

/** A few plates of the demo E-Poselok list (standard Russian layout, no end date or one in the future). */
export function demoPlates(list: unknown, n = 3, now = Date.now()): DemoPlate[] {
  const out: DemoPlate[] = [];
  const entries = list && typeof list === 'object' ? Object.values(list as Record<string, unknown>) : [];
  for (const group of entries) {
    if (!Array.isArray(group)) continue;
    for (const e of group) {
      if (out.length >= n) return out;
      const p = normalizePlate(e?.Plate);
      if (!p || !isRussianLayout(p.layout) || p.layout !== 'standard') continue;
      if (e.ValidTo && !(Date.parse(e.ValidTo) > now)) continue;
      if (out.some((x) => x.plate === displayPlate(p.canonical))) continue;
      out.push({ plate: displayPlate(p.canonical), house: String(e.Number ?? '') });
    }
  }
  return out;
}

export interface BannerInput {
  version: string;
  bind: string;
  httpPort: number;
  mqtt: string;
  demo: null | { emulators: string[]; plates: DemoPlate[] };
  firstStart: null | { adminPassword?: string; lprUsername?: string; lprPassword?: string };
  addresses?: string[];
}

export function consoleBanner(b: BannerInput): string {
  const hosts = b.addresses ?? reachableAddresses(b.bind);
  const base = (h: string) => `http://${h}:${b.httpPort}`;
  const lines = ['', '================================================================', ` gatepost ${b.version} is running`];
  lines.push(`   dashboard  ${base(hosts[0])}/dashboard`);
  for (const h of hosts.slice(1)) lines.push(`              ${base(h)}/dashboard`);
  lines.push(`   editor     ${base(hosts[0])}/admin   (user admin)`);
  lines.push(`   API        ${base(hosts[0])}/api   (health: /api/health)`);
  lines.push(`   MQTT       ${b.mqtt}`);
  if (b.demo) {
    lines.push(' DEMO MODE: the devices are EMULATED on 127.0.0.1 (' + (b.demo.emulators.join(', ') || 'none available') + ').');
    lines.push('   Configure GATEPOST_EPOSELOK_*/GATEPOST_RELAY_*/GATEPOST_SOKOL_* (.env) for real devices.');
    if (b.demo.plates.length) {
      lines.push('   Demo residents to try (allowed; any other plate is refused):');
      for (const p of b.demo.plates) lines.push(`     ${p.plate}   house ${p.house}`);
    }
  }
  if (b.firstStart) {
    lines.push(' FIRST START — write these down, they are shown only once:');
    if (b.firstStart.adminPassword) lines.push(`   user admin, admin password: ${b.firstStart.adminPassword}`);
    else lines.push('   user admin, admin password: (from GATEPOST_ADMIN_PASSWORD)');
    if (b.firstStart.lprPassword) lines.push(`   MQTT user ${b.firstStart.lprUsername} password: ${b.firstStart.lprPassword}`);
  }
  lines.push('================================================================', '');
  return lines.join('\n');
}
