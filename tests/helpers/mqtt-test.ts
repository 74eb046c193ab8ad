/** MQTT client helpers of the runtime tests (mqtt.js, 127.0.0.1 only). */
import mqtt, { MqttClient, IClientOptions } from 'mqtt';

/** Connects; rejects with the broker's refusal (or a timeout). Never reconnects. */
export function connect(url: string, opts: IClientOptions = {}, timeoutMs = 5000): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, protocolVersion: 4, ...opts });
    const t = setTimeout(() => {
      c.end(true);
      reject(new Error('connect timeout'));
    }, timeoutMs + 500);
    c.once('connect', () => {
      clearTimeout(t);
      resolve(c);
    });
    c.once('error', (err) => {
      clearTimeout(t);
      c.end(true);
      reject(err);
    });
    c.once('close', () => {
      clearTimeout(t);
      reject(new Error('connection closed'));
    });
  });
}

export function subscribe(c: MqttClient, topic: string): Promise<number> {
  // mqtt.js 5 reports a refused filter (SUBACK 0x80) as an error carrying the packet
  return new Promise((resolve, reject) =>
    c.subscribe(topic, { qos: 1 }, (err: any, granted) => {
      if (err?.packet?.granted) return resolve(err.packet.granted[0]);
      if (err) return reject(err);
      resolve(granted?.[0]?.qos ?? -1);
    }),
  );
}

/** Collects messages of a client. */
export function collector(c: MqttClient): {
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  wait(pred: (m: { topic: string; payload: string; retain: boolean }) => boolean, timeoutMs?: number): Promise<{ topic: string; payload: string; retain: boolean }>;
} {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  const waiters = new Set<() => void>();
  c.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: !!packet.retain });
    for (const w of [...waiters]) w();
  });
  return {
    messages,
    wait(pred, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (!m) return false;
          waiters.delete(check);
          clearTimeout(t);
          resolve(m);
          return true;
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching MQTT message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.topic))}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
  };
}

export const end = (c: MqttClient | null | undefined): Promise<void> => (c ? new Promise((r) => c.end(true, {}, () => r())) : Promise.resolve());
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * /api/health is 200 before the shipped flow's mqtt nodes have subscribed: publishes a probe plate
 * on gatepost/lpr/<camera> until a decision comes back. The client must be subscribed to
 * gatepost/decision/# (and allowed to publish the plate: lpr or admin account).
 */
export async function untilFlowTakesPlates(c: MqttClient, camera = 'cam1', timeoutMs = 20_000): Promise<void> {
  const probe = collector(c);
  const t0 = Date.now();
  while (!probe.messages.some((m) => m.topic.startsWith('gatepost/decision/'))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`the flow took no plate within ${timeoutMs} ms`);
    c.publish(`gatepost/lpr/${camera}`, 'Н000НН00', { qos: 1 });
    await sleep(200);
  }
}
