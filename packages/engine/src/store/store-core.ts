/**
 * The ResourceStore semantics, once, for every implementation. State lives in memory (an index per kind, a
 * uid index, an owner→dependents index and a bounded history); an optional `StoreBackend` makes each
 * committed batch durable before anyone can observe it. Every operation runs synchronously to completion,
 * cascades included, inside one transaction: either the whole batch commits (backend first, then memory
 * and watchers see it) or nothing changes.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { RealClock } from '../clock/real-clock.ts';
import {
  AlreadyExistsError,
  ConflictError,
  type FieldCause,
  GoneError,
  InvalidSpecError,
  NotFoundError,
  RequestError,
  TimeoutError,
  VirtkitError,
} from '../errors.ts';
import { type Clock, isoTime, type TimerHandle } from '../ports/clock.ts';
import type {
  DeleteOptions,
  ListOptions,
  ListResult,
  PatchOptions,
  PatchType,
  ResourceStore,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from '../ports/resource-store.ts';
import { KINDS, type Kind, type KindInfo, type KindMap, kindInfo } from '../resources/kinds.ts';
import type { KubeObject, ObjectMeta, OwnerReference } from '../resources/meta.ts';
import { HistoryRing, type StoreEvent } from './history.ts';
import {
  cloneJson,
  deepFreeze,
  isJsonObject,
  JsonShapeError,
  JsonSizeError,
  jsonEqual,
  jsonSize,
  toJsonObjectReusing,
  toJsonValue,
} from './json.ts';
import { applyJsonPatch, applyMergePatch } from './patch.ts';
import {
  type ParsedFieldSelector,
  type ParsedLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.ts';
import { namespaceProblem, objectNameProblem, validateMetadata } from './validation.ts';
import { Watcher } from './watcher.ts';

export interface StoreOptions {
  /** Source of creationTimestamp/deletionTimestamp and of bookmark timers. Default: RealClock. */
  clock?: Clock;
  /** Source of metadata.uid. Default: crypto.randomUUID. Must never repeat. */
  uid?: () => string;
  /** Uniform random number in [0, 1) for generateName suffixes. Default: node:crypto. */
  random?: () => number;
  /** How many change events are kept for watch resumption and paginated lists. Default 10,000. */
  historyLimit?: number;
  /**
   * How many live events a watcher may have queued before it is cut off with `GoneError`. Initial
   * (synthetic ADDED) and replayed events do not count. Default 10,000.
   */
  watchBufferLimit?: number;
  /** Period of BOOKMARK events for watches with `allowBookmarks`, in clock milliseconds. Default 60,000. */
  bookmarkIntervalMs?: number;
  /** Largest object accepted, in approximate serialized bytes; larger ones get `RequestError('TooLarge')`. Default 1.5 MiB. */
  maxObjectBytes?: number;
}

/** Makes committed batches durable. `commit` runs before memory changes; throwing aborts the whole batch. */
export interface StoreBackend {
  commit(events: readonly StoreEvent[], resourceVersion: number): void;
  close(): void;
}

/** State a durable backend recovered, handed to the core at construction. */
export interface StoreState {
  resourceVersion: number;
  /** Current objects, deep-frozen. */
  objects: Iterable<KubeObject>;
  /** The newest events, contiguous, the last one having `resourceVersion` (empty is fine). */
  history: readonly StoreEvent[];
}

const FOREGROUND = 'foregroundDeletion';
const ORPHAN = 'orphan';
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const DEFAULT_MAX_OBJECT_BYTES = 1536 * 1024;
/** Default `historyLimit`. */
export const DEFAULT_HISTORY_LIMIT = 10_000;

type WorkItem = { t: 'collect'; uid: string } | { t: 'foreground'; uid: string } | { t: 'verify'; id: string };

interface Txn {
  startRv: number;
  events: StoreEvent[];
  undo: { kind: Kind; key: string; prev: KubeObject | undefined }[];
  work: WorkItem[];
  /** Owners whose foreground deletion may have been unblocked; checked once the other work is done. */
  release: Set<string>;
}

interface KindTable {
  objects: Map<string, KubeObject>;
  /** Keys in sorted order, rebuilt lazily after an insert or removal. */
  sorted: string[] | undefined;
  /**
   * Per stored object, the sizes of its object-valued members as `toJsonValue` counts them. A write that
   * carries such a member over unchanged (the same frozen subtree: an informer's object edited, the part
   * a patch leaves alone) is not walked again; a member without a known size is measured on demand.
   */
  sizes: Map<string, MemberSizes>;
}

interface WatchRegistration {
  kind: Kind;
  watcher: Watcher;
  namespace: string | undefined;
  label: ParsedLabelSelector | undefined;
  field: ParsedFieldSelector | undefined;
  timer: TimerHandle | undefined;
}

interface ContinueToken {
  kind: Kind;
  rv: number;
  after: string;
}

/** Sizes (as `toJsonValue` counts them) of a stored object's object-valued members; -1: not measured yet. */
interface MemberSizes {
  obj: KubeObject;
  nodes: object[];
  bytes: number[];
}

/** What `#normalize` may take from the stored object an update names without checking it again. */
interface StoredParts {
  /** Sizes of subtrees validated before (the stored object's members, a patch body's values). */
  known: (node: object) => number | undefined;
  /** The stored object's metadata: validated when it was written. */
  metadata: object;
}

/** A handful of members: a scan beats a map. */
function sizeOf(rec: MemberSizes, node: object): number | undefined {
  for (let i = 0; i < rec.nodes.length; i++) {
    if (rec.nodes[i] === node) {
      const n = rec.bytes[i]!;
      return n < 0 ? undefined : n;
    }
  }
  return undefined;
}

const idOf = (kind: Kind, key: string) => `${kind}|${key}`;
/** Deleting and waiting for its blocking dependents (foreground deletion). */
const waitsForDependents = (obj: KubeObject) =>
  obj.metadata.deletionTimestamp !== undefined && (obj.metadata.finalizers ?? []).includes(FOREGROUND);
const splitId = (id: string): [Kind, string] => {
  const bar = id.indexOf('|');
  return [id.slice(0, bar) as Kind, id.slice(bar + 1)];
};
const nsOf = (obj: KubeObject) => obj.metadata.namespace ?? '';
const finalizersOf = (obj: KubeObject): readonly string[] => obj.metadata.finalizers ?? [];
const refsOf = (obj: KubeObject): readonly OwnerReference[] => obj.metadata.ownerReferences ?? [];

