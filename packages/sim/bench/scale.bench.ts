// Scale benchmark: N simulated nodes, M VMs defined, started until guest-ready, then destroyed and
// undefined — all in virtual time. Prints wall time, peak RSS and lifecycle transitions per wall second.
//   npm run bench -- scale                  1,000 nodes / 10,000 VMs (driving SimNodes directly)
//   SIM_BENCH_BIG=1 npm run bench -- scale  also 10,000 nodes / 100,000 VMs
import { type DomainDefinition, VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode } from '@virtkit/sim';

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

async function scenario(nodeCount: number, vmCount: number): Promise<void> {
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

await scenario(1_000, 10_000);
if (process.env.SIM_BENCH_BIG === '1') await scenario(10_000, 100_000);
