/**
 * The ResourceStore port: Kubernetes API semantics over typed objects. Two implementations share one
 * contract test suite: in-memory (`MemoryStore`) and durable on disk (`SqliteStore`).
 *
 * Semantics (as the Kubernetes apiserver):
 * - `metadata.resourceVersion` is a decimal string from one monotonically increasing counter per store.
 * - `update` with a `resourceVersion` that is not the current one fails with `ConflictError`; an empty
 *   resourceVersion means unconditional update.
 * - `metadata.generation` starts at 1 and increments only when `spec` changes.
 * - For kinds with a status subresource, `update` ignores `status` and `updateStatus` ignores everything but `status`.
 * - `delete` of an object with finalizers sets `deletionTimestamp` and keeps it until the finalizers are
 *   removed by an update; then it is gone. Dependents whose ownerReferences name a deleted owner's uid are
 *   deleted in turn (propagationPolicy Background, the default) or have the reference removed (Orphan).
 * - `watch` yields ADDED/MODIFIED/DELETED with the object, plus BOOKMARK when asked. Starting from a
 *   resourceVersion older than the retained history fails with `GoneError` (410).
 */
import type { Kind, KindMap } from '../resources/kinds.ts';
import type { KubeObject } from '../resources/meta.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** For BOOKMARK: an object carrying only `metadata.resourceVersion`. */
  object: T;
}

export interface ListOptions {
  namespace?: string;
  /** Kubernetes label selector string, e.g. `app=web,tier!=db,env in (a,b)`. */
  labelSelector?: string;
  /** Kubernetes field selector string; supports `metadata.name`, `metadata.namespace`, `status.phase`, `status.nodeName`, `spec.vmiName`. */
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface WatchOptions extends ListOptions {
  /**
   * Where to start. Absent: synthetic ADDED for every current object, then changes. `'0'`: same.
   * Any other value: changes after that version (410 GoneError when history no longer has it).
   */
  resourceVersion?: string;
  allowBookmarks?: boolean;
  /** Stops the watch; the iterator then ends. */
  signal?: AbortSignal;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface PatchOptions {
  subresource?: 'status';
}

export interface ResourceStore {
  create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]>;
  /** Like get, but resolves undefined instead of throwing NotFoundError. */
  tryGet<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K] | undefined>;
  list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>>;
  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  updateStatus<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    options?: PatchOptions,
  ): Promise<KindMap[K]>;
  /** Resolves the object as stored after the call: with deletionTimestamp when finalizers hold it, else its last state. */
  delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<KindMap[K]>;
  watch<K extends Kind>(kind: K, options?: WatchOptions): AsyncIterable<WatchEvent<KindMap[K]>>;
  /** The store's current resourceVersion. */
  currentResourceVersion(): string;
  close(): Promise<void>;
}
