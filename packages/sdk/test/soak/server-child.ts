// An API server over a MemoryStore in a process of its own, so its memory can be measured apart from the
// clients that load it. Driven over IPC by ChildServer (child-server.ts); started with --expose-gc.
import type { KubeObject, StoreOptions, VirtualMachine } from '@virtkit/engine';
import { MemoryStore } from '@virtkit/engine';
import { type ApiServerOptions, createApiServer } from '../../src/api/index.ts';

export interface ChildOptions {
  store?: StoreOptions;
  server?: Omit<ApiServerOptions, 'store'>;
}

/** Requests the parent sends; each answer echoes `id`. */
export type ChildRequest =
  | { id: number; type: 'memory' }
  | { id: number; type: 'stats' }
  | { id: number; type: 'create'; object: KubeObject }
  | { id: number; type: 'label'; name: string; value: string; filler?: number }
  | { id: number; type: 'delete'; name: string }
  | { id: number; type: 'close' };

const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  if (!gc) throw new Error('server-child needs --expose-gc');
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  const store = new MemoryStore(options.store ?? {});
  const server = await createApiServer({ store, ...options.server });
  const send = (m: unknown) => process.send?.(m);

  const answer = async (m: ChildRequest): Promise<unknown> => {
    switch (m.type) {
      case 'memory': {
        // Twice: the first pass finalises what the second then frees.
        gc?.();
        gc?.();
        const u = process.memoryUsage();
        return { rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers };
      }
      case 'stats':
        return {
          openWatches: server.handler.openWatches,
          openConnections: server.openConnections,
          storeWatchers: store.watcherCount,
          resourceVersion: store.currentResourceVersion(),
        };
      case 'create':
        return (await store.create('VirtualMachine', m.object as VirtualMachine)).metadata.resourceVersion;
      case 'label': {
        const cur = await store.get('VirtualMachine', 'default', m.name);
        const annotations = m.filler ? { filler: 'z'.repeat(m.filler) } : undefined;
        const next = {
          ...cur,
          metadata: {
            ...cur.metadata,
            labels: { ...cur.metadata.labels, v: m.value },
            ...(annotations ? { annotations } : {}),
          },
        };
        return (await store.update('VirtualMachine', next)).metadata.resourceVersion;
      }
      case 'delete':
        await store.delete('VirtualMachine', 'default', m.name);
        return store.currentResourceVersion();
      case 'close':
        await server.close();
        await store.close();
        setImmediate(() => process.exit(0));
        return 'closed';
    }
  };

  process.on('message', (m: ChildRequest) => {
    answer(m).then(
      (value) => send({ id: m.id, value }),
      (err: unknown) => send({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url: server.url, token: server.token, ca: server.caCertificate });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
