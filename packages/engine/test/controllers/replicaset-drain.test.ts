import { afterEach, describe, expect, it } from 'vitest';
import { type DrainProgress, KUBEVIRT_API_VERSION, type VirtualMachineInstanceReplicaSet } from '../../src/index.ts';
import { type Cluster, cluster, getVMI, NS, printable, vm, vmiSpec } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

function replicaSet(name: string, replicas: number): VirtualMachineInstanceReplicaSet {
  return {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { rs: name } },
      template: {
        metadata: { labels: { rs: name } },
        spec: vmiSpec({ domain: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, devices: {} } }),
      },
    },
  };
}

async function rsVmis(name: string) {
  return (await c!.store.list('VirtualMachineInstance', { labelSelector: `rs=${name}` })).items.filter(
    (v) => !v.metadata.deletionTimestamp,
  );
}

async function scale(name: string, replicas: number) {
  const rs = await c!.store.get('VirtualMachineInstanceReplicaSet', NS, name);
  await c!.store.update('VirtualMachineInstanceReplicaSet', { ...rs, spec: { ...rs.spec, replicas } });
}

describe('VirtualMachineInstanceReplicaSet', () => {
  it('scales up and down (newest first), reports status', async () => {
    c = await cluster({ nodes: 2 });
    await c.store.create('VirtualMachineInstanceReplicaSet', replicaSet('web', 3));
    await c.until(
      async () => (await c!.store.get('VirtualMachineInstanceReplicaSet', NS, 'web')).status?.readyReplicas === 3,
      '3 ready',
    );
    const rs = await c.store.get('VirtualMachineInstanceReplicaSet', NS, 'web');
    expect(rs.status).toMatchObject({ replicas: 3, readyReplicas: 3, labelSelector: 'rs=web' });
    const first = await rsVmis('web');
    expect(first.every((v) => v.metadata.ownerReferences?.[0]?.kind === 'VirtualMachineInstanceReplicaSet')).toBe(true);
    expect(first.every((v) => v.metadata.name?.startsWith('web'))).toBe(true);
    await c.clock.advance(5_000);
    await scale('web', 5);
    await c.until(
      async () => (await c!.store.get('VirtualMachineInstanceReplicaSet', NS, 'web')).status?.readyReplicas === 5,
      '5 ready',
    );
    const five = await rsVmis('web');
    const newest = five.filter((v) => !first.some((f) => f.metadata.uid === v.metadata.uid)).map((v) => v.metadata.uid);
    await scale('web', 3);
    await c.until(
      async () =>
        (await rsVmis('web')).length === 3 &&
        (await c!.store.get('VirtualMachineInstanceReplicaSet', NS, 'web')).status?.replicas === 3,
      'back to 3',
    );
    const left = (await rsVmis('web')).map((v) => v.metadata.uid).sort();
    expect(left).toEqual(first.map((v) => v.metadata.uid).sort());
    expect(newest).toHaveLength(2);
    const events = (await c.store.list('Event')).items.filter(
      (e) => e.involvedObject.kind === 'VirtualMachineInstanceReplicaSet',
    );
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['SuccessfulCreate', 'SuccessfulDelete']));
  });

  it('replaces a failed VMI', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachineInstanceReplicaSet', replicaSet('r', 2));
    await c.until(
      async () => (await c!.store.get('VirtualMachineInstanceReplicaSet', NS, 'r')).status?.readyReplicas === 2,
      '2 ready',
    );
    const [victim] = await rsVmis('r');
    c.nodes[0]!.crash(`${NS}_${victim!.metadata.name}`);
    await c.until(async () => {
      const vs = await rsVmis('r');
      return (
        vs.length === 2 &&
        !vs.some((v) => v.metadata.uid === victim!.metadata.uid) &&
        vs.every((v) => v.status?.phase === 'Running')
      );
    }, 'replaced');
  });

  it('paused stops reconciliation', async () => {
    c = await cluster({ nodes: 1 });
    const rs = replicaSet('p', 1);
    rs.spec.paused = true;
    await c.store.create('VirtualMachineInstanceReplicaSet', rs);
    await c.clock.advance(30_000);
    await c.engine.settled();
    expect(await rsVmis('p')).toHaveLength(0);
    const stored = await c.store.get('VirtualMachineInstanceReplicaSet', NS, 'p');
    expect(stored.status?.conditions?.find((x) => x.type === 'ReplicaPaused')?.status).toBe('True');
    await c.store.update('VirtualMachineInstanceReplicaSet', { ...stored, spec: { ...stored.spec, paused: false } });
    await c.until(async () => (await rsVmis('p')).length === 1, 'created after unpause');
  });

  it('deleting the replica set removes its VMIs and their domains', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachineInstanceReplicaSet', replicaSet('g', 3));
    await c.until(
      async () => (await c!.store.get('VirtualMachineInstanceReplicaSet', NS, 'g')).status?.readyReplicas === 3,
      'ready',
    );
    await c.store.delete('VirtualMachineInstanceReplicaSet', NS, 'g');
    await c.until(async () => (await c!.store.list('VirtualMachineInstance')).items.length === 0, 'all gone');
    expect(c.nodes[0]!.domains.size).toBe(0);
  });
});

