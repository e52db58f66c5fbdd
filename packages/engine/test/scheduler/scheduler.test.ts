import { describe, expect, it } from 'vitest';
import { seededRandom as seeded } from '../../src/engine.ts';
import { UnschedulableError } from '../../src/errors.ts';
import { Scheduler, type SchedulerNode } from '../../src/scheduler/scheduler.ts';

const GiB = 1024 ** 3;

function node(name: string, over: Partial<SchedulerNode> = {}): SchedulerNode {
  return {
    name,
    labels: {},
    taints: [],
    unschedulable: false,
    ready: true,
    allocatable: { cpuMillis: 4000, memoryBytes: 8 * GiB, vms: 110 },
    ...over,
  };
}

const small = { cpuMillis: 500, memoryBytes: 1 * GiB };

describe('Scheduler scoring', () => {
  it('spreads by least allocation, breaking ties by node name', () => {
    const s = new Scheduler();
    for (const n of ['c', 'a', 'b']) s.upsertNode(node(n));
    const placed: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = s.scheduleOrThrow(small);
      s.assign(`vm${i}`, r, small.cpuMillis, small.memoryBytes);
      placed.push(r);
    }
    expect(placed).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('spread prefers the node with more free room relative to its size', () => {
    const s = new Scheduler();
    s.upsertNode(node('small', { allocatable: { cpuMillis: 2000, memoryBytes: 4 * GiB, vms: 110 } }));
    s.upsertNode(node('big', { allocatable: { cpuMillis: 16000, memoryBytes: 64 * GiB, vms: 110 } }));
    expect(s.scheduleOrThrow(small)).toBe('big');
  });

  it('binpack fills the most allocated node first', () => {
    const s = new Scheduler({ policy: 'binpack' });
    for (const n of ['a', 'b', 'c']) s.upsertNode(node(n));
    s.assign('existing', 'b', 1000, GiB);
    const placed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = s.scheduleOrThrow(small);
      s.assign(`vm${i}`, r, small.cpuMillis, small.memoryBytes);
      placed.push(r);
    }
    expect(placed).toEqual(['b', 'b', 'b', 'b']);
  });

  it('binpack moves on when the fullest node no longer fits', () => {
    const s = new Scheduler({ policy: 'binpack' });
    s.upsertNode(node('a', { allocatable: { cpuMillis: 1000, memoryBytes: 2 * GiB, vms: 110 } }));
    s.upsertNode(node('b'));
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = s.scheduleOrThrow(small);
      s.assign(`vm${i}`, r, small.cpuMillis, small.memoryBytes);
      placed.push(r);
    }
    expect(placed).toEqual(['a', 'a', 'b']);
  });

  it('random tie-breaking is reproducible from the seed and varies across seeds', () => {
    const run = (seed: number) => {
      const s = new Scheduler({ tieBreak: 'random', random: seeded(seed) });
      for (let i = 0; i < 20; i++) s.upsertNode(node(`n${String(i).padStart(2, '0')}`));
      return Array.from({ length: 5 }, (_, i) => {
        const r = s.scheduleOrThrow(small);
        s.assign(`vm${i}`, r, small.cpuMillis, small.memoryBytes);
        return r;
      });
    };
    expect(run(7)).toEqual(run(7));
    const seeds = new Set([1, 2, 3, 4, 5].map((x) => run(x).join()));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('random tie-breaking needs a random source', () => {
    expect(() => new Scheduler({ tieBreak: 'random' })).toThrow(TypeError);
  });

  it('ranks untolerated PreferNoSchedule taints last but still uses them', () => {
    const s = new Scheduler();
    s.upsertNode(node('a', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }));
    s.upsertNode(node('b', { allocatable: { cpuMillis: 1000, memoryBytes: 2 * GiB, vms: 110 } }));
    expect(s.scheduleOrThrow(small)).toBe('b');
    s.assign('x', 'b', 1000, 2 * GiB);
    expect(s.scheduleOrThrow(small)).toBe('a');
    expect(s.scheduleOrThrow({ ...small, tolerations: [{ key: 'soft', operator: 'Exists' }] })).toBe('a');
  });

  it('adds preferred node affinity weights to the score', () => {
    const s = new Scheduler();
    s.upsertNode(node('a'));
    s.upsertNode(node('b', { labels: { disk: 'ssd' } }));
    const affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 50, preference: { matchExpressions: [{ key: 'disk', operator: 'In' as const, values: ['ssd'] }] } },
        ],
      },
    };
    expect(s.scheduleOrThrow(small)).toBe('a');
    expect(s.scheduleOrThrow({ ...small, affinity })).toBe('b');
  });
});

