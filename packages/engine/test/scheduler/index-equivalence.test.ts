import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Affinity } from '../../src/resources/kubevirt.ts';
import { type PlacementRequest, Scheduler, type SchedulerNode } from '../../src/scheduler/scheduler.ts';

const GiB = 1024 ** 3;
/** A preferred term that matches nothing: forces the full scan without changing any score. */
const NEUTRAL: Affinity = {
  nodeAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [
      { weight: 1, preference: { matchExpressions: [{ key: 'never-set', operator: 'Exists' }] } },
    ],
  },
};

const nodeArb = (i: number) =>
  fc
    .record({
      shape: fc.constantFrom(0, 1, 2),
      zone: fc.constantFrom('a', 'b', 'c'),
      tainted: fc.constantFrom('none', 'none', 'none', 'hard', 'soft'),
      unschedulable: fc.boolean(),
      ready: fc.constantFrom(true, true, true, false),
    })
    .map(
      (r): SchedulerNode => ({
        name: `n${String(i).padStart(3, '0')}`,
        labels: { zone: r.zone },
        taints:
          r.tainted === 'hard'
            ? [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]
            : r.tainted === 'soft'
              ? [{ key: 'soft', effect: 'PreferNoSchedule' }]
              : [],
        unschedulable: r.unschedulable && i % 4 === 0,
        ready: r.ready,
        allocatable: [
          { cpuMillis: 4000, memoryBytes: 8 * GiB, vms: 10 },
          { cpuMillis: 16000, memoryBytes: 32 * GiB, vms: 50 },
          { cpuMillis: 2000, memoryBytes: 16 * GiB, vms: 4 },
        ][r.shape]!,
      }),
    );

const reqArb = fc.record({
  cpu: fc.constantFrom(250, 500, 1000, 2000),
  mem: fc.constantFrom(0.5, 1, 2, 4),
  zone: fc.constantFrom(undefined, 'a', 'b'),
  tolerate: fc.boolean(),
  exclude: fc.constantFrom(undefined, 'n000', 'n001'),
});

describe('indexed placement equals a full scan', () => {
  for (const policy of ['spread', 'binpack'] as const) {
    it(`${policy}: same node as scoring every node, over random clusters and churn`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(i)))),
          fc.array(fc.tuple(reqArb, fc.nat(9)), { minLength: 1, maxLength: 60 }),
          (nodes, steps) => {
            const s = new Scheduler({ policy });
            for (const n of nodes) s.upsertNode(n);
            steps.forEach(([r, op], k) => {
              const req: PlacementRequest = {
                cpuMillis: r.cpu,
                memoryBytes: r.mem * GiB,
                ...(r.zone ? { nodeSelector: { zone: r.zone } } : {}),
                ...(r.tolerate ? { tolerations: [{ key: 'dedicated', operator: 'Exists' as const }] } : {}),
                ...(r.exclude ? { excludeNodes: [r.exclude] } : {}),
              };
              const fast = s.schedule(req);
              const full = s.schedule({ ...req, affinity: NEUTRAL });
              expect(fast.ok ? fast.node : fast.message).toBe(full.ok ? full.node : full.message);
              if (fast.ok) s.assign(`vm${k}`, fast.node, req.cpuMillis, req.memoryBytes);
              // Churn: free something, or change a node's labels/readiness.
              if (op === 0 && k > 0) s.release(`vm${k - 1}`);
              if (op === 1) {
                const n = nodes[k % nodes.length]!;
                s.upsertNode({ ...n, labels: { zone: n.labels.zone === 'a' ? 'b' : 'a' } });
              }
              if (op === 2) {
                const n = nodes[(k * 7) % nodes.length]!;
                s.upsertNode({ ...n, ready: !n.ready });
              }
            });
          },
        ),
        { numRuns: 200, seed: 42 },
      );
    });
  }
});
