/**
 * `gatepost-gate` config node: one gate definition (id, name, kind, driver, device settings,
 * credentials). It registers the gate with `gatesOf(hub)`; a re-created node (redeploy) calls
 * `define()` again, which keeps the state and any pending close. When the node is deleted
 * (close with removed = true) the gate is removed, a pulsing gate being closed first. A gate id
 * already defined by another gatepost-gate node is refused (logged, the nodes using this one show
 * a red status): the first definition stays.
 */
import type { NodeAPI } from 'node-red';
import { hubFor } from '../common/hub';
import { GateError, gatesOf } from '../../src/services/gate-service';
import { gateDefOf, GatepostGateDef, GatepostGateNode } from './gate-def';
import { RELAY_DRIVERS, RELAY_DRIVER_NAMES } from '../../src/devices/registry';

export = function (RED: NodeAPI): void {
  // the editor's driver list and the form rows of each driver, from the device registry
  RED.httpAdmin.get('/gatepost/drivers', RED.auth.needsPermission('gatepost-gate.read'), (_req, res) => {
    res.json(RELAY_DRIVERS.map((d) => ({ name: d.name, label: d.label, fields: d.editorFields })));
  });

  function GatepostGate(this: GatepostGateNode, config: GatepostGateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.gateId = String(config.gateId ?? '').trim();
    node.driver = config.driver || RELAY_DRIVER_NAMES[0];
    node.defineError = null;
    const hub = hubFor(RED);
    const label = `gatepost-gate ${config.name ? `"${config.name}" ` : ''}(${node.id})`;
    try {
      gatesOf(hub).define(gateDefOf(config, node.credentials ?? {}), { id: node.id, label });
    } catch (err) {
      node.defineError = (err as Error).message;
      // a second definition of a gate id (an imported example): the first one stays
      if (err instanceof GateError && err.status === 409) node.error(`${label}: ${node.defineError}`);
      else node.error(`${RED._('gatepost-gate.errors.invalid')}: ${node.defineError}`);
    }

    node.on('close', (removed: boolean, done: () => void) => {
      if (!removed || node.defineError) return done();
      gatesOf(hub)
        .remove(node.gateId, node.id)
        .catch((err) => node.error(`gate ${node.gateId}: ${(err as Error).message}`))
        .finally(() => done());
    });
  }

  RED.nodes.registerType('gatepost-gate', GatepostGate as any, {
    credentials: {
      token: { type: 'password' },
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
