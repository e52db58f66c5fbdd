import type { DrainProgress } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { allPrintable, calls, NS, nodesReady, runningOn, vm } from './helpers.ts';

describe('scenario: drain a node of a 3-node cluster running 30 VMs', () => {
  it('live-migrates the migratable VMs, restarts the others elsewhere, ends with the node empty', async () => {
    await using env = await SimEnv.create({
      nodes: 3,
      seed: 7,
      trace: { omitConsole: true },
      nodeDefaults: { capacity: { cpu: 8, memory: 32 * 2 ** 30 } },
    });
    const { store } = env;
    const engine = env.engine!;
    await nodesReady(env);
    // All 30 start on node-1 (the others are cordoned while they start).
    await engine.actions.cordon('node-2');
    await engine.actions.cordon('node-3');
    const names = Array.from({ length: 30 }, (_, i) => `vm-${String(i).padStart(2, '0')}`);
    for (const [i, n] of names.entries()) {
      await store.create('VirtualMachine', vm(n, 'Always', i < 20 ? { evictionStrategy: 'LiveMigrate' } : {}));
    }
    await env.waitFor(() => allPrintable(store, names, 'Running'), { what: '30 VMs Running', timeoutMs: 15 * 60_000 });
    for (const n of names) expect(runningOn(env, n)).toEqual(['node-1']);
    await engine.actions.uncordon('node-2');
    await engine.actions.uncordon('node-3');
    const uids = new Map<string, string>();
    for (const n of names) uids.set(n, (await store.get('VirtualMachineInstance', NS, n)).metadata.uid!);

    const seen: DrainProgress[] = [];
    let twice = false;
    const stopWatch = env.node('node-1').onEvent(() => {
      for (const n of names) if (runningOn(env, n).length > 1) twice = true;
    });
    const final = await engine.actions.drain('node-1', { onProgress: (p) => seen.push({ ...p }) });
    stopWatch();

    expect(final).toMatchObject({
      node: 'node-1',
      total: 30,
      remaining: 0,
      done: true,
      migrated: 20,
      evicted: 10,
      blocked: 0,
    });
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.some((p) => p.migrating > 0)).toBe(true);
    // Progress only ever moves forward.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.remaining).toBeLessThanOrEqual(seen[i - 1]!.remaining);
    expect(env.node('node-1').domainIds()).toEqual([]);
    expect((await store.get('Node', undefined, 'node-1')).spec?.unschedulable).toBe(true);
    await env.waitFor(() => allPrintable(store, names, 'Running'), {
      what: 'all Running again',
      timeoutMs: 10 * 60_000,
    });
    for (const [i, n] of names.entries()) {
      const vmi = await store.get('VirtualMachineInstance', NS, n);
      expect(vmi.status?.nodeName).not.toBe('node-1');
      // Live-migrated VMs kept their VMI; the others were restarted as new VMIs.
      if (i < 20) expect(vmi.metadata.uid).toBe(uids.get(n));
      else expect(vmi.metadata.uid).not.toBe(uids.get(n));
      expect(runningOn(env, n)).toHaveLength(1);
    }
    expect(twice).toBe(false);
    expect(calls(env, 'migrateDomain')).toBe(20);
    const migrations = (await store.list('VirtualMachineInstanceMigration')).items;
    expect(migrations.filter((m) => m.status?.phase === 'Succeeded')).toHaveLength(20);
    expect(engine.errors).toEqual([]);
  });
});
