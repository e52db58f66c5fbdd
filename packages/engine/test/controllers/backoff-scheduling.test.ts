import { afterEach, describe, expect, it } from 'vitest';
import { FakeNode } from './fake-driver.ts';
import { type Cluster, cluster, GiB, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

describe('CrashLoopBackOff', () => {
  it('delays restarts 10s, 20s, 40s ... up to the cap, and resets after a stable run', async () => {
    c = await cluster({
      nodes: 1,
      config: { crashLoopBackoff: { initialMs: 10_000, factor: 2, maxMs: 80_000, resetAfterMs: 120_000 } },
    });
    const node = c.nodes[0]!;
    node.crashAfterMs = 5_000;
    await c.store.create('VirtualMachine', vm('loop', 'Always'));
    // Creation times of successive VMIs (SuccessfulCreate events carry the VMI name; uids differ).
    const starts: number[] = [];
    let lastUid: string | undefined;
    const sawBackOff = new Set<number>();
    await c.until(
      async () => {
        const vmi = await getVMI(c!, 'loop');
        if (vmi?.metadata.uid && vmi.metadata.uid !== lastUid) {
          lastUid = vmi.metadata.uid;
          starts.push(Date.parse(vmi.metadata.creationTimestamp!));
        }
        const v = await getVM(c!, 'loop');
        if (v?.status?.printableStatus === 'CrashLoopBackOff')
          sawBackOff.add(v.status.startFailure?.consecutiveFailCount ?? 0);
        return starts.length >= 7;
      },
      '7 VMIs',
      30 * 60_000,
    );
    const gaps = starts.slice(1).map((t, i) => (t - starts[i]!) / 1000);
    // Each gap: the guest's 5 s from start to crash, plus the back-off delay.
    const delays = gaps.map((g) => g - 5);
    const expected = [10, 20, 40, 80, 80, 80];
    for (const [i, d] of delays.entries()) {
      expect(d, `gap ${i + 1}: ${gaps.join(', ')}`).toBeGreaterThanOrEqual(expected[i]!);
      expect(d, `gap ${i + 1}: ${gaps.join(', ')}`).toBeLessThanOrEqual(expected[i]! + 3);
    }
    expect([...sawBackOff].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const failEvents = (await c.store.list('Event')).items.filter(
      (e) => e.involvedObject.kind === 'VirtualMachine' && e.reason === 'SuccessfulCreate',
    );
    expect(failEvents.reduce((n, e) => n + (e.count ?? 1), 0)).toBeGreaterThanOrEqual(7);

    // Stop crashing: the next VMI runs, and after a stable run the failure count is cleared.
    node.crashAfterMs = undefined;
    await c.until(async () => (await printable(c!, 'loop')) === 'Running', 'Running again', 10 * 60_000);
    expect((await getVM(c, 'loop'))?.status?.startFailure?.consecutiveFailCount).toBeGreaterThan(0);
    await c.until(async () => (await getVM(c!, 'loop'))?.status?.startFailure === undefined, 'reset', 5 * 60_000);
  });

  it('a lost node does not count as a crash', async () => {
    c = await cluster({ nodes: 2 });
    await c.store.create('VirtualMachine', vm('n', 'Always'));
    await c.until(async () => (await printable(c!, 'n')) === 'Running', 'running');
    const node = c.node((await getVMI(c, 'n'))!.status!.nodeName!);
    node.partitioned = true;
    await c.until(
      async () =>
        (await getVMI(c!, 'n'))?.status?.nodeName !== node.nodeName && (await printable(c!, 'n')) === 'Running',
      'rescheduled',
    );
    expect((await getVM(c, 'n'))?.status?.startFailure).toBeUndefined();
  });
});

describe('scheduling', () => {
  const big = { domain: { cpu: { cores: 2 }, memory: { guest: '3Gi' }, devices: {} } };

  it('an unschedulable VM shows ErrorUnschedulable with the reason and runs once a node is added', async () => {
    c = await cluster({ nodes: [{ name: 'small', cpuMillis: 8000, memoryBytes: 8 * GiB }] });
    await c.store.create('VirtualMachine', vm('a', 'Always', big));
    await c.store.create('VirtualMachine', vm('b', 'Always', big));
    await c.until(
      async () => (await printable(c!, 'a')) === 'Running' && (await printable(c!, 'b')) === 'Running',
      'a, b',
    );
    await c.store.create('VirtualMachine', vm('c', 'Always', big));
    await c.until(async () => (await printable(c!, 'c')) === 'ErrorUnschedulable', 'c unschedulable');
    const vmi = (await getVMI(c, 'c'))!;
    expect(vmi.status?.phase).toBe('Scheduling');
    const cond = vmi.status?.conditions?.find((x) => x.type === 'PodScheduled');
    expect(cond).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Insufficient memory.',
    });
    const ev = (await c.store.list('Event')).items.find((e) => e.reason === 'FailedScheduling');
    expect(ev?.message).toBe('0/1 nodes are available: 1 Insufficient memory.');
    expect(ev?.type).toBe('Warning');

    const extra = new FakeNode('big', c.clock, c.fabric, { cpuMillis: 16000, memoryBytes: 32 * GiB });
    c.drivers.add(extra);
    await c.until(async () => (await printable(c!, 'c')) === 'Running', 'c running');
    expect((await getVMI(c, 'c'))?.status?.nodeName).toBe('big');
  });

  it('capacity freed by a deleted VM lets a waiting VM run', async () => {
    c = await cluster({ nodes: [{ name: 'only', cpuMillis: 4000, memoryBytes: 4 * GiB }] });
    await c.store.create('VirtualMachine', vm('first', 'Always', big));
    await c.until(async () => (await printable(c!, 'first')) === 'Running', 'first');
    await c.store.create('VirtualMachine', vm('second', 'Always', big));
    await c.until(async () => (await printable(c!, 'second')) === 'ErrorUnschedulable', 'second waits');
    await c.store.delete('VirtualMachine', NS, 'first');
    await c.until(async () => (await printable(c!, 'second')) === 'Running', 'second runs');
  });

  it('nodeSelector, taints and cordon are honoured, with the Kubernetes message', async () => {
    c = await cluster({
      nodes: [
        { name: 'n1', labels: { zone: 'a' } },
        { name: 'n2', labels: { zone: 'b' } },
      ],
    });
    await c.engine.actions.cordon('n1');
    await c.store.create('VirtualMachine', vm('z', 'Always', { nodeSelector: { zone: 'a' } }));
    await c.until(async () => (await printable(c!, 'z')) === 'ErrorUnschedulable', 'unschedulable');
    const cond = (await getVMI(c, 'z'))?.status?.conditions?.find((x) => x.type === 'PodScheduled');
    expect(cond?.message).toBe(
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable.",
    );
    const n1 = await c.store.get('Node', undefined, 'n1');
    expect(n1.spec?.taints?.map((t) => t.key)).toContain('node.kubernetes.io/unschedulable');
    expect(n1.metadata.labels?.['kubevirt.io/schedulable']).toBe('false');
    await c.engine.actions.uncordon('n1');
    await c.until(async () => (await printable(c!, 'z')) === 'Running', 'runs after uncordon');
    expect((await getVMI(c, 'z'))?.status?.nodeName).toBe('n1');
  });
});
