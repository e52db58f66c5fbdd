/**
 * VmActions: the verbs of KubeVirt's subresource API (start, stop, restart, pause, unpause, softReboot,
 * migrate, cancel a migration) and node cordon/uncordon/drain. Each checks the request first — against
 * KubeVirt's run-strategy rules and the VMI's lifecycle machine — and throws IllegalTransitionError
 * before anything changes; then it records the request in stored state (runStrategy or
 * stateChangeRequests on the VM, annotations on the VMI, a VirtualMachineInstanceMigration, the Node's
 * spec), where the controllers pick it up. Nothing lives only in memory, so requests survive a restart.
 * Needs only the store and a clock: the SDK's embedded mode and the HTTP API use it directly.
 */

import { findCondition } from './controllers/conditions.ts';
import {
  ANNOTATION_DRAIN,
  ANNOTATION_PAUSE,
  ANNOTATION_SOFT_REBOOT,
  COND_LIVE_MIGRATABLE,
  LABEL_HOSTNAME,
} from './controllers/constants.ts';
import { type DrainProgress, DrainTracker } from './controllers/drain-progress.ts';
import { isControlledBy } from './controllers/owners.ts';
import { isFinal, runStrategyOf } from './controllers/run-strategy.ts';
import { snapshotFromStatus } from './controllers/vmi-snapshot.ts';
import { ConflictError, IllegalTransitionError, NotFoundError } from './errors.ts';
import { assertCanAccept } from './lifecycle/requests.ts';
import type { LifecycleSnapshot } from './lifecycle/snapshot.ts';
import type { VMLifecycleEvent } from './lifecycle/types.ts';
import type { Clock } from './ports/clock.ts';
import { isoTime } from './ports/clock.ts';
import type { ResourceStore } from './ports/resource-store.ts';
import type { Node } from './resources/core.ts';
import {
  KUBEVIRT_API_VERSION,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VirtualMachineInstanceMigration,
  type VirtualMachineStateChangeRequest,
} from './resources/kubevirt.ts';

export interface StartOptions {
  /** Start the guest paused (KubeVirt's `virtctl start --paused`). */
  paused?: boolean;
}

export interface StopOptions {
  /** Overrides the VMI's terminationGracePeriodSeconds; 0 forces the VM off at once. */
  gracePeriodSeconds?: number;
}

export interface MigrateOptions {
  /** Restrict the target to this node (an `addedNodeSelector` on its hostname label). */
  targetNode?: string;
  /** Extra node labels the target must have (KubeVirt's `addedNodeSelector`). */
  addedNodeSelector?: Record<string, string>;
}

export type { DrainProgress };

export interface DrainOptions {
  onProgress?: (p: DrainProgress) => void;
  /** Stops waiting (the drain itself goes on; uncordon to end it). */
  signal?: AbortSignal;
}

export interface VmActionsOptions {
  store: ResourceStore;
  clock: Clock;
  /** The live lifecycle snapshot of a VMI, when an engine runs in this process (fresher than the stored one). */
  liveSnapshot?: (vmi: VirtualMachineInstance) => LifecycleSnapshot | undefined;
}

/** How often an update is retried when it meets a concurrent change. */
const CONFLICT_RETRIES = 8;

export class VmActions {
  readonly #store: ResourceStore;
  readonly #clock: Clock;
  readonly #live: VmActionsOptions['liveSnapshot'];
  #seq = 0;

  constructor(options: VmActionsOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#live = options.liveSnapshot;
  }

  // ---- VM power ----

