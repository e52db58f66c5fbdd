/**
 * Drain: for a node carrying the drain annotation (set by `VmActions.drain`, with the node cordoned),
 * every VMI still on it is moved off per its evictionStrategy — LiveMigrate: a migration (if the VMI
 * cannot migrate it blocks the drain, as KubeVirt's PodDisruptionBudget does); LiveMigrateIfPossible: a
 * migration, else (not migratable, or a migration failed) a stop; None/External/unset: a stop. A stopped
 * VMI is marked evicted, so its VM restarts it elsewhere per runStrategy (RerunOnFailure included).
 * Level-triggered from the annotation, so a drain survives an engine restart.
 */
import { NotFoundError } from '../errors.ts';
import type { VirtualMachineInstance, VirtualMachineInstanceMigration } from '../resources/kubevirt.ts';
import { KUBEVIRT_API_VERSION } from '../resources/kubevirt.ts';
import { findCondition } from './conditions.ts';
import { ANNOTATION_DRAIN, ANNOTATION_EVICTED, COND_LIVE_MIGRATABLE } from './constants.ts';
import { type ControllerContext, IDX_MIGRATION_BY_VMI, IDX_VMI_BY_NODE } from './context.ts';
import { keyOf } from './informer.ts';
import { WorkQueue } from './work-queue.ts';

/** Live migrations tried per VMI before a LiveMigrate VMI is left to block the drain. */
const MAX_EVACUATION_ATTEMPTS = 5;

const isFinal = (v: VirtualMachineInstance) => v.status?.phase === 'Succeeded' || v.status?.phase === 'Failed';
const migrationDone = (m: VirtualMachineInstanceMigration) =>
  m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed';

export class DrainController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.queue = new WorkQueue(ctx.clock, (key) => this.#reconcile(key), {
      name: 'drain',
      concurrency: 2,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: ctx.config.retry.maxMs,
      onError: (key, err) => ctx.report(err, `drain ${key}`),
    });
    const draining = (name: string | undefined) =>
      name !== undefined &&
      ctx.informers.node.get(undefined, name)?.metadata.annotations?.[ANNOTATION_DRAIN] !== undefined;
    ctx.informers.node.on({
      add: (n) => draining(n.metadata.name) && this.queue.add(n.metadata.name ?? ''),
      update: (_o, n) => draining(n.metadata.name) && this.queue.add(n.metadata.name ?? ''),
    });
    ctx.informers.vmi.on({
      update: (o, n) => {
        for (const node of [o.status?.nodeName, n.status?.nodeName]) if (draining(node)) this.queue.add(node!);
      },
    });
    ctx.informers.migration.on({
      update: (_o, m) => {
        const vmi = ctx.informers.vmi.get(m.metadata.namespace, m.spec.vmiName);
        const node = m.status?.migrationState?.sourceNode ?? vmi?.status?.nodeName;
        if (draining(node)) this.queue.add(node!);
      },
    });
  }

  start(): void {
    for (const n of this.#ctx.informers.node.list()) {
      if (n.metadata.annotations?.[ANNOTATION_DRAIN] !== undefined) this.queue.add(n.metadata.name ?? '');
    }
    this.queue.start();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
  }

  async #reconcile(name: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const ctx = this.#ctx;
    const node = ctx.informers.node.get(undefined, name);
    if (!node || node.metadata.annotations?.[ANNOTATION_DRAIN] === undefined) return undefined;
    const vmis = ctx.informers.vmi
      .byIndex(IDX_VMI_BY_NODE, name)
      .filter((v) => !isFinal(v) && !v.metadata.deletionTimestamp);
    for (const vmi of vmis) {
      const key = keyOf(vmi);
      const migrations = ctx.informers.migration.byIndex(IDX_MIGRATION_BY_VMI, key);
      if (migrations.some((m) => !migrationDone(m) && !m.metadata.deletionTimestamp)) continue;
      const strategy = vmi.spec.evictionStrategy ?? 'None';
      const migratable = findCondition(vmi.status?.conditions, COND_LIVE_MIGRATABLE)?.status !== 'False';
      const runningHere = (vmi.status?.virtkit as { state?: string } | undefined)?.state === 'running.ready';
      const failedFromHere = migrations.filter(
        (m) => m.status?.phase === 'Failed' && m.status.migrationState?.sourceNode === name,
      ).length;
      if (strategy === 'LiveMigrate' || strategy === 'LiveMigrateIfPossible') {
        const fallBack = strategy === 'LiveMigrateIfPossible' && (!migratable || failedFromHere > 0);
        if (!fallBack) {
          if (!migratable) continue; // blocks the drain until someone stops it
          if (!runningHere) continue; // e.g. still starting or paused; looked at again when it changes
          if (failedFromHere >= MAX_EVACUATION_ATTEMPTS) continue; // gave up: blocks the drain
          await this.#migrate(vmi);
          continue;
        }
      }
      await this.#evict(vmi, name);
    }
    return vmis.length > 0 ? { requeueAfterMs: 5_000 } : undefined;
  }

  async #migrate(vmi: VirtualMachineInstance): Promise<void> {
    const ctx = this.#ctx;
    const created = await ctx.store.create('VirtualMachineInstanceMigration', {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: 'VirtualMachineInstanceMigration',
      metadata: {
        generateName: `${vmi.metadata.name}-evacuation-`,
        namespace: vmi.metadata.namespace ?? 'default',
        labels: { 'kubevirt.io/vmi-name': vmi.metadata.name ?? '' },
        annotations: { 'kubevirt.io/evacuationMigration': vmi.status?.nodeName ?? '' },
      },
      spec: { vmiName: vmi.metadata.name ?? '' },
    });
    ctx.informers.migration.observe(created);
  }

  async #evict(vmi: VirtualMachineInstance, node: string): Promise<void> {
    const ctx = this.#ctx;
    try {
      const marked = await ctx.store.update('VirtualMachineInstance', {
        ...vmi,
        metadata: { ...vmi.metadata, annotations: { ...(vmi.metadata.annotations ?? {}), [ANNOTATION_EVICTED]: node } },
      });
      ctx.informers.vmi.observe(marked);
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
      void ctx.events.record(marked, 'Normal', 'Evicted', `Evicted from node ${node} (drain)`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
}
