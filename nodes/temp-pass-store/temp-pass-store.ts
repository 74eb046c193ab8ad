/**
 * `temp-pass-store`: add / list / cancel / extend / search the guards' temporary passes through
 * messages (msg.topic or msg.action). A thin adapter over passesOf(hub). Invalid input is
 * refused with a clear message on the output (msg.payload.error) and the node status; nothing
 * is stored. The author is msg.user / msg._client.user.username, or 'node'.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { hubFor, shortError } from '../common/hub';
import { passesOf, PassError } from '../../src/services/passes-service';

interface TempPassStoreDef extends NodeDef {
  preset?: string;
  days?: string | number;
}

const ACTIONS = ['add', 'list', 'cancel', 'extend', 'search'] as const;
type Action = (typeof ACTIONS)[number];

/** The author of a change from the message (dashboard client data or a flow-set user). */
function authorOf(msg: Record<string, any>): string {
  const u = msg.user;
  if (typeof u === 'string' && u.trim()) return u.trim().slice(0, 64);
  if (u && typeof u === 'object' && typeof u.username === 'string' && u.username) return u.username.slice(0, 64);
  const c = msg._client?.user?.username;
  if (typeof c === 'string' && c) return c.slice(0, 64);
  return 'node';
}

function actionOf(msg: Record<string, any>): Action | null {
  const a = typeof msg.action === 'string' && msg.action ? msg.action : msg.topic;
  const s = typeof a === 'string' ? a.trim().toLowerCase() : '';
  return (ACTIONS as readonly string[]).includes(s) ? (s as Action) : null;
}

function idOf(p: unknown): unknown {
  return p && typeof p === 'object' ? (p as any).id : p;
}

export = function (RED: NodeAPI): void {
  /** a catalog text, or the English fallback when the catalog is not loaded */
  const t = (key: string, fallback: string, vars?: Record<string, string>): string => {
    const s = RED._(key, vars);
    return s && s !== key ? s : fallback;
  };
  function TempPassStoreNode(this: Node, config: TempPassStoreDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const hub = hubFor(RED);
    const passes = passesOf(hub);
    const defaults = { preset: config.preset || 'today', days: Number(config.days) || 1 };
    node.status({ fill: 'grey', shape: 'dot', text: t('temp-pass-store.status.ready', 'ready') });

    node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      const action = actionOf(msg);
      const refuse = (error: string) => {
        msg.payload = { error, action: action ?? null };
        node.warn(t('temp-pass-store.errors.refused', `temporary pass refused: ${error}`, { error }));
        node.status({ fill: 'red', shape: 'ring', text: shortError(error) });
        send(msg);
        done();
      };
      if (!action) {
        refuse(t('temp-pass-store.errors.action', `unknown action: set msg.topic or msg.action to one of ${ACTIONS.join(', ')}`, { actions: ACTIONS.join(', ') }));
        return;
      }
      const p = msg.payload;
      const author = authorOf(msg);
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
          node.status({ fill: 'red', shape: 'ring', text: shortError(err) });
          done(err as Error);
        },
      );
    });
  }
  RED.nodes.registerType('temp-pass-store', TempPassStoreNode as any);
};
