import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { calls, NS, nodesReady, runningOn, vm } from './helpers.ts';

// Found by the engine kill loop (packages/sdk/test/chaos): a delete that superseded a start whose call was
// still running sent its destroy beside it; the destroy found nothing running, the start then booted the
// guest, the undefine was refused and given up, and the VM's next VMI failed with DomainExists.
describe('scenario: a VM deleted while its start call is still running on the node', () => {
  it('waits for the start, then destroys and undefines the domain: nothing is left on the node', async () => {
    await using env = await SimEnv.create({
      nodes: 1,
      seed: 5,
      trace: { omitConsole: true },
      nodeDefaults: { timing: { start: 2000 } },
    });
    await nodesReady(env);
    const { store } = env;
    await store.create('VirtualMachine', vm('web', 'Always', { grace: 0 }));
    await env.waitFor(() => calls(env, 'startDomain') === 1, { what: 'startDomain called', pollMs: 10 });
    const node = env.nodes[0]!;
    expect(node.peek(`${NS}_web`)?.state).toBe('shutoff');
    await store.delete('VirtualMachine', NS, 'web');
    await env.waitFor(async () => (await store.tryGet('VirtualMachine', NS, 'web')) === undefined, {
      what: 'VM gone',
    });
    await env.waitFor(() => node.peek(`${NS}_web`) === undefined, { what: 'domain undefined', timeoutMs: 30_000 });
    expect(runningOn(env, 'web')).toEqual([]);
    // The destroy came after the start had finished, and the undefine after the destroy.
    const order = env.fabric.trace.entries
      .filter((e) => e.kind === 'call' && /^(startDomain|destroyDomain|undefineDomain) /.test(e.text))
      .map((e) => e.text.split(' ')[0]);
    expect(order).toEqual(['startDomain', 'destroyDomain', 'undefineDomain']);
  });
});
