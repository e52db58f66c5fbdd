/**
 * A controller's own status write comes back to it as an informer update. Reconciling for it does nothing
 * (the status is what the controller just computed), so it is skipped; but only when nothing else changed
 * with it: a write made from a stale cached copy carries other writers' changes too, and their own watch
 * events are then dropped by the informer as older than the write.
 */
import type { KubeObject } from '../resources/meta.ts';
import { jsonEqual } from '../store/json.ts';

/**
 * Whether `now` is `old` with nothing but `status` (and the resourceVersion) changed. Runs on every informer
 * update of a VM and a VMI, so members are walked in place rather than gathered into key sets.
 */
export function onlyStatusChanged(old: KubeObject, now: KubeObject): boolean {
  const a = old as unknown as Record<string, unknown>;
  const b = now as unknown as Record<string, unknown>;
  for (const key in a) {
    if (key === 'status' || !Object.hasOwn(a, key)) continue;
    if (key === 'metadata') {
      if (!sameMetadata(old.metadata, now.metadata)) return false;
    } else if (!jsonEqual(a[key], b[key])) return false;
  }
  // A member only `now` has differs unless it is undefined (`old`'s own members were compared above).
  for (const key in b) {
    if (key === 'status' || !Object.hasOwn(b, key) || Object.hasOwn(a, key)) continue;
    if (key === 'metadata') {
      if (!sameMetadata(old.metadata, now.metadata)) return false;
    } else if (b[key] !== undefined) return false;
  }
  return true;
}

function sameMetadata(a: KubeObject['metadata'], b: KubeObject['metadata']): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const ma = a as Record<string, unknown>;
  const mb = b as Record<string, unknown>;
  let na = 0;
  for (const k in ma) {
    if (k === 'resourceVersion' || !Object.hasOwn(ma, k)) continue;
    na++;
    if (!Object.hasOwn(mb, k) || !jsonEqual(ma[k], mb[k])) return false;
  }
  let nb = 0;
  for (const k in mb) if (k !== 'resourceVersion' && Object.hasOwn(mb, k)) nb++;
  return na === nb;
}
