// Scale benchmark, all in virtual time. Prints wall seconds, peak RSS, lifecycle transitions per wall
// second and VMs reaching Running per wall second against KWOK's published ~20 pods/s.
//   npm run bench -- scale
//     1. SimNodes driven directly: 1,000 nodes / 10,000 VMs defined, started to guest-ready, destroyed, undefined.
//     2. Through SimEnv (embedded engine + MemoryStore + SimNodes): 1,000 nodes / SIM_ENV_VMS (default 2,000)
//        VirtualMachines created, all VMIs Running, all deleted and their domains undefined.
//   SIM_BENCH_FULL=1 npm run bench -- scale   also the full 10,000-VM scenario through SimEnv
//   SIM_BENCH_BIG=1 npm run bench -- scale    also 10,000 nodes / 100,000 VMs driven directly
import { type DomainDefinition, VirtualClock, type VirtualMachine } from '@virtkit/engine';
import { SimEnv, SimFabric, SimNode } from '@virtkit/sim';

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
      `  wall            ${wall.toFixed(2)} s (to all Running: ${(upWall / 1000).toFixed(2)} s)`,
      `  virtual time    ${(upVirtual / 1000).toFixed(1)} s to all Running, ${((clock.now() - v0) / 1000).toFixed(1)} s total`,
      `  peak RSS        ${rssMiB.toFixed(0)} MiB`,
      `  transitions     ${transitions} (${(transitions / wall).toFixed(0)} per wall second)`,
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
  const v0 = env.clock.now();
  for (let i = 0; i < vmCount; i++) await env.store.create('VirtualMachine', vm(i));
  const running = async () =>
    (await env.store.list('VirtualMachineInstance', { fieldSelector: 'status.phase=Running' })).items.length;
  await env.waitFor(async () => (await running()) === vmCount, {
    pollMs: 1000,
    timeoutMs: 3_600_000,
    what: 'all VMIs Running',
  });
  const upWall = performance.now() - wall0;
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
      `  wall            ${wall.toFixed(2)} s (to all Running: ${(upWall / 1000).toFixed(2)} s)`,
      `  virtual time    ${(upVirtual / 1000).toFixed(1)} s to all Running, ${((env.clock.now() - v0) / 1000).toFixed(1)} s total`,
      `  peak RSS        ${rssMiB.toFixed(0)} MiB`,
      `  transitions     ${transitions} node lifecycle/ready events (${(transitions / wall).toFixed(0)} per wall second)`,
      `  VMs to Running  ${vmsPerSec.toFixed(0)} per wall second = ${(vmsPerSec / KWOK_PODS_PER_SEC).toFixed(1)}× KWOK's ~${KWOK_PODS_PER_SEC} pods/s`,
      `  engine errors   ${(env.engine as { errors?: unknown[] } | undefined)?.errors?.length ?? 'n/a'}`,
    ].join('\n'),
  );
}

await direct(1_000, 10_000);
if (process.env.SIM_BENCH_BIG === '1') await direct(10_000, 100_000);
await throughEngine(1_000, Number(process.env.SIM_ENV_VMS ?? 2_000));
if (process.env.SIM_BENCH_FULL === '1') await throughEngine(1_000, 10_000);
