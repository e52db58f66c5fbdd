import { describe, expect, it } from 'vitest';
import { rejection, run, summary, vmDef, world } from './helpers.ts';

const A = 'default_a';

async function withRunningVm(nodeOpts: Parameters<typeof world>[1] = {}, vm: Parameters<typeof vmDef>[1] = {}) {
  const w = world(1, nodeOpts);
  await run(w.clock, w.node.defineDomain(vmDef('a', vm)));
  await run(w.clock, w.node.startDomain(A));
  await w.clock.advance(10_000);
  w.events.length = 0;
  return w;
}

describe('node crash and restart', () => {
  it('a crashed node reports nothing, then every call and ping fails NodeUnreachable after the client timeout', async () => {
    const w = await withRunningVm();
    w.node.crash();
    expect(w.events).toEqual([]);
    const t0 = w.clock.now();
    const e = await rejection(run(w.clock, w.node.ping()));
    expect(e.reason).toBe('NodeUnreachable');
    expect(w.clock.now() - t0).toBe(w.node.timing.unreachableTimeoutMs);
    expect((await rejection(run(w.clock, w.node.listDomains()))).reason).toBe('NodeUnreachable');
    expect((await rejection(run(w.clock, w.node.startDomain(A)))).reason).toBe('NodeUnreachable');
    expect(w.fabric.faultLog.map((f) => f.fault.kind)).toEqual(['node-crash']);
  });

  it('with reportVmDeaths each running VM reports Stopped/Failed first', async () => {
    const w = await withRunningVm();
    w.node.crash({ reportVmDeaths: true });
    expect(summary(w.events)).toEqual(['n1 lifecycle Stopped/Failed']);
  });

  it('calls in flight when the host dies fail after the timeout', async () => {
    const w = await withRunningVm();
    const destroying = rejection(w.node.destroyDomain(A));
    await w.clock.advance(100);
    w.node.crash();
    expect((await run(w.clock, destroying)).reason).toBe('NodeUnreachable');
  });

  it('restart brings the node back empty after its boot time; cached images survive', async () => {
    const w = await withRunningVm();
    w.node.crash();
    w.node.restart();
    expect(w.node.hostState).toBe('booting');
    await w.clock.advance(60_000);
    expect(w.node.hostState).toBe('up');
    expect(await run(w.clock, w.node.listDomains())).toEqual([]);
    expect(w.node.used).toEqual({ cpuMillis: 0, memoryBytes: 0, vms: 0 });
    expect(w.node.isImageCached('virtkit/test-guest')).toBe(true);
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    expect(summary(w.events)).toEqual(['n1 lifecycle Defined/Added']);
  });
});

describe('agent crash and restart', () => {
  it('calls fail at once while the agent is down, VMs keep running, and are adopted after restart', async () => {
    const w = await withRunningVm({ timing: { heartbeatMs: 1000 } });
    w.node.crashAgent();
    const t0 = w.clock.now();
    const e = await rejection(run(w.clock, w.node.getDomain(A)));
    expect(e.reason).toBe('NodeUnreachable');
    expect(e.message).toContain('connection refused');
    expect(w.clock.now() - t0).toBeLessThan(100);
    const before = w.node.consoleBacklog(A).length;
    await w.clock.advance(5_000);
    expect(w.node.consoleBacklog(A).length).toBeGreaterThan(before);
    expect(w.events).toEqual([]);
    w.node.restartAgent();
    await w.clock.advance(3_000);
    expect(w.node.agentState).toBe('up');
    const list = await run(w.clock, w.node.listDomains());
    expect(list.map((d) => [d.id, d.state, d.guestReady])).toEqual([[A, 'running', true]]);
    expect(w.fabric.trace.toText((x) => x.kind === 'dropped').length).toBeGreaterThan(0);
  });

  it('a call in flight when the agent dies fails at once, but libvirt still completes the operation', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    const starting = rejection(w.node.startDomain(A));
    await w.clock.advance(100);
    w.node.crashAgent();
    const e = await run(w.clock, starting);
    expect(e.reason).toBe('NodeUnreachable');
    await w.clock.advance(1_000);
    expect(w.node.peek(A)!.state).toBe('running');
  });

  it('console streams break when the agent dies', async () => {
    const w = await withRunningVm({ timing: { heartbeatMs: 1000 } });
    const reading = rejection(
      (async () => {
        for await (const _ of w.node.console(A)) {
          /* drain */
        }
      })(),
    );
    await w.clock.advance(2_000);
    w.node.crashAgent();
    expect((await run(w.clock, reading)).reason).toBe('NodeUnreachable');
  });
});

