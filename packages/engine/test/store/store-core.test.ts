/** The core's transaction machinery, seen through a backend mocked at the StoreBackend boundary. */
import {
  MemoryStore,
  RequestError,
  type StoreBackend,
  StoreCore,
  type StoreEvent,
  VirtkitError,
  VirtualClock,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { caught, counterUid, ownedBy, summary, take, vm, vmi } from './fixtures.ts';

class RecordingBackend implements StoreBackend {
  failNext = false;
  batches: { events: StoreEvent[]; rv: number }[] = [];
  closed = false;
  commit(events: readonly StoreEvent[], resourceVersion: number): void {
    if (this.failNext) {
      this.failNext = false;
      throw new VirtkitError('Internal', 'disk full', 500);
    }
    this.batches.push({ events: [...events], rv: resourceVersion });
  }
  close(): void {
    this.closed = true;
  }
}

const make = () => {
  const backend = new RecordingBackend();
  const store = new StoreCore({ clock: new VirtualClock(), uid: counterUid() }, backend);
  return { backend, store };
};

describe('StoreCore transactions', () => {
  it('hands the backend one batch per operation, cascades included, in resourceVersion order', async () => {
    const { backend, store } = make();
    const owner = await store.create('VirtualMachine', vm('web'));
    await store.create('VirtualMachineInstance', vmi('a', { ownerReferences: [ownedBy(owner)] }));
    await store.create('VirtualMachineInstance', vmi('b', { ownerReferences: [ownedBy(owner)] }));
    await store.delete('VirtualMachine', 'default', 'web');
    expect(backend.batches.map((b) => b.rv)).toEqual([1, 2, 3, 6]);
    const last = backend.batches.at(-1)!;
    expect(last.events.map((e) => [e.type, e.kind, e.key, e.rv])).toEqual([
      ['DELETED', 'VirtualMachine', 'default/web', 4],
      ['DELETED', 'VirtualMachineInstance', 'default/a', 5],
      ['DELETED', 'VirtualMachineInstance', 'default/b', 6],
    ]);
    expect(last.events[1]!.prev?.metadata.resourceVersion).toBe('2');
    // Stored objects are frozen; the store never hands them out.
    expect(Object.isFrozen(last.events[0]!.object.metadata)).toBe(true);
    // A no-op writes nothing.
    const a = await store.create('VirtualMachine', vm('x'));
    await store.update('VirtualMachine', a);
    expect(backend.batches).toHaveLength(5);
    await store.close();
    expect(backend.closed).toBe(true);
  });

  it('changes nothing — state, versions, indexes, watchers — when the backend refuses a batch', async () => {
    const { backend, store } = make();
    const owner = await store.create('VirtualMachine', vm('web'));
    await store.create(
      'VirtualMachineInstance',
      vmi('a', { ownerReferences: [ownedBy(owner)], finalizers: ['x.io/f'] }),
    );
    await store.create('VirtualMachineInstance', vmi('b', { ownerReferences: [ownedBy(owner)] }));
    const w = store.watch('VirtualMachineInstance', { resourceVersion: '3' })[Symbol.asyncIterator]();
    const before = {
      vms: await store.list('VirtualMachine'),
      vmis: await store.list('VirtualMachineInstance'),
    };

    backend.failNext = true;
    const e = await caught(() => store.delete('VirtualMachine', 'default', 'web'));
    expect(e.message).toContain('disk full');
    expect(store.currentResourceVersion()).toBe('3');
    expect(await store.list('VirtualMachine')).toEqual(before.vms);
    expect(await store.list('VirtualMachineInstance')).toEqual(before.vmis);

    backend.failNext = true;
    await caught(() => store.create('VirtualMachine', vm('new')));
    expect(await store.tryGet('VirtualMachine', 'default', 'new')).toBeUndefined();
    backend.failNext = true;
    await caught(() => store.patch('VirtualMachine', 'default', 'web', 'merge', { metadata: { labels: { a: 'b' } } }));
    expect((await store.get('VirtualMachine', 'default', 'web')).metadata.labels).toBeUndefined();

    // The indexes were restored too: the same delete now cascades exactly as it would have.
    await store.delete('VirtualMachine', 'default', 'web');
    expect(summary(await take(w, 2))).toEqual([
      ['MODIFIED', 'a', '5'],
      ['DELETED', 'b', '6'],
    ]);
    expect((await store.get('VirtualMachineInstance', 'default', 'a')).metadata.deletionTimestamp).toBeDefined();
  });

  it('detaches watchers that end, whichever way they end', async () => {
    const { store } = make();
    const ac = new AbortController();
    store.watch('Node', { signal: ac.signal });
    const broken = store.watch('Node')[Symbol.asyncIterator]();
    const small = new StoreCore({ watchBufferLimit: 1 });
    small.watch('Node');
    expect(store.watcherCount).toBe(2);
    ac.abort();
    await broken.return?.();
    expect(store.watcherCount).toBe(0);
    await small.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'a' } });
    await small.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'b' } });
    expect(small.watcherCount).toBe(0);
  });

  it('rejects invalid options with BadRequest', () => {
    for (const bad of [
      { historyLimit: 0 },
      { watchBufferLimit: -1 },
      { bookmarkIntervalMs: 1.5 },
      { maxObjectBytes: Number.NaN },
    ]) {
      expect(() => new MemoryStore(bad), JSON.stringify(bad)).toThrow(RequestError);
    }
  });

  it('refuses a uid source that repeats itself', async () => {
    const store = new MemoryStore({ uid: () => 'same' });
    await store.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'a' } });
    const e = await caught(() => store.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'b' } }));
    expect(e.message).toContain('already in use');
    expect(await store.tryGet('Node', undefined, 'b')).toBeUndefined();
  });
});