function sameOwners(a: KubeObject | undefined, b: KubeObject): boolean {
  const ra = a === undefined ? [] : refsOf(a);
  const rb = refsOf(b);
  return ra.length === rb.length && ra.every((r, i) => r.uid === rb[i]!.uid);
}

function lowerBound(keys: readonly string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function resourceName(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** Replaces metadata fields; `undefined` removes a field. Result is frozen. */
function withMeta(obj: KubeObject, changes: Partial<Record<keyof ObjectMeta, unknown>>): KubeObject {
  const meta: Record<string, unknown> = { ...obj.metadata };
  for (const k in changes) {
    const v = changes[k as keyof ObjectMeta];
    if (v === undefined) delete meta[k];
    else meta[k] = v;
  }
  return deepFreeze({ ...obj, metadata: meta as ObjectMeta });
}

/** Empty lists and maps in metadata are dropped, as JSON `omitempty` does in Kubernetes, so they never differ from absent. */
function dropEmptyMeta(meta: Record<string, unknown>): void {
  for (const f of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
    const v = meta[f];
    if (Array.isArray(v) ? v.length === 0 : isJsonObject(v) && Object.keys(v).length === 0) delete meta[f];
  }
  for (const f of ['generateName', 'resourceVersion', 'uid'] as const) if (meta[f] === '') delete meta[f];
}

function parseRv(value: string, what: string): number {
  if (!/^(0|[1-9]\d{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new RequestError('BadRequest', `${what}: "${value}" is not a valid resourceVersion (a decimal integer)`);
  }
  return Number(value);
}

export class StoreCore implements ResourceStore {
  readonly #clock: Clock;
  readonly #uid: () => string;
  readonly #random: () => number;
  readonly #bookmarkIntervalMs: number;
  readonly #watchBufferLimit: number;
  readonly #maxObjectBytes: number;
  readonly #backend: StoreBackend | undefined;
  readonly #tables = new Map<Kind, KindTable>();
  readonly #byUid = new Map<string, string>();
  readonly #dependents = new Map<string, Set<string>>();
  readonly #watchers = new Map<Kind, Set<WatchRegistration>>();
  /** Uids of objects waiting for their dependents (deleting, with the foregroundDeletion finalizer). */
  readonly #foreground = new Set<string>();
  readonly #history: HistoryRing;
  #rv: number;
  #txn: Txn | undefined;
  #closed = false;

  constructor(options: StoreOptions = {}, backend?: StoreBackend, state?: StoreState) {
    const positive = (name: keyof StoreOptions, fallback: number): number => {
      const v = options[name];
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        throw new RequestError('BadRequest', `store option ${name} must be a positive integer, got ${String(v)}`);
      }
      return v;
    };
    this.#clock = options.clock ?? new RealClock();
    this.#uid = options.uid ?? randomUUID;
    this.#random = options.random ?? (() => randomInt(0x1000000) / 0x1000000);
    this.#bookmarkIntervalMs = positive('bookmarkIntervalMs', 60_000);
    this.#watchBufferLimit = positive('watchBufferLimit', 10_000);
    this.#maxObjectBytes = positive('maxObjectBytes', DEFAULT_MAX_OBJECT_BYTES);
    const historyLimit = positive('historyLimit', DEFAULT_HISTORY_LIMIT);
    this.#backend = backend;
    this.#rv = state?.resourceVersion ?? 0;
    const history = state?.history.slice(-historyLimit) ?? [];
    this.#history = new HistoryRing(historyLimit, this.#rv - history.length);
    for (const ev of history) this.#history.push(ev);
    for (const obj of state?.objects ?? []) {
      const info = KINDS[obj.kind as Kind];
      this.#apply(info.kind, this.#keyFor(info, nsOf(obj), obj.metadata.name!), undefined, obj);
    }
  }

  // ---------------------------------------------------------------- reads

  async get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]> {
    const { info, key, ns } = this.#locate(kind, namespace, name);
    const obj = this.#table(kind).objects.get(key);
    if (!obj) throw new NotFoundError(info.kind, name, ns);
    return cloneJson(obj) as KindMap[K];
  }

  async tryGet<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K] | undefined> {
    const { key } = this.#locate(kind, namespace, name);
    const obj = this.#table(kind).objects.get(key);
    return obj === undefined ? undefined : (cloneJson(obj) as KindMap[K]);
  }

  async list<K extends Kind>(kind: K, options: ListOptions = {}): Promise<ListResult<KindMap[K]>> {
    this.#open();
    const info = this.#info(kind);
    const filter = this.#filter(info, options);
    const limit = options.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RequestError('BadRequest', `list: limit must be a non-negative integer, got ${String(options.limit)}`);
    }
    let rv = this.#rv;
    let after: string | undefined;
    if (options.continue !== undefined && options.continue !== '') {
      const token = this.#decodeContinue(options.continue, info);
      rv = token.rv;
      after = token.after;
    }
    const snap = this.#snapshotAt(info.kind, rv);
    const prefix = filter.namespace === undefined ? undefined : `${filter.namespace}/`;
    let i = 0;
    if (after !== undefined) {
      i = lowerBound(snap.keys, after);
      if (snap.keys[i] === after) i++;
    }
    if (prefix !== undefined) i = Math.max(i, lowerBound(snap.keys, prefix));
    const items: KindMap[K][] = [];
    let lastKey: string | undefined;
    let more = false;
    for (; i < snap.keys.length; i++) {
      const key = snap.keys[i]!;
      if (prefix !== undefined && !key.startsWith(prefix)) break;
      const obj = snap.get(key);
      if (obj === undefined || !this.#matches(filter, obj)) continue;
      if (limit > 0 && items.length === limit) {
        more = true;
        break;
      }
      items.push(cloneJson(obj) as KindMap[K]);
      lastKey = key;
    }
    const result: ListResult<KindMap[K]> = { items, resourceVersion: String(rv) };
    if (more && lastKey !== undefined) result.continue = this.#encodeContinue({ kind: info.kind, rv, after: lastKey });
    return result;
  }

  currentResourceVersion(): string {
    return String(this.#rv);
  }

  // ---------------------------------------------------------------- writes

  async create<K extends Kind>(kind: K, obj: KindMap[K], options: WriteOptions = {}): Promise<KindMap[K]> {
    const info = this.#info(kind);
    const input = this.#normalize(info, obj, 'create', new Map());
    return this.#transact(() => this.#create(info, input), options) as KindMap[K];
  }

  async update<K extends Kind>(kind: K, obj: KindMap[K], options: WriteOptions = {}): Promise<KindMap[K]> {
    const info = this.#info(kind);
    const sizes = new Map<object, number>();
    const stored = this.#storedFor(info, obj);
    const input = this.#normalize(info, obj, 'update', sizes, stored);
    return this.#transact(() => this.#remember(info.kind, this.#update(info, input), sizes), options) as KindMap[K];
  }

  async updateStatus<K extends Kind>(kind: K, obj: KindMap[K], options: WriteOptions = {}): Promise<KindMap[K]> {
    const info = this.#info(kind);
    if (!info.hasStatus) {
      throw new RequestError('BadRequest', `${kind} has no status subresource; write its status with update`);
    }
    const sizes = new Map<object, number>();
    const stored = this.#storedFor(info, obj);
    const input = this.#normalize(info, obj, 'update', sizes, stored);
    return this.#transact(
      () => this.#remember(info.kind, this.#updateStatus(info, input), sizes),
      options,
    ) as KindMap[K];
  }

  async patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    options: PatchOptions = {},
  ): Promise<KindMap[K]> {
    const { info, key, ns } = this.#locate(kind, namespace, name);
    if (type !== 'merge' && type !== 'json' && type !== 'strategic') {
      throw new RequestError(
        'BadRequest',
        `patch: unsupported patch type ${JSON.stringify(type)}; use merge, json or strategic`,
      );
    }
    const sub = options.subresource;
    if (sub !== undefined && sub !== 'status') {
      throw new RequestError('BadRequest', `patch: unknown subresource ${JSON.stringify(sub)}`);
    }
    if (sub === 'status' && !info.hasStatus) {
      throw new RequestError('BadRequest', `${kind} has no status subresource; patch it without subresource`);
    }
    let body: unknown;
    // The operations' values (json) or members (merge) the patched object may carry over as they are.
    const bodySizes = new Map<object, number>();
    try {
      body = toJsonValue(patch, 'patch', {
        maxBytes: this.#maxObjectBytes,
        collect: { depth: type === 'json' ? 2 : 1, into: bodySizes },
      });
    } catch (e) {
      throw this.#shapeError(info, name, e);
    }
    if (type !== 'json' && !isJsonObject(body)) {
      throw new RequestError('BadRequest', `patch: a ${type} patch must be a JSON object`);
    }
    return this.#transact(() => {
      const current = this.#table(info.kind).objects.get(key);
      if (!current) throw new NotFoundError(info.kind, name, ns);
      const target = { kind: info.kind, name };
      // Both the stored object and the validated body are frozen: the result shares what the patch leaves alone.
      const patched =
        type === 'json'
          ? applyJsonPatch(current, body, target, { share: true })
          : applyMergePatch(current, body, { share: true });
      if (!isJsonObject(patched)) throw new RequestError('BadRequest', 'patch: the result is not an object');
      const meta = isJsonObject(patched.metadata) ? patched.metadata : {};
      const causes: FieldCause[] = [];
      if (meta.name !== name)
        causes.push({ field: 'metadata.name', reason: 'FieldValueInvalid', message: 'field is immutable' });
      if (info.namespaced && meta.namespace !== ns) {
        causes.push({ field: 'metadata.namespace', reason: 'FieldValueInvalid', message: 'field is immutable' });
      }
      if (causes.length > 0) throw new InvalidSpecError(info.kind, name, causes);
      const stored = this.#memberSizesOf(info.kind, key, current);
      const sizes = new Map<object, number>();
      const input = this.#normalize(info, patched, 'update', sizes, {
        known: (n) => sizeOf(stored, n) ?? bodySizes.get(n),
        metadata: current.metadata,
      });
      return this.#remember(
        info.kind,
        sub === 'status' ? this.#updateStatus(info, input) : this.#update(info, input),
        sizes,
      );
    }, options) as KindMap[K];
  }

  async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): Promise<KindMap[K]> {
    const { info, key, ns } = this.#locate(kind, namespace, name);
    const policy = options.propagationPolicy ?? 'Background';
    if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
      throw new RequestError(
        'BadRequest',
        `delete: propagationPolicy must be Background, Foreground or Orphan, got ${JSON.stringify(policy)}`,
      );
    }
    const grace = options.gracePeriodSeconds;
    if (grace !== undefined && (!Number.isSafeInteger(grace) || grace < 0)) {
      throw new RequestError(
        'BadRequest',
        `delete: gracePeriodSeconds must be a non-negative integer, got ${String(grace)}`,
      );
    }
    return this.#transact(() => {
      const current = this.#table(info.kind).objects.get(key);
      if (!current) throw new NotFoundError(info.kind, name, ns);
      const pre = options.preconditions;
      if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${resourceName(info)} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${resourceName(info)} "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }
      return this.#delete(info.kind, key, policy, grace);
    }) as KindMap[K];
  }

  // ---------------------------------------------------------------- watch

  /**
   * Registers the watch synchronously, so nothing committed after this call is missed. Argument problems throw
   * right here: `RequestError` for bad selectors or resourceVersion, `GoneError` for a compacted one,
   * `TimeoutError` for one the store has not reached.
   */
  watch<K extends Kind>(kind: K, options: WatchOptions = {}): AsyncIterable<WatchEvent<KindMap[K]>> {
    this.#open();
    const info = this.#info(kind);
    const filter = this.#filter(info, options);
    const rvOption = options.resourceVersion ?? '';
    const from = rvOption === '' || rvOption === '0' ? undefined : parseRv(rvOption, 'watch');
    if (from !== undefined && from > this.#rv) {
      throw new TimeoutError(`Too large resource version: ${from}, current: ${this.#rv}`);
    }
    if (from !== undefined && from < this.#history.floor) {
      throw new GoneError(`too old resource version: ${from} (${this.#history.floor + 1})`);
    }
    const set = this.#watchers.get(info.kind) ?? new Set<WatchRegistration>();
    this.#watchers.set(info.kind, set);
    const signal = options.signal;
    const onAbort = () => reg.watcher.end();
    const reg: WatchRegistration = {
      kind: info.kind,
      namespace: filter.namespace,
      label: filter.label,
      field: filter.field,
      timer: undefined,
      watcher: new Watcher(
        this.#watchBufferLimit,
        () => {
          set.delete(reg);
          reg.timer?.cancel();
          signal?.removeEventListener('abort', onAbort);
        },
        options.shared === true,
      ),
    };
    if (signal?.aborted) {
      reg.watcher.end();
      return reg.watcher as AsyncIterable<WatchEvent<KindMap[K]>>;
    }
    set.add(reg);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (from === undefined) {
      const table = this.#table(info.kind);
      const prefix = filter.namespace === undefined ? undefined : `${filter.namespace}/`;
      for (const key of this.#sortedKeys(table)) {
        if (prefix !== undefined && !key.startsWith(prefix)) continue;
        const obj = table.objects.get(key)!;
        if (this.#matches(filter, obj)) reg.watcher.push('ADDED', obj, true);
      }
      if (options.allowBookmarks) reg.watcher.push('BOOKMARK', this.#bookmark(info), true);
    } else {
      for (const ev of this.#history.since(from)) if (ev.kind === info.kind) this.#deliver(reg, ev, true);
    }
    if (options.allowBookmarks) {
      const tick = () => {
        if (!reg.watcher.active) return;
        reg.watcher.push('BOOKMARK', this.#bookmark(info));
        reg.timer = this.#clock.setTimer(this.#bookmarkIntervalMs, tick);
      };
      reg.timer = this.#clock.setTimer(this.#bookmarkIntervalMs, tick);
    }
    return reg.watcher as AsyncIterable<WatchEvent<KindMap[K]>>;
  }

  /** Ends every watch, then releases the backend. Further calls fail; closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const set of this.#watchers.values()) for (const reg of [...set]) reg.watcher.end();
    this.#watchers.clear();
    this.#backend?.close();
  }

  /** Number of active watches (all kinds); for diagnostics and tests of watcher cleanup. */
  get watcherCount(): number {
    let n = 0;
    for (const set of this.#watchers.values()) n += set.size;
    return n;
  }

  /** The oldest resourceVersion a watch can resume from (events after it are retained). */
  get oldestResumableResourceVersion(): string {
    return String(this.#history.floor);
  }

  // ---------------------------------------------------------------- operations (inside a transaction)

  #create(info: KindInfo, input: KubeObject): KubeObject {
    const meta = input.metadata as Record<string, unknown>;
    const causes: FieldCause[] = [];
    const ns = this.#namespaceFor(info, meta.namespace, causes);
    if (meta.resourceVersion !== undefined) {
      causes.push({
        field: 'metadata.resourceVersion',
        reason: 'FieldValueForbidden',
        message: 'must not be set on create',
      });
    }
    const table = this.#table(info.kind);
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '') {
      const prefix = typeof meta.generateName === 'string' ? meta.generateName : '';
      if (prefix === '') {
        causes.push({
          field: 'metadata.name',
          reason: 'FieldValueRequired',
          message: 'name or generateName is required',
        });
      } else {
        // Like the apiserver: at most 58 characters of prefix, then five random characters.
        for (let attempt = 0; attempt < 8; attempt++) {
          name = prefix.slice(0, 58) + this.#suffix();
          if (!table.objects.has(this.#keyFor(info, ns, name))) break;
        }
      }
    }
    if (name !== '') {
      const problem = objectNameProblem(name);
      if (problem)
        causes.push({ field: 'metadata.name', reason: 'FieldValueInvalid', message: `"${name}": ${problem}` });
    }
    if (causes.length > 0) throw new InvalidSpecError(info.kind, name, causes);
    const key = this.#keyFor(info, ns, name);
    if (table.objects.has(key)) throw new AlreadyExistsError(info.kind, name, info.namespaced ? ns : undefined);
    const uid = this.#uid();
    if (typeof uid !== 'string' || uid === '' || this.#byUid.has(uid)) {
      throw new VirtkitError(
        'Internal',
        `the uid source returned ${JSON.stringify(uid)}, which is empty or already in use`,
        500,
      );
    }
    const newMeta: Record<string, unknown> = { ...meta, name };
    if (info.namespaced) newMeta.namespace = ns;
    else delete newMeta.namespace;
    newMeta.uid = uid;
    newMeta.creationTimestamp = isoTime(this.#clock.now());
    newMeta.generation = 1;
    for (const f of ['resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) delete newMeta[f];
    dropEmptyMeta(newMeta);
    const obj: Record<string, unknown> = { ...input, apiVersion: info.apiVersion, kind: info.kind, metadata: newMeta };
    // A status subresource is written only through it; the apiserver drops status sent on create.
    if (info.hasStatus) delete obj.status;
    return this.#commit(info.kind, key, 'ADDED', deepFreeze(obj as KubeObject));
  }

  #update(info: KindInfo, input: KubeObject): KubeObject {
    const { key, existing, name } = this.#existingFor(info, input);
    const meta: Record<string, unknown> = { ...input.metadata };
    const em = existing.metadata;
    meta.name = em.name;
    if (info.namespaced) meta.namespace = em.namespace;
    else delete meta.namespace;
    meta.uid = em.uid;
    meta.creationTimestamp = em.creationTimestamp;
    const specChanged = !jsonEqual(input.spec, existing.spec);
    meta.generation = (em.generation ?? 0) + (specChanged ? 1 : 0);
    meta.deletionTimestamp = em.deletionTimestamp;
    meta.deletionGracePeriodSeconds = em.deletionGracePeriodSeconds;
    meta.resourceVersion = em.resourceVersion;
    for (const [k, v] of Object.entries(meta)) if (v === undefined) delete meta[k];
    dropEmptyMeta(meta);
    if (em.deletionTimestamp !== undefined) {
      const before = new Set(finalizersOf(existing));
      const added = ((meta.finalizers as string[] | undefined) ?? []).filter((f) => !before.has(f));
      if (added.length > 0) {
        throw new InvalidSpecError(info.kind, name, [
          {
            field: 'metadata.finalizers',
            reason: 'FieldValueForbidden',
            message: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      }
    }
    const next: Record<string, unknown> = { ...input, apiVersion: info.apiVersion, kind: info.kind, metadata: meta };
    if (info.hasStatus) {
      if (existing.status === undefined) delete next.status;
      else next.status = existing.status;
    }
    const candidate = deepFreeze(next as KubeObject);
    if (jsonEqual(candidate, existing)) return existing;
    if (em.deletionTimestamp !== undefined && finalizersOf(candidate).length === 0) {
      return this.#remove(info.kind, key, candidate);
    }
    return this.#commit(info.kind, key, 'MODIFIED', candidate);
  }

  #updateStatus(info: KindInfo, input: KubeObject): KubeObject {
    const { key, existing } = this.#existingFor(info, input);
    const next: Record<string, unknown> = { ...existing };
    if (input.status === undefined) delete next.status;
    else next.status = input.status;
    const candidate = deepFreeze(next as KubeObject);
    if (jsonEqual(candidate, existing)) return existing;
    return this.#commit(info.kind, key, 'MODIFIED', candidate);
  }

  /** Deletes or marks for deletion, honouring finalizers and the propagation policy. */
  #delete(kind: Kind, key: string, policy: 'Background' | 'Foreground' | 'Orphan', grace?: number): KubeObject {
    const obj = this.#table(kind).objects.get(key)!;
    const meta = obj.metadata;
    const uid = meta.uid!;
    const current = finalizersOf(obj);
    // The `orphan` finalizer is the stored form of propagationPolicy=Orphan: handled here, never left behind.
    if (policy === 'Orphan' || current.includes(ORPHAN)) this.#orphanDependents(uid);
    let finalizers = current.filter((f) => f !== ORPHAN);
    if (policy === 'Foreground' && !finalizers.includes(FOREGROUND)) finalizers = [...finalizers, FOREGROUND];
    const changed = finalizers.length !== current.length || finalizers.some((f, i) => f !== current[i]);
    if (meta.deletionTimestamp !== undefined) {
      if (!changed) return obj;
      const next = withMeta(obj, { finalizers: finalizers.length > 0 ? finalizers : undefined });
      if (finalizers.length === 0) return this.#remove(kind, key, next);
      const stored = this.#commit(kind, key, 'MODIFIED', next);
      if (finalizers.includes(FOREGROUND)) this.#txn!.work.push({ t: 'foreground', uid });
      return stored;
    }
    if (finalizers.length === 0) return this.#remove(kind, key, obj);
    const marked = withMeta(obj, {
      finalizers,
      deletionTimestamp: isoTime(this.#clock.now()),
      deletionGracePeriodSeconds: grace ?? 0,
      // As the apiserver does, so controllers see the deletion through metadata.generation too.
      generation: (meta.generation ?? 0) + 1,
    });
    const stored = this.#commit(kind, key, 'MODIFIED', marked);
    if (finalizers.includes(FOREGROUND)) this.#txn!.work.push({ t: 'foreground', uid });
    return stored;
  }

  #remove(kind: Kind, key: string, finalState: KubeObject): KubeObject {
    return this.#commit(kind, key, 'DELETED', finalState);
  }

  #orphanDependents(ownerUid: string): void {
    for (const id of [...(this.#dependents.get(ownerUid) ?? [])].sort()) {
      const [kind, key] = splitId(id);
      const dep = this.#table(kind).objects.get(key)!;
      const refs = refsOf(dep).filter((r) => r.uid !== ownerUid);
      this.#commit(kind, key, 'MODIFIED', withMeta(dep, { ownerReferences: refs.length > 0 ? refs : undefined }));
    }
  }

  /** Whether an owner reference points at an object that still exists; unknown kinds are assumed to. */
  #ownerExists(ref: OwnerReference): boolean {
    const info = ref.apiVersion && kindInfo(ref.kind);
    if (!info || info.apiVersion !== ref.apiVersion) return true;
    const id = this.#byUid.get(ref.uid);
    return id !== undefined && splitId(id)[0] === info.kind;
  }

  /**
   * The garbage collector, run to completion inside the transaction, as the apiserver's GC would eventually.
   * `collect`: an owner is gone, so its dependents lose the reference (when another owner remains) or are
   * deleted. `foreground`: an owner waits for its dependents, so they are deleted now. `verify`: an object was
   * written with owner references; the dangling ones are dropped, and if no owner exists at all it is deleted.
   * Then `release`: a foreground-deleting owner loses its `foregroundDeletion` finalizer once no dependent
   * with blockOwnerDeletion remains (once per owner per round, however many dependents went).
   */
  #runWork(): void {
    const txn = this.#txn!;
    let steps = 0;
    for (let i = 0; ; i++) {
      if (++steps > 10_000_000) throw new VirtkitError('Internal', 'garbage collection did not converge', 500);
      if (i === txn.work.length) {
        txn.work.length = 0;
        i = -1;
        if (txn.release.size === 0) return;
        const owners = [...txn.release];
        txn.release.clear();
        for (const uid of owners) this.#release(uid);
        continue;
      }
      const item = txn.work[i]!;
      if (item.t === 'verify') {
        this.#verifyOwners(item.id);
        continue;
      }
      const owner = item.uid;
      for (const id of [...(this.#dependents.get(owner) ?? [])].sort()) {
        const [kind, key] = splitId(id);
        const dep = this.#table(kind).objects.get(key);
        if (!dep) continue;
        const refs = refsOf(dep);
        const remaining = refs.filter((r) => r.uid !== owner && this.#ownerExists(r));
        if (remaining.length > 0) {
          // Another owner still holds it: drop the reference to this owner (and any other dangling ones).
          this.#commit(kind, key, 'MODIFIED', withMeta(dep, { ownerReferences: remaining }));
        } else if (dep.metadata.deletionTimestamp === undefined || item.t === 'foreground') {
          // Like the apiserver's GC: a blocking dependent that has dependents of its own waits for them too.
          const blocking = refs.some((r) => r.uid === owner && r.blockOwnerDeletion === true);
          const nested = item.t === 'foreground' && blocking && this.#dependents.has(dep.metadata.uid!);
          this.#delete(kind, key, nested ? 'Foreground' : 'Background');
        }
      }
      if (item.t === 'foreground') txn.release.add(owner);
    }
  }

  /** A dependent written with references to owners that do not exist (say, deleted a moment before). */
  #verifyOwners(id: string): void {
    const [kind, key] = splitId(id);
    const obj = this.#table(kind).objects.get(key);
    if (!obj) return;
    const refs = refsOf(obj);
    const alive = refs.filter((r) => this.#ownerExists(r));
    if (alive.length === refs.length) return;
    if (alive.length > 0) this.#commit(kind, key, 'MODIFIED', withMeta(obj, { ownerReferences: alive }));
    else if (obj.metadata.deletionTimestamp === undefined) this.#delete(kind, key, 'Background');
  }

  #release(uid: string): void {
    if (!this.#foreground.has(uid)) return;
    const id = this.#byUid.get(uid);
    if (id === undefined) return;
    const [kind, key] = splitId(id);
    const obj = this.#table(kind).objects.get(key)!;
    if (obj.metadata.deletionTimestamp === undefined || !finalizersOf(obj).includes(FOREGROUND)) return;
    for (const depId of this.#dependents.get(uid) ?? []) {
      const [dk, dkey] = splitId(depId);
      const dep = this.#table(dk).objects.get(dkey)!;
      if (refsOf(dep).some((r) => r.uid === uid && r.blockOwnerDeletion === true)) return;
    }
    const finalizers = finalizersOf(obj).filter((f) => f !== FOREGROUND);
    const next = withMeta(obj, { finalizers: finalizers.length > 0 ? finalizers : undefined });
    if (finalizers.length === 0) this.#remove(kind, key, next);
    else this.#commit(kind, key, 'MODIFIED', next);
  }

  // ---------------------------------------------------------------- transaction machinery

  #transact(fn: () => KubeObject, options: WriteOptions = {}): KubeObject {
    this.#open();
    if (this.#txn) throw new VirtkitError('Internal', 'store operations must not nest', 500);
    const txn: Txn = { startRv: this.#rv, events: [], undo: [], work: [], release: new Set() };
    this.#txn = txn;
    let result: KubeObject;
    try {
      result = fn();
      this.#runWork();
      if (txn.events.length > 0) this.#backend?.commit(txn.events, this.#rv);
    } catch (e) {
      for (let i = txn.undo.length - 1; i >= 0; i--) {
        const u = txn.undo[i]!;
        this.#apply(u.kind, u.key, this.#table(u.kind).objects.get(u.key), u.prev);
      }
      this.#rv = txn.startRv;
      throw e;
    } finally {
      this.#txn = undefined;
    }
    for (const ev of txn.events) {
      this.#history.push(ev);
      const set = this.#watchers.get(ev.kind);
      if (set) for (const reg of set) this.#deliver(reg, ev, false);
    }
    return options.shared === true ? result : cloneJson(result);
  }

  /** Records one change: assigns the next resourceVersion, updates the indexes, queues GC follow-ups. */
  #commit(kind: Kind, key: string, type: StoreEvent['type'], object: KubeObject): KubeObject {
    const txn = this.#txn!;
    const prev = this.#table(kind).objects.get(key);
    const rv = ++this.#rv;
    const stored = withMeta(object, { resourceVersion: String(rv) });
    this.#apply(kind, key, prev, type === 'DELETED' ? undefined : stored);
    txn.undo.push({ kind, key, prev });
    txn.events.push({ rv, kind, key, type, object: stored, prev });
    if (prev) for (const ref of refsOf(prev)) txn.release.add(ref.uid);
    if (type === 'DELETED') txn.work.push({ t: 'collect', uid: stored.metadata.uid! });
    else if (refsOf(stored).length > 0 && !sameOwners(prev, stored))
      txn.work.push({ t: 'verify', id: idOf(kind, key) });
    return stored;
  }

  /** Moves one key from `old` to `next` in the kind table, the uid index and the dependents index. */
  #apply(kind: Kind, key: string, old: KubeObject | undefined, next: KubeObject | undefined): void {
    const table = this.#table(kind);
    const id = idOf(kind, key);
    if (old && waitsForDependents(old)) this.#foreground.delete(old.metadata.uid!);
    if (next && waitsForDependents(next)) this.#foreground.add(next.metadata.uid!);
    if (old && next && old.metadata.uid === next.metadata.uid && sameOwners(old, next)) {
      // Most changes keep the uid and the owners: only the object itself moves.
      table.objects.set(key, next);
      return;
    }
    if (old) {
      this.#byUid.delete(old.metadata.uid!);
      for (const ref of refsOf(old)) {
        const deps = this.#dependents.get(ref.uid);
        deps?.delete(id);
        if (deps?.size === 0) this.#dependents.delete(ref.uid);
      }
    }
    if (next) {
      if (!old) table.sorted = undefined;
      table.objects.set(key, next);
      this.#byUid.set(next.metadata.uid!, id);
      for (const ref of refsOf(next)) {
        let deps = this.#dependents.get(ref.uid);
        if (!deps) {
          deps = new Set();
          this.#dependents.set(ref.uid, deps);
        }
        deps.add(id);
      }
    } else if (old) {
      table.objects.delete(key);
      table.sorted = undefined;
      table.sizes.delete(key);
    }
  }

  // ---------------------------------------------------------------- watch delivery

  #deliver(reg: WatchRegistration, ev: StoreEvent, backlog: boolean): void {
    if (reg.namespace !== undefined && nsOf(ev.object) !== reg.namespace) return;
    if (reg.label === undefined && reg.field === undefined) {
      reg.watcher.push(ev.type, ev.object, backlog);
      return;
    }
    const now = ev.type !== 'DELETED' && this.#matches(reg, ev.object);
    const before = ev.prev !== undefined && this.#matches(reg, ev.prev);
    if (now && before) reg.watcher.push(ev.type, ev.object, backlog);
    else if (now) reg.watcher.push('ADDED', ev.object, backlog);
    else if (before) {
      // Stopped matching (or was deleted): the watcher sees it leave, as from the apiserver's watch cache.
      const gone = ev.type === 'DELETED' ? ev.object : withMeta(ev.prev!, { resourceVersion: String(ev.rv) });
      reg.watcher.push('DELETED', gone, backlog);
    }
  }

  #matches(
    f: { label: ParsedLabelSelector | undefined; field: ParsedFieldSelector | undefined },
    obj: KubeObject,
  ): boolean {
    return (
      (f.label === undefined || f.label.matches(obj.metadata.labels)) && (f.field === undefined || f.field.matches(obj))
    );
  }

  #bookmark(info: KindInfo): KubeObject {
    return { apiVersion: info.apiVersion, kind: info.kind, metadata: { resourceVersion: String(this.#rv) } };
  }

  // ---------------------------------------------------------------- helpers

  #open(): void {
    if (this.#closed) throw new VirtkitError('Internal', 'the store is closed', 503);
  }

  #info(kind: Kind): KindInfo {
    const info = kindInfo(kind);
    if (!info)
      throw new RequestError(
        'BadRequest',
        `unknown kind ${JSON.stringify(kind)}; known kinds: ${Object.keys(KINDS).join(', ')}`,
      );
    return info;
  }

  #table(kind: Kind): KindTable {
    let t = this.#tables.get(kind);
    if (!t) {
      t = { objects: new Map(), sorted: undefined, sizes: new Map() };
      this.#tables.set(kind, t);
    }
    return t;
  }

  #sortedKeys(table: KindTable): string[] {
    if (!table.sorted) table.sorted = [...table.objects.keys()].sort();
    return table.sorted;
  }

  #keyFor(info: KindInfo, ns: string, name: string): string {
    return info.namespaced ? `${ns}/${name}` : name;
  }

  /** Validates the namespace for an object of `info`'s scope; namespaced kinds default to `default`. */
  #namespaceFor(info: KindInfo, value: unknown, causes: FieldCause[]): string {
    if (!info.namespaced) {
      if (value !== undefined && value !== '') {
        causes.push({
          field: 'metadata.namespace',
          reason: 'FieldValueForbidden',
          message: `${info.kind} is cluster-scoped; namespace must be empty`,
        });
      }
      return '';
    }
    if (value === undefined || value === '') return 'default';
    if (typeof value !== 'string') {
      causes.push({ field: 'metadata.namespace', reason: 'FieldValueInvalid', message: 'must be a string' });
      return 'default';
    }
    const problem = namespaceProblem(value);
    if (problem)
      causes.push({ field: 'metadata.namespace', reason: 'FieldValueInvalid', message: `"${value}": ${problem}` });
    return value;
  }

  #locate(
    kind: Kind,
    namespace: string | undefined,
    name: string,
  ): { info: KindInfo; key: string; ns: string | undefined } {
    this.#open();
    const info = this.#info(kind);
    if (typeof name !== 'string' || name === '') {
      throw new RequestError('BadRequest', `${kind}: name must be a non-empty string`);
    }
    const causes: FieldCause[] = [];
    const ns = this.#namespaceFor(info, namespace, causes);
    if (causes.length > 0) throw new RequestError('BadRequest', `${kind} "${name}": ${causes[0]!.message}`);
    return { info, key: this.#keyFor(info, ns, name), ns: info.namespaced ? ns : undefined };
  }

  /** The stored object an update names, after the resourceVersion and uid checks. */
  #existingFor(info: KindInfo, input: KubeObject): { key: string; existing: KubeObject; name: string } {
    const meta = input.metadata as Record<string, unknown>;
    const causes: FieldCause[] = [];
    const ns = this.#namespaceFor(info, meta.namespace, causes);
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '') causes.push({ field: 'metadata.name', reason: 'FieldValueRequired', message: 'name is required' });
    if (causes.length > 0) throw new InvalidSpecError(info.kind, name, causes);
    const key = this.#keyFor(info, ns, name);
    const existing = this.#table(info.kind).objects.get(key);
    if (!existing) throw new NotFoundError(info.kind, name, info.namespaced ? ns : undefined);
    const rv = meta.resourceVersion;
    if (rv !== undefined && rv !== '') {
      if (typeof rv !== 'string' || !/^\d+$/.test(rv)) {
        throw new InvalidSpecError(info.kind, name, [
          {
            field: 'metadata.resourceVersion',
            reason: 'FieldValueInvalid',
            message: `${JSON.stringify(rv)} is not a resourceVersion`,
          },
        ]);
      }
      if (rv !== existing.metadata.resourceVersion) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${resourceName(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
    }
    const uid = meta.uid;
    if (uid !== undefined && uid !== '' && uid !== existing.metadata.uid) {
      throw new InvalidSpecError(info.kind, name, [
        { field: 'metadata.uid', reason: 'FieldValueInvalid', message: `${JSON.stringify(uid)}: field is immutable` },
      ]);
    }
    return { key, existing, name };
  }

  /**
   * Checks the shape every written object must have and returns a deep-frozen JSON copy; members
   * `stored.known` has a size for (subtrees of the stored object) are taken as they are, and the stored
   * object's own metadata, carried over as it is (a status write), is not validated again. `sizes`
   * receives the members'.
   */
  #normalize(
    info: KindInfo,
    obj: unknown,
    verb: 'create' | 'update',
    sizes: Map<object, number>,
    stored?: StoredParts,
  ): KubeObject {
    const known = stored?.known;
    if (!isJsonObject(obj)) {
      throw new RequestError(
        'BadRequest',
        `${verb} ${info.kind}: expected an object, got ${obj === null ? 'null' : typeof obj}`,
      );
    }
    const name = isJsonObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : '';
    let value: KubeObject;
    try {
      const options = { maxBytes: this.#maxObjectBytes };
      value = (known
        ? toJsonObjectReusing(obj, known, sizes, options)
        : toJsonValue(obj, '', { ...options, collect: { depth: 1, into: sizes } })) as unknown as KubeObject;
    } catch (e) {
      throw this.#shapeError(info, name, e);
    }
    const causes: FieldCause[] = [];
    if (value.kind !== undefined && value.kind !== info.kind) {
      causes.push({
        field: 'kind',
        reason: 'FieldValueInvalid',
        message: `${JSON.stringify(value.kind)} does not match ${info.kind}`,
      });
    }
    if (value.apiVersion !== undefined && value.apiVersion !== info.apiVersion) {
      causes.push({
        field: 'apiVersion',
        reason: 'FieldValueInvalid',
        message: `${JSON.stringify(value.apiVersion)} does not match ${info.apiVersion}`,
      });
    }
    if (value.metadata === undefined) {
      value = deepFreeze({ ...value, metadata: {} });
    } else if (!isJsonObject(value.metadata)) {
      causes.push({ field: 'metadata', reason: 'FieldValueInvalid', message: 'must be an object' });
    } else if (value.metadata !== stored?.metadata) {
      causes.push(...validateMetadata(value.metadata as Record<string, unknown>));
      const m = value.metadata as Record<string, unknown>;
      for (const f of ['name', 'namespace', 'resourceVersion', 'uid'] as const) {
        if (m[f] !== undefined && typeof m[f] !== 'string') {
          causes.push({ field: `metadata.${f}`, reason: 'FieldValueInvalid', message: 'must be a string' });
        }
      }
    }
    if (causes.length > 0) throw new InvalidSpecError(info.kind, name, causes);
    return value;
  }

  /** Member sizes and metadata of the stored object an update names, if it exists (for `#normalize`). */
  #storedFor(info: KindInfo, obj: unknown): StoredParts | undefined {
    if (!isJsonObject(obj) || !isJsonObject(obj.metadata)) return undefined;
    const { name, namespace } = obj.metadata;
    if (typeof name !== 'string' || (namespace !== undefined && typeof namespace !== 'string')) return undefined;
    const ns = info.namespaced ? namespace || 'default' : '';
    const key = this.#keyFor(info, ns, name);
    const existing = this.#table(info.kind).objects.get(key);
    if (!existing) return undefined;
    const sizes = this.#memberSizesOf(info.kind, key, existing);
    return { known: (n) => sizeOf(sizes, n), metadata: existing.metadata };
  }

  /** The sizes of a stored object's object-valued members, measuring those not known yet. */
  #memberSizesOf(kind: Kind, key: string, obj: KubeObject): MemberSizes {
    const table = this.#table(kind);
    let rec = table.sizes.get(key);
    if (rec?.obj !== obj) {
      const prev = rec;
      rec = { obj, nodes: [], bytes: [] };
      for (const k in obj) {
        const v = (obj as unknown as Record<string, unknown>)[k];
        if (typeof v !== 'object' || v === null) continue;
        rec.nodes.push(v);
        rec.bytes.push(prev ? (sizeOf(prev, v) ?? -1) : -1);
      }
      table.sizes.set(key, rec);
    }
    // Members a write did not measure (the metadata every commit rewrites) are measured once, here.
    for (let i = 0; i < rec.bytes.length; i++) if (rec.bytes[i]! < 0) rec.bytes[i] = jsonSize(rec.nodes[i]);
    return rec;
  }

  /** Keeps the member sizes a write measured for the object it stored (the result of `#create` and friends). */
  #remember(kind: Kind, stored: KubeObject, measured: Map<object, number>): KubeObject {
    const key = this.#keyFor(KINDS[kind], nsOf(stored), stored.metadata.name!);
    const table = this.#table(kind);
    if (table.objects.get(key) !== stored) return stored;
    const rec: MemberSizes = { obj: stored, nodes: [], bytes: [] };
    for (const k in stored) {
      const v = (stored as unknown as Record<string, unknown>)[k];
      if (typeof v !== 'object' || v === null) continue;
      rec.nodes.push(v);
      rec.bytes.push(measured.get(v) ?? -1);
    }
    table.sizes.set(key, rec);
    return stored;
  }

  #shapeError(info: KindInfo, name: string, e: unknown): Error {
    if (e instanceof JsonSizeError) {
      return new RequestError('TooLarge', `${info.kind} "${name}": ${e.message}`, { cause: e });
    }
    if (e instanceof JsonShapeError) {
      return new InvalidSpecError(
        info.kind,
        name,
        [{ field: e.field, reason: 'FieldValueInvalid', message: e.message.slice(e.field.length + 2) }],
        {
          cause: e,
        },
      );
    }
    return e as Error;
  }

  #filter(
    info: KindInfo,
    options: ListOptions,
  ): { namespace: string | undefined; label: ParsedLabelSelector | undefined; field: ParsedFieldSelector | undefined } {
    let namespace: string | undefined;
    if (options.namespace !== undefined && options.namespace !== '' && info.namespaced) {
      if (typeof options.namespace !== 'string' || namespaceProblem(options.namespace)) {
        throw new RequestError(
          'BadRequest',
          `namespace ${JSON.stringify(options.namespace)} is not a valid namespace name`,
        );
      }
      namespace = options.namespace;
    }
    const label = options.labelSelector === undefined ? undefined : parseLabelSelector(options.labelSelector);
    const field = options.fieldSelector === undefined ? undefined : parseFieldSelector(options.fieldSelector);
    return { namespace, label: label?.empty ? undefined : label, field: field?.empty ? undefined : field };
  }

  /** The kind's objects as they were at resourceVersion `rv`, reconstructed from the history. */
  #snapshotAt(kind: Kind, rv: number): { keys: readonly string[]; get: (key: string) => KubeObject | undefined } {
    const table = this.#table(kind);
    if (rv === this.#rv) return { keys: this.#sortedKeys(table), get: (k) => table.objects.get(k) };
    if (rv < this.#history.floor) {
      throw new GoneError(
        `continue token is too old: resourceVersion ${rv} is no longer in the store's history (oldest ${this.#history.floor}); start a new list without it`,
      );
    }
    const overlay = new Map<string, KubeObject | undefined>();
    // Newest first, so each key ends up with the state before its earliest change after `rv`.
    for (const ev of this.#history.sinceNewestFirst(rv)) if (ev.kind === kind) overlay.set(ev.key, ev.prev);
    const keys = this.#sortedKeys(table).filter((k) => !overlay.has(k) || overlay.get(k) !== undefined);
    for (const [k, v] of overlay) if (v !== undefined && !table.objects.has(k)) keys.push(k);
    keys.sort();
    return { keys, get: (k) => (overlay.has(k) ? overlay.get(k) : table.objects.get(k)) };
  }

  #encodeContinue(token: ContinueToken): string {
    return Buffer.from(JSON.stringify({ v: 1, k: token.kind, rv: token.rv, a: token.after })).toString('base64url');
  }

  #decodeContinue(value: string, info: KindInfo): ContinueToken {
    const invalid = (why: string) => new RequestError('BadRequest', `continue token is not valid: ${why}`);
    if (typeof value !== 'string') throw invalid('expected a string');
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    } catch {
      throw invalid('it is not a token this store issued');
    }
    if (!isJsonObject(raw) || raw.v !== 1 || typeof raw.k !== 'string' || typeof raw.a !== 'string') {
      throw invalid('it is not a token this store issued');
    }
    if (raw.k !== info.kind) throw invalid(`it was issued for a list of ${raw.k}, not ${info.kind}`);
    if (typeof raw.rv !== 'number' || !Number.isSafeInteger(raw.rv) || raw.rv < 0 || raw.rv > this.#rv) {
      throw invalid('its resourceVersion is not one this store has reached');
    }
    return { kind: info.kind, rv: raw.rv, after: raw.a };
  }

  #suffix(): string {
    let s = '';
    for (let i = 0; i < 5; i++)
      s += SUFFIX_ALPHABET[Math.floor(this.#random() * SUFFIX_ALPHABET.length) % SUFFIX_ALPHABET.length];
    return s;
  }
}

export type { StoreEvent };
