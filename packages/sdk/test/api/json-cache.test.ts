// The JSON cache of stored objects belongs to the store: two stores can hold different objects under the same
// uid and resourceVersion (two simulations with one seed mint the same uids).
import { MemoryStore } from '@virtkit/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiHandler, createApiHandler } from '../../src/api/index.ts';
import { vm } from './support.ts';

const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';

/** A store whose uids repeat those of every other store made here: uid-1, uid-2, ... */
function seededStore(): MemoryStore {
  let n = 0;
  return new MemoryStore({ uid: () => `uid-${++n}` });
}

interface Served {
  metadata: { uid: string; resourceVersion: string; labels: Record<string, string> };
}

describe('JSON cache', () => {
  const stores: MemoryStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  async function serverWith(owner: string): Promise<ApiHandler> {
    const store = seededStore();
    stores.push(store);
    await store.create('VirtualMachine', vm('web', 'default', { owner }));
    return createApiHandler({ store, token: false });
  }

  async function get(h: ApiHandler): Promise<Served> {
    const res = await h.handleRequest({ method: 'GET', path: `${VMS}/web` });
    return JSON.parse(res.body!) as Served;
  }

  async function list(h: ApiHandler): Promise<Served[]> {
    const res = await h.handleRequest({ method: 'GET', path: VMS });
    return (JSON.parse(res.body!) as { items: Served[] }).items;
  }

  async function firstWatchEvent(h: ApiHandler): Promise<Served> {
    const res = await h.handleRequest({ method: 'GET', path: VMS, query: 'watch=true&resourceVersion=0' });
    const stream = res.stream!;
    const line = (await stream.next())!.split('\n')[0]!;
    stream.cancel();
    return (JSON.parse(line) as { object: Served }).object;
  }

  it('serves each store its own object when uids and resourceVersions collide', async () => {
    const a = await serverWith('a');
    const b = await serverWith('b');
    const [fromA, fromB] = [await get(a), await get(b)];
    expect(fromB.metadata.uid).toBe(fromA.metadata.uid);
    expect(fromB.metadata.resourceVersion).toBe(fromA.metadata.resourceVersion);
    expect(fromA.metadata.labels.owner).toBe('a');
    expect(fromB.metadata.labels.owner).toBe('b');
    expect((await list(b)).map((o) => o.metadata.labels.owner)).toEqual(['b']);
    expect((await list(a)).map((o) => o.metadata.labels.owner)).toEqual(['a']);
    expect((await firstWatchEvent(b)).metadata.labels.owner).toBe('b');
    expect((await firstWatchEvent(a)).metadata.labels.owner).toBe('a');
  });
});
