import { afterEach, describe, expect, it } from 'vitest';
import { IllegalTransitionError, NotFoundError, VirtualClock, VmActions } from '../../src/index.ts';
import { type Cluster, cluster, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

const domainState = (name: string) => {
  for (const n of c!.nodes) {
    const d = n.domains.get(`${NS}_${name}`);
    if (d) return d.state;
  }
  return undefined;
};

describe('guest verbs', () => {
  it('pause and unpause go through the driver and show on the VMI and VM', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('p', 'Always'));
    await c.until(async () => (await printable(c!, 'p')) === 'Running', 'running');
    await c.engine.actions.pause(NS, 'p');
    await c.until(async () => (await printable(c!, 'p')) === 'Paused', 'Paused');
    expect(domainState('p')).toBe('paused');
    const vmi = (await getVMI(c, 'p'))!;
    expect(vmi.status?.conditions?.find((x) => x.type === 'Paused')).toMatchObject({
      status: 'True',
      reason: 'PausedByUser',
    });
    expect(vmi.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('False');
    const v = (await getVM(c, 'p'))!;
    expect(v.status?.conditions?.find((x) => x.type === 'Paused')?.status).toBe('True');
    expect(v.status?.ready).toBe(false);
    // Pausing again is refused before anything changes.
    const rv = vmi.metadata.resourceVersion;
    await expect(c.engine.actions.pause(NS, 'p')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect((await getVMI(c, 'p'))?.metadata.resourceVersion).toBe(rv);
    await c.engine.actions.unpause(NS, 'p');
    await c.until(async () => (await printable(c!, 'p')) === 'Running', 'Running again');
    expect(domainState('p')).toBe('running');
    expect((await getVM(c, 'p'))?.status?.conditions?.some((x) => x.type === 'Paused')).toBe(false);
    await expect(c.engine.actions.unpause(NS, 'p')).rejects.toThrow(/cannot unpause a VM that is running.ready/);
    const events = (await c.store.list('Event')).items.map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['Paused', 'Resumed']));
  });

  it('softReboot reboots the guest once per request and it comes back ready', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('r', 'Always'));
    await c.until(async () => (await printable(c!, 'r')) === 'Running', 'running');
    const node = c.nodes[0]!;
    await c.engine.actions.softReboot(NS, 'r');
    await c.until(
      async () =>
        node.count('rebootDomain') === 1 && (await getVMI(c!, 'r'))?.status?.virtkit?.state === 'running.ready',
      'rebooted',
    );
    await c.clock.advance(60_000);
    await c.engine.settled();
    expect(node.count('rebootDomain')).toBe(1);
    expect((await getVMI(c, 'r'))?.status?.phase).toBe('Running');
  });

  it('verbs on a VM that does not run are refused with IllegalTransitionError', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('off', 'Halted'));
    await c.until(async () => (await printable(c!, 'off')) === 'Stopped', 'stopped');
    for (const verb of ['pause', 'unpause', 'softReboot'] as const) {
      await expect(c.engine.actions[verb](NS, 'off')).rejects.toBeInstanceOf(IllegalTransitionError);
    }
    await expect(c.engine.actions.migrate(NS, 'off')).rejects.toBeInstanceOf(IllegalTransitionError);
    await expect(c.engine.actions.stop(NS, 'off')).rejects.toThrow(/not running/);
    await expect(c.engine.actions.pause(NS, 'missing')).rejects.toBeInstanceOf(NotFoundError);
    expect((await c.store.list('VirtualMachineInstanceMigration')).items).toHaveLength(0);
  });

  it('a paused VM cannot migrate; a migrating VM cannot be stopped gracefully but can be forced', async () => {
    c = await cluster({ nodes: [{ migrationMs: 120_000 }, { migrationMs: 120_000 }] });
    await c.store.create('VirtualMachine', vm('m', 'Manual'));
    await c.engine.actions.start(NS, 'm');
    await c.until(async () => (await printable(c!, 'm')) === 'Running', 'running');
    await c.engine.actions.pause(NS, 'm');
    await c.until(async () => (await printable(c!, 'm')) === 'Paused', 'paused');
    await expect(c.engine.actions.migrate(NS, 'm')).rejects.toThrow(/cannot migrate a VM that is paused/);
    await c.engine.actions.unpause(NS, 'm');
    await c.until(async () => (await printable(c!, 'm')) === 'Running', 'running');
    await c.engine.actions.migrate(NS, 'm');
    await c.until(async () => (await printable(c!, 'm')) === 'Migrating', 'migrating');
    await expect(c.engine.actions.stop(NS, 'm')).rejects.toThrow(/cancel the migration first, or force-stop/);
    await c.engine.actions.stop(NS, 'm', { gracePeriodSeconds: 0 });
    await c.until(async () => (await printable(c!, 'm')) === 'Stopped', 'stopped');
    expect(c.nodes.every((n) => n.running().length === 0)).toBe(true);
  });

  it('VmActions works on a store alone (no engine in the process): requests are recorded for a later engine', async () => {
    c = await cluster({ nodes: 1 });
    await c.store.create('VirtualMachine', vm('later', 'Manual'));
    await c.until(async () => (await printable(c!, 'later')) === 'Stopped', 'stopped');
    await c.engine.stop();
    const actions = new VmActions({ store: c.store, clock: new VirtualClock() });
    await actions.start(NS, 'later');
    expect((await getVM(c, 'later'))?.status?.stateChangeRequests).toEqual([{ action: 'Start' }]);
    await expect(actions.start(NS, 'later')).rejects.toThrow(/already pending/);
    await c.restart();
    await c.until(async () => (await printable(c!, 'later')) === 'Running', 'started by the new engine');
  });
});

describe('Events', () => {
  it('aggregates repeats into one Event with a count', async () => {
    c = await cluster({ nodes: [{ name: 'tiny', cpuMillis: 500, memoryBytes: 1024 ** 3 }] });
    await c.store.create('VirtualMachine', vm('big', 'Always'));
    await c.until(async () => (await printable(c!, 'big')) === 'ErrorUnschedulable', 'unschedulable');
    // Capacity notifications (a node label change) make the scheduler try again with the same verdict.
    for (let i = 0; i < 3; i++) {
      const n = await c.store.get('Node', undefined, 'tiny');
      await c.store.update('Node', {
        ...n,
        metadata: { ...n.metadata, labels: { ...n.metadata.labels, round: String(i) } },
      });
      await c.clock.advance(1000);
      await c.engine.settled();
    }
    const evs = (await c.store.list('Event')).items.filter((e) => e.reason === 'FailedScheduling');
    expect(evs).toHaveLength(1);
    expect(evs[0]!.count).toBeGreaterThanOrEqual(2);
    expect(evs[0]!.involvedObject).toMatchObject({ kind: 'VirtualMachineInstance', name: 'big', namespace: NS });
    expect(evs[0]!.source?.component).toBe('virtkit-controller');
    expect(Date.parse(evs[0]!.lastTimestamp!)).toBeGreaterThan(Date.parse(evs[0]!.firstTimestamp!));
  });
});
