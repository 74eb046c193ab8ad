/**
 * Node-RED 4.1 embedded in the gatepost process: RED.init(server, settings) with the settings of
 * the top-level settings.js, the editor at /admin (RED.httpAdmin), flow HTTP routes and Dashboard
 * 2.0 at / (RED.httpNode). gatepost's own nodes are loaded as a proper Node-RED module
 * (i18n namespaces, examples): <userDir>/node_modules/node-red-contrib-gatepost is a symlink to
 * the project root, whose package.json `node-red.nodes` points into dist/.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as http from 'http';
import type { RuntimeLogger } from './logger';
import type { FlowNode } from './flows';

export const MODULE_NAME = 'node-red-contrib-gatepost';

export interface NodeRedOptions {
  server: http.Server;
  root: string;
  userDir: string;
  settings: Record<string, unknown>;
  log: RuntimeLogger;
}

export interface EmbeddedNodeRed {
  httpAdmin: any;
  httpNode: any;
  start(): Promise<void>;
  stop(): Promise<void>;
  deploy(nodes: FlowNode[], credentials: Record<string, Record<string, unknown>>): Promise<void>;
  /** 'start' | 'stop' | 'safe' and whether types are missing */
  state(): { state: string; running: boolean; missingTypes: string[] };
  /** have the flows started (since the last stop)? */
  flowsRunning(): boolean;
  /** The mqtt-broker nodes that enabled `mqtt in` nodes use: whether each is connected, and its client id. */
  mqttInputs(): Array<{ id: string; connected: boolean; clientId: string | null }>;
}

/** Makes <userDir>/node_modules/<MODULE_NAME> point at the project root. */
export function linkOwnModule(userDir: string, root: string, log: RuntimeLogger): void {
  const nm = path.join(userDir, 'node_modules');
  fs.mkdirSync(nm, { recursive: true });
  const link = path.join(nm, MODULE_NAME);
  let current: string | null = null;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = null;
  }
  if (current && path.resolve(nm, current) === path.resolve(root)) return;
  try {
    fs.rmSync(link, { recursive: false, force: true });
  } catch {
    /* a directory: leave it, report below */
  }
  try {
    fs.symlinkSync(root, link, 'junction');
  } catch (err) {
    log.error(`could not link ${link} → ${root}: ${(err as Error).message}; gatepost nodes will be missing`);
  }
  // Node-RED lists user-installed modules from <userDir>/package.json
  const pkgFile = path.join(userDir, 'package.json');
  if (!fs.existsSync(pkgFile)) {
    fs.writeFileSync(pkgFile, JSON.stringify({ name: 'gatepost-userdir', description: 'Node-RED user directory of gatepost', version: '0.0.0', private: true, dependencies: {} }, null, 2));
  }
}

const NR_LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = { 10: 'error', 20: 'error', 30: 'warn', 40: 'info', 50: 'debug', 60: 'debug' };

/** settings.logging handler: Node-RED's log lines into the runtime log. */
export function nodeRedLogHandler(log: RuntimeLogger): () => (msg: any) => void {
  const nr = log.child('node-red');
  return () => (msg: any) => {
    const level = NR_LEVELS[msg?.level as number];
    if (!level) return; // audit / metric
    const who = msg.type ? `[${msg.type}${msg.name ? `:${msg.name}` : msg.id ? `:${msg.id}` : ''}] ` : '';
    let text = msg.msg;
    if (text instanceof Error) text = text.stack || text.message;
    else if (typeof text !== 'string') {
      try {
        text = JSON.stringify(text);
      } catch {
        text = String(text);
      }
    }
    nr[level](`${who}${text}`);
  };
}

export function createNodeRed(opts: NodeRedOptions): EmbeddedNodeRed {
  linkOwnModule(opts.userDir, opts.root, opts.log);
  const RED = require('node-red');
  RED.init(opts.server, opts.settings);
  let started = false;
  let missingTypes: string[] = [];
  // flows start asynchronously after RED.start() and after a deploy: count the starts
  let flowsRunning = false;
  RED.events.on('flows:started', () => (flowsRunning = true));
  RED.events.on('flows:stopped', () => (flowsRunning = false));
  RED.runtime.events.on('runtime-event', (ev: any) => {
    if (ev?.id !== 'runtime-state') return;
    missingTypes = ev.payload?.error === 'missing-types' && Array.isArray(ev.payload.types) ? [...ev.payload.types] : [];
  });
  return {
    httpAdmin: RED.httpAdmin,
    httpNode: RED.httpNode,
    async start() {
      await RED.start();
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await RED.stop();
    },
    async deploy(nodes, credentials) {
      await RED.runtime.flows.setFlows({
        flows: { flows: nodes, credentials },
        deploymentType: 'full',
        user: { username: 'gatepost' },
      });
    },
    flowsRunning: () => flowsRunning,
    mqttInputs() {
      const used = new Set<string>();
      try {
        RED.nodes.eachNode((n: any) => {
          if (n.type === 'mqtt in' && !n.d && typeof n.broker === 'string' && n.broker) used.add(n.broker);
        });
      } catch {
        return [];
      }
      return [...used].map((id) => {
        const b = RED.nodes.getNode(id) as any;
        return { id, connected: !!b?.connected, clientId: typeof b?.options?.clientId === 'string' ? b.options.clientId : null };
      });
    },
    state() {
      let st = started ? 'start' : 'stop';
      try {
        st = RED.runtime._.flows.state() ?? st;
      } catch {
        /* keep */
      }
      return { state: missingTypes.length ? 'missing-types' : st, running: started && st === 'start' && !missingTypes.length, missingTypes };
    },
  };
}
