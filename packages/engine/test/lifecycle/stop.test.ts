import { nextDeadline } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { Vm } from './harness.ts';

const S = 1000;

describe('stopping', () => {
  it('graceful stop: ACPI shutdown, and the domain is undefined once the guest is off', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'STOP' });
    expect(vm.state).toBe('stopping.graceful');
    expect(vm.printable).toBe('Stopping');
    expect(vm.phase).toBe('Running');
    expect(vm.queue).toEqual(['shutdown@n1']);
    expect(nextDeadline(vm.snapshot)).toBe(vm.now + 30 * S);
    vm.ack('shutdown'); // delivered; the guest is still shutting down
    expect(vm.state).toBe('stopping.graceful');
    vm.send({ type: 'STOPPED', reason: 'shutdown', node: 'n1' });
    expect(vm.state).toBe('stopped');
    expect(vm.printable).toBe('Stopped');
    expect(vm.phase).toBe('Succeeded');
    expect(vm.queue).toEqual(['undefine@n1']);
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    expect(vm.snapshot.context.node).toBeUndefined();
    vm.ack('undefine');
    expect(vm.snapshot.context.domainNodes).toEqual([]);
  });

  it('graceful stop → forced destroy after the grace period', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'STOP', gracePeriodSeconds: 45 });
    const graceEnd = vm.now + 45 * S;
    expect(nextDeadline(vm.snapshot)).toBe(graceEnd);
    vm.tickAt(graceEnd - 1);
    expect(vm.state).toBe('stopping.graceful');
    expect(vm.queue).toEqual(['shutdown@n1']);
    vm.tickAt(graceEnd);
    expect(vm.state).toBe('stopping.forced');
    // The destroy replaces the shutdown that the guest ignored.
    expect(vm.queue).toEqual(['destroy@n1']);
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    // destroyDomain resolves when the domain is off: its ACK completes the stop.
    vm.ack('destroy');
    expect(vm.state).toBe('stopped');
    expect(vm.queue).toEqual(['undefine@n1']);
  });

  it('a forced stop also completes on the Stopped/Destroyed event before the ACK', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'FORCE_STOP' });
    expect(vm.queue).toEqual(['destroy@n1']);
    vm.send({ type: 'STOPPED', reason: 'destroyed', node: 'n1' });
    expect(vm.state).toBe('stopped');
    // The destroy is settled by the event, so a restart would not re-issue it.
    expect(vm.queue).toEqual(['undefine@n1']);
  });

  it('STOP without grace (graceful:false or 0s) destroys at once', () => {
    for (const stop of [{ graceful: false }, { gracePeriodSeconds: 0 }]) {
      const vm = new Vm().boot();
      vm.send({ type: 'STOP', ...stop });
      expect(vm.state).toBe('stopping.forced');
      expect(vm.queue).toEqual(['destroy@n1']);
    }
  });

  it('a second STOP with no grace, or FORCE_STOP, escalates a graceful stop', () => {
    const vm = new Vm().boot().send({ type: 'STOP' });
    vm.send({ type: 'STOP', gracePeriodSeconds: 0 });
    expect(vm.state).toBe('stopping.forced');
    const again = new Vm().boot().send({ type: 'STOP' }).send({ type: 'FORCE_STOP' });
    expect(again.state).toBe('stopping.forced');
  });

  it('a failed shutdown escalates to destroy; a failed destroy waits for FORCE_STOP to retry', () => {
    const vm = new Vm().boot().send({ type: 'STOP' });
    const shutdown = vm.pending[0]!;
    vm.send({ type: 'DRIVER_ERROR', commandId: shutdown.id, reason: 'Internal', message: 'qemu agent gone' });
    expect(vm.state).toBe('stopping.forced');
    const destroy = vm.pending[0]!;
    vm.send({ type: 'DRIVER_ERROR', commandId: destroy.id, reason: 'NodeUnreachable', message: 'timeout' });
    // Not reported Stopped while the domain may still run.
    expect(vm.state).toBe('stopping.destroyFailed');
    expect(vm.printable).toBe('Stopping');
    expect(vm.queue).toEqual([]);
    expect(vm.snapshot.context.lastError).toMatchObject({ command: 'destroy', reason: 'NodeUnreachable' });
    vm.send({ type: 'FORCE_STOP' });
    expect(vm.queue).toEqual(['destroy@n1']);
    expect(vm.pending[0]!.id).toBeGreaterThan(destroy.id);
    vm.ack('destroy');
    expect(vm.state).toBe('stopped');
  });

  it('stopping a paused VM destroys it (a paused guest cannot act on ACPI)', () => {
    const vm = new Vm().boot().send({ type: 'PAUSE' }).ack('pause');
    expect(vm.state).toBe('paused.suspended');
    vm.send({ type: 'STOP' });
    expect(vm.state).toBe('stopping.forced');
    expect(vm.queue).toEqual(['destroy@n1']);
  });

  it('RESTART stops gracefully, then starts from scratch', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'RESTART' });
    expect(vm.state).toBe('stopping.graceful');
    vm.send({ type: 'STOPPED', reason: 'shutdown' });
    expect(vm.state).toBe('creating.provisioning');
    // The Stopped event settled the shutdown; only the cleanup is left.
    expect(vm.queue).toEqual(['undefine@n1']);
    vm.ackAll().send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n2' });
    expect(vm.queue).toEqual(['define@n2']);
    vm.ack('define').ack('start').send({ type: 'GUEST_READY' });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.node).toBe('n2');
  });

  it('losing the node while stopping leaves the VM stopped without commands for that node', () => {
    const vm = new Vm().boot().send({ type: 'STOP' });
    vm.send({ type: 'NODE_LOST', node: 'n1' });
    expect(vm.state).toBe('stopped');
    expect(vm.queue).toEqual([]);
    expect(vm.snapshot.context.domainNodes).toEqual([]);
  });

  it('stopping before a node was chosen needs no driver at all', () => {
    const vm = new Vm().send({ type: 'START' }).send({ type: 'PROVISIONED' });
    vm.send({ type: 'UNSCHEDULABLE', message: '0/3 nodes have enough memory' });
    expect(vm.printable).toBe('ErrorUnschedulable');
    expect(vm.snapshot.context.unschedulableMessage).toBe('0/3 nodes have enough memory');
    vm.send({ type: 'STOP' });
    expect(vm.state).toBe('stopped');
    expect(vm.queue).toEqual([]);
    expect(vm.snapshot.context.unschedulableMessage).toBe('0/3 nodes have enough memory');
    vm.send({ type: 'START' });
    expect(vm.snapshot.context.unschedulableMessage).toBeUndefined();
  });

  it('a stop during boot destroys whatever was started, without waiting', () => {
    const vm = new Vm().send({ type: 'START' }).send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n1' });
    vm.ack('define');
    expect(vm.queue).toEqual(['start@n1']);
    vm.send({ type: 'STOP' });
    // The start not yet acknowledged is dropped: if it never ran it never will.
    expect(vm.queue).toEqual(['destroy@n1']);
    vm.ack('destroy');
    expect(vm.state).toBe('stopped');
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
  });
});

