import { afterEach, describe, expect, it } from 'vitest';
import { IllegalTransitionError, type RunStrategy } from '../../src/index.ts';
import { type Cluster, cluster, getVM, getVMI, NS, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

const domain = (name: string) => `${NS}_${name}`;

async function running(name: string) {
  await c!.until(async () => (await printable(c!, name)) === 'Running', `${name} Running`);
  const vmi = (await getVMI(c!, name))!;
  return { vmi, node: c!.node(vmi.status!.nodeName!) };
}

async function settleFor(ms: number) {
  const end = c!.clock.now() + ms;
  await c!.until(() => c!.clock.now() >= end, `${ms} ms to pass`, ms + 1000);
}

describe('runStrategy on creation', () => {
  it.each([
    ['Always', true],
    ['RerunOnFailure', true],
    ['Once', true],
    ['Manual', false],
    ['Halted', false],
  ] as [RunStrategy, boolean][])('%s starts at creation: %s', async (strategy, starts) => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('v', strategy));
    if (starts) {
      await running('v');
    } else {
      await settleFor(30_000);
      expect(await getVMI(c, 'v')).toBeUndefined();
      expect(await printable(c, 'v')).toBe('Stopped');
      expect((await getVM(c, 'v'))?.status).toMatchObject({ created: false, ready: false, runStrategy: strategy });
    }
  });

  it('honours the deprecated running: true/false alias', async () => {
    c = await cluster();
    const on = vm('on', 'Always');
    on.spec = { running: true, template: on.spec.template };
    const off = vm('off', 'Always');
    off.spec = { running: false, template: off.spec.template };
    await c.store.create('VirtualMachine', on);
    await c.store.create('VirtualMachine', off);
    await running('on');
    expect(await getVMI(c, 'off')).toBeUndefined();
    await c.engine.actions.start(NS, 'off');
    expect((await getVM(c, 'off'))?.spec.running).toBe(true);
    await running('off');
    await c.engine.actions.stop(NS, 'on');
    expect((await getVM(c, 'on'))?.spec.running).toBe(false);
    await c.until(async () => (await printable(c!, 'on')) === 'Stopped', 'on stopped');
  });
});

describe('what happens when the guest stops by itself', () => {
  const cases: [RunStrategy, 'crash' | 'shutdown', boolean][] = [
    ['Always', 'crash', true],
    ['Always', 'shutdown', true],
    ['RerunOnFailure', 'crash', true],
    ['RerunOnFailure', 'shutdown', false],
    ['Once', 'crash', false],
    ['Once', 'shutdown', false],
  ];
  it.each(cases)('%s after a guest %s restarts: %s', async (strategy, how, restarts) => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('g', strategy));
    const first = await running('g');
    if (how === 'crash') first.node.crash(domain('g'));
    else first.node.guestShutdown(domain('g'));
    if (restarts) {
      await c.until(async () => {
        const vmi = await getVMI(c!, 'g');
        return vmi !== undefined && vmi.metadata.uid !== first.vmi.metadata.uid && vmi.status?.phase === 'Running';
      }, 'a new VMI running');
    } else if (strategy === 'RerunOnFailure') {
      // KubeVirt removes the succeeded VMI and leaves the VM stopped.
      await c.until(async () => !(await getVMI(c!, 'g')), 'VMI removed');
      await settleFor(60_000);
      expect(await getVMI(c, 'g')).toBeUndefined();
      expect(await printable(c, 'g')).toBe('Stopped');
    } else {
      const phase = how === 'crash' ? 'Failed' : 'Succeeded';
      await c.until(async () => (await getVMI(c!, 'g'))?.status?.phase === phase, `VMI ${phase}`);
      await settleFor(60_000);
      const vmi = await getVMI(c, 'g');
      expect(vmi?.metadata.uid).toBe(first.vmi.metadata.uid);
      expect(vmi?.status?.phase).toBe(phase);
      if (how === 'crash') expect(vmi?.status?.reason).toBe('Crashed');
    }
  });

  it('Manual: a crashed VM stays down until started, then runs again', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('m', 'Manual'));
    await c.engine.actions.start(NS, 'm');
    const first = await running('m');
    first.node.crash(domain('m'));
    await c.until(async () => (await getVMI(c!, 'm'))?.status?.phase === 'Failed', 'VMI Failed');
    await settleFor(60_000);
    expect((await getVMI(c, 'm'))?.metadata.uid).toBe(first.vmi.metadata.uid);
    expect(await printable(c, 'm')).toBe('Stopped');
    await c.engine.actions.start(NS, 'm');
    await c.until(async () => {
      const v = await getVMI(c!, 'm');
      return v?.metadata.uid !== first.vmi.metadata.uid && v?.status?.phase === 'Running';
    }, 'restarted VMI');
    expect((await getVM(c, 'm'))?.status?.stateChangeRequests).toBeUndefined();
  });
});

