import type { DomainEvent } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { CALIBRATION, DEFAULT_TIMING } from '../src/index.ts';
import { rejection, run, summary, vmDef, world } from './helpers.ts';

const A = 'default_a';
const MiB = 2 ** 20;
/** Tests of the pre-copy model itself run on a 100 MiB/s link, whatever the calibrated default is. */
const LINK_100 = { timing: { migrationBandwidth: 100 * MiB } };

async function twoNodes(opts: Parameters<typeof vmDef>[1] = {}, nodeOpts: Parameters<typeof world>[1] = {}) {
  const w = world(1, nodeOpts, ['n1', 'n2']);
  const [src, dst] = w.nodes as [(typeof w.nodes)[0], (typeof w.nodes)[0]];
  await run(w.clock, src.defineDomain(vmDef('a', opts)));
  await run(w.clock, src.startDomain(A));
  await w.clock.advance(10_000);
  w.events.length = 0;
  return { ...w, src, dst };
}

function migrationEvents(events: DomainEvent[]) {
  return events.flatMap((e) => (e.type === 'migration' ? [e] : []));
}

describe('live migration', () => {
  it('converges for an idle 256 MiB guest in about 2 s with tens of ms downtime, like the measurements', async () => {
    const w = await twoNodes();
    const t0 = w.clock.now();
    const result = await run(w.clock, w.src.migrateDomain(A, 'n2'));
    expect(result.targetNode).toBe('n2');
    const measured = CALIBRATION.figures;
    expect(result.durationMs).toBeGreaterThan(measured.migrationWall.min * 0.5);
    expect(result.durationMs).toBeLessThan(measured.migrationWall.max * 1.5);
    expect(result.downtimeMs).toBeGreaterThanOrEqual(Math.floor(measured.migrationDowntime.min * 0.9));
    expect(result.downtimeMs).toBeLessThan(measured.migrationDowntime.max * 1.1 + 10);
    const touched = DEFAULT_TIMING.touchedMemoryFraction * 256 * MiB;
    expect(result.bytesTransferred).toBeGreaterThan(touched * 0.98);
    expect(result.bytesTransferred).toBeLessThan(touched * 1.05);
    expect(w.clock.now() - t0).toBeGreaterThanOrEqual(result.durationMs);
    expect(summary(w.events)).toEqual([
      'n1 migration started',
      'n1 migration progress',
      'n2 lifecycle Started/Migrated',
      'n1 migration completed',
      'n1 lifecycle Stopped/Migrated',
    ]);
    const completed = migrationEvents(w.events).at(-1)!;
    expect(completed.downtimeMs).toBe(result.downtimeMs);
    expect(w.src.peek(A)).toBeUndefined();
    expect(w.dst.peek(A)).toMatchObject({ state: 'running', reason: 'migrated', guestReady: true });
    expect(w.dst.used.vms).toBe(1);
    expect(w.src.used.vms).toBe(0);
    // Undefining on the source afterwards is the usual no-op.
    await run(w.clock, w.src.undefineDomain(A));
  });

  it('iterates more rounds as the dirty rate approaches the bandwidth, with shrinking remainders', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '80Mi' } }, LINK_100);
    const result = await run(w.clock, w.src.migrateDomain(A, 'n2'));
    const progress = migrationEvents(w.events).filter((e) => e.phase === 'progress');
    expect(progress.length).toBeGreaterThan(3);
    expect(result.iterations).toBe(progress.length);
    const remaining = progress.map((e) => e.progress!.dataRemaining);
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]!).toBeLessThan(remaining[i - 1]!);
    expect(progress.map((e) => e.progress!.iteration)).toEqual(progress.map((_, i) => i + 1));
  });

  it('does not converge when the guest dirties faster than the link: fails on the progress timeout, keeps running on the source', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '200Mi' } });
    const e = await rejection(run(w.clock, w.src.migrateDomain(A, 'n2', { progressTimeoutMs: 30_000 })));
    expect(e.reason).toBe('MigrationFailed');
    expect(e.message).toContain('progress timeout');
    const s = summary(w.events);
    expect(s[0]).toBe('n1 migration started');
    expect(s.at(-1)).toBe('n1 migration failed');
    expect(s.filter((x) => x === 'n1 migration progress').length).toBeGreaterThan(3);
    expect(s.some((x) => x.startsWith('n2'))).toBe(false);
    expect(w.src.peek(A)).toMatchObject({ state: 'running' });
    expect(w.dst.used.vms).toBe(0);
    expect(w.dst.domainIds()).toEqual([]);
  });

  it('fails on the completion timeout when it keeps iterating with (slow) progress', async () => {
    const w = await twoNodes(
      { memory: '4Gi', annotations: { 'sim.virtkit.io/dirty-rate': '99Mi' } },
      { capacity: { memory: '16Gi' }, ...LINK_100 },
    );
    const e = await rejection(
      run(w.clock, w.src.migrateDomain(A, 'n2', { completionTimeoutMs: 20_000, progressTimeoutMs: 15_000 })),
    );
    expect(e.message).toContain('completion timeout');
  });

  it('a caller bandwidth cap and max downtime are honoured', async () => {
    const w = await twoNodes();
    const result = await run(
      w.clock,
      w.src.migrateDomain(A, 'n2', { bandwidthBytesPerSec: 10 * MiB, maxDowntimeMs: 50 }),
    );
    // ~85 MiB at 10 MiB/s is ~8.5 s for the first round alone.
    expect(result.durationMs).toBeGreaterThan(8500);
  });

  it('stalls (no more progress) and fails on the progress timeout', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '50Mi' } }, LINK_100);
    w.src.inject({ kind: 'migration-stall', domain: A, afterIteration: 2 });
    const e = await rejection(run(w.clock, w.src.migrateDomain(A, 'n2', { progressTimeoutMs: 10_000 })));
    expect(e.message).toContain('progress timeout');
    expect(migrationEvents(w.events).filter((x) => x.phase === 'progress')).toHaveLength(2);
    expect(w.fabric.faultLog.map((f) => f.fault.kind)).toEqual(['migration-stall']);
  });

  it.each(['setup', 'precopy', 'switchover'] as const)(
    'fails at the chosen phase %s; the guest keeps running on the source',
    async (phase) => {
      const w = await twoNodes();
      w.src.inject({ kind: 'migration-failure', phase, message: `injected ${phase}` });
      const e = await rejection(run(w.clock, w.src.migrateDomain(A, 'n2')));
      expect(e).toMatchObject({ reason: 'MigrationFailed' });
      expect(e.message).toContain(`injected ${phase}`);
      const s = summary(w.events);
      expect(s[0]).toBe('n1 migration started');
      expect(s.at(-1)).toBe('n1 migration failed');
      expect(s.filter((x) => x.includes('progress'))).toHaveLength(phase === 'setup' ? 0 : 1);
      expect(w.src.peek(A)!.state).toBe('running');
      const before = w.src.consoleBacklog(A).length;
      await w.clock.advance(30_000);
      expect(w.src.consoleBacklog(A).length).toBeGreaterThan(before - 1);
      expect(w.dst.used.vms).toBe(0);
    },
  );

  it('abort → aborted event, MigrationAborted, domain stays on the source', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '200Mi' } });
    const migrating = rejection(w.src.migrateDomain(A, 'n2'));
    await w.clock.advance(5_000);
    expect(w.src.peek(A)!.migration!.iteration).toBeGreaterThan(0);
    await run(w.clock, w.src.abortMigration(A));
    const e = await run(w.clock, migrating);
    expect(e.reason).toBe('MigrationAborted');
    expect(summary(w.events).at(-1)).toBe('n1 migration aborted');
    expect(w.src.peek(A)!.migration).toBeUndefined();
    await run(w.clock, w.src.abortMigration(A));
  });

  it('refuses a full target with InsufficientResources and no events', async () => {
    const w = await twoNodes({ memory: '6Gi' });
    await run(w.clock, w.dst.defineDomain(vmDef('b', { memory: '4Gi' })));
    w.events.length = 0;
    const e = await rejection(run(w.clock, w.src.migrateDomain(A, 'n2')));
    expect(e.reason).toBe('InsufficientResources');
    expect(w.events).toEqual([]);
  });

  it('refuses migrating to the same host, an unknown node, or a domain that is not running', async () => {
    const w = await twoNodes();
    expect((await rejection(run(w.clock, w.src.migrateDomain(A, 'n1')))).message).toContain(
      'Attempt to migrate guest to the same host',
    );
    expect((await rejection(run(w.clock, w.src.migrateDomain(A, 'nowhere')))).reason).toBe('MigrationFailed');
    await run(w.clock, w.src.destroyDomain(A));
    expect((await rejection(run(w.clock, w.src.migrateDomain(A, 'n2')))).reason).toBe('InvalidState');
  });

  it('fails when the target crashes mid-migration, or the nodes are partitioned', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '80Mi' } });
    const migrating = rejection(w.src.migrateDomain(A, 'n2'));
    await w.clock.advance(3_000);
    w.dst.crash();
    expect((await run(w.clock, migrating)).message).toContain('unable to connect to target');
    expect(w.src.peek(A)!.state).toBe('running');

    const w2 = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '80Mi' } });
    const m2 = rejection(w2.src.migrateDomain(A, 'n2'));
    await w2.clock.advance(3_000);
    w2.fabric.partition('n1', 'n2');
    expect((await run(w2.clock, m2)).message).toContain('Connection timed out');
    expect(w2.dst.used.vms).toBe(0);
  });

  it('a guest crash during migration fails it first, then the crash sequence follows', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '80Mi' } });
    const migrating = rejection(w.src.migrateDomain(A, 'n2'));
    await w.clock.advance(3_000);
    w.src.crashGuest(A);
    expect((await run(w.clock, migrating)).reason).toBe('MigrationFailed');
    expect(summary(w.events).slice(-3)).toEqual([
      'n1 migration failed',
      'n1 lifecycle Crashed/Panicked',
      'n1 lifecycle Stopped/Crashed',
    ]);
  });

  it('reports progress in getDomain while it runs', async () => {
    const w = await twoNodes({ memory: '1Gi', annotations: { 'sim.virtkit.io/dirty-rate': '80Mi' } });
    const migrating = w.src.migrateDomain(A, 'n2');
    await w.clock.advance(4_000);
    const info = await run(w.clock, w.src.getDomain(A));
    expect(info!.migration).toMatchObject({ dataTotal: 2 ** 30 });
    expect(info!.migration!.dataProcessed).toBeGreaterThan(0);
    await run(w.clock, migrating);
  });
});

describe('migration stall injected while the migration runs', () => {
  it('stops progress at once, even during setup', async () => {
    const w = world(1, {}, ['n1', 'n2']);
    await run(w.clock, w.nodes[0]!.defineDomain(vmDef('a')));
    await run(w.clock, w.nodes[0]!.startDomain(A));
    await w.clock.advance(10_000);
    w.events.length = 0;
    const migrating = rejection(w.nodes[0]!.migrateDomain(A, 'n2', { progressTimeoutMs: 20_000 }));
    await w.clock.advance(100);
    w.nodes[0]!.inject({ kind: 'migration-stall', domain: A });
    expect((await run(w.clock, migrating)).message).toContain('progress timeout');
    expect(summary(w.events)).toEqual(['n1 migration started', 'n1 migration failed']);
  });
});
