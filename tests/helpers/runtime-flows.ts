/** A small shipped-flows fixture for the runtime tests: one tab whose MQTT config takes the
 * internal account from ${ENV}, an echo (gatepost/test/in → gatepost/test/out) and gate `main`
 * on a CL-Gate relay at ${TEST_RELAY_URL}. */
import * as fs from 'fs';
import * as path from 'path';

export function writeTestFlows(dir: string, marker = 'shipped v1'): string {
  fs.mkdirSync(dir, { recursive: true });
  const nodes = [
    { id: 'rt_tab', type: 'tab', label: 'runtime test', disabled: false, info: '' },
    {
      id: 'rt_broker',
      type: 'mqtt-broker',
      name: 'gatepost',
      broker: '${GATEPOST_MQTT_BROKER_HOST}',
      port: '${GATEPOST_MQTT_BROKER_PORT}',
      clientid: '',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      credentials: { user: '${GATEPOST_MQTT_INTERNAL_USERNAME}', password: '${GATEPOST_MQTT_INTERNAL_PASSWORD}' },
    },
    {
      id: 'rt_in',
      type: 'mqtt in',
      z: 'rt_tab',
      name: '',
      topic: 'gatepost/test/in',
      qos: '1',
      datatype: 'utf8',
      broker: 'rt_broker',
      nl: false,
      rap: false,
      inputs: 0,
      x: 150,
      y: 80,
      wires: [['rt_out']],
    },
    { id: 'rt_out', type: 'mqtt out', z: 'rt_tab', name: '', topic: 'gatepost/test/out', qos: '1', retain: 'false', broker: 'rt_broker', x: 400, y: 80, wires: [] },
    {
      id: 'rt_gate',
      type: 'gatepost-gate',
      name: 'Main gate',
      gateId: 'main',
      kind: 'barrier',
      driver: 'sarapul-relay',
      url: '${TEST_RELAY_URL}',
      channel: '1',
      pulse: '1',
      timeout: '2',
      credentials: { token: '${TEST_RELAY_TOKEN}' },
    },
    { id: 'rt_comment', type: 'comment', z: 'rt_tab', name: marker, info: '', x: 150, y: 20, wires: [] },
  ];
  const file = path.join(dir, 'runtime-test.json');
  fs.writeFileSync(file, JSON.stringify(nodes, null, 2));
  return file;
}
