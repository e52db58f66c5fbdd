/**
 * How far a node's drain has got, counted from the VMIs and migrations a watcher sees. One definition for
 * every door a drain is asked through (VmActions in-process, the SDK over any Kubernetes-compatible API),
 * so the figures a user reads mean the same thing everywhere.
 */
import type { WatchEvent } from '../ports/resource-store.ts';
import type { VirtualMachineInstance, VirtualMachineInstanceMigration } from '../resources/kubevirt.ts';
import type { KubeObject } from '../resources/meta.ts';
import { findCondition } from './conditions.ts';
import { COND_LIVE_MIGRATABLE } from './constants.ts';
import { isFinal } from './run-strategy.ts';

export interface DrainProgress {
  node: string;
  /** VMIs that were on the node when the drain started. */
  total: number;
  /** Still on the node (running or shutting down), including VMIs placed there after the drain began. */
  remaining: number;
  /** Live migrations of the node's VMIs not yet finished. */
  migrating: number;
  /** VMIs that now run on another node. */
  migrated: number;
  /** VMIs stopped (to be restarted elsewhere per runStrategy, or not). */
  evicted: number;
  /** VMIs whose evictionStrategy is LiveMigrate but that cannot migrate (they block the drain). */
  blocked: number;
  done: boolean;
}

const uidOf = (o: { metadata: { uid?: string } }) => o.metadata.uid ?? '';

/** Follows one node's drain: seed it with a list of VMIs and migrations, feed it their watch events. */
export class DrainTracker {
  readonly node: string;
  /** The node's VMIs when the drain started, by uid. */
  readonly #tracked = new Map<string, VirtualMachineInstance>();
  readonly #vmis = new Map<string, VirtualMachineInstance>();
  readonly #migrations = new Map<string, VirtualMachineInstanceMigration>();
  #last: DrainProgress | undefined;

  constructor(
    node: string,
    vmis: Iterable<VirtualMachineInstance>,
    migrations: Iterable<VirtualMachineInstanceMigration>,
  ) {
    this.node = node;
    for (const v of vmis) {
      this.#vmis.set(uidOf(v), v);
      if (v.status?.nodeName === node && !isFinal(v)) this.#tracked.set(uidOf(v), v);
    }
    for (const m of migrations) this.#migrations.set(uidOf(m), m);
  }

  /** Replaces what the tracker knows of the VMIs and migrations with a fresh list (after a 410 Gone). */
  resync(vmis: Iterable<VirtualMachineInstance>, migrations: Iterable<VirtualMachineInstanceMigration>): void {
    this.#vmis.clear();
    for (const v of vmis) this.#vmis.set(uidOf(v), v);
    this.#migrations.clear();
    for (const m of migrations) this.#migrations.set(uidOf(m), m);
  }

  vmiEvent(ev: WatchEvent<VirtualMachineInstance>): void {
    apply(this.#vmis, ev);
  }

  migrationEvent(ev: WatchEvent<VirtualMachineInstanceMigration>): void {
    apply(this.#migrations, ev);
  }

  progress(): DrainProgress {
    const node = this.node;
    let remaining = 0;
    let migrated = 0;
    let evicted = 0;
    let blocked = 0;
    let migrating = 0;
    const onNode = new Set<string>();
    for (const [uid, first] of this.#tracked) {
      const v = this.#vmis.get(uid);
      if (!v || isFinal(v)) {
        evicted++;
        continue;
      }
      if (v.status?.nodeName !== node) {
        migrated++;
        continue;
      }
      remaining++;
      onNode.add(`${v.metadata.namespace}/${v.metadata.name}`);
      const lm = findCondition(v.status?.conditions, COND_LIVE_MIGRATABLE);
      if ((v.spec.evictionStrategy ?? first.spec.evictionStrategy) === 'LiveMigrate' && lm?.status === 'False') {
        blocked++;
      }
    }
    // VMIs placed on the node after the drain started (before the cordon took) count as well.
    for (const v of this.#vmis.values()) {
      if (v.status?.nodeName === node && !isFinal(v) && !this.#tracked.has(uidOf(v))) {
        remaining++;
        onNode.add(`${v.metadata.namespace}/${v.metadata.name}`);
      }
    }
    for (const m of this.#migrations.values()) {
      if (m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') continue;
      if (onNode.has(`${m.metadata.namespace}/${m.spec.vmiName}`)) migrating++;
    }
    return { node, total: this.#tracked.size, remaining, migrating, migrated, evicted, blocked, done: remaining === 0 };
  }

  /**
   * Feeds both watches into the tracker, reporting every change of the count; resolves with the count once
   * the node is empty, rejects with a watch's error or `signal`'s reason. The caller owns the watches
   * (their signal) and stops them after.
   */
  follow(
    vmiEvents: AsyncIterable<WatchEvent<VirtualMachineInstance>>,
    migrationEvents: AsyncIterable<WatchEvent<VirtualMachineInstanceMigration>>,
    signal: AbortSignal,
    onProgress?: (p: DrainProgress) => void,
  ): Promise<DrainProgress> {
    return new Promise<DrainProgress>((resolve, reject) => {
      const pump = async <T>(events: AsyncIterable<T>, feed: (ev: T) => void) => {
        for await (const ev of events) {
          feed(ev);
          const p = this.changed();
          if (!p) continue;
          onProgress?.(p);
          if (p.done) resolve(p);
        }
      };
      pump(vmiEvents, (ev) => this.vmiEvent(ev)).catch(reject);
      pump(migrationEvents, (ev) => this.migrationEvent(ev)).catch(reject);
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /** The progress when it differs from what the previous call returned, else undefined. */
  changed(): DrainProgress | undefined {
    const p = this.progress();
    const last = this.#last;
    if (last && sameProgress(p, last)) return undefined;
    this.#last = p;
    return p;
  }
}

function apply<T extends KubeObject>(into: Map<string, T>, ev: WatchEvent<T>): void {
  if (ev.type === 'BOOKMARK') return;
  if (ev.type === 'DELETED') into.delete(uidOf(ev.object));
  else into.set(uidOf(ev.object), ev.object);
}

function sameProgress(a: DrainProgress, b: DrainProgress): boolean {
  return (
    a.total === b.total &&
    a.remaining === b.remaining &&
    a.migrating === b.migrating &&
    a.migrated === b.migrated &&
    a.evicted === b.evicted &&
    a.blocked === b.blocked &&
    a.done === b.done
  );
}
