/**
 * The ResourceStore port: Kubernetes API semantics over typed objects. Two implementations share one
 * contract test suite (packages/engine/test/store/contract.ts): in-memory (`MemoryStore`) and durable on
 * disk (`SqliteStore`).
 *
 * Semantics (as the Kubernetes apiserver):
 * - `metadata.resourceVersion` is a decimal string from one monotonically increasing counter per store; every
 *   change (cascaded ones included) takes the next value, a failed write takes none, a no-op update takes none.
 * - `create` assigns `uid`, `creationTimestamp` (injected clock), `generation: 1` and the default namespace
 *   (`default`) for namespaced kinds; it rejects a namespace on cluster-scoped kinds and a preset
 *   resourceVersion. `generateName` adds five random characters. For kinds with a status subresource the
 *   `status` sent on create is dropped, as the apiserver does for CRDs: write it with `updateStatus`.
 * - `update` with a `resourceVersion` that is not the current one fails with `ConflictError`; an empty
 *   resourceVersion means unconditional update. `uid` cannot change (InvalidSpecError); `creationTimestamp`,
 *   `deletionTimestamp` and `generation` are kept from the stored object whatever the request says. An update
 *   that changes nothing returns the stored object unchanged and emits no event.
 * - `metadata.generation` starts at 1 and increments when `spec` changes — and, as in Kubernetes, once more
 *   when a deletion is recorded (`deletionTimestamp` set).
 * - For kinds with a status subresource, `update` ignores `status` and `updateStatus` ignores everything but
 *   `status`. Kinds without one (Event, Lease) are written whole by `update`; `updateStatus` is refused.
 * - `delete` of an object with finalizers sets `deletionTimestamp` and keeps it until the finalizers are
 *   removed by an update or patch; then it is gone. No finalizer may be added while it is deleting.
 * - Garbage collection by `ownerReferences[].uid`, across kinds, runs to completion inside the deleting call:
 *   Background (default): once the owner is gone its dependents are deleted (each honouring its own
 *   finalizers), except that a dependent with another existing owner only loses the dangling reference.
 *   Orphan: dependents lose their reference to the owner and stay (a stored `orphan` finalizer means the same).
 *   Foreground: the owner gets `deletionTimestamp` and the `foregroundDeletion` finalizer, its dependents are
 *   deleted, and it goes away once no dependent with `blockOwnerDeletion: true` remains.
 *   An object written with references to owners that no longer exist (a controller racing a delete) loses the
 *   dangling references, and is deleted when none of its owners exists. References to kinds the store does not
 *   hold are never judged dangling.
 * - `list` returns items sorted by namespace, then name. With `limit`, `continue` tokens are opaque and serve
 *   later pages from the same snapshot as the first (same `resourceVersion`); a token older than the retained
 *   history fails with `GoneError`.
 * - `watch` yields ADDED/MODIFIED/DELETED with the object, plus BOOKMARK when asked. Starting from a
 *   resourceVersion older than the retained history fails with `GoneError` (410).
 * - Every object handed out is the caller's own copy; mutating it never affects the store.
 * - Invalid arguments fail with typed errors: `RequestError('BadRequest')` for bad selectors, options or
 *   patches, `InvalidSpecError` (with a cause per field) for invalid objects, `RequestError('TooLarge')` for
 *   oversized ones.
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
  /**
   * Kubernetes field selector string (`=`, `==`, `!=`, comma-separated). Supports `metadata.name`,
   * `metadata.namespace`, `status.phase`, `status.nodeName`, `spec.nodeName`, `spec.vmiName`,
   * `spec.unschedulable`, `involvedObject.{name,kind,namespace,uid}`, `reason` and `type`; an absent field
   * compares as the empty string. Other fields fail with `RequestError('BadRequest')`.
   */
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

/**
 * Watch semantics beyond the basics:
 * - With a label/field selector, an object that stops matching arrives as DELETED (its last matching state,
 *   carrying the new resourceVersion) and one that starts matching as ADDED, as from the apiserver's watch cache.
 * - The watch is registered when `watch()` is called, so nothing committed afterwards is missed. Argument
 *   problems throw from `watch()` itself: `RequestError` (bad selector or resourceVersion), `GoneError`
 *   (compacted resourceVersion), `TimeoutError` (a resourceVersion the store has not reached).
 * - Writers never wait for watchers. A consumer more than the store's `watchBufferLimit` live events behind is
 *   cut off: it still receives what was queued, then the iterator throws `GoneError`; watch again from the last
 *   resourceVersion seen (or relist).
 * - `limit` and `continue` are ignored.
 */
export interface WatchOptions extends ListOptions {
  /**
   * Where to start. Absent: synthetic ADDED for every current object, then changes. `'0'`: same.
   * Any other value: changes after that version (410 GoneError when history no longer has it).
   */
  resourceVersion?: string;
  /**
   * BOOKMARK events (object: apiVersion, kind and `metadata.resourceVersion` only): one right after the
   * synthetic ADDED events, then one every `bookmarkIntervalMs` of the store's clock.
   */
  allowBookmarks?: boolean;
  /** Stops the watch; the iterator then ends (a pending `next()` resolves done). */
  signal?: AbortSignal;
  /**
   * For read-only consumers (an informer's cache): event objects may be the store's own deep-frozen
   * instances, shared with every other such consumer, instead of a copy per event. Mutating one throws.
   * Optional to honour: a store may always hand out copies.
   */
  shared?: boolean;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
}

export type PatchType = 'merge' | 'json' | 'strategic';

/** Options of the writes that resolve with the stored object. */
export interface WriteOptions {
  /**
   * For callers that only read the result (a controller feeding it to its informer): it may be the
   * store's own deep-frozen object instead of a copy. Mutating it throws. Optional to honour: a store may
   * always resolve with a copy.
   */
  shared?: boolean;
}

/**
 * `merge`: JSON merge patch (RFC 7386). `json`: JSON patch (RFC 6902); a failing `test` or a path that does not
 * exist fails with `InvalidSpecError`. `strategic`: treated as `merge`. A patch that sets
 * `metadata.resourceVersion` makes it a precondition (`ConflictError` when stale).
 */
export interface PatchOptions extends WriteOptions {
  /** `'status'`: only the patched `status` is written (kinds with a status subresource only). */
  subresource?: 'status';
}

export interface ResourceStore {
  create<K extends Kind>(kind: K, obj: KindMap[K], options?: WriteOptions): Promise<KindMap[K]>;
  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]>;
  /** Like get, but resolves undefined instead of throwing NotFoundError. */
  tryGet<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K] | undefined>;
  list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>>;
  update<K extends Kind>(kind: K, obj: KindMap[K], options?: WriteOptions): Promise<KindMap[K]>;
  updateStatus<K extends Kind>(kind: K, obj: KindMap[K], options?: WriteOptions): Promise<KindMap[K]>;
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
