// Scheduler throughput: placements per second at 1,000 and 10,000 nodes.
//   - scheduler alone: schedule() + assign() per VMI over a realistic node mix (3 zones, sizes, 5 % tainted,
//     2 % cordoned), requests with and without nodeSelector/tolerations, spread and binpack;
//   - the "0/N nodes are available" explanation when nothing fits (the slow path, uncached);
//   - end to end: a VirtualMachineInstanceReplicaSet of 2,000 VMIs on the engine (MemoryStore, in-test fake
//     nodes that answer at once, virtual clock) until every VMI runs, in wall-clock time;
//   - virtual time from losing a node to all its Always VMs Running elsewhere (default engine config).
// Run: npm run bench -- scheduler
import {
  createEngine,
  DriverRegistry,
  KUBEVIRT_API_VERSION,
  MemoryStore,
  Scheduler,
  type SchedulerNode,
  type SchedulingPolicy,
  seededRandom,
  VirtualClock,
} from '@virtkit/engine';
import { type Fabric, FakeNode } from '../test/controllers/fake-driver.ts';

const GiB = 1024 ** 3;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function nodes(n: number, rnd: () => number): SchedulerNode[] {
  const out: SchedulerNode[] = [];
  for (let i = 0; i < n; i++) {
    const big = rnd() < 0.3;
    out.push({
      name: `node-${String(i).padStart(5, '0')}`,
      labels: {
        'kubernetes.io/hostname': `node-${i}`,
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
        ...(big ? { size: 'large' } : {}),
      },
      taints: rnd() < 0.05 ? [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] : [],
      unschedulable: rnd() < 0.02,
      ready: true,
      allocatable: big
        ? { cpuMillis: 64_000, memoryBytes: 256 * GiB, vms: 250 }
        : { cpuMillis: 16_000, memoryBytes: 64 * GiB, vms: 110 },
    });
  }
  return out;
}

function request(i: number) {
  const base = { cpuMillis: 500 + (i % 4) * 500, memoryBytes: (1 + (i % 3)) * GiB };
  if (i % 5 === 0) return { ...base, nodeSelector: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } };
  if (i % 7 === 0) return { ...base, tolerations: [{ key: 'dedicated', operator: 'Exists' as const }] };
  return base;
}

function schedulerAlone(n: number, policy: SchedulingPolicy): { rate: number; placed: number } {
  const s = new Scheduler({ policy });
  for (const node of nodes(n, seededRandom(n))) s.upsertNode(node);
  // Within capacity: the slow "0/N nodes" path is measured on its own below.
  const placements = n >= 10_000 ? 50_000 : 10_000;
  for (let i = 0; i < 500; i++) s.schedule(request(i)); // warm-up
  gc();
  const start = performance.now();
  let placed = 0;
  for (let i = 0; i < placements; i++) {
    const r = s.schedule(request(i));
    if (r.ok) {
      const q = request(i);
      s.assign(`vm-${i}`, r.node, q.cpuMillis, q.memoryBytes);
      placed++;
    }
  }
  const ms = performance.now() - start;
  return { rate: (placements / ms) * 1000, placed };
}

function explainRate(n: number): number {
  const s = new Scheduler();
  for (const node of nodes(n, seededRandom(n))) s.upsertNode(node);
  const rounds = n >= 10_000 ? 50 : 500;
  const start = performance.now();
  // A different request each round: failures are remembered until something changes, and this measures the
  // first (uncached) explanation.
  for (let i = 0; i < rounds; i++) s.schedule({ cpuMillis: 1_000_000 + i, memoryBytes: GiB });
  return (rounds / (performance.now() - start)) * 1000;
}

