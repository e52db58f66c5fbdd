/**
 * Embedded mode: the engine runs in this process; the transport goes straight to its store (with the
 * same defaulting and validation the API server applies) and its actions, and reads consoles from the
 * node drivers.
 */
import {
  applyJsonPatch,
  applyMergePatch,
  type Clock,
  ConflictError,
  type DeleteOptions,
  defaultObject,
  type Kind,
  type KindMap,
  type ListOptions,
  type ListResult,
  type NodeDriverRegistry,
  NotFoundError,
  type PatchType,
  type ResourceStore,
  validateOrThrow,
  type WatchEvent,
  type WatchOptions,
} from '@virtkit/engine';
import type { Transport, VerbBody, VmiVerb, VmVerb } from './transport.ts';

/** The engine operations embedded mode needs (structurally the engine's VmActions). */
export interface EmbeddedActions {
  start(namespace: string, name: string): Promise<unknown>;
  stop(namespace: string, name: string, options?: { gracePeriodSeconds?: number }): Promise<unknown>;
  restart(namespace: string, name: string, options?: { gracePeriodSeconds?: number }): Promise<unknown>;
  pause(namespace: string, name: string): Promise<unknown>;
  unpause(namespace: string, name: string): Promise<unknown>;
  softReboot(namespace: string, name: string): Promise<unknown>;
  migrate(namespace: string, name: string, options?: { addedNodeSelector?: Record<string, string> }): Promise<unknown>;
}

export interface EmbeddedTransportOptions {
  store: ResourceStore;
  clock: Clock;
  drivers: NodeDriverRegistry;
  actions: EmbeddedActions;
  namespace?: string;
  /** Called by close() after the transport is done (stops the engine, nodes, store). */
  onClose?: () => Promise<void>;
}

/** How often a patch is applied again when the object changed between reading and writing it. */
const PATCH_RETRIES = 5;

export class EmbeddedTransport implements Transport {
  readonly mode = 'embedded' as const;
  readonly clock: Clock;
  readonly defaultNamespace: string;
  readonly store: ResourceStore;
  readonly #drivers: NodeDriverRegistry;
  readonly #actions: EmbeddedActions;
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(options: EmbeddedTransportOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.#drivers = options.drivers;
    this.#actions = options.actions;
    this.defaultNamespace = options.namespace ?? 'default';
    this.#onClose = options.onClose;
  }

  create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    const admitted = defaultObject({ ...obj, kind });
    validateOrThrow(admitted, kind);
    return this.store.create(kind, admitted);
  }

  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]> {
    return this.store.get(kind, namespace, name);
  }

  list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>> {
    return this.store.list(kind, options);
  }

  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    const admitted = defaultObject({ ...obj, kind });
    validateOrThrow(admitted, kind);
    return this.store.update(kind, admitted);
  }

  /**
   * Like the API server: the patched object is defaulted and validated before it is stored (the store alone
   * would keep a patch that makes the object invalid). A write that raced with another is patched again on
   * the new state, unless the patch itself named the resourceVersion to apply to.
   */
  async patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
  ): Promise<KindMap[K]> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.store.get(kind, namespace, name);
      const patched = (
        type === 'json' ? applyJsonPatch(current, patch, { kind, name }) : applyMergePatch(current, patch)
      ) as KindMap[K];
      const ownPrecondition = patched?.metadata?.resourceVersion !== current.metadata.resourceVersion;
      const admitted = defaultObject({ ...patched, kind });
      validateOrThrow(admitted, kind);
      try {
        return await this.store.update(kind, admitted);
      } catch (err) {
        if (!(err instanceof ConflictError) || ownPrecondition || attempt >= PATCH_RETRIES) throw err;
      }
    }
  }

  async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<void> {
    await this.store.delete(kind, namespace, name, options);
  }

  watch<K extends Kind>(kind: K, options?: WatchOptions): AsyncIterable<WatchEvent<KindMap[K]>> {
    return this.store.watch(kind, options);
  }

  vmVerb(namespace: string, name: string, verb: VmVerb, body: VerbBody = {}): Promise<unknown> {
    const grace = body.gracePeriod !== undefined ? { gracePeriodSeconds: body.gracePeriod } : {};
    switch (verb) {
      case 'start':
        return this.#actions.start(namespace, name);
      case 'stop':
        return this.#actions.stop(namespace, name, grace);
      case 'restart':
        return this.#actions.restart(namespace, name, grace);
      case 'migrate':
        return this.#actions.migrate(
          namespace,
          name,
          body.addedNodeSelector ? { addedNodeSelector: body.addedNodeSelector } : {},
        );
    }
  }

  async vmiVerb(namespace: string, name: string, verb: VmiVerb): Promise<void> {
    if (verb === 'pause') await this.#actions.pause(namespace, name);
    else if (verb === 'unpause') await this.#actions.unpause(namespace, name);
    else await this.#actions.softReboot(namespace, name);
  }

  async *console(namespace: string, name: string, options: { signal?: AbortSignal } = {}): AsyncIterable<string> {
    const vmi = await this.store.get('VirtualMachineInstance', namespace, name);
    const node = vmi.status?.nodeName;
    const driver = node ? this.#drivers.get(node) : undefined;
    if (!driver) throw new NotFoundError('console of VirtualMachineInstance', name, namespace);
    yield* driver.console(`${namespace}_${name}`, {
      fromStart: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async close(): Promise<void> {
    await this.#onClose?.();
  }
}
