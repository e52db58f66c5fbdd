/**
 * `KubernetesStore`: the ResourceStore port over a Kubernetes API server, so the engine runs on a real
 * cluster with the apiserver (etcd, watches, garbage collection, RBAC) as its store.
 *
 * Where the port asks for more than one Kubernetes request gives, the gap is closed here:
 * - `delete` resolves the object's final state. An apiserver answers an immediate deletion of a custom
 *   resource with a bare `Status`, so the object is read first, deleted with its uid as a precondition
 *   (never someone else's re-creation), and the final state — with the deletion's resourceVersion — is
 *   read back from a watch that starts at the version read.
 * - `update` without a resourceVersion is unconditional in the port; apiservers refuse that for custom
 *   resources, so the current version is read and the write retried on conflict (last writer wins).
 * - `strategic` patches are sent as JSON merge patches (the port treats them so; custom resources reject
 *   strategic merge patches outright).
 * - Values JSON cannot carry, kind/apiVersion mismatches, namespaces on cluster-scoped kinds, malformed
 *   selectors, resourceVersions and delete options are refused before sending, with the same typed errors
 *   the in-process stores throw.
 * - `currentResourceVersion()` is synchronous in the port: it is the newest version this client has seen
 *   (answers, lists and watch events). `KubernetesStore.connect` primes it from the server.
 *
 * What cannot be the same as in-process: watch argument errors the server detects (a compacted or future
 * resourceVersion) surface on the first `next()` instead of from `watch()`; garbage collection of
 * dependents runs asynchronously on a real cluster (inline on virtkit's own API server); uids, names from
 * `generateName` and timestamps come from the server, not from injected generators.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  type DeleteOptions,
  type FieldCause,
  InvalidSpecError,
  KINDS,
  type Kind,
  type KindMap,
  type KubeObject,
  type ListOptions,
  type ListResult,
  NotFoundError,
  type PatchOptions,
  type PatchType,
  parseFieldSelector,
  parseLabelSelector,
  RealClock,
  RequestError,
  type ResourceStore,
  VirtkitError,
  type WatchEvent,
  type WatchOptions,
} from '@virtkit/engine';
import type { KubeStatus } from '../client/status-errors.ts';
import { assertJson, jsonProblem } from './json-body.ts';
import { KubeApi, type KubeApiOptions } from './kube-api.ts';
import { openWatchStream } from './watch-stream.ts';

/** Where a kind lives on the API server. */
export interface ApiResource {
  group: string;
  version: string;
  plural: string;
  /** The kind the server stores (may differ from the engine's kind, see `CLUSTER_NODE_RESOURCE`). */
  kind: string;
  namespaced: boolean;
}

/**
 * On a real cluster the engine's `Node` objects (hypervisor capacity, agent readiness, the engine's
 * taints) must not be the cluster's Nodes: kubelet owns their status, and the engine's unreachable
 * NoExecute taint would evict every pod on the node — the agent included. They are stored as
 * `HypervisorNode` (virtkit.io/v1, cluster-scoped; the CRD is in deploy/) and look like `v1 Node` to
 * the engine.
 */
export const CLUSTER_NODE_RESOURCE: ApiResource = {
  group: 'virtkit.io',
  version: 'v1',
  plural: 'hypervisornodes',
  kind: 'HypervisorNode',
  namespaced: false,
};

export interface KubernetesStoreOptions extends KubeApiOptions {
  /** Share an existing client (its kubeconfig and connections) instead of building one. */
  api?: KubeApi;
  /** Time for retries and watch resumption backoff. Default: the real clock. */
  clock?: Clock;
  /** Per-kind overrides of where objects live; default: the kind's own group/version/plural. */
  resources?: Partial<Record<Kind, ApiResource>>;
  /** Re-reads after a lost race, for unconditional updates and deletes. Default 10. */
  conflictRetries?: number;
  /** How long `delete` waits for the watch event with the deleted object's final state. Default 10 s. */
  deleteConfirmTimeoutMs?: number;
  /**
   * Seeded randomness in [0, 1) for `generateName`: names are then made here (same alphabet and length as
   * the apiserver's) and a collision is retried with a fresh suffix. Absent: the server makes the name.
   */
  random?: () => number;
}

