import type { Node } from 'node-red';
import type { IvmsSource } from '../../src/devices/ivms-source';

/** What the `ivms-sql` config node (nodes/ivms-sql) exposes to `ivms-attlog`. */
export interface IvmsSqlNode extends Node {
  /** null: not configured (host unset) or invalid (`problem` says why) */
  source: IvmsSource | null;
  /** 'unset' (no host: the node does nothing), 'invalid', or null when usable */
  problem: string | null;
  unset: boolean;
  pollMs: number;
  rescanWindowMs: number;
  directionMap: Record<string, 'in' | 'out'>;
  timezone: string | undefined;
}
