// Scale benchmark, all in virtual time. Prints wall seconds, peak RSS, lifecycle transitions per wall
// second and VMs reaching Running per wall second against KWOK's published ~20 pods/s. Each scenario runs
// in its own Node process, so its peak RSS is its own.
//   npm run bench -- scale
//     1. SimNodes driven directly: 1,000 nodes / 10,000 VMs defined, started to guest-ready, destroyed, undefined.
//     2. Through SimEnv (embedded engine + MemoryStore + SimNodes): 1,000 nodes / SIM_ENV_VMS (default 2,000)
//        VirtualMachines created, all VMIs Running, all deleted and their domains undefined.
//     3. A 1,000-replica VirtualMachineInstanceReplicaSet scaled up on 100 Ready nodes (scheduler placements/s).
//   SIM_BENCH_FULL=1   also the 10,000-VM scenario through SimEnv (1,000 nodes), and the ratio of CPU per VM
//                      at 10,000 to that at SIM_ENV_VMS (1.00: the engine scales linearly)
//   SIM_BENCH_BIG=1    also 10,000 nodes / 100,000 VMs driven directly
//   SIM_BENCH_HUGE=1   also 10,000 nodes / 100,000 VMs through SimEnv
//   SIM_BENCH_ONLY=engine,replicaset   only the scenarios of these kinds (direct, engine, replicaset)
import { spawnSync } from 'node:child_process';
import { type DomainDefinition, KUBEVIRT_API_VERSION, VirtualClock, type VirtualMachine } from '@virtkit/engine';
import { SimEnv, SimFabric, SimNode } from '@virtkit/sim';

/** CPU seconds (user + system, all threads) since `start`: steadier than wall time on a shared machine. */
function cpuSince(start: NodeJS.CpuUsage): string {
  const u = process.cpuUsage(start);
  return ((u.user + u.system) / 1e6).toFixed(2);
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

/** KWOK's published throughput on its apiserver, pods per second. */
const KWOK_PODS_PER_SEC = 20;

function def(i: number): DomainDefinition {
  const name = `vm-${i}`;
  return {
    id: `default_${name}`,
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name,
    namespace: 'default',
    spec: {
      domain: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, devices: {} },
      volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
    },
  };
}

async function direct(nodeCount: number, vmCount: number): Promise<void> {
  globalThis.gc?.();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const fabric = new SimFabric({ clock, seed: 1, trace: { enabled: false } });
  const nodes: SimNode[] = [];
  let transitions = 0;
  let ready = 0;
  for (let n = 0; n < nodeCount; n++) {
    const node = new SimNode({
      name: `node-${n}`,
      fabric,
      capacity: { cpu: 64, memory: '512Gi', vms: 110 },
      timing: { heartbeatMs: 0 },
      console: 'minimal',
    });
    node.onEvent((e) => {
      if (e.type === 'lifecycle') transitions++;
      else if (e.type === 'guest-ready') {
        transitions++;
        ready++;
      }
    });
    nodes.push(node);
  }
  const v0 = clock.now();
  const starts: Promise<void>[] = [];
  for (let i = 0; i < vmCount; i++) {
    const node = nodes[i % nodeCount]!;
    const d = def(i);
    starts.push(node.defineDomain(d).then(() => node.startDomain(d.id)));
  }
  await clock.runUntilIdle(Number.MAX_SAFE_INTEGER);
  await Promise.all(starts);
  const upWall = performance.now() - wall0;
  const upVirtual = clock.now() - v0;
  if (ready !== vmCount) throw new Error(`only ${ready}/${vmCount} guests ready`);

  const stops: Promise<void>[] = [];
  for (let i = 0; i < vmCount; i++) {
    const node = nodes[i % nodeCount]!;
    const id = `default_vm-${i}`;
    stops.push(node.destroyDomain(id).then(() => node.undefineDomain(id)));
  }
  await clock.runUntilIdle(Number.MAX_SAFE_INTEGER);
  await Promise.all(stops);
  const wall = (performance.now() - wall0) / 1000;
  const left = nodes.reduce((s, n) => s + n.used.vms, 0);
  if (left !== 0) throw new Error(`${left} domains left after delete`);
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  const vmsPerSec = vmCount / (upWall / 1000);
  console.log(
    [
      `nodes=${nodeCount} vms=${vmCount} (SimNodes driven directly, no engine)`,
      `  wall            ${wall.toFixed(2)} s (to all Running: ${(upWall / 1000).toFixed(2)} s), CPU ${cpuSince(cpu0)} s`,
      `  virtual time    ${(upVirtual / 1000).toFixed(1)} s to all Running, ${((clock.now() - v0) / 1000).toFixed(1)} s total`,
      `  peak RSS        ${rssMiB.toFixed(0)} MiB`,
      `  transitions     ${transitions} (${(transitions / wall).toFixed(0)} per wall second = ${(transitions / wall / KWOK_PODS_PER_SEC).toFixed(0)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s)`,
      `  VMs to Running  ${vmsPerSec.toFixed(0)} per wall second = ${(vmsPerSec / KWOK_PODS_PER_SEC).toFixed(0)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s`,
    ].join('\n'),
  );
}

