import { createEngine, DriverRegistry, type Engine } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimEnv, SimNode } from '../../src/index.ts';
import { allPrintable, calls, NS, nodesReady, printable, runningOn, vm } from './helpers.ts';

describe('scenario: unschedulable, then capacity appears', () => {
  it('shows ErrorUnschedulable with the reason and runs the VM on a node added later', async () => {
    let engine: Engine | undefined;
    let registry: DriverRegistry | undefined;
    await using env = await SimEnv.create({
      nodes: [{ name: 'small', cpu: 2, memory: 4 * 2 ** 30 }],
      seed: 51,
      trace: { omitConsole: true },
      engine: async (w) => {
        registry = new DriverRegistry(w.nodes);
        engine = createEngine({ store: w.store, clock: w.clock, drivers: registry, random: w.random });
        await engine.start();
        return { stop: () => engine?.stop() };
      },
    });
    await nodesReady(env);
    const { store } = env;
    await store.create('VirtualMachine', vm('fits', 'Always', { cpu: '1500m', memory: '1Gi' }));
    await store.create('VirtualMachine', vm('waits', 'Always', { cpu: '1500m', memory: '1Gi' }));
    await env.waitFor(
      async () =>
        (await printable(store, 'waits')) === 'ErrorUnschedulable' && (await printable(store, 'fits')) === 'Running',
      { what: 'one running, one unschedulable' },
    );
    const vmi = await store.get('VirtualMachineInstance', NS, 'waits');
    expect(vmi.status?.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Insufficient cpu.',
    });
    // A bigger node joins the cluster.
    const big = new SimNode({ name: 'big', fabric: env.fabric, capacity: { cpu: 8, memory: 16 * 2 ** 30 } });
    registry!.add(big);
    await env.waitFor(async () => (await printable(store, 'waits')) === 'Running', { what: 'runs on the new node' });
    expect((await store.get('VirtualMachineInstance', NS, 'waits')).status?.nodeName).toBe('big');
    expect(big.peek(`${NS}_waits`)?.state).toBe('running');
    expect(runningOn(env, 'waits')).toEqual([]); // nowhere else
    big.dispose();
  });
});

describe('scenario: migration limits and timeouts', () => {
  it('never runs more than parallelOutboundMigrationsPerNode from one node; all complete', async () => {
    await using env = await SimEnv.create({
      nodes: [{ name: 'src' }, { name: 'dst-a' }, { name: 'dst-b' }],
      seed: 52,
      trace: { omitConsole: true },
      nodeDefaults: { capacity: { cpu: 8, memory: 32 * 2 ** 30 } },
      engineConfig: { migrations: { parallelOutboundMigrationsPerNode: 2, parallelMigrationsPerCluster: 5 } },
    });
    await nodesReady(env);
    const { store } = env;
    const engine = env.engine!;
    await engine.actions.cordon('dst-a');
    await engine.actions.cordon('dst-b');
    const names = Array.from({ length: 6 }, (_, i) => `m-${i}`);
    for (const n of names) await store.create('VirtualMachine', vm(n, 'Always', { memory: '1Gi' }));
    await env.waitFor(() => allPrintable(store, names, 'Running'), { what: 'running' });
    await engine.actions.uncordon('dst-a');
    await engine.actions.uncordon('dst-b');
    let maxConcurrent = 0;
    const unsub = env.node('src').onEvent(() => {
      const sending = env
        .node('src')
        .domainIds()
        .filter((id) => env.node('src').peek(id)?.migration).length;
      maxConcurrent = Math.max(maxConcurrent, sending);
    });
    const migs: string[] = [];
    for (const n of names) migs.push((await engine.actions.migrate(NS, n)).metadata.name!);
    await env.waitFor(
      async () => {
        for (const m of migs)
          if ((await store.get('VirtualMachineInstanceMigration', NS, m)).status?.phase !== 'Succeeded') return false;
        return true;
      },
      { what: 'all migrated', timeoutMs: 15 * 60_000 },
    );
    unsub();
    expect(maxConcurrent).toBe(2);
    expect(calls(env, 'migrateDomain')).toBe(6);
    for (const n of names) {
      const node = (await store.get('VirtualMachineInstance', NS, n)).status?.nodeName;
      expect(node).not.toBe('src');
      expect(runningOn(env, n)).toEqual([node]);
    }
  });

  it('aborts a migration that exceeds completionTimeoutPerGiB; the VM keeps running on the source', async () => {
    await using env = await SimEnv.create({
      nodes: 2,
      seed: 53,
      trace: { omitConsole: true },
      nodeDefaults: { capacity: { cpu: 8, memory: 32 * 2 ** 30 } },
      // 1 s per GiB of an 8 GiB guest: far less than the transfer takes.
      engineConfig: { migrations: { completionTimeoutPerGiB: 1 } },
    });
    await nodesReady(env);
    const { store } = env;
    await store.create('VirtualMachine', vm('heavy', 'Always', { memory: '8Gi' }));
    await env.waitFor(async () => (await printable(store, 'heavy')) === 'Running', { what: 'running' });
    const source = (await store.get('VirtualMachineInstance', NS, 'heavy')).status!.nodeName!;
    const mig = await env.engine!.actions.migrate(NS, 'heavy');
    await env.waitFor(
      async () =>
        (await store.get('VirtualMachineInstanceMigration', NS, mig.metadata.name!)).status?.phase === 'Failed',
      { what: 'migration failed' },
    );
    const failed = await store.get('VirtualMachineInstanceMigration', NS, mig.metadata.name!);
    expect(failed.status?.conditions?.find((c) => c.type === 'Failure')?.reason).toBe('CompletionTimeout');
    const vmi = await store.get('VirtualMachineInstance', NS, 'heavy');
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({ failed: true, completed: false });
    await env.waitFor(async () => (await printable(store, 'heavy')) === 'Running', { what: 'Running on the source' });
    expect(runningOn(env, 'heavy')).toEqual([source]);
  });
});