describe('network partition', () => {
  it('ping and calls fail NodeUnreachable after the timeout; VMs keep running; heal restores', async () => {
    const w = await withRunningVm({ timing: { heartbeatMs: 1000 } });
    w.node.inject({ kind: 'partition' });
    const t0 = w.clock.now();
    expect((await rejection(run(w.clock, w.node.ping()))).reason).toBe('NodeUnreachable');
    expect(w.clock.now() - t0).toBe(3000);
    expect(w.events).toEqual([]);
    w.node.inject({ kind: 'heal' });
    await run(w.clock, w.node.ping());
    expect(w.node.peek(A)!.state).toBe('running');
    await w.clock.advance(2_000);
    expect(w.events.length).toBeGreaterThan(0);
    expect(w.fabric.faultLog.map((f) => f.fault.kind)).toEqual(['partition', 'heal']);
  });

  it('an answer held by a short partition is delivered when it heals before the timeout', async () => {
    const w = await withRunningVm();
    const getting = w.node.getDomain(A);
    w.node.inject({ kind: 'partition' });
    w.node.inject({ kind: 'heal' }, { after: 500 });
    expect((await run(w.clock, getting))!.id).toBe(A);
  });

  it('scheduled faults apply at their virtual time', async () => {
    const w = await withRunningVm();
    const t0 = w.clock.now();
    w.node.inject({ kind: 'node-crash' }, { at: t0 + 5_000 });
    await w.clock.advance(4_999);
    expect(w.node.hostState).toBe('up');
    await w.clock.advance(1);
    expect(w.node.hostState).toBe('down');
    expect(w.fabric.faultLog[0]!.at).toBe(t0 + 5_000);
  });
});

describe('image faults', () => {
  it('disk full → image failed event and DiskFull', async () => {
    const w = world();
    w.node.inject({ kind: 'disk-full' });
    const e = await rejection(run(w.clock, w.node.defineDomain(vmDef('a'))));
    expect(e.reason).toBe('DiskFull');
    expect(summary(w.events)).toEqual(['n1 image fetching', 'n1 image failed']);
    expect(w.node.used.vms).toBe(0);
    w.node.inject({ kind: 'disk-full', full: false });
    await run(w.clock, w.node.defineDomain(vmDef('a')));
  });

  it('a too small disk → DiskFull', async () => {
    const w = world(1, { diskBytes: 1024 });
    expect((await rejection(run(w.clock, w.node.defineDomain(vmDef('a'))))).reason).toBe('DiskFull');
  });

  it('fetch failure → ImageFetchFailed once, then the retry succeeds', async () => {
    const w = world();
    w.node.inject({ kind: 'image-fetch-failure', image: 'virtkit/test-guest', message: 'registry returned 503' });
    const e = await rejection(run(w.clock, w.node.defineDomain(vmDef('a'))));
    expect(e.reason).toBe('ImageFetchFailed');
    expect(e.message).toContain('503');
    await run(w.clock, w.node.defineDomain(vmDef('a')));
  });

  it('unknown images are refused when the node is strict', async () => {
    const w = world(1, { unknownImages: 'fail' });
    const e = await rejection(run(w.clock, w.node.defineDomain(vmDef('a', { image: 'example.com/nope:1' }))));
    expect(e.reason).toBe('ImageFetchFailed');
    expect(e.message).toContain('manifest unknown');
  });
});

describe('guest faults', () => {
  it('guest crash → panic lines, Crashed/Panicked, Stopped/Crashed', async () => {
    const w = await withRunningVm();
    w.node.crashGuest(A);
    const s = summary(w.events, { console: true });
    expect(s[0]).toMatch(/Kernel panic - not syncing/);
    expect(s.slice(-2)).toEqual(['n1 lifecycle Crashed/Panicked', 'n1 lifecycle Stopped/Crashed']);
    expect(w.node.peek(A)).toMatchObject({ state: 'shutoff', reason: 'crashed' });
  });

  it('QEMU crash → Stopped/Failed', async () => {
    const w = await withRunningVm();
    w.node.inject({ kind: 'qemu-crash', domain: A });
    expect(summary(w.events)).toEqual(['n1 lifecycle Stopped/Failed']);
  });

  it('boot hang: the console stops after "Probing EDD" and the guest never gets ready', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    w.node.inject({ kind: 'boot-hang', domain: A });
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(120_000);
    expect(w.node.consoleBacklog(A).at(-1)).toContain('Probing EDD');
    expect(w.node.peek(A)!.guestReady).toBe(false);
    // Only the next boot hangs.
    await run(w.clock, w.node.destroyDomain(A));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(10_000);
    expect(w.node.peek(A)!.guestReady).toBe(true);
  });

  it('ignore-acpi makes shutdown a no-op so the engine must force it', async () => {
    const w = await withRunningVm();
    w.node.inject({ kind: 'ignore-acpi', domain: A });
    await run(w.clock, w.node.shutdownDomain(A));
    await w.clock.advance(30_000);
    expect(w.node.peek(A)!.state).toBe('running');
  });

  it('a slow node multiplies durations', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    w.node.inject({ kind: 'slow', factor: 10 });
    const t0 = w.clock.now();
    await run(w.clock, w.node.startDomain(A));
    expect(w.clock.now() - t0).toBeGreaterThanOrEqual(4000);
  });
});
