/**
 * FTP upload nodes (one runtime file, two types), thin adapters over `uploadsOf(hub)`:
 *  - `ftp-target` (config): an FTP server for recordings — host, port, user + password
 *    (credentials, `${VAR}` or the GATEPOST_FTP_USER / GATEPOST_FTP_PASSWORD fallbacks), the
 *    directory template, explicit FTPS (self-signed allowed by an option), retry and age limits.
 *    Registers the target under its node id (`ClipReady.target` names it) and stops its worker on
 *    close; queued items stay in sqlite and go on when the node is back.
 *  - `ftp-upload`: queues any file for a target: `msg.payload` = the local path (or
 *    `{ file, name, camera }`), `msg.filename` = the name on the server. Sends the item's state
 *    (UploadState) when it is queued and when it is delivered, failed or dropped.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from '../common/hub';
import { credentialProp, textProp } from '../common/env';
import { fail, nodeConfig, showInvalid, translator } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { DEFAULT_DIR_TEMPLATE } from '../../src/core/ftp-path';
import { FtpTargetConfig, targetProblems, uploadsOf } from '../../src/services/upload-service';
import type { FtpState, UploadState } from '../../src/core/contracts';

interface TargetDef extends NodeDef {
  host?: string;
  port?: string | number;
  dir?: string;
  secure?: string | boolean;
  allowSelfSigned?: string | boolean;
  timeout?: string | number;
  retryMin?: string | number;
  retryMax?: string | number;
  maxAge?: string | number;
  maxAttempts?: string | number;
}
interface TargetCreds {
  user?: string;
  password?: string;
}
interface UploadDef extends NodeDef {
  target?: string;
}
interface FtpTargetNode extends Node {
  /** why the target is not usable, or null */
  problem: string | null;
  label: string;
}

/** ftp-target's properties: text (an unset ${VAR} or blank = the default), seconds / hours. */
const TARGET_SCHEMA = {
  host: { type: 'string', max: 253, pattern: /^[A-Za-z0-9.:_\-[\]]+$/, patternText: 'a host name or an IP address', label: 'host' },
  port: { type: 'int', min: 1, max: 65535, default: 21, label: 'port' },
  dir: { type: 'string', max: 300, default: DEFAULT_DIR_TEMPLATE, label: 'directory template' },
  secure: { type: 'bool', default: false, label: 'FTPS' },
  allowSelfSigned: { type: 'bool', default: false, label: 'allow self-signed certificates' },
  timeout: { type: 'number', min: 1, max: 300, default: 20, label: 'timeout (s)' },
  retryMin: { type: 'number', min: 0.1, max: 3600, default: 2, label: 'first retry after (s)' },
  retryMax: { type: 'number', min: 0.1, max: 86400, default: 120, label: 'longest retry pause (s)' },
  maxAge: { type: 'number', min: 0, max: 24 * 365, default: 0, label: 'drop after (h, 0 = never)' },
  maxAttempts: { type: 'int', min: 0, max: 1000, default: 10, label: 'attempts per refused file (0 = no limit)' },
} satisfies Schema;