describe('Scheduler filters and messages', () => {
  it('skips nodes that are not ready, cordoned, tainted, unselected or excluded', () => {
    const s = new Scheduler();
    s.upsertNode(node('a-notready', { ready: false }));
    s.upsertNode(node('b-cordoned', { unschedulable: true }));
    s.upsertNode(node('c-tainted', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }));
    s.upsertNode(node('d-other-zone', { labels: { zone: 'b' } }));
    s.upsertNode(node('e-source', { labels: { zone: 'a' } }));
    s.upsertNode(node('f-good', { labels: { zone: 'a' } }));
    const r = s.schedule({ ...small, nodeSelector: { zone: 'a' }, excludeNodes: ['e-source'] });
    expect(r).toMatchObject({ ok: true, node: 'f-good' });
    s.removeNode('f-good');
    const r2 = s.schedule({ ...small, nodeSelector: { zone: 'a' }, excludeNodes: ['e-source'] });
    expect(r2.ok).toBe(false);
    if (r2.ok) return;
    expect(r2.message).toBe(
      "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
        "1 node(s) didn't match pod anti-affinity rules, 1 node(s) had untolerated taint {dedicated: gpu}, " +
        '1 node(s) were not ready, 1 node(s) were unschedulable.',
    );
  });

  it('counts resource shortfalls per resource like Kubernetes', () => {
    const s = new Scheduler();
    s.upsertNode(node('t', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }));
    for (const n of ['m1', 'm2', 'm3'])
      s.upsertNode(node(n, { allocatable: { cpuMillis: 8000, memoryBytes: GiB, vms: 110 } }));
    const r = s.schedule({ cpuMillis: 1000, memoryBytes: 2 * GiB });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toBe(
      '0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient memory.',
    );
    expect(r.reasons).toEqual({ 'Insufficient memory': 3, 'node(s) had untolerated taint {dedicated: gpu}': 1 });
  });

  it('reports cpu, memory and VM-count limits together on one node', () => {
    const s = new Scheduler();
    s.upsertNode(node('a', { allocatable: { cpuMillis: 1000, memoryBytes: GiB, vms: 1 } }));
    s.assign('x', 'a', 800, 0.5 * GiB);
    const r = s.schedule({ cpuMillis: 500, memoryBytes: GiB });
    expect(r.ok ? r.node : r.message).toBe(
      '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods.',
    );
  });

  it('a request that exactly fills the node fits', () => {
    const s = new Scheduler();
    s.upsertNode(node('a', { allocatable: { cpuMillis: 1000, memoryBytes: GiB, vms: 1 } }));
    expect(s.schedule({ cpuMillis: 1000, memoryBytes: GiB })).toMatchObject({ ok: true, node: 'a' });
  });

  it('honours required node affinity and tolerations', () => {
    const s = new Scheduler();
    s.upsertNode(
      node('gpu1', { labels: { gpu: 'yes' }, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
    );
    s.upsertNode(node('cpu1'));
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' as const }] }],
        },
      },
    };
    const r = s.schedule({ ...small, affinity });
    expect(r.ok ? r.node : r.message).toBe(
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}.",
    );
    const tolerations = [{ key: 'dedicated', operator: 'Equal' as const, value: 'gpu', effect: 'NoSchedule' as const }];
    expect(s.schedule({ ...small, affinity, tolerations })).toMatchObject({ ok: true, node: 'gpu1' });
  });

  it('NoExecute taints also block, empty-key Exists tolerates all', () => {
    const s = new Scheduler();
    s.upsertNode(node('a', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }));
    expect(s.schedule(small)).toMatchObject({
      ok: false,
      message: '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.',
    });
    expect(s.schedule({ ...small, tolerations: [{ operator: 'Exists' }] })).toMatchObject({ ok: true, node: 'a' });
  });

  it('a remembered failure is forgotten as soon as nodes or usage change', () => {
    const s = new Scheduler();
    s.upsertNode(node('a', { allocatable: { cpuMillis: 1000, memoryBytes: GiB, vms: 10 } }));
    s.assign('x', 'a', 1000, GiB);
    const req = { cpuMillis: 500, memoryBytes: GiB / 2 };
    expect(s.schedule(req).ok).toBe(false);
    expect(s.schedule({ ...req }).ok).toBe(false);
    s.release('x');
    expect(s.schedule(req)).toMatchObject({ ok: true, node: 'a' });
    s.assign('y', 'a', 1000, GiB);
    expect(s.schedule(req).ok).toBe(false);
    s.upsertNode(node('b'));
    expect(s.schedule(req)).toMatchObject({ ok: true, node: 'b' });
  });

  it('says so when there are no nodes, and throws UnschedulableError', () => {
    const s = new Scheduler();
    expect(s.schedule(small)).toMatchObject({ ok: false, message: '0/0 nodes are available.' });
    expect(() => s.scheduleOrThrow(small)).toThrow(UnschedulableError);
  });
});

