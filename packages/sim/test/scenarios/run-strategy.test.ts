import type { RunStrategy } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { NS, nodesReady, printable, vm } from './helpers.ts';

const vmiOf = (env: SimEnv, name: string) => env.store.tryGet('VirtualMachineInstance', NS, name);

describe('scenario: runStrategy matrix on simulated nodes', () => {
  // What each strategy does: at creation, after a guest crash, after stop, after start.
  const matrix: { strategy: RunStrategy; atCreation: boolean; afterCrash: 'restarted' | 'failed' | 'stopped' }[] = [
    { strategy: 'Always', atCreation: true, afterCrash: 'restarted' },
    { strategy: 'RerunOnFailure', atCreation: true, afterCrash: 'restarted' },
    { strategy: 'Once', atCreation: true, afterCrash: 'failed' },
    { strategy: 'Manual', atCreation: false, afterCrash: 'failed' },
    { strategy: 'Halted', atCreation: false, afterCrash: 'stopped' },
  ];

  it('behaves as KubeVirt documents for each strategy', async () => {
    await using env = await SimEnv.create({ nodes: 2, seed: 41, trace: { omitConsole: true } });
    await nodesReady(env);
    const { store } = env;
    const engine = env.engine!;
    for (const m of matrix) await store.create('VirtualMachine', vm(m.strategy.toLowerCase(), m.strategy));
    await env.waitFor(
      async () => {
        for (const m of matrix) {
          const want = m.atCreation ? 'Running' : 'Stopped';
          if ((await printable(store, m.strategy.toLowerCase())) !== want) return false;
        }
        return true;
      },
      { what: 'creation behaviour' },
    );
    for (const m of matrix) {
      expect(await vmiOf(env, m.strategy.toLowerCase()), m.strategy).toSatisfy(
        (v) => (v !== undefined) === m.atCreation,
      );
    }
    // Manual and Halted run only when started.
    await engine.actions.start(NS, 'manual');
    await engine.actions.start(NS, 'halted');
    expect((await store.get('VirtualMachine', NS, 'halted')).spec.runStrategy).toBe('Always');
    await env.waitFor(
      async () => (await printable(store, 'manual')) === 'Running' && (await printable(store, 'halted')) === 'Running',
      {
        what: 'started',
      },
    );
    // Halted turned Always when started; put it back to Halted (as stop does) for the crash round.
    await engine.actions.stop(NS, 'halted');
    await env.waitFor(async () => (await printable(store, 'halted')) === 'Stopped', { what: 'halted stopped' });

    // Crash every running guest once.
    const uids = new Map<string, string | undefined>();
    for (const m of matrix) {
      const name = m.strategy.toLowerCase();
      const v = await vmiOf(env, name);
      uids.set(name, v?.metadata.uid);
      if (v?.status?.phase === 'Running') env.faults.crashGuest(v.status.nodeName!, `${NS}_${name}`);
    }
    await env.waitFor(
      async () => {
        for (const m of matrix) {
          const name = m.strategy.toLowerCase();
          const v = await vmiOf(env, name);
          if (
            m.afterCrash === 'restarted' &&
            !(v && v.metadata.uid !== uids.get(name) && v.status?.phase === 'Running')
          )
            return false;
          if (m.afterCrash === 'failed' && v?.status?.phase !== 'Failed') return false;
          if (m.afterCrash === 'stopped' && v !== undefined) return false;
        }
        return true;
      },
      { what: 'crash behaviour', timeoutMs: 15 * 60_000 },
    );
    expect(await printable(store, 'once')).toBe('Stopped');
    expect(await printable(store, 'manual')).toBe('Stopped');
    // Once never runs again; Manual runs again when started.
    await expect(engine.actions.start(NS, 'once')).rejects.toThrow(/does not support manual start/);
    await engine.actions.start(NS, 'manual');
    await env.waitFor(async () => (await printable(store, 'manual')) === 'Running', { what: 'manual restarted' });
    expect(engine.errors).toEqual([]);
  });
});

describe('scenario: CrashLoopBackOff', () => {
  it('waits longer after each crash, shows CrashLoopBackOff, and recovers when the guest stops crashing', async () => {
    await using env = await SimEnv.create({
      nodes: 1,
      seed: 42,
      trace: { omitConsole: true },
      engineConfig: { crashLoopBackoff: { initialMs: 10_000, factor: 2, maxMs: 160_000, resetAfterMs: 300_000 } },
    });
    await nodesReady(env);
    const { store } = env;
    await store.create('VirtualMachine', vm('loop', 'Always'));
    const runningAt: number[] = [];
    const crashed = new Set<string>();
    let sawBackOff = false;
    await env.waitFor(
      async () => {
        const v = await vmiOf(env, 'loop');
        if ((await printable(store, 'loop')) === 'CrashLoopBackOff') sawBackOff = true;
        if (v?.status?.phase === 'Running' && !crashed.has(v.metadata.uid!)) {
          crashed.add(v.metadata.uid!);
          runningAt.push(env.clock.now());
          if (crashed.size <= 5) env.faults.crashGuest(v.status.nodeName!, `${NS}_loop`);
        }
        return crashed.size === 6;
      },
      { what: 'six boots', timeoutMs: 30 * 60_000, pollMs: 250 },
    );
    expect(sawBackOff).toBe(true);
    const gaps = runningAt.slice(1).map((t, i) => (t - runningAt[i]!) / 1000);
    // Each gap = back-off (10, 20, 40, 80, 160 s) + the next boot (~5 s of simulated boot).
    const backoff = [10, 20, 40, 80, 160];
    gaps.forEach((g, i) => {
      expect(g, `gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual(backoff[i]!);
      expect(g, `gaps ${gaps.join(', ')}`).toBeLessThan(backoff[i]! + 12);
    });
    expect((await store.get('VirtualMachine', NS, 'loop')).status?.startFailure?.consecutiveFailCount).toBe(5);
    // No more crashes: after a stable run the failure count is forgotten.
    await env.waitFor(async () => (await store.get('VirtualMachine', NS, 'loop')).status?.startFailure === undefined, {
      what: 'reset after a stable run',
      timeoutMs: 10 * 60_000,
    });
    expect(await printable(store, 'loop')).toBe('Running');
  });
});
