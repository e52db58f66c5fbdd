/**
 * What a domain costs a node. The engine's scheduler and the nodes must agree, so the sizes come from
 * the engine's own `vmiSpecResources` / `vmiVCPUs` / `vmiGuestMemoryBytes`: reserved CPU is
 * `requests.cpu`, else `limits.cpu`, else 1000m per vCPU; reserved memory is `requests.memory`, else
 * `limits.memory`, else the guest memory.
 */
import { type VirtualMachineInstanceSpec, vmiGuestMemoryBytes, vmiSpecResources, vmiVCPUs } from '@virtkit/engine';

export interface DomainSize {
  vcpus: number;
  guestMemoryBytes: number;
  /** Millicores this domain reserves on the node. */
  cpuMillis: number;
  /** Bytes this domain reserves on the node. */
  memoryBytes: number;
}

/** The domain's size, or a message saying why the spec cannot be sized. */
export function domainSize(spec: VirtualMachineInstanceSpec): DomainSize | string {
  if (!spec?.domain) return 'spec.domain is required';
  try {
    const vcpus = vmiVCPUs(spec);
    const guestMemoryBytes = vmiGuestMemoryBytes(spec);
    if (!(guestMemoryBytes > 0)) return 'spec.domain.memory.guest or spec.domain.resources.requests.memory is required';
    const { cpuMillis, memoryBytes } = vmiSpecResources(spec);
    return { vcpus, guestMemoryBytes, cpuMillis, memoryBytes };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
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
