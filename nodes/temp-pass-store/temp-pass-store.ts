/**
 * `temp-pass-store`: add / list / cancel / extend / search the guards' temporary passes through
 * messages (msg.topic or msg.action). A thin adapter over passesOf(hub). Invalid input is
 * refused: the output gets the message with `msg.payload.error` (for a dashboard form), the node
 * status says why, and the failure goes to done(err) so Catch nodes see it; nothing is stored.
 * The author is the message's user (node-base userOf), or 'node'.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from '../common/hub';
import { passesOf, PassError } from '../../src/services/passes-service';
import { fail, nodeConfig, translator, userOf } from '../common/node-base';
import type { Schema } from '../../src/core/schema';
import { MAX_DAYS } from '../../src/core/validity';

const SCHEMA = {
  preset: { type: 'enum', values: ['today', 'days'] as const, default: 'today', label: 'default validity' },
  days: { type: 'int', min: 1, max: MAX_DAYS, default: 1, label: 'days' },
} satisfies Schema;

interface TempPassStoreDef extends NodeDef {
  preset?: string;
  days?: string | number;
}

const ACTIONS = ['add', 'list', 'cancel', 'extend', 'search'] as const;
type Action = (typeof ACTIONS)[number];

function actionOf(msg: Record<string, any>): Action | null {
  const a = typeof msg.action === 'string' && msg.action ? msg.action : msg.topic;
  const s = typeof a === 'string' ? a.trim().toLowerCase() : '';
  return (ACTIONS as readonly string[]).includes(s) ? (s as Action) : null;
}

function idOf(p: unknown): unknown {
  return p && typeof p === 'object' ? (p as any).id : p;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED);
  function TempPassStoreNode(this: Node, config: TempPassStoreDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const passes = passesOf(hub);
    const cfg = nodeConfig(RED, node, 'temp-pass-store', config, SCHEMA);
    const defaults: { preset: string; days: number } = { preset: cfg.value?.preset ?? 'today', days: cfg.value?.days ?? 1 };
    if (!cfg.invalid) node.status({ fill: 'grey', shape: 'dot', text: t('temp-pass-store.status.ready', 'ready') });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      if (cfg.invalid) return done(new Error(cfg.invalid));
      const action = actionOf(msg);
      const refuse = (error: string) => {
        msg.payload = { error, action: action ?? null };
        send(msg);
        fail(node, done, new Error(t('temp-pass-store.errors.refused', `temporary pass refused: ${error}`, { error })), shortError(error));
      };
      if (!action) {
        refuse(t('temp-pass-store.errors.action', `unknown action: set msg.topic or msg.action to one of ${ACTIONS.join(', ')}`, { actions: ACTIONS.join(', ') }));
        return;
      }
      const p = msg.payload;
      const author = userOf(msg) || 'node';
      const run = async (): Promise<unknown> => {
        switch (action) {
          case 'add': {
            if (!p || typeof p !== 'object' || Array.isArray(p)) {
              if (typeof p === 'string' || typeof p === 'number') return passes.addTemp({ plate: String(p), preset: defaults.preset, days: defaults.days }, author, { confirm: msg.confirm === true });
              throw new PassError(t('temp-pass-store.errors.addPayload', 'add needs msg.payload {plate | digits, house?, note?, preset?, days?, from?, to?} or a plate string'), 400);
            }
            const input = { preset: defaults.preset, days: defaults.days, ...(p as object) };
            if ((p as any).preset === undefined && ((p as any).to !== undefined || (p as any).days !== undefined)) input.preset = (p as any).to !== undefined ? 'range' : 'days';
            // a pass for the same digits/plate at the same time is refused (409) unless confirmed
            return passes.addTemp(input, author, { confirm: msg.confirm === true || (p as any).confirm === true });
          }
          case 'list':
            return passes.listTemp({ all: !!(p && typeof p === 'object' && (p as any).all) || p === 'all' });
          case 'cancel':
            return passes.cancelTemp(idOf(p), author);
          case 'extend':
            return passes.extendTemp(idOf(p), p && typeof p === 'object' ? (p as any) : { days: 1 }, author);
          case 'search': {
            await passes.ready();
            const q = p && typeof p === 'object' ? (p as any).q : p;
            return passes.search(q, 50, 'temporary');
          }
        }
      };
      run().then(
        (result) => {
          msg.payload = result;
          msg.action = action;
          const n = Array.isArray(result) ? result.length : undefined;
          const text = n !== undefined ? `${action}: ${n}` : `${action}: ${(result as any)?.display ?? ''} #${(result as any)?.id ?? ''}`;
          node.status({ fill: 'green', shape: 'dot', text });
          send(msg);
          done();
        },
        (err) => {
          if (err instanceof PassError) return refuse(err.message);
          fail(node, done, err);
        },
      );
    });
  }
  RED.nodes.registerType('temp-pass-store', TempPassStoreNode as any);
};