const PATCH_CONTENT_TYPES: Record<string, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

const PROPAGATION = new Set(['Background', 'Foreground', 'Orphan']);
/** The apiserver's generateName alphabet (no vowels, no look-alikes), suffix length and prefix bound. */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NAME_SUFFIX = 5;
const NAME_PREFIX_MAX = 58;
const NAME_ATTEMPTS = 8;
const DECIMAL = /^\d+$/;

interface ListBody {
  items?: KubeObject[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

type Info = (typeof KINDS)[Kind];

export class KubernetesStore implements ResourceStore {
  readonly api: KubeApi;
  readonly clock: Clock;
  readonly #resources: Record<Kind, ApiResource>;
  readonly #retries: number;
  readonly #deleteConfirmMs: number;
  readonly #random: (() => number) | undefined;
  readonly #closing = new AbortController();
  #rv = 0n;
  #closed = false;
  /** Watch requests sent but not yet answered. */
  readonly #registering = new Set<Promise<void>>();

  constructor(options: KubernetesStoreOptions = {}) {
    this.api = options.api ?? new KubeApi(options);
    this.clock = options.clock ?? new RealClock();
    this.#retries = options.conflictRetries ?? 10;
    this.#deleteConfirmMs = options.deleteConfirmTimeoutMs ?? 10_000;
    this.#random = options.random;
    const resources = {} as Record<Kind, ApiResource>;
    for (const info of Object.values(KINDS)) {
      resources[info.kind] = options.resources?.[info.kind] ?? {
        group: info.group,
        version: info.version,
        plural: info.plural,
        kind: info.kind,
        namespaced: info.namespaced,
      };
    }
    this.#resources = resources;
  }

  /**
   * A store whose `currentResourceVersion()` already reflects the server. `sync` names what to list for
   * it (default: VirtualMachines in all namespaces) — something the credentials may list.
   */
  static async connect(
    options: KubernetesStoreOptions = {},
    sync: { kind?: Kind; namespace?: string } = {},
  ): Promise<KubernetesStore> {
    const store = new KubernetesStore(options);
    try {
      await store.sync(sync.kind, sync.namespace);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  get kubeConfig(): KubeConfig {
    return this.api.kubeConfig;
  }

  /** Learns the server's current resourceVersion (a one-item list of `kind`); resolves it. */
  async sync(kind: Kind = 'VirtualMachine', namespace?: string): Promise<string> {
    const ns = this.#info(kind).namespaced ? namespace : undefined;
    const body = await this.#call(kind, ns, undefined, () =>
      this.api.request<ListBody>(this.#path(kind, ns), { query: { limit: 1 } }),
    );
    this.#see(body.metadata?.resourceVersion);
    return this.currentResourceVersion();
  }

  currentResourceVersion(): string {
    return this.#rv.toString();
  }

  async create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    const info = this.#info(kind);
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new RequestError('BadRequest', `the ${kind} to create must be an object`);
    }
    const meta = (obj.metadata ?? {}) as KubeObject['metadata'];
    const label = meta.name || meta.generateName || '';
    this.#checkShape(info, obj, label);
    if (!info.namespaced && meta.namespace) {
      throw new InvalidSpecError(kind, label, [
        { field: 'metadata.namespace', reason: 'FieldValueForbidden', message: 'not allowed on cluster-scoped kinds' },
      ]);
    }
    const ns = info.namespaced ? meta.namespace || 'default' : undefined;
    const post = async (m: KubeObject['metadata']) => {
      const body = this.#encode(kind, { ...obj, metadata: ns === undefined ? m : { ...m, namespace: ns } });
      const created = await this.#call(kind, ns, m.name || label, () =>
        this.api.request<KubeObject>(this.#path(kind, ns), { method: 'POST', body }),
      );
      return this.#decode(kind, created) as KindMap[K];
    };
    const random = this.#random;
    if (meta.name || !meta.generateName || random === undefined) return post(meta);
    const prefix = meta.generateName.slice(0, NAME_PREFIX_MAX);
    for (let attempt = 1; ; attempt++) {
      let suffix = '';
      for (let i = 0; i < NAME_SUFFIX; i++) suffix += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)];
      try {
        return await post({ ...meta, name: prefix + suffix });
      } catch (err) {
        if (!(err instanceof AlreadyExistsError) || attempt >= NAME_ATTEMPTS) throw err;
      }
    }
  }

