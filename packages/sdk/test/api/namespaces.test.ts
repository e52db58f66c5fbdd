// Namespaces exist implicitly: the API answers for any name the store accepts as a namespace, and for no other.
import { MemoryStore } from '@virtkit/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../src/api/index.ts';
import { vm } from './support.ts';

const store = new MemoryStore();
const handler = createApiHandler({ store, token: false });
afterAll(() => store.close());

const statusOf = async (name: string) =>
  (await handler.handleRequest({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(name)}` })).status;

const storeAccepts = async (namespace: string) => {
  try {
    await store.create('VirtualMachine', vm('probe', namespace));
    await store.delete('VirtualMachine', namespace, 'probe');
    return true;
  } catch {
    return false;
  }
};

describe('namespaces', () => {
  it('answers for exactly the names the store takes as namespaces', async () => {
    const names = ['default', 'a', 'x'.repeat(63), 'x'.repeat(64), 'Upper', 'under_score', '-lead', 'trail-', 'a.b'];
    for (const name of names) {
      expect(await statusOf(name), name).toBe((await storeAccepts(name)) ? 200 : 404);
    }
    expect(await statusOf('x'.repeat(63))).toBe(200);
    expect(await statusOf('a.b')).toBe(404);
  });
});
