/** Builders and checks shared by the scenario tests (a SimEnv cluster driven through the engine). */
import {
  type EvictionStrategy,
  KUBEVIRT_API_VERSION,
  type ResourceStore,
  type RunStrategy,
  type VirtualMachine,
  type VirtualMachineInstanceSpec,
} from '@virtkit/engine';
import type { SimEnv } from '../../src/index.ts';

export const NS = 'default';

export interface VmOptions {
  evictionStrategy?: EvictionStrategy;
  cpu?: string;
  memory?: string;
  grace?: number;
}

export function vmiSpec(o: VmOptions = {}): VirtualMachineInstanceSpec {
  return {
    domain: {
      cpu: { cores: 1 },
      memory: { guest: o.memory ?? '256Mi' },
      resources: { requests: { cpu: o.cpu ?? '100m', memory: o.memory ?? '256Mi' } },
      devices: {},
    },
    volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
    terminationGracePeriodSeconds: o.grace ?? 10,
    ...(o.evictionStrategy ? { evictionStrategy: o.evictionStrategy } : {}),
  };
}

export function vm(name: string, runStrategy: RunStrategy, o: VmOptions = {}): VirtualMachine {
  return {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: { runStrategy, template: { metadata: { labels: { vm: name } }, spec: vmiSpec(o) } },
  };
}

export async function printable(store: ResourceStore, name: string) {
  return (await store.tryGet('VirtualMachine', NS, name))?.status?.printableStatus;
}

export async function allPrintable(store: ResourceStore, names: readonly string[], want: string) {
  for (const n of names) if ((await printable(store, n)) !== want) return false;
  return true;
}

/** Nodes on which libvirt holds the domain running or paused (ground truth, bypassing the agent). */
export function runningOn(env: SimEnv, name: string): string[] {
  const id = `${NS}_${name}`;
  return env.nodes
    .filter((n) => {
      const d = n.peek(id);
      return d !== undefined && (d.state === 'running' || d.state === 'paused');
    })
    .map((n) => n.nodeName);
}

/** Driver calls of one method recorded in the trace, e.g. `calls(env, 'migrateDomain')`. */
export function calls(env: SimEnv, method: string, subject?: string): number {
  return env.fabric.trace.entries.filter(
    (e) => e.kind === 'call' && e.text.startsWith(`${method} `) && (subject === undefined || e.text.includes(subject)),
  ).length;
}

/** Waits until the engine registered every node as Ready. */
export async function nodesReady(env: SimEnv): Promise<void> {
  await env.waitFor(
    async () => {
      const nodes = (await env.store.list('Node')).items;
      return (
        nodes.length === env.nodes.length &&
        nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    },
    { what: 'nodes registered and Ready' },
  );
}
