// connect()'s hostDiskRoots reaches the simulated nodes: like the libvirt agent, a node allows hostDisk
// volumes only under its roots, and none by default.
import { connect, vm } from '@virtkit/sdk';
import { describe, expect, it } from 'vitest';

const withHostDisk = (name: string) =>
  vm(name).memory('128Mi').hostDisk('data', '/var/data/disk.img', { type: 'DiskOrCreate', capacity: '1Gi' }).build();

describe('connect({ hostDiskRoots })', () => {
  it('runs a hostDisk VM on simulated nodes that allow its directory', async () => {
    await using vk = await connect({ nodes: 2, seed: 3, hostDiskRoots: ['/var/data'] });
    await vk.vms.create(withHostDisk('hd'));
    await vk.vms.waitFor('hd', 'Running');
  });

  it('refuses it by default, with the node reason in a Failed event', async () => {
    await using vk = await connect({ nodes: 2, seed: 3 });
    await vk.vms.create(withHostDisk('hd'));
    await vk.vms.waitFor('hd', 'CrashLoopBackOff');
    const failed = (await vk.events.list()).filter((e) => e.reason === 'Failed');
    expect(failed[0]?.message).toMatch(
      /^InvalidSpec: .*hostDisk \/var\/data\/disk\.img is outside the allowed roots \(none\)/,
    );
  });
});
