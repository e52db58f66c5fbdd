/**
 * createEngine wires the control plane: informers over the store, the scheduler, and the node, VM, VMI,
 * migration, replica-set and drain controllers and the expiry of Events, all on the injected clock.
 * Everything a controller needs to resume is in the store; an engine started on a store another engine used
 * (and the same nodes) picks up every VM where it was.
 */
import { VmActions } from './actions.ts';
import { type EngineConfig, type ResolvedEngineConfig, resolveConfig } from './controllers/config.ts';
import {
  type ControllerContext,
  IDX_MIGRATION_BY_VMI,
  IDX_VMI_BY_MIGRATION_TARGET,
  IDX_VMI_BY_NODE,
  IDX_VMI_BY_OWNER,
  IDX_VMI_BY_UID,
  IDX_VMI_ORPHANS,
  type Informers,
} from './controllers/context.ts';
import { DrainController } from './controllers/drain-controller.ts';
import { EventTtlController } from './controllers/event-ttl.ts';
import { EventRecorder } from './controllers/events.ts';
import { Informer, keyOf } from './controllers/informer.ts';
import { MigrationController, migrationTargetReservation } from './controllers/migration-controller.ts';
import { NodeController } from './controllers/node-controller.ts';
import { toSchedulerNode } from './controllers/node-objects.ts';
import { controllerOf } from './controllers/owners.ts';
import { ReplicaSetController } from './controllers/replicaset-controller.ts';
import { VmController } from './controllers/vm-controller.ts';
import { migrationReservation, VmiController } from './controllers/vmi-controller.ts';
import type { DriverRegistry } from './drivers.ts';
import type { Clock } from './ports/clock.ts';
import type { ResourceStore } from './ports/resource-store.ts';
import { vmiSpecResources } from './resources/vmi-resources.ts';
import { Scheduler } from './scheduler/scheduler.ts';

export type { EngineConfig, ResolvedEngineConfig } from './controllers/config.ts';

export interface CreateEngineOptions {
  store: ResourceStore;
  clock: Clock;
  /** The nodes; add and remove drivers at any time, the engine follows. */
  drivers: DriverRegistry;
  /** Seeded RNG in [0, 1) for tie-breaking and jitter. Default: a fixed-seed generator. */
  random?: () => number;
  config?: EngineConfig;
  /** Unexpected errors of reconciles (they are retried regardless). Default: kept in `Engine.errors`. */
  onError?: (err: unknown, where: string) => void;
}

export interface EngineError {
  where: string;
  error: unknown;
}

export interface Engine extends AsyncDisposable {
  readonly store: ResourceStore;
  readonly clock: Clock;
  readonly drivers: DriverRegistry;
  readonly scheduler: Scheduler;
  /** The subresource verbs (start, stop, migrate, drain ...) bound to this engine's store. */
  readonly actions: VmActions;
  readonly config: ResolvedEngineConfig;
  readonly running: boolean;
  /** The last unexpected reconcile errors (at most 100), newest last. */
  readonly errors: readonly EngineError[];
  /** Loads the store, reconciles every object and node, and keeps doing so until `stop`. */
  start(): Promise<void>;
  /** Stops reconciling and waits for work in progress; nodes and their domains keep running. */
  stop(): Promise<void>;
  /**
   * Resolves once no reconcile or event write is in progress. Driver calls may still be in flight (some
   * need clock time to finish) and timers may be armed.
   */
  settled(): Promise<void>;
}

