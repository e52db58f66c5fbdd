import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, cluster, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

describe('engine: VM basics', () => {
  it('registers a Node per driver with quantities, labels and Ready', async () => {
    c = await cluster({ nodes: [{ name: 'a', hypervisor: 'qemu' }, { name: 'b' }] });
    const a = await c.store.get('Node', undefined, 'a');
    expect(a.status?.allocatable).toMatchObject({ cpu: '8', memory: '16Gi', pods: '110' });
    expect(a.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': 'a', 'kubevirt.io/schedulable': 'true' });
    expect(a.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
    expect(a.status?.conditions?.find((x) => x.type === 'SoftwareEmulation')?.status).toBe('True');
    expect(a.metadata.annotations?.['virtkit.io/software-emulation']).toBe('/dev/kvm is missing');
    const b = await c.store.get('Node', undefined, 'b');
    expect(b.status?.conditions?.find((x) => x.type === 'SoftwareEmulation')).toBeUndefined();
    // A VMI on the TCG node says so.
    await c.store.create('VirtualMachine', vm('tcg', 'Always', { nodeSelector: { 'kubernetes.io/hostname': 'a' } }));
    await c.until(async () => (await printable(c!, 'tcg')) === 'Running', 'tcg Running');
    const vmi = await getVMI(c, 'tcg');
    expect(vmi?.status?.conditions?.find((x) => x.type === 'SoftwareEmulation')).toMatchObject({
      status: 'True',
      message: '/dev/kvm is missing',
    });
  });

  it('runs an Always VM: VMI created, scheduled, defined, started, Running', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('web', 'Always'));
    await c.until(async () => (await printable(c!, 'web')) === 'Running', 'web Running');
    const v = await getVM(c, 'web');
    expect(v?.status).toMatchObject({ ready: true, created: true, printableStatus: 'Running', observedGeneration: 1 });
    expect(v?.metadata.finalizers).toContain('kubevirt.io/virtualMachineControllerFinalize');
    const vmi = await getVMI(c, 'web');
    expect(vmi?.status?.phase).toBe('Running');
    expect(vmi?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'VirtualMachine', name: 'web', controller: true });
    expect(vmi?.metadata.finalizers).toContain('foregroundDeleteVirtualMachine');
    const node = vmi?.status?.nodeName;
    expect(node).toBeDefined();
    expect(c.node(node!).running()).toEqual([`${NS}_web`]);
    expect(c.node(node!).count('defineDomain')).toBe(1);
    expect(c.node(node!).count('startDomain')).toBe(1);
    expect(vmi?.status?.phaseTransitionTimestamps?.map((p) => p.phase)).toEqual(
      ['Pending', 'Scheduling', 'Scheduled', 'Running'].filter((p) =>
        vmi?.status?.phaseTransitionTimestamps?.some((t) => t.phase === p),
      ),
    );
    const events = (await c.store.list('Event')).items.map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['SuccessfulCreate', 'Scheduled', 'Started', 'RegisteredNode']));
  });

  it('a template change while running shows RestartRequired until the VM is restarted', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('rr', 'Always'));
    await c.until(async () => (await printable(c!, 'rr')) === 'Running', 'running');
    const v = (await getVM(c, 'rr'))!;
    const spec = structuredClone(v.spec);
    spec.template.spec.domain.memory = { guest: '2Gi' };
    await c.store.update('VirtualMachine', { ...v, spec });
    const restartRequired = async () =>
      (await getVM(c!, 'rr'))?.status?.conditions?.find((x) => x.type === 'RestartRequired')?.status;
    await c.until(async () => (await restartRequired()) === 'True', 'RestartRequired');
    expect((await getVM(c, 'rr'))?.status?.observedGeneration).toBe(2);
    await c.engine.actions.restart(NS, 'rr');
    await c.until(
      async () => (await restartRequired()) === undefined && (await printable(c!, 'rr')) === 'Running',
      'restarted',
    );
    expect((await getVMI(c, 'rr'))?.spec.domain.memory?.guest).toBe('2Gi');
  });

  it('deleting a VM destroys its domain before the VM goes', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('db', 'Always'));
    await c.until(async () => (await printable(c!, 'db')) === 'Running', 'db Running');
    const node = (await getVMI(c, 'db'))!.status!.nodeName!;
    await c.store.delete('VirtualMachine', NS, 'db');
    await c.until(async () => !(await getVM(c!, 'db')), 'VM gone');
    expect(await getVMI(c, 'db')).toBeUndefined();
    expect(c.node(node).domains.size).toBe(0);
    expect(c.node(node).count('shutdownDomain')).toBe(1);
    expect(c.node(node).count('undefineDomain')).toBe(1);
  });

  it('a VM adopts the orphan VMI of its name, left running by a delete with propagation Orphan', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('kept', 'Always'));
    await c.until(async () => (await printable(c!, 'kept')) === 'Running', 'kept Running');
    const before = (await getVMI(c, 'kept'))!;
    await c.store.delete('VirtualMachine', NS, 'kept', { propagationPolicy: 'Orphan' });
    await c.until(async () => !(await getVM(c!, 'kept')), 'VM gone');
    await c.clock.advance(5000);
    const orphan = await getVMI(c, 'kept');
    expect(orphan?.metadata.uid).toBe(before.metadata.uid);
    expect(orphan?.metadata.ownerReferences).toBeUndefined();
    expect(orphan?.status?.phase).toBe('Running');
    const again = await c.store.create('VirtualMachine', vm('kept', 'Always'));
    await c.until(async () => (await printable(c!, 'kept')) === 'Running', 'adopted and Running');
    const vmi = (await getVMI(c, 'kept'))!;
    expect(vmi.metadata.uid).toBe(before.metadata.uid);
    expect(vmi.metadata.ownerReferences).toEqual([
      expect.objectContaining({ uid: again.metadata.uid, controller: true }),
    ]);
    expect((await getVM(c, 'kept'))?.status?.conditions?.find((x) => x.type === 'Failure')).toBeUndefined();
  });
});
