/**
 * The migration controller carries out VirtualMachineInstanceMigrations with KubeVirt's phases:
 * Pending (queued behind parallelMigrationsPerCluster / parallelOutboundMigrationsPerNode, admitted in
 * creation order) → Scheduling (a target from the scheduler, never the source, honouring
 * addedNodeSelector) → Scheduled; from there the VMI's lifecycle machine runs the migration and this
 * controller mirrors its progress (PreparingTarget → TargetReady → Running → Succeeded/Failed).
 * Deleting a migration in flight cancels it; a finalizer holds the object until the VMI confirmed.
 */
import { isoTime } from '../ports/clock.ts';
import type {
  MigrationPhase,
  VirtualMachineInstance,
  VirtualMachineInstanceMigration,
  VirtualMachineInstanceMigrationStatus,
} from '../resources/kubevirt.ts';
import type { Condition } from '../resources/meta.ts';
import { vmiSpecResources } from '../resources/vmi-resources.ts';
import { jsonEqual } from '../store/json.ts';
import { findCondition, setCondition } from './conditions.ts';
import { COND_LIVE_MIGRATABLE } from './constants.ts';
import { type ControllerContext, IDX_MIGRATION_BY_VMI } from './context.ts';
import { keyOf } from './informer.ts';
import { isFinalPhase, virtkitOf } from './vmi-status.ts';
import { WorkQueue } from './work-queue.ts';

export const MIGRATION_FINALIZER = 'kubevirt.io/migrationJobFinalize';
/** KubeVirt's default: a migration whose target cannot be scheduled fails after 5 minutes. */
export const UNSCHEDULABLE_PENDING_TIMEOUT_MS = 5 * 60_000;
const ADMIT = '\u0000admit';

const ACTIVE: ReadonlySet<MigrationPhase | undefined> = new Set([
  'Scheduling',
  'Scheduled',
  'PreparingTarget',
  'TargetReady',
  'Running',
]);
const ORDER: readonly MigrationPhase[] = [
  'Pending',
  'Scheduling',
  'Scheduled',
  'PreparingTarget',
  'TargetReady',
  'Running',
  'Succeeded',
  'Failed',
];

export function migrationTargetReservation(migKey: string): string {
  return `vmim:${migKey}`;
}

const isFinalMigration = (m: VirtualMachineInstanceMigration) =>
  m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed';

