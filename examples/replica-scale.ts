/**
 * Replica set scale test: a VirtualMachineInstanceReplicaSet of web servers scaled 0 → 30 → 10, reporting
 * how long each step took in cluster (virtual) time.
 *
 *   node --conditions=@virtkit/source examples/replica-scale.ts
 */
import { connect, replicaSet, vm } from '@virtkit/sdk';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  await using vk = await connect({ nodes: 10, seed: 4 });
  const template = vm('web').memory('256Mi').cores(1).containerDisk('quay.io/containerdisks/fedora:40');
  await vk.replicaSets.create(replicaSet('web', 0, template));
  for (const n of [30, 10]) {
    const t0 = vk.transport.clock.now();
    await vk.replicaSets.scale('web', n, { wait: true });
    log(`scaled to ${n} ready replicas in ${((vk.transport.clock.now() - t0) / 1000).toFixed(1)} s of cluster time`);
  }
  const perNode = new Map<string, number>();
  for (const v of await vk.vmis.list({ labelSelector: 'virtkit.io/replicaset=web' })) {
    if (v.metadata.deletionTimestamp) continue;
    const n = v.status?.nodeName ?? '?';
    perNode.set(n, (perNode.get(n) ?? 0) + 1);
  }
  log(`spread: ${[...perNode].map(([n, c]) => `${n}=${c}`).join(' ')}`);
}

if (import.meta.main) await main();