describe('Scheduler accounting', () => {
  it('assign is idempotent, moves on re-assign, release frees', () => {
    const s = new Scheduler();
    s.upsertNode(node('a'));
    s.upsertNode(node('b'));
    s.assign('k', 'a', 1000, GiB);
    s.assign('k', 'a', 1000, GiB);
    expect(s.usage('a')).toEqual({ cpuMillis: 1000, memoryBytes: GiB, vms: 1 });
    s.assign('k', 'b', 1000, GiB);
    expect(s.usage('a')).toEqual({ cpuMillis: 0, memoryBytes: 0, vms: 0 });
    expect(s.usage('b')).toEqual({ cpuMillis: 1000, memoryBytes: GiB, vms: 1 });
    expect(s.allocationOf('k')).toEqual({ node: 'b', cpuMillis: 1000, memoryBytes: GiB });
    expect(s.release('k')).toBe(true);
    expect(s.release('k')).toBe(false);
    expect(s.usage('b')).toEqual({ cpuMillis: 0, memoryBytes: 0, vms: 0 });
  });

  it('keeps usage charged to a node across its removal and before it is known', () => {
    const s = new Scheduler();
    s.assign('early', 'late', 3000, 6 * GiB);
    expect(s.usage('late')).toEqual({ cpuMillis: 3000, memoryBytes: 6 * GiB, vms: 1 });
    s.upsertNode(node('late'));
    s.upsertNode(node('other'));
    expect(s.scheduleOrThrow(small)).toBe('other');
    s.removeNode('late');
    expect(s.nodeCount).toBe(1);
    s.upsertNode(node('late'));
    expect(s.usage('late').cpuMillis).toBe(3000);
    s.release('early');
    expect(s.usage('late').cpuMillis).toBe(0);
  });

  it('reuses the slots of removed nodes', () => {
    const s = new Scheduler();
    for (let i = 0; i < 40; i++) s.upsertNode(node(`n${i}`));
    for (let i = 0; i < 40; i += 2) s.removeNode(`n${i}`);
    for (let i = 0; i < 10; i++) s.upsertNode(node(`m${i}`));
    expect(s.nodeCount).toBe(30);
    expect(s.hasNode('n0')).toBe(false);
    expect(s.hasNode('m9')).toBe(true);
    expect(s.scheduleOrThrow(small)).toBe('m0');
  });

  it('notifies when capacity may have appeared, not on unchanged heartbeats', () => {
    const s = new Scheduler();
    let calls = 0;
    s.onCapacity(() => {
      calls++;
    });
    s.upsertNode(node('a', { ready: false }));
    expect(calls).toBe(1);
    s.upsertNode(node('a', { ready: false, labels: {} }));
    expect(calls).toBe(1);
    s.upsertNode(node('a'));
    expect(calls).toBe(2);
    s.upsertNode(node('a', { unschedulable: true }));
    expect(calls).toBe(2);
    s.upsertNode(node('a'));
    expect(calls).toBe(3);
    s.upsertNode(node('a', { labels: { x: '1' } }));
    expect(calls).toBe(4);
    s.assign('k', 'a', 1, 1);
    expect(calls).toBe(4);
    s.release('k');
    expect(calls).toBe(5);
  });
});
