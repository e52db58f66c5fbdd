/** A small cluster for engine tests: virtual clock, MemoryStore with seeded uids, fake nodes, the engine. */
import {
  createEngine,
  DriverRegistry,
  type Engine,
  type EngineConfig,
  KUBEVIRT_API_VERSION,
  MemoryStore,
  type RunStrategy,
  seededRandom,
  VirtualClock,
  type VirtualMachine,
  type VirtualMachineInstanceSpec,
} from '../../src/index.ts';
import { type Fabric, FakeNode, type FakeNodeOptions } from './fake-driver.ts';

export const GiB = 1024 ** 3;
export const NS = 'default';

export interface Cluster {
  clock: VirtualClock;
  store: MemoryStore;
  engine: Engine;
  drivers: DriverRegistry;
  fabric: Fabric;
  nodes: FakeNode[];
  node(name: string): FakeNode;
  /** Advances virtual time in steps until `pred` holds; throws (with `what`) after `timeoutMs`. */
  until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Replaces the engine by a new one on the same store and nodes (a restart). */
  restart(config?: EngineConfig): Promise<Engine>;
  dispose(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: (FakeNodeOptions & { name?: string })[] | number;
  config?: EngineConfig;
  seed?: number;
}

export async function cluster(options: ClusterOptions = {}): Promise<Cluster> {
  const clock = new VirtualClock();
  let n = 0;
  const store = new MemoryStore({
    clock,
    uid: () => `uid-${String(++n).padStart(6, '0')}`,
    random: seededRandom(options.seed ?? 1),
  });
  const fabric: Fabric = new Map();
  const specs: (FakeNodeOptions & { name?: string })[] =
    typeof options.nodes === 'number' || options.nodes === undefined
      ? Array.from({ length: (options.nodes as number | undefined) ?? 2 }, () => ({}))
      : options.nodes;
  const nodes = specs.map((s, i) => new FakeNode(s.name ?? `node-${i + 1}`, clock, fabric, s));
  const drivers = new DriverRegistry(nodes);
  let engine = createEngine({
    store,
    clock,
    drivers,
    random: seededRandom(options.seed ?? 1),
    ...(options.config ? { config: options.config } : {}),
  });
  await engine.start();
  const c: Cluster = {
    clock,
    store,
    get engine() {
      return engine;
    },
    drivers,
    fabric,
    nodes,
    node: (name) => fabric.get(name)!,
    async until(pred, what, timeoutMs = 10 * 60_000) {
      const deadline = clock.now() + timeoutMs;
      for (;;) {
        await engine.settled();
        if (await pred()) return;
        if (clock.now() >= deadline) {
          const errs = engine.errors.map((e) => `${e.where}: ${(e.error as Error)?.message ?? e.error}`).slice(-5);
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}${errs.length ? `\nengine errors:\n${errs.join('\n')}` : ''}`,
          );
        }
        await clock.advance(250);
      }
    },
    async restart(config) {
      await engine.stop();
      engine = createEngine({
        store,
        clock,
        drivers,
        random: seededRandom(options.seed ?? 1),
        ...((config ?? options.config) ? { config: config ?? options.config! } : {}),
      });
      await engine.start();
      return engine;
    },
    async dispose() {
      await engine.stop();
    },
  };
  // Nodes register on the first reconcile.
  await c.until(async () => (await store.list('Node')).items.length === nodes.length, 'nodes to register');
  return c;
}

export function vmiSpec(over: Partial<VirtualMachineInstanceSpec> = {}): VirtualMachineInstanceSpec {
  return {
    domain: { cpu: { cores: 1 }, memory: { guest: '1Gi' }, devices: {} },
    terminationGracePeriodSeconds: 10,
    ...over,
  };
}

export function vm(
  name: string,
  runStrategy: RunStrategy,
  spec: Partial<VirtualMachineInstanceSpec> = {},
): VirtualMachine {
  return {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: { runStrategy, template: { metadata: { labels: { app: name } }, spec: vmiSpec(spec) } },
  };
}

export async function getVM(c: Cluster, name: string) {
  return c.store.tryGet('VirtualMachine', NS, name);
}

export async function getVMI(c: Cluster, name: string) {
  return c.store.tryGet('VirtualMachineInstance', NS, name);
}

export async function printable(c: Cluster, name: string) {
  return (await getVM(c, name))?.status?.printableStatus;
}
