/** Shared bits of the node tests (node-red-node-test-helper): message sinks and polling. */
import helper from 'node-red-node-test-helper';

export type Msg = Record<string, any>;

/** Collects the messages a helper node receives. */
export function sink(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => got.push(m));
  return got;
}

/** Polls until pred() holds; throws after timeoutMs. */
export async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
