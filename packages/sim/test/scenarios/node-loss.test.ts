import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { allPrintable, NS, nodesReady, printable, runningOn, vm } from './helpers.ts';

const readyOf = async (env: SimEnv, node: string) =>
  (await env.store.get('Node', undefined, node)).status?.conditions?.find((c) => c.type === 'Ready')?.status;

async function cluster(seed: number) {
  const env = await SimEnv.create({ nodes: 3, seed, trace: { omitConsole: true } });
  await nodesReady(env);
  return env;
}

/** Starts the VMs on node-1 only (the other nodes cordoned meanwhile). */
async function onNode1(env: SimEnv, vms: Parameters<typeof vm>[], started: string[]) {
  const engine = env.engine!;
  await engine.actions.cordon('node-2');
  await engine.actions.cordon('node-3');
  for (const args of vms) await env.store.create('VirtualMachine', vm(...args));
  for (const n of started) await engine.actions.start(NS, n);
  const running = vms.filter(([, s]) => s !== 'Halted').map(([n]) => n);
  await env.waitFor(() => allPrintable(env.store, running, 'Running'), { what: 'VMs running' });
  await engine.actions.uncordon('node-2');
  await engine.actions.uncordon('node-3');
}

describe('scenario: node crash with Always, Manual and Halted VMs', () => {
  it('restarts the Always VMs elsewhere, leaves Manual failed and Halted stopped', async () => {
    await using env = await cluster(11);
    const always = Array.from({ length: 6 }, (_, i) => `always-${i}`);
    await onNode1(
      env,
      [...always.map((n) => [n, 'Always'] as Parameters<typeof vm>), ['manual', 'Manual'], ['halted', 'Halted']],
      ['manual'],
    );
    const t0 = env.clock.now();
    env.faults.crashNode('node-1');
    await env.waitFor(async () => (await readyOf(env, 'node-1')) === 'Unknown', { what: 'node-1 NotReady' });
    const notReady = env.clock.now() - t0;
    await env.waitFor(
      async () => {
        for (const n of always) {
          if ((await printable(env.store, n)) !== 'Running') return false;
          if ((await env.store.get('VirtualMachineInstance', NS, n)).status?.nodeName === 'node-1') return false;
        }
        return true;
      },
      { what: 'Always VMs running elsewhere' },
    );
    const recovered = env.clock.now() - t0;
    // Then scheduling and a boot of a few seconds.
    // 40 s after the node was last heard; its last good heartbeat was up to 10 s before the crash.
    expect(notReady).toBeGreaterThanOrEqual(30_000);
    expect(notReady).toBeLessThanOrEqual(41_000);
    expect(recovered - notReady).toBeLessThan(15_000);
    const manual = await env.store.get('VirtualMachineInstance', NS, 'manual');
    expect(manual.status).toMatchObject({ phase: 'Failed', reason: 'NodeUnresponsive' });
    expect(await printable(env.store, 'manual')).toBe('Stopped');
    expect(await env.store.tryGet('VirtualMachineInstance', NS, 'halted')).toBeUndefined();
    expect(await printable(env.store, 'halted')).toBe('Stopped');
    for (const n of always) expect(runningOn(env, n).filter((x) => x !== 'node-1')).toHaveLength(1);
    expect(env.engine!.errors).toEqual([]);
  });
});

