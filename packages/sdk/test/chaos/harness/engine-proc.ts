/**
 * Engine process of the engine kill loop: createEngine over a durable SqliteStore and RemoteNodeDrivers to
 * the node host. Every write the store acknowledged (the engine's own and the workload's) is printed as
 * `A <json>` before anything else happens, so a line the harness read is a write this process was told
 * had been committed. The harness kills this process with SIGKILL at any point.
 *
 * stdin commands: `dump` (prints `D <json>`: VMs, VMIs, migrations, engine errors), `go <seed>` (starts the
 * scripted workload), `stop` (stops the engine and the store cleanly and exits 0).
 *
 * Usage: engine-proc.ts <store file> <nodes json> <tag>
 */
import { createInterface } from 'node:readline';
import {
  createEngine,
  type DeleteOptions,
  DriverRegistry,
  type Kind,
  type KindMap,
  type KubeObject,
  type ListOptions,
  type ListResult,
  type PatchOptions,
  type PatchType,
  RealClock,
  type ResourceStore,
  SqliteStore,
  seededRandom,
  type VirtualMachine,
  type WatchEvent,
  type WatchOptions,
} from '@virtkit/engine';
import { RemoteNodeDriver } from '../../../src/cluster/remote-node-driver.ts';
import { type Ack, CHAOS_HISTORY_LIMIT, CHAOS_NAMESPACE, ENGINE_CONFIG } from './engine-workload.ts';

const [storePath, nodesJson, tag = 'x'] = process.argv.slice(2);
if (!storePath || !nodesJson) throw new Error('usage: engine-proc.ts <store file> <nodes json> <tag>');
const nodes = JSON.parse(nodesJson) as { name: string; url: string }[];

const print = (line: string) => process.stdout.write(`${line}\n`);

/** The store as the engine sees it, printing every acknowledged write. */
class AckingStore implements ResourceStore {
  readonly #inner: ResourceStore;
  constructor(inner: ResourceStore) {
    this.#inner = inner;
  }
  #ack<T extends KubeObject>(kind: Kind, op: Ack['op'], obj: T): T {
    const m = obj.metadata;
    const ack: Ack = {
      rv: Number(m.resourceVersion),
      kind,
      key: m.namespace ? `${m.namespace}/${m.name}` : String(m.name),
      uid: String(m.uid),
      op,
    };
    print(`A ${JSON.stringify(ack)}`);
    return obj;
  }
  async create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    return this.#ack(kind, 'create', await this.#inner.create(kind, obj));
  }
  async update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    return this.#ack(kind, 'update', await this.#inner.update(kind, obj));
  }
  async updateStatus<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    return this.#ack(kind, 'update', await this.#inner.updateStatus(kind, obj));
  }
  async patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    options?: PatchOptions,
  ): Promise<KindMap[K]> {
    return this.#ack(kind, 'update', await this.#inner.patch(kind, namespace, name, type, patch, options));
  }
  async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<KindMap[K]> {
    return this.#ack(kind, 'delete', await this.#inner.delete(kind, namespace, name, options));
  }
  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]> {
    return this.#inner.get(kind, namespace, name);
  }
  tryGet<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K] | undefined> {
    return this.#inner.tryGet(kind, namespace, name);
  }
  list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>> {
    return this.#inner.list(kind, options);
  }
  watch<K extends Kind>(kind: K, options?: WatchOptions): AsyncIterable<WatchEvent<KindMap[K]>> {
    return this.#inner.watch(kind, options);
  }
  currentResourceVersion(): string {
    return this.#inner.currentResourceVersion();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

const clock = new RealClock();
const sqlite = new SqliteStore(storePath, { clock, historyLimit: CHAOS_HISTORY_LIMIT });
const store = new AckingStore(sqlite);
const drivers = new DriverRegistry(
  nodes.map((n) => new RemoteNodeDriver({ nodeName: n.name, url: n.url, token: false, reconnectDelayMs: 50 })),
);
const engine = createEngine({
  store,
  clock,
  drivers,
  config: ENGINE_CONFIG,
  onError: (err, where) => process.stderr.write(`engine error in ${where}: ${(err as Error)?.message ?? err}\n`),
});
await engine.start();
print('READY');

let workload: Promise<void> | undefined;
let stopping = false;

/** The scripted workload: seeded operations on the VMs in the store, until the process is killed. */
async function runWorkload(seed: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
  let created = 0;
  while (!stopping) {
    const vms = (await store.list('VirtualMachine', { namespace: CHAOS_NAMESPACE })).items.filter(
      (v) => !v.metadata.deletionTimestamp,
    );
    const r = random();
    let op: string;
    let target: VirtualMachine | undefined;
    if (vms.length < 3 || (r < 0.3 && vms.length < 7)) op = 'create';
    else if (r < 0.5) op = 'migrate';
    else if (r < 0.65) op = 'stop';
    else if (r < 0.8) op = 'start';
    else if (r < 0.9) op = 'delete';
    else op = 'restart';
    if (op !== 'create') target = pick(vms);
    const name = op === 'create' ? `vm-${tag}-${created++}` : (target?.metadata.name ?? '');
    let outcome = 'ok';
    try {
      switch (op) {
        case 'create':
          await store.create('VirtualMachine', vmManifest(name, random() < 0.8 ? 'Always' : 'Halted'));
          break;
        case 'start':
          await engine.actions.start(CHAOS_NAMESPACE, name);
          break;
        case 'stop':
          await engine.actions.stop(CHAOS_NAMESPACE, name);
          break;
        case 'restart':
          await engine.actions.restart(CHAOS_NAMESPACE, name);
          break;
        case 'migrate':
          await engine.actions.migrate(CHAOS_NAMESPACE, name);
          break;
        case 'delete':
          await store.delete('VirtualMachine', CHAOS_NAMESPACE, name);
          break;
      }
    } catch (err) {
      outcome = (err as { code?: string }).code ?? (err as Error).name;
    }
    print(`OP ${JSON.stringify({ op, name, outcome })}`);
    await clock.sleep(20 + Math.floor(random() * 120));
  }
}

function vmManifest(name: string, runStrategy: 'Always' | 'Halted'): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: CHAOS_NAMESPACE, labels: { app: 'chaos' } },
    spec: {
      runStrategy,
      template: {
        metadata: { labels: { app: 'chaos' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          domain: {
            cpu: { cores: 1 },
            memory: { guest: '64Mi' },
            resources: { requests: { cpu: '100m', memory: '64Mi' } },
            devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] },
          },
          volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
        },
      },
    },
  };
}

async function dump(): Promise<void> {
  const [vms, vmis, migrations] = await Promise.all([
    store.list('VirtualMachine'),
    store.list('VirtualMachineInstance'),
    store.list('VirtualMachineInstanceMigration'),
  ]);
  print(
    `D ${JSON.stringify({
      vms: vms.items,
      vmis: vmis.items,
      migrations: migrations.items,
      errors: engine.errors.length,
    })}`,
  );
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'dump') void dump();
  else if (cmd === 'go') workload ??= runWorkload(Number(arg));
  else if (cmd === 'stop') {
    stopping = true;
    void (async () => {
      await workload?.catch(() => undefined);
      await engine.stop();
      await Promise.all(drivers.list().map((d) => (d as RemoteNodeDriver).close()));
      await sqlite.close();
      print('STOPPED');
      process.exit(0);
    })();
  }
});
// The harness dying ends this process too (its stdin closes).
input.on('close', () => {
  if (!stopping) process.exit(3);
});
