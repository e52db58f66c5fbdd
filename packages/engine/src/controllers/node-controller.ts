/**
 * The node controller: registers a Node object for every driver, pings each node on the injected clock
 * and keeps the Ready condition, the readiness/cordon taints and the `kubevirt.io/schedulable` label in
 * step. A node whose last good ping is older than the window turns NotReady (its VMIs are then failed
 * by the VMI controller and restarted elsewhere per runStrategy).
 *
 * Fencing: a node that was NotReady, or that this engine process has not seen yet, is reconciled against
 * the stored VMIs before it is marked Ready: every domain whose VMI is gone, finished, or now placed on
 * another node is destroyed and undefined first, so a VM never runs twice once the node is back.
 */
import type { DriverRegistryChange } from '../drivers.ts';
import { DriverError } from '../errors.ts';
import type { TimerHandle } from '../ports/clock.ts';
import { isoTime } from '../ports/clock.ts';
import type { DomainEvent, DomainInfo, NodeDriver, NodeInfo, Unsubscribe } from '../ports/node-driver.ts';
import type { Node } from '../resources/core.ts';
import type { VirtualMachineInstance } from '../resources/kubevirt.ts';
import { jsonEqual } from '../store/json.ts';
import { removeCondition, setCondition } from './conditions.ts';
import { ANNOTATION_SOFTWARE_EMULATION, COND_READY, COND_SOFTWARE_EMULATION, LABEL_SCHEDULABLE } from './constants.ts';
import { type ControllerContext, IDX_VMI_BY_UID } from './context.ts';
import { isNodeReady, managedTaints, mergeTaints, nodeLabels, quantities } from './node-objects.ts';
import { withTimeout } from './timeout.ts';
import { WorkQueue } from './work-queue.ts';

export interface NodeControllerHooks {
  /** A node turned Ready or NotReady in the store. */
  readinessChanged(node: string, ready: boolean): void;
  /** An event from a node's driver. */
  driverEvent(event: DomainEvent): void;
  /** The node's driver may have lost events: its domains must be read again. */
  eventsLost(node: string): void;
}

interface NodeRuntime {
  driver: NodeDriver;
  unsubscribe: Unsubscribe;
  unsubscribeLost: Unsubscribe | undefined;
  timer: TimerHandle | undefined;
  info: NodeInfo | undefined;
  /** Clock time of the last successful ping or info call. */
  lastOk: number;
  pinging: boolean;
  /** Domains must be reconciled against stored VMIs before the node may be Ready. */
  needsFence: boolean;
  /** Clock time of the last orphan sweep. */
  lastSweep: number;
}

/** How often a healthy node's domains are checked for orphans (a clean-up that failed, a lost store). */
const ORPHAN_SWEEP_MS = 5 * 60_000;

const isFinal = (vmi: VirtualMachineInstance) => vmi.status?.phase === 'Succeeded' || vmi.status?.phase === 'Failed';

export class NodeController {
  readonly queue: WorkQueue;
  readonly #ctx: ControllerContext;
  readonly #hooks: NodeControllerHooks;
  #nodes = new Map<string, NodeRuntime>();
  #unsubscribeRegistry: Unsubscribe | undefined;
  #stopped = false;

