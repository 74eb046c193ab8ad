/**
 * The shipped flows (flows/*.json, one file per tab, merged in file-name order) and their life
 * in an installation:
 *  - first start: installed through Node-RED's runtime API, so credentials in them are encrypted
 *    with the credentialSecret (shipped flows normally take them from ${ENV} instead);
 *  - later starts: when the operator has NOT edited the installed flows and the shipped ones
 *    changed (an update), the new ones are installed; when the operator HAS edited them they are
 *    never overwritten: a notice is logged instead;
 *  - `gatepost --restore-flows` backs the current flows up (<userDir>/backups/) and removes them,
 *    so the next start installs the shipped ones.
 * What was installed is remembered in <dataDir>/flows-state.json (hashes of the shipped and of
 * the installed flows).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import type { RuntimeLogger } from './logger';

export interface FlowNode {
  id: string;
  type: string;
  [k: string]: unknown;
}

export interface ShippedFlows {
  nodes: FlowNode[];
  credentials: Record<string, Record<string, unknown>>;
  files: string[];
  hash: string;
  errors: string[];
}

export interface FlowsState {
  shippedHash: string;
  installedHash: string;
  installedAt: string;
  version: string;
}

export type FlowsDecision = 'install-first' | 'update' | 'keep-edited' | 'keep' | 'none-shipped';

/** Stable JSON (sorted keys) for hashing. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as any)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
export const hashOf = (v: unknown): string => crypto.createHash('sha256').update(canonicalJson(v)).digest('hex');

/** Reads and merges flows/*.json; a broken file is reported and skipped, never fatal. */
export function readShippedFlows(dir: string): ShippedFlows {
  const errors: string[] = [];
  const nodes: FlowNode[] = [];
  const credentials: Record<string, Record<string, unknown>> = {};
  const seen = new Set<string>();
  let files: string[] = [];
  try {
    files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return { nodes, credentials, files, hash: hashOf([]), errors: [`no flows directory ${dir}`] };
  }
  const used: string[] = [];
  for (const f of files) {
    let data: unknown;
    try {
      data = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (err) {
      errors.push(`${f}: not valid JSON (${(err as Error).message})`);
      continue;
    }
    const list = Array.isArray(data) ? data : Array.isArray((data as any)?.flows) ? (data as any).flows : null;
    if (!list) {
      errors.push(`${f}: expected an array of nodes`);
      continue;
    }
    used.push(f);
    for (const n of list) {
      if (!n || typeof n !== 'object' || typeof n.id !== 'string' || typeof n.type !== 'string') {
        errors.push(`${f}: a node without id/type skipped`);
        continue;
      }
      if (seen.has(n.id)) {
        errors.push(`${f}: duplicate node id ${n.id} skipped (already in an earlier file)`);
        continue;
      }
      seen.add(n.id);
      const { credentials: creds, ...rest } = n as FlowNode & { credentials?: Record<string, unknown> };
      if (creds && typeof creds === 'object') credentials[n.id] = creds;
      nodes.push(rest as FlowNode);
    }
  }
  return { nodes, credentials, files: used, hash: hashOf({ nodes, credentials }), errors };
}

export class FlowsManager {
  readonly stateFile: string;
  readonly flowFile: string;
  readonly credFile: string;

  constructor(
    readonly dataDir: string,
    readonly userDir: string,
    readonly flowsDir: string,
    private readonly log: RuntimeLogger,
  ) {
    this.stateFile = path.join(dataDir, 'flows-state.json');
    this.flowFile = path.join(userDir, 'flows.json');
    this.credFile = path.join(userDir, 'flows_cred.json');
  }

  readState(): FlowsState | null {
    try {
      const s = JSON.parse(fs.readFileSync(this.stateFile, 'utf8'));
      return s && typeof s.installedHash === 'string' ? (s as FlowsState) : null;
    } catch {
      return null;
    }
  }

  /** The flows Node-RED has on disk now (null = none or unreadable). */
  currentFlows(): unknown[] | null {
    try {
      const v = JSON.parse(fs.readFileSync(this.flowFile, 'utf8'));
      return Array.isArray(v) ? v : Array.isArray(v?.flows) ? v.flows : null;
    } catch {
      return null;
    }
  }

  decide(shipped: ShippedFlows): { decision: FlowsDecision; edited: boolean } {
    const state = this.readState();
    const current = this.currentFlows();
    if (!shipped.nodes.length) return { decision: 'none-shipped', edited: false };
    if (!current || current.length === 0) return { decision: state ? 'update' : 'install-first', edited: false };
    if (!state) return { decision: 'keep-edited', edited: true }; // flows that gatepost did not install
    const edited = hashOf(current) !== state.installedHash;
    if (state.shippedHash === shipped.hash) return { decision: 'keep', edited };
    return { decision: edited ? 'keep-edited' : 'update', edited };
  }

  /**
   * Applies the shipped flows when appropriate. `install` deploys through Node-RED's runtime
   * API (credentials encrypted with the credentialSecret).
   */
  async sync(version: string, install: (nodes: FlowNode[], credentials: Record<string, Record<string, unknown>>) => Promise<void>): Promise<FlowsDecision> {
    const shipped = readShippedFlows(this.flowsDir);
    for (const e of shipped.errors) this.log.warn(`shipped flows: ${e}`);
    const { decision, edited } = this.decide(shipped);
    switch (decision) {
      case 'none-shipped':
        this.log.info(`no shipped flows in ${this.flowsDir}`);
        return decision;
      case 'keep':
        if (edited) this.log.info('flows edited by the operator are kept');
        return decision;
      case 'keep-edited':
        this.log.warn(
          'the shipped flows differ from the installed ones, but the operator has edited the flows: they are NOT overwritten. ' +
            'Run `npm run restore-flows` (the current flows are backed up) to install the shipped flows.',
        );
        return decision;
      case 'install-first':
      case 'update':
        await install(shipped.nodes, shipped.credentials);
        this.writeState(shipped.hash, version);
        this.log.info(`${decision === 'update' ? 'updated to' : 'installed'} the shipped flows (${shipped.files.join(', ')}; ${shipped.nodes.length} nodes)`);
        return decision;
    }
  }

  private writeState(shippedHash: string, version: string): void {
    const current = this.currentFlows() ?? [];
    const state: FlowsState = { shippedHash, installedHash: hashOf(current), installedAt: new Date().toISOString(), version };
    fs.writeFileSync(this.stateFile, JSON.stringify(state, null, 2));
  }

  /** Backs up and removes the current flows; the next start installs the shipped ones. */
  restore(): { backupDir: string | null } {
    let backupDir: string | null = null;
    const files = [this.flowFile, this.credFile].filter((f) => fs.existsSync(f));
    if (files.length) {
      backupDir = path.join(this.userDir, 'backups', `flows-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      fs.mkdirSync(backupDir, { recursive: true });
      for (const f of files) fs.copyFileSync(f, path.join(backupDir, path.basename(f)));
      for (const f of files) fs.rmSync(f);
    }
    // the state stays: with no flows on disk the next start installs the shipped flows
    return { backupDir };
  }
}
