/** Helpers for `status.conditions` lists: set with Kubernetes' lastTransitionTime semantics, find. */
import { isoTime } from '../ports/clock.ts';
import type { Condition } from '../resources/meta.ts';

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function conditionIs(conditions: readonly Condition[] | undefined, type: string, status: Condition['status']) {
  return findCondition(conditions, type)?.status === status;
}

/**
 * Returns the list with `cond` set. `lastTransitionTime` changes only when the status changes, so an
 * unchanged condition keeps its time (and the list compares equal, avoiding needless writes). When nothing
 * changes the list itself is returned (callers treat it as read-only, it may be a stored object's).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  cond: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>,
  now: number,
): Condition[] {
  const at = conditions ? conditions.findIndex((c) => c.type === cond.type) : -1;
  const was = at >= 0 ? conditions![at] : undefined;
  if (was && unchanged(was, cond)) return conditions as Condition[];
  const list = conditions ? [...conditions] : [];
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    ...(cond.reason !== undefined ? { reason: cond.reason } : {}),
    ...(cond.message !== undefined ? { message: cond.message } : {}),
    lastTransitionTime: was && was.status === cond.status ? (was.lastTransitionTime ?? isoTime(now)) : isoTime(now),
  };
  if (at >= 0) list[at] = next;
  else list.push(next);
  return list;
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** Whether setting `cond` over `old` would give `old` again, member for member. */
function unchanged(old: Condition, cond: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>): boolean {
  if (old.status !== cond.status || old.reason !== cond.reason || old.message !== cond.message) return false;
  if (old.lastTransitionTime === undefined) return false;
  let n = 0;
  for (const key in old) {
    if (key !== 'type' && key !== 'status' && key !== 'reason' && key !== 'message' && key !== 'lastTransitionTime') {
      return false;
    }
    if ((old as unknown as Record<string, unknown>)[key] !== undefined) n++;
  }
  return n === 2 + (cond.reason !== undefined ? 1 : 0) + (cond.message !== undefined ? 1 : 0) + 1;
}
