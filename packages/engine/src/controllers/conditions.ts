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
 * Returns a new list with `cond` set. `lastTransitionTime` changes only when the status changes, so an
 * unchanged condition keeps its time (and the list compares equal, avoiding needless writes).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  cond: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>,
  now: number,
): Condition[] {
  const list = conditions ? [...conditions] : [];
  const i = list.findIndex((c) => c.type === cond.type);
  const old = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    ...(cond.reason !== undefined ? { reason: cond.reason } : {}),
    ...(cond.message !== undefined ? { message: cond.message } : {}),
    lastTransitionTime: old && old.status === cond.status ? (old.lastTransitionTime ?? isoTime(now)) : isoTime(now),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
