/**
 * What a node refuses in a definition before it creates anything, with `InvalidSpec` — the same checks
 * the libvirt agent makes: the id must be usable as a libvirt domain name, the uid as a directory name
 * (per-domain files live under it), every disk must name a volume, and every hostDisk must pass the
 * host's allow-list (see host-disks.ts).
 */
import type { DomainDefinition } from '@virtkit/engine';
import type { HostDisks } from './host-disks.ts';
import { memoryToBytes } from './quantity.ts';

/** Why `def.id`/`def.uid` cannot be used on a node, or undefined. */
export function identityError(def: DomainDefinition): string | undefined {
  const id = def.id ?? '';
  if (id.length === 0 || id.length > 200) return 'name: must be 1-200 characters';
  if (id.includes('/')) return 'name: must not contain "/"';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001F\u007F]/.test(id)) return 'name: contains a control character';
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(def.uid ?? '')) {
    return `uid: "${String(def.uid).slice(0, 64)}" is not a safe path component`;
  }
  return undefined;
}

/** Why the spec's disks cannot be attached, or undefined. */
export function diskError(def: DomainDefinition): string | undefined {
  const volumes = new Set((def.spec.volumes ?? []).map((v) => v.name));
  for (const d of def.spec.domain?.devices?.disks ?? []) {
    if (!volumes.has(d.name)) return `disk ${d.name}: has no matching volume`;
  }
  return undefined;
}

/**
 * Why a hostDisk volume cannot be used on this host, or undefined. Volumes are taken in the order the
 * agent prepares them (disks in order, then volumes no disk names); a `DiskOrCreate` that passes creates
 * its file even when a later volume is refused, as on a real host.
 */
export function hostDiskError(def: DomainDefinition, host: HostDisks): string | undefined {
  const volumes = def.spec.volumes ?? [];
  const disks = def.spec.domain?.devices?.disks ?? [];
  const ordered = [
    ...disks.map((d) => volumes.find((v) => v.name === d.name)),
    ...volumes.filter((v) => !disks.some((d) => d.name === v.name)),
  ];
  for (const v of ordered) {
    const hd = v?.hostDisk;
    if (!hd) continue;
    const capacity = hd.capacity === undefined ? undefined : memoryToBytes(hd.capacity);
    const outcome = host.resolve(hd.path, hd.type, capacity);
    if (!outcome.ok) return outcome.message;
  }
  return undefined;
}
