/**
 * The shared runtime of the gate command nodes (sarapul-relay, sokol-door): a thin adapter that
 * reads a command from the message, runs it through `gatesOf(hub).command(...)` and sends the
 * resulting state. Failures go to done(err) so Catch nodes see them; the status dot follows the
 * gate's state and reachability (also for changes the node did not cause, e.g. the pulse end).
 */
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from './hub';
import { fail, translator, userOf } from './node-base';
import { gatesOf } from '../../src/services/gate-service';
import { isGateCommand } from '../../src/core/gate';
import type { CommandSource, GateCommand, GateStatePayload } from '../../src/core/contracts';
import type { GatepostGateNode } from '../gatepost-gate/gate-def';
import type { RelayDriverName } from '../../src/devices/registry';

export interface GateCommandNodeDef extends NodeDef {
  gate: string;
}

/** The command and its source from a message, or an Error saying what is wrong with it. */
export function commandOf(msg: Record<string, any>): { command: GateCommand; source: CommandSource } | Error {
  const p = msg.payload;
  if (p && typeof p === 'object' && !Array.isArray(p) && typeof p.decision === 'string') {
    if (p.decision !== 'allowed') return new Error(`decision is "${p.decision}", not "allowed": the gate is not opened`);
    const command = msg.command === undefined ? 'open' : String(msg.command).trim().toLowerCase();
    if (!isGateCommand(command)) return new Error(`unknown gate command "${String(msg.command).slice(0, 40)}" (expected open, hold, release or close)`);
    return { command, source: { kind: 'decision', actor: p.eventId !== undefined ? String(p.eventId) : undefined } };
  }
  const raw = msg.command !== undefined ? msg.command : typeof p === 'string' ? p : p && typeof p === 'object' ? p.command : undefined;
  const command = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (!isGateCommand(command)) {
    const shown = raw === undefined ? 'nothing' : JSON.stringify(raw)?.slice(0, 40);
    return new Error(`unknown gate command ${shown} (expected msg.payload or msg.command = open, hold, release or close)`);
  }
  const user = userOf(msg);
  return { command, source: user !== null ? { kind: 'user', actor: user || undefined } : { kind: 'flow' } };
}

export function registerGateCommandNode(RED: NodeAPI, type: 'sarapul-relay' | 'sokol-door', drivers: RelayDriverName[]): void {
  const tr = translator(RED);
  const t = (key: string, fallback: string): string => tr(`${type}.${key}`, fallback);

  function GateCommandNode(this: Node, config: GateCommandNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateNode = RED.nodes.getNode(config.gate) as GatepostGateNode | null;
    const hub = hubFor(RED);
    const gateId = gateNode?.gateId ?? '';

    const showState = (s: GateStatePayload | undefined) => {
      if (!s) return;
      const text = t(`status.${s.state}`, s.state);
      if (s.state === 'fault') node.status({ fill: 'red', shape: 'dot', text: `${text}: ${shortError(s.lastError ?? '', 24)}` });
      else if (s.reachable === false) node.status({ fill: 'red', shape: 'ring', text: `${text}, ${t('status.unreachable', 'unreachable')}` });
      else node.status({ fill: s.state === 'closed' ? 'green' : s.state === 'held' ? 'yellow' : 'blue', shape: 'dot', text });
    };

    let off: (() => void) | null = null;
    if (!gateNode) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.noGate', 'no gate configured') });
    } else if (gateNode.defineError) {
      // an invalid definition, or a gate id another gatepost-gate node defined first
      node.status({ fill: 'red', shape: 'ring', text: `${t('status.badConfig', 'gate config invalid')}: ${shortError(gateNode.defineError, 40)}` });
    } else {
      if (!drivers.includes(gateNode.driver)) {
        node.warn(`${type}: gate "${gateId}" uses the ${gateNode.driver} driver; this node is meant for ${drivers.join(' / ')}`);
      }
      off = hub.on('gate-state', (s: GateStatePayload) => {
        if (s.gate === gateId) showState(s);
      });
      showState(gatesOf(hub).get(gateId));
    }

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (!gateNode || !gateId) return done(new Error(`${type}: no gate configured`));
      if (gateNode.defineError) return done(new Error(`${type}: gate "${gateId}" is not configured correctly: ${gateNode.defineError}`));
      if (typeof msg.gate === 'string' && msg.gate && msg.gate !== gateId) {
        return fail(node, done, new Error(`${type}: message is for gate "${msg.gate}", this node drives gate "${gateId}": not sent`), t('status.wrongGate', 'wrong gate'));
      }
      const parsed = commandOf(msg);
      if (parsed instanceof Error) return fail(node, done, parsed);
      gatesOf(hub)
        .command(gateId, parsed.command, parsed.source)
        .then((state) => {
          showState(state);
          msg.payload = state;
          msg.topic = `gatepost/gate/${gateId}/state`;
          msg.gate = gateId;
          msg.command = parsed.command;
          send(msg);
          done();
        })
        .catch((err: any) => {
          if (err?.state) msg.payload = err.state;
          fail(node, done, err);
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      off?.();
      done();
    });
  }

  RED.nodes.registerType(type, GateCommandNode as any);
}