describe('deleting', () => {
  it('graceful delete: shutdown, then undefine, then deleted (final)', () => {
    const vm = new Vm().boot();
    vm.send({ type: 'DELETE' });
    expect(vm.state).toBe('deleting.graceful');
    expect(vm.printable).toBe('Terminating');
    expect(vm.queue).toEqual(['shutdown@n1']);
    vm.ack('shutdown').send({ type: 'STOPPED', reason: 'shutdown' });
    expect(vm.state).toBe('deleting.undefining');
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    expect(vm.queue).toEqual(['undefine@n1']);
    vm.ack('undefine');
    expect(vm.state).toBe('deleted');
    expect(vm.snapshot.status).toBe('done');
  });

  it('delete with gracePeriodSeconds 0, or after the grace period, destroys first', () => {
    const now = new Vm().boot().send({ type: 'DELETE', gracePeriodSeconds: 0 });
    expect(now.state).toBe('deleting.forced');
    expect(now.queue).toEqual(['destroy@n1']);
    now.ack('destroy');
    expect(now.queue).toEqual(['undefine@n1']);
    now.ack('undefine');
    expect(now.state).toBe('deleted');

    const late = new Vm().boot().send({ type: 'DELETE', gracePeriodSeconds: 10 });
    late.tick();
    expect(late.state).toBe('deleting.forced');
    expect(late.queue).toEqual(['destroy@n1']);
  });

  it('delete during a graceful stop keeps the stop deadline', () => {
    const vm = new Vm().boot().send({ type: 'STOP' });
    const deadline = nextDeadline(vm.snapshot);
    vm.send({ type: 'DELETE' });
    expect(vm.state).toBe('deleting.graceful');
    expect(nextDeadline(vm.snapshot)).toBe(deadline);
    expect(vm.queue).toEqual(['shutdown@n1']);
  });

  it('deleting a stopped VM waits for its cleanup; with none it is deleted at once', () => {
    const vm = new Vm().boot().send({ type: 'FORCE_STOP' }).ack('destroy');
    expect(vm.queue).toEqual(['undefine@n1']);
    vm.send({ type: 'DELETE' });
    expect(vm.state).toBe('deleting.undefining');
    vm.ack('undefine');
    expect(vm.state).toBe('deleted');
    expect(new Vm().send({ type: 'DELETE' }).state).toBe('deleted');
  });

  it('a deletion never gets stuck: failed cleanup is given up (the node reaps orphans)', () => {
    const vm = new Vm().boot().send({ type: 'DELETE', gracePeriodSeconds: 0 });
    const destroy = vm.pending[0]!;
    vm.send({ type: 'DRIVER_ERROR', commandId: destroy.id, reason: 'NodeUnreachable', message: 'gone' });
    expect(vm.state).toBe('deleting.undefining');
    const undefine = vm.pending[0]!;
    vm.send({ type: 'DRIVER_ERROR', commandId: undefine.id, reason: 'NodeUnreachable', message: 'gone' });
    expect(vm.state).toBe('deleted');
  });

  it('losing the node during deletion finishes it', () => {
    const vm = new Vm().boot().send({ type: 'DELETE' });
    vm.send({ type: 'NODE_LOST', node: 'n1' });
    expect(vm.state).toBe('deleted');
  });
});
