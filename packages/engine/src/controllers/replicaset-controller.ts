/**
 * VirtualMachineInstanceReplicaSet: keeps `spec.replicas` live VMIs matching the selector, owned by the
 * replica set. Finished VMIs (Succeeded/Failed) are deleted and replaced; scaling down removes the newest
 * first; `spec.paused` stops all changes but status. Orphan VMIs matching the selector are adopted.
 */
import { NotFoundError } from '../errors.ts';
import {
  KUBEVIRT_API_VERSION,
  type VirtualMachineInstance,
  type VirtualMachineInstanceReplicaSet,
  type VirtualMachineInstanceReplicaSetStatus,
} from '../resources/kubevirt.ts';
import type { Condition } from '../resources/meta.ts';
import { jsonEqual } from '../store/json.ts';
import { labelSelectorFromObject } from '../store/selectors.ts';
import { conditionIs, removeCondition, setCondition } from './conditions.ts';
import { COND_READY, VMI_FINALIZER } from './constants.ts';
import { type ControllerContext, IDX_VMI_BY_OWNER, IDX_VMI_ORPHANS } from './context.ts';
import { keyOf } from './informer.ts';
import { controllerOf, controllerRef } from './owners.ts';
import { WorkQueue } from './work-queue.ts';

/** Clock time over which changes of a replica set's VMIs are gathered into one reconcile. */
const COALESCE_MS = 100;

const isFinal = (v: VirtualMachineInstance) => v.status?.phase === 'Succeeded' || v.status?.phase === 'Failed';

/** Newest first: creation time, then name (both descending), so scale-down is deterministic. */
function newestFirst(a: VirtualMachineInstance, b: VirtualMachineInstance): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? 1 : na > nb ? -1 : 0;
}

