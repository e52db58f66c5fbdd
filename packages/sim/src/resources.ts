/**
 * What a domain costs a node, derived from the VMI spec the way KubeVirt sizes virt-launcher:
 * - vCPUs = cores × sockets × threads (default 1).
 * - Guest memory = `domain.memory.guest`, else `resources.requests.memory`, else `resources.limits.memory`.
 * - Reserved CPU = `resources.requests.cpu`, else vCPUs × 1000m / cpuAllocationRatio (KubeVirt's default
 *   ratio 10: 100m per vCPU).
 * - Reserved memory = `resources.requests.memory`, else the guest memory.
 */
import type { VirtualMachineInstanceSpec } from '@virtkit/engine';
import { cpuToMillis, memoryToBytes } from './quantity.ts';

export interface DomainSize {
  vcpus: number;
  guestMemoryBytes: number;
  /** Millicores this domain reserves on the node. */
  cpuMillis: number;
  /** Bytes this domain reserves on the node. */
  memoryBytes: number;
}

/** KubeVirt's default `developerConfiguration.cpuAllocationRatio`. */
export const DEFAULT_CPU_ALLOCATION_RATIO = 10;

/** The domain's size, or a message saying which field is unusable. */
export function domainSize(
  spec: VirtualMachineInstanceSpec,
  cpuAllocationRatio = DEFAULT_CPU_ALLOCATION_RATIO,
): DomainSize | string {
  const domain = spec?.domain;
  if (!domain) return 'spec.domain is required';
  const cpu = domain.cpu ?? {};
  const vcpus = (cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1);
  if (!Number.isInteger(vcpus) || vcpus < 1)
    return 'spec.domain.cpu: cores × sockets × threads must be a positive integer';
  const requests = domain.resources?.requests ?? {};
  const limits = domain.resources?.limits ?? {};
  const guestQ = domain.memory?.guest ?? requests.memory ?? limits.memory;
  if (guestQ === undefined) return 'spec.domain.memory.guest or spec.domain.resources.requests.memory is required';
  const guestMemoryBytes = memoryToBytes(guestQ);
  if (guestMemoryBytes === undefined || guestMemoryBytes <= 0)
    return `memory quantity ${JSON.stringify(guestQ)} is invalid`;
  let memoryBytes = guestMemoryBytes;
  if (requests.memory !== undefined) {
    const m = memoryToBytes(requests.memory);
    if (m === undefined || m < 0)
      return `spec.domain.resources.requests.memory ${JSON.stringify(requests.memory)} is invalid`;
    memoryBytes = m;
  }
  let cpuMillis = Math.ceil((vcpus * 1000) / cpuAllocationRatio);
  if (requests.cpu !== undefined) {
    const c = cpuToMillis(requests.cpu);
    if (c === undefined || c < 0)
      return `spec.domain.resources.requests.cpu ${JSON.stringify(requests.cpu)} is invalid`;
    cpuMillis = c;
  }
  return { vcpus, guestMemoryBytes, cpuMillis, memoryBytes };
}

/** Images the node must have: the kernel-boot container first (it decides the guest), then containerDisks. */
export function imagesOf(spec: VirtualMachineInstanceSpec): string[] {
  const out: string[] = [];
  const kernel = spec.domain?.firmware?.kernelBoot?.container?.image;
  if (kernel) out.push(kernel);
  for (const v of spec.volumes ?? []) {
    const img = v.containerDisk?.image;
    if (img && !out.includes(img)) out.push(img);
  }
  return out;
}

/** Strips a tag or digest so `repo:tag` finds the catalogue entry `repo` when `repo:tag` is absent. */
export function imageRepository(ref: string): string {
  const at = ref.indexOf('@');
  const noDigest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
