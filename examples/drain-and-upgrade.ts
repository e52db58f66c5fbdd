/**
 * Drain a node for maintenance, "upgrade" it, and bring it back: cordon + live-migrate everything off,
 * check it is empty, uncordon, then show that new VMs may land on it again.
 *
 *   node --conditions=@virtkit/source examples/drain-and-upgrade.ts
 */
import { connect } from '@virtkit/sdk';
import { webServer } from './fleet.ts';

export async function main(log: (line: string) => void = console.log): Promise<{ moved: number; node: string }> {
  await using vk = await connect({ nodes: 3, seed: 3 });
  for (let i = 1; i <= 6; i++) await vk.vms.create(webServer(i));
  for (let i = 1; i <= 6; i++) await vk.vms.waitFor(`web-${i}`, 'Running');
  const node = 'node-1';
  const progress = await vk.nodes.drain(node, {
    onProgress: (p) => log(`drain ${node}: ${p.remaining} left, ${p.migrated} live-migrated, ${p.evicted} restarted`),
  });
  const left = (await vk.vmis.list()).filter((v) => v.status?.nodeName === node && v.status.phase === 'Running');
  if (left.length > 0) throw new Error(`${node} still runs ${left.length} VMs after the drain`);
  log(`${node} is empty; upgrading it (simulated) and uncordoning`);
  await vk.nodes.uncordon(node);
  await vk.vms.create(webServer(7));
  const vmi = await vk.vmis.waitFor('web-7', 'Running');
  log(`web-7 scheduled on ${vmi.status?.nodeName} (the emptiest node)`);
  return { moved: progress.migrated + progress.evicted, node };
}

if (import.meta.main) await main();
