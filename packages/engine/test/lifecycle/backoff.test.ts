import { backoffDelay, DEFAULT_LIFECYCLE_CONFIG, nextDeadline, type RunStrategy } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { Vm } from './harness.ts';

const S = 1000;
const MIN = 60 * S;

/** Crashes the running VM and returns the back-off it armed (ms from the crash). */
function crash(vm: Vm): number {
  vm.send({ type: 'CRASHED', message: 'kernel panic' });
  expect(vm.state).toBe('failed.backingOff');
  return (vm.snapshot.context.deadlines.backoff ?? Number.NaN) - vm.now;
}

/** Waits out the back-off and boots again on the same node. */
function retry(vm: Vm): void {
  vm.tick();
  expect(vm.state).toBe('creating.provisioning');
  vm.send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n1' });
  vm.ack('define').ack('start').send({ type: 'GUEST_READY' });
  expect(vm.state).toBe('running.ready');
}

describe('CrashLoopBackOff', () => {
  it('backoffDelay grows 10s, 20s, 40s... and caps at 5 minutes', () => {
    const b = DEFAULT_LIFECYCLE_CONFIG.backoff;
    expect([1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((n) => backoffDelay(b, n))).toEqual([
      10 * S,
      20 * S,
      40 * S,
      80 * S,
      160 * S,
      300 * S,
      300 * S,
      300 * S,
      300 * S,
    ]);
    expect(backoffDelay(b, 0)).toBe(10 * S);
  });

  it('a crash-looping VM backs off longer each time, capped, and shows CrashLoopBackOff', () => {
    const vm = new Vm().boot();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      delays.push(crash(vm));
      expect(vm.printable).toBe('CrashLoopBackOff');
      expect(vm.phase).toBe('Failed');
      expect(vm.snapshot.context.failureCount).toBe(i + 1);
      expect(vm.snapshot.context.lastFailure).toMatchObject({ reason: 'Crashed', message: 'kernel panic' });
      // The crashed domain is cleaned up: destroyed, then undefined.
      expect(vm.queue.slice(-2)).toEqual(['destroy@n1', 'undefine@n1']);
      vm.ackAll();
      retry(vm);
    }
    expect(delays).toEqual([10, 20, 40, 80, 160, 300, 300].map((s) => s * S));
  });

  it('does not retry before the back-off expires', () => {
    const vm = new Vm().boot();
    crash(vm);
    const at = nextDeadline(vm.snapshot)!;
    vm.tickAt(at - 1);
    expect(vm.state).toBe('failed.backingOff');
    vm.tickAt(at);
    expect(vm.state).toBe('creating.provisioning');
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
  });

  it('resets after a stable run of 10 minutes, and not before', () => {
    const vm = new Vm().boot();
    crash(vm);
    retry(vm);
    crash(vm);
    retry(vm);
    expect(vm.snapshot.context.failureCount).toBe(2);
    // Stable-run deadline armed when the guest became ready.
    const stableAt = vm.snapshot.context.deadlines.stableRun!;
    expect(stableAt - vm.now).toBe(10 * MIN);
    expect(nextDeadline(vm.snapshot)).toBe(stableAt);
    // A crash just before: the loop continues (third failure, 40s).
    const early = new Vm().boot();
    crash(early);
    retry(early);
    crash(early);
    retry(early);
    early.now = early.snapshot.context.deadlines.stableRun! - 2 * S;
    expect(crash(early)).toBe(40 * S);
    // Ten quiet minutes later the count resets; the next crash starts from 10s again.
    vm.tick();
    expect(vm.state).toBe('running.ready');
    expect(vm.snapshot.context.failureCount).toBe(0);
    expect(vm.snapshot.context.deadlines.stableRun).toBeUndefined();
    expect(crash(vm)).toBe(10 * S);
  });

  it('a crash after the stable period counts as the first even if the TICK never came', () => {
    const vm = new Vm().boot();
    crash(vm);
    retry(vm);
    vm.now = vm.snapshot.context.deadlines.stableRun! + 5 * S;
    expect(crash(vm)).toBe(10 * S);
    expect(vm.snapshot.context.failureCount).toBe(1);
  });

  it('uses configured numbers', () => {
    const vm = new Vm({ config: { backoff: { initialMs: 1 * S, factor: 3, maxMs: 5 * S, resetAfterMs: 30 * S } } });
    vm.boot();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(crash(vm));
      retry(vm);
    }
    expect(delays).toEqual([1 * S, 3 * S, 5 * S, 5 * S]);
    expect(vm.snapshot.context.deadlines.stableRun! - vm.now).toBe(30 * S);
    expect(vm.snapshot.context.config.bootTimeoutMs).toBe(DEFAULT_LIFECYCLE_CONFIG.bootTimeoutMs);
  });

  it.each<[RunStrategy, string]>([
    ['Always', 'failed.backingOff'],
    ['RerunOnFailure', 'failed.backingOff'],
    ['Manual', 'failed.halted'],
    ['Once', 'failed.halted'],
    ['Halted', 'failed.halted'],
  ])('runStrategy %s after a crash: %s', (runStrategy, state) => {
    const vm = new Vm({ runStrategy }).boot();
    vm.send({ type: 'CRASHED' });
    expect(vm.state).toBe(state);
    expect(vm.phase).toBe('Failed');
    if (state === 'failed.halted') {
      expect(vm.printable).toBe('Stopped');
      expect(nextDeadline(vm.snapshot)).toBeUndefined();
      // A user start begins a fresh loop.
      vm.send({ type: 'START' });
      expect(vm.state).toBe('creating.provisioning');
      expect(vm.snapshot.context.failureCount).toBe(0);
    }
  });

  it('SET_RUN_STRATEGY to a non-restarting strategy during back-off halts; the change is data either way', () => {
    const vm = new Vm().boot();
    crash(vm);
    vm.send({ type: 'SET_RUN_STRATEGY', runStrategy: 'RerunOnFailure' });
    expect(vm.state).toBe('failed.backingOff');
    expect(vm.snapshot.context.runStrategy).toBe('RerunOnFailure');
    vm.send({ type: 'SET_RUN_STRATEGY', runStrategy: 'Manual' });
    expect(vm.state).toBe('failed.halted');
    expect(nextDeadline(vm.snapshot)).toBeUndefined();
  });

  it('start failures and boot timeouts back off too; image pull failures show ImagePullBackOff', () => {
    const vm = new Vm();
    vm.send({ type: 'START' }).send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n1' });
    const define = vm.pending.find((c) => c.type === 'define')!;
    vm.send({ type: 'DRIVER_ERROR', commandId: define.id, reason: 'ImageFetchFailed', message: 'registry down' });
    expect(vm.state).toBe('failed.backingOff');
    expect(vm.printable).toBe('ImagePullBackOff');
    expect(vm.snapshot.context.lastFailure?.reason).toBe('ImageFetchFailed');
    vm.tick().send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node: 'n1' }).ack('define').ack('start');
    expect(vm.state).toBe('creating.starting.waitingForGuest');
    vm.tick(); // boot timeout: the guest never reported ready
    expect(vm.state).toBe('failed.backingOff');
    expect(vm.printable).toBe('CrashLoopBackOff');
    expect(vm.snapshot.context.lastFailure?.reason).toBe('BootTimeout');
    expect(vm.snapshot.context.deadlines.backoff! - vm.now).toBe(20 * S);
    // The domain that never booted is destroyed and undefined.
    expect(vm.queue.slice(-2)).toEqual(['destroy@n1', 'undefine@n1']);
  });

  it('Always restarts a guest that shut itself down at once, without back-off', () => {
    const vm = new Vm({ runStrategy: 'Always' }).boot();
    vm.send({ type: 'STOPPED', reason: 'shutdown' });
    expect(vm.state).toBe('creating.provisioning');
    expect(vm.snapshot.context.failureCount).toBe(0);
    expect(vm.queue).toEqual(['undefine@n1']);
    const manual = new Vm({ runStrategy: 'RerunOnFailure' }).boot();
    manual.send({ type: 'STOPPED', reason: 'shutdown' });
    expect(manual.state).toBe('stopped');
    expect(manual.phase).toBe('Succeeded');
  });
});
