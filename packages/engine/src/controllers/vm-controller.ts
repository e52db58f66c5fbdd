/**
 * The VM controller: turns a VirtualMachine's runStrategy and state-change requests into the existence
 * of its VMI (same name, controlled by the VM), exactly as KubeVirt's syncRunStrategy; restarts with
 * CrashLoopBackOff (status.startFailure, deadlines stored as timestamps) and keeps the VM's status
 * (printableStatus, ready, created, conditions, observedGeneration) current. A finalizer makes sure a
 * deleted VM's VMI (and so its domain) is gone before the VM is.
 */
import { NotFoundError } from '../errors.ts';
import { backoffDelay } from '../lifecycle/commands.ts';
import { isoTime } from '../ports/clock.ts';
import {
  KUBEVIRT_API_VERSION,
  type PrintableStatus,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VirtualMachineStatus,
} from '../resources/kubevirt.ts';
import type { Condition } from '../resources/meta.ts';
import { jsonEqual } from '../store/json.ts';
import { findCondition, setCondition } from './conditions.ts';
import {
  ANNOTATION_EVICTED,
  ANNOTATION_PAUSE,
  ANNOTATION_VM_GENERATION,
  COND_FAILURE,
  COND_LIVE_MIGRATABLE,
  COND_PAUSED,
  COND_READY,
  COND_RESTART_REQUIRED,
  VM_FINALIZER,
  VMI_FINALIZER,
} from './constants.ts';
import type { ControllerContext } from './context.ts';
import { keyOf, splitKey } from './informer.ts';
import { controllerOf, controllerRef, isControlledBy } from './owners.ts';
import { decide, isFinal, runStrategyOf, settledRequests } from './run-strategy.ts';
import { onlyStatusChanged } from './status-echo.ts';
import { virtkitOf } from './vmi-status.ts';
import { WorkQueue } from './work-queue.ts';

const restarts = (s: string) => s === 'Always' || s === 'RerunOnFailure';

