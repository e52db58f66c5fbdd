/**
 * The VMI controller drives every VirtualMachineInstance through the lifecycle machine: one actor per
 * VMI, its snapshot persisted in `status.virtkit.lifecycle` before any command it recorded is executed,
 * so an engine restart resumes each VMI where it was. Commands run against the node's driver one at a
 * time, at most once per process; after a restore, a command still pending is first checked against the
 * domain's actual state and only issued when it has not taken effect (no duplicate driver calls).
 *
 * Each VMI runs its machine with runStrategy `Once`: a VMI never restarts itself. Restarting (with
 * CrashLoopBackOff) is the VM controller's job and creates a new VMI, as in KubeVirt.
 */
import { createActor } from 'xstate';
import { DriverError } from '../errors.ts';
import { lifecycleMachine } from '../lifecycle/machine.ts';
import { persist, restore } from '../lifecycle/persistence.ts';
import { assertCanAccept } from '../lifecycle/requests.ts';
import type { LifecycleActor, LifecycleSnapshot } from '../lifecycle/snapshot.ts';
import { migrationState, nextDeadline, stateName, vmiPhase } from '../lifecycle/status.ts';
import type { Command, LifecycleContext, VMLifecycleEvent } from '../lifecycle/types.ts';
import { isoTime } from '../ports/clock.ts';
import type { DomainEvent, DomainInfo, NodeDriver } from '../ports/node-driver.ts';
import type { VirtualMachineInstance, VirtualMachineInstanceStatus, VMIPhase } from '../resources/kubevirt.ts';
import type { Condition } from '../resources/meta.ts';
import { parseBytes } from '../resources/quantity.ts';
import { vmiGuestMemoryBytes, vmiSpecResources } from '../resources/vmi-resources.ts';
import { jsonEqual } from '../store/json.ts';
import { CapacityWaitlist } from './capacity-waitlist.ts';
import { setCondition } from './conditions.ts';
import {
  ANNOTATION_PAUSE,
  ANNOTATION_SOFT_REBOOT,
  COND_DOMAIN_CLEANUP,
  COND_FAILURE,
  COND_LIVE_MIGRATABLE,
  COND_PAUSED,
  COND_POD_SCHEDULED,
  COND_READY,
  COND_SOFTWARE_EMULATION,
  VMI_FINALIZER,
} from './constants.ts';
import {
  type ControllerContext,
  IDX_MIGRATION_BY_VMI,
  IDX_VMI_BY_MIGRATION_TARGET,
  IDX_VMI_BY_NODE,
  IDX_VMI_BY_UID,
} from './context.ts';
import { stopReasonOf, toLifecycleEvent } from './domain-events.ts';
import { keyOf, splitKey } from './informer.ts';
import { nodeEmulated } from './node-objects.ts';
import { onlyStatusChanged } from './status-echo.ts';
import { withTimeout } from './timeout.ts';
import { snapshotFromStatus } from './vmi-snapshot.ts';
import {
  domainId,
  nodeIsLost,
  notMigratableReason,
  statusSummary,
  type VmiVirtkitStatus,
  virtkitOf,
} from './vmi-status.ts';
import { WorkQueue } from './work-queue.ts';

const GiB = 1024 ** 3;
/** Unschedulable VMIs skipped by a capacity change are re-evaluated at most this often while changes keep coming. */
const CAPACITY_REFRESH_MS = 1_000;

/**
 * Commands whose failure with NodeUnreachable is retried until the node is declared lost. A define or start
 * cut off by an agent or libvirtd restart is retried too (as virt-handler resumes a VMI after its own restart):
 * the retry finds what the first attempt did (same-uid define returns the domain, a start of a running domain
 * is probed and acknowledged).
 */
const RETRY_WHEN_UNREACHABLE = new Set([
  'define',
  'start',
  'shutdown',
  'destroy',
  'undefine',
  'pause',
  'resume',
  'reboot',
  'abortMigration',
]);

interface Runtime {
  uid: string;
  actor: LifecycleActor;
  /** Ids of commands issued in this process. */
  issued: Set<number>;
  /**
   * Non-migrate calls in flight in this process (command id → node), including ones the machine has since
   * dropped as superseded: the call itself still runs, and the next command for that node waits for it.
   */
  running: Map<number, string>;
  /** Commands with ids below this were recorded before this process restored the actor. */
  restoredBelow: number;
  /** Compare the machine with the node's actual domain once (after a restore). */
  resync: boolean;
  /** Reads of the node for that comparison that failed in a row (they are retried with backoff). */
  resyncFailures: number;
  /** Retries of commands that hit an unreachable node. */
  retries: Map<number, number>;
  /** Last status written, to skip no-op writes. */
  written: VirtualMachineInstanceStatus | undefined;
  /** The status a write in flight is storing (its watch event can arrive before the write returns). */
  writing?: VirtualMachineInstanceStatus | undefined;
  rebootHandled: string | undefined;
  migrationRejected: { name: string; message: string } | undefined;
  lastNode: string | undefined;
  persisted?: ReturnType<typeof persist>;
  persistedOf?: LifecycleSnapshot;
  /** What the status last computed (and found current) was computed from; the same again gives the same. */
  statusFrom?: unknown[];
  /** The VMI's resource requests, parsed once per spec. */
  resources?: { spec: unknown; req: { cpuMillis: number; memoryBytes: number } };
}

