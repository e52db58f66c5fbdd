// client-node drops a watch connection that carried nothing for its inactivity timeout (30 s by default):
// `virtkit migrate --wait` on a migration that sat pending for 30 s failed with "The operation was
// aborted due to timeout". The transport resumes such a watch from the last resourceVersion instead.
import { KubeConfig } from '@kubernetes/client-node';
import { SimEnv } from '@virtkit/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/index.ts';
import { KubernetesTransport } from '../../src/client/kubernetes-transport.ts';

let env: SimEnv;
let server: Awaited<ReturnType<typeof createApiServer>>;
let kc: KubeConfig;

beforeAll(async () => {
  env = await SimEnv.create({ nodes: 1, seed: 4 });
  await env.waitFor(async () => (await env.store.list('Node')).items.length === 1, { what: 'nodes' });
  server = await createApiServer({ store: env.store, clock: env.clock, port: 0 });
  kc = new KubeConfig();
  kc.loadFromString(await server.kubeconfig());
});

afterAll(async () => {
  await server?.close();
  await env?.[Symbol.asyncDispose]();
});

const lease = (name: string) => ({
  apiVersion: 'coordination.k8s.io/v1' as const,
  kind: 'Lease' as const,
  metadata: { name, namespace: 'default' },
  spec: {},
});

describe('KubernetesTransport.watch across idle timeouts', () => {
  it('keeps delivering after the connection was idle longer than the timeout', async () => {
    const t = new KubernetesTransport({ kubeconfig: kc, watchIdleTimeoutMs: 150 });
    const listed = await t.list('Lease', { namespace: 'default' });
    const ac = new AbortController();
    const it = t.watch('Lease', { namespace: 'default', resourceVersion: listed.resourceVersion, signal: ac.signal });
    const iter = it[Symbol.asyncIterator]();
    const first = iter.next();
    // Quiet for several idle timeouts: every one of them drops and resumes the connection.
    await new Promise((r) => setTimeout(r, 800));
    await env.store.create('Lease', lease('after-quiet'));
    const ev = await first;
    expect(ev.done).toBe(false);
    expect(ev.value).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'after-quiet' } } });
    // Resumed from that event's version: the next change arrives once, nothing is replayed.
    await new Promise((r) => setTimeout(r, 500));
    await env.store.create('Lease', lease('second'));
    const next = await iter.next();
    expect(next.value).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'second' } } });
    ac.abort();
    expect((await iter.next()).done).toBe(true);
    await t.close();
  });
});