export class VmController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;
  /** Error of the last failed VMI creation per VM, shown as the Failure condition. */
  #createErrors = new Map<string, string>();
  /** The status this controller last wrote per VM (its own write coming back needs no reconcile). */
  #written = new Map<string, VirtualMachineStatus | undefined>();
  /** The status a write in flight is storing per VM (its watch event can arrive before the write returns). */
  #writing = new Map<string, VirtualMachineStatus>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.queue = new WorkQueue(ctx.clock, (key) => this.#reconcile(key), {
      name: 'vm',
      concurrency: ctx.config.concurrency,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: ctx.config.retry.maxMs,
      onError: (key, err) => ctx.report(err, `vm ${key}`),
    });
    ctx.informers.vm.on({
      add: (o) => this.queue.add(keyOf(o)),
      update: (o, n) => {
        const key = keyOf(n);
        if (this.#isOwnStatus(key, n.status) && onlyStatusChanged(o, n)) return;
        this.queue.add(key);
      },
      delete: (o) => this.queue.add(keyOf(o)),
    });
    const owner = (vmi: VirtualMachineInstance) => {
      const ref = controllerOf(vmi);
      if (ref?.kind === 'VirtualMachine') this.queue.add(`${vmi.metadata.namespace}/${ref.name}`);
      else this.queue.add(keyOf(vmi)); // a VM waiting for a foreign VMI of its name to go
    };
    ctx.informers.vmi.on({ add: owner, update: (_o, n) => owner(n), delete: owner });
  }

  start(): void {
    for (const key of this.#ctx.informers.vm.keys()) this.queue.add(key);
    this.queue.start();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
  }

  async #reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const ctx = this.#ctx;
    let vm = ctx.informers.vm.getByKey(key);
    if (!vm) {
      this.#createErrors.delete(key);
      this.#written.delete(key);
      return undefined;
    }
    let found = ctx.informers.vmi.getByKey(key);
    // A VMI of the VM's name that nobody controls (e.g. left by `kubectl delete vm --cascade=orphan`) is
    // adopted, as KubeVirt's VM controller claims it by name; one controlled by something else stays foreign.
    // The VM is read again first (KubeVirt's deletion recheck): the informer may not have seen it being
    // deleted yet, and adopting then would undo the orphaning that deletion just did.
    if (found && !controllerOf(found) && !found.metadata.deletionTimestamp && !vm.metadata.deletionTimestamp) {
      const fresh = await ctx.store.tryGet('VirtualMachine', vm.metadata.namespace, vm.metadata.name ?? '');
      if (fresh && fresh.metadata.uid === vm.metadata.uid && !fresh.metadata.deletionTimestamp) {
        found = await ctx.store.update(
          'VirtualMachineInstance',
          {
            ...found,
            metadata: {
              ...found.metadata,
              ownerReferences: [...(found.metadata.ownerReferences ?? []), controllerRef(vm)],
            },
          },
          { shared: true },
        );
        ctx.informers.vmi.observe(found);
      }
    }
    const vmi = found && isControlledBy(found, vm) ? found : undefined;
    const foreign = found && !vmi ? found : undefined;
    const now = ctx.clock.now();

    if (vm.metadata.deletionTimestamp) {
      if (vmi && !vmi.metadata.deletionTimestamp) await this.#deleteVmi(vm, vmi);
      await this.#writeStatus(vm, vmi, now);
      if (vmi) return undefined; // its deletion event brings us back
      const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER);
      if (finalizers.length !== (vm.metadata.finalizers ?? []).length) {
        const updated = await ctx.store.update(
          'VirtualMachine',
          { ...vm, metadata: { ...vm.metadata, finalizers } },
          { shared: true },
        );
        ctx.informers.vm.observe(updated);
      }
      return undefined;
    }
    if (!(vm.metadata.finalizers ?? []).includes(VM_FINALIZER)) {
      // Shared results (the store's frozen objects): read and fed to the informers, never modified.
      vm = await ctx.store.update(
        'VirtualMachine',
        { ...vm, metadata: { ...vm.metadata, finalizers: [...(vm.metadata.finalizers ?? []), VM_FINALIZER] } },
        { shared: true },
      );
      ctx.informers.vm.observe(vm);
    }

    let requeueAfterMs: number | undefined;
    const strategy = runStrategyOf(vm);
    let startFailure = this.#startFailure(vm, vmi, now);
    if (startFailure && vmi?.status?.phase === 'Running') {
      const since = runningSince(vmi);
      if (since !== undefined) requeueAfterMs = Math.max(1, since + ctx.config.crashLoopBackoff.resetAfterMs - now);
    }
    let requests = vm.status?.stateChangeRequests ?? [];

    // An evicted VMI (drain) of a RerunOnFailure VM comes back elsewhere, as after a failure.
    if (
      vmi?.metadata.annotations?.[ANNOTATION_EVICTED] !== undefined &&
      vmi.metadata.deletionTimestamp !== undefined &&
      strategy === 'RerunOnFailure' &&
      !requests.some((r) => r.action === 'Start')
    ) {
      requests = [...requests, { action: 'Start' }];
    }
    const decision = decide({ ...vm, status: { ...vm.status, stateChangeRequests: requests } }, vmi);
    if (decision.action === 'stop') {
      await this.#deleteVmi(vm, decision.vmi);
      // A failed RerunOnFailure VMI (or an evicted one) comes back through a start request.
      if (decision.restartAfter && !requests.some((r) => r.action === 'Start')) {
        requests = [...requests, { action: 'Start' }];
      }
    } else if (decision.action === 'start') {
      const retryAt = startFailure?.retryAfterTimestamp ? Date.parse(startFailure.retryAfterTimestamp) : undefined;
      if (foreign) {
        // The name is taken (e.g. the previous VMI is still being deleted); its deletion brings us back.
      } else if (retryAt !== undefined && retryAt > now && restarts(strategy)) {
        requeueAfterMs = min(requeueAfterMs, retryAt - now);
      } else {
        await this.#createVmi(vm, requests[0]?.action === 'Start' ? requests[0].data : undefined);
      }
    }
    if (!restarts(strategy) && startFailure) startFailure = undefined;
    const current = ctx.informers.vmi.getByKey(key);
    const owned = current && isControlledBy(current, vm) ? current : undefined;
    const drop = settledRequests({ ...vm, status: { ...vm.status, stateChangeRequests: requests } }, owned);
    if (drop > 0) requests = requests.slice(drop);
    await this.#writeStatus(vm, owned, now, { requests, startFailure, foreign });
    // The decision above was made with the settled requests still queued; the rest (a restart's Start after
    // its Stop) is acted on by a fresh pass. This controller's own status write does not bring one.
    if (drop > 0 && requests.length > 0) this.queue.add(key);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  /**
   * Whether `status` is the one this controller last wrote for the VM, or the one a write of it in flight
   * is storing: the store hands the watch its event before the writer's call returns, so the informer can
   * see the write before the writer has noted it.
   */
  #isOwnStatus(key: string, status: VirtualMachineStatus | undefined): boolean {
    if (status === undefined) return false;
    if (status === this.#written.get(key)) return true;
    const writing = this.#writing.get(key);
    return writing !== undefined && jsonEqual(status, writing);
  }

  /** CrashLoopBackOff bookkeeping (KubeVirt's syncStartFailureStatus, with a stable-run reset). */
  #startFailure(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, now: number) {
    const cfg = this.#ctx.config.crashLoopBackoff;
    const sf = vm.status?.startFailure;
    if (!vmi) return sf;
    const since = runningSince(vmi);
    const phase = vmi.status?.phase;
    if (phase === 'Running' && since !== undefined && now - since >= cfg.resetAfterMs) return undefined;
    if (phase !== 'Failed' || sf?.lastFailedVMIUID === vmi.metadata.uid) return sf;
    // A lost node is not the guest's fault; a failure after a stable run starts a fresh count.
    if (vmi.status?.reason === 'NodeUnresponsive') return sf;
    const failedAt = transitionTime(vmi, 'Failed') ?? now;
    if (since !== undefined && failedAt - since >= cfg.resetAfterMs) return undefined;
    const count = (sf?.consecutiveFailCount ?? 0) + 1;
    const retryAt = now + backoffDelay(cfg, count);
    return {
      consecutiveFailCount: count,
      retryAfterTimestamp: isoTime(Math.ceil(retryAt / 1000) * 1000),
      lastFailedVMIUID: vmi.metadata.uid ?? '',
    };
  }

  async #createVmi(
    vm: VirtualMachine,
    data: Record<string, string> | undefined,
  ): Promise<VirtualMachineInstance | undefined> {
    const ctx = this.#ctx;
    const key = keyOf(vm);
    const t = vm.spec.template;
    const annotations = { ...(t.metadata?.annotations ?? {}) };
    if (data?.paused === 'true') annotations[ANNOTATION_PAUSE] = 'true';
    annotations[ANNOTATION_VM_GENERATION] = String(vm.metadata.generation ?? 1);
    const vmi: VirtualMachineInstance = {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: 'VirtualMachineInstance',
      metadata: {
        name: vm.metadata.name ?? '',
        namespace: vm.metadata.namespace ?? 'default',
        ...(t.metadata?.labels ? { labels: { ...t.metadata.labels } } : {}),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        ownerReferences: [controllerRef(vm)],
        finalizers: [VMI_FINALIZER],
      },
      // The template as it is: the store writes a validated copy and never changes what it is given.
      spec: t.spec,
    };
    try {
      const created = await ctx.store.create('VirtualMachineInstance', vmi, { shared: true });
      ctx.informers.vmi.observe(created);
      this.#createErrors.delete(key);
      void ctx.events.record(
        vm,
        'Normal',
        'SuccessfulCreate',
        `Started the virtual machine by creating the new virtual machine instance ${created.metadata.name}`,
      );
      return created;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#createErrors.set(key, message);
      void ctx.events.record(vm, 'Warning', 'FailedCreate', `Error creating virtual machine instance: ${message}`);
      throw err;
    }
  }

  async #deleteVmi(vm: VirtualMachine, vmi: VirtualMachineInstance): Promise<void> {
    const ctx = this.#ctx;
    if (vmi.metadata.deletionTimestamp) return;
    const { namespace, name } = splitKey(keyOf(vmi));
    try {
      const grace = vmi.spec.terminationGracePeriodSeconds ?? ctx.config.lifecycle.defaultGracePeriodSeconds;
      const deleted = await ctx.store.delete('VirtualMachineInstance', namespace, name, {
        preconditions: { uid: vmi.metadata.uid ?? '' },
        gracePeriodSeconds: grace,
      });
      ctx.informers.vmi.observe(deleted);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    void ctx.events.record(
      vm,
      'Normal',
      'SuccessfulDelete',
      `Stopped the virtual machine by deleting the virtual machine instance ${vmi.metadata.uid}`,
    );
  }

  async #writeStatus(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance | undefined,
    now: number,
    extra: {
      requests?: VirtualMachineStatus['stateChangeRequests'];
      startFailure?: VirtualMachineStatus['startFailure'];
      foreign?: VirtualMachineInstance | undefined;
    } = {},
  ): Promise<void> {
    const ctx = this.#ctx;
    const key = keyOf(vm);
    const owned = vmi && isControlledBy(vmi, vm) ? vmi : undefined;
    const old = vm.status ?? {};
    const strategy = runStrategyOf(vm);
    const printable = printableStatusOf(vm, owned, extra.startFailure, now);
    let conditions: Condition[] | undefined = old.conditions;
    const set = (c: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>) => {
      conditions = setCondition(conditions, c, now);
    };
    const live = owned && !isFinal(owned) ? owned : undefined;
    const vmiReady = findCondition(live?.status?.conditions, COND_READY);
    set(
      vmiReady?.status === 'True'
        ? { type: COND_READY, status: 'True' }
        : {
            type: COND_READY,
            status: 'False',
            reason: live ? (vmiReady?.reason ?? 'GuestNotRunning') : 'VMINotExists',
            message: live ? (vmiReady?.message ?? 'the guest is not running yet') : 'VMI does not exist',
          },
    );
    const paused = findCondition(live?.status?.conditions, COND_PAUSED);
    if (paused?.status === 'True')
      set({
        type: COND_PAUSED,
        status: 'True',
        reason: paused.reason ?? 'PausedByUser',
        message: paused.message ?? '',
      });
    else conditions = without(conditions, COND_PAUSED);
    const lm = findCondition(live?.status?.conditions, COND_LIVE_MIGRATABLE);
    if (lm)
      set({
        type: COND_LIVE_MIGRATABLE,
        status: lm.status,
        ...(lm.reason ? { reason: lm.reason } : {}),
        ...(lm.message ? { message: lm.message } : {}),
      });
    // KubeVirt's RestartRequired: the template changed while a VMI made from an older one runs.
    const madeFrom = live?.metadata.annotations?.[ANNOTATION_VM_GENERATION];
    if (madeFrom !== undefined && madeFrom !== String(vm.metadata.generation ?? 1)) {
      set({
        type: COND_RESTART_REQUIRED,
        status: 'True',
        reason: 'RestartRequired',
        message: 'the VM spec changed while it runs; restart the VM to apply it',
      });
    } else conditions = without(conditions, COND_RESTART_REQUIRED);
    const createError = this.#createErrors.get(key);
    if (createError) set({ type: COND_FAILURE, status: 'True', reason: 'FailedCreate', message: createError });
    else if (extra.foreign) {
      set({
        type: COND_FAILURE,
        status: 'True',
        reason: 'VMIExists',
        message: `a VirtualMachineInstance named ${extra.foreign.metadata.name} exists that this VM does not control`,
      });
    } else conditions = without(conditions, COND_FAILURE);

    const status: VirtualMachineStatus = {
      ...old,
      created: owned !== undefined && !isFinal(owned),
      ready: vmiReady?.status === 'True',
      printableStatus: printable,
      conditions: conditions ?? [],
      observedGeneration: vm.metadata.generation ?? 1,
      desiredGeneration: vm.metadata.generation ?? 1,
      runStrategy: strategy,
    };
    const requests = 'requests' in extra ? extra.requests : old.stateChangeRequests;
    if (requests && requests.length > 0) status.stateChangeRequests = requests;
    else delete status.stateChangeRequests;
    const sf = 'startFailure' in extra ? extra.startFailure : old.startFailure;
    if (sf) status.startFailure = sf;
    else delete status.startFailure;
    if (jsonEqual(status, old)) return;
    this.#writing.set(key, status);
    let updated: VirtualMachine;
    try {
      updated = await ctx.store.updateStatus('VirtualMachine', { ...vm, status }, { shared: true });
    } finally {
      this.#writing.delete(key);
    }
    this.#written.set(key, updated.status);
    ctx.informers.vm.observe(updated);
  }
}