describe('drain', () => {
  it('migrates LiveMigrate VMIs, restarts the rest per runStrategy, reports progress, ends with an empty node', async () => {
    c = await cluster({ nodes: 3, config: { migrations: { parallelOutboundMigrationsPerNode: 2 } } });
    await c.engine.actions.cordon('node-2');
    await c.engine.actions.cordon('node-3');
    const specs: [string, Parameters<typeof vm>[1], Parameters<typeof vm>[2]][] = [
      ['mig1', 'Always', { evictionStrategy: 'LiveMigrate' }],
      ['mig2', 'Always', { evictionStrategy: 'LiveMigrate' }],
      ['mig3', 'Manual', { evictionStrategy: 'LiveMigrate' }],
      ['ifp', 'Always', { evictionStrategy: 'LiveMigrateIfPossible' }],
      [
        'ifp-local',
        'Always',
        {
          evictionStrategy: 'LiveMigrateIfPossible',
          volumes: [{ name: 'l', hostDisk: { path: '/x.img', type: 'Disk' } }],
          domain: { cpu: { cores: 1 }, memory: { guest: '1Gi' }, devices: { disks: [{ name: 'l', disk: {} }] } },
        },
      ],
      ['plain-always', 'Always', {}],
      ['plain-manual', 'Manual', {}],
      ['plain-rerun', 'RerunOnFailure', {}],
    ];
    for (const [n, s, spec] of specs) await c.store.create('VirtualMachine', vm(n, s, spec));
    for (const n of ['mig3', 'plain-manual']) await c.engine.actions.start(NS, n);
    await c.until(
      async () => (await Promise.all(specs.map(([n]) => printable(c!, n)))).every((p) => p === 'Running'),
      'all running',
    );
    await c.engine.actions.uncordon('node-2');
    await c.engine.actions.uncordon('node-3');
    const uids = new Map(
      await Promise.all(specs.map(async ([n]) => [n, (await getVMI(c!, n))!.metadata.uid] as const)),
    );
    const seen: DrainProgress[] = [];
    // drain() resolves once the node is empty, which takes clock time: wait for it while time moves.
    let final: DrainProgress | undefined;
    let failed: unknown;
    c.engine.actions.drain('node-1', { onProgress: (p) => seen.push(p) }).then(
      (p) => {
        final = p;
      },
      (e) => {
        failed = e;
      },
    );
    await c.until(() => final !== undefined || failed !== undefined, 'drain done', 30 * 60_000);
    expect(failed).toBeUndefined();
    expect(final?.done).toBe(true);
    expect(seen.at(-1)?.done).toBe(true);
    expect(seen.at(-1)).toMatchObject({ node: 'node-1', total: 8, remaining: 0, migrated: 4, evicted: 4, blocked: 0 });
    const node = await c.store.get('Node', undefined, 'node-1');
    expect(node.spec?.unschedulable).toBe(true);
    for (const n of ['mig1', 'mig2', 'mig3', 'ifp']) {
      const v = await getVMI(c, n);
      expect(v?.metadata.uid, n).toBe(uids.get(n));
      expect(v?.status?.nodeName, n).not.toBe('node-1');
    }
    for (const n of ['ifp-local', 'plain-always', 'plain-rerun']) {
      await c.until(async () => (await printable(c!, n)) === 'Running', `${n} restarted`);
      const v = await getVMI(c, n);
      expect(v?.metadata.uid, n).not.toBe(uids.get(n));
      expect(v?.status?.nodeName, n).not.toBe('node-1');
    }
    expect(await getVMI(c, 'plain-manual')).toBeUndefined();
    expect(await printable(c, 'plain-manual')).toBe('Stopped');
    expect(c.node('node-1').domains.size).toBe(0);
    expect(seen.some((p) => p.migrating > 0)).toBe(true);
  });
});
