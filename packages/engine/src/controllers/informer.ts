/**
 * A list+watch cache of one kind, as client-go's shared informer: controllers read from it
 * synchronously and are told about every change. Handlers only enqueue keys; all decisions are made
 * later from the cache (level-triggered), so a missed or coalesced event never loses work.
 */
import { GoneError } from '../errors.ts';
import type { ResourceStore } from '../ports/resource-store.ts';
import type { Kind, KindMap } from '../resources/kinds.ts';
import type { KubeObject } from '../resources/meta.ts';
import { BoundedMap } from './bounded-map.ts';

export interface InformerHandler<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones (client-go's MetaNamespaceKey). */
export function keyOf(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : (obj.metadata.name ?? '');
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

type IndexFn<T> = (obj: T) => readonly string[];

export class Informer<K extends Kind> {
  readonly kind: K;
  readonly #store: ResourceStore;
  #cache = new Map<string, KindMap[K]>();
  #handlers: InformerHandler<KindMap[K]>[] = [];
  /** The secondary indexes, in the order they were added. */
  #indexList: { name: string; fn: IndexFn<KindMap[K]>; idx: Map<string, Set<string>> }[] = [];
  #indexes = new Map<string, Map<string, Set<string>>>();
  /**
   * Per cached key, the values each index holds it under (same order as `#indexList`): an update is moved
   * only in the indexes whose values changed, and its old values are not computed again.
   */
  #indexed = new Map<string, (readonly string[])[]>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #rv = '';
  /** The last deleted version per key, so a late `observe` cannot resurrect a deleted object. */
  #tombstones = new BoundedMap<string, KubeObject>(10_000);
  #onError: (err: unknown) => void;

  constructor(store: ResourceStore, kind: K, onError: (err: unknown) => void = () => {}) {
    this.#store = store;
    this.kind = kind;
    this.#onError = onError;
  }

  /** Registers handlers; call before `start`, so the initial list reaches them as adds. */
  on(handler: InformerHandler<KindMap[K]>): void {
    this.#handlers.push(handler);
  }

  /** Maintains a secondary index: `byIndex(name, value)` returns the objects whose `fn` yields `value`. */
  addIndex(name: string, fn: IndexFn<KindMap[K]>): void {
    if (this.#indexes.has(name)) throw new TypeError(`informer ${this.kind}: index ${name} exists already`);
    const idx = new Map<string, Set<string>>();
    this.#indexes.set(name, idx);
    this.#indexList.push({ name, fn, idx });
    for (const [key, obj] of this.#cache) {
      const values = fn(obj);
      for (const v of values) addTo(idx, v, key);
      const filed = this.#indexed.get(key);
      if (filed) filed.push(values);
      else this.#indexed.set(key, [values]);
    }
  }

  get(namespace: string | undefined, name: string): KindMap[K] | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): KindMap[K] | undefined {
    return this.#cache.get(key);
  }

  list(): KindMap[K][] {
    return [...this.#cache.values()];
  }

  keys(): IterableIterator<string> {
    return this.#cache.keys();
  }

  get size(): number {
    return this.#cache.size;
  }

  byIndex(name: string, value: string): KindMap[K][] {
    const keys = this.#indexes.get(name)?.get(value);
    if (!keys) return [];
    const out: KindMap[K][] = [];
    for (const k of keys) {
      const o = this.#cache.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  /** The resourceVersion the cache reflects. */
  get resourceVersion(): string {
    return this.#rv;
  }

  /**
   * Lists the kind into the cache (handlers see adds), then keeps it current from a watch in the
   * background. Resolves once the initial list is in.
   */
  async start(): Promise<void> {
    await this.#relist();
    this.#loop = this.#watchLoop();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /**
   * Applies an object the caller just wrote, ahead of its watch event, so the next read sees it.
   * Ignored when the cache already holds the same or a newer version.
   */
  observe(obj: KindMap[K]): void {
    // A write that removed the object (last finalizer gone) returns its final state: not a live object.
    if (obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0) return;
    const key = keyOf(obj);
    const tomb = this.#tombstones.get(key);
    if (tomb !== undefined && !isNewer(obj, tomb)) return;
    const old = this.#cache.get(key);
    if (old && !isNewer(obj, old)) return;
    this.#apply(key, old, obj);
  }

  async #relist(): Promise<void> {
    const res = await this.#store.list(this.kind);
    const seen = new Set<string>();
    for (const obj of res.items) {
      const key = keyOf(obj);
      seen.add(key);
      this.#apply(key, this.#cache.get(key), obj);
    }
    for (const [key, old] of [...this.#cache]) if (!seen.has(key)) this.#remove(key, old);
    this.#rv = res.resourceVersion;
  }

  async #watchLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        // Shared objects: the cache holds the store's own frozen objects instead of a copy of each.
        for await (const ev of this.#store.watch(this.kind, { resourceVersion: this.#rv, signal, shared: true })) {
          if (signal.aborted) break;
          const obj = ev.object;
          if (ev.type === 'BOOKMARK') {
            this.#rv = obj.metadata.resourceVersion ?? this.#rv;
            continue;
          }
          const key = keyOf(obj);
          const old = this.#cache.get(key);
          if (ev.type === 'DELETED') {
            // A newer object under the same key (observed ahead of its event) outlives the old one's deletion.
            if (old && !isNewer(old, obj)) this.#remove(key, old);
            this.#tombstones.set(key, obj);
          } else if (!old || isNewer(obj, old)) {
            this.#apply(key, old, obj);
          } else if (old.metadata.resourceVersion === obj.metadata.resourceVersion && Object.isFrozen(obj)) {
            // The same version, observed ahead of this event as the writer's copy: keep the shared one.
            this.#cache.set(key, obj);
          }
          this.#rv = obj.metadata.resourceVersion ?? this.#rv;
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof GoneError) {
          try {
            await this.#relist();
          } catch (e) {
            this.#onError(e);
          }
          continue;
        }
        this.#onError(err);
        // The watch broke for another reason; resume from the last version after a relist.
        try {
          await this.#relist();
        } catch (e) {
          this.#onError(e);
          return;
        }
      }
    }
  }

  #apply(key: string, old: KindMap[K] | undefined, obj: KindMap[K]): void {
    this.#cache.set(key, obj);
    this.#index(key, obj);
    for (const h of this.#handlers) {
      try {
        if (old) h.update?.(old, obj);
        else h.add?.(obj);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #remove(key: string, old: KindMap[K]): void {
    this.#unindex(key);
    this.#cache.delete(key);
    for (const h of this.#handlers) {
      try {
        h.delete?.(old);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Files `key` under `obj`'s index values, moving it only where they differ from those it is filed under. */
  #index(key: string, obj: KindMap[K]): void {
    const list = this.#indexList;
    if (list.length === 0) return;
    const prev = this.#indexed.get(key);
    const next: (readonly string[])[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const { fn, idx } = list[i]!;
      const values = fn(obj);
      const was = prev?.[i];
      if (was !== undefined && sameValues(was, values)) {
        next[i] = was;
        continue;
      }
      if (was !== undefined) removeFrom(idx, was, key);
      for (const v of values) addTo(idx, v, key);
      next[i] = values;
    }
    this.#indexed.set(key, next);
  }

  #unindex(key: string): void {
    const prev = this.#indexed.get(key);
    if (!prev) return;
    this.#indexed.delete(key);
    const list = this.#indexList;
    for (let i = 0; i < list.length; i++) removeFrom(list[i]!.idx, prev[i] ?? [], key);
  }
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function removeFrom(idx: Map<string, Set<string>>, values: readonly string[], key: string): void {
  for (const v of values) {
    const set = idx.get(v);
    if (!set) continue;
    set.delete(key);
    if (set.size === 0) idx.delete(v);
  }
}

function addTo(idx: Map<string, Set<string>>, value: string, key: string): void {
  let set = idx.get(value);
  if (!set) {
    set = new Set();
    idx.set(value, set);
  }
  set.add(key);
}

/** Whether `a` was written after `b`: resourceVersions come from one counter per store. */
function isNewer(a: KubeObject, b: KubeObject): boolean {
  const ra = Number(a.metadata.resourceVersion ?? 0);
  const rb = Number(b.metadata.resourceVersion ?? 0);
  return ra > rb;
}
