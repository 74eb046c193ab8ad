/**
 * `ivms-attlog`: reads the iVMS-4200 access log of an `ivms-sql` source — incrementally by serialNo
 * from the high-water mark kept in sqlite, plus the rescan window for late and back-filled rows —
 * and stores every new row as an access event through accessLogOf(hub) (src/services/ivms-reader.ts
 * does the polling, the backoff and the 'ivms-state'). Outputs each new event as a message
 * (msg.topic `gatepost/access/<door>`, msg.payload the access event). Any input message polls now.
 * Status: connected · last serial · lag, or the error while SQL Server is unreachable; with no host
 * configured it shows "not configured" and does nothing. The runtime's MQTT bridge publishes the
 * state and the events (docs/MQTT.md), so do not wire this node to an mqtt-out on those topics.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from '../common/hub';
import { translator } from '../common/node-base';
import { IvmsReader } from '../../src/services/ivms-reader';
import { accessTopic } from '../../src/core/topics';
import type { IvmsState } from '../../src/core/contracts';
import type { IvmsSqlNode } from '../ivms-sql/types';

interface AttlogDef extends NodeDef {
  source?: string;
}

function lagText(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 48 * 3600_000) return `${Math.round(ms / 3600_000)} h`;
  return `${Math.round(ms / 86400_000)} d`;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);

  function IvmsAttlogNode(this: Node, config: AttlogDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const cfg = config.source ? (RED.nodes.getNode(config.source) as unknown as IvmsSqlNode | null) : null;
    if (!cfg || cfg.unset) {
      node.status({ fill: 'grey', shape: 'ring', text: t('ivms-attlog.status.unset', 'not configured') });
      if (!cfg) node.warn(t('ivms-attlog.errors.noConfig', 'no ivms-sql source selected'));
      node.on('input', (_msg: NodeMessageInFlow, _send, done) => done());
      return;
    }
    if (!cfg.source) {
      node.status({ fill: 'red', shape: 'ring', text: t('ivms-attlog.status.badConfig', 'configuration invalid') });
      node.error(cfg.problem ?? 'ivms-sql: configuration invalid');
      node.on('input', (_msg: NodeMessageInFlow, _send, done) => done(new Error(cfg.problem ?? 'ivms-sql: configuration invalid')));
      return;
    }
    const hub = hubFor(RED);
    const sourceId = cfg.id;
    let closed = false;
    const status = (s: IvmsState) => {
      if (closed) return;
      if (s.connected && !s.lastError) {
        const serial = s.lastSerial === null ? '—' : `#${s.lastSerial}`;
        const lag = s.lagMs === null ? '' : ` · ${t('ivms-attlog.status.lag', 'lag')} ${lagText(s.lagMs)}`;
        node.status({ fill: 'green', shape: 'dot', text: `${t('ivms-attlog.status.connected', 'connected')} · ${serial}${lag}` });
      } else if (s.connected) {
        node.status({ fill: 'yellow', shape: 'ring', text: `${t('ivms-attlog.status.sqlError', 'query failed')}: ${shortError(s.lastError ?? '')}` });
      } else {
        node.status({ fill: 'red', shape: 'ring', text: `${t('ivms-attlog.status.down', 'disconnected')}: ${shortError(s.lastError ?? '')}` });
      }
    };
    node.status({ fill: 'grey', shape: 'ring', text: t('ivms-attlog.status.connecting', 'connecting…') });
    const reader = new IvmsReader(hub, cfg.source, {
      source: sourceId,
      pollMs: cfg.pollMs,
      rescanWindowMs: cfg.rescanWindowMs,
      directionMap: cfg.directionMap,
      timezone: cfg.timezone,
      onState: status,
      onEvents: (events) => {
        if (closed) return;
        for (const e of events) node.send({ topic: accessTopic(e.gate ?? ''), payload: e, source: sourceId } as any);
      },
    });
    reader.start();

    node.on('input', (_msg: NodeMessageInFlow, _send, done) => {
      reader.pollNow().then(
        () => done(),
        (err) => done(err as Error),
      );
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      reader.stop().then(done, done);
    });
  }
  RED.nodes.registerType('ivms-attlog', IvmsAttlogNode as any);
};
