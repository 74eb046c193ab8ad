/**
 * MQTT accounts and per-topic ACL of gatepost (pure: no broker, no I/O), enforced by the embedded
 * aedes broker (src/runtime/broker.ts) and mirrored in the Mosquitto ACL the docs describe.
 *
 * Roles:
 *  - admin:    everything (except publishing to $SYS/); the runtime's internal account is admin
 *  - operator: publish gatepost/gate/+/set and gatepost/camera/+/recording/set; subscribe gatepost/#
 *  - lpr:      publish gatepost/lpr/+ and gatepost/lpr/+/fallback; subscribe gatepost/decision/# and gatepost/available
 *  - camera:   publish and subscribe gatepost/camera/<own name>/#; publish gatepost/lpr/<own name>
 * For every role: no retained plates or commands (NO_RETAIN); internal client ids are reserved.
 */
import type { MqttRole } from './secrets';

export interface AclRules {
  publish: string[];
  subscribe: string[];
}

/** A user name that can stand in a topic level (camera accounts use theirs as one). */
export const MQTT_USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function rulesOf(role: MqttRole, username: string): AclRules {
  switch (role) {
    case 'admin':
      return { publish: ['#'], subscribe: ['#', '$SYS/#'] };
    case 'operator':
      return { publish: ['gatepost/gate/+/set', 'gatepost/camera/+/recording/set'], subscribe: ['gatepost/#'] };
    case 'lpr':
      return { publish: ['gatepost/lpr/+', 'gatepost/lpr/+/fallback'], subscribe: ['gatepost/decision/#', 'gatepost/available'] };
    case 'camera':
      return { publish: [`gatepost/camera/${username}/#`, `gatepost/lpr/${username}`], subscribe: [`gatepost/camera/${username}/#`] };
    default:
      return { publish: [], subscribe: [] };
  }
}

/** Does topic (no wildcards) match filter? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // a filter starting with a wildcard never matches $-topics (MQTT 4.7.2)
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Is every topic the subscription filter `sub` can match also matched by `allowed`? */
export function filterWithin(allowed: string, sub: string): boolean {
  const a = allowed.split('/');
  const s = sub.split('/');
  if (sub.startsWith('$') !== allowed.startsWith('$')) return false;
  for (let i = 0; i < s.length; i++) {
    if (i >= a.length) return false;
    if (a[i] === '#') return true;
    if (s[i] === '#') return false; // sub reaches deeper than allowed
    if (a[i] === '+') continue;
    if (s[i] === '+' || s[i] !== a[i]) return false;
  }
  return a.length === s.length || (a.length === s.length + 1 && a[a.length - 1] === '#');
}

export function validTopic(topic: string): boolean {
  return typeof topic === 'string' && topic.length > 0 && topic.length <= 512 && !/[+#\u0000]/.test(topic);
}

/**
 * Topics that must never be retained, whoever publishes: a retained message is replayed to every
 * new subscription — a retained plate would be decided (and open the barrier) again at every full
 * deploy, a retained command executed again at every restart.
 */
export const NO_RETAIN = ['gatepost/lpr/#', 'gatepost/gate/+/set', 'gatepost/camera/+/recording/set'];

export function mayRetain(topic: string): boolean {
  return !NO_RETAIN.some((f) => topicMatches(f, topic));
}

export function mayPublish(role: MqttRole, username: string, topic: string, retain = false): boolean {
  if (!validTopic(topic) || topic.startsWith('$SYS')) return false;
  if (retain && !mayRetain(topic)) return false;
  return rulesOf(role, username).publish.some((f) => topicMatches(f, topic));
}

/** The MQTT client id of the shipped flows' mqtt-broker node (flows/guard-post.json): a persistent session. */
export const FLOWS_CLIENT_ID = 'gatepost-flows';
/** The runtime's MQTT bridge connects as `gatepost-bridge-<random>` (src/runtime/mqtt-bridge.ts). */
export const BRIDGE_CLIENT_ID_PREFIX = 'gatepost-bridge-';

/**
 * Client ids only the runtime's internal account may use. A second client with the same id takes
 * over the session (MQTT-3.1.4-2): any account could otherwise knock the flows off the broker and
 * steal the plates queued for them.
 */
export function reservedClientId(clientId: string): boolean {
  return clientId.startsWith(FLOWS_CLIENT_ID) || clientId.startsWith(BRIDGE_CLIENT_ID_PREFIX);
}

export function maySubscribe(role: MqttRole, username: string, filter: string): boolean {
  if (typeof filter !== 'string' || !filter || filter.length > 512) return false;
  return rulesOf(role, username).subscribe.some((a) => filterWithin(a, filter));
}