  /** Starts a stopped VM (KubeVirt's rules per runStrategy). */
  async start(namespace: string, name: string, options: StartOptions = {}): Promise<VirtualMachine> {
    return this.#retry(async () => {
      const vm = await this.#store.get('VirtualMachine', namespace, name);
      const vmi = await this.#ownedVmi(vm);
      const strategy = runStrategyOf(vm);
      const live = vmi && !isFinal(vmi) && !vmi.metadata.deletionTimestamp;
      const request: VirtualMachineStateChangeRequest = {
        action: 'Start',
        ...(options.paused ? { data: { paused: 'true' } } : {}),
      };
      switch (strategy) {
        case 'Always':
        case 'Once':
          throw new IllegalTransitionError(
            stateOf(vm),
            'start',
            `runStrategy ${strategy} does not support manual start requests`,
          );
        case 'Halted': {
          if (live) throw new IllegalTransitionError(stateOf(vm), 'start', 'VM is already running');
          const next = await this.#store.update('VirtualMachine', withRunStrategy(vm, 'Always'));
          if (!options.paused) return next;
          return this.#store.updateStatus('VirtualMachine', withRequests(next, [...requestsOf(next), request]));
        }
        case 'RerunOnFailure':
        case 'Manual': {
          if (strategy === 'RerunOnFailure' && vmi?.status?.phase === 'Failed' && !vmi.metadata.deletionTimestamp) {
            throw new IllegalTransitionError(stateOf(vm), 'start', 'RerunOnFailure restarts a failed VM by itself');
          }
          if (live) throw new IllegalTransitionError(stateOf(vm), 'start', 'VM is already running');
          if (requestsOf(vm).some((r) => r.action === 'Start')) {
            throw new IllegalTransitionError(stateOf(vm), 'start', 'a start request is already pending');
          }
          // A finished VMI is removed first (a stop request for it), then a new one starts.
          const stopFinished: VirtualMachineStateChangeRequest[] =
            vmi && isFinal(vmi) && !vmi.metadata.deletionTimestamp
              ? [{ action: 'Stop', uid: vmi.metadata.uid ?? '' }]
              : [];
          return this.#store.updateStatus(
            'VirtualMachine',
            withRequests(vm, [...requestsOf(vm), ...stopFinished, request]),
          );
        }
      }
    });
  }

  /** Stops a running VM: graceful (ACPI, then forced after the grace period) unless gracePeriodSeconds is 0. */
  async stop(namespace: string, name: string, options: StopOptions = {}): Promise<VirtualMachine> {
    return this.#retry(async () => {
      const vm = await this.#store.get('VirtualMachine', namespace, name);
      const vmi = await this.#ownedVmi(vm);
      const strategy = runStrategyOf(vm);
      const live = vmi && !isFinal(vmi);
      const grace = options.gracePeriodSeconds;
      if (vmi && live) {
        const ev: VMLifecycleEvent =
          grace === 0
            ? { type: 'FORCE_STOP', now: this.#now() }
            : { type: 'STOP', now: this.#now(), ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}) };
        // A stop already under way may only be escalated (force).
        if (!vmi.metadata.deletionTimestamp || grace === 0) this.#admit(vmi, ev);
        else
          throw new IllegalTransitionError(
            stateOf(vm),
            'stop',
            'it is already stopping; stop with gracePeriodSeconds 0 to force it',
          );
        if (grace !== undefined) await this.#setGrace(vmi, grace);
      }
      if (strategy === 'Always' || strategy === 'Once') {
        if (!live && strategy === 'Once') throw new IllegalTransitionError(stateOf(vm), 'stop', 'VM is not running');
        return this.#store.update('VirtualMachine', withRunStrategy(vm, 'Halted'));
      }
      if (!vmi || !live) throw new IllegalTransitionError(stateOf(vm), 'stop', 'VM is not running');
      if (vmi.metadata.deletionTimestamp) return vm; // escalated through the VMI's grace period
      const reqs = requestsOf(vm).filter((r) => !(r.action === 'Stop' && r.uid === vmi.metadata.uid));
      return this.#store.updateStatus(
        'VirtualMachine',
        withRequests(vm, [...reqs, { action: 'Stop', uid: vmi.metadata.uid ?? '' }]),
      );
    });
  }

  /** Stops the running VMI and starts a new one. */
  async restart(namespace: string, name: string, options: StopOptions = {}): Promise<VirtualMachine> {
    return this.#retry(async () => {
      const vm = await this.#store.get('VirtualMachine', namespace, name);
      const strategy = runStrategyOf(vm);
      if (strategy === 'Halted') {
        throw new IllegalTransitionError(
          stateOf(vm),
          'restart',
          'runStrategy Halted does not support manual restart requests',
        );
      }
      const vmi = await this.#ownedVmi(vm);
      if (!vmi || vmi.metadata.deletionTimestamp)
        throw new IllegalTransitionError(stateOf(vm), 'restart', 'VM is not running');
      if (!isFinal(vmi)) this.#admit(vmi, { type: 'RESTART', now: this.#now() });
      if (options.gracePeriodSeconds !== undefined) await this.#setGrace(vmi, options.gracePeriodSeconds);
      const reqs: VirtualMachineStateChangeRequest[] = [{ action: 'Stop', uid: vmi.metadata.uid ?? '' }];
      if (strategy !== 'Always') reqs.push({ action: 'Start' });
      return this.#store.updateStatus('VirtualMachine', withRequests(vm, reqs));
    });
  }

  // ---- guest-level verbs on the VMI (VM and VMI share the name) ----

  async pause(namespace: string, name: string): Promise<VirtualMachineInstance> {
    return this.#annotate(namespace, name, { type: 'PAUSE', now: this.#now() }, (a) => {
      a[ANNOTATION_PAUSE] = 'true';
    });
  }

  async unpause(namespace: string, name: string): Promise<VirtualMachineInstance> {
    return this.#annotate(namespace, name, { type: 'UNPAUSE', now: this.#now() }, (a) => {
      delete a[ANNOTATION_PAUSE];
    });
  }

  async softReboot(namespace: string, name: string): Promise<VirtualMachineInstance> {
    const id = `${isoTime(this.#now())}#${++this.#seq}`;
    return this.#annotate(namespace, name, { type: 'REBOOT', now: this.#now() }, (a) => {
      a[ANNOTATION_SOFT_REBOOT] = id;
    });
  }

  // ---- migration ----

  /** Creates a VirtualMachineInstanceMigration for the VM's VMI; the migration controller carries it out. */
  async migrate(
    namespace: string,
    name: string,
    options: MigrateOptions = {},
  ): Promise<VirtualMachineInstanceMigration> {
    const vmi = await this.#vmi(namespace, name);
    if (isFinal(vmi) || vmi.metadata.deletionTimestamp) {
      throw new IllegalTransitionError(vmi.status?.phase ?? 'Unknown', 'migrate', 'only a running VM can migrate');
    }
    const lm = findCondition(vmi.status?.conditions, COND_LIVE_MIGRATABLE);
    if (lm?.status === 'False') {
      throw new IllegalTransitionError(
        stateOfVmi(vmi),
        'migrate',
        `it is not live-migratable: ${lm.message ?? lm.reason}`,
      );
    }
    const target = options.targetNode;
    this.#admit(vmi, {
      type: 'MIGRATE',
      // Any node but the current one passes the machine's check when no target is named.
      targetNode: target ?? `${vmi.status?.nodeName ?? ''}~elsewhere`,
      migrationName: 'pending',
      now: this.#now(),
    });
    const active = await this.#activeMigrations(namespace, name);
    if (active.length > 0) {
      throw new IllegalTransitionError(
        stateOfVmi(vmi),
        'migrate',
        `migration ${active[0]!.metadata.name} is already in progress`,
      );
    }
    const selector = { ...(options.addedNodeSelector ?? {}), ...(target ? { [LABEL_HOSTNAME]: target } : {}) };
    return this.#store.create('VirtualMachineInstanceMigration', {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: 'VirtualMachineInstanceMigration',
      metadata: { generateName: `${name}-migration-`, namespace },
      spec: { vmiName: name, ...(Object.keys(selector).length > 0 ? { addedNodeSelector: selector } : {}) },
    });
  }

  /** Cancels the VM's migration in progress by deleting its migration object (as `virtctl migrate-cancel`). */
  async cancelMigration(namespace: string, name: string): Promise<VirtualMachineInstanceMigration> {
    const active = await this.#activeMigrations(namespace, name);
    const mig = active[0];
    if (!mig)
      throw new IllegalTransitionError('not migrating', 'cancel the migration of', 'no migration is in progress');
    return this.#store.delete('VirtualMachineInstanceMigration', namespace, mig.metadata.name ?? '');
  }

  // ---- nodes ----

  async cordon(node: string): Promise<Node> {
    return this.#updateNode(node, (n) => ({ ...n, spec: { ...n.spec, unschedulable: true } }));
  }

  /** Makes the node schedulable again and ends a drain. */
  async uncordon(node: string): Promise<Node> {
    return this.#updateNode(node, (n) => {
      const annotations = { ...(n.metadata.annotations ?? {}) };
      delete annotations[ANNOTATION_DRAIN];
      return { ...n, metadata: { ...n.metadata, annotations }, spec: { ...n.spec, unschedulable: false } };
    });
  }

  /**
   * Cordons the node and asks for it to be emptied: live-migrates the VMIs whose evictionStrategy allows it
   * and stops the rest (restarted elsewhere per runStrategy). Resolves with the final progress once no VMI
   * is left on the node; `onProgress` sees every change on the way.
   */
  async drain(node: string, options: DrainOptions = {}): Promise<DrainProgress> {
    await this.#updateNode(node, (n) => ({
      ...n,
      metadata: {
        ...n.metadata,
        annotations: {
          ...(n.metadata.annotations ?? {}),
          [ANNOTATION_DRAIN]: n.metadata.annotations?.[ANNOTATION_DRAIN] ?? isoTime(this.#now()),
        },
      },
      spec: { ...n.spec, unschedulable: true },
    }));
    const abort = new AbortController();
    const onAbort = () => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const list = await this.#store.list('VirtualMachineInstance');
      const migList = await this.#store.list('VirtualMachineInstanceMigration');
      const tracker = new DrainTracker(node, list.items, migList.items);
      const first = tracker.changed() as DrainProgress;
      options.onProgress?.(first);
      if (first.done) return first;
      const vmiWatch = this.#store.watch('VirtualMachineInstance', {
        resourceVersion: list.resourceVersion,
        signal: abort.signal,
      });
      const migWatch = this.#store.watch('VirtualMachineInstanceMigration', {
        resourceVersion: migList.resourceVersion,
        signal: abort.signal,
      });
      return await tracker.follow(vmiWatch, migWatch, abort.signal, options.onProgress);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      abort.abort();
    }
  }

  // ---- helpers ----

  #now(): number {
    return this.#clock.now();
  }

  #admit(vmi: VirtualMachineInstance, event: VMLifecycleEvent): void {
    const snapshot = this.#live?.(vmi) ?? snapshotFromStatus(vmi);
    if (snapshot) assertCanAccept(snapshot, event);
  }

  async #vmi(namespace: string, name: string): Promise<VirtualMachineInstance> {
    const vmi = await this.#store.tryGet('VirtualMachineInstance', namespace, name);
    if (!vmi) {
      const vm = await this.#store.tryGet('VirtualMachine', namespace, name);
      if (vm) throw new IllegalTransitionError(stateOf(vm), 'act on', 'VM is not running');
      throw new NotFoundError('VirtualMachineInstance', name, namespace);
    }
    return vmi;
  }

  async #ownedVmi(vm: VirtualMachine): Promise<VirtualMachineInstance | undefined> {
    const vmi = await this.#store.tryGet('VirtualMachineInstance', vm.metadata.namespace, vm.metadata.name ?? '');
    return vmi && isControlledBy(vmi, vm) ? vmi : undefined;
  }

  async #annotate(
    namespace: string,
    name: string,
    event: VMLifecycleEvent,
    edit: (annotations: Record<string, string>) => void,
  ): Promise<VirtualMachineInstance> {
    return this.#retry(async () => {
      const vmi = await this.#vmi(namespace, name);
      if (isFinal(vmi) || vmi.metadata.deletionTimestamp) {
        throw new IllegalTransitionError(stateOfVmi(vmi), event.type.toLowerCase(), 'VM is not running');
      }
      this.#admit(vmi, event);
      const annotations = { ...(vmi.metadata.annotations ?? {}) };
      edit(annotations);
      return this.#store.update('VirtualMachineInstance', { ...vmi, metadata: { ...vmi.metadata, annotations } });
    });
  }

  async #setGrace(vmi: VirtualMachineInstance, seconds: number): Promise<void> {
    if (vmi.spec.terminationGracePeriodSeconds === seconds) return;
    await this.#store.patch('VirtualMachineInstance', vmi.metadata.namespace, vmi.metadata.name ?? '', 'merge', {
      spec: { terminationGracePeriodSeconds: seconds },
    });
  }

  async #activeMigrations(namespace: string, vmiName: string): Promise<VirtualMachineInstanceMigration[]> {
    const all = await this.#store.list('VirtualMachineInstanceMigration', { namespace });
    return all.items
      .filter((m) => m.spec.vmiName === vmiName && !m.metadata.deletionTimestamp)
      .filter((m) => m.status?.phase !== 'Succeeded' && m.status?.phase !== 'Failed');
  }

  async #updateNode(name: string, edit: (n: Node) => Node): Promise<Node> {
    return this.#retry(async () => {
      const node = await this.#store.get('Node', undefined, name);
      return this.#store.update('Node', edit(node));
    });
  }

  async #retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ConflictError) || i >= CONFLICT_RETRIES) throw err;
      }
    }
  }
}

function requestsOf(vm: VirtualMachine): VirtualMachineStateChangeRequest[] {
  return vm.status?.stateChangeRequests ?? [];
}

function withRequests(vm: VirtualMachine, reqs: VirtualMachineStateChangeRequest[]): VirtualMachine {
  return { ...vm, status: { ...vm.status, stateChangeRequests: reqs } };
}

/** Sets the strategy in the field the VM uses (the deprecated `running` stays in use when it is). */
function withRunStrategy(vm: VirtualMachine, strategy: 'Always' | 'Halted'): VirtualMachine {
  const spec = { ...vm.spec };
  if (spec.runStrategy === undefined && spec.running !== undefined) spec.running = strategy === 'Always';
  else {
    spec.runStrategy = strategy;
    delete spec.running;
  }
  return { ...vm, spec };
}

function stateOf(vm: VirtualMachine): string {
  return vm.status?.printableStatus ?? 'Stopped';
}

function stateOfVmi(vmi: VirtualMachineInstance): string {
  const vk = vmi.status?.virtkit as { state?: string } | undefined;
  return vk?.state ?? vmi.status?.phase ?? 'Pending';
}
