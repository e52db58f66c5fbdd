import { KUBEVIRT_API_VERSION } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { NS, nodesReady, vmiSpec } from './helpers.ts';

describe('scenario: 1,000-VM replica set scale-up', () => {
  it('brings 1,000 VMIs to Running across the nodes, each exactly once', async () => {
    await using env = await SimEnv.create({
      nodes: 10,
      seed: 31,
      trace: { enabled: false },
      nodeDefaults: { capacity: { cpu: 32, memory: 128 * 2 ** 30, vms: 150 }, timing: { heartbeatMs: 0 } },
    });
    await nodesReady(env);
    const { store } = env;
    const t0 = env.clock.now();
    await store.create('VirtualMachineInstanceReplicaSet', {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: 'VirtualMachineInstanceReplicaSet',
      metadata: { name: 'fleet', namespace: NS },
      spec: {
        replicas: 1000,
        selector: { matchLabels: { app: 'fleet' } },
        template: { metadata: { labels: { app: 'fleet' } }, spec: vmiSpec({ memory: '128Mi', cpu: '100m' }) },
      },
    });
    await env.waitFor(
      async () => (await store.get('VirtualMachineInstanceReplicaSet', NS, 'fleet')).status?.readyReplicas === 1000,
      { what: '1000 ready replicas', timeoutMs: 30 * 60_000, pollMs: 1000 },
    );
    const took = env.clock.now() - t0;
    const vmis = (await store.list('VirtualMachineInstance', { labelSelector: 'app=fleet' })).items;
    expect(vmis).toHaveLength(1000);
    expect(vmis.every((v) => v.status?.phase === 'Running')).toBe(true);
    // Spread: every node got its share, none beyond its VM limit.
    const perNode = new Map<string, number>();
    for (const v of vmis) perNode.set(v.status!.nodeName!, (perNode.get(v.status!.nodeName!) ?? 0) + 1);
    expect(perNode.size).toBe(10);
    for (const n of perNode.values()) {
      expect(n).toBeGreaterThanOrEqual(90);
      expect(n).toBeLessThanOrEqual(110);
    }
    // Ground truth: 1,000 domains running, one per VMI, and nothing else.
    const ids = env.nodes.flatMap((n) => n.domainIds());
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    const rs = await store.get('VirtualMachineInstanceReplicaSet', NS, 'fleet');
    expect(rs.status).toMatchObject({ replicas: 1000, readyReplicas: 1000, labelSelector: 'app=fleet' });
    // Virtual time: boots overlap; the whole fleet is up within a few minutes of simulated time.
    expect(took).toBeLessThan(5 * 60_000);
    expect(env.engine!.errors).toEqual([]);
  });
});