/** mulberry32: small, fast, good enough for tie-breaking. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createEngine(options: CreateEngineOptions): Engine {
  return new EngineImpl(options);
}

class EngineImpl implements Engine {
  readonly store: ResourceStore;
  readonly clock: Clock;
  readonly drivers: DriverRegistry;
  readonly scheduler: Scheduler;
  readonly actions: VmActions;
  readonly config: ResolvedEngineConfig;
  readonly #errors: EngineError[] = [];
  readonly #onError: ((err: unknown, where: string) => void) | undefined;
  readonly #informers: Informers;
  readonly #events: EventRecorder;
  readonly #nodes: NodeController;
  readonly #vms: VmController;
  readonly #vmis: VmiController;
  readonly #migrations: MigrationController;
  readonly #replicaSets: ReplicaSetController;
  readonly #drain: DrainController;
  /** Absent when Events are kept forever: then no Event informer caches them either. */
  readonly #eventTtl: { informer: Informer<'Event'>; controller: EventTtlController } | undefined;
  #eventTtlListed = false;
  #inflight = 0;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(options: CreateEngineOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.drivers = options.drivers;
    this.config = resolveConfig(options.config);
    this.#onError = options.onError;
    const random = options.random ?? seededRandom(0x5eed);
    this.scheduler = new Scheduler({
      policy: this.config.scheduler.policy,
      tieBreak: this.config.scheduler.tieBreak,
      random,
    });
    const report = (err: unknown, where: string) => this.#report(err, where);
    this.#informers = {
      vm: new Informer(this.store, 'VirtualMachine', (e) => report(e, 'informer VirtualMachine')),
      vmi: new Informer(this.store, 'VirtualMachineInstance', (e) => report(e, 'informer VirtualMachineInstance')),
      migration: new Informer(this.store, 'VirtualMachineInstanceMigration', (e) =>
        report(e, 'informer VirtualMachineInstanceMigration'),
      ),
      replicaSet: new Informer(this.store, 'VirtualMachineInstanceReplicaSet', (e) =>
        report(e, 'informer VirtualMachineInstanceReplicaSet'),
      ),
      node: new Informer(this.store, 'Node', (e) => report(e, 'informer Node')),
    };
    const inf = this.#informers;
    inf.vmi.addIndex(IDX_VMI_BY_NODE, (v) => (v.status?.nodeName ? [v.status.nodeName] : []));
    inf.vmi.addIndex(IDX_VMI_BY_MIGRATION_TARGET, (v) => {
      const target = v.status?.migrationState?.targetNode;
      return target ? [target] : [];
    });
    inf.vmi.addIndex(IDX_VMI_BY_UID, (v) => (v.metadata.uid ? [v.metadata.uid] : []));
    inf.vmi.addIndex(IDX_VMI_BY_OWNER, (v) => {
      const ref = controllerOf(v);
      return ref ? [ref.uid] : [];
    });
    inf.vmi.addIndex(IDX_VMI_ORPHANS, (v) => (controllerOf(v) ? [] : [v.metadata.namespace ?? '']));
    inf.migration.addIndex(IDX_MIGRATION_BY_VMI, (m) => [`${m.metadata.namespace}/${m.spec.vmiName}`]);
    inf.node.on({
      add: (n) => this.scheduler.upsertNode(toSchedulerNode(n)),
      update: (_o, n) => this.scheduler.upsertNode(toSchedulerNode(n)),
      delete: (n) => this.scheduler.removeNode(n.metadata.name ?? ''),
    });
    this.#events = new EventRecorder(this.store, this.clock);
    const ctx: ControllerContext = {
      store: this.store,
      clock: this.clock,
      drivers: this.drivers,
      scheduler: this.scheduler,
      events: this.#events,
      informers: inf,
      config: this.config,
      random,
      report,
      track: (p) => this.#track(p),
    };
    this.#vmis = new VmiController(ctx);
    this.#vms = new VmController(ctx);
    this.#migrations = new MigrationController(ctx);
    this.#replicaSets = new ReplicaSetController(ctx);
    this.#drain = new DrainController(ctx);
    this.#nodes = new NodeController(ctx, {
      readinessChanged: (node, ready) => this.#vmis.nodeReadinessChanged(node, ready),
      driverEvent: (ev) => this.#vmis.driverEvent(ev),
      // As after a partition: each VMI on the node reads its domain again.
      eventsLost: (node) => this.#vmis.nodeReadinessChanged(node, true),
    });
    const ttlSeconds = this.config.events.ttlSeconds;
    if (ttlSeconds > 0) {
      const informer = new Informer(this.store, 'Event', (e) => report(e, 'informer Event'));
      const controller = new EventTtlController({
        store: this.store,
        clock: this.clock,
        informer,
        ttlMs: ttlSeconds * 1000,
        concurrency: this.config.concurrency,
        retry: this.config.retry,
        report,
      });
      this.#eventTtl = { informer, controller };
    }
    this.actions = new VmActions({
      store: this.store,
      clock: this.clock,
      liveSnapshot: (vmi) => this.#vmis.snapshotOf(keyOf(vmi), vmi.metadata.uid),
    });
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  get errors(): readonly EngineError[] {
    return this.#errors;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`engine cannot start: it is ${this.#state}`);
    this.#state = 'starting';
    const inf = this.#informers;
    await Promise.all([
      inf.node.start(),
      inf.vm.start(),
      inf.vmi.start(),
      inf.migration.start(),
      inf.replicaSet.start(),
      this.#startEventInformer(),
    ]);
    this.#primeAccounting();
    this.#vmis.start();
    this.#vms.start();
    this.#migrations.start();
    this.#replicaSets.start();
    this.#drain.start();
    this.#nodes.start();
    if (this.#eventTtlListed) this.#eventTtl?.controller.start();
    this.#state = 'running';
  }

  /**
   * Expiring Events is housekeeping: a store that refuses to list them (an API server whose RBAC grants no
   * list or watch on events) leaves them to the server's own TTL instead of failing the engine's start.
   */
  async #startEventInformer(): Promise<void> {
    if (!this.#eventTtl) return;
    try {
      await this.#eventTtl.informer.start();
      this.#eventTtlListed = true;
    } catch (err) {
      this.#report(err, 'informer Event (Events are not expired)');
    }
  }

  /** Charges what the store says runs where before anything is scheduled (no double booking after a restart). */
  #primeAccounting(): void {
    for (const vmi of this.#informers.vmi.list()) {
      const st = vmi.status;
      if (!st?.nodeName || st.phase === 'Succeeded' || st.phase === 'Failed') continue;
      let req: { cpuMillis: number; memoryBytes: number };
      try {
        req = vmiSpecResources(vmi.spec);
      } catch {
        continue;
      }
      const key = keyOf(vmi);
      this.scheduler.assign(key, st.nodeName, req.cpuMillis, req.memoryBytes);
      const m = st.migrationState;
      if (m?.targetNode && !m.completed && !m.failed) {
        this.scheduler.assign(migrationReservation(key), m.targetNode, req.cpuMillis, req.memoryBytes);
      }
    }
    for (const mig of this.#informers.migration.list()) {
      const target = mig.status?.migrationState?.targetNode;
      if (mig.status?.phase !== 'Scheduled' || !target) continue;
      const vmi = this.#informers.vmi.get(mig.metadata.namespace, mig.spec.vmiName);
      if (!vmi) continue;
      try {
        const req = vmiSpecResources(vmi.spec);
        this.scheduler.assign(migrationTargetReservation(keyOf(mig)), target, req.cpuMillis, req.memoryBytes);
      } catch {
        // unparseable requests were never scheduled either
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    await this.#nodes.stop();
    await Promise.all([
      this.#vms.stop(),
      this.#migrations.stop(),
      this.#replicaSets.stop(),
      this.#drain.stop(),
      this.#vmis.stop(),
      this.#eventTtl?.controller.stop(),
    ]);
    // Driver calls still in flight may need clock time to finish (a migration); their results are dropped.
    for (let i = 0; i < 20 && (this.#inflight > 0 || this.#events.busy); i++)
      await new Promise<void>((r) => setImmediate(r));
    const inf = this.#informers;
    await Promise.all([
      inf.node.stop(),
      inf.vm.stop(),
      inf.vmi.stop(),
      inf.migration.stop(),
      inf.replicaSet.stop(),
      this.#eventTtl?.informer.stop(),
    ]);
    this.#state = 'stopped';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async settled(): Promise<void> {
    // Driver calls are not waited for: some only finish when the clock moves (a migration, a boot on a
    // simulated node). A few quiet turns of the event loop let calls that answer at once come back.
    let quiet = 0;
    while (quiet < 3) {
      await new Promise<void>((r) => setImmediate(r));
      quiet = this.#idle() ? quiet + 1 : 0;
    }
  }

  #idle(): boolean {
    return (
      !this.#events.busy &&
      this.#nodes.queue.idle &&
      this.#vms.queue.idle &&
      this.#vmis.queue.idle &&
      this.#migrations.queue.idle &&
      this.#replicaSets.queue.idle &&
      this.#drain.queue.idle &&
      (this.#eventTtl?.controller.queue.idle ?? true)
    );
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight++;
    return p.finally(() => {
      this.#inflight--;
    });
  }

  #report(err: unknown, where: string): void {
    this.#errors.push({ where, error: err });
    if (this.#errors.length > 100) this.#errors.shift();
    this.#onError?.(err, where);
  }
}
