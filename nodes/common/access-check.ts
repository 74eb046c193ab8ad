/**
 * The output side shared by the nodes that decide a credential read (qr-check, face-check): which
 * door a reader or camera serves, the access event sent on the output its outcome names (1 allowed,
 * 2 denied, 3 repeat / rejected input), the counts, a status that tells the truth, and the text of
 * an input that could not be parsed (it is recorded as it came).
 */
import type { Node } from 'node-red';
import type { parseCameraMap } from '../../src/services/plate-checker';
import type { AccessOutcome } from '../../src/services/people-service';

type Event = AccessOutcome['event'];

export interface AccessOutputOptions {
  /** reader / camera → door and direction (null: every source goes to `defaultGate`) */
  map: ReturnType<typeof parseCameraMap>;
  defaultGate: string;
  defaultDirection?: 'entry' | 'exit';
  /** the warning logged for a rejected input */
  rejectedText: (reason: string) => string;
  /** the status text of a decision (the counts follow it) */
  statusText: (e: Event) => string;
}

export function accessOutputs(node: Node, opts: AccessOutputOptions) {
  const counters = { allowed: 0, denied: 0, other: 0 };
  const countText = () => `✓${counters.allowed} ✗${counters.denied} ⚠${counters.other}`;

  /** The door and direction of a read from `source`; a message's own `gate` wins. */
  const routeOf = (source: string, msgGate: unknown) => {
    const r = opts.map?.[source];
    return { gate: typeof msgGate === 'string' && msgGate ? msgGate : (r?.gate ?? opts.defaultGate), direction: r?.direction ?? opts.defaultDirection };
  };

  /** Sends the decided event on its output and updates the counts and the status. */
  const emit = (o: AccessOutcome, msg: Record<string, any>, send: (m: any) => void) => {
    const e = o.event;
    msg.payload = e;
    msg.topic = `gatepost/access/${e.gate ?? opts.defaultGate}`;
    msg.gate = e.gate;
    const out: Array<typeof msg | null> = [null, null, null];
    out[o.output - 1] = msg;
    send(out);
    if (o.output === 1) counters.allowed++;
    else if (o.output === 2) counters.denied++;
    else counters.other++;
    if (e.decision === 'rejected') {
      node.warn(opts.rejectedText(e.reason));
      node.status({ fill: 'yellow', shape: 'ring', text: `${e.reason.slice(0, 28)} · ${countText()}` });
    } else node.status({ fill: e.decision === 'allowed' ? 'green' : e.decision === 'denied' ? 'red' : 'blue', shape: 'dot', text: `${opts.statusText(e)} · ${countText()}` });
  };

  return { routeOf, emit };
}

/** A payload that could not be parsed, as text for its event's record. */
export function rawInput(payload: unknown): string {
  try {
    return Buffer.isBuffer(payload) ? payload.toString('utf8') : typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
  } catch {
    return String(payload);
  }
}
