import { afterEach, describe, expect, it } from 'vitest';
import { AlreadyExistsError, DriverRegistry, type DriverRegistryChange, VirtualClock } from '../../src/index.ts';
import { type Fabric, FakeNode } from './fake-driver.ts';
import { type Cluster, cluster, getVMI, printable, vm } from './harness.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

describe('DriverRegistry', () => {
  it('lists by node name, refuses a second driver for a name, and tells listeners about changes', () => {
    const clock = new VirtualClock();
    const fabric: Fabric = new Map();
    const r = new DriverRegistry([new FakeNode('b', clock, fabric), new FakeNode('a', clock, fabric)]);
    expect(r.list().map((d) => d.nodeName)).toEqual(['a', 'b']);
    const changes: string[] = [];
    const off = r.onChange((ch: DriverRegistryChange) => changes.push(`${ch.type} ${ch.driver.nodeName}`));
    const c1 = new FakeNode('c', clock, fabric);
    r.add(c1);
    r.add(c1); // the same driver again: no-op
    expect(() => r.add(new FakeNode('c', clock, new Map()))).toThrow(AlreadyExistsError);
    expect(r.remove('a')).toBe(true);
    expect(r.remove('a')).toBe(false);
    off();
    r.remove('b');
    expect(changes).toEqual(['added c', 'removed a']);
    expect(r.get('c')).toBe(c1);
    expect(r.size).toBe(1);
  });

  it('removing a node from the engine turns it NotReady and its VMs move', async () => {
    c = await cluster({ nodes: 2 });
    await c.store.create('VirtualMachine', vm('w', 'Always'));
    await c.until(async () => (await printable(c!, 'w')) === 'Running', 'running');
    const first = (await getVMI(c, 'w'))!.status!.nodeName!;
    c.drivers.remove(first);
    await c.until(
      async () => (await getVMI(c!, 'w'))?.status?.nodeName !== first && (await printable(c!, 'w')) === 'Running',
      'moved',
    );
    const node = await c.store.get('Node', undefined, first);
    expect(node.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'NodeDriverRemoved',
    });
  });
});
