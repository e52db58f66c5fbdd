/** The `shared` options of MemoryStore: read-only consumers get the store's own frozen objects, others copies. */
import { MemoryStore, VirtualClock, type WatchEvent } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { vm } from './fixtures.ts';

async function next(it: AsyncIterator<WatchEvent>): Promise<WatchEvent> {
  const r = await it.next();
  if (r.done) throw new Error('watch ended');
  return r.value;
}

describe('MemoryStore shared objects', () => {
  it('a shared watch hands every shared watcher the same frozen object; a plain watch gets its own copy', async () => {
    const store = new MemoryStore({ clock: new VirtualClock() });
    const ac = new AbortController();
    const a = store.watch('VirtualMachine', { shared: true, signal: ac.signal })[Symbol.asyncIterator]();
    const b = store.watch('VirtualMachine', { shared: true, signal: ac.signal })[Symbol.asyncIterator]();
    const plain = store.watch('VirtualMachine', { signal: ac.signal })[Symbol.asyncIterator]();
    await store.create('VirtualMachine', vm('one'));
    const [ea, eb, ep] = [await next(a), await next(b), await next(plain)];
    expect(ea.object).toBe(eb.object);
    expect(Object.isFrozen(ea.object)).toBe(true);
    expect(() => {
      (ea.object.metadata as { name?: string }).name = 'changed';
    }).toThrow(TypeError);
    expect(ep.object).toEqual(ea.object);
    expect(ep.object).not.toBe(ea.object);
    ep.object.metadata.name = 'mine';
    expect((await store.get('VirtualMachine', 'default', 'one')).metadata.name).toBe('one');
    ac.abort();
    await store.close();
  });

  it('a shared write resolves with the frozen stored object; a plain one with a copy', async () => {
    const store = new MemoryStore({ clock: new VirtualClock() });
    const created = await store.create('VirtualMachine', vm('one'), { shared: true });
    expect(Object.isFrozen(created)).toBe(true);
    expect(Object.isFrozen(created.spec)).toBe(true);
    const labelled = await store.update(
      'VirtualMachine',
      { ...created, metadata: { ...created.metadata, labels: { a: 'b' } } },
      { shared: true },
    );
    expect(labelled.metadata.labels).toEqual({ a: 'b' });
    const status = await store.updateStatus(
      'VirtualMachine',
      { ...labelled, status: { ready: true } },
      { shared: true },
    );
    expect(Object.isFrozen(status.status)).toBe(true);
    const patched = await store.patch(
      'VirtualMachine',
      'default',
      'one',
      'merge',
      { metadata: { labels: { c: 'd' } } },
      { shared: true },
    );
    expect(Object.isFrozen(patched)).toBe(true);
    const plain = await store.patch('VirtualMachine', 'default', 'one', 'merge', { metadata: { labels: { e: 'f' } } });
    expect(Object.isFrozen(plain)).toBe(false);
    plain.spec.runStrategy = 'Halted';
    expect((await store.get('VirtualMachine', 'default', 'one')).spec.runStrategy).not.toBe('Halted');
    await store.close();
  });
});
