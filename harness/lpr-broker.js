#!/usr/bin/env node
/**
 * Test helper for the gatepost-lpr command before/besides the full runtime: a real aedes broker
 * on 127.0.0.1 (a child process, because aedes is an ES module jest cannot require) with the lpr
 * account and its ACL, plus an optional stand-in decider that answers `gatepost/lpr/<camera>` with
 * a decision on `gatepost/decision/<gate>`.
 *
 * env: PORT (0 = free), LPR_USER, LPR_PASSWORD, ALLOW (comma list of plates answered 'allowed'),
 *      REPEAT (plates answered 'repeat' with previous allowed), SILENT=1 (never answer),
 *      DELAY_MS (answer delay), OPEN=1 (clients whose id starts with "open-" may use any topic).
 * stdout: one JSON line per fact: {"port":N}, {"publish":{topic,payload}} for every lpr message.
 */
'use strict';
const net = require('net');
const { Aedes } = require('aedes');

const user = process.env.LPR_USER || 'lpr';
const password = process.env.LPR_PASSWORD || 'lpr-secret';
const allow = new Set((process.env.ALLOW || '').split(',').filter(Boolean));
const repeat = new Set((process.env.REPEAT || '').split(',').filter(Boolean));
const silent = process.env.SILENT === '1';
const delayMs = Number(process.env.DELAY_MS || 0);

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function matches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

(async () => {
  const broker = await Aedes.createBroker({
    authenticate(client, username, pw, cb) {
      const ok = username === user && pw && pw.toString() === password;
      if (!ok) {
        const err = new Error('bad credentials');
        err.returnCode = 4;
        return cb(err, false);
      }
      cb(null, true);
    },
    authorizePublish(client, packet, cb) {
      if (process.env.OPEN === '1' && client.id && client.id.startsWith('open-')) return cb(null);
      const ok = ['gatepost/lpr/+', 'gatepost/lpr/+/fallback'].some((f) => matches(f, packet.topic));
      cb(ok ? null : new Error('not allowed'));
    },
    authorizeSubscribe(client, sub, cb) {
      if (process.env.OPEN === '1' && client.id && client.id.startsWith('open-')) return cb(null, sub);
      const ok = ['gatepost/decision/#', 'gatepost/available'].some((f) => f === sub.topic || matches(f, sub.topic));
      cb(null, ok ? sub : null);
    },
  });
  broker.subscribe(
    'gatepost/lpr/#',
    (packet, cb) => {
      cb();
      const payload = packet.payload.toString('utf8');
      out({ publish: { topic: packet.topic, payload } });
      if (silent || packet.topic.endsWith('/fallback')) return;
      let p;
      try {
        p = JSON.parse(payload);
      } catch {
        p = { plate: payload };
      }
      const gate = p.gate || 'main';
      const plate = String(p.plate || '');
      const decision = allow.has(plate) ? 'allowed' : repeat.has(plate) ? 'repeat' : 'denied';
      const d = { eventId: 1, requestId: p.requestId, ts: Date.now(), gate, plate, raw: plate, digits: null, decision, source: decision === 'allowed' ? 'mirror' : 'none', reason: decision, latencyMs: 0 };
      if (decision === 'repeat') d.previous = { decision: 'allowed', eventId: 0 };
      setTimeout(() => broker.publish({ cmd: 'publish', topic: `gatepost/decision/${gate}`, payload: Buffer.from(JSON.stringify(d)), qos: 0, retain: false, dup: false }, () => undefined), delayMs);
    },
    () => undefined,
  );
  // noDelay: without it Nagle holds a decision behind the PUBACK until the client's delayed ACK (~40 ms)
  const server = net.createServer({ noDelay: true }, broker.handle);
  server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => out({ port: server.address().port }));
  const stop = () => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})();
