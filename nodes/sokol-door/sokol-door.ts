/**
 * `sokol-door`: opens a wicket/door through a Sokol (ISCOM X1) intercom panel relay. The panel
 * closes the door by itself; hold / release switch its "always open" setting. Input: open / hold /
 * release / close (msg.payload or msg.command, or an allowed Decision); output: the gate state.
 */
import type { NodeAPI } from 'node-red';
import { registerGateCommandNode } from '../common/gate-command';

export = function (RED: NodeAPI): void {
  registerGateCommandNode(RED, 'sokol-door', ['sokol-door']);
};
