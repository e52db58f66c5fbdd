import { afterEach, describe, expect, it } from 'vitest';
import { IllegalTransitionError, type VirtualMachineInstanceMigration } from '../../src/index.ts';
import { type Cluster, cluster, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

const domain = (name: string) => `${NS}_${name}`;

async function startAll(names: string[], spec = {}) {
  for (const n of names) await c!.store.create('VirtualMachine', vm(n, 'Always', spec));
  await c!.until(async () => {
    for (const n of names) if ((await printable(c!, n)) !== 'Running') return false;
    return true;
  }, 'all running');
}

async function migration(name: string): Promise<VirtualMachineInstanceMigration> {
  return c!.store.get('VirtualMachineInstanceMigration', NS, name);
}

describe('live migration', () => {
  it('moves a running VM, with KubeVirt phases, Migrating status and migrationState', async () => {
    c = await cluster({ nodes: 2 });
    await startAll(['m']);
    const before = (await getVMI(c, 'm'))!;
    const source = before.status!.nodeName!;
    const mig = await c.engine.actions.migrate(NS, 'm');
    let sawMigrating = false;
    await c.until(async () => {
      if ((await printable(c!, 'm')) === 'Migrating') sawMigrating = true;
      return (await migration(mig.metadata.name!)).status?.phase === 'Succeeded';
    }, 'migration Succeeded');
    expect(sawMigrating).toBe(true);
    const after = (await getVMI(c, 'm'))!;
    const target = after.status!.nodeName!;
    expect(target).not.toBe(source);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.status?.migrationState).toMatchObject({
      sourceNode: source,
      targetNode: target,
      completed: true,
      failed: false,
      downtimeMs: 25,
      migrationUid: mig.metadata.name,
    });
    expect(after.status?.migrationState?.startTimestamp).toBeDefined();
    expect(after.status?.migrationState?.endTimestamp).toBeDefined();
    const m = await migration(mig.metadata.name!);
    expect(m.status?.phaseTransitionTimestamps?.map((p) => p.phase)).toEqual([
      'Scheduling',
      'Scheduled',
      'PreparingTarget',
      'TargetReady',
      'Running',
      'Succeeded',
    ]);
    await c.until(async () => (await printable(c!, 'm')) === 'Running', 'Running again');
    expect(c.node(target).running()).toEqual([domain('m')]);
    expect(c.node(source).domains.size).toBe(0); // the source definition was undefined
    expect(c.node(source).count('migrateDomain')).toBe(1);
    expect((await c.store.list('Event')).items.some((e) => e.reason === 'Migrated')).toBe(true);
  });

  it('honours targetNode and refuses the source or a second migration', async () => {
    c = await cluster({ nodes: 3 });
    await startAll(['t']);
    const source = (await getVMI(c, 't'))!.status!.nodeName!;
    await expect(c.engine.actions.migrate(NS, 't', { targetNode: source })).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    const target = c.nodes
      .map((n) => n.nodeName)
      .filter((n) => n !== source)
      .sort()
      .at(-1)!;
    await c.engine.actions.migrate(NS, 't', { targetNode: target });
    await expect(c.engine.actions.migrate(NS, 't')).rejects.toThrow(/already in progress/);
    await c.until(async () => (await getVMI(c!, 't'))?.status?.nodeName === target, 'on target');
  });

  it('a failed migration leaves the VM running on the source', async () => {
    c = await cluster({ nodes: 2 });
    await startAll(['f']);
    const source = (await getVMI(c, 'f'))!.status!.nodeName!;
    c.node(source).failMigrations = true;
    const mig = await c.engine.actions.migrate(NS, 'f');
    await c.until(async () => (await migration(mig.metadata.name!)).status?.phase === 'Failed', 'Failed');
    const vmi = (await getVMI(c, 'f'))!;
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.phase).toBe('Running');
    expect(vmi.status?.migrationState).toMatchObject({ failed: true, completed: false });
    expect(c.node(source).running()).toEqual([domain('f')]);
    await c.until(async () => (await printable(c!, 'f')) === 'Running', 'Running');
    expect((await c.store.list('Event')).items.some((e) => e.reason === 'MigrationFailed')).toBe(true);
  });

  it('cancelling (deleting the migration) aborts it; the VM stays on the source', async () => {
    c = await cluster({ nodes: 2 });
    await startAll(['x']);
    const source = (await getVMI(c, 'x'))!.status!.nodeName!;
    c.node(source).stallMigrations = true;
    const mig = await c.engine.actions.migrate(NS, 'x');
    await c.until(async () => (await printable(c!, 'x')) === 'Migrating', 'Migrating');
    await c.engine.actions.cancelMigration(NS, 'x');
    await c.until(
      async () => !(await c!.store.tryGet('VirtualMachineInstanceMigration', NS, mig.metadata.name!)),
      'migration object gone',
    );
    expect(c.node(source).count('abortMigration')).toBe(1);
    const vmi = (await getVMI(c, 'x'))!;
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', failed: true });
    await c.until(async () => (await printable(c!, 'x')) === 'Running', 'Running');
    await expect(c.engine.actions.cancelMigration(NS, 'x')).rejects.toThrow(/no migration is in progress/);
  });

  it('a stalled migration is aborted after progressTimeout', async () => {
    c = await cluster({ nodes: 2, config: { migrations: { progressTimeout: 30, completionTimeoutPerGiB: 800 } } });
    await startAll(['s']);
    const source = (await getVMI(c, 's'))!.status!.nodeName!;
    c.node(source).stallMigrations = true;
    const t0 = c.clock.now();
    const mig = await c.engine.actions.migrate(NS, 's');
    await c.until(async () => (await migration(mig.metadata.name!)).status?.phase === 'Failed', 'Failed');
    const took = c.clock.now() - t0;
    // Progress stops shrinking after the first report (~0.8 s in); the abort follows 30 s later.
    expect(took).toBeGreaterThanOrEqual(30_000);
    expect(took).toBeLessThan(36_000);
    expect(c.node(source).count('abortMigration')).toBe(1);
    expect((await migration(mig.metadata.name!)).status?.conditions?.find((x) => x.type === 'Failure')?.reason).toBe(
      'ProgressTimeout',
    );
  });

  it('a migration slower than completionTimeoutPerGiB × memory is aborted', async () => {
    c = await cluster({
      nodes: [{ migrationMs: 10 * 60_000 }, { migrationMs: 10 * 60_000 }],
      config: { migrations: { completionTimeoutPerGiB: 60, progressTimeout: 600 } },
    });
    await startAll(['slow'], { domain: { cpu: { cores: 1 }, memory: { guest: '2Gi' }, devices: {} } });
    const t0 = c.clock.now();
    const mig = await c.engine.actions.migrate(NS, 'slow');
    await c.until(async () => (await migration(mig.metadata.name!)).status?.phase === 'Failed', 'Failed', 20 * 60_000);
    const took = c.clock.now() - t0;
    expect(took).toBeGreaterThanOrEqual(120_000); // 60 s/GiB × 2 GiB
    expect(took).toBeLessThan(125_000);
    expect((await migration(mig.metadata.name!)).status?.conditions?.find((x) => x.type === 'Failure')?.reason).toBe(
      'CompletionTimeout',
    );
  });

  it('queues migrations beyond parallelOutboundMigrationsPerNode and parallelMigrationsPerCluster', async () => {
    c = await cluster({
      nodes: [{ name: 'src', migrationMs: 60_000 }, { name: 'dst1' }, { name: 'dst2' }],
      config: { migrations: { parallelOutboundMigrationsPerNode: 2, parallelMigrationsPerCluster: 3 } },
    });
    await c.engine.actions.cordon('dst1');
    await c.engine.actions.cordon('dst2');
    const names = ['q1', 'q2', 'q3', 'q4', 'q5'];
    await startAll(names);
    await c.engine.actions.uncordon('dst1');
    await c.engine.actions.uncordon('dst2');
    const migs: string[] = [];
    for (const n of names) {
      migs.push((await c.engine.actions.migrate(NS, n)).metadata.name!);
      await c.clock.advance(1000); // distinct creation times: admitted in this order
    }
    let maxActive = 0;
    await c.until(
      async () => {
        const phases = await Promise.all(migs.map(async (m) => (await migration(m)).status?.phase ?? 'Pending'));
        const active = phases.filter((p) => !['Pending', 'Succeeded', 'Failed'].includes(p)).length;
        maxActive = Math.max(maxActive, active);
        return phases.every((p) => p === 'Succeeded');
      },
      'all migrated',
      30 * 60_000,
    );
    expect(maxActive).toBe(2);
    const done = await Promise.all(
      migs.map(async (m) =>
        Date.parse((await migration(m)).status!.phaseTransitionTimestamps!.at(-1)!.phaseTransitionTimestamp),
      ),
    );
    // Two at a time from one node: three waves of ~60 s.
    expect(done[4]! - done[0]!).toBeGreaterThanOrEqual(110_000);
    for (const n of names) expect((await getVMI(c, n))?.status?.nodeName).not.toBe('src');
  });

  it('parallelMigrationsPerCluster caps migrations across source nodes', async () => {
    c = await cluster({
      nodes: [{ name: 'a', migrationMs: 60_000 }, { name: 'b', migrationMs: 60_000 }, { name: 'c' }],
      config: { migrations: { parallelOutboundMigrationsPerNode: 5, parallelMigrationsPerCluster: 3 } },
    });
    await c.engine.actions.cordon('c');
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    await startAll(names);
    await c.engine.actions.uncordon('c');
    await c.engine.actions.cordon('a');
    await c.engine.actions.cordon('b');
    const migs: string[] = [];
    for (const n of names) migs.push((await c.engine.actions.migrate(NS, n)).metadata.name!);
    let maxActive = 0;
    await c.until(
      async () => {
        const phases = await Promise.all(migs.map(async (m) => (await migration(m)).status?.phase ?? 'Pending'));
        maxActive = Math.max(maxActive, phases.filter((p) => !['Pending', 'Succeeded', 'Failed'].includes(p)).length);
        return phases.every((p) => p === 'Succeeded');
      },
      'all migrated',
      30 * 60_000,
    );
    expect(maxActive).toBe(3);
  });

  it('a VM that is not live-migratable is refused', async () => {
    c = await cluster({ nodes: 2 });
    await startAll(['hd'], {
      volumes: [{ name: 'local', hostDisk: { path: '/var/lib/x.img', type: 'Disk' } }],
      domain: { cpu: { cores: 1 }, memory: { guest: '1Gi' }, devices: { disks: [{ name: 'local', disk: {} }] } },
    });
    const cond = (await getVMI(c, 'hd'))?.status?.conditions?.find((x) => x.type === 'LiveMigratable');
    expect(cond).toMatchObject({ status: 'False', reason: 'HostDiskNotLiveMigratable' });
    await expect(c.engine.actions.migrate(NS, 'hd')).rejects.toThrow(/not live-migratable/);
  });

  it('a migration with no possible target fails Unschedulable after the pending timeout', async () => {
    c = await cluster({ nodes: 2 });
    await startAll(['u']);
    const source = (await getVMI(c, 'u'))!.status!.nodeName!;
    const other = c.nodes.find((n) => n.nodeName !== source)!.nodeName;
    await c.engine.actions.cordon(other);
    const mig = await c.engine.actions.migrate(NS, 'u');
    await c.until(async () => (await migration(mig.metadata.name!)).status?.phase === 'Scheduling', 'Scheduling');
    const m1 = await migration(mig.metadata.name!);
    expect(m1.status?.conditions?.find((x) => x.type === 'PodScheduled')?.message).toBe(
      "0/2 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) were unschedulable.",
    );
    await c.until(async () => (await migration(mig.metadata.name!)).status?.phase === 'Failed', 'Failed', 10 * 60_000);
    expect((await getVMI(c, 'u'))?.status?.nodeName).toBe(source);
  });
});
