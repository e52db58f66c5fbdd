/** Typed resource clients shared by both modes: everything here goes through a Transport. */
import {
  GoneError,
  type Kind,
  type KindMap,
  type ListOptions,
  NotFoundError,
  TimeoutError,
  type WatchEvent,
} from '@virtkit/engine';
import { parseManifestInput } from './manifest-input.ts';
import type { Transport } from './transport.ts';

export interface NamespaceOption {
  namespace?: string;
}

export interface ListQuery extends NamespaceOption {
  labelSelector?: string;
  fieldSelector?: string;
  /** List across all namespaces. */
  allNamespaces?: boolean;
}

export interface WatchQuery extends ListQuery {
  /** Start after this resourceVersion; default: current objects first (as ADDED), then changes. */
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface WaitOptions extends NamespaceOption {
  /** Measured on the client's clock: virtual time in simulation, wall time otherwise. Default 5 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DeleteRequest extends NamespaceOption {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  /** Resolve only once the object is gone (finalizers done). */
  wait?: boolean;
  timeoutMs?: number;
}

/** A condition to wait for: a status string (printableStatus / phase) or a predicate; `undefined` means "does not exist". */
export type WaitCondition<T> = string | ((obj: T | undefined) => boolean);

const DEFAULT_WAIT_MS = 5 * 60_000;

export class ResourceClient<K extends Kind> {
  protected readonly transport: Transport;
  readonly kind: K;
  /** How a string condition reads an object: VM printableStatus, VMI/migration phase. */
  readonly #statusOf: (obj: KindMap[K]) => string | undefined;

  constructor(transport: Transport, kind: K, statusOf: (obj: KindMap[K]) => string | undefined) {
    this.transport = transport;
    this.kind = kind;
    this.#statusOf = statusOf;
  }

  protected ns(options?: NamespaceOption): string {
    return options?.namespace ?? this.transport.defaultNamespace;
  }

  /** Creates from an object, YAML or JSON text (one document of this kind). */
  async create(manifest: KindMap[K] | string, options?: NamespaceOption): Promise<KindMap[K]> {
    const obj = this.#single(manifest);
    if (options?.namespace && !obj.metadata.namespace) obj.metadata.namespace = options.namespace;
    obj.metadata.namespace ??= this.transport.defaultNamespace;
    return this.transport.create(this.kind, obj);
  }

  /** Creates, or updates spec/labels/annotations of an existing object (like `kubectl apply`). */
  async apply(manifest: KindMap[K] | string, options?: NamespaceOption): Promise<KindMap[K]> {
    const obj = this.#single(manifest);
    const namespace = obj.metadata.namespace ?? this.ns(options);
    const name = obj.metadata.name;
    if (!name) return this.create(obj, { namespace });
    for (let attempt = 0; ; attempt++) {
      const current = await this.tryGet(name, { namespace });
      if (!current) {
        try {
          return await this.create({ ...obj, metadata: { ...obj.metadata, namespace } } as KindMap[K]);
        } catch (e) {
          if (attempt < 3 && (e as { code?: string }).code === 'AlreadyExists') continue;
          throw e;
        }
      }
      const next = structuredClone(current);
      if ('spec' in obj) (next as { spec?: unknown }).spec = structuredClone(obj.spec);
      if (obj.metadata.labels) next.metadata.labels = { ...next.metadata.labels, ...obj.metadata.labels };
      if (obj.metadata.annotations)
        next.metadata.annotations = { ...next.metadata.annotations, ...obj.metadata.annotations };
      try {
        return await this.transport.update(this.kind, next);
      } catch (e) {
        if (attempt < 3 && (e as { code?: string }).code === 'Conflict') continue;
        throw e;
      }
    }
  }

  get(name: string, options?: NamespaceOption): Promise<KindMap[K]> {
    return this.transport.get(this.kind, this.ns(options), name);
  }

  async tryGet(name: string, options?: NamespaceOption): Promise<KindMap[K] | undefined> {
    try {
      return await this.get(name, options);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async list(query: ListQuery = {}): Promise<KindMap[K][]> {
    return (await this.transport.list(this.kind, this.#listOptions(query))).items;
  }

  async delete(name: string, request: DeleteRequest = {}): Promise<void> {
    const namespace = this.ns(request);
    const opts = request.propagationPolicy ? { propagationPolicy: request.propagationPolicy } : {};
    await this.transport.delete(this.kind, namespace, name, opts);
    if (request.wait) {
      await this.waitFor(name, (o) => o === undefined, {
        namespace,
        ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
      });
    }
  }

  /** Typed ADDED/MODIFIED/DELETED events; ends when `signal` aborts. */
  watch(query: WatchQuery = {}): AsyncIterable<WatchEvent<KindMap[K]>> {
    const options = this.#listOptions(query);
    return this.transport.watch(this.kind, {
      ...options,
      ...(query.resourceVersion !== undefined ? { resourceVersion: query.resourceVersion } : {}),
      ...(query.signal ? { signal: query.signal } : {}),
    });
  }

  /**
   * Resolves with the object once `condition` holds (a status string or a predicate; a predicate sees
   * `undefined` while the object does not exist). Rejects with TimeoutError after `timeoutMs` on the
   * client's clock, naming the last status seen.
   */
  async waitFor(name: string, condition: WaitCondition<KindMap[K]>, options: WaitOptions = {}): Promise<KindMap[K]> {
    const namespace = this.ns(options);
    const test =
      typeof condition === 'string'
        ? (o: KindMap[K] | undefined) => o !== undefined && this.#statusOf(o) === condition
        : condition;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const ac = new AbortController();
    const onOuterAbort = () => ac.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let last: KindMap[K] | undefined;
    let timedOut = false;
    const timer = this.transport.clock.setTimer(timeoutMs, () => {
      timedOut = true;
      ac.abort(new Error('timeout'));
    });
    try {
      for (;;) {
        const listed = await this.transport.list(this.kind, {
          namespace,
          fieldSelector: `metadata.name=${name}`,
        });
        last = listed.items[0];
        if (test(last)) return last as KindMap[K];
        try {
          for await (const ev of this.transport.watch(this.kind, {
            namespace,
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: listed.resourceVersion,
            signal: ac.signal,
          })) {
            if (ev.type === 'BOOKMARK') continue;
            last = ev.type === 'DELETED' ? undefined : ev.object;
            if (test(last)) return (last ?? ev.object) as KindMap[K];
          }
        } catch (e) {
          if (e instanceof GoneError) continue; // history compacted: relist and watch again
          if (!ac.signal.aborted) throw e;
        }
        if (ac.signal.aborted) break;
      }
      if (timedOut) {
        const seen = last ? (this.#statusOf(last) ?? 'no status') : 'not found';
        const want = typeof condition === 'string' ? condition : 'the condition';
        throw new TimeoutError(
          `timed out after ${timeoutMs} ms waiting for ${this.kind} ${namespace}/${name} to be ${want} (last seen: ${seen})`,
        );
      }
      throw options.signal?.reason ?? new Error('aborted');
    } finally {
      timer.cancel();
      options.signal?.removeEventListener('abort', onOuterAbort);
      ac.abort();
    }
  }

  #listOptions(query: ListQuery): ListOptions {
    const out: ListOptions = {};
    if (!query.allNamespaces) out.namespace = this.ns(query);
    if (query.labelSelector) out.labelSelector = query.labelSelector;
    if (query.fieldSelector) out.fieldSelector = query.fieldSelector;
    return out;
  }

  #single(manifest: KindMap[K] | string): KindMap[K] {
    return parseManifestInput(manifest, this.kind);
  }
}
