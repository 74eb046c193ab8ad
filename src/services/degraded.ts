/**
 * `degradedOf(hub)`: what works worse than it should right now — a device that does not answer its
 * probe, event writes failing on a full or read-only disk, a log file that cannot be written. Health
 * stays a liveness answer (200 while gatepost takes plates) and carries this list, so the dashboard
 * and monitoring see that gatepost runs but needs attention.
 *
 * Each entry is keyed by `what` (e.g. 'gate:wicket', 'eposelok', 'disk', 'disk:log'); `since` is
 * when it first went wrong and stays while the reason text changes. A new entry raises an 'alarm'
 * on the hub bus (the dashboard shows alarms on every page); a cleared one is logged.
 */
import type { Hub, Service } from './hub';

export interface DegradedItem {
  what: string;
  reason: string;
  /** epoch ms when it went wrong */
  since: number;
}

export interface DegradedAlarm {
  source: 'health';
  what: string;
  ts: number;
  message: string;
}

export class DegradedService implements Service {
  private items = new Map<string, DegradedItem>();

  constructor(private readonly hub: Hub) {}

  /** Marks `what` as degraded (or updates its reason); `alarm: false` when the caller raised its own alarm already. */
  set(what: string, reason: string, opts: { alarm?: boolean } = {}): void {
    const cur = this.items.get(what);
    if (cur) {
      cur.reason = reason;
      return;
    }
    const since = this.hub.clock.now();
    this.items.set(what, { what, reason, since });
    this.hub.logger.warn(`degraded: ${what}: ${reason}`);
    if (opts.alarm === false) return;
    const alarm: DegradedAlarm = { source: 'health', what, ts: since, message: reason };
    this.hub.emit('alarm', alarm);
  }

  /** `what` works again. */
  clear(what: string): void {
    const cur = this.items.get(what);
    if (!cur) return;
    this.items.delete(what);
    this.hub.logger.info(`recovered: ${what} (degraded for ${Math.round((this.hub.clock.now() - cur.since) / 1000)} s: ${cur.reason})`);
  }

  async close(): Promise<void> {
    this.items.clear();
  }

  list(): DegradedItem[] {
    return [...this.items.values()].map((i) => ({ ...i })).sort((a, b) => a.what.localeCompare(b.what));
  }
}

export const degradedOf = (hub: Hub): DegradedService => hub.service('degraded', (h) => new DegradedService(h));