describe('start, stop and restart actions', () => {
  it('Manual: start, stop with grace, restart gives a new VMI', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('m', 'Manual'));
    await c.engine.actions.start(NS, 'm');
    const first = await running('m');
    await expect(c.engine.actions.start(NS, 'm')).rejects.toBeInstanceOf(IllegalTransitionError);
    await c.engine.actions.restart(NS, 'm');
    await c.until(async () => {
      const v = await getVMI(c!, 'm');
      return v?.metadata.uid !== first.vmi.metadata.uid && v?.status?.phase === 'Running';
    }, 'restarted');
    await c.engine.actions.stop(NS, 'm', { gracePeriodSeconds: 5 });
    await c.until(async () => (await printable(c!, 'm')) === 'Stopped' && !(await getVMI(c!, 'm')), 'stopped');
    await expect(c.engine.actions.stop(NS, 'm')).rejects.toThrow(/not running/);
    expect((await getVM(c, 'm'))?.status?.stateChangeRequests).toBeUndefined();
  });

  it('Always: start is refused, stop switches to Halted, start switches back', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('a', 'Always'));
    await running('a');
    await expect(c.engine.actions.start(NS, 'a')).rejects.toThrow(/does not support manual start requests/);
    await c.engine.actions.stop(NS, 'a');
    expect((await getVM(c, 'a'))?.spec.runStrategy).toBe('Halted');
    await c.until(async () => (await printable(c!, 'a')) === 'Stopped', 'stopped');
    await expect(c.engine.actions.restart(NS, 'a')).rejects.toThrow(/Halted does not support manual restart/);
    await c.engine.actions.start(NS, 'a');
    expect((await getVM(c, 'a'))?.spec.runStrategy).toBe('Always');
    await running('a');
  });

  it('a graceful stop of a guest that ignores ACPI is forced after the grace period', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('s', 'Manual', { terminationGracePeriodSeconds: 20 }));
    await c.engine.actions.start(NS, 's');
    const { node } = await running('s');
    node.ignoreAcpi = true;
    const t0 = c.clock.now();
    await c.engine.actions.stop(NS, 's');
    await c.until(async () => (await printable(c!, 's')) === 'Stopping', 'Stopping');
    await c.until(async () => !(await getVMI(c!, 's')), 'VMI gone');
    const took = c.clock.now() - t0;
    expect(took).toBeGreaterThanOrEqual(20_000);
    expect(took).toBeLessThan(25_000);
    expect(node.count('shutdownDomain')).toBe(1);
    expect(node.count('destroyDomain')).toBe(1);
    expect(node.domains.size).toBe(0);
  });

  it('stop with gracePeriodSeconds 0 destroys at once', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('f', 'Manual', { terminationGracePeriodSeconds: 300 }));
    await c.engine.actions.start(NS, 'f');
    const { node } = await running('f');
    node.ignoreAcpi = true;
    const t0 = c.clock.now();
    await c.engine.actions.stop(NS, 'f', { gracePeriodSeconds: 0 });
    await c.until(async () => !(await getVMI(c!, 'f')), 'VMI gone');
    expect(c.clock.now() - t0).toBeLessThan(5_000);
    expect(node.count('shutdownDomain')).toBe(0);
    expect(node.count('destroyDomain')).toBe(1);
  });

  it('start --paused boots the guest and pauses it', async () => {
    c = await cluster();
    await c.store.create('VirtualMachine', vm('p', 'Manual'));
    await c.engine.actions.start(NS, 'p', { paused: true });
    await c.until(async () => (await printable(c!, 'p')) === 'Paused', 'Paused');
    const vmi = (await getVMI(c, 'p'))!;
    expect(c.node(vmi.status!.nodeName!).domains.get(domain('p'))?.state).toBe('paused');
  });
});