  async get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]> {
    const ns = this.#namespaceOf(kind, namespace, name);
    const obj = await this.#call(kind, ns, name, () => this.api.request<KubeObject>(this.#path(kind, ns, name)));
    return this.#decode(kind, obj) as KindMap[K];
  }

  async tryGet<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K] | undefined> {
    try {
      return await this.get(kind, namespace, name);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async list<K extends Kind>(kind: K, options: ListOptions = {}): Promise<ListResult<KindMap[K]>> {
    const info = this.#info(kind);
    this.#checkSelectors(options);
    const limit = options.limit;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      throw new RequestError('BadRequest', `limit must be a non-negative integer, got ${limit}`);
    }
    const ns = info.namespaced ? options.namespace : undefined;
    const body = await this.#call(kind, ns, undefined, () =>
      this.api.request<ListBody>(this.#path(kind, ns), {
        query: {
          labelSelector: options.labelSelector || undefined,
          fieldSelector: options.fieldSelector || undefined,
          limit: limit || undefined,
          continue: options.continue || undefined,
        },
      }),
    );
    const resourceVersion = body.metadata?.resourceVersion ?? this.currentResourceVersion();
    this.#see(resourceVersion);
    const out: ListResult<KindMap[K]> = {
      items: (body.items ?? []).map((o) => this.#decode(kind, o, false) as KindMap[K]),
      resourceVersion,
    };
    if (body.metadata?.continue) out.continue = body.metadata.continue;
    return out;
  }

  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    return this.#put(kind, obj, false);
  }

  updateStatus<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    if (!this.#info(kind).hasStatus) {
      throw new RequestError('BadRequest', `${kind} has no status subresource; write it with update`);
    }
    return this.#put(kind, obj, true);
  }

  async #put<K extends Kind>(kind: K, obj: KindMap[K], status: boolean): Promise<KindMap[K]> {
    const info = this.#info(kind);
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new RequestError('BadRequest', `the ${kind} to update must be an object`);
    }
    const meta = obj.metadata ?? {};
    const name = meta.name ?? '';
    this.#checkShape(info, obj, name);
    const ns = this.#namespaceOf(kind, info.namespaced ? meta.namespace : undefined, name);
    if (!info.namespaced && meta.namespace) {
      throw new InvalidSpecError(kind, name, [
        { field: 'metadata.namespace', reason: 'FieldValueForbidden', message: 'not allowed on cluster-scoped kinds' },
      ]);
    }
    const path = this.#path(kind, ns, name, status ? 'status' : undefined);
    const send = (rv: string | undefined) => {
      const m = { ...meta, ...(ns === undefined ? {} : { namespace: ns }) };
      if (rv === undefined) delete m.resourceVersion;
      else m.resourceVersion = rv;
      const body = this.#encode(kind, { ...obj, metadata: m });
      return this.#call(kind, ns, name, () => this.api.request<KubeObject>(path, { method: 'PUT', body }));
    };
    if (meta.resourceVersion) return this.#decode(kind, await send(meta.resourceVersion)) as KindMap[K];
    // Unconditional: write over whatever version is current, re-reading when someone wrote in between.
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(kind, ns, name);
      try {
        return this.#decode(kind, await send(current.metadata.resourceVersion)) as KindMap[K];
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= this.#retries) throw err;
      }
    }
  }

  async patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    options: PatchOptions = {},
  ): Promise<KindMap[K]> {
    const info = this.#info(kind);
    const contentType = PATCH_CONTENT_TYPES[type];
    if (contentType === undefined) {
      throw new RequestError('BadRequest', `unsupported patch type "${String(type)}": use merge, json or strategic`);
    }
    if (options.subresource !== undefined && (options.subresource !== 'status' || !info.hasStatus)) {
      throw new RequestError('BadRequest', `${kind} has no ${String(options.subresource)} subresource`);
    }
    const ns = this.#namespaceOf(kind, namespace, name);
    const problem = jsonProblem(patch, 'patch');
    if (problem) throw new RequestError('BadRequest', `${problem.field}: ${problem.message}`);
    if (type === 'json' ? !Array.isArray(patch) : typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new RequestError(
        'BadRequest',
        type === 'json' ? 'a JSON patch must be an array of operations' : 'a merge patch must be a JSON object',
      );
    }
    const renamed = renamingField(type, patch, { name, namespace: ns });
    if (renamed) {
      throw new InvalidSpecError(kind, name, [
        { field: `metadata.${renamed}`, reason: 'FieldValueInvalid', message: 'field is immutable' },
      ]);
    }
    const obj = await this.#call(kind, ns, name, () =>
      this.api.request<KubeObject>(this.#path(kind, ns, name, options.subresource), {
        method: 'PATCH',
        body: patch,
        contentType,
      }),
    );
    return this.#decode(kind, obj) as KindMap[K];
  }

  async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): Promise<KindMap[K]> {
    const ns = this.#namespaceOf(kind, namespace, name);
    const body = deleteBody(options);
    const own = options.preconditions?.uid === undefined && options.preconditions?.resourceVersion === undefined;
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(kind, ns, name);
      const preconditions = { ...options.preconditions };
      if (preconditions.uid === undefined && current.metadata.uid !== undefined)
        preconditions.uid = current.metadata.uid;
      let answer: KubeObject | KubeStatus;
      try {
        answer = await this.#call(kind, ns, name, () =>
          this.api.request<KubeObject | KubeStatus>(this.#path(kind, ns, name), {
            method: 'DELETE',
            body: { ...body, preconditions },
          }),
        );
      } catch (err) {
        // Our own uid precondition failed: the object was replaced after we read it. Delete the new one.
        if (own && err instanceof ConflictError && attempt < this.#retries) continue;
        throw err;
      }
      if ((answer as KubeStatus).kind !== 'Status') return this.#decode(kind, answer as KubeObject) as KindMap[K];
      return (await this.#finalState(kind, ns, name, current)) as KindMap[K];
    }
  }

  /** The deleted object as its DELETED event carries it (final state, deletion's resourceVersion). */
  async #finalState(kind: Kind, ns: string | undefined, name: string, read: KubeObject): Promise<KubeObject> {
    const ac = new AbortController();
    const timer = this.clock.setTimer(this.#deleteConfirmMs, () => ac.abort());
    try {
      const events = this.watch(kind, {
        ...(ns === undefined ? {} : { namespace: ns }),
        fieldSelector: `metadata.name=${name}`,
        resourceVersion: read.metadata.resourceVersion ?? '0',
        signal: ac.signal,
      });
      for await (const ev of events) {
        if (ev.type === 'DELETED' && ev.object.metadata.uid === read.metadata.uid) return ev.object;
      }
    } catch {
      // History compacted or the watch failed: the state read before the deletion is the best answer.
    } finally {
      timer.cancel();
      ac.abort();
    }
    return read;
  }

  watch<K extends Kind>(kind: K, options: WatchOptions = {}): AsyncIterable<WatchEvent<KindMap[K]>> {
    const info = this.#info(kind);
    this.#checkSelectors(options);
    const rv = options.resourceVersion;
    if (rv !== undefined && rv !== '' && !DECIMAL.test(rv)) {
      throw new RequestError('BadRequest', `"${rv}" is not a valid resourceVersion (a decimal integer)`);
    }
    const ns = info.namespaced ? options.namespace : undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, this.#closing.signal]) : this.#closing.signal;
    const { events, started } = openWatchStream({
      api: this.api,
      clock: this.clock,
      path: this.#path(kind, ns),
      query: {
        labelSelector: options.labelSelector || undefined,
        fieldSelector: options.fieldSelector || undefined,
      },
      resourceVersion: rv || undefined,
      allowBookmarks: options.allowBookmarks === true,
      signal,
      decode: (o) => this.#decode(kind, o, false),
      observe: (v) => this.#see(v),
    });
    // This client's later requests wait until the server registered the watch: they are then seen by it.
    this.#registering.add(started);
    void started.then(() => this.#registering.delete(started));
    return { [Symbol.asyncIterator]: () => events as AsyncIterableIterator<WatchEvent<KindMap[K]>> };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.api.close();
  }

  // --- helpers ---

  #info(kind: Kind): Info & { resource: ApiResource } {
    if (this.#closed) throw new VirtkitError('Internal', 'the store is closed', 503);
    if (!Object.hasOwn(KINDS, kind)) throw new RequestError('BadRequest', `unknown kind "${String(kind)}"`);
    return { ...KINDS[kind], resource: this.#resources[kind] };
  }

  /** The namespace a by-name call addresses; refuses what the in-process stores refuse. */
  #namespaceOf(kind: Kind, namespace: string | undefined, name: string): string | undefined {
    const info = this.#info(kind);
    if (typeof name !== 'string' || name === '') throw new RequestError('BadRequest', `${kind}: a name is required`);
    if (!info.namespaced) {
      if (namespace) throw new RequestError('BadRequest', `${kind} is cluster-scoped; it has no namespace`);
      return undefined;
    }
    return namespace || 'default';
  }

  #checkShape(info: Info, obj: KubeObject, name: string): void {
    assertJson(obj, info.kind, name);
    const causes: FieldCause[] = [];
    if (obj.apiVersion !== undefined && obj.apiVersion !== info.apiVersion) {
      causes.push({ field: 'apiVersion', reason: 'FieldValueInvalid', message: `must be ${info.apiVersion}` });
    }
    if (obj.kind !== undefined && obj.kind !== info.kind) {
      causes.push({ field: 'kind', reason: 'FieldValueInvalid', message: `must be ${info.kind}` });
    }
    if (causes.length) throw new InvalidSpecError(info.kind, name, causes);
  }

  #checkSelectors(options: ListOptions): void {
    if (options.labelSelector) parseLabelSelector(options.labelSelector);
    if (options.fieldSelector) parseFieldSelector(options.fieldSelector);
  }

  #path(kind: Kind, namespace: string | undefined, name?: string, subresource?: string): string {
    const r = this.#resources[kind];
    let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    if (r.namespaced && namespace !== undefined) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${r.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource !== undefined) p += `/${subresource}`;
    return p;
  }

  /** The object as the server stores it: the served apiVersion and kind. */
  #encode(kind: Kind, obj: KubeObject): KubeObject {
    const r = this.#resources[kind];
    return { ...obj, apiVersion: r.group ? `${r.group}/${r.version}` : r.version, kind: r.kind };
  }

  /** The object as the engine knows it; records its resourceVersion. */
  #decode(kind: Kind, obj: KubeObject, see = true): KubeObject {
    if (see) this.#see(obj.metadata?.resourceVersion);
    const info = KINDS[kind];
    obj.apiVersion = info.apiVersion;
    obj.kind = info.kind;
    // Field ownership is the API server's bookkeeping for its clients; the store contract has no
    // managedFields (client-go informers commonly drop them too), and the server keeps them across writes.
    if (obj.metadata && 'managedFields' in obj.metadata)
      delete (obj.metadata as { managedFields?: unknown }).managedFields;
    return obj;
  }

  #see(rv: string | undefined): void {
    if (rv === undefined || !DECIMAL.test(rv)) return;
    const n = BigInt(rv);
    if (n > this.#rv) this.#rv = n;
  }

  /** Runs one request, turning the server's answer into the error the in-process stores would throw. */
  async #call<T>(kind: Kind, ns: string | undefined, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.#registering.size > 0) await Promise.all(this.#registering);
    try {
      return await fn();
    } catch (err) {
      throw refineError(err, kind, ns, name);
    }
  }
}