export class MigrationController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;
  #waitingForCapacity = new Set<string>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.queue = new WorkQueue(ctx.clock, (key) => (key === ADMIT ? this.#admit() : this.#reconcile(key)), {
      name: 'migration',
      concurrency: ctx.config.concurrency,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: ctx.config.retry.maxMs,
      onError: (key, err) => ctx.report(err, `migration ${key}`),
    });
    ctx.informers.migration.on({
      add: (m) => this.#enqueue(m),
      update: (o, m) => {
        this.#enqueue(m);
        // A finished or removed migration frees a slot for the queued ones.
        if (ACTIVE.has(o.status?.phase) && !ACTIVE.has(m.status?.phase)) this.queue.add(ADMIT);
      },
      delete: (m) => {
        this.queue.add(keyOf(m));
        this.queue.add(ADMIT);
      },
    });
    ctx.informers.vmi.on({
      update: (_o, vmi) => {
        for (const m of ctx.informers.migration.byIndex(IDX_MIGRATION_BY_VMI, keyOf(vmi))) this.queue.add(keyOf(m));
      },
      delete: (vmi) => {
        for (const m of ctx.informers.migration.byIndex(IDX_MIGRATION_BY_VMI, keyOf(vmi))) this.queue.add(keyOf(m));
      },
    });
    ctx.scheduler.onCapacity(() => {
      if (this.#waitingForCapacity.size === 0) return;
      const keys = [...this.#waitingForCapacity];
      this.#waitingForCapacity.clear();
      for (const k of keys) this.queue.add(k);
    });
  }

  #enqueue(m: VirtualMachineInstanceMigration): void {
    const phase = m.status?.phase ?? 'Pending';
    if (phase === 'Pending' && !m.metadata.deletionTimestamp) this.queue.add(ADMIT);
    this.queue.add(keyOf(m));
  }

  start(): void {
    for (const key of this.#ctx.informers.migration.keys()) this.queue.add(key);
    this.queue.add(ADMIT);
    this.queue.start();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
  }

  /** Moves queued migrations to Scheduling, oldest first, while the limits allow. */
  async #admit(): Promise<undefined> {
    const ctx = this.#ctx;
    const limits = ctx.config.migrations;
    const all = ctx.informers.migration.list();
    let active = 0;
    const outbound = new Map<string, number>();
    const sourceOf = (m: VirtualMachineInstanceMigration) =>
      m.status?.migrationState?.sourceNode ??
      ctx.informers.vmi.get(m.metadata.namespace, m.spec.vmiName)?.status?.nodeName ??
      '';
    for (const m of all) {
      if (!ACTIVE.has(m.status?.phase)) continue;
      active++;
      const src = sourceOf(m);
      outbound.set(src, (outbound.get(src) ?? 0) + 1);
    }
    const pending = all
      .filter((m) => (m.status?.phase ?? 'Pending') === 'Pending' && !m.metadata.deletionTimestamp)
      .sort(
        (a, b) =>
          (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
          (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
      );
    for (const m of pending) {
      if (active >= limits.parallelMigrationsPerCluster) break;
      const vmi = ctx.informers.vmi.get(m.metadata.namespace, m.spec.vmiName);
      if (!vmi || !this.#readyToMigrate(vmi)) {
        this.queue.add(keyOf(m)); // the per-object reconcile fails it or waits
        continue;
      }
      const src = vmi.status?.nodeName ?? '';
      if ((outbound.get(src) ?? 0) >= limits.parallelOutboundMigrationsPerNode) continue;
      await this.#setStatus(m, {
        phase: 'Scheduling',
        migrationState: { sourceNode: src, migrationUid: m.metadata.name ?? '' },
      });
      active++;
      outbound.set(src, (outbound.get(src) ?? 0) + 1);
    }
    return undefined;
  }

  #readyToMigrate(vmi: VirtualMachineInstance): boolean {
    return virtkitOf(vmi)?.state === 'running.ready' && !vmi.metadata.deletionTimestamp;
  }

  async #reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const ctx = this.#ctx;
    const mig = ctx.informers.migration.getByKey(key);
    if (!mig) {
      ctx.scheduler.release(migrationTargetReservation(key));
      this.#waitingForCapacity.delete(key);
      return undefined;
    }
    const now = ctx.clock.now();
    const vmi = ctx.informers.vmi.get(mig.metadata.namespace, mig.spec.vmiName);
    const phase = mig.status?.phase ?? 'Pending';
    const vk = virtkitOf(vmi);
    const machine = vk?.migration?.name === mig.metadata.name ? vk?.migration : undefined;

    if (isFinalMigration(mig)) {
      ctx.scheduler.release(migrationTargetReservation(key));
      this.#waitingForCapacity.delete(key);
      if (mig.metadata.deletionTimestamp) await this.#dropFinalizer(mig);
      return undefined;
    }
    if (mig.metadata.deletionTimestamp) {
      // Cancelled: the VMI controller aborts a running migration; wait for the machine to confirm.
      if (machine && machine.phase !== 'Succeeded' && machine.phase !== 'Failed' && vmi && !isFinalPhase(vmi)) {
        return undefined;
      }
      if (machine?.phase === 'Succeeded') await this.#finish(mig, vmi, 'Succeeded');
      else await this.#fail(mig, 'MigrationAborted', 'the migration was cancelled');
      return undefined;
    }
    if (!(mig.metadata.finalizers ?? []).includes(MIGRATION_FINALIZER)) {
      const updated = await ctx.store.update('VirtualMachineInstanceMigration', {
        ...mig,
        metadata: { ...mig.metadata, finalizers: [...(mig.metadata.finalizers ?? []), MIGRATION_FINALIZER] },
      });
      ctx.informers.migration.observe(updated);
      return undefined;
    }
    if (!vmi || vmi.metadata.deletionTimestamp || isFinalPhase(vmi)) {
      await this.#fail(mig, 'VMINotRunning', `VirtualMachineInstance ${mig.spec.vmiName} is not running`);
      return undefined;
    }
    const rejected = vk?.migrationRejected;
    if (rejected && rejected.name === mig.metadata.name) {
      await this.#fail(mig, 'MigrationRejected', rejected.message);
      return undefined;
    }
    if (machine) {
      // The machine runs it now; its own reservation replaces ours.
      ctx.scheduler.release(migrationTargetReservation(key));
      const mirrored = machine.phase;
      if (mirrored === 'Succeeded') await this.#finish(mig, vmi, 'Succeeded');
      else if (mirrored === 'Failed')
        await this.#fail(
          mig,
          machine.reason ?? 'MigrationFailed',
          `the migration failed: ${machine.reason ?? 'unknown reason'}`,
          vmi,
        );
      else {
        const ms = this.#stateFrom(mig, vmi);
        await this.#setStatus(mig, { phase: mirrored, ...(ms ? { migrationState: ms } : {}) });
      }
      return undefined;
    }
    const lm = findCondition(vmi.status?.conditions, COND_LIVE_MIGRATABLE);
    if (lm?.status === 'False') {
      await this.#fail(mig, 'NotLiveMigratable', `VMI is not live-migratable: ${lm.message ?? lm.reason ?? ''}`);
      return undefined;
    }
    switch (phase) {
      case 'Pending':
        if (!this.#readyToMigrate(vmi)) return { requeueAfterMs: 1000 };
        this.queue.add(ADMIT);
        return undefined;
      case 'Scheduling':
        return this.#scheduleTarget(key, mig, vmi, now);
      default:
        // Scheduled: the VMI controller starts the migration on its next pass.
        return undefined;
    }
  }

  async #scheduleTarget(
    key: string,
    mig: VirtualMachineInstanceMigration,
    vmi: VirtualMachineInstance,
    now: number,
  ): Promise<{ requeueAfterMs?: number } | undefined> {
    const ctx = this.#ctx;
    const source = vmi.status?.nodeName ?? '';
    let req: { cpuMillis: number; memoryBytes: number };
    try {
      req = vmiSpecResources(vmi.spec);
    } catch (err) {
      await this.#fail(mig, 'InvalidResources', (err as Error).message);
      return undefined;
    }
    const r = ctx.scheduler.schedule({
      ...req,
      nodeSelector: { ...(vmi.spec.nodeSelector ?? {}), ...(mig.spec.addedNodeSelector ?? {}) },
      affinity: vmi.spec.affinity,
      tolerations: vmi.spec.tolerations,
      excludeNodes: [source],
    });
    if (r.ok) {
      this.#waitingForCapacity.delete(key);
      ctx.scheduler.assign(migrationTargetReservation(key), r.node, req.cpuMillis, req.memoryBytes);
      await this.#setStatus(
        mig,
        {
          phase: 'Scheduled',
          migrationState: { sourceNode: source, targetNode: r.node, migrationUid: mig.metadata.name ?? '' },
        },
        { type: 'PodScheduled', status: 'True' },
      );
      void ctx.events.record(
        vmi,
        'Normal',
        'PreparingTarget',
        `Migration ${mig.metadata.name}: target node ${r.node} chosen`,
      );
      return undefined;
    }
    this.#waitingForCapacity.add(key);
    const since = transitionTime(mig, 'Scheduling') ?? now;
    if (now - since >= UNSCHEDULABLE_PENDING_TIMEOUT_MS) {
      await this.#fail(mig, 'Unschedulable', `no target node for the migration: ${r.message}`);
      return undefined;
    }
    await this.#setStatus(
      mig,
      { phase: 'Scheduling' },
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: r.message,
      },
    );
    return { requeueAfterMs: since + UNSCHEDULABLE_PENDING_TIMEOUT_MS - now };
  }

  #stateFrom(mig: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined) {
    const ms = vmi?.status?.migrationState;
    if (ms && ms.migrationUid === mig.metadata.name) return ms;
    return mig.status?.migrationState;
  }

  async #finish(mig: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined, phase: 'Succeeded') {
    const ms = this.#stateFrom(mig, vmi);
    await this.#setStatus(mig, { phase, ...(ms ? { migrationState: ms } : {}) });
    if (mig.metadata.deletionTimestamp) await this.#dropFinalizer(mig);
  }

  async #fail(mig: VirtualMachineInstanceMigration, reason: string, message: string, vmi?: VirtualMachineInstance) {
    const ms = this.#stateFrom(mig, vmi);
    const migrationState = {
      ...(ms ?? {}),
      failed: true,
      ...(ms?.endTimestamp ? {} : { endTimestamp: isoTime(this.#ctx.clock.now()) }),
    };
    const updated = await this.#setStatus(
      mig,
      { phase: 'Failed', migrationState },
      {
        type: 'Failure',
        status: 'True',
        reason,
        message,
      },
    );
    void this.#ctx.events.record(updated ?? mig, 'Warning', 'FailedMigration', message);
    this.#ctx.scheduler.release(migrationTargetReservation(keyOf(mig)));
    if (mig.metadata.deletionTimestamp) await this.#dropFinalizer(updated ?? mig);
  }

  async #dropFinalizer(mig: VirtualMachineInstanceMigration): Promise<void> {
    const ctx = this.#ctx;
    const current = ctx.informers.migration.getByKey(keyOf(mig)) ?? mig;
    const finalizers = (current.metadata.finalizers ?? []).filter((f) => f !== MIGRATION_FINALIZER);
    if (finalizers.length === (current.metadata.finalizers ?? []).length) return;
    const updated = await ctx.store.update('VirtualMachineInstanceMigration', {
      ...current,
      metadata: { ...current.metadata, finalizers },
    });
    ctx.informers.migration.observe(updated);
  }

  async #setStatus(
    mig: VirtualMachineInstanceMigration,
    change: Pick<VirtualMachineInstanceMigrationStatus, 'phase' | 'migrationState'>,
    condition?: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>,
  ): Promise<VirtualMachineInstanceMigration | undefined> {
    const ctx = this.#ctx;
    const current = ctx.informers.migration.getByKey(keyOf(mig)) ?? mig;
    const old = current.status ?? {};
    const now = ctx.clock.now();
    const phase = change.phase ?? old.phase ?? 'Pending';
    const transitions = [...(old.phaseTransitionTimestamps ?? [])];
    const lastIdx = ORDER.indexOf(transitions.at(-1)?.phase ?? 'Pending');
    const nextIdx = ORDER.indexOf(phase);
    if (transitions.at(-1)?.phase !== phase) {
      // Phases the machine went through between two looks are recorded too, in KubeVirt's order.
      const skipped = phase === 'Failed' ? [] : ORDER.slice(Math.max(lastIdx + 1, 1), nextIdx);
      for (const p of [...skipped, phase]) transitions.push({ phase: p, phaseTransitionTimestamp: isoTime(now) });
    }
    const status: VirtualMachineInstanceMigrationStatus = {
      ...old,
      phase,
      phaseTransitionTimestamps: transitions,
      ...(change.migrationState ? { migrationState: change.migrationState } : {}),
      ...(condition ? { conditions: setCondition(old.conditions, condition, now) } : {}),
    };
    if (jsonEqual(status, old)) return current;
    const updated = await ctx.store.updateStatus('VirtualMachineInstanceMigration', { ...current, status });
    ctx.informers.migration.observe(updated);
    return updated;
  }
}

function transitionTime(m: VirtualMachineInstanceMigration, phase: MigrationPhase): number | undefined {
  const t = m.status?.phaseTransitionTimestamps?.filter((p) => p.phase === phase).at(-1);
  return t ? Date.parse(t.phaseTransitionTimestamp) : undefined;
}
