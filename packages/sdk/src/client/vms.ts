import {
  IllegalTransitionError,
  type VirtualMachineInstance,
  type VirtualMachineInstanceMigration,
} from '@virtkit/engine';
import { type NamespaceOption, ResourceClient, type WaitOptions } from './resources.ts';
import type { Transport } from './transport.ts';

export interface StopOptions extends NamespaceOption {
  /** Overrides the VMI's terminationGracePeriodSeconds; 0 forces the domain off at once. */
  gracePeriodSeconds?: number;
}

export interface MigrateOptions extends NamespaceOption {
  /** Constrain the target to this node (becomes `addedNodeSelector: { kubernetes.io/hostname }`). */
  targetNode?: string;
  /** Extra node labels the target must have. */
  addedNodeSelector?: Record<string, string>;
}

export interface ActionWait {
  /** After the request, wait until the VM reaches the resulting state. */
  wait?: boolean | WaitOptions;
}

/** VirtualMachines: CRUD, watch, waitFor, and KubeVirt's verbs. */
export class VirtualMachines extends ResourceClient<'VirtualMachine'> {
  constructor(transport: Transport) {
    super(transport, 'VirtualMachine', (vm) => vm.status?.printableStatus);
  }

  async start(name: string, options: NamespaceOption & ActionWait = {}): Promise<void> {
    await this.transport.vmVerb(this.ns(options), name, 'start');
    await this.#maybeWait(name, 'Running', options);
  }

  async stop(name: string, options: StopOptions & ActionWait = {}): Promise<void> {
    const body = options.gracePeriodSeconds !== undefined ? { gracePeriod: options.gracePeriodSeconds } : {};
    await this.transport.vmVerb(this.ns(options), name, 'stop', body);
    await this.#maybeWait(name, 'Stopped', options);
  }

  async restart(name: string, options: NamespaceOption & ActionWait = {}): Promise<void> {
    await this.transport.vmVerb(this.ns(options), name, 'restart');
    await this.#maybeWait(name, 'Running', options);
  }

  async pause(name: string, options: NamespaceOption & ActionWait = {}): Promise<void> {
    await this.transport.vmiVerb(this.ns(options), name, 'pause');
    await this.#maybeWait(name, 'Paused', options);
  }

  async unpause(name: string, options: NamespaceOption & ActionWait = {}): Promise<void> {
    await this.transport.vmiVerb(this.ns(options), name, 'unpause');
    await this.#maybeWait(name, 'Running', options);
  }

  async softReboot(name: string, options: NamespaceOption = {}): Promise<void> {
    await this.transport.vmiVerb(this.ns(options), name, 'softreboot');
  }

  /**
   * Live-migrates the VM's instance (KubeVirt's `migrate` verb) and returns the created
   * VirtualMachineInstanceMigration. Throws IllegalTransitionError at once when the VM cannot migrate.
   */
  async migrate(name: string, options: MigrateOptions = {}): Promise<VirtualMachineInstanceMigration> {
    const namespace = this.ns(options);
    const selector = { ...options.addedNodeSelector };
    if (options.targetNode) selector['kubernetes.io/hostname'] = options.targetNode;
    const answer = await this.transport.vmVerb(
      namespace,
      name,
      'migrate',
      Object.keys(selector).length ? { addedNodeSelector: selector } : {},
    );
    if ((answer as { kind?: string } | undefined)?.kind === 'VirtualMachineInstanceMigration') {
      return answer as VirtualMachineInstanceMigration;
    }
    // Servers that answer the verb with an empty body: the newest unfinished migration of this VMI.
    const all = await this.transport.list('VirtualMachineInstanceMigration', {
      namespace,
      fieldSelector: `spec.vmiName=${name}`,
    });
    const open = all.items
      .filter((m) => m.status?.phase !== 'Succeeded' && m.status?.phase !== 'Failed')
      .sort((a, b) => Number(b.metadata.resourceVersion ?? 0) - Number(a.metadata.resourceVersion ?? 0));
    if (!open[0]) throw new IllegalTransitionError('unknown', 'migrate', 'the server created no migration');
    return open[0];
  }

  /** The VM's serial console: backlog then live lines until the VM stops or `signal` aborts. */
  console(name: string, options: NamespaceOption & { signal?: AbortSignal } = {}): AsyncIterable<string> {
    return this.transport.console(this.ns(options), name, options.signal ? { signal: options.signal } : {});
  }

  /** The running instance of a VM, if any. */
  instance(name: string, options: NamespaceOption = {}): Promise<VirtualMachineInstance | undefined> {
    return new VirtualMachineInstances(this.transport).tryGet(name, options);
  }

  async #maybeWait(name: string, status: string, options: NamespaceOption & ActionWait): Promise<void> {
    if (!options.wait) return;
    const waitOpts = typeof options.wait === 'object' ? options.wait : {};
    await this.waitFor(name, status, { namespace: this.ns(options), ...waitOpts });
  }
}

export class VirtualMachineInstances extends ResourceClient<'VirtualMachineInstance'> {
  constructor(transport: Transport) {
    super(transport, 'VirtualMachineInstance', (vmi) => vmi.status?.phase);
  }

  pause(name: string, options: NamespaceOption = {}): Promise<void> {
    return this.transport.vmiVerb(this.ns(options), name, 'pause');
  }

  unpause(name: string, options: NamespaceOption = {}): Promise<void> {
    return this.transport.vmiVerb(this.ns(options), name, 'unpause');
  }

  console(name: string, options: NamespaceOption & { signal?: AbortSignal } = {}): AsyncIterable<string> {
    return this.transport.console(this.ns(options), name, options.signal ? { signal: options.signal } : {});
  }
}

export class Migrations extends ResourceClient<'VirtualMachineInstanceMigration'> {
  constructor(transport: Transport) {
    super(transport, 'VirtualMachineInstanceMigration', (m) => m.status?.phase);
  }

  /** Cancels a migration that has not finished (deleting the object aborts it, as in KubeVirt). */
  cancel(name: string, options: NamespaceOption = {}): Promise<void> {
    return this.delete(name, options);
  }
}

export class ReplicaSets extends ResourceClient<'VirtualMachineInstanceReplicaSet'> {
  constructor(transport: Transport) {
    super(transport, 'VirtualMachineInstanceReplicaSet', (rs) =>
      rs.status ? `${rs.status.readyReplicas ?? 0}/${rs.spec.replicas ?? 0}` : undefined,
    );
  }

  /** Sets `spec.replicas`; with `wait`, resolves when that many replicas are ready. */
  async scale(name: string, replicas: number, options: NamespaceOption & ActionWait = {}): Promise<void> {
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
    }
    await this.transport.patch('VirtualMachineInstanceReplicaSet', this.ns(options), name, 'merge', {
      spec: { replicas },
    });
    if (options.wait) {
      const waitOpts = typeof options.wait === 'object' ? options.wait : {};
      await this.waitFor(
        name,
        (rs) =>
          rs !== undefined && (rs.status?.readyReplicas ?? 0) === replicas && (rs.status?.replicas ?? 0) === replicas,
        { namespace: this.ns(options), ...waitOpts },
      );
    }
  }
}
