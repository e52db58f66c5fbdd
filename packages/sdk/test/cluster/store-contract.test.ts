/**
 * The ResourceStore contract — the same suite MemoryStore and SqliteStore run — against KubernetesStore
 * talking HTTPS to our API server on 127.0.0.1, which keeps its objects in a MemoryStore built with the
 * suite's options (virtual clock, counter uids, history and buffer limits). The store's seeded randomness
 * goes to KubernetesStore, which then makes generateName suffixes itself.
 *
 * Two contract tests ask for what a store behind HTTP cannot do. They still run, and must fail with
 * exactly the error named below — if KubernetesStore ever passes one, or fails it differently, this file
 * fails. cluster-store.test.ts checks the remote behaviour for the same cases.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeStoreContract } from '../../../engine/test/store/contract.ts';
import { type ClusterHarness, startCluster } from './support.ts';

const KNOWN_DIVERGENCES: Record<string, { why: string; error: string }> = {
  'answers GoneError for a compacted resourceVersion and TimeoutError for a future one': {
    why:
      'watch() returns synchronously and only the server knows its history: a compacted (410) or future ' +
      'resourceVersion is reported by the first next(), not thrown by watch() itself',
    error: 'expected an error, none was thrown',
  },
  'cuts off a watcher that falls too far behind with GoneError, without blocking writers': {
    why:
      "the store's watchBufferLimit bounds the API server's own (fast) watcher; a slow HTTP client is bounded " +
      "by the server's per-connection buffer and TCP backpressure instead, so the cut-off comes later",
    error: 'expected an error, none was thrown',
  },
};

const harnesses = new Set<ClusterHarness>();

describe('KubernetesStore', () => {
  beforeEach(({ task }) => {
    if (Object.hasOwn(KNOWN_DIVERGENCES, task.name)) (task as { fails?: boolean }).fails = true;
  });
  afterEach(({ task }) => {
    const known = Object.hasOwn(KNOWN_DIVERGENCES, task.name) ? KNOWN_DIVERGENCES[task.name] : undefined;
    if (!known) return;
    const errors = (task.result?.errors ?? []).map((e) => e.message).join('\n');
    // Failing for another reason is a real failure.
    if (!errors.includes(known.error)) (task as { fails?: boolean }).fails = false;
  });

  describeStoreContract('KubernetesStore over the API server', async (options) => {
    const h = await startCluster(options, {}, { freshServerModule: true });
    harnesses.add(h);
    const store = await h.client(options.random ? { random: options.random } : {});
    // The suite closes what its factory made; the server and its backing store go with the client.
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      if (harnesses.delete(h)) await h.close();
    };
    return store;
  });
});

describe('known divergences of KubernetesStore from the store contract', () => {
  it('name tests that exist in the contract suite', async () => {
    const source = await import('node:fs/promises').then((fs) =>
      fs.readFile(new URL('../../../engine/test/store/contract.ts', import.meta.url), 'utf8'),
    );
    for (const title of Object.keys(KNOWN_DIVERGENCES)) expect(source).toContain(`it('${title}'`);
  });
});
