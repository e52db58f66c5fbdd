import {
  assertCanAccept,
  IllegalTransitionError,
  isVirtkitError,
  REQUEST_VERBS,
  send,
  type VMLifecycleEvent,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { type Untimed, Vm } from './harness.ts';

type Setup = (vm: Vm) => void;
const stopped: Setup = () => {};
const running: Setup = (vm) => void vm.boot();
const paused: Setup = (vm) => void vm.boot().send({ type: 'PAUSE' }).ack('pause');
const migrating: Setup = (vm) => void vm.boot().send({ type: 'MIGRATE', targetNode: 'n2', migrationName: 'm1' });
const deleted: Setup = (vm) => void vm.send({ type: 'DELETE' });
const backingOff: Setup = (vm) => void vm.boot().send({ type: 'CRASHED' });
const stopping: Setup = (vm) => void vm.boot().send({ type: 'STOP' });

const cases: [string, Setup, Untimed<VMLifecycleEvent>, string, string, RegExp?][] = [
  ['migrate a stopped VM', stopped, { type: 'MIGRATE', targetNode: 'n2', migrationName: 'm' }, 'stopped', 'migrate'],
  ['start a deleted VM', deleted, { type: 'START' }, 'deleted', 'start'],
  ['pause a stopped VM', stopped, { type: 'PAUSE' }, 'stopped', 'pause'],
  ['unpause a running VM', running, { type: 'UNPAUSE' }, 'running.ready', 'unpause'],
  ['stop a stopped VM', stopped, { type: 'STOP' }, 'stopped', 'stop'],
  ['reboot a paused VM', paused, { type: 'REBOOT' }, 'paused.suspended', 'reboot'],
  ['pause a paused VM', paused, { type: 'PAUSE' }, 'paused.suspended', 'pause'],
  ['start a running VM', running, { type: 'START' }, 'running.ready', 'start'],
  ['delete a deleted VM', deleted, { type: 'DELETE' }, 'deleted', 'delete'],
  [
    'migrate to the node it runs on',
    running,
    { type: 'MIGRATE', targetNode: 'n1', migrationName: 'm' },
    'running.ready',
    'migrate',
    /already runs on node "n1"/,
  ],
  [
    'migrate twice',
    migrating,
    { type: 'MIGRATE', targetNode: 'n3', migrationName: 'm2' },
    'migrating.preparing',
    'migrate',
    /already in progress/,
  ],
  [
    'cancel a migration that is not running',
    running,
    { type: 'CANCEL_MIGRATION' },
    'running.ready',
    'cancel the migration of',
  ],
  [
    'stop gracefully mid-migration',
    migrating,
    { type: 'STOP' },
    'migrating.preparing',
    'stop',
    /cancel the migration first/,
  ],
  [
    'start during back-off',
    backingOff,
    { type: 'START' },
    'failed.backingOff',
    'start',
    /restart is already scheduled/,
  ],
  ['stop twice gracefully', stopping, { type: 'STOP' }, 'stopping.graceful', 'stop', /already stopping/],
  ['restart a stopped VM', stopped, { type: 'RESTART' }, 'stopped', 'restart'],
  [
    'change the run strategy of a deleted VM',
    deleted,
    { type: 'SET_RUN_STRATEGY', runStrategy: 'Always' },
    'deleted',
    'change the run strategy of',
  ],
];

describe('illegal requests', () => {
  it.each(cases)(
    '%s: IllegalTransitionError(state, request), nothing changes',
    (_name, setup, request, state, verb, hint) => {
      const vm = new Vm();
      setup(vm);
      const before = vm.snapshot;
      const event = { ...request, now: vm.now + 1 } as VMLifecycleEvent;
      let error: unknown;
      try {
        send(vm.actor, event);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(IllegalTransitionError);
      const e = error as IllegalTransitionError;
      expect(e.state).toBe(state);
      expect(e.request).toBe(verb);
      expect(e.code).toBe('IllegalTransition');
      expect(e.httpStatus).toBe(409);
      expect(isVirtkitError(e)).toBe(true);
      expect(e.message).toContain(`cannot ${verb} a VM that is ${state}`);
      if (hint) expect(e.message).toMatch(hint);
      // Rejected before anything changed.
      expect(vm.snapshot).toBe(before);
      expect(() => assertCanAccept(before, event)).toThrow(IllegalTransitionError);
    },
  );

  it('never rejects reports, even ones that do not apply', () => {
    const vm = new Vm();
    const before = vm.snapshot;
    for (const report of [
      { type: 'GUEST_READY', now: vm.now + 1 },
      { type: 'MIGRATION_SUCCEEDED', node: 'n9', downtimeMs: 1, now: vm.now + 1 },
      { type: 'ACK', commandId: 42, now: vm.now + 1 },
      { type: 'TICK', now: vm.now + 1 },
    ] as VMLifecycleEvent[]) {
      expect(() => assertCanAccept(before, report)).not.toThrow();
      send(vm.actor, report);
    }
    expect(vm.snapshot.value).toBe('stopped');
    expect(vm.snapshot.context).toEqual(before.context);
  });

  it('reports about a deleted VM are dropped without waking the finished actor', () => {
    const vm = new Vm();
    vm.send({ type: 'DELETE' });
    const done = vm.snapshot;
    expect(done.status).toBe('done');
    expect(send(done, { type: 'STOPPED', reason: 'destroyed', now: vm.now + 1 })).toBe(done);
    vm.send({ type: 'STOPPED', reason: 'destroyed' });
    expect(vm.snapshot).toBe(done);
  });

  it('names every request with a verb', () => {
    expect(Object.keys(REQUEST_VERBS).sort()).toEqual(
      [
        'CANCEL_MIGRATION',
        'DELETE',
        'FORCE_STOP',
        'MIGRATE',
        'PAUSE',
        'REBOOT',
        'RESTART',
        'SET_RUN_STRATEGY',
        'START',
        'STOP',
        'UNPAUSE',
      ].sort(),
    );
  });
});
