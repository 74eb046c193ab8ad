/**
 * Gate repositories: `gate_state` (the controller state, persisted for the fail-safe restart)
 * and `gate_actions` (every command and what the device said). Both tables are in schema v1.
 */
import type { Db } from './db';
import type { GateStateName } from '../core/contracts';
import type { GateActionRecord } from '../core/gate';

export interface GateStateRow {
  gate: string;
  state: GateStateName;
  since: number;
  by: string | null;
  lastError: string | null;
  updatedAt: number;
}

export interface GateActionRow extends GateActionRecord {
  id: number;
}

export interface GateActionFilter {
  gate?: string;
  from?: number;
  to?: number;
  /** default 100, at most 1000 */
  limit?: number;
  offset?: number;
}

const STATES: readonly string[] = ['closed', 'open', 'held', 'fault'];

export class GatesStore {
  constructor(private readonly db: Db) {}

  async loadStates(): Promise<Map<string, GateStateRow>> {
    const rows = await this.db.all<any>('SELECT gate, state, since, by, last_error, updated_at FROM gate_state');
    const out = new Map<string, GateStateRow>();
    for (const r of rows) {
      out.set(r.gate, {
        gate: r.gate,
        // an unknown value in the file is treated as 'open': the restart then closes the gate
        state: (STATES.includes(r.state) ? r.state : 'open') as GateStateName,
        since: Number(r.since),
        by: r.by ?? null,
        lastError: r.last_error ?? null,
        updatedAt: Number(r.updated_at),
      });
    }
    return out;
  }

  saveState(s: GateStateRow): Promise<unknown> {
    return this.db.run(
      `INSERT INTO gate_state (gate, state, since, by, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (gate) DO UPDATE SET state = excluded.state, since = excluded.since, by = excluded.by,
         last_error = excluded.last_error, updated_at = excluded.updated_at`,
      [s.gate, s.state, s.since, s.by, s.lastError, s.updatedAt],
    );
  }

  async recordAction(a: GateActionRecord): Promise<GateActionRow> {
    const r = await this.db.run('INSERT INTO gate_actions (ts, gate, command, source, actor, result, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      a.ts,
      a.gate,
      a.command,
      a.source,
      a.actor,
      a.result,
      a.latencyMs,
      a.error,
    ]);
    return { id: r.lastID, ...a };
  }

  /** Newest first. Reads after pending writes so a caller sees the actions it just caused. */
  async actions(f: GateActionFilter = {}): Promise<GateActionRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.gate) {
      where.push('gate = ?');
      params.push(f.gate);
    }
    if (f.from !== undefined) {
      where.push('ts >= ?');
      params.push(f.from);
    }
    if (f.to !== undefined) {
      where.push('ts <= ?');
      params.push(f.to);
    }
    const limit = Math.min(1000, Math.max(1, Math.floor(f.limit ?? 100)));
    const offset = Math.max(0, Math.floor(f.offset ?? 0));
    await this.db.getAfterWrites('SELECT 1');
    const rows = await this.db.all<any>(
      `SELECT id, ts, gate, command, source, actor, result, latency_ms, error FROM gate_actions
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      gate: r.gate,
      command: r.command,
      source: r.source,
      actor: r.actor ?? null,
      result: r.result,
      latencyMs: r.latency_ms ?? null,
      error: r.error ?? null,
    }));
  }
}