/** KubeVirt's printableStatus of a VM from the VM and its VMI. */
export function printableStatusOf(
  vm: VirtualMachine,
  vmi: VirtualMachineInstance | undefined,
  startFailure: VirtualMachineStatus['startFailure'],
  now: number,
): PrintableStatus {
  if (vm.metadata.deletionTimestamp) return 'Terminating';
  if (vmi?.metadata.deletionTimestamp) return 'Stopping';
  const strategy = runStrategyOf(vm);
  const shown = virtkitOf(vmi)?.printableStatus;
  if (!vmi || isFinal(vmi)) {
    const retryAt = startFailure?.retryAfterTimestamp ? Date.parse(startFailure.retryAfterTimestamp) : undefined;
    if (startFailure && restarts(strategy) && (retryAt === undefined || retryAt > now || isFinal(vmi))) {
      return shown === 'ErrImagePull' ? 'ImagePullBackOff' : 'CrashLoopBackOff';
    }
    if (vmi && shown === 'ErrImagePull') return 'ErrImagePull';
    return 'Stopped';
  }
  return shown ?? 'Starting';
}

function transitionTime(vmi: VirtualMachineInstance, phase: string): number | undefined {
  const t = vmi.status?.phaseTransitionTimestamps?.filter((p) => p.phase === phase).at(-1);
  return t ? Date.parse(t.phaseTransitionTimestamp) : undefined;
}

function runningSince(vmi: VirtualMachineInstance): number | undefined {
  return transitionTime(vmi, 'Running');
}

/** The conditions without `type`: the list itself when it has none (it is rebuilt every reconcile). */
function without(conditions: Condition[] | undefined, type: string): Condition[] {
  if (!conditions) return [];
  return conditions.some((c) => c.type === type) ? conditions.filter((c) => c.type !== type) : conditions;
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
