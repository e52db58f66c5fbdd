/**
 * Rolling restart of a fleet: restart the `app=web` VMs one at a time, waiting for each to be Running
 * and ready again before touching the next, so at most one web server is ever down.
 *
 *   node --conditions=@virtkit/source examples/rolling-restart.ts
 */
import { connect, type VirtkitClient } from '@virtkit/sdk';
import { webServer } from './fleet.ts';

export async function rollingRestart(vk: VirtkitClient, selector: string, log: (l: string) => void): Promise<number> {
  const vms = await vk.vms.list({ labelSelector: selector });
  for (const vm of vms) {
    const name = vm.metadata.name ?? '';
    const before = (await vk.vms.instance(name))?.metadata.uid;
    await vk.vms.restart(name);
    // Ready again means a *new* instance is running (restart replaces the VMI).
    await vk.vmis.waitFor(name, (o) => o?.status?.phase === 'Running' && o.metadata.uid !== before);
    await vk.vms.waitFor(name, (o) => o?.status?.ready === true);
    const down = (await vk.vms.list({ labelSelector: selector })).filter((v) => !v.status?.ready).length;
    log(`restarted ${name}; VMs not ready now: ${down}`);
  }
  return vms.length;
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  await using vk = await connect({ nodes: 3, seed: 2 });
  for (let i = 1; i <= 4; i++) await vk.vms.create(webServer(i));
  for (let i = 1; i <= 4; i++) await vk.vms.waitFor(`web-${i}`, 'Running');
  const n = await rollingRestart(vk, 'app=web', log);
  log(`rolling restart of ${n} VMs done`);
}

if (import.meta.main) await main();