async function endToEnd(nodeCount: number, vmis: number): Promise<{ wallMs: number; virtualMs: number }> {
  const clock = new VirtualClock({ autoAdvance: true });
  let uid = 0;
  const store = new MemoryStore({ clock, uid: () => `u-${++uid}`, random: seededRandom(1) });
  const fabric: Fabric = new Map();
  const drivers = new DriverRegistry();
  for (let i = 0; i < nodeCount; i++) {
    drivers.add(
      new FakeNode(`node-${i}`, clock, fabric, { cpuMillis: 64_000, memoryBytes: 256 * GiB, vms: 250, bootMs: 1000 }),
    );
  }
  const engine = createEngine({ store, clock, drivers, random: seededRandom(1), config: { concurrency: 16 } });
  await engine.start();
  while ((await store.list('Node')).items.length < nodeCount) await clock.sleep(100);
  const t0 = performance.now();
  const v0 = clock.now();
  await store.create('VirtualMachineInstanceReplicaSet', {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name: 'bench', namespace: 'default' },
    spec: {
      replicas: vmis,
      selector: { matchLabels: { app: 'bench' } },
      template: {
        metadata: { labels: { app: 'bench' } },
        spec: { domain: { cpu: { cores: 1 }, memory: { guest: '512Mi' }, devices: {} } },
      },
    },
  });
  for (;;) {
    const rs = await store.get('VirtualMachineInstanceReplicaSet', 'default', 'bench');
    if (rs.status?.readyReplicas === vmis) break;
    await clock.sleep(1000);
  }
  const result = { wallMs: performance.now() - t0, virtualMs: clock.now() - v0 };
  clock.autoAdvance = false;
  await engine.stop();
  return result;
}

async function nodeLossRecovery(vms: number): Promise<number> {
  const clock = new VirtualClock({ autoAdvance: true });
  let uid = 0;
  const store = new MemoryStore({ clock, uid: () => `u-${++uid}`, random: seededRandom(2) });
  const fabric: Fabric = new Map();
  const drivers = new DriverRegistry();
  const all = [0, 1, 2].map(
    (i) => new FakeNode(`node-${i}`, clock, fabric, { cpuMillis: 64_000, memoryBytes: 256 * GiB }),
  );
  for (const n of all) drivers.add(n);
  const engine = createEngine({ store, clock, drivers, random: seededRandom(2) });
  await engine.start();
  while ((await store.list('Node')).items.length < 3) await clock.sleep(100);
  for (let i = 0; i < vms; i++) {
    await store.create('VirtualMachine', {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: 'VirtualMachine',
      metadata: { name: `vm-${i}`, namespace: 'default' },
      spec: {
        runStrategy: 'Always',
        template: { spec: { domain: { cpu: { cores: 1 }, memory: { guest: '1Gi' }, devices: {} } } },
      },
    });
  }
  const allRunning = async (avoid?: string) => {
    const list = (await store.list('VirtualMachine')).items;
    if (list.some((v) => v.status?.printableStatus !== 'Running')) return false;
    if (!avoid) return true;
    const vmis = (await store.list('VirtualMachineInstance')).items;
    return vmis.every((v) => v.status?.nodeName !== avoid && v.status?.phase === 'Running');
  };
  while (!(await allRunning())) await clock.sleep(1000);
  const t0 = clock.now();
  all[0]!.partitioned = true;
  while (!(await allRunning('node-0'))) await clock.sleep(250);
  const took = clock.now() - t0;
  clock.autoAdvance = false;
  await engine.stop();
  return took;
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

for (const n of [1_000, 10_000]) {
  for (const policy of ['spread', 'binpack'] as const) {
    const { rate, placed } = schedulerAlone(n, policy);
    console.log(`scheduler alone, ${fmt(n)} nodes, ${policy}: ${fmt(rate)} placements/s (${fmt(placed)} placed)`);
  }
  console.log(`unschedulable explanation, ${fmt(n)} nodes: ${fmt(explainRate(n))} messages/s`);
}
for (const [n, v] of [
  [1_000, 2_000],
  [10_000, 2_000],
] as const) {
  const e = await endToEnd(n, v);
  console.log(
    `end to end, ${fmt(n)} nodes: ${fmt(v)} VMIs Running in ${fmt(e.wallMs)} ms wall (${fmt((v / e.wallMs) * 1000)} VMIs/s), ${fmt(e.virtualMs / 1000)} s virtual`,
  );
}
const rec = await nodeLossRecovery(30);
console.log(
  `node loss → all Always VMs Running elsewhere (30 VMs, 3 nodes, default config): ${(rec / 1000).toFixed(1)} s virtual`,
);
