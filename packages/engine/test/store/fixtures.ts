/** Object builders and helpers shared by the store tests. */
import type {
  Event,
  Lease,
  Node,
  OwnerReference,
  VirtualMachine,
  VirtualMachineInstance,
  VirtualMachineInstanceMigration,
  VirtualMachineInstanceReplicaSet,
  WatchEvent,
} from '@virtkit/engine';

export interface Meta {
  name?: string;
  namespace?: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  resourceVersion?: string;
}

export function vm(name: string, meta: Meta = {}, running = false): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, ...meta },
    spec: { running, template: { spec: { domain: { devices: {} } } } },
  };
}

export function vmi(name: string, meta: Meta = {}): VirtualMachineInstance {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, ...meta },
    spec: { domain: { devices: {} } },
  };
}

export function migration(name: string, vmiName: string, meta: Meta = {}): VirtualMachineInstanceMigration {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name, ...meta },
    spec: { vmiName },
  };
}

export function replicaSet(name: string, meta: Meta = {}): VirtualMachineInstanceReplicaSet {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name, ...meta },
    spec: { replicas: 2, selector: { matchLabels: { rs: name } }, template: { spec: { domain: { devices: {} } } } },
  };
}

export function node(name: string, meta: Meta = {}): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, ...meta }, spec: {} };
}

export function event(name: string, involved: { kind: string; name: string }, meta: Meta = {}): Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, ...meta },
    involvedObject: { ...involved, namespace: meta.namespace ?? 'default' },
    reason: 'Started',
    message: 'started',
    type: 'Normal',
  };
}

export function lease(name: string, holder: string, meta: Meta = {}): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, ...meta },
    spec: { holderIdentity: holder },
  };
}

/** An owner reference to `owner`, as a controller would set it. */
export function ownedBy(
  owner: { apiVersion: string; kind: string; metadata: { name?: string; uid?: string } },
  blockOwnerDeletion = true,
  controller = true,
): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller,
    blockOwnerDeletion,
  };
}

/** Deterministic uids: uid-1, uid-2, ... */
export function counterUid(prefix = 'uid'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

/** A small seeded PRNG returning [0, 1): the engine's own. */
export { seededRandom as seeded } from '../../src/engine.ts';

/** Reads exactly `n` events; every event the tests expect has already been committed, so this never waits on luck. */
export async function take<T extends WatchEvent>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) throw new Error(`watch ended after ${out.length} of ${n} events`);
    out.push(r.value);
  }
  return out;
}

/** `[type, name, resourceVersion]` triples, for compact assertions on event sequences. */
export function summary(events: readonly WatchEvent[]): [string, string | undefined, string | undefined][] {
  return events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]);
}

/** Runs `fn` and returns what it threw (fails when it does not throw). */
export async function caught(fn: () => unknown): Promise<Error & { code?: string; causes?: { field: string }[] }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}
