/**
 * Model-based tests: `xstate/graph` generates the shortest path to every abstract state of the
 * lifecycle machine; each path is replayed on a "persisted engine" (an actor restored from JSON and
 * persisted again around every event) and compared step by step with the pure machine. From every state
 * reached, every event is then tried once more on the persisted engine. Coverage of the machine's
 * definition (state nodes and transitions, eventless ones included) is measured on the engine and must
 * be complete.
 */
import {
  assertCanAccept,
  IllegalTransitionError,
  isRequest,
  type LifecycleSnapshot,
  lifecycleMachine,
  type VMLifecycleEvent,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import { createTestModel } from 'xstate/graph';
import { definedStates, definedTransitions } from './coverage.ts';
import {
  checkInvariants,
  coarseState,
  concretize,
  eventsFor,
  fresh,
  type ModelEvent,
  PersistedVm,
  reachable,
  T0,
} from './model.ts';

const model = createTestModel(lifecycleMachine, {
  events: eventsFor,
  serializeState: coarseState,
  serializeEvent: (e) => (e as ModelEvent).label,
  input: { now: T0 },
});
const paths = model.getShortestPaths();
const EVENT_TYPES: VMLifecycleEvent['type'][] = [
  ...new Set(paths.flatMap((p) => p.steps.map((s) => s.event.type as VMLifecycleEvent['type']))),
];

/** One concrete snapshot per abstract state, as reached by replaying the generated paths. */
const reached = new Map<string, LifecycleSnapshot>();
const taken = new Set<string>();
const entered = new Set<string>();

describe('lifecycle machine, model-based (xstate/graph)', () => {
  it('replays every generated path on a persisted engine, matching the model at every step', async () => {
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) {
      const vm = new PersistedVm(fresh().getSnapshot());
      let expected = fresh().getSnapshot();
      const exec = (step: { event: VMLifecycleEvent }) => {
        if ((step.event.type as string) === 'xstate.init') return;
        const label = (step.event as ModelEvent).label;
        // The path's events come from representative snapshots; re-derive them for this replay.
        expected = transition(lifecycleMachine, expected, concretize(expected, label))[0];
        const r = vm.step(concretize(vm.snapshot(), label));
        for (const t of r.transitions) taken.add(t);
        for (const n of r.states) entered.add(n);
      };
      await path.test({
        events: Object.fromEntries(EVENT_TYPES.map((t) => [t, exec])),
        states: {
          '*': (pathState) => {
            const actual = vm.snapshot();
            expect(actual.value).toEqual(expected.value);
            expect(actual.context).toEqual(expected.context);
            // The abstraction is sound: the replay lands in the abstract state the path promised.
            expect(coarseState(actual)).toBe(coarseState(pathState));
            checkInvariants(actual);
            if (!reached.has(coarseState(actual))) reached.set(coarseState(actual), actual);
          },
        },
      });
    }
    // Every abstract state the machine can reach was reached by some path.
    expect([...reachable(coarseState).keys()].filter((k) => !reached.has(k))).toEqual([]);
  });

  it('from every reached state, every event does on the persisted engine what the model says', () => {
    expect(reached.size).toBeGreaterThan(0);
    let rejected = 0;
    for (const s of reached.values()) {
      for (const event of eventsFor(s)) {
        const vm = new PersistedVm(s);
        const r = vm.step(event);
        for (const t of r.transitions) taken.add(t);
        for (const n of r.states) entered.add(n);
        const actual = vm.snapshot();
        const label = `${JSON.stringify(s.value)} + ${event.label}`;
        if (r.rejected) {
          // A rejected request changes nothing, and the machine indeed has no transition for it.
          rejected++;
          expect(isRequest(event), label).toBe(true);
          expect(r.rejected.state, label).toBeTruthy();
          expect(actual.value, label).toEqual(s.value);
          expect(actual.context, label).toEqual(s.context);
          if (s.status === 'active') expect(lifecycleMachine.getTransitionData(s, event), label).toEqual([]);
        } else {
          const [expected] = transition(lifecycleMachine, s, event);
          expect(actual.value, label).toEqual(expected.value);
          expect(actual.context, label).toEqual(expected.context);
          expect(actual.status, label).toBe(expected.status);
          if (isRequest(event)) expect(lifecycleMachine.getTransitionData(s, event).length, label).toBeGreaterThan(0);
        }
        checkInvariants(actual);
      }
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('covered every state node and every transition of the definition', () => {
    const defined = definedTransitions();
    expect(defined.size).toBeGreaterThan(80);
    expect([...defined].filter((t) => !taken.has(t))).toEqual([]);
    expect([...taken].filter((t) => !defined.has(t))).toEqual([]);
    expect([...definedStates()].filter((id) => !entered.has(id))).toEqual([]);
  });

  it('assertCanAccept accepts exactly the requests the machine has a transition for', () => {
    let checked = 0;
    for (const s of reached.values()) {
      for (const event of eventsFor(s).filter(isRequest)) {
        checked++;
        if (s.status === 'active' && lifecycleMachine.getTransitionData(s, event).length > 0) {
          expect(() => assertCanAccept(s, event)).not.toThrow();
        } else {
          expect(() => assertCanAccept(s, event)).toThrow(IllegalTransitionError);
        }
      }
    }
    expect(checked).toBeGreaterThan(reached.size);
  });
});
