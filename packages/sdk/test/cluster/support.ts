/**
 * Test helpers: our API server over a MemoryStore on 127.0.0.1, KubernetesStores pointed at it, and node agents
 * over SimNodes.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { MemoryStore, type StoreOptions, type VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode } from '@virtkit/sim';
import { vi } from 'vitest';
import {
  type ApiServer,
  type ApiServerOptions,
  createApiServer,
  type ServingCertificate,
} from '../../src/api/index.ts';
import {
  type Agent,
  KubernetesStore,
  type KubernetesStoreOptions,
  servingCertificate,
  startAgent,
} from '../../src/cluster/index.ts';

let certificate: ServingCertificate | undefined;

/** One serving certificate for every test server (key generation is the slow part of starting one). */
export function testCertificate(): ServingCertificate {
  certificate ??= servingCertificate(['127.0.0.1', 'localhost', '::1']);
  return certificate;
}

export interface ClusterHarness {
  backing: MemoryStore;
  server: ApiServer;
  kubeConfig: KubeConfig;
  /** A new client store (each its own connections); closed by `close()`. */
  client(options?: Partial<KubernetesStoreOptions>): Promise<KubernetesStore>;
  close(): Promise<void>;
}

/**
 * The API server is a transparent view of the backing store here (no KubeVirt defaulting or schema
 * validation on top), so the store contract sees the store's own semantics through HTTP.
 */
export async function startCluster(
  storeOptions: StoreOptions = {},
  serverOptions: Partial<ApiServerOptions> = {},
  harness: { freshServerModule?: boolean } = {},
): Promise<ClusterHarness> {
  const backing = new MemoryStore(storeOptions);
  // The API server caches each object version's JSON process-wide, keyed by uid and resourceVersion.
  // Stores with deterministic uids (the store contract's uid-1, uid-2, ...) would get one another's
  // cached objects; a fresh copy of the server module has its own cache.
  let create = createApiServer;
  if (harness.freshServerModule) {
    vi.resetModules();
    create = (await import('../../src/api/index.ts')).createApiServer;
  }
  const server = await create({
    store: backing,
    validate: false,
    defaults: false,
    tls: testCertificate(),
    ...(storeOptions.clock ? { clock: storeOptions.clock } : {}),
    ...serverOptions,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(await server.kubeconfig());
  const clients: KubernetesStore[] = [];
  return {
    backing,
    server,
    kubeConfig,
    async client(options = {}) {
      const kc = new KubeConfig();
      kc.loadFromString(await server.kubeconfig());
      const s = await KubernetesStore.connect({ kubeconfig: kc, ...options });
      clients.push(s);
      return s;
    },
    async close() {
      for (const c of clients.splice(0)) await c.close();
      await server.close();
      await backing.close();
    },
  };
}

export interface SimAgentsOptions {
  /** What the agents reach the API server (their Leases) with. */
  kubeconfig: KubeConfig;
  namespace: string;
  /** The token their node driver servers demand. */
  token: string;
  clock: VirtualClock;
  /** The SimFabric's seed. */
  seed: number;
}

/**
 * Agents for `node-1` and `node-2`, each a SimNode (one fabric, time from `clock`) served on 127.0.0.1 and
 * registered by Lease. If one fails to start, those already started are stopped.
 */
export async function startSimAgents(o: SimAgentsOptions): Promise<Agent[]> {
  const fabric = new SimFabric({ clock: o.clock, seed: o.seed });
  const agents: Agent[] = [];
  try {
    for (const name of ['node-1', 'node-2']) {
      const sim = new SimNode({ name, fabric, timing: { heartbeatMs: 0 } });
      agents.push(
        await startAgent({
          kubeconfig: o.kubeconfig,
          namespace: o.namespace,
          nodeName: name,
          driver: () => sim,
          token: o.token,
          host: '127.0.0.1',
          port: 0,
          clock: o.clock,
        }),
      );
    }
  } catch (err) {
    for (const a of agents) await a.stop();
    throw err;
  }
  return agents;
}

/**
 * Waits (in real time, for HTTP round trips) until `cond` holds; fails naming `what` after `timeoutMs`.
 * Tests use it to wait for a state, never to let time pass.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Like `until`, for conditions that need an async read. */
export async function eventually(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Runs virtual time, timer by timer, until `p` settles; between steps real time passes for HTTP round
 * trips (a simulated node answers only when its clock moves, and the request must reach it first).
 */
export async function drive<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false;
  const tracked = p.finally(() => {
    done = true;
  });
  tracked.catch(() => {});
  for (let i = 0; i < 100_000 && !done; i++) {
    await new Promise((r) => setTimeout(r, 1));
    const next = clock.nextTimerAt();
    if (!done && next !== undefined) await clock.advanceTo(next);
  }
  return tracked;
}

/** Captured stdout/stderr and an io object for runClusterCli and the agent/controller commands. */
export function cliIo(env: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env,
      ...(signal ? { signal } : {}),
    },
  };
}
