import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, cluster, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

const allCalls = () => c!.nodes.flatMap((n) => n.calls.map((x) => `${n.nodeName}: ${x}`));

describe('engine restart', () => {
  it('resumes running VMs without touching their domains', async () => {
    c = await cluster({ nodes: 2 });
    for (const n of ['a', 'b', 'c']) await c.store.create('VirtualMachine', vm(n, 'Always'));
    await c.until(
      async () => (await Promise.all(['a', 'b', 'c'].map((n) => printable(c!, n)))).every((p) => p === 'Running'),
      'running',
    );
    const before = allCalls();
    const uids = await Promise.all(['a', 'b', 'c'].map(async (n) => (await getVMI(c!, n))?.metadata.uid));
    await c.restart();
    await c.clock.advance(5 * 60_000);
    await c.engine.settled();
    expect(allCalls()).toEqual(before);
    expect(await Promise.all(['a', 'b', 'c'].map(async (n) => (await getVMI(c!, n))?.metadata.uid))).toEqual(uids);
    expect(await Promise.all(['a', 'b', 'c'].map((n) => printable(c!, n)))).toEqual(['Running', 'Running', 'Running']);
  });

  it('in the middle of a migration: the new engine sees it through, migrateDomain called once', async () => {
    c = await cluster({ nodes: [{ migrationMs: 60_000 }, { migrationMs: 60_000 }] });
    await c.store.create('VirtualMachine', vm('m', 'Always'));
    await c.until(async () => (await printable(c!, 'm')) === 'Running', 'running');
    const source = (await getVMI(c, 'm'))!.status!.nodeName!;
    const mig = await c.engine.actions.migrate(NS, 'm');
    await c.until(
      async () =>
        (await getVMI(c!, 'm'))?.status?.migrationState?.targetNode !== undefined &&
        (await printable(c!, 'm')) === 'Migrating',
      'migrating',
    );
    await c.clock.advance(20_000);
    await c.restart();
    await c.until(
      async () =>
        (await c!.store.get('VirtualMachineInstanceMigration', NS, mig.metadata.name!)).status?.phase === 'Succeeded',
      'migration done',
    );
    const vmi = (await getVMI(c, 'm'))!;
    expect(vmi.status?.nodeName).not.toBe(source);
    const calls = allCalls();
    expect(calls.filter((x) => x.includes('migrateDomain'))).toHaveLength(1);
    expect(
      calls.filter((x) => x.includes(': defineDomain ')),
      calls.join('\n'),
    ).toHaveLength(1);
    expect(calls.filter((x) => x.includes(': startDomain '))).toHaveLength(1);
    await c.until(async () => (await printable(c!, 'm')) === 'Running', 'Running');
    expect(c.node(vmi.status!.nodeName!).running()).toEqual([`${NS}_m`]);
  });

  it('while the engine was down the migration finished: the new engine finds the VM on the target', async () => {
    c = await cluster({ nodes: [{ migrationMs: 30_000 }, { migrationMs: 30_000 }] });
    await c.store.create('VirtualMachine', vm('d', 'Always'));
    await c.until(async () => (await printable(c!, 'd')) === 'Running', 'running');
    const source = (await getVMI(c, 'd'))!.status!.nodeName!;
    await c.engine.actions.migrate(NS, 'd');
    await c.until(async () => (await printable(c!, 'd')) === 'Migrating', 'migrating');
    await c.engine.stop();
    await c.clock.advance(60_000); // the migration completes unobserved
    await c.restart();
    await c.until(
      async () => (await getVMI(c!, 'd'))?.status?.nodeName !== source && (await printable(c!, 'd')) === 'Running',
      'on target',
    );
    expect(allCalls().filter((x) => x.includes('migrateDomain'))).toHaveLength(1);
  });

  it('in the middle of a boot: no second define or start', async () => {
    c = await cluster({ nodes: [{ bootMs: 30_000 }] });
    await c.store.create('VirtualMachine', vm('b', 'Always'));
    await c.until(async () => c!.nodes[0]!.count('startDomain') === 1, 'started');
    await c.restart();
    await c.until(async () => (await printable(c!, 'b')) === 'Running', 'Running', 5 * 60_000);
    expect(c.nodes[0]!.count('defineDomain')).toBe(1);
    expect(c.nodes[0]!.count('startDomain')).toBe(1);
  });

  it('a guest that became ready while the engine was down, on a node slow to answer the first look', async () => {
    c = await cluster({ nodes: [{ bootMs: 30_000 }] });
    await c.store.create('VirtualMachine', vm('s', 'Always'));
    await c.until(async () => c!.nodes[0]!.count('startDomain') === 1, 'started');
    const uid = (await getVMI(c, 's'))?.metadata.uid;
    await c.engine.stop();
    await c.clock.advance(60_000); // guest-ready goes to no one
    expect((await c.nodes[0]!.getDomain(`${NS}_s`))?.guestReady).toBe(true);
    // The new engine's first read of the domain goes unanswered in time, while the node stays Ready: no
    // event and no readiness change will come, so the read must be tried again.
    c.nodes[0]!.failedReads = 1;
    await c.restart();
    await c.until(async () => (await printable(c!, 's')) === 'Running', 'Running', 60_000);
    expect((await getVMI(c, 's'))?.metadata.uid).toBe(uid);
    expect(c.nodes[0]!.count('startDomain')).toBe(1);
  });

  it("a node slow to answer the new engine's first info call stays Ready, its VMs untouched", async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('k', 'Always'));
    await c.until(async () => (await printable(c!, 'k')) === 'Running', 'running');
    const uid = (await getVMI(c, 'k'))?.metadata.uid;
    const ready = () => c!.store.get('Node', undefined, 'node-1').then((n) => n.status?.conditions);
    const before = await ready();
    c.nodes[0]!.failedInfos = 1;
    await c.restart();
    await c.clock.advance(60_000);
    await c.engine.settled();
    expect(await ready()).toEqual(before);
    expect((await getVMI(c, 'k'))?.metadata.uid).toBe(uid);
    expect(await printable(c, 'k')).toBe('Running');
    expect(c.nodes[0]!.failedInfos).toBe(0);
  });

  it('a guest that crashed while the engine was down is restarted (Always)', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('x', 'Always'));
    await c.until(async () => (await printable(c!, 'x')) === 'Running', 'running');
    const uid = (await getVMI(c, 'x'))?.metadata.uid;
    await c.engine.stop();
    c.nodes[0]!.crash(`${NS}_x`);
    await c.restart();
    await c.until(async () => {
      const v = await getVMI(c!, 'x');
      return v?.metadata.uid !== uid && v?.status?.phase === 'Running';
    }, 'restarted');
    expect((await getVM(c, 'x'))?.status?.printableStatus).toBe('Running');
  });

  it('a start request the old engine had no time to act on is carried out by the new one', async () => {
    c = await cluster({ nodes: 2 });
    await c.store.create('VirtualMachine', vm('r', 'Manual'));
    await c.engine.actions.start(NS, 'r');
    await c.engine.stop();
    await c.restart();
    await c.until(async () => (await printable(c!, 'r')) === 'Running', 'started after restart');
  });
});
