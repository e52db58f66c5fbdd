import { Nodes } from './nodes.ts';
import { ResourceClient } from './resources.ts';
import type { Transport } from './transport.ts';
import { Migrations, ReplicaSets, VirtualMachineInstances, VirtualMachines } from './vms.ts';

/**
 * The typed virtkit client. The same API in embedded and kubernetes modes; get one from `connect()`.
 * Dispose it with `await using vk = await connect()` or `await vk.close()` (idempotent).
 */
export class VirtkitClient implements AsyncDisposable {
  readonly mode: 'embedded' | 'kubernetes';
  readonly vms: VirtualMachines;
  readonly vmis: VirtualMachineInstances;
  readonly migrations: Migrations;
  readonly replicaSets: ReplicaSets;
  readonly nodes: Nodes;
  /** Kubernetes Events (reasons such as Scheduled, Started, Migrated, NodeUnresponsive). */
  readonly events: ResourceClient<'Event'>;
  readonly #transport: Transport;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closing: Promise<void> | undefined;

  constructor(transport: Transport, onClose?: () => Promise<void>) {
    this.#transport = transport;
    this.#onClose = onClose;
    this.mode = transport.mode;
    this.vms = new VirtualMachines(transport);
    this.vmis = new VirtualMachineInstances(transport);
    this.migrations = new Migrations(transport);
    this.replicaSets = new ReplicaSets(transport);
    this.nodes = new Nodes(transport);
    this.events = new ResourceClient(transport, 'Event', (e) => e.reason);
  }

  /** The transport underneath (advanced use: raw CRUD on any kind). */
  get transport(): Transport {
    return this.#transport;
  }

  /** Releases everything this client started (embedded engine, nodes, connections). Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#transport.close();
      await this.#onClose?.();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