  constructor(ctx: ControllerContext, hooks: NodeControllerHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.queue = new WorkQueue(ctx.clock, (key) => this.#reconcile(key), {
      name: 'node',
      concurrency: ctx.config.concurrency,
      baseRetryMs: ctx.config.retry.baseMs,
      maxRetryMs: Math.min(ctx.config.retry.maxMs, ctx.config.heartbeatIntervalMs),
      onError: (key, err) => ctx.report(err, `node ${key}`),
    });
    ctx.informers.node.on({
      add: (n) => this.queue.add(n.metadata.name ?? ''),
      update: (_o, n) => this.queue.add(n.metadata.name ?? ''),
      delete: (n) => this.queue.add(n.metadata.name ?? ''),
    });
  }

  start(): void {
    this.#unsubscribeRegistry = this.#ctx.drivers.onChange((c: DriverRegistryChange) =>
      this.queue.add(c.driver.nodeName),
    );
    for (const d of this.#ctx.drivers.list()) this.queue.add(d.nodeName);
    for (const name of this.#ctx.informers.node.keys()) this.queue.add(name);
    this.queue.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribeRegistry?.();
    for (const rt of this.#nodes.values()) this.#dispose(rt);
    this.#nodes.clear();
    await this.queue.stop();
  }

  /** Whether the node answered within the window (in this process). */
  healthy(name: string): boolean {
    const rt = this.#nodes.get(name);
    return rt !== undefined && this.#ctx.clock.now() - rt.lastOk <= this.#ctx.config.nodeNotReadyAfterMs;
  }

  #dispose(rt: NodeRuntime): void {
    rt.unsubscribe();
    rt.unsubscribeLost?.();
    rt.timer?.cancel();
    rt.timer = undefined;
  }

  #runtime(name: string, driver: NodeDriver): NodeRuntime {
    const existing = this.#nodes.get(name);
    if (existing && existing.driver === driver) return existing;
    if (existing) this.#dispose(existing);
    const stored = this.#ctx.informers.node.get(undefined, name);
    const rt: NodeRuntime = {
      driver,
      unsubscribe: driver.onEvent((ev) => this.#hooks.driverEvent(ev)),
      unsubscribeLost: driver.onEventsLost?.(() => this.#hooks.eventsLost(name)),
      timer: undefined,
      info: undefined,
      // A node stored as Ready keeps its window from now; one never seen must answer first.
      lastOk: stored && isNodeReady(stored) ? this.#ctx.clock.now() : Number.NEGATIVE_INFINITY,
      pinging: false,
      needsFence: true,
      lastSweep: this.#ctx.clock.now(),
    };
    this.#nodes.set(name, rt);
    this.#scheduleHeartbeat(name, rt);
    return rt;
  }

  #scheduleHeartbeat(name: string, rt: NodeRuntime): void {
    if (this.#stopped) return;
    rt.timer = this.#ctx.clock.setTimer(this.#ctx.config.heartbeatIntervalMs, () => {
      rt.timer = undefined;
      if (this.#nodes.get(name) !== rt) return;
      void this.#heartbeat(name, rt).finally(() => {
        if (this.#nodes.get(name) === rt) this.#scheduleHeartbeat(name, rt);
      });
    });
  }

  async #heartbeat(name: string, rt: NodeRuntime): Promise<void> {
    if (rt.pinging) return;
    rt.pinging = true;
    try {
      await this.#ctx.track(this.#withTimeout(rt.driver.ping(), this.#ctx.config.heartbeatIntervalMs));
      rt.lastOk = this.#ctx.clock.now();
    } catch {
      // Missed heartbeat: look again exactly when the window since the last good one closes, not at the
      // next heartbeat, so NotReady comes `nodeNotReadyAfterMs` after the node was last heard.
      const closes = rt.lastOk + this.#ctx.config.nodeNotReadyAfterMs + 1 - this.#ctx.clock.now();
      if (Number.isFinite(closes) && closes > 0) this.queue.addAfter(name, closes);
    } finally {
      rt.pinging = false;
    }
    this.queue.add(name);
  }

  #withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return withTimeout(this.#ctx.clock, p, ms);
  }

  async #reconcile(name: string): Promise<undefined> {
    if (this.#stopped) return undefined;
    const ctx = this.#ctx;
    const driver = ctx.drivers.get(name);
    const node = ctx.informers.node.get(undefined, name);
    if (!driver) {
      const rt = this.#nodes.get(name);
      if (rt) {
        this.#dispose(rt);
        this.#nodes.delete(name);
      }
      if (node && isNodeReady(node))
        await this.#setReady(node, false, 'NodeDriverRemoved', 'the node was removed from the driver registry');
      return undefined;
    }
    const rt = this.#runtime(name, driver);
    // Capacity and labels are (re)read at registration and whenever the node comes back.
    if (!rt.info || rt.needsFence) {
      try {
        rt.info = await ctx.track(this.#withTimeout(driver.info(), ctx.config.heartbeatIntervalMs));
        rt.lastOk = ctx.clock.now();
      } catch (err) {
        if (!rt.info && !node) throw err;
      }
    }
    const healthy = this.healthy(name);
    if (healthy && rt.info) {
      const now = ctx.clock.now();
      // Fence before Ready; afterwards sweep now and then for domains a failed clean-up left behind.
      if (rt.needsFence || now - rt.lastSweep >= ORPHAN_SWEEP_MS) {
        await this.#fence(name, driver);
        rt.needsFence = false;
        rt.lastSweep = now;
      }
      await this.#ensureNode(name, rt.info!, node, true);
      return undefined;
    }
    // Heard from within the window, but its info call failed (a slow answer while this engine starts up):
    // it is not lost, so its stored readiness stands; the next heartbeat brings this reconcile back.
    if (healthy && node) return undefined;
    rt.needsFence = true;
    if (!node) {
      if (rt.info) await this.#ensureNode(name, rt.info, undefined, false);
      return undefined;
    }
    if (isNodeReady(node)) {
      await this.#setReady(
        node,
        false,
        'NodeStatusUnknown',
        `node stopped answering heartbeats for more than ${Math.round(ctx.config.nodeNotReadyAfterMs / 1000)}s`,
      );
    }
  }

  /** Destroys and undefines every domain on the node that no stored, live VMI places there. */
  async #fence(name: string, driver: NodeDriver): Promise<void> {
    const ctx = this.#ctx;
    const domains = await ctx.track(driver.listDomains());
    // All stale copies go at once: the node stays NotReady (and its guests fenced) only as long as the slowest.
    await Promise.all(
      domains.map(async (d) => {
        const vmiOf = () => ctx.informers.vmi.byIndex(IDX_VMI_BY_UID, d.uid)[0];
        const why = this.#orphanReason(name, d, vmiOf());
        if (!why) return;
        // The listing ages while these calls run: the VMI controller may clean a finished VMI's domain up
        // itself, and a new VMI of the same name then defines another domain under the same id. Each call
        // acts only on the domain listed (same uid), and only while it is still an orphan.
        const stillOrphan = async () => {
          const now = await ctx.track(driver.getDomain(d.id));
          return now !== undefined && now.uid === d.uid && this.#orphanReason(name, now, vmiOf()) !== undefined;
        };
        try {
          if (!(await stillOrphan())) return;
          await ctx.track(driver.destroyDomain(d.id));
          if (await stillOrphan()) await ctx.track(driver.undefineDomain(d.id));
        } catch (err) {
          if (!(err instanceof DriverError && err.reason === 'DomainNotFound')) throw err;
        }
        const node = ctx.informers.node.get(undefined, name);
        if (node) {
          void ctx.events.record(node, 'Warning', 'FencedDomain', `Destroyed domain ${d.id} (uid ${d.uid}): ${why}`);
        }
      }),
    );
  }

  #orphanReason(name: string, _d: DomainInfo, vmi: VirtualMachineInstance | undefined): string | undefined {
    if (!vmi) return 'its VirtualMachineInstance no longer exists';
    if (isFinal(vmi)) return `its VirtualMachineInstance is ${vmi.status?.phase}`;
    const st = vmi.status;
    if (st?.nodeName === name) return undefined;
    const m = st?.migrationState;
    if (m && m.targetNode === name && !m.completed && !m.failed) return undefined;
    if (!st?.nodeName) return undefined;
    return `its VirtualMachineInstance now runs on node ${st.nodeName}`;
  }

  async #ensureNode(name: string, info: NodeInfo, node: Node | undefined, ready: boolean): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const at = isoTime(now);
    if (!node) {
      const created = await ctx.store.create('Node', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          labels: nodeLabels(info, ready),
          ...(info.hypervisor === 'qemu'
            ? { annotations: { [ANNOTATION_SOFTWARE_EMULATION]: info.emulationReason ?? 'KVM is not available' } }
            : {}),
        },
        spec: { taints: managedTaints(ready, false, at) },
      });
      ctx.informers.node.observe(created);
      const withStatus = await ctx.store.updateStatus('Node', {
        ...created,
        status: this.#status(info, undefined, ready, now),
      });
      ctx.informers.node.observe(withStatus);
      void ctx.events.record(withStatus, 'Normal', 'RegisteredNode', `Node ${name} registered (${info.hypervisor})`);
      if (ready) this.#hooks.readinessChanged(name, true);
      return;
    }
    const wasReady = isNodeReady(node);
    const unschedulable = node.spec?.unschedulable === true;
    const labels = { ...(node.metadata.labels ?? {}), ...nodeLabels(info, ready && !unschedulable) };
    const annotations = { ...(node.metadata.annotations ?? {}) };
    if (info.hypervisor === 'qemu')
      annotations[ANNOTATION_SOFTWARE_EMULATION] = info.emulationReason ?? 'KVM is not available';
    else delete annotations[ANNOTATION_SOFTWARE_EMULATION];
    const taints = mergeTaints(node.spec?.taints, managedTaints(ready, unschedulable, at));
    let current = node;
    if (
      !sameJson(labels, node.metadata.labels ?? {}) ||
      !sameJson(annotations, node.metadata.annotations ?? {}) ||
      !sameTaints(taints, node.spec?.taints ?? [])
    ) {
      current = await ctx.store.update('Node', {
        ...node,
        metadata: { ...node.metadata, labels, annotations },
        spec: { ...node.spec, taints },
      });
      ctx.informers.node.observe(current);
    }
    const status = this.#status(info, current.status, ready, now);
    if (!sameJson(status, current.status ?? {})) {
      current = await ctx.store.updateStatus('Node', { ...current, status });
      ctx.informers.node.observe(current);
    }
    if (wasReady !== ready) {
      void ctx.events.record(
        current,
        ready ? 'Normal' : 'Warning',
        ready ? 'NodeReady' : 'NodeNotReady',
        `Node ${name} status is now: ${ready ? 'NodeReady' : 'NodeNotReady'}`,
      );
      this.#hooks.readinessChanged(name, ready);
    }
  }

  async #setReady(node: Node, ready: boolean, reason: string, message: string): Promise<void> {
    const ctx = this.#ctx;
    const name = node.metadata.name ?? '';
    const now = ctx.clock.now();
    const unschedulable = node.spec?.unschedulable === true;
    const taints = mergeTaints(node.spec?.taints, managedTaints(ready, unschedulable, isoTime(now)));
    let current = await ctx.store.update('Node', {
      ...node,
      metadata: {
        ...node.metadata,
        labels: { ...(node.metadata.labels ?? {}), [LABEL_SCHEDULABLE]: ready && !unschedulable ? 'true' : 'false' },
      },
      spec: { ...node.spec, taints },
    });
    ctx.informers.node.observe(current);
    const conditions = setCondition(
      current.status?.conditions,
      { type: COND_READY, status: ready ? 'True' : 'Unknown', reason, message },
      now,
    );
    current = await ctx.store.updateStatus('Node', { ...current, status: { ...current.status, conditions } });
    ctx.informers.node.observe(current);
    void ctx.events.record(
      current,
      ready ? 'Normal' : 'Warning',
      ready ? 'NodeReady' : 'NodeNotReady',
      `Node ${name} status is now: ${ready ? 'NodeReady' : 'NodeNotReady'} (${message})`,
    );
    this.#hooks.readinessChanged(name, ready);
  }

  #status(info: NodeInfo, old: Node['status'], ready: boolean, now: number): NonNullable<Node['status']> {
    let conditions = setCondition(
      old?.conditions,
      ready
        ? { type: COND_READY, status: 'True', reason: 'NodeReady', message: 'node agent is posting ready status' }
        : {
            type: COND_READY,
            status: 'Unknown',
            reason: 'NodeStatusUnknown',
            message: 'node agent stopped posting node status',
          },
      now,
    );
    if (info.hypervisor === 'qemu') {
      conditions = setCondition(
        conditions,
        {
          type: COND_SOFTWARE_EMULATION,
          status: 'True',
          reason: 'KVMUnavailable',
          message: info.emulationReason ?? 'KVM is not available; guests run under TCG software emulation',
        },
        now,
      );
    } else {
      conditions = removeCondition(conditions, COND_SOFTWARE_EMULATION);
    }
    return {
      ...old,
      capacity: quantities(info.capacity, info.hypervisor),
      allocatable: quantities(info.allocatable, info.hypervisor),
      conditions,
      nodeInfo: {
        ...Object.fromEntries(Object.entries(info.versions).map(([k, v]) => [`${k}Version`, v])),
        ...kubernetesNodeInfo(info.versions),
        hypervisor: info.hypervisor,
      },
      addresses: [
        { type: 'Hostname', address: info.name },
        ...(info.migrationUri ? [{ type: 'MigrationURI', address: info.migrationUri }] : []),
      ],
    };
  }
}

const sameJson = jsonEqual;

/**
 * The nodeInfo fields kubectl shows (`get nodes` VERSION, `-o wide` CONTAINER-RUNTIME, `describe node`): the
 * node agent stands in for the kubelet and the hypervisor stack for the container runtime.
 */
function kubernetesNodeInfo(versions: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { operatingSystem: 'linux' };
  if (versions.agent !== undefined) out.kubeletVersion = `virtkit-agent-${versions.agent}`;
  else if (versions.sim !== undefined) out.kubeletVersion = `virtkit-sim-${versions.sim}`;
  if (versions.libvirt !== undefined) out.containerRuntimeVersion = `libvirt://${versions.libvirt}`;
  else if (versions.sim !== undefined) out.containerRuntimeVersion = `sim://${versions.sim}`;
  return out;
}

function sameTaints(a: readonly { key: string; effect: string; value?: string }[], b: typeof a): boolean {
  return (
    a.length === b.length &&
    a.every((t, i) => t.key === b[i]!.key && t.effect === b[i]!.effect && t.value === b[i]!.value)
  );
}