/**
 * Which of name/namespace a patch would change. The apiserver refuses such a patch as a bad request (the
 * object would no longer match its URL); the port calls it an invalid object, so it is caught here.
 */
function renamingField(
  type: PatchType,
  patch: unknown,
  current: { name: string; namespace: string | undefined },
): 'name' | 'namespace' | undefined {
  const differs = (field: 'name' | 'namespace', v: unknown) =>
    typeof v === 'string' && v !== (current[field] ?? '') ? field : undefined;
  if (type !== 'json') {
    const meta = (patch as { metadata?: unknown }).metadata;
    if (typeof meta !== 'object' || meta === null) return undefined;
    const m = meta as Record<string, unknown>;
    return differs('name', m.name) ?? differs('namespace', m.namespace);
  }
  for (const op of patch as { op?: unknown; path?: unknown; value?: unknown }[]) {
    if (typeof op !== 'object' || op === null || op.op === 'test') continue;
    const field = op.path === '/metadata/name' ? 'name' : op.path === '/metadata/namespace' ? 'namespace' : undefined;
    if (field === undefined) continue;
    if (op.op === 'add' || op.op === 'replace') {
      if (differs(field, op.value)) return field;
    } else return field;
  }
  return undefined;
}

function deleteBody(options: DeleteOptions): Record<string, unknown> {
  if (typeof options !== 'object' || options === null) throw new RequestError('BadRequest', 'invalid delete options');
  const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
  const policy = options.propagationPolicy;
  if (policy !== undefined) {
    if (!PROPAGATION.has(policy)) {
      throw new RequestError(
        'BadRequest',
        `propagationPolicy: unsupported value "${String(policy)}": supported values: "Background", "Foreground", "Orphan"`,
      );
    }
    body.propagationPolicy = policy;
  }
  const grace = options.gracePeriodSeconds;
  if (grace !== undefined) {
    if (!Number.isSafeInteger(grace) || grace < 0) {
      throw new RequestError('BadRequest', `gracePeriodSeconds must be a non-negative integer, got ${grace}`);
    }
    body.gracePeriodSeconds = grace;
  }
  return body;
}

