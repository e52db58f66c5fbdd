import { afterEach, describe, expect, it } from 'vitest';
import type { RunStrategy } from '../../src/index.ts';
import { type Cluster, cluster, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

const readyOf = async (name: string) =>
  (await c!.store.get('Node', undefined, name)).status?.conditions?.find((x) => x.type === 'Ready')?.status;

/** Every domain of `vmName` that runs, over all nodes. */
const runningCopies = (name: string) =>
  c!.nodes.filter((n) => n.running().includes(`${NS}_${name}`)).map((n) => n.nodeName);

describe('node loss', () => {
  it('turns the node NotReady after the window, fails its VMIs and restarts Always/RerunOnFailure elsewhere', async () => {
    c = await cluster({ nodes: 3, config: { heartbeatIntervalMs: 10_000, nodeNotReadyAfterMs: 40_000 } });
    const strategies: [string, RunStrategy][] = [
      ['always', 'Always'],
      ['rerun', 'RerunOnFailure'],
      ['manual', 'Manual'],
      ['once', 'Once'],
    ];
    // Everything starts on node-1 (the others are cordoned meanwhile), then node-1 is lost.
    await c.engine.actions.cordon('node-2');
    await c.engine.actions.cordon('node-3');
    for (const [name, s] of strategies) await c.store.create('VirtualMachine', vm(name, s));
    await c.engine.actions.start(NS, 'manual');
    await c.until(async () => {
      for (const [name] of strategies) if ((await printable(c!, name)) !== 'Running') return false;
      return true;
    }, 'all running');
    for (const [name] of strategies) expect((await getVMI(c, name))?.status?.nodeName).toBe('node-1');
    await c.engine.actions.uncordon('node-2');
    await c.engine.actions.uncordon('node-3');
    const victim = c.node('node-1');
    const t0 = c.clock.now();
    victim.partitioned = true;
    await c.until(async () => (await readyOf(victim.nodeName)) === 'Unknown', 'NotReady');
    const notReadyAfter = c.clock.now() - t0;
    // 40 s after the node was last heard; the last good heartbeat was up to 10 s before the loss.
    expect(notReadyAfter).toBeGreaterThanOrEqual(30_000);
    expect(notReadyAfter).toBeLessThanOrEqual(41_000);
    const node = await c.store.get('Node', undefined, victim.nodeName);
    expect(node.spec?.taints?.map((t) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    await c.until(async () => {
      for (const name of ['always', 'rerun']) {
        if ((await printable(c!, name)) !== 'Running') return false;
        if ((await getVMI(c!, name))?.status?.nodeName === victim.nodeName) return false;
      }
      return true;
    }, 'always and rerun back elsewhere');
    expect(c.clock.now() - t0).toBeLessThan(notReadyAfter + 15_000);
    for (const name of ['manual', 'once']) {
      const vmi = await getVMI(c, name);
      expect(vmi?.status?.phase).toBe('Failed');
      expect(vmi?.status?.reason).toBe('NodeUnresponsive');
      expect(await printable(c, name)).toBe('Stopped');
    }
    const ev = (await c.store.list('Event')).items.filter((e) => e.reason === 'NodeUnresponsive');
    expect(ev.length).toBeGreaterThanOrEqual(1);
    expect((await c.store.list('Event')).items.some((e) => e.reason === 'NodeNotReady')).toBe(true);
  });

  it('partition and heal: the old copy is destroyed before the node is Ready again, never two running', async () => {
    c = await cluster({ nodes: 2 });
    await c.store.create('VirtualMachine', vm('p', 'Always'));
    await c.until(async () => (await printable(c!, 'p')) === 'Running', 'running');
    const first = c.node((await getVMI(c, 'p'))!.status!.nodeName!);
    const other = c.nodes.find((n) => n !== first)!;
    first.partitioned = true;
    await c.until(
      async () =>
        (await getVMI(c!, 'p'))?.status?.nodeName === other.nodeName && (await printable(c!, 'p')) === 'Running',
      'moved',
    );
    // During the partition the engine only knows the new copy; the old node is fenced off.
    expect(other.running()).toEqual([`${NS}_p`]);
    // Heal: before Ready=True is written, the stale domain must be gone.
    let readyWhileStale = false;
    const stop = new AbortController();
    const watching = (async () => {
      for await (const ev of c!.store.watch('Node', {
        signal: stop.signal,
        fieldSelector: `metadata.name=${first.nodeName}`,
      })) {
        const ready = ev.object.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
        if (ready && first.running().length > 0) readyWhileStale = true;
      }
    })().catch(() => {});
    first.partitioned = false;
    await c.until(async () => (await readyOf(first.nodeName)) === 'True', 'healed');
    stop.abort();
    await watching;
    expect(readyWhileStale).toBe(false);
    expect(first.domains.size).toBe(0);
    expect(first.count('destroyDomain')).toBe(1);
    expect(first.count('undefineDomain')).toBe(1);
    expect(runningCopies('p')).toEqual([other.nodeName]);
    expect((await c.store.list('Event')).items.some((e) => e.reason === 'FencedDomain')).toBe(true);
  });

  it('a short blip inside the window changes nothing', async () => {
    c = await cluster({ nodes: 2, config: { nodeNotReadyAfterMs: 40_000 } });
    await c.store.create('VirtualMachine', vm('b', 'Always'));
    await c.until(async () => (await printable(c!, 'b')) === 'Running', 'running');
    const vmi = (await getVMI(c, 'b'))!;
    const n = c.node(vmi.status!.nodeName!);
    n.partitioned = true;
    await c.clock.advance(25_000);
    n.partitioned = false;
    await c.clock.advance(60_000);
    await c.engine.settled();
    expect(await readyOf(n.nodeName)).toBe('True');
    expect((await getVMI(c, 'b'))?.metadata.uid).toBe(vmi.metadata.uid);
    expect(runningCopies('b')).toEqual([n.nodeName]);
  });

  it('deleting a VMI on a dead node releases the finalizer after the timeout with a clear condition and event', async () => {
    c = await cluster({ nodes: 2, config: { deadNodeDeleteTimeoutMs: 120_000, nodeNotReadyAfterMs: 40_000 } });
    await c.store.create('VirtualMachine', vm('d', 'Manual'));
    await c.engine.actions.start(NS, 'd');
    await c.until(async () => (await printable(c!, 'd')) === 'Running', 'running');
    const n = c.node((await getVMI(c, 'd'))!.status!.nodeName!);
    n.partitioned = true;
    const t0 = c.clock.now();
    // The condition is on the VMI's last state, which watchers see (the DELETED event carries it).
    let sawCondition = false;
    const stop = new AbortController();
    const watching = (async () => {
      for await (const ev of c!.store.watch('VirtualMachineInstance', { signal: stop.signal })) {
        if (ev.object.status?.conditions?.some((x) => x.type === 'DomainCleanupSkipped' && x.status === 'True')) {
          sawCondition = true;
        }
      }
    })().catch(() => {});
    await c.store.delete('VirtualMachineInstance', NS, 'd');
    await c.until(async () => (await getVMI(c!, 'd')) === undefined, 'VMI gone', 10 * 60_000);
    stop.abort();
    await watching;
    const took = c.clock.now() - t0;
    expect(took).toBeGreaterThanOrEqual(120_000);
    expect(took).toBeLessThan(130_000);
    expect(sawCondition).toBe(true);
    const ev = (await c.store.list('Event')).items.find((e) => e.reason === 'DomainCleanupSkipped');
    expect(ev?.type).toBe('Warning');
    expect(ev?.message).toMatch(/unreachable/);
    expect(await printable(c, 'd')).toBe('Stopped');
    // When the node comes back its orphan is destroyed before it is Ready.
    n.partitioned = false;
    await c.until(async () => (await readyOf(n.nodeName)) === 'True', 'healed');
    expect(n.domains.size).toBe(0);
    expect((await getVM(c, 'd'))?.status?.printableStatus).toBe('Stopped');
  });

  it('a VMI deleted while its node is only briefly unreachable is cleaned up properly when it answers again', async () => {
    c = await cluster({ nodes: 1, config: { deadNodeDeleteTimeoutMs: 300_000, nodeNotReadyAfterMs: 40_000 } });
    await c.store.create('VirtualMachine', vm('e', 'Manual', { terminationGracePeriodSeconds: 5 }));
    await c.engine.actions.start(NS, 'e');
    await c.until(async () => (await printable(c!, 'e')) === 'Running', 'running');
    const n = c.nodes[0]!;
    n.partitioned = true;
    await c.store.delete('VirtualMachineInstance', NS, 'e');
    await c.clock.advance(20_000);
    expect(await getVMI(c, 'e')).toBeDefined();
    n.partitioned = false;
    await c.until(async () => (await getVMI(c!, 'e')) === undefined, 'VMI gone');
    expect(n.domains.size).toBe(0);
    expect(n.count('destroyDomain')).toBeGreaterThanOrEqual(1);
    expect((await c.store.list('Event')).items.some((e) => e.reason === 'DomainCleanupSkipped')).toBe(false);
  });

  it('a healthy node is swept for orphan domains every few minutes', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('live', 'Always'));
    await c.until(async () => (await printable(c!, 'live')) === 'Running', 'running');
    const n = c.nodes[0]!;
    await n.defineDomain({
      id: `${NS}_stray`,
      uid: 'stray-uid',
      name: 'stray',
      namespace: NS,
      spec: (await getVMI(c, 'live'))!.spec,
    });
    await n.startDomain(`${NS}_stray`);
    const t0 = c.clock.now();
    await c.until(async () => !n.domains.has(`${NS}_stray`), 'stray destroyed', 10 * 60_000);
    expect(c.clock.now() - t0).toBeLessThanOrEqual(5 * 60_000 + 15_000);
    expect(n.running()).toEqual([`${NS}_live`]);
  });

  it('on start, adopts running domains and destroys orphans', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('keep', 'Always'));
    await c.until(async () => (await printable(c!, 'keep')) === 'Running', 'running');
    const n = c.nodes[0]!;
    // An orphan appears on the node (e.g. left over from a store that was lost).
    await n.defineDomain({
      id: `${NS}_ghost`,
      uid: 'ghost-uid',
      name: 'ghost',
      namespace: NS,
      spec: (await getVMI(c, 'keep'))!.spec,
    });
    await n.startDomain(`${NS}_ghost`);
    const before = n.calls.length;
    await c.restart();
    await c.until(async () => !n.domains.has(`${NS}_ghost`), 'orphan destroyed');
    const after = n.calls.slice(before);
    expect(after).toEqual([`destroyDomain ${NS}_ghost`, `undefineDomain ${NS}_ghost`]);
    expect(n.running()).toEqual([`${NS}_keep`]);
    expect(await printable(c, 'keep')).toBe('Running');
  });
});