describe('scenario: partition and heal', () => {
  it('moves the VMs off the partitioned node and destroys the stale copies before it is Ready again', async () => {
    await using env = await cluster(12);
    const names = ['p-0', 'p-1', 'p-2', 'p-3'];
    await onNode1(
      env,
      names.map((n) => [n, 'Always'] as Parameters<typeof vm>),
      [],
    );
    const n1 = env.node('node-1');
    // Invariant checked at every event anywhere: a VM never runs on two nodes that are both Ready; a stale
    // copy can exist only on a node the engine holds NotReady (cut off, then fenced before it is Ready).
    const ready = new Set(['node-1', 'node-2', 'node-3']);
    const nodeWatch = new AbortController();
    const tracking = (async () => {
      for await (const ev of env.store.watch('Node', { signal: nodeWatch.signal })) {
        const r = ev.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (r) ready.add(ev.object.metadata.name!);
        else ready.delete(ev.object.metadata.name!);
      }
    })().catch(() => {});
    let twiceOnReady = false;
    const check = () => {
      for (const n of names) if (runningOn(env, n).filter((node) => ready.has(node)).length > 1) twiceOnReady = true;
    };
    const unsubs = env.nodes.map((n) => n.onEvent(check));
    env.faults.partition('node-1');
    await env.waitFor(
      async () => {
        for (const n of names) {
          const vmi = await env.store.tryGet('VirtualMachineInstance', NS, n);
          if (vmi?.status?.nodeName === 'node-1' || (await printable(env.store, n)) !== 'Running') return false;
        }
        return true;
      },
      { what: 'VMs running elsewhere' },
    );
    // The partitioned node still runs its (fenced-off) copies; nobody can reach them.
    expect(names.every((n) => runningOn(env, n).includes('node-1'))).toBe(true);
    let readyWithStale = false;
    const stop = new AbortController();
    const watching = (async () => {
      for await (const ev of env.store.watch('Node', { signal: stop.signal, fieldSelector: 'metadata.name=node-1' })) {
        const ready = ev.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (ready && n1.domainIds().length > 0) readyWithStale = true;
      }
    })().catch(() => {});
    env.faults.heal('node-1');
    await env.waitFor(async () => (await readyOf(env, 'node-1')) === 'True', { what: 'node-1 Ready again' });
    stop.abort();
    await watching;
    for (const u of unsubs) u();
    nodeWatch.abort();
    await tracking;
    expect(readyWithStale).toBe(false);
    expect(n1.domainIds()).toEqual([]);
    for (const n of names) expect(runningOn(env, n)).toHaveLength(1);
    expect(twiceOnReady).toBe(false);
    const fenced = (await env.store.list('Event')).items.filter((e) => e.reason === 'FencedDomain');
    expect(fenced.reduce((s, e) => s + (e.count ?? 1), 0)).toBe(names.length);
  });
});

describe('scenario: delete on a dead node', () => {
  it('times out to a clear condition and event instead of hanging in Terminating', async () => {
    await using env = await SimEnv.create({
      nodes: 2,
      seed: 13,
      trace: { omitConsole: true },
      engineConfig: { deadNodeDeleteTimeoutMs: 180_000 },
    });
    await nodesReady(env);
    await onNodeOne(env);
    const t0 = env.clock.now();
    env.faults.crashNode('node-1');
    let condition: string | undefined;
    const stop = new AbortController();
    const watching = (async () => {
      for await (const ev of env.store.watch('VirtualMachineInstance', { signal: stop.signal })) {
        const c = ev.object.status?.conditions?.find((x) => x.type === 'DomainCleanupSkipped');
        if (c?.status === 'True') condition = c.message;
      }
    })().catch(() => {});
    await env.store.delete('VirtualMachineInstance', NS, 'doomed');
    await env.waitFor(async () => (await env.store.tryGet('VirtualMachineInstance', NS, 'doomed')) === undefined, {
      what: 'VMI released',
      timeoutMs: 10 * 60_000,
    });
    stop.abort();
    await watching;
    const took = env.clock.now() - t0;
    // deletionTimestamp has second precision, so the timeout may count from up to 1 s before the delete.
    expect(took).toBeGreaterThanOrEqual(179_000);
    expect(took).toBeLessThan(190_000);
    expect(condition).toMatch(/node-1 did not confirm the domain was destroyed/);
    const ev = (await env.store.list('Event')).items.find((e) => e.reason === 'DomainCleanupSkipped');
    expect(ev?.type).toBe('Warning');
    // The node comes back: the domain left behind is destroyed before it is Ready.
    env.faults.restartNode('node-1');
    await env.waitFor(async () => (await readyOf(env, 'node-1')) === 'True', { what: 'node-1 back' });
    expect(runningOn(env, 'doomed')).toEqual([]);
  });
});

async function onNodeOne(env: SimEnv) {
  await env.engine!.actions.cordon('node-2');
  await env.store.create('VirtualMachine', vm('doomed', 'Manual'));
  await env.engine!.actions.start(NS, 'doomed');
  await env.waitFor(async () => (await printable(env.store, 'doomed')) === 'Running', { what: 'doomed Running' });
  await env.engine!.actions.uncordon('node-2');
}
