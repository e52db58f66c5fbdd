import type { Node, VirtualMachineInstance } from '@virtkit/engine';
import { ResourceClient } from './resources.ts';
import type { Transport } from './transport.ts';
import { Migrations } from './vms.ts';

export interface DrainProgress {
  node: string;
  /** VMIs on the node when the drain began. */
  total: number;
  migrating: number;
  /** Stopped so their VM can restart elsewhere (not live-migratable, or evictionStrategy None). */
  evicted: number;
  remaining: number;
}

export interface DrainOptions {
  onProgress?: (p: DrainProgress) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const migratable = (vmi: VirtualMachineInstance) => {
  const s = vmi.spec.evictionStrategy;
  const live = vmi.status?.conditions?.find((c) => c.type === 'LiveMigratable')?.status !== 'False';
  if (s === 'LiveMigrate') return true;
  if (s === 'LiveMigrateIfPossible') return live;
  return false;
};

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

  async uncordon(name: string): Promise<void> {
    await this.transport.patch('Node', undefined, name, 'merge', { spec: { unschedulable: null } });
  }

  /**
   * Cordons the node, live-migrates every VMI whose evictionStrategy allows it (LiveMigrate, or
   * LiveMigrateIfPossible when migratable) and evicts the rest (their VM restarts elsewhere when its
   * runStrategy says so), then resolves once no VMI runs on the node.
   */
  async drain(name: string, options: DrainOptions = {}): Promise<DrainProgress> {
    await this.get(name);
    await this.cordon(name);
    const onNode = async () =>
      (await this.transport.list('VirtualMachineInstance', { fieldSelector: `status.nodeName=${name}` })).items.filter(
        (v) => v.status?.phase !== 'Succeeded' && v.status?.phase !== 'Failed',
      );
    const initial = await onNode();
    const progress: DrainProgress = {
      node: name,
      total: initial.length,
      migrating: 0,
      evicted: 0,
      remaining: initial.length,
    };
    const migrations = new Migrations(this.transport);
    for (const vmi of initial) {
      const ns = vmi.metadata.namespace ?? this.transport.defaultNamespace;
      const vmiName = vmi.metadata.name ?? '';
      if (migratable(vmi)) {
        await migrations.create({
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstanceMigration',
          metadata: { generateName: `${vmiName}-drain-`, namespace: ns, labels: { 'virtkit.io/drain': name } },
          spec: { vmiName },
        });
        progress.migrating++;
      } else {
        await this.transport.delete('VirtualMachineInstance', ns, vmiName);
        progress.evicted++;
      }
    }
    options.onProgress?.({ ...progress });
    const deadline = options.timeoutMs ?? 30 * 60_000;
    const ac = new AbortController();
    options.signal?.addEventListener('abort', () => ac.abort(options.signal?.reason), { once: true });
    const timer = this.transport.clock.setTimer(deadline, () => ac.abort(new Error('timeout')));
    try {
      for (;;) {
        const listed = await this.transport.list('VirtualMachineInstance', {
          fieldSelector: `status.nodeName=${name}`,
        });
        const left = listed.items.filter((v) => v.status?.phase !== 'Succeeded' && v.status?.phase !== 'Failed').length;
        if (left !== progress.remaining) {
          progress.remaining = left;
          options.onProgress?.({ ...progress });
        }
        if (left === 0) return { ...progress };
        if (ac.signal.aborted) throw new Error(`drain of node ${name} did not finish: ${left} VMIs remain`);
        // Wake on any VMI change, then recount.
        const it = this.transport
          .watch('VirtualMachineInstance', { resourceVersion: listed.resourceVersion, signal: ac.signal })
          [Symbol.asyncIterator]();
        try {
          await it.next();
        } catch (e) {
          if (!ac.signal.aborted && (e as { code?: string }).code !== 'Gone') throw e;
        } finally {
          await it.return?.();
        }
      }
    } finally {
      timer.cancel();
    }
  }
}
