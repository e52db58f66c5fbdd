import { describe, expect, it } from 'vitest';
import { setCondition } from '../../src/controllers/conditions.ts';
import type { Condition } from '../../src/index.ts';
import { isoTime } from '../../src/index.ts';

/** The rule, spelled out: a new list with `cond` set, its time kept while the status stays. */
function oracle(list: readonly Condition[] | undefined, cond: Omit<Condition, 'lastTransitionTime'>, now: number) {
  const out = list ? [...list] : [];
  const i = out.findIndex((c) => c.type === cond.type);
  const old = i >= 0 ? out[i] : undefined;
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    ...(cond.reason !== undefined ? { reason: cond.reason } : {}),
    ...(cond.message !== undefined ? { message: cond.message } : {}),
    lastTransitionTime: old && old.status === cond.status ? (old.lastTransitionTime ?? isoTime(now)) : isoTime(now),
  };
  if (i >= 0) out[i] = next;
  else out.push(next);
  return out;
}

describe('setCondition', () => {
  it('matches the rule for every combination, and returns the list itself when nothing changes', () => {
    const t0 = '2026-01-01T00:00:00Z';
    const now = Date.UTC(2026, 0, 1, 0, 5);
    const olds: (Condition | undefined)[] = [undefined];
    for (const status of ['True', 'False'] as const)
      for (const reason of [undefined, 'R'])
        for (const message of [undefined, 'M'])
          for (const extra of [{}, { lastProbeTime: t0 }, { lastTransitionTime: undefined }]) {
            const c = { type: 'Ready', status, lastTransitionTime: t0, ...extra } as Condition;
            if (reason !== undefined) c.reason = reason;
            if (message !== undefined) c.message = message;
            olds.push(c);
          }
    for (const old of olds) {
      for (const status of ['True', 'False'] as const)
        for (const reason of [undefined, 'R'])
          for (const message of [undefined, 'M']) {
            const cond = {
              type: 'Ready',
              status,
              ...(reason !== undefined ? { reason } : {}),
              ...(message !== undefined ? { message } : {}),
            };
            const list = old ? [{ type: 'Other', status: 'True' as const, lastTransitionTime: t0 }, old] : undefined;
            const got = setCondition(list, cond, now);
            expect(got, JSON.stringify([old, cond])).toEqual(oracle(list, cond, now));
            if (list && JSON.stringify(oracle(list, cond, now)) === JSON.stringify(list)) expect(got).toBe(list);
          }
    }
  });
});
