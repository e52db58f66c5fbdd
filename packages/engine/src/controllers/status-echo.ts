/**
 * A controller's own status write comes back to it as an informer update. Reconciling for it does nothing
 * (the status is what the controller just computed), so it is skipped; but only when nothing else changed
 * with it: a write made from a stale cached copy carries other writers' changes too, and their own watch
 * events are then dropped by the informer as older than the write.
 */
import type { KubeObject } from '../resources/meta.ts';
import { jsonEqual } from '../store/json.ts';

/** Whether `now` is `old` with nothing but `status` (and the resourceVersion) changed. */
export function onlyStatusChanged(old: KubeObject, now: KubeObject): boolean {
  for (const key of new Set([...Object.keys(old), ...Object.keys(now)])) {
    if (key === 'status') continue;
    const a = (old as unknown as Record<string, unknown>)[key];
    const b = (now as unknown as Record<string, unknown>)[key];
    if (key === 'metadata') {
      if (!sameMetadata(old.metadata, now.metadata)) return false;
    } else if (!jsonEqual(a, b)) return false;
  }
  return true;
}

function sameMetadata(a: KubeObject['metadata'], b: KubeObject['metadata']): boolean {
  if (a === b) return true;
  const ka = Object.keys(a).filter((k) => k !== 'resourceVersion');
  const kb = Object.keys(b).filter((k) => k !== 'resourceVersion');
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