export class VmiController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;
  #runtimes = new Map<string, Runtime>();
  #inbox = new Map<string, { uid: string; event: VMLifecycleEvent }[]>();
  readonly #waitlist: CapacityWaitlist;
  /** VMIs released from a dead node without confirmation (shown as a condition until they are gone). */
  #cleanupSkipped = new Set<string>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.queue = new WorkQueue(ctx.clock, (key) => this.#reconcile(key).finally(() => this.#waitlist.tried(key)), {
      name: 'vmi',
      concurrency: ctx.config.concurrency,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: ctx.config.retry.maxMs,
      onError: (key, err) => ctx.report(err, `vmi ${key}`),
    });
    ctx.informers.vmi.on({
      add: (o) => this.queue.add(keyOf(o)),
      update: (o, n) => {
        const key = keyOf(n);
        // Our own status write coming back changes nothing we would act on.
        if (isOwnStatus(n.status, this.#runtimes.get(key)) && onlyStatusChanged(o, n)) return;
        this.queue.add(key);
      },
      delete: (o) => this.queue.add(keyOf(o)),
    });
    ctx.informers.migration.on({
      add: (m) => this.#enqueueVmiOf(m),
      update: (_o, m) => this.#enqueueVmiOf(m),
      delete: (m) => this.#enqueueVmiOf(m),
    });
    this.#waitlist = new CapacityWaitlist(ctx.clock, (key) => this.queue.add(key), CAPACITY_REFRESH_MS);
    ctx.scheduler.onCapacity(() => this.#waitlist.capacity());
  }

  #enqueueVmiOf(m: { metadata: { namespace?: string }; spec: { vmiName: string } }): void {
    this.queue.add(`${m.metadata.namespace}/${m.spec.vmiName}`);
  }

  start(): void {
    for (const key of this.#ctx.informers.vmi.keys()) this.queue.add(key);
    this.queue.start();
  }

  async stop(): Promise<void> {
    this.#waitlist.stop();
    await this.queue.stop();
    for (const rt of this.#runtimes.values()) rt.actor.stop();
    this.#runtimes.clear();
  }

  /** VMIs on a node whose readiness changed must re-evaluate (node lost, or commands can run again). */
  nodeReadinessChanged(node: string, ready: boolean): void {
    // From the indexes, not a scan: a thousand nodes turning Ready must not each walk every VMI.
    const inf = this.#ctx.informers.vmi;
    for (const vmi of [...inf.byIndex(IDX_VMI_BY_NODE, node), ...inf.byIndex(IDX_VMI_BY_MIGRATION_TARGET, node)]) {
      const key = keyOf(vmi);
      // Back from a partition: what happened to its domains meanwhile is read off the node.
      const rt = this.#runtimes.get(key);
      if (ready && rt) rt.resync = true;
      this.queue.add(key);
    }
  }

  driverEvent(ev: DomainEvent): void {
    const vmi = this.#ctx.informers.vmi.byIndex(IDX_VMI_BY_UID, ev.uid)[0];
    if (!vmi) return;
    const event = toLifecycleEvent(ev, this.#ctx.clock.now());
    if (!event) return;
    this.#push(keyOf(vmi), ev.uid, event);
  }

  /** Snapshot of a VMI's machine in this process (for admission checks), if it has one. */
  snapshotOf(key: string, uid: string | undefined): LifecycleSnapshot | undefined {
    const rt = this.#runtimes.get(key);
    return rt && rt.uid === uid ? rt.actor.getSnapshot() : undefined;
  }

  #push(key: string, uid: string, event: VMLifecycleEvent): void {
    let box = this.#inbox.get(key);
    if (!box) {
      box = [];
      this.#inbox.set(key, box);
    }
    box.push({ uid, event });
    this.queue.add(key);
  }

  #config() {
    const c = this.#ctx.config;
    return {
      ...c.lifecycle,
      migrationProgressTimeoutMs: c.migrations.progressTimeout * 1000,
      backoff: c.crashLoopBackoff,
    };
  }

  #runtime(key: string, vmi: VirtualMachineInstance): Runtime {
    const uid = vmi.metadata.uid ?? '';
    const existing = this.#runtimes.get(key);
    if (existing && existing.uid === uid) return existing;
    if (existing) this.#dispose(key, existing);
    const persisted = virtkitOf(vmi)?.lifecycle;
    let actor: LifecycleActor | undefined;
    let restored = false;
    if (persisted) {
      try {
        actor = restore(persisted);
        restored = true;
      } catch (err) {
        this.#ctx.report(err, `vmi ${key}: unreadable lifecycle snapshot, starting over`);
      }
    }
    if (!actor) {
      actor = createActor(lifecycleMachine, {
        input: { runStrategy: 'Once', config: this.#config(), now: this.#ctx.clock.now() },
      });
      actor.start();
    }
    const ctx = actor.getSnapshot().context;
    const rt: Runtime = {
      uid,
      actor,
      issued: new Set(),
      running: new Map(),
      restoredBelow: restored ? ctx.nextCommandId : 0,
      resync: restored,
      resyncFailures: 0,
      retries: new Map(),
      written: restored ? vmi.status : undefined,
      rebootHandled: virtkitOf(vmi)?.rebootHandled,
      migrationRejected: virtkitOf(vmi)?.migrationRejected,
      lastNode: vmi.status?.nodeName,
    };
    this.#runtimes.set(key, rt);
    return rt;
  }

  #dispose(key: string, rt: Runtime): void {
    rt.actor.stop();
    this.#runtimes.delete(key);
    this.#ctx.scheduler.release(key);
    this.#ctx.scheduler.release(migrationReservation(key));
    this.#waitlist.remove(key);
  }

  async #reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const ctx = this.#ctx;
    const vmi = ctx.informers.vmi.getByKey(key);
    if (!vmi) {
      const rt = this.#runtimes.get(key);
      if (rt) this.#dispose(key, rt);
      this.#inbox.delete(key);
      return undefined;
    }
    const meta = vmi.metadata;
    if (!meta.deletionTimestamp && !(meta.finalizers ?? []).includes(VMI_FINALIZER)) {
      const updated = await ctx.store.update(
        'VirtualMachineInstance',
        { ...vmi, metadata: { ...meta, finalizers: [...(meta.finalizers ?? []), VMI_FINALIZER] } },
        { shared: true },
      );
      ctx.informers.vmi.observe(updated);
      return undefined;
    }

    const rt = this.#runtime(key, vmi);
    const before = rt.actor.getSnapshot();
    const now = ctx.clock.now();

    // 1. What the nodes reported.
    const box = this.#inbox.get(key);
    this.#inbox.delete(key);
    let requeueAfterMs: number | undefined;
    if (rt.resync) {
      rt.resync = false;
      for (const ev of await this.#resync(rt, vmi)) this.#send(rt, ev);
      if (rt.resync) {
        // The node's answer did not come in time. It may be slow rather than lost, so nothing else may ever
        // bring this VMI back (no readiness change; its events happened while the engine was down): try again.
        const retry = ctx.config.retry;
        requeueAfterMs = Math.min(retry.baseMs * 2 ** Math.min(rt.resyncFailures++, 10), retry.maxMs);
      } else rt.resyncFailures = 0;
    }
    for (const { uid, event } of box ?? []) if (uid === rt.uid) this.#send(rt, event);

    // 2. What stored state asks for (level-triggered).
    const snap = () => rt.actor.getSnapshot();
    // A new VMI starts at once (its machine begins in `stopped` without an exit).
    if (snap().matches('stopped') && !snap().context.exit && !meta.deletionTimestamp) {
      this.#request(rt, { type: 'START', now });
      this.#request(rt, { type: 'PROVISIONED', now });
    }
    if (meta.deletionTimestamp && !snap().matches('deleting') && !snap().matches('deleted')) {
      this.#request(rt, { type: 'DELETE', gracePeriodSeconds: this.#graceOf(vmi), now });
    } else if (meta.deletionTimestamp && snap().matches({ deleting: 'graceful' }) && this.#graceOf(vmi) === 0) {
      // The grace period was cut to zero while shutting down (a forced stop): destroy now.
      this.#request(rt, { type: 'DELETE', gracePeriodSeconds: 0, now });
    }
    requeueAfterMs = min(requeueAfterMs, this.#checkNodes(key, vmi, rt, now));
    this.#userRequests(vmi, rt, now);
    this.#migrationRequests(key, vmi, rt, now);
    if (snap().matches({ creating: 'scheduling' })) this.#schedule(key, vmi, rt, now);
    else this.#waitlist.remove(key);
    const deadline = nextDeadline(snap());
    if (deadline !== undefined && deadline <= now) this.#send(rt, { type: 'TICK', now });

    // 3. Account, persist, then act.
    const after = snap();
    this.#account(key, vmi, rt, after);
    this.#recordEvents(vmi, before, after);
    if (after.status === 'done') {
      // A release without confirmation is said on the object itself before it goes.
      if (this.#cleanupSkipped.has(key)) await this.#writeStatus(key, vmi, rt, after);
      await this.#releaseFinalizer(ctx.informers.vmi.getByKey(key) ?? vmi);
      return undefined;
    }
    await this.#writeStatus(key, vmi, rt, after);
    this.#execute(key, vmi, rt);
    const next = nextDeadline(after);
    if (next !== undefined) requeueAfterMs = min(requeueAfterMs, Math.max(1, next - now));
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  /** Sends an event, ignoring requests the current state does not take (they are re-evaluated later). */
  #request(rt: Runtime, event: VMLifecycleEvent): boolean {
    const s = rt.actor.getSnapshot();
    if (s.status !== 'active' || !s.can(event)) return false;
    rt.actor.send(event);
    return true;
  }

  #send(rt: Runtime, event: VMLifecycleEvent): void {
    if (rt.actor.getSnapshot().status !== 'active') return;
    rt.actor.send(event);
  }

  #graceOf(vmi: VirtualMachineInstance): number {
    const given = vmi.metadata.deletionGracePeriodSeconds;
    const spec = vmi.spec.terminationGracePeriodSeconds;
    // The store records 0 when a delete names no grace period; the VMI's own setting then applies.
    if (given !== undefined && given > 0) return spec !== undefined ? Math.min(given, spec) : given;
    return spec ?? this.#ctx.config.lifecycle.defaultGracePeriodSeconds;
  }

  /** Node loss: fail (or, while deleting, give up on) the VMI's domains on nodes that are NotReady. */
  #checkNodes(key: string, vmi: VirtualMachineInstance, rt: Runtime, now: number): number | undefined {
    const ctx = this.#ctx;
    const c = rt.actor.getSnapshot().context;
    const nodes = new Set<string>();
    if (c.node) nodes.add(c.node);
    for (const n of c.domainNodes) nodes.add(n);
    if (c.migration && !c.migration.outcome) nodes.add(c.migration.targetNode);
    let requeue: number | undefined;
    for (const node of nodes) {
      if (!nodeIsLost(ctx.informers.node.get(undefined, node))) continue;
      const deleting = vmi.metadata.deletionTimestamp !== undefined;
      if (deleting && node === c.node) {
        // Give the node a chance to come back and clean up; then release with a clear condition.
        const since = Date.parse(vmi.metadata.deletionTimestamp!);
        const releaseAt = since + ctx.config.deadNodeDeleteTimeoutMs;
        if (now < releaseAt) {
          requeue = min(requeue, releaseAt - now);
          continue;
        }
        void ctx.events.record(
          vmi,
          'Warning',
          'DomainCleanupSkipped',
          `Node ${node} has been unreachable for ${Math.round((now - since) / 1000)}s; released the VMI without confirming its domain was destroyed (the node destroys it when it reconnects)`,
        );
        this.#cleanupSkipped.add(key);
      }
      this.#send(rt, { type: 'NODE_LOST', node, now });
    }
    return requeue;
  }

  #userRequests(vmi: VirtualMachineInstance, rt: Runtime, now: number): void {
    const ann = vmi.metadata.annotations ?? {};
    const s = rt.actor.getSnapshot();
    const wantPaused = ann[ANNOTATION_PAUSE] === 'true';
    if (wantPaused && s.matches({ running: 'ready' })) this.#request(rt, { type: 'PAUSE', now });
    if (!wantPaused && s.matches({ paused: 'suspended' })) this.#request(rt, { type: 'UNPAUSE', now });
    const reboot = ann[ANNOTATION_SOFT_REBOOT];
    if (reboot !== undefined && reboot !== rt.rebootHandled) {
      // Acted on once: when the state does not allow it any more the request lapses.
      rt.rebootHandled = reboot;
      this.#request(rt, { type: 'REBOOT', now });
    }
  }

  #migrationRequests(key: string, vmi: VirtualMachineInstance, rt: Runtime, now: number): void {
    const ctx = this.#ctx;
    const s = rt.actor.getSnapshot();
    const current = s.context.migration;
    const migrations = ctx.informers.migration.byIndex(IDX_MIGRATION_BY_VMI, key);
    if (current && !current.outcome && s.matches('migrating')) {
      const mig = migrations.find((m) => m.metadata.name === current.name);
      if (!mig || mig.metadata.deletionTimestamp) this.#request(rt, { type: 'CANCEL_MIGRATION', now });
      return;
    }
    for (const mig of migrations) {
      const target = mig.status?.migrationState?.targetNode;
      if (mig.status?.phase !== 'Scheduled' || !target || mig.metadata.deletionTimestamp) continue;
      if (current?.name === mig.metadata.name) continue;
      if (rt.migrationRejected?.name === mig.metadata.name) continue;
      const perGiB = ctx.config.migrations.completionTimeoutPerGiB;
      const gib = Math.max(1, vmiGuestMemoryBytes(vmi.spec) / GiB);
      const event: VMLifecycleEvent = {
        type: 'MIGRATE',
        targetNode: target,
        migrationName: mig.metadata.name ?? '',
        completionTimeoutMs: Math.round(perGiB * gib * 1000),
        now,
      };
      if (!this.#request(rt, event)) {
        rt.migrationRejected = {
          name: mig.metadata.name ?? '',
          message: `the VMI cannot migrate while it is ${stateName(s)}`,
        };
      }
      return;
    }
  }

  #schedule(key: string, vmi: VirtualMachineInstance, rt: Runtime, now: number): void {
    const ctx = this.#ctx;
    const s = rt.actor.getSnapshot();
    // An unschedulable VMI is retried only when capacity may have appeared.
    if (s.matches({ creating: { scheduling: 'unschedulable' } }) && !this.#waitlist.mayTry(key)) return;
    let req: { cpuMillis: number; memoryBytes: number };
    try {
      req = vmiSpecResources(vmi.spec);
    } catch (err) {
      this.#send(rt, { type: 'UNSCHEDULABLE', message: `invalid resource request: ${(err as Error).message}`, now });
      return;
    }
    const request = {
      ...req,
      nodeSelector: vmi.spec.nodeSelector,
      affinity: vmi.spec.affinity,
      tolerations: vmi.spec.tolerations,
    };
    const r = ctx.scheduler.schedule(request);
    if (r.ok) {
      ctx.scheduler.assign(key, r.node, req.cpuMillis, req.memoryBytes);
      this.#send(rt, { type: 'SCHEDULED', node: r.node, now });
      this.#waitlist.placed(key);
    } else {
      // Every failed attempt is recorded (repeats aggregate into one Event's count, as Kubernetes does).
      void ctx.events.record(vmi, 'Warning', 'FailedScheduling', r.message);
      this.#send(rt, { type: 'UNSCHEDULABLE', message: r.message, now });
      this.#waitlist.failed(key, JSON.stringify(request));
    }
  }

  /** Keeps the scheduler's accounting in step with where the VMI's domains are. */
  #account(key: string, vmi: VirtualMachineInstance, rt: Runtime, s: LifecycleSnapshot): void {
    const sched = this.#ctx.scheduler;
    const c = s.context;
    const phase = vmiPhase(s);
    const live = s.status === 'active' && c.node !== undefined && phase !== 'Succeeded' && phase !== 'Failed';
    const request = () => {
      if (rt.resources?.spec !== vmi.spec) rt.resources = { spec: vmi.spec, req: safeResources(vmi) };
      return rt.resources.req;
    };
    if (live) sched.assign(key, c.node!, request().cpuMillis, request().memoryBytes);
    else sched.release(key);
    const m = c.migration;
    if (live && m && !m.outcome)
      sched.assign(migrationReservation(key), m.targetNode, request().cpuMillis, request().memoryBytes);
    else if (m) sched.release(migrationReservation(key));
  }

  #recordEvents(vmi: VirtualMachineInstance, before: LifecycleSnapshot, after: LifecycleSnapshot): void {
    const ev = this.#ctx.events;
    const was = stateName(before);
    const is = stateName(after);
    if (was === is && before.context.migration?.outcome === after.context.migration?.outcome) return;
    const c = after.context;
    if (is.startsWith('creating.starting') && !was.startsWith('creating.starting') && c.node) {
      void ev.record(
        vmi,
        'Normal',
        'Scheduled',
        `Successfully assigned ${vmi.metadata.namespace}/${vmi.metadata.name} to ${c.node}`,
      );
    }
    if (is.startsWith('running') && was.startsWith('creating')) {
      void ev.record(vmi, 'Normal', 'Started', `VirtualMachineInstance started on node ${c.node}`);
    }
    if (is.startsWith('paused') && !was.startsWith('paused'))
      void ev.record(vmi, 'Normal', 'Paused', 'VirtualMachineInstance paused');
    if (was.startsWith('paused') && is.startsWith('running'))
      void ev.record(vmi, 'Normal', 'Resumed', 'VirtualMachineInstance unpaused');
    const m = c.migration;
    if (m?.outcome && before.context.migration?.outcome === undefined) {
      if (m.outcome === 'Succeeded') {
        void ev.record(
          vmi,
          'Normal',
          'Migrated',
          `VirtualMachineInstance migrated from ${m.sourceNode} to ${m.targetNode} (downtime ${m.downtimeMs ?? 0} ms)`,
        );
      } else {
        void ev.record(
          vmi,
          'Warning',
          'MigrationFailed',
          `Migration to ${m.targetNode} failed: ${m.failureReason ?? 'unknown'}; the VM keeps running on ${m.sourceNode}`,
        );
      }
    }
    if (is.startsWith('failed') && !was.startsWith('failed')) {
      const f = c.lastFailure;
      if (f?.reason === 'NodeLost') {
        void ev.record(vmi, 'Warning', 'NodeUnresponsive', `${f.message}; the VirtualMachineInstance failed`);
      } else {
        void ev.record(vmi, 'Warning', 'Failed', `${f?.reason ?? 'Failed'}: ${f?.message ?? ''}`);
      }
    }
    if (is === 'stopped' && was !== 'stopped' && c.exit) {
      void ev.record(
        vmi,
        'Normal',
        'Stopped',
        c.exit.reason === 'shutdown' ? 'The guest shut down' : 'The VirtualMachineInstance was stopped',
      );
    }
  }

  #status(key: string, vmi: VirtualMachineInstance, rt: Runtime, s: LifecycleSnapshot): VirtualMachineInstanceStatus {
    const ctx = this.#ctx;
    const c = s.context;
    const now = ctx.clock.now();
    const old = vmi.status ?? {};
    const phase: VMIPhase = vmiPhase(s) ?? 'Pending';
    if (c.node) rt.lastNode = c.node;
    const nodeName = c.node ?? rt.lastNode;
    const summary = statusSummary(s);
    let conditions: Condition[] | undefined = old.conditions;
    const set = (cond: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>) => {
      conditions = setCondition(conditions, cond, now);
    };
    const guestUp = s.matches('running') || s.matches('migrating');
    const paused = s.matches('paused');
    set(
      guestUp
        ? { type: COND_READY, status: 'True' }
        : {
            type: COND_READY,
            status: 'False',
            reason: paused ? 'Paused' : phase === 'Running' ? 'Stopping' : 'GuestNotRunning',
            message: paused ? 'the guest is paused' : `the guest is not running (${summary.state})`,
          },
    );
    set(
      paused
        ? { type: COND_PAUSED, status: 'True', reason: 'PausedByUser', message: 'VMI was paused by user' }
        : { type: COND_PAUSED, status: 'False' },
    );
    const nm = notMigratableReason(vmi);
    set(nm ? { type: COND_LIVE_MIGRATABLE, status: 'False', ...nm } : { type: COND_LIVE_MIGRATABLE, status: 'True' });
    if (c.unschedulableMessage) {
      set({ type: COND_POD_SCHEDULED, status: 'False', reason: 'Unschedulable', message: c.unschedulableMessage });
    } else if (nodeName) {
      set({ type: COND_POD_SCHEDULED, status: 'True' });
    }
    const emulation = nodeName ? nodeEmulated(ctx.informers.node.get(undefined, nodeName)) : undefined;
    if (emulation) set({ type: COND_SOFTWARE_EMULATION, status: 'True', reason: 'TCG', message: emulation });
    if (phase === 'Failed' && c.lastFailure) {
      set({ type: COND_FAILURE, status: 'True', reason: failureReason(c), message: c.lastFailure.message });
    }
    if (this.#cleanupSkipped.has(key)) {
      set({
        type: COND_DOMAIN_CLEANUP,
        status: 'True',
        reason: 'NodeUnreachable',
        message: `node ${nodeName} did not confirm the domain was destroyed before the timeout`,
      });
    }
    // Kept as it is while the phase stays (it then compares equal without a copy).
    const before = old.phaseTransitionTimestamps ?? [];
    const transitions =
      before.at(-1)?.phase === phase ? before : [...before, { phase, phaseTransitionTimestamp: isoTime(now) }];
    const virtkit: VmiVirtkitStatus = {
      state: summary.state,
      printableStatus: summary.printableStatus,
      lifecycle: this.#persisted(rt, s),
      ...(rt.rebootHandled !== undefined ? { rebootHandled: rt.rebootHandled } : {}),
      ...(summary.migration ? { migration: summary.migration } : {}),
      ...(rt.migrationRejected ? { migrationRejected: rt.migrationRejected } : {}),
      ...(c.unschedulableMessage ? { unschedulable: c.unschedulableMessage } : {}),
    };
    const ms = migrationState(s);
    const status: VirtualMachineInstanceStatus = {
      ...old,
      phase,
      conditions: conditions ?? [],
      phaseTransitionTimestamps: transitions,
      virtkit: virtkit as unknown as Record<string, unknown>,
    };
    if (nodeName) status.nodeName = nodeName;
    if (ms) status.migrationState = ms;
    if (ms) status.migrationMethod = 'LiveMigration';
    if (phase === 'Failed' && c.lastFailure) status.reason = failureReason(c);
    else delete status.reason;
    return status;
  }

  /** The persisted form of the snapshot, computed once per snapshot (snapshots are immutable). */
  #persisted(rt: Runtime, s: LifecycleSnapshot) {
    if (rt.persistedOf !== s || !rt.persisted) {
      rt.persisted = persist(s);
      rt.persistedOf = s;
    }
    return rt.persisted;
  }

  /** Everything `#status` reads besides the clock (which only stamps what changed). */
  #statusInputs(key: string, rt: Runtime, s: LifecycleSnapshot, current: VirtualMachineInstance): unknown[] {
    const nodeName = s.context.node ?? rt.lastNode;
    const node = nodeName ? this.#ctx.informers.node.get(undefined, nodeName) : undefined;
    const skipped = this.#cleanupSkipped.has(key);
    return [current.status, current.spec, s, node, rt.lastNode, rt.rebootHandled, rt.migrationRejected, skipped];
  }

  async #writeStatus(key: string, vmi: VirtualMachineInstance, rt: Runtime, s: LifecycleSnapshot): Promise<void> {
    // Most reconciles change nothing the status shows: the same inputs as last time give the same status.
    const from = rt.statusFrom;
    if (from && sameItems(from, this.#statusInputs(key, rt, s, vmi))) return;
    const status = this.#status(key, vmi, rt, s);
    // Timestamps of unchanged conditions are preserved, so an unchanged status compares equal.
    if (jsonEqual(status, vmi.status ?? {})) {
      rt.statusFrom = this.#statusInputs(key, rt, s, vmi);
      return;
    }
    const { namespace, name } = splitKey(key);
    rt.writing = status;
    let updated: VirtualMachineInstance;
    try {
      updated = await this.#ctx.store.patch(
        'VirtualMachineInstance',
        namespace,
        name,
        'json',
        [
          { op: 'test', path: '/metadata/uid', value: rt.uid },
          { op: 'add', path: '/status', value: status },
        ],
        // The store's own (frozen) object: it only goes into the informer.
        { subresource: 'status', shared: true },
      );
    } finally {
      rt.writing = undefined;
    }
    rt.written = updated.status;
    rt.statusFrom = this.#statusInputs(key, rt, s, updated);
    this.#ctx.informers.vmi.observe(updated);
  }

  async #releaseFinalizer(vmi: VirtualMachineInstance): Promise<void> {
    const finalizers = (vmi.metadata.finalizers ?? []).filter((f) => f !== VMI_FINALIZER);
    if (finalizers.length === (vmi.metadata.finalizers ?? []).length) return;
    const updated = await this.#ctx.store.update(
      'VirtualMachineInstance',
      { ...vmi, metadata: { ...vmi.metadata, finalizers } },
      { shared: true },
    );
    this.#ctx.informers.vmi.observe(updated);
  }

  // ---- executing commands ----

  #execute(key: string, vmi: VirtualMachineInstance, rt: Runtime): void {
    const pending = rt.actor.getSnapshot().context.pending;
    for (const cmd of pending) {
      if (rt.issued.has(cmd.id)) {
        if (cmd.type === 'migrate') continue;
        return; // one at a time: wait for the one in flight
      }
      // A superseded command is no longer pending but may still be running (a start the stop dropped): a
      // destroy sent beside it finds nothing to destroy, and the start then leaves a domain running.
      if (cmd.type !== 'migrate' && [...rt.running.values()].includes(cmd.node)) return;
      rt.issued.add(cmd.id);
      if (cmd.type !== 'migrate') rt.running.set(cmd.id, cmd.node);
      void this.#ctx.track(
        this.#run(key, vmi, rt, cmd).finally(() => {
          // Once it is out of the machine (dropped, or settled by a reconcile that had to wait for this call),
          // nothing else brings the next command on; a command still pending has its retry scheduled.
          const pending = rt.actor.getSnapshot().context.pending.some((c) => c.id === cmd.id);
          if (rt.running.delete(cmd.id) && !pending) this.queue.add(key);
        }),
      );
      if (cmd.type !== 'migrate') return;
    }
  }

  async #run(key: string, vmi: VirtualMachineInstance, rt: Runtime, cmd: Command): Promise<void> {
    const ctx = this.#ctx;
    const now = () => ctx.clock.now();
    const driver = ctx.drivers.get(cmd.node);
    const id = domainId(vmi);
    const report = (event: VMLifecycleEvent) => this.#push(key, rt.uid, event);
    try {
      if (!driver) throw new DriverError('NodeUnreachable', cmd.node, 'no driver is registered for this node');
      if (cmd.id < rt.restoredBelow) {
        const outcome = await this.#probe(driver, vmi, cmd);
        if (outcome) {
          for (const e of outcome) report(e);
          return;
        }
      }
      switch (cmd.type) {
        case 'define':
          await driver.defineDomain({
            id,
            uid: rt.uid,
            name: vmi.metadata.name ?? '',
            namespace: vmi.metadata.namespace ?? '',
            spec: vmi.spec,
            ...(vmi.metadata.annotations ? { annotations: vmi.metadata.annotations } : {}),
          });
          break;
        case 'start':
          await driver.startDomain(id);
          break;
        case 'shutdown':
          await driver.shutdownDomain(id);
          break;
        case 'destroy':
          await driver.destroyDomain(id);
          break;
        case 'pause':
          await driver.pauseDomain(id);
          break;
        case 'resume':
          await driver.resumeDomain(id);
          break;
        case 'reboot':
          await driver.rebootDomain(id);
          break;
        case 'undefine':
          await driver.undefineDomain(id);
          break;
        case 'abortMigration':
          await driver.abortMigration(id);
          break;
        case 'migrate': {
          const bw = ctx.config.migrations.bandwidthPerMigration;
          const res = await driver.migrateDomain(id, cmd.target, {
            completionTimeoutMs: cmd.completionTimeoutMs,
            progressTimeoutMs: ctx.config.migrations.progressTimeout * 1000,
            ...(bw ? { bandwidthBytesPerSec: bandwidthOf(bw) } : {}),
          });
          report({ type: 'ACK', commandId: cmd.id, now: now() });
          report({ type: 'MIGRATION_SUCCEEDED', node: res.targetNode, downtimeMs: res.downtimeMs, now: now() });
          return;
        }
      }
      rt.retries.delete(cmd.id);
      report({ type: 'ACK', commandId: cmd.id, now: now() });
    } catch (err) {
      const reason = err instanceof DriverError ? err.reason : 'Internal';
      const message = err instanceof Error ? err.message : String(err);
      if (reason === 'NodeUnreachable' && RETRY_WHEN_UNREACHABLE.has(cmd.type)) {
        // Keep it pending; the node comes back (and it runs) or is declared lost (and the machine drops it).
        const n = (rt.retries.get(cmd.id) ?? 0) + 1;
        rt.retries.set(cmd.id, n);
        rt.issued.delete(cmd.id);
        this.queue.addAfter(
          key,
          Math.min(ctx.config.retry.baseMs * 2 ** Math.min(n, 10), ctx.config.heartbeatIntervalMs),
        );
        return;
      }
      if (cmd.type === 'migrate' && (reason === 'MigrationFailed' || reason === 'MigrationAborted')) {
        report({ type: 'MIGRATION_FAILED', reason, message, now: now() });
        return;
      }
      if (reason === 'InvalidState' && driver) {
        // Maybe it already took effect (e.g. the outcome event is on its way); check before failing.
        const outcome = await this.#probe(driver, vmi, cmd).catch(() => undefined);
        if (outcome) {
          for (const e of outcome) report(e);
          return;
        }
      }
      report({ type: 'DRIVER_ERROR', commandId: cmd.id, reason, message, now: now() });
    }
  }

  /**
   * Whether a command recorded before a restore (or refused as InvalidState) has already taken effect, from
   * the domain's actual state. Returns the events that report it, or undefined when it must be issued.
   */
  async #probe(driver: NodeDriver, vmi: VirtualMachineInstance, cmd: Command): Promise<VMLifecycleEvent[] | undefined> {
    const now = this.#ctx.clock.now();
    const d = await this.#ctx.track(driver.getDomain(domainId(vmi)));
    const ack: VMLifecycleEvent = { type: 'ACK', commandId: cmd.id, now };
    const mine = d !== undefined && d.uid === vmi.metadata.uid;
    switch (cmd.type) {
      case 'define':
        return mine ? [ack] : undefined;
      case 'start':
        if (!mine || (d.state !== 'running' && d.state !== 'paused')) return undefined;
        return d.guestReady ? [ack, { type: 'GUEST_READY', now }] : [ack];
      case 'pause':
        return mine && d.state === 'paused' ? [ack] : undefined;
      case 'resume':
        return mine && d.state === 'running' ? [ack] : undefined;
      case 'shutdown':
      case 'destroy':
        if (!mine) return [ack, { type: 'STOPPED', reason: 'destroyed', node: cmd.node, now }];
        return d.state === 'shutoff'
          ? [ack, { type: 'STOPPED', reason: stopReasonOf(d), node: cmd.node, now }]
          : undefined;
      case 'undefine':
        return mine ? undefined : [ack];
      case 'reboot':
        // Cannot tell a finished reboot from one never issued; at most once is the safe side.
        return mine && d.guestReady ? [ack, { type: 'GUEST_READY', now }] : mine ? [ack] : undefined;
      case 'abortMigration':
        return mine && d.migration ? undefined : [ack];
      case 'migrate': {
        if (mine && d.migration) return [ack, { type: 'MIGRATION_PROGRESS', now }];
        const target = this.#ctx.drivers.get(cmd.target);
        const there = target
          ? await this.#ctx.track(target.getDomain(domainId(vmi))).catch(() => undefined)
          : undefined;
        if (there && there.uid === vmi.metadata.uid && there.state === 'running') {
          return [ack, { type: 'MIGRATION_SUCCEEDED', node: cmd.target, downtimeMs: 0, now }];
        }
        return undefined;
      }
    }
  }

  /**
   * After a restore: events the engine missed while it was down are read off the node's actual domain.
   * Skipped when the node cannot be reached (the node controller handles that).
   */
  async #resync(rt: Runtime, vmi: VirtualMachineInstance): Promise<VMLifecycleEvent[]> {
    const ctx = this.#ctx;
    const s = rt.actor.getSnapshot();
    const c: LifecycleContext = s.context;
    if (!c.node) return [];
    const driver = ctx.drivers.get(c.node);
    if (!driver) return [];
    const read = (drv: NodeDriver) =>
      ctx.track(withTimeout(ctx.clock, drv.getDomain(domainId(vmi)), ctx.config.heartbeatIntervalMs));
    let d: DomainInfo | undefined;
    try {
      d = await read(driver);
    } catch {
      // Unreachable for now: try again when the node is back (or it is declared lost).
      rt.resync = true;
      return [];
    }
    const now = ctx.clock.now();
    const out: VMLifecycleEvent[] = [];
    const mine = d !== undefined && d.uid === rt.uid;
    const pendingTypes = new Set(c.pending.map((p) => p.type));
    if (s.matches({ creating: 'starting' }) && mine && !pendingTypes.has('define')) {
      if (d!.state === 'running' || d!.state === 'paused') out.push({ type: 'STARTED', now });
      if (d!.guestReady) out.push({ type: 'GUEST_READY', now });
    }
    const up =
      s.matches('running') ||
      s.matches('paused') ||
      s.matches('migrating') ||
      s.matches('stopping') ||
      s.matches({ deleting: 'graceful' });
    if (up) {
      if (!mine) {
        if (s.matches('migrating') && c.migration) {
          const target = ctx.drivers.get(c.migration.targetNode);
          const there = target ? await read(target).catch(() => undefined) : undefined;
          if (there && there.uid === rt.uid) {
            out.push({ type: 'MIGRATION_SUCCEEDED', node: c.migration.targetNode, downtimeMs: 0, now });
            return out;
          }
        }
        out.push({ type: 'STOPPED', reason: 'destroyed', node: c.node, now });
      } else if (d!.state === 'shutoff' || d!.state === 'crashed') {
        out.push({
          type: 'STOPPED',
          reason: d!.reason === 'migrated' ? 'migrated' : stopReasonOf(d!),
          node: c.node,
          now,
        });
        if (d!.reason === 'migrated' && c.migration) {
          out.unshift({ type: 'MIGRATION_SUCCEEDED', node: c.migration.targetNode, downtimeMs: 0, now });
        }
      } else if (s.matches('running') && d!.state === 'paused' && !pendingTypes.has('pause')) {
        out.push({ type: 'PAUSED', now });
      } else if (s.matches('paused') && d!.state === 'running' && !pendingTypes.has('resume')) {
        out.push({ type: 'RESUMED', now });
      } else if (s.matches('migrating') && c.migration && !d!.migration && !pendingTypes.has('migrate')) {
        const target = ctx.drivers.get(c.migration.targetNode);
        const there = target ? await read(target).catch(() => undefined) : undefined;
        out.push(
          there && there.uid === rt.uid && there.state === 'running'
            ? { type: 'MIGRATION_SUCCEEDED', node: c.migration.targetNode, downtimeMs: 0, now }
            : {
                type: 'MIGRATION_FAILED',
                reason: 'MigrationFailed',
                message: 'the migration ended while the engine was down',
                now,
              },
        );
      }
    }
    return out;
  }

  /**
   * Admission of a request against a VMI's machine (the live one, else the persisted one): throws
   * IllegalTransitionError when the machine would not take it. A VMI without a machine yet accepts nothing
   * but is not checked (the request is re-evaluated once it has one).
   */
  assertCanAccept(vmi: VirtualMachineInstance, event: VMLifecycleEvent): void {
    const snapshot = this.snapshotOf(keyOf(vmi), vmi.metadata.uid) ?? snapshotFromStatus(vmi);
    if (snapshot) assertCanAccept(snapshot, event);
  }
}

export function migrationReservation(vmiKey: string): string {
  return `migration:${vmiKey}`;
}

function failureReason(c: LifecycleContext): string {
  const r = c.lastFailure?.reason ?? 'Failed';
  return r === 'NodeLost' ? 'NodeUnresponsive' : r;
}

function safeResources(vmi: VirtualMachineInstance): { cpuMillis: number; memoryBytes: number } {
  try {
    return vmiSpecResources(vmi.spec);
  } catch {
    return { cpuMillis: 0, memoryBytes: 0 };
  }
}

function bandwidthOf(q: string): number {
  try {
    return Number(parseBytes(q));
  } catch {
    return 0;
  }
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Whether `status` is the one this controller last wrote for the VMI, or the one a write of it in flight is
 * storing: the store hands the watch its event before the writer's call returns, so the informer can see
 * the write before the writer has noted it.
 */
function isOwnStatus(status: VirtualMachineInstanceStatus | undefined, rt: Runtime | undefined): boolean {
  if (status === undefined || rt === undefined) return false;
  return status === rt.written || (rt.writing !== undefined && jsonEqual(status, rt.writing));
}