export class ReplicaSetController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;
  #createErrors = new Map<string, string>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.queue = new WorkQueue(ctx.clock, (key) => this.#reconcile(key), {
      name: 'replicaset',
      concurrency: ctx.config.concurrency,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: ctx.config.retry.maxMs,
      onError: (key, err) => ctx.report(err, `replicaset ${key}`),
    });
    ctx.informers.replicaSet.on({
      add: (o) => this.queue.add(keyOf(o)),
      update: (_o, n) => this.queue.add(keyOf(n)),
      delete: (o) => this.queue.add(keyOf(o)),
    });
    const owner = (vmi: VirtualMachineInstance) => {
      const ref = controllerOf(vmi);
      if (ref?.kind === 'VirtualMachineInstanceReplicaSet') {
        // A replica set hears about each of its VMIs' changes: a short delay gathers a burst into one pass.
        this.queue.addAfter(`${vmi.metadata.namespace}/${ref.name}`, COALESCE_MS);
        return;
      }
      if (ref) return;
      // An orphan may be adopted by a replica set whose selector matches it.
      for (const rs of ctx.informers.replicaSet.list()) {
        if (rs.metadata.namespace !== vmi.metadata.namespace) continue;
        if (labelSelectorFromObject(rs.spec.selector).matches(vmi.metadata.labels)) this.queue.add(keyOf(rs));
      }
    };
    ctx.informers.vmi.on({
      add: owner,
      update: (o, n) => {
        // Only changes that matter to the count or readiness.
        if (
          o.status?.phase !== n.status?.phase ||
          o.metadata.deletionTimestamp !== n.metadata.deletionTimestamp ||
          conditionIs(o.status?.conditions, COND_READY, 'True') !==
            conditionIs(n.status?.conditions, COND_READY, 'True')
        ) {
          owner(n);
        }
      },
      delete: owner,
    });
  }

  start(): void {
    for (const key of this.#ctx.informers.replicaSet.keys()) this.queue.add(key);
    this.queue.start();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
  }

  async #reconcile(key: string): Promise<undefined> {
    const ctx = this.#ctx;
    const rs = ctx.informers.replicaSet.getByKey(key);
    if (!rs) {
      this.#createErrors.delete(key);
      return undefined;
    }
    if (rs.metadata.deletionTimestamp) return undefined; // owned VMIs go with it (garbage collection)
    const selector = labelSelectorFromObject(rs.spec.selector);
    const owned = ctx.informers.vmi.byIndex(IDX_VMI_BY_OWNER, rs.metadata.uid ?? '');
    if (!rs.spec.paused) {
      for (const vmi of ctx.informers.vmi.byIndex(IDX_VMI_ORPHANS, rs.metadata.namespace ?? '')) {
        if (vmi.metadata.deletionTimestamp) continue;
        if (!selector.matches(vmi.metadata.labels)) continue;
        const adopted = await ctx.store.update('VirtualMachineInstance', {
          ...vmi,
          metadata: { ...vmi.metadata, ownerReferences: [...(vmi.metadata.ownerReferences ?? []), controllerRef(rs)] },
        });
        ctx.informers.vmi.observe(adopted);
        owned.push(adopted);
      }
    }
    const alive = owned.filter((v) => !v.metadata.deletionTimestamp);
    if (!rs.spec.paused) {
      // Finished VMIs are replaced: delete them, and count only the live ones.
      for (const v of alive.filter(isFinal)) await this.#delete(v);
      const active = alive.filter((v) => !isFinal(v));
      const want = rs.spec.replicas ?? 1;
      if (active.length < want) await this.#create(rs, want - active.length);
      else if (active.length > want) {
        const victims = [...active].sort(newestFirst).slice(0, active.length - want);
        for (const v of victims) await this.#delete(v);
      }
    }
    await this.#writeStatus(rs);
    return undefined;
  }

  async #create(rs: VirtualMachineInstanceReplicaSet, n: number): Promise<void> {
    const ctx = this.#ctx;
    const key = keyOf(rs);
    const t = rs.spec.template;
    try {
      for (let i = 0; i < n; i++) {
        const vmi: VirtualMachineInstance = {
          apiVersion: KUBEVIRT_API_VERSION,
          kind: 'VirtualMachineInstance',
          metadata: {
            generateName: rs.metadata.name ?? 'vmirs',
            namespace: rs.metadata.namespace ?? 'default',
            ...(t.metadata?.labels ? { labels: { ...t.metadata.labels } } : {}),
            ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
            ownerReferences: [controllerRef(rs)],
            finalizers: [VMI_FINALIZER],
          },
          spec: structuredClone(t.spec),
        };
        const created = await ctx.store.create('VirtualMachineInstance', vmi, { shared: true });
        ctx.informers.vmi.observe(created);
        void ctx.events.record(
          rs,
          'Normal',
          'SuccessfulCreate',
          `Created virtual machine instance: ${created.metadata.name}`,
        );
      }
      this.#createErrors.delete(key);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#createErrors.set(key, message);
      void ctx.events.record(rs, 'Warning', 'FailedCreate', `Error creating VMI: ${message}`);
      throw err;
    }
  }

  async #delete(vmi: VirtualMachineInstance): Promise<void> {
    const ctx = this.#ctx;
    try {
      const deleted = await ctx.store.delete(
        'VirtualMachineInstance',
        vmi.metadata.namespace,
        vmi.metadata.name ?? '',
        {
          preconditions: { uid: vmi.metadata.uid ?? '' },
          gracePeriodSeconds: vmi.spec.terminationGracePeriodSeconds ?? ctx.config.lifecycle.defaultGracePeriodSeconds,
        },
      );
      if (deleted.metadata.deletionTimestamp) ctx.informers.vmi.observe(deleted);
      const rsName = controllerOf(vmi)?.name;
      const rs = rsName ? ctx.informers.replicaSet.get(vmi.metadata.namespace, rsName) : undefined;
      if (rs)
        void ctx.events.record(
          rs,
          'Normal',
          'SuccessfulDelete',
          `Deleted virtual machine instance: ${vmi.metadata.name}`,
        );
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async #writeStatus(rs: VirtualMachineInstanceReplicaSet): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const current = ctx.informers.replicaSet.getByKey(keyOf(rs)) ?? rs;
    const owned = ctx.informers.vmi
      .byIndex(IDX_VMI_BY_OWNER, rs.metadata.uid ?? '')
      .filter((v) => !v.metadata.deletionTimestamp && !isFinal(v));
    const old = current.status ?? {};
    let conditions: Condition[] | undefined = old.conditions;
    conditions = rs.spec.paused
      ? setCondition(
          conditions,
          { type: 'ReplicaPaused', status: 'True', reason: 'Paused', message: 'Controller got paused' },
          now,
        )
      : removeCondition(conditions, 'ReplicaPaused');
    const err = this.#createErrors.get(keyOf(rs));
    conditions = err
      ? setCondition(conditions, { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: err }, now)
      : removeCondition(conditions, 'ReplicaFailure');
    const status: VirtualMachineInstanceReplicaSetStatus = {
      ...old,
      replicas: owned.length,
      readyReplicas: owned.filter((v) => conditionIs(v.status?.conditions, COND_READY, 'True')).length,
      labelSelector: labelSelectorFromObject(rs.spec.selector).toString(),
      conditions,
    };
    if (jsonEqual(status, old)) return;
    const updated = await ctx.store.updateStatus(
      'VirtualMachineInstanceReplicaSet',
      { ...current, status },
      { shared: true },
    );
    ctx.informers.replicaSet.observe(updated);
  }
}