function vm(i: number): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: `vm-${i}`, namespace: 'default' },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, devices: {} },
          volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
        },
      },
    },
  };
}

async function throughEngine(nodeCount: number, vmCount: number): Promise<void> {
  globalThis.gc?.();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  await using env = await SimEnv.create({
    nodes: Array.from({ length: nodeCount }, (_, i) => ({ name: `node-${i}`, cpu: 64, memory: '512Gi', vms: 110 })),
    seed: 1,
    trace: { enabled: false },
    nodeDefaults: { timing: { heartbeatMs: 0 }, console: 'minimal' },
  });
  let transitions = 0;
  for (const n of env.nodes) {
    n.onEvent((e) => {
      if (e.type === 'lifecycle' || e.type === 'guest-ready') transitions++;
    });
  }
  // VMIs Running, counted from a watch: listing them all every poll made the observer, not the engine, a
  // large part of the cost at 10,000 VMs.
  const phases = new Map<string, string | undefined>();
  let running = 0;
  const watching = new AbortController();
  const counted = (async () => {
    for await (const ev of env.store.watch('VirtualMachineInstance', { shared: true, signal: watching.signal })) {
      const key = ev.object.metadata.name ?? '';
      const now = ev.type === 'DELETED' ? undefined : ev.object.status?.phase;
      if (phases.get(key) === 'Running') running--;
      if (now === 'Running') running++;
      phases.set(key, now);
    }
  })();
  const setupWall = performance.now() - wall0;
  const setupCpu = process.cpuUsage(cpu0);
  const v0 = env.clock.now();
  for (let i = 0; i < vmCount; i++) await env.store.create('VirtualMachine', vm(i));
  await env.waitFor(() => running === vmCount, {
    pollMs: 1000,
    timeoutMs: 3_600_000,
    what: 'all VMIs Running',
  });
  watching.abort();
  await counted;
  const upWall = performance.now() - wall0;
  const upCpu = process.cpuUsage(cpu0);
  const upVirtual = env.clock.now() - v0;
  for (let i = 0; i < vmCount; i++) await env.store.delete('VirtualMachine', 'default', `vm-${i}`);
  await env.waitFor(
    async () =>
      (await env.store.list('VirtualMachineInstance', { limit: 1 })).items.length === 0 &&
      env.nodes.every((n) => n.used.vms === 0),
    { pollMs: 1000, timeoutMs: 3_600_000, what: 'all VMIs gone and domains undefined' },
  );
  const wall = (performance.now() - wall0) / 1000;
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  const vmsPerSec = vmCount / (upWall / 1000);
  console.log(
    [
      `nodes=${nodeCount} vms=${vmCount} (SimEnv: embedded engine + MemoryStore + SimNodes)`,
      `  wall            ${wall.toFixed(2)} s (to all Running: ${(upWall / 1000).toFixed(2)} s), CPU ${cpuSince(cpu0)} s`,
      `  virtual time    ${(upVirtual / 1000).toFixed(1)} s to all Running, ${((env.clock.now() - v0) / 1000).toFixed(1)} s total`,
      `  phases          set-up ${(setupWall / 1000).toFixed(2)} s wall / ${cpuSeconds(setupCpu).toFixed(2)} s CPU; create to all Running ${((upWall - setupWall) / 1000).toFixed(2)} s wall / ${(cpuSeconds(upCpu) - cpuSeconds(setupCpu)).toFixed(2)} s CPU`,
      // CPU per VM from the first create to all Running: flat from 1,000 to 10,000 VMs when the engine scales linearly.
      `  CPU per VM      ${(((cpuSeconds(upCpu) - cpuSeconds(setupCpu)) * 1e6) / vmCount).toFixed(0)} µs to Running`,
      `  peak RSS        ${rssMiB.toFixed(0)} MiB`,
      `  transitions     ${transitions} node lifecycle/ready events (${(transitions / wall).toFixed(0)} per wall second = ${(transitions / wall / KWOK_PODS_PER_SEC).toFixed(1)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s)`,
      `  VMs to Running  ${vmsPerSec.toFixed(0)} per wall second = ${(vmsPerSec / KWOK_PODS_PER_SEC).toFixed(1)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s`,
      `  engine errors   ${(env.engine as { errors?: unknown[] } | undefined)?.errors?.length ?? 'n/a'}`,
    ].join('\n'),
  );
}

function vmiTemplate() {
  return {
    domain: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, devices: {} },
    volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
  };
}

