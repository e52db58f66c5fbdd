import {
  armedDeadlines,
  type LifecycleSnapshot,
  nextDeadline,
  type PrintableStatus,
  printableStatus,
  stateName,
  type VMIPhase,
  vmiPhase,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { Vm } from './harness.ts';
import { coarseState, reachable } from './model.ts';

/** What KubeVirt shows for each machine state (where it depends on context, the function decides). */
const EXPECTED: Record<string, (s: LifecycleSnapshot) => [PrintableStatus, VMIPhase | undefined]> = {
  stopped: (s) => ['Stopped', s.context.exit ? 'Succeeded' : undefined],
  'creating.provisioning': () => ['Provisioning', 'Pending'],
  'creating.scheduling.pending': () => ['Starting', 'Scheduling'],
  'creating.scheduling.unschedulable': () => ['ErrorUnschedulable', 'Scheduling'],
  'creating.starting.defining': () => ['Starting', 'Scheduled'],
  'creating.starting.booting': () => ['Starting', 'Scheduled'],
  'creating.starting.waitingForGuest': () => ['Starting', 'Scheduled'],
  'running.ready': () => ['Running', 'Running'],
  'running.pausing': () => ['Running', 'Running'],
  'running.rebooting': () => ['Running', 'Running'],
  'paused.suspended': () => ['Paused', 'Running'],
  'paused.resuming': () => ['Paused', 'Running'],
  'migrating.preparing': () => ['Migrating', 'Running'],
  'migrating.transferring': () => ['Migrating', 'Running'],
  'migrating.aborting': () => ['Migrating', 'Running'],
  'stopping.graceful': () => ['Stopping', 'Running'],
  'stopping.forced': () => ['Stopping', 'Running'],
  'stopping.destroyFailed': () => ['Stopping', 'Running'],
  'failed.backingOff': () => ['CrashLoopBackOff', 'Failed'],
  'failed.halted': () => ['Stopped', 'Failed'],
  'deleting.graceful': () => ['Terminating', 'Running'],
  'deleting.forced': () => ['Terminating', 'Running'],
  // A final phase is final: deleted while Failed stays Failed.
  'deleting.undefining': (s) => ['Terminating', s.context.deletedWhileFailed ? 'Failed' : 'Succeeded'],
  deleted: (s) => ['Terminating', s.context.deletedWhileFailed ? 'Failed' : 'Succeeded'],
};

describe('status mapping', () => {
  it('maps every reachable state to KubeVirt printableStatus and VMI phase', () => {
    const seen = new Set<string>();
    for (const s of reachable(coarseState).values()) {
      const name = stateName(s);
      seen.add(name);
      const expected = EXPECTED[name];
      expect(expected, name).toBeDefined();
      expect([printableStatus(s), vmiPhase(s)], name).toEqual(expected?.(s));
    }
    expect([...seen].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('nextDeadline is the earliest armed deadline', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'CRASHED' }).tick();
    vm.send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n1' }).ack('define').ack('start');
    vm.send({ type: 'GUEST_READY' }).send({ type: 'REBOOT' });
    // Rebooting: the boot deadline (5 min) comes before the stable-run reset (10 min).
    const armed = armedDeadlines(vm.snapshot);
    expect(armed.map((d) => d.kind)).toEqual(['boot', 'stableRun']);
    expect(nextDeadline(vm.snapshot)).toBe(armed[0]?.at);
    vm.send({ type: 'GUEST_READY' });
    expect(armedDeadlines(vm.snapshot).map((d) => d.kind)).toEqual(['stableRun']);
  });
});

describe('pause, resume, reboot', () => {
  it('pause and unpause go through explicit outcomes', () => {
    const vm = new Vm().boot().send({ type: 'PAUSE' });
    expect(vm.state).toBe('running.pausing');
    expect(vm.queue).toEqual(['pause@n1']);
    vm.send({ type: 'PAUSED' });
    expect(vm.state).toBe('paused.suspended');
    expect(vm.queue).toEqual([]);
    vm.send({ type: 'UNPAUSE' });
    expect(vm.state).toBe('paused.resuming');
    vm.ack('resume');
    expect(vm.state).toBe('running.ready');
  });

  it('a failed pause or resume returns to where it was, with the error recorded', () => {
    const vm = new Vm().boot().send({ type: 'PAUSE' });
    vm.send({ type: 'DRIVER_ERROR', commandId: vm.pending[0]!.id, reason: 'InvalidState', message: 'not running' });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.lastError).toMatchObject({ command: 'pause', reason: 'InvalidState' });
    vm.send({ type: 'PAUSE' }).ack('pause').send({ type: 'UNPAUSE' });
    vm.send({ type: 'DRIVER_ERROR', commandId: vm.pending[0]!.id, reason: 'Internal', message: 'x' });
    expect(vm.state).toBe('paused.suspended');
  });

  it('reboot waits for the guest again, and fails the VM when it never comes back', () => {
    const vm = new Vm().boot().send({ type: 'REBOOT' });
    expect(vm.state).toBe('running.rebooting');
    expect(vm.queue).toEqual(['reboot@n1']);
    vm.ack('reboot');
    expect(vm.state).toBe('running.rebooting');
    vm.send({ type: 'GUEST_READY' });
    expect(vm.state).toBe('running.ready');
    expect(nextDeadline(vm.snapshot)).toBeUndefined();

    const hung = new Vm().boot().send({ type: 'REBOOT' }).ack('reboot');
    hung.tick();
    expect(hung.state).toBe('failed.backingOff');
    expect(hung.snapshot.context.lastFailure?.reason).toBe('BootTimeout');
  });

  it('a domain that crashes while paused fails the VM', () => {
    const vm = new Vm({ runStrategy: 'Manual' }).boot().send({ type: 'PAUSE' }).ack('pause');
    vm.send({ type: 'STOPPED', reason: 'crashed', node: 'n1' });
    expect(vm.state).toBe('failed.halted');
    // A Stopped event from some other node is not about this VM's domain.
    const other = new Vm().boot();
    other.send({ type: 'STOPPED', reason: 'crashed', node: 'n7' });
    expect(other.state).toBe('running.ready');
  });
});
