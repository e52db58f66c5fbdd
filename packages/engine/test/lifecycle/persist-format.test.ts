/**
 * `persist` builds the persisted snapshot itself (it runs on every transition of every VMI): it must be
 * exactly what xstate's own `getPersistedSnapshot` gives after a JSON round trip, byte for byte, in every
 * reachable state, so snapshots written before and after read the same.
 */
import { type LifecycleSnapshot, lifecycleMachine, persist } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { fineState, reachable } from './model.ts';

const states = [...reachable(fineState).values()];
const xstatePersisted = (s: LifecycleSnapshot) => JSON.stringify(lifecycleMachine.getPersistedSnapshot(s));

describe('lifecycle persisted form', () => {
  it("is xstate's persisted snapshot as JSON, byte for byte, in every reachable state", () => {
    expect(states.length).toBeGreaterThan(1000);
    for (const s of states) expect(JSON.stringify(persist(s).snapshot)).toBe(xstatePersisted(s));
  });

  it('is a copy: later changes to it do not reach the snapshot', () => {
    const s = states.find((x) => x.context.pending.length > 0)!;
    const before = xstatePersisted(s);
    const p = persist(s).snapshot as { context: { pending: unknown[] } };
    p.context.pending.length = 0;
    expect(xstatePersisted(s)).toBe(before);
  });
});