/** A replica set scaled from 0 to `replicas` on Ready nodes: wall time and scheduler placements per wall second. */
async function replicaSet(nodeCount: number, replicas: number): Promise<void> {
  globalThis.gc?.();
  await using env = await SimEnv.create({
    nodes: Array.from({ length: nodeCount }, (_, i) => ({ name: `node-${i}`, cpu: 64, memory: '512Gi', vms: 110 })),
    seed: 1,
    trace: { enabled: false },
    nodeDefaults: { timing: { heartbeatMs: 0 }, console: 'minimal' },
  });
  await env.waitFor(async () => (await env.store.list('Node')).items.length === nodeCount, { pollMs: 100 });
  const scheduler = env.engine!.scheduler;
  const schedule = scheduler.schedule.bind(scheduler);
  let placements = 0;
  let firstPlacement = 0;
  let lastPlacement = 0;
  scheduler.schedule = (req) => {
    const r = schedule(req);
    if (r.ok) {
      lastPlacement = performance.now();
      if (placements++ === 0) firstPlacement = lastPlacement;
    }
    return r;
  };
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const v0 = env.clock.now();
  await env.store.create('VirtualMachineInstanceReplicaSet', {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name: 'fleet', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'fleet' } },
      template: { metadata: { labels: { app: 'fleet' } }, spec: vmiTemplate() },
    },
  });
  await env.waitFor(
    async () =>
      (await env.store.get('VirtualMachineInstanceReplicaSet', 'default', 'fleet')).status?.readyReplicas === replicas,
    { pollMs: 1000, timeoutMs: 3_600_000, what: `${replicas} ready replicas` },
  );
  const wall = (performance.now() - wall0) / 1000;
  const placeWall = Math.max(lastPlacement - firstPlacement, 1) / 1000;
  console.log(
    [
      `replica set of ${replicas} on ${nodeCount} Ready nodes (SimEnv), scale-up from 0`,
      `  wall            ${wall.toFixed(2)} s to all ready (virtual ${((env.clock.now() - v0) / 1000).toFixed(1)} s), CPU ${cpuSince(cpu0)} s`,
      `  placements      ${placements} in ${placeWall.toFixed(2)} s wall = ${(placements / placeWall).toFixed(0)} per wall second`,
      `  VMIs to ready   ${(replicas / wall).toFixed(0)} per wall second = ${(replicas / wall / KWOK_PODS_PER_SEC).toFixed(1)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s`,
      `  peak RSS        ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
      `  engine errors   ${env.engine!.errors.length}`,
    ].join('\n'),
  );
}

type Scenario = { kind: 'direct' | 'engine' | 'replicaset'; nodes: number; vms: number };

const arg = process.argv[2];
if (arg) {
  const [kind, nodes, vms] = arg.split(':');
  const n = Number(nodes);
  const v = Number(vms);
  if (kind === 'direct') await direct(n, v);
  else if (kind === 'engine') await throughEngine(n, v);
  else if (kind === 'replicaset') await replicaSet(n, v);
  else throw new Error(`unknown scenario ${arg}`);
} else {
  const scenarios: Scenario[] = [{ kind: 'direct', nodes: 1_000, vms: 10_000 }];
  if (process.env.SIM_BENCH_BIG === '1') scenarios.push({ kind: 'direct', nodes: 10_000, vms: 100_000 });
  scenarios.push({ kind: 'engine', nodes: 1_000, vms: Number(process.env.SIM_ENV_VMS ?? 2_000) });
  if (process.env.SIM_BENCH_FULL === '1') scenarios.push({ kind: 'engine', nodes: 1_000, vms: 10_000 });
  if (process.env.SIM_BENCH_HUGE === '1') scenarios.push({ kind: 'engine', nodes: 10_000, vms: 100_000 });
  scenarios.push({ kind: 'replicaset', nodes: 100, vms: 1_000 });
  const only = process.env.SIM_BENCH_ONLY?.split(',');
  let failed = 0;
  /** CPU µs per VM to Running, per engine scenario's VM count: equal figures mean linear scaling. */
  const perVm = new Map<number, number>();
  for (const s of scenarios) {
    if (only && !only.includes(s.kind)) continue;
    // Its own process: peak RSS is per scenario, and one scenario's garbage does not slow the next.
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, import.meta.filename, `${s.kind}:${s.nodes}:${s.vms}`],
      { stdio: ['inherit', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    process.stdout.write(r.stdout ?? '');
    const us = /CPU per VM\s+(\d+) µs/.exec(r.stdout ?? '')?.[1];
    if (s.kind === 'engine' && us !== undefined) perVm.set(s.vms, Number(us));
    if (r.status !== 0) failed++;
  }
  const counts = [...perVm.keys()].sort((a, b) => a - b);
  if (counts.length > 1) {
    const small = counts[0]!;
    const big = counts.at(-1)!;
    const ratio = perVm.get(big)! / perVm.get(small)!;
    console.log(
      `engine scaling: CPU per VM to Running ${perVm.get(small)} µs at ${small} VMs, ${perVm.get(big)} µs at ${big} VMs = ${ratio.toFixed(2)}× (1.00 is linear)`,
    );
  }
  if (failed > 0) process.exit(1);
}
