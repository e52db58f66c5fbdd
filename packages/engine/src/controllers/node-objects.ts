/** Conversions between a driver's NodeInfo, the stored Node object and the scheduler's view of it. */
import type { NodeInfo } from '../ports/node-driver.ts';
import type { Node, Taint } from '../resources/core.ts';
import { formatBytes, formatMillis, parseBytes, parseMillis } from '../resources/quantity.ts';
import type { SchedulerNode } from '../scheduler/scheduler.ts';
import { conditionIs } from './conditions.ts';
import {
  ANNOTATION_SOFTWARE_EMULATION,
  COND_READY,
  LABEL_HOSTNAME,
  LABEL_SCHEDULABLE,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
} from './constants.ts';

export function quantities(c: NodeInfo['capacity'], hypervisor: NodeInfo['hypervisor']): Record<string, string> {
  return {
    cpu: formatMillis(c.cpuMillis),
    memory: formatBytes(c.memoryBytes),
    pods: String(c.vms),
    // KubeVirt's device plugin resource: present in quantity only where KVM really works.
    'devices.kubevirt.io/kvm': hypervisor === 'kvm' ? '1k' : '0',
  };
}

/** Labels a node gets from its driver plus the well-known ones. */
export function nodeLabels(info: NodeInfo, schedulable: boolean): Record<string, string> {
  return {
    ...info.labels,
    [LABEL_HOSTNAME]: info.name,
    [LABEL_SCHEDULABLE]: schedulable ? 'true' : 'false',
    'kubevirt.io/hypervisor': info.hypervisor,
  };
}

export function isNodeReady(node: Node): boolean {
  return conditionIs(node.status?.conditions, COND_READY, 'True');
}

export function nodeEmulated(node: Node | undefined): string | undefined {
  return node?.metadata.annotations?.[ANNOTATION_SOFTWARE_EMULATION];
}

/** The taints the engine manages, in step with readiness and cordon (as Kubernetes' node lifecycle controller). */
export function managedTaints(ready: boolean, unschedulable: boolean, at: string): Taint[] {
  const t: Taint[] = [];
  if (!ready) {
    t.push({ key: TAINT_UNREACHABLE, effect: 'NoSchedule', timeAdded: at });
    t.push({ key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: at });
  }
  if (unschedulable) t.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule', timeAdded: at });
  return t;
}

const MANAGED_KEYS = new Set([TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE]);

/** User taints plus the managed ones; keeps the existing managed taints' timeAdded. */
export function mergeTaints(existing: readonly Taint[] | undefined, managed: readonly Taint[]): Taint[] {
  const user = (existing ?? []).filter((t) => !MANAGED_KEYS.has(t.key));
  const kept = managed.map((m) => (existing ?? []).find((t) => t.key === m.key && t.effect === m.effect) ?? m);
  return [...user, ...kept];
}

function num(q: string | undefined, parse: (s: string) => bigint): number {
  if (q === undefined) return 0;
  try {
    return Number(parse(q));
  } catch {
    return 0;
  }
}

/** The scheduler's view of a stored Node. */
export function toSchedulerNode(node: Node): SchedulerNode {
  const a = node.status?.allocatable ?? node.status?.capacity ?? {};
  // The managed taints mirror readiness and cordon, which the scheduler checks by themselves (clearer messages).
  const taints = (node.spec?.taints ?? []).filter((t) => !MANAGED_KEYS.has(t.key));
  return {
    name: node.metadata.name ?? '',
    labels: node.metadata.labels ?? {},
    taints,
    unschedulable: node.spec?.unschedulable === true,
    ready: isNodeReady(node),
    allocatable: {
      cpuMillis: num(a.cpu, parseMillis),
      memoryBytes: num(a.memory, parseBytes),
      vms: a.pods === undefined ? 110 : num(a.pods, (s) => BigInt(Math.floor(Number(s)))),
    },
  };
}
