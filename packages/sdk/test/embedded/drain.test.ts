// vk.nodes.drain asks the control plane for the same server-side drain as VmActions.drain (a node
// annotation the engine's drain controller acts on), and reports the engine's DrainProgress figures.
import { ANNOTATION_DRAIN, type DrainProgress, TimeoutError, type VirtualMachine } from '@virtkit/engine';
import { connect, type VirtkitClient, vm } from '@virtkit/sdk';
import { describe, expect, it } from 'vitest';

const small = (name: string) => vm(name).memory('128Mi').containerDisk('quay.io/containerdisks/cirros:latest');

/** A VM on the pod network through a bridge: KubeVirt marks it LiveMigratable=False. */
function bridged(name: string): VirtualMachine {
  const v = small(name).evictionStrategy('LiveMigrate').build();
  const domain = v.spec.template.spec.domain;
  domain.devices.interfaces = [{ name: 'default', bridge: {} }];
  v.spec.template.spec.networks = [{ name: 'default', pod: {} }];
  return v;
}

/** Creates the VMs while every other node is cordoned, so all of them land on `node-1`. */
async function onNode1(vk: VirtkitClient, vms: VirtualMachine[]): Promise<void> {
  await vk.nodes.cordon('node-2');
  await vk.nodes.cordon('node-3');
  for (const v of vms) await vk.vms.create(v);
  for (const v of vms) {
    const vmi = await vk.vmis.waitFor(v.metadata.name ?? '', 'Running');
    expect(vmi.status?.nodeName).toBe('node-1');
  }
  await vk.nodes.uncordon('node-2');
  await vk.nodes.uncordon('node-3');
}

describe('vk.nodes.drain (server-side drain)', () => {
  it('migrates what may migrate, evicts the rest, and counts both', async () => {
    await using vk = await connect({ nodes: 3, seed: 5 });
    await onNode1(vk, [small('mover').evictionStrategy('LiveMigrate').build(), small('plain').build()]);
    const seen: DrainProgress[] = [];
    const final = await vk.nodes.drain('node-1', { onProgress: (p) => seen.push(p) });
    expect(final).toMatchObject({ node: 'node-1', total: 2, remaining: 0, migrated: 1, evicted: 1, done: true });
    expect(seen[0]).toMatchObject({ total: 2, remaining: 2, done: false });
    expect(seen.at(-1)).toEqual(final);
    const node = await vk.nodes.get('node-1');
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata.annotations?.[ANNOTATION_DRAIN]).toBeDefined();
    // The evicted VM (runStrategy Always) comes back on another node.
    const back = await vk.vmis.waitFor(
      'plain',
      (v) => v?.status?.phase === 'Running' && v.status.nodeName !== 'node-1',
    );
    expect(back.status?.nodeName).not.toBe('node-1');
    await vk.nodes.uncordon('node-1');
    const after = await vk.nodes.get('node-1');
    expect(after.spec?.unschedulable).toBeFalsy();
    expect(after.metadata.annotations?.[ANNOTATION_DRAIN]).toBeUndefined();
  });

  it('times out with a TimeoutError naming a VMI that blocks the drain', async () => {
    await using vk = await connect({ nodes: 3, seed: 6 });
    await onNode1(vk, [bridged('stuck')]);
    const seen: DrainProgress[] = [];
    const err = await vk.nodes
      .drain('node-1', { timeoutMs: 120_000, onProgress: (p) => seen.push(p) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(
      /drain of node node-1 did not finish within 120000 ms: 1 VMIs remain.*1 blocked/,
    );
    expect(seen.at(-1)).toMatchObject({ remaining: 1, blocked: 1, migrating: 0, done: false });
    expect((await vk.vmis.get('stuck')).status?.nodeName).toBe('node-1');
  });

  it('goes on without the client that asked for it', async () => {
    await using vk = await connect({ nodes: 3, seed: 7 });
    await onNode1(vk, [
      small('a').evictionStrategy('LiveMigrate').build(),
      small('b').evictionStrategy('LiveMigrate').build(),
    ]);
    const ac = new AbortController();
    const waiting = vk.nodes.drain('node-1', { signal: ac.signal, onProgress: () => ac.abort(new Error('gone')) });
    await expect(waiting).rejects.toThrow('gone');
    for (const name of ['a', 'b']) {
      await vk.vmis.waitFor(name, (v) => v?.status?.phase === 'Running' && v.status.nodeName !== 'node-1');
    }
  });
});
