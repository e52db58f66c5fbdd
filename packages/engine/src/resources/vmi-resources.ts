/**
 * What a VirtualMachineInstance asks of a node: the scheduler fits it against `NodeCapacity`, the
 * simulator and the agent size the domain with it. Pure functions of the spec; the defaults KubeVirt
 * applies (1 core × 1 socket × 1 thread, memory from whichever field is set) are applied here too,
 * so an undefaulted spec gives the same answer as a defaulted one.
 */
import type { VirtualMachineInstanceSpec } from './kubevirt.ts';
import { parseBytes, parseMillis } from './quantity.ts';

export interface VMIResourceRequest {
  /** Millicores: `resources.requests.cpu`, else `resources.limits.cpu`, else 1000 × vCPUs. */
  cpuMillis: number;
  /** Bytes: `resources.requests.memory`, else `resources.limits.memory`, else `memory.guest`, else 0. */
  memoryBytes: number;
}

type QuantityValue = string | number | undefined | null;

const positiveInt = (n: unknown): number => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1);

/** Number of virtual CPUs the guest sees: cores × sockets × threads, each defaulting to 1. */
export function vmiVCPUs(spec: VirtualMachineInstanceSpec): number {
  const cpu = spec.domain?.cpu;
  return positiveInt(cpu?.cores) * positiveInt(cpu?.sockets) * positiveInt(cpu?.threads);
}

/**
 * Memory the guest sees, in bytes: `memory.guest`, else `resources.limits.memory`, else
 * `resources.requests.memory` (KubeVirt's order), else 0. Throws `RequestError` on a malformed quantity.
 */
export function vmiGuestMemoryBytes(spec: VirtualMachineInstanceSpec): number {
  const d = spec.domain;
  const q = first(d?.memory?.guest, d?.resources?.limits?.memory, d?.resources?.requests?.memory);
  return q === undefined ? 0 : Number(parseBytes(q));
}

/**
 * What the VMI requests for scheduling. Throws `RequestError` (BadRequest) when a quantity is malformed;
 * validated specs never are.
 */
export function vmiSpecResources(spec: VirtualMachineInstanceSpec): VMIResourceRequest {
  const res = spec.domain?.resources;
  const cpu = first(res?.requests?.cpu, res?.limits?.cpu);
  const mem = first(res?.requests?.memory, res?.limits?.memory, spec.domain?.memory?.guest);
  return {
    cpuMillis: cpu === undefined ? vmiVCPUs(spec) * 1000 : Number(parseMillis(cpu)),
    memoryBytes: mem === undefined ? 0 : Number(parseBytes(mem)),
  };
}

function first(...values: QuantityValue[]): string | number | undefined {
  for (const v of values) if (v !== undefined && v !== null) return v;
  return undefined;
}
