/**
 * What a node refuses in a definition before it creates anything, with `InvalidSpec` — the same checks
 * the libvirt agent makes: the id must be usable as a libvirt domain name, the uid as a directory name
 * (per-domain files live under it), and every disk must name a volume.
 */
import type { DomainDefinition } from '@virtkit/engine';

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
