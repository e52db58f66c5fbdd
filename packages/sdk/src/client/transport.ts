/**
 * What the SDK needs from a backend. Two implementations: embedded (the engine in-process) and
 * kubernetes (any Kubernetes-compatible API server through @kubernetes/client-node). The client code
 * above this interface is shared, so both modes behave identically — one conformance suite runs on both.
 */
import type {
  Clock,
  DeleteOptions,
  Kind,
  KindMap,
  ListOptions,
  ListResult,
  PatchType,
  WatchEvent,
  WatchOptions,
} from '@virtkit/engine';

/** KubeVirt's subresource verbs on VirtualMachines (virtctl start/stop/restart/migrate). */
export type VmVerb = 'start' | 'stop' | 'restart' | 'migrate';
/** KubeVirt's subresource verbs on VirtualMachineInstances. */
export type VmiVerb = 'pause' | 'unpause' | 'softreboot';

export interface VerbBody {
  /** stop/restart: grace period override in seconds (0 = force off at once, like `virtctl stop --force --grace-period 0`). */
  gracePeriod?: number;
  /** migrate: labels the target node must have (KubeVirt's MigrateOptions.addedNodeSelector). */
  addedNodeSelector?: Record<string, string>;
}

export interface Transport {
  readonly mode: 'embedded' | 'kubernetes';
  /** The clock timeouts are measured on: the engine's (virtual in simulation) or wall time. */
  readonly clock: Clock;
  readonly defaultNamespace: string;
  create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]>;
  list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>>;
  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
  ): Promise<KindMap[K]>;
  delete<K extends Kind>(kind: K, namespace: string | undefined, name: string, options?: DeleteOptions): Promise<void>;
  watch<K extends Kind>(kind: K, options?: WatchOptions): AsyncIterable<WatchEvent<KindMap[K]>>;
  /** Resolves with what the server answered (for migrate: the VirtualMachineInstanceMigration, when it says). */
  vmVerb(namespace: string, name: string, verb: VmVerb, body?: VerbBody): Promise<unknown>;
  vmiVerb(namespace: string, name: string, verb: VmiVerb): Promise<void>;
  /** Serial console lines of a VMI: backlog then live, until the VMI stops or the signal aborts. */
  console(namespace: string, name: string, options?: { signal?: AbortSignal }): AsyncIterable<string>;
  close(): Promise<void>;
}
