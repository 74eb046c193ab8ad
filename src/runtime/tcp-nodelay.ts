/**
 * Outgoing TCP connections of the runtime process without Nagle's algorithm.
 *
 * Node-RED's MQTT client (mqtt.js) opens its socket with `net.createConnection` and never calls
 * `setNoDelay`. A plate arrives at the flow as a QoS 1 PUBLISH; mqtt.js answers PUBACK at once,
 * and the decision published a millisecond later is then held by Nagle until the broker's host
 * ACKs that PUBACK — a delayed ACK, ~40 ms on Linux. Every `gatepost-lpr` (and anything waiting
 * on gatepost/decision/#) waited those 40 ms. The embedded broker's own sockets already use
 * noDelay (src/runtime/broker.ts); this covers the clients inside the process: Node-RED's
 * mqtt-broker nodes, the MQTT bridge, device HTTP (http sets noDelay itself already).
 * Everything the runtime sends is small and latency-bound, so noDelay costs nothing here.
 */
import net = require('net');

let installed = false;

/** Wraps net.connect / net.createConnection (read at call time by mqtt.js, http and others) so every new socket has noDelay. */
export function noDelayOnOutgoingTcp(): void {
  if (installed) return;
  installed = true;
  const wrap = (f: typeof net.createConnection): typeof net.createConnection =>
    function (this: unknown, ...args: unknown[]) {
      const socket = (f as (...a: unknown[]) => net.Socket).apply(this, args);
      socket.setNoDelay(true); // before the connection exists, Node applies it on connect
      return socket;
    } as typeof net.createConnection;
  net.createConnection = wrap(net.createConnection);
  net.connect = wrap(net.connect);
}
