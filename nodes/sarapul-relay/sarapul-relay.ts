/**
 * `sarapul-relay`: drives a barrier through a Sarapul Systems CL-Gate relay (or any REST relay
 * configured as a generic relay in its `gatepost-gate`). Input: open / hold / release / close
 * (msg.payload or msg.command, or an allowed Decision); output: the gate state.
 */
import type { NodeAPI } from 'node-red';
import { registerGateCommandNode } from '../common/gate-command';

export = function (RED: NodeAPI): void {
  registerGateCommandNode(RED, 'sarapul-relay', ['sarapul-relay', 'rest-relay']);
};
