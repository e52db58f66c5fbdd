import { type Command, migrationPhase, migrationState, nextDeadline } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { Vm } from './harness.ts';

const S = 1000;
const migrate = (vm: Vm, completionTimeoutMs?: number) =>
  vm.send({
    type: 'MIGRATE',
    targetNode: 'n2',
    migrationName: 'mig-1',
    ...(completionTimeoutMs === undefined ? {} : { completionTimeoutMs }),
  });

describe('live migration', () => {
  it('succeeds: migrate command, progress, switch-over, source cleaned up', () => {
    const vm = new Vm().boot();
    migrate(vm, 120 * S);
    const started = vm.now;
    expect(vm.state).toBe('migrating.preparing');
    expect(vm.printable).toBe('Migrating');
    expect(vm.phase).toBe('Running');
    expect(migrationPhase(vm.snapshot)).toBe('PreparingTarget');
    const cmd = vm.pending[0] as Extract<Command, { type: 'migrate' }>;
    expect(cmd).toMatchObject({ type: 'migrate', node: 'n1', target: 'n2', migrationName: 'mig-1' });
    expect(cmd.completionTimeoutMs).toBe(120 * S);
    expect(nextDeadline(vm.snapshot)).toBe(started + 120 * S);

    vm.send({ type: 'MIGRATION_PROGRESS', dataTotal: 1000, dataRemaining: 900 });
    expect(vm.state).toBe('migrating.transferring');
    expect(migrationPhase(vm.snapshot)).toBe('Running');
    expect(vm.queue).toEqual([]); // progress proves the migrate command ran
    expect(vm.snapshot.context.deadlines.migrationProgress).toBe(vm.now + 150 * S);

    vm.send({ type: 'MIGRATION_SUCCEEDED', node: 'n2', downtimeMs: 42 });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.node).toBe('n2');
    expect(vm.queue).toEqual(['undefine@n1']);
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    expect(migrationPhase(vm.snapshot)).toBe('Succeeded');
    expect(migrationState(vm.snapshot)).toEqual({
      migrationUid: 'mig-1',
      sourceNode: 'n1',
      targetNode: 'n2',
      startTimestamp: new Date(Math.floor(started / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      endTimestamp: new Date(Math.floor(vm.now / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      completed: true,
      failed: false,
      abortRequested: false,
      mode: 'PreCopy',
      downtimeMs: 42,
    });
    vm.ack('undefine');
    expect(vm.snapshot.context.domainNodes).toEqual(['n2']);
    // It can migrate back.
    vm.send({ type: 'MIGRATE', targetNode: 'n1', migrationName: 'mig-2' });
    expect(vm.pending[0]).toMatchObject({ type: 'migrate', node: 'n2', target: 'n1' });
  });

  it('fails: the VM keeps running on the source and the target is forgotten', () => {
    const vm = new Vm().boot();
    migrate(vm).ack('migrate');
    expect(vm.state).toBe('migrating.transferring');
    expect(vm.snapshot.context.domainNodes).toEqual(['n1', 'n2']);
    vm.send({ type: 'MIGRATION_FAILED', reason: 'MigrationFailed', message: 'connection reset' });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.node).toBe('n1');
    expect(vm.snapshot.context.domainNodes).toEqual(['n1']);
    expect(migrationPhase(vm.snapshot)).toBe('Failed');
    expect(vm.snapshot.context.migration).toMatchObject({ outcome: 'Failed', failureReason: 'MigrationFailed' });
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
  });

  it('a rejected migrate call (DRIVER_ERROR) is a failed migration', () => {
    const vm = new Vm().boot();
    migrate(vm);
    const cmd = vm.pending[0]!;
    vm.send({ type: 'DRIVER_ERROR', commandId: cmd.id, reason: 'InsufficientResources', message: 'n2 is full' });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.migration?.failureReason).toBe('InsufficientResources');
    expect(vm.snapshot.context.lastError).toMatchObject({ command: 'migrate', reason: 'InsufficientResources' });
  });

  it('cancel while transferring: abort, wait for the outcome, abortStatus Succeeded', () => {
    const vm = new Vm().boot();
    migrate(vm).ack('migrate');
    vm.send({ type: 'CANCEL_MIGRATION' });
    expect(vm.state).toBe('migrating.aborting');
    expect(vm.queue).toEqual(['abortMigration@n1']);
    expect(migrationState(vm.snapshot)).toMatchObject({ abortRequested: true, abortStatus: 'Aborting' });
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    vm.ack('abortMigration');
    expect(vm.state).toBe('migrating.aborting'); // the abort call returning is not the outcome
    vm.send({ type: 'MIGRATION_FAILED', reason: 'MigrationAborted' });
    expect(vm.state).toBe('running.ready');
    expect(migrationState(vm.snapshot)).toMatchObject({ failed: true, abortStatus: 'Succeeded' });
  });

  it('the switch-over can beat the abort: the VM then runs on the target, abortStatus Failed', () => {
    const vm = new Vm().boot();
    migrate(vm).ack('migrate').send({ type: 'CANCEL_MIGRATION' });
    vm.send({ type: 'MIGRATION_SUCCEEDED', node: 'n2', downtimeMs: 5 });
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.node).toBe('n2');
    expect(vm.queue).toEqual(['undefine@n1']); // the abort was settled by the outcome
    expect(migrationState(vm.snapshot)).toMatchObject({ completed: true, abortStatus: 'Failed' });
  });

  it('cancel before the source started sending: abort queued, VM carries on at once', () => {
    const vm = new Vm().boot();
    migrate(vm);
    vm.send({ type: 'CANCEL_MIGRATION' });
    expect(vm.state).toBe('running.ready');
    // The migrate that never ran is dropped; the abort covers the case that it did.
    expect(vm.queue).toEqual(['abortMigration@n1']);
    expect(migrationPhase(vm.snapshot)).toBe('Failed');
    // Had it run and completed after all, the VM follows to the target.
    vm.send({ type: 'MIGRATION_SUCCEEDED', node: 'n2', downtimeMs: 9 });
    expect(vm.snapshot.context.node).toBe('n2');
    expect(vm.queue).toEqual(['undefine@n1']);
  });

  it('completion timeout aborts a running migration', () => {
    const vm = new Vm().boot();
    migrate(vm, 60 * S);
    const deadline = vm.now + 60 * S;
    vm.ack('migrate');
    // Keep making progress so only the completion deadline can fire.
    for (let left = 900; vm.now + 20 * S < deadline; left -= 100) {
      vm.send({ type: 'MIGRATION_PROGRESS', dataRemaining: left }, 20 * S);
    }
    expect(nextDeadline(vm.snapshot)).toBe(deadline);
    vm.tickAt(deadline);
    expect(vm.state).toBe('migrating.aborting');
    expect(vm.snapshot.context.migration?.abortReason).toBe('CompletionTimeout');
    expect(vm.queue).toEqual(['abortMigration@n1']);
  });

  it('completion timeout before the migration started gives it up at once', () => {
    const vm = new Vm().boot();
    migrate(vm, 30 * S);
    vm.tick();
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.migration).toMatchObject({ outcome: 'Failed', failureReason: 'CompletionTimeout' });
  });

  it('progress timeout: remaining data that stops shrinking aborts the migration', () => {
    const vm = new Vm().boot();
    migrate(vm).ack('migrate');
    vm.send({ type: 'MIGRATION_PROGRESS', dataRemaining: 500 });
    const progressDeadline = vm.now + 150 * S;
    expect(vm.snapshot.context.deadlines.migrationProgress).toBe(progressDeadline);
    // Reports without shrinking data do not move the deadline (the guest dirties memory as fast as it is sent).
    vm.send({ type: 'MIGRATION_PROGRESS', dataRemaining: 500 }, 60 * S);
    vm.send({ type: 'MIGRATION_PROGRESS', dataRemaining: 520 }, 60 * S);
    expect(vm.snapshot.context.deadlines.migrationProgress).toBe(progressDeadline);
    expect(vm.snapshot.context.migration?.dataRemaining).toBe(520);
    vm.tickAt(progressDeadline);
    expect(vm.state).toBe('migrating.aborting');
    expect(vm.snapshot.context.migration?.abortReason).toBe('ProgressTimeout');
  });

  it('losing the target aborts; losing the source fails the VM', () => {
    const target = new Vm().boot();
    migrate(target).ack('migrate').send({ type: 'NODE_LOST', node: 'n2' });
    expect(target.state).toBe('running.ready');
    expect(target.snapshot.context.migration).toMatchObject({ outcome: 'Failed', failureReason: 'TargetLost' });
    expect(target.snapshot.context.domainNodes).toEqual(['n1']);

    const source = new Vm().boot();
    migrate(source).ack('migrate').send({ type: 'NODE_LOST', node: 'n1' });
    expect(source.state).toBe('failed.backingOff');
    expect(source.snapshot.context.lastFailure?.reason).toBe('NodeLost');
    // Only the target (which may hold a half-migrated domain) is cleaned up; nothing is sent to n1.
    expect(source.queue).toEqual(['destroy@n2', 'undefine@n2']);
  });

  it('force stop or delete mid-migration aborts and destroys both copies', () => {
    const vm = new Vm().boot();
    migrate(vm).ack('migrate');
    vm.send({ type: 'FORCE_STOP' });
    expect(vm.state).toBe('stopping.forced');
    expect(vm.queue).toEqual(['abortMigration@n1', 'destroy@n1', 'destroy@n2']);
    expect(vm.snapshot.context.migration).toMatchObject({ outcome: 'Failed', failureReason: 'VMStopped' });
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
    vm.ackAll();
    expect(vm.state).toBe('stopped');
    expect(vm.queue).toEqual([]);
    expect(vm.snapshot.context.domainNodes).toEqual([]);

    const del = new Vm().boot();
    migrate(del).send({ type: 'DELETE' });
    expect(del.state).toBe('deleting.forced');
    expect(del.queue).toEqual(['abortMigration@n1', 'destroy@n1', 'destroy@n2']);
    del.ackAll();
    expect(del.state).toBe('deleted');
  });
});
