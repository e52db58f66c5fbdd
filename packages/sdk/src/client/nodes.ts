import {
  ANNOTATION_DRAIN,
  type DrainProgress,
  DrainTracker,
  GoneError,
  isoTime,
  type Node,
  TimeoutError,
} from '@virtkit/engine';
import { ResourceClient } from './resources.ts';
import type { Transport } from './transport.ts';

export type { DrainProgress };

export interface DrainOptions {
  /** Called with the first count and then with every change of it. */
  onProgress?: (p: DrainProgress) => void;
  /** Stop waiting after this long on the client's clock (the drain itself goes on; uncordon ends it). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class Nodes extends ResourceClient<'Node'> {
  constructor(transport: Transport) {
    super(transport, 'Node', (n) =>
      n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady',
    );
  }

  override list(query: { labelSelector?: string } = {}): Promise<Node[]> {
    return super.list({ ...query, allNamespaces: true });
  }

  override get(name: string): Promise<Node> {
    return this.transport.get('Node', undefined, name);
  }

  /** Marks the node unschedulable (new VMs and migrations avoid it). */
  async cordon(name: string): Promise<void> {
    await this.transport.patch('Node', undefined, name, 'merge', { spec: { unschedulable: true } });
  }

  /** Makes the node schedulable again and ends a drain. */
  async uncordon(name: string): Promise<void> {
    await this.transport.patch('Node', undefined, name, 'merge', {
      metadata: { annotations: { [ANNOTATION_DRAIN]: null } },
      spec: { unschedulable: null },
    });
  }

  /**
   * Cordons the node and asks the control plane to empty it — the same server-side drain as the engine's
   * `VmActions.drain`, so it survives this client going away and retries failed evacuations: VMIs whose
   * evictionStrategy is LiveMigrate (or LiveMigrateIfPossible while migratable) are live-migrated, the
   * rest stopped (their VM restarts elsewhere when its runStrategy says so). A LiveMigrate VMI that cannot
   * migrate blocks the drain, as KubeVirt's disruption budget does (`blocked` counts them). Resolves once
   * no VMI runs on the node; rejects with TimeoutError after `timeoutMs` (default 30 min).
   */
  async drain(name: string, options: DrainOptions = {}): Promise<DrainProgress> {
    const node = await this.get(name);
    const requested = node.metadata.annotations?.[ANNOTATION_DRAIN] ?? isoTime(this.transport.clock.now());
    await this.transport.patch('Node', undefined, name, 'merge', {
      metadata: { annotations: { [ANNOTATION_DRAIN]: requested } },
      spec: { unschedulable: true },
    });
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const ac = new AbortController();
    const onOuterAbort = () => ac.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let timedOut = false;
    const timer = this.transport.clock.setTimer(timeoutMs, () => {
      timedOut = true;
      ac.abort(new Error('timeout'));
    });
    let tracker: DrainTracker | undefined;
    const report = (): DrainProgress | undefined => {
      const p = tracker?.changed();
      if (p) options.onProgress?.(p);
      return p?.done ? p : undefined;
    };
    try {
      while (!ac.signal.aborted) {
        const [vmis, migrations] = await Promise.all([
          this.transport.list('VirtualMachineInstance'),
          this.transport.list('VirtualMachineInstanceMigration'),
        ]);
        if (tracker) tracker.resync(vmis.items, migrations.items);
        else tracker = new DrainTracker(name, vmis.items, migrations.items);
        const finished = report();
        if (finished) return finished;
        if (ac.signal.aborted) break; // e.g. by onProgress itself
        // This round's watches end with the drain or, after a 410, before the relist.
        const round = new AbortController();
        const signal = AbortSignal.any([ac.signal, round.signal]);
        try {
          return await tracker.follow(
            this.transport.watch('VirtualMachineInstance', { signal, resourceVersion: vmis.resourceVersion }),
            this.transport.watch('VirtualMachineInstanceMigration', {
              signal,
              resourceVersion: migrations.resourceVersion,
            }),
            signal,
            options.onProgress,
          );
        } catch (e) {
          if (e instanceof GoneError) continue; // history compacted: relist and watch again
          if (!ac.signal.aborted) throw e;
        } finally {
          round.abort();
        }
      }
      if (timedOut) {
        const p = tracker?.progress();
        throw new TimeoutError(
          `drain of node ${name} did not finish within ${timeoutMs} ms: ${p?.remaining ?? '?'} VMIs remain ` +
            `(${p?.migrating ?? 0} migrating, ${p?.blocked ?? 0} blocked: LiveMigrate but not migratable)`,
        );
      }
      throw options.signal?.reason ?? new Error('aborted');
    } finally {
      timer.cancel();
      options.signal?.removeEventListener('abort', onOuterAbort);
      ac.abort();
    }
  }
}