/**
 * A typed error naming the kind, name and namespace the caller used (the server's Status names the REST
 * resource instead), with field causes read from either spelling of StatusCause's reason.
 */
export function refineError(err: unknown, kind: Kind, ns: string | undefined, name: string | undefined): unknown {
  if (!(err instanceof VirtkitError)) return err;
  const status = (typeof err.cause === 'object' && err.cause !== null ? err.cause : {}) as KubeStatus & {
    details?: { causes?: { type?: string }[] };
  };
  const opts = { cause: err };
  const statusName = status.details?.name;
  switch (err.code) {
    case 'NotFound':
      // A create into a namespace that does not exist (real clusters) names the namespace.
      if (status.details?.kind === 'namespaces')
        return new NotFoundError('Namespace', statusName ?? ns ?? '', undefined, opts);
      return new NotFoundError(kind, name || statusName || '', ns, opts);
    case 'AlreadyExists':
      return new AlreadyExistsError(kind, statusName || name || '', ns, opts);
    case 'Invalid': {
      const causes: FieldCause[] = (status.details?.causes ?? [])
        .filter((c) => c.field !== 'virtkit.io/error')
        .map((c) => ({
          field: c.field ?? '',
          reason: c.reason ?? (c as { type?: string }).type ?? 'FieldValueInvalid',
          message: c.message ?? '',
        }));
      if (causes.length === 0 && status.message)
        causes.push({ field: '', reason: 'FieldValueInvalid', message: status.message });
      return new InvalidSpecError(kind, name || statusName || '', causes, opts);
    }
    default:
      return err;
  }
}
