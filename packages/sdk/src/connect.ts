/**
 * `connect()` — one entry point for every way to run virtkit:
 * - embedded (default): the engine in this process, with simulated nodes (virtual time) or the local
 *   libvirtd (real VMs), state in memory or in a durable file;
 * - kubernetes: any Kubernetes-compatible API server serving kubevirt.io/v1 (e.g. `virtkit up`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { DirectImageUrlPolicy, ImageTranslationConfig } from '@virtkit/agent';
import {
  type Clock,
  createEngine,
  DriverRegistry,
  type EngineConfig,
  MemoryStore,
  RealClock,
  type ResourceStore,
  SqliteStore,
} from '@virtkit/engine';
import { SimEnv, type SimEnvNodeSpec } from '@virtkit/sim';
import { VirtkitClient } from './client/client.ts';
import { EmbeddedTransport } from './client/embedded-transport.ts';
import { KubernetesTransport } from './client/kubernetes-transport.ts';

export interface EmbeddedOptions {
  mode?: 'embedded';
  /** Simulated nodes: a count (`node-1`..`node-N`) or shapes. Default 3. Ignored with `driver: 'libvirt'`. */
  nodes?: number | SimEnvNodeSpec[];
  /** `sim` (default): simulated nodes in virtual time. `libvirt`: this host's libvirtd, real time. */
  driver?: 'sim' | 'libvirt';
  /** Keep state in a durable store in this directory (default: in memory). */
  dataDir?: string;
  /** Seed for the simulator and the engine's tie-breaking (default 1). */
  seed?: number;
  namespace?: string;
  engineConfig?: EngineConfig;
  /**
   * Directories hostDisk volumes may live under, on every node (simulated or the libvirt agent). Default
   * none: VMs with a hostDisk are refused (`InvalidSpec`), as by the agent. A node shape's own
   * `options.hostDiskRoots` wins.
   */
  hostDiskRoots?: string[];
  /** libvirt driver settings (driver: 'libvirt'). */
  libvirt?: {
    socketPath?: string;
    nodeName?: string;
    agentDataDir?: string;
    hypervisor?: 'auto' | 'kvm' | 'qemu';
    /**
     * Virtlet-style rules mapping `containerDisk.image` names to http(s):// or file:// URLs, as in the
     * agent's config file (checked the same way: a bad rule is an InvalidSpecError before libvirt is reached).
     */
    imageTranslations?: ImageTranslationConfig[];
    /** What an image URL written straight into a VM spec may reach: `public` (default), `any` or `refuse`. */
    directImageUrls?: DirectImageUrlPolicy;
  };
}

export interface KubernetesOptions {
  mode: 'kubernetes';
  kubeconfig?: string | KubeConfig;
  context?: string;
  namespace?: string;
}

export type ConnectOptions = EmbeddedOptions | KubernetesOptions;

function openStore(dataDir: string | undefined, clock: Clock): ResourceStore {
  if (!dataDir) return new MemoryStore({ clock });
  mkdirSync(dataDir, { recursive: true });
  return new SqliteStore(join(dataDir, 'store.db'), { clock });
}

/** Connects to virtkit. `await using vk = await connect()` gives an embedded 3-node simulated cluster. */
export async function connect(options: ConnectOptions = {}): Promise<VirtkitClient> {
  if (options.mode === 'kubernetes') {
    const t = new KubernetesTransport({
      ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}),
      ...(options.context !== undefined ? { context: options.context } : {}),
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    });
    return new VirtkitClient(t);
  }
  if (options.driver === 'libvirt') return connectLibvirt(options);
  const store = options.dataDir ? openStore(options.dataDir, new RealClock()) : undefined;
  const env = await SimEnv.create({
    nodes: options.nodes ?? 3,
    seed: options.seed ?? 1,
    ...(store ? { store } : {}),
    ...(options.engineConfig ? { engineConfig: options.engineConfig } : {}),
    ...(options.hostDiskRoots ? { nodeDefaults: { hostDiskRoots: options.hostDiskRoots } } : {}),
  });
  const engine = env.engine;
  if (!engine) throw new Error('SimEnv did not start an engine');
  // Resolve only once every node is registered and Ready, so the first VMs spread over all of them.
  await env.waitFor(
    async () => {
      const nodes = (await env.store.list('Node')).items;
      const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= env.nodes.length;
    },
    { what: 'all simulated nodes to be Ready' },
  );
  const transport = new EmbeddedTransport({
    store: env.store,
    clock: env.clock,
    drivers: engine.drivers,
    actions: engine.actions,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    onClose: async () => {
      await env[Symbol.asyncDispose]();
      if (store) await store.close();
    },
  });
  return new VirtkitClient(transport);
}

/**
 * A client over an existing SimEnv (for tests written with `SimEnv`): the env stays yours to dispose;
 * closing the client does not dispose it.
 */
export function clientForSimEnv(env: SimEnv, options: { namespace?: string } = {}): VirtkitClient {
  const engine = env.engine;
  if (!engine) throw new TypeError('clientForSimEnv needs a SimEnv with its embedded engine (engine option not false)');
  return new VirtkitClient(
    new EmbeddedTransport({
      store: env.store,
      clock: env.clock,
      drivers: engine.drivers,
      actions: engine.actions,
      ...(options.namespace ? { namespace: options.namespace } : {}),
    }),
  );
}

async function connectLibvirt(options: EmbeddedOptions): Promise<VirtkitClient> {
  const { imageTranslations, directImageUrls } = options.libvirt ?? {};
  // The agent's own config checks, so a rule that cannot work fails here and not at the first VM using it.
  const images =
    imageTranslations !== undefined || directImageUrls !== undefined
      ? (await import('./cluster/agent-config.ts')).checkAgentConfig(
          {
            ...(imageTranslations !== undefined ? { imageTranslations } : {}),
            ...(directImageUrls !== undefined ? { directImageUrls } : {}),
          },
          'connect() libvirt options',
        )
      : {};
  const { LibvirtNodeDriver } = await import('@virtkit/agent');
  const clock = new RealClock();
  const dataDir = options.dataDir ?? join(process.cwd(), '.virtkit-data');
  const store = openStore(options.dataDir, clock);
  const driver = await LibvirtNodeDriver.open({
    nodeName: options.libvirt?.nodeName ?? 'local',
    dataDir: options.libvirt?.agentDataDir ?? join(dataDir, 'agent'),
    clock,
    ...(options.libvirt?.socketPath ? { libvirt: { socketPath: options.libvirt.socketPath } } : {}),
    ...(options.libvirt?.hypervisor ? { hypervisor: options.libvirt.hypervisor } : {}),
    ...(options.hostDiskRoots ? { hostDiskRoots: options.hostDiskRoots } : {}),
    ...images,
  });
  const drivers = new DriverRegistry([driver]);
  const engine = createEngine({
    store,
    clock,
    drivers,
    ...(options.engineConfig ? { config: options.engineConfig } : {}),
  });
  await engine.start();
  const transport = new EmbeddedTransport({
    store,
    clock,
    drivers,
    actions: engine.actions,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    onClose: async () => {
      await engine.stop();
      await driver.close();
      await store.close();
    },
  });
  return new VirtkitClient(transport);
}
