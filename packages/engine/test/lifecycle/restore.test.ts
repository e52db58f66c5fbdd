/**
 * Persist/restore: every reachable state (pending commands, armed deadlines and policy included) comes
 * back identical from JSON, and the restored machine carries on exactly like one that never stopped.
 */
import {
  armedDeadlines,
  LIFECYCLE_SNAPSHOT_FORMAT,
  type LifecycleSnapshot,
  LifecycleSnapshotError,
  lifecycleMachine,
  migrationPhase,
  nextDeadline,
  persist,
  printableStatus,
  restore,
  restoreSnapshot,
  send,
  VirtkitError,
  vmiPhase,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { createStepper, fineState, fresh, reachable, T0 } from './model.ts';

const states = [...reachable(fineState).values()];
const step = createStepper();

/** The JSON a controller would write to `status.virtkit` and read back after a restart. */
const roundTrip = (s: LifecycleSnapshot) => JSON.parse(JSON.stringify(persist(s))) as unknown;

describe('lifecycle persistence', () => {
  it('restores every reachable state identically', () => {
    expect(states.length).toBeGreaterThan(1000);
    for (const s of states) {
      const actor = restore(roundTrip(s));
      const r = actor.getSnapshot();
      expect(r.value).toEqual(s.value);
      expect(r.context).toEqual(s.context);
      expect(r.status).toBe(s.status);
      expect(r.context.pending).toEqual(s.context.pending);
      expect(nextDeadline(r)).toBe(nextDeadline(s));
      expect(printableStatus(r)).toBe(printableStatus(s));
      expect(vmiPhase(r)).toBe(vmiPhase(s));
      expect(migrationPhase(r)).toBe(migrationPhase(s));
      actor.stop();
    }
  });

  it('a restored machine fires its next deadline on TICK exactly like one that never restarted', () => {
    let fired = 0;
    for (const s of states) {
      const due = armedDeadlines(s)[0];
      if (!due) continue;
      const actor = restore(roundTrip(s));
      // Just before the deadline nothing happens.
      send(actor, { type: 'TICK', now: due.at - 1 });
      expect(actor.getSnapshot().value).toEqual(s.value);
      expect(armedDeadlines(actor.getSnapshot())[0]).toEqual(due);
      // At the deadline it fires, as in the machine that never restarted.
      const tick = { type: 'TICK' as const, now: due.at };
      send(actor, tick);
      const expected = step(step(s, { type: 'TICK', now: due.at - 1 }), tick);
      expect(actor.getSnapshot().value).toEqual(expected.value);
      expect(actor.getSnapshot().context).toEqual(expected.context);
      expect(armedDeadlines(actor.getSnapshot())).not.toContainEqual(due);
      actor.stop();
      fired++;
    }
    expect(fired).toBeGreaterThan(100);
  });

  it('unacknowledged commands survive a restore and acknowledged ones do not', () => {
    let checked = 0;
    for (const s of states) {
      const head = s.context.pending[0];
      if (!head || s.status !== 'active') continue;
      // Crash before the ack: everything pending comes back, to be re-issued.
      const before = restoreSnapshot(roundTrip(s));
      expect(before.context.pending.map((c) => c.id)).toEqual(s.context.pending.map((c) => c.id));
      // Ack, persist, crash, restore: the acknowledged command is gone for good.
      const acked = send(before, { type: 'ACK', commandId: head.id, now: s.context.now + 1 });
      const after = restoreSnapshot(roundTrip(acked));
      expect(after.context.pending.map((c) => c.id)).not.toContain(head.id);
      // Nothing else is lost silently: what remains was pending before or is newly recorded.
      for (const c of after.context.pending) {
        expect(c.id < s.context.nextCommandId ? s.context.pending.some((p) => p.id === c.id) : true).toBe(true);
      }
      expect(after.context).toEqual(step(s, { type: 'ACK', commandId: head.id, now: s.context.now + 1 }).context);
      checked++;
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('a controller that crashes between executing and acknowledging re-issues only what was not acknowledged', () => {
    // What the driver saw, in order.
    const executed: string[] = [];
    const execute = (s: LifecycleSnapshot, issued: Set<number>) => {
      for (const c of s.context.pending) {
        if (issued.has(c.id)) continue;
        issued.add(c.id);
        executed.push(`${c.type}#${c.id}`);
      }
    };
    let vm = fresh().getSnapshot();
    let issued = new Set<number>();
    for (const e of [
      { type: 'START', now: T0 + 1 },
      { type: 'PROVISIONED', now: T0 + 2 },
      { type: 'SCHEDULED', node: 'n1', now: T0 + 3 },
    ] as const) {
      vm = send(vm, e);
      execute(vm, issued);
    }
    expect(executed).toEqual(['define#1']);
    // define ran; the engine dies before its ACK is recorded.
    let json = roundTrip(vm);
    vm = restoreSnapshot(json);
    issued = new Set();
    execute(vm, issued);
    expect(executed).toEqual(['define#1', 'define#1']); // re-issued: defineDomain is idempotent by uid
    vm = send(vm, { type: 'ACK', commandId: 1, now: T0 + 4 });
    execute(vm, issued);
    expect(executed).toEqual(['define#1', 'define#1', 'start#2']);
    vm = send(vm, { type: 'ACK', commandId: 2, now: T0 + 5 });
    // The engine dies after both ACKs were persisted: nothing is re-issued.
    json = roundTrip(vm);
    vm = restoreSnapshot(json);
    issued = new Set();
    execute(vm, issued);
    expect(executed).toEqual(['define#1', 'define#1', 'start#2']);
    expect(vm.value).toEqual({ creating: { starting: 'waitingForGuest' } });
    // ...and the boot deadline armed before the crash still holds.
    expect(nextDeadline(vm)).toBe(T0 + 4 + 5 * 60_000);
  });

  it('restores a finished (deleted) machine as done', () => {
    let vm = send(fresh().getSnapshot(), { type: 'DELETE', now: T0 + 1 });
    expect(vm.status).toBe('done');
    vm = restoreSnapshot(roundTrip(vm));
    expect(vm.status).toBe('done');
    expect(vm.value).toBe('deleted');
  });

  it('refuses snapshots it cannot read, with a clear error', () => {
    const good = roundTrip(fresh().getSnapshot()) as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [{ ...good, version: 2 }, /unsupported version 2; this engine reads version 1/],
      [{ ...good, version: undefined }, /unsupported version undefined/],
      [{ ...good, format: 'someone-else' }, /format is "someone-else", expected "virtkit.io\/lifecycle"/],
      [null, /not an object/],
      ['running', /not an object/],
      [{ ...good, snapshot: { value: 'stopped' } }, /missing snapshot value or context/],
      [
        { ...good, snapshot: { ...(good.snapshot as object), value: 'hibernating' } },
        /invalid snapshot: .*hibernating/,
      ],
    ];
    for (const [json, message] of cases) {
      let error: unknown;
      try {
        restore(json);
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(LifecycleSnapshotError);
      expect(error).toBeInstanceOf(VirtkitError);
      expect((error as VirtkitError).code).toBe('StoreCorrupt');
      expect((error as Error).message).toMatch(message);
    }
    expect((good as { format: string }).format).toBe(LIFECYCLE_SNAPSHOT_FORMAT);
  });

  it('persists a running actor and a bare snapshot the same way', () => {
    const actor = fresh();
    send(actor, { type: 'START', now: T0 + 1 });
    expect(persist(actor)).toEqual(persist(actor.getSnapshot()));
    expect(JSON.parse(JSON.stringify(persist(actor)))).toEqual(persist(actor));
    expect(lifecycleMachine.id).toBe('vm');
  });
});