export = function (RED: NodeAPI): void {
  const t = translator(RED);

  function FtpTarget(this: FtpTargetNode, config: TargetDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const creds = ((this as any).credentials ?? {}) as TargetCreds;
    node.label = config.name || textProp(config.host) || node.id;
    node.problem = null;
    const c = nodeConfig(RED, node, 'ftp-target', config, TARGET_SCHEMA);
    if (!c.value) {
      node.problem = c.invalid;
      return;
    }
    const v = c.value;
    const cfg: FtpTargetConfig = {
      name: config.name || v.host || undefined,
      host: v.host ?? '',
      port: v.port,
      user: credentialProp(creds.user, 'GATEPOST_FTP_USER') ?? '',
      password: credentialProp(creds.password, 'GATEPOST_FTP_PASSWORD') ?? '',
      dirTemplate: v.dir,
      secure: v.secure,
      allowSelfSigned: v.allowSelfSigned,
      timeoutMs: v.timeout * 1000,
      retryMinMs: v.retryMin * 1000,
      retryMaxMs: Math.max(v.retryMin, v.retryMax) * 1000,
      maxAgeMs: v.maxAge * 3600_000,
      maxAttempts: v.maxAttempts,
      probeIntervalMs: 300_000,
    };
    const problems = targetProblems(cfg);
    if (problems.length) {
      node.problem = t('ftp-target.errors.incomplete', `FTP target incomplete: ${problems.join(', ')}`, { missing: problems.join(', ') });
      // a shipped flow without GATEPOST_FTP_HOST: uploads are off, clips stay local; said once
      if (!cfg.host) {
        node.log(node.problem);
        uploadsOf(hub).skipTarget(node.id, node.problem);
        node.on('close', (_removed: boolean, done: () => void) => {
          uploadsOf(hub)
            .removeTarget(node.id)
            .finally(() => done());
        });
      } else showInvalid(RED, node, 'ftp-target', node.problem);
      return;
    }
    uploadsOf(hub).defineTarget(node.id, cfg);
    node.on('close', (_removed: boolean, done: () => void) => {
      uploadsOf(hub)
        .removeTarget(node.id)
        .catch((err) => node.error(`ftp-target ${node.label}: ${(err as Error).message}`))
        .finally(() => done());
    });
  }
  RED.nodes.registerType('ftp-target', FtpTarget as any, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });

  function FtpUpload(this: Node, config: UploadDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const svc = uploadsOf(hub);
    const targetNode = config.target ? (RED.nodes.getNode(config.target) as unknown as FtpTargetNode | null) : null;
    const targetId = config.target ?? '';
    const mine = new Set<number>();
    let closed = false;

    const status = (s?: FtpState) => {
      if (closed) return;
      if (!targetNode) return node.status({ fill: 'red', shape: 'ring', text: t('ftp-upload.status.noTarget', 'no FTP target') });
      if (targetNode.problem) return node.status({ fill: 'red', shape: 'ring', text: t('ftp-upload.status.config', 'target not configured') });
      const st = s ?? svc.states().find((x) => x.target === targetId);
      if (!st) return node.status({ fill: 'grey', shape: 'ring', text: t('ftp-upload.status.idle', 'waiting') });
      const queued = t('ftp-upload.status.queued', `${st.queued} queued`, { count: st.queued });
      if (st.lastError && !st.connected) node.status({ fill: 'red', shape: 'ring', text: `${queued} · ${shortError(st.lastError, 40)}` });
      else if (st.lastError) node.status({ fill: 'yellow', shape: 'ring', text: `${queued} · ${shortError(st.lastError, 40)}` });
      else node.status({ fill: st.connected ? 'green' : 'grey', shape: st.connected ? 'dot' : 'ring', text: queued });
    };
    status();
    const offFtp = hub.on('ftp-state', (s) => s.target === targetId && status(s));
    const offUpload = hub.on('upload-state', (u: UploadState) => {
      if (closed || !mine.has(u.uploadId) || u.state === 'uploading') return;
      if (u.state === 'done' || u.state === 'failed' || u.state === 'dropped') mine.delete(u.uploadId);
      if (u.state === 'queued' && u.error) return; // a retry, shown in the status
      node.send({ topic: `gatepost/ftp/${targetId}/upload`, payload: u } as any);
    });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (!targetNode) return fail(node, done, new Error(t('ftp-upload.errors.noTarget', 'no FTP target selected')));
      if (targetNode.problem) return fail(node, done, new Error(targetNode.problem));
      const p = msg.payload as any;
      const file = typeof p === 'string' ? p : p && typeof p === 'object' && typeof p.file === 'string' ? p.file : '';
      if (!file.trim()) return fail(node, done, new Error(t('ftp-upload.errors.noFile', 'msg.payload must be the path of a local file (or { file })')));
      const name = typeof msg.filename === 'string' ? msg.filename : typeof p?.name === 'string' ? p.name : undefined;
      const camera = typeof p?.camera === 'string' ? p.camera : typeof msg.camera === 'string' ? msg.camera : null;
      svc
        .enqueue({ target: targetId, file: file.trim(), remoteName: name, camera })
        .then((row) => {
          if (row.state !== 'done' && row.state !== 'failed' && row.state !== 'dropped') mine.add(row.id);
          const u: UploadState = { uploadId: row.id, clipId: row.clipId, state: row.state, remotePath: row.remotePath, error: row.lastError, ts: row.updatedAt };
          msg.topic = `gatepost/ftp/${targetId}/upload`;
          msg.payload = u;
          send(msg);
          done();
        })
        .catch((err) => fail(node, done, err));
    });
    node.on('close', () => {
      closed = true;
      offFtp();
      offUpload();
    });
  }
  RED.nodes.registerType('ftp-upload', FtpUpload as any);
};
