/**
 * How the controller finds the node agents on a cluster. Each agent (a DaemonSet pod) keeps a
 * coordination.k8s.io/v1 Lease named `virtkit-agent-<node>` in the controller's namespace: the holder is
 * the node, the annotations carry the agent's endpoint and serving certificate, and the renew time shows
 * it is alive. The controller watches those Leases (a client-node informer) and keeps its DriverRegistry
 * in step: a RemoteNodeDriver per node, re-pointed when the agent's pod (address, certificate) changes.
 *
 * Leases, rather than annotations on the Node objects, keep the agents' rights small: they write Leases
 * in one namespace, never the cluster's Nodes. An agent that stops does not delete its Lease: the engine
 * must see a node whose agent is gone as unreachable (and fence it when it returns), not as removed. A
 * Lease deleted by an operator removes the node from the registry.
 */
import {
  CoordinationV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  makeInformer,
  type ObjectCache,
  type V1Lease,
} from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  type DriverRegistry,
  type Lease,
  NotFoundError,
  RealClock,
  type ResourceStore,
} from '@virtkit/engine';
import { microTime } from './leader-election.ts';
import { type RemoteEndpoint, RemoteNodeDriver, type RemoteNodeDriverOptions } from './remote-node-driver.ts';

export const AGENT_COMPONENT_LABEL = 'virtkit.io/component';
export const AGENT_COMPONENT = 'agent';
export const AGENT_NODE_LABEL = 'virtkit.io/node';
export const AGENT_ENDPOINT_ANNOTATION = 'virtkit.io/agent-endpoint';
export const AGENT_CERTIFICATE_ANNOTATION = 'virtkit.io/agent-certificate';
export const AGENT_SELECTOR = `${AGENT_COMPONENT_LABEL}=${AGENT_COMPONENT}`;

export const agentLeaseName = (nodeName: string): string => `virtkit-agent-${nodeName}`;

export interface AgentRegistrationOptions {
  store: ResourceStore;
  clock: Clock;
  namespace: string;
  nodeName: string;
  endpoint: RemoteEndpoint;
  /** How often the Lease is renewed. Default 10 s. */
  renewIntervalMs?: number;
  /** The Lease's validity, for people and tools reading it. Default 40 s. */
  leaseDurationSeconds?: number;
  onError?: (err: unknown) => void;
}

export interface AgentRegistration {
  /** Resolves once the Lease was written at least once. */
  readonly ready: Promise<void>;
  /** Stops renewing; the Lease stays (see the module comment). */
  stop(): Promise<void>;
}

/** Writes and renews this agent's Lease until stopped. */
export function registerAgent(o: AgentRegistrationOptions): AgentRegistration {
  const stop = new AbortController();
  const name = agentLeaseName(o.nodeName);
  const every = o.renewIntervalMs ?? 10_000;
  const duration = o.leaseDurationSeconds ?? 40;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });

  const desired = (current: Lease | undefined): Lease => {
    const now = microTime(o.clock.now());
    const same = current?.spec?.holderIdentity === o.nodeName;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(current?.metadata ?? {}),
        name,
        namespace: o.namespace,
        labels: {
          ...current?.metadata.labels,
          [AGENT_COMPONENT_LABEL]: AGENT_COMPONENT,
          [AGENT_NODE_LABEL]: o.nodeName,
        },
        annotations: {
          ...current?.metadata.annotations,
          [AGENT_ENDPOINT_ANNOTATION]: o.endpoint.url,
          ...(o.endpoint.certificate ? { [AGENT_CERTIFICATE_ANNOTATION]: o.endpoint.certificate } : {}),
        },
      },
      spec: {
        ...current?.spec,
        holderIdentity: o.nodeName,
        leaseDurationSeconds: duration,
        renewTime: now,
        ...(same ? {} : { acquireTime: now, leaseTransitions: (current?.spec?.leaseTransitions ?? -1) + 1 }),
      },
    };
  };

  const renew = async (): Promise<void> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await o.store.tryGet('Lease', o.namespace, name);
      try {
        if (current) await o.store.update('Lease', desired(current));
        else await o.store.create('Lease', desired(undefined));
        return;
      } catch (err) {
        // Lost a race with ourselves (a previous pod of this agent) or an operator: read again.
        if (!(err instanceof ConflictError || err instanceof AlreadyExistsError || err instanceof NotFoundError))
          throw err;
      }
    }
  };

  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await renew();
        markReady();
      } catch (err) {
        o.onError?.(err);
      }
      try {
        await o.clock.sleep(every, stop.signal);
      } catch {
        break;
      }
    }
  })();

  return {
    ready,
    async stop() {
      stop.abort();
      await loop;
    },
  };
}

export interface AgentDirectoryOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Where the drivers go; the engine reads nodes from it. */
  registry: DriverRegistry;
  /** Token the agents expect. */
  token: string | false;
  clock?: Clock;
  /** Options for each RemoteNodeDriver (timeouts, reconnect delay). */
  driverOptions?: Partial<Omit<RemoteNodeDriverOptions, 'nodeName' | 'url' | 'certificate' | 'token'>>;
  /** Delay before the informer is restarted after an error. Default 1 s. */
  restartDelayMs?: number;
  onError?: (err: unknown) => void;
}

/** The controller side: keeps `registry` in step with the agents' Leases. */
export class AgentDirectory {
  readonly #o: AgentDirectoryOptions;
  readonly #clock: Clock;
  readonly #informer: Informer<V1Lease> & ObjectCache<V1Lease>;
  readonly #mine = new Map<string, RemoteNodeDriver>();
  #stopped = false;
  #restart = new AbortController();

  constructor(options: AgentDirectoryOptions) {
    this.#o = options;
    this.#clock = options.clock ?? new RealClock();
    const api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases`;
    const list = () =>
      api.listNamespacedLease({
        namespace: options.namespace,
        labelSelector: AGENT_SELECTOR,
      }) as Promise<KubernetesListObject<V1Lease>>;
    this.#informer = makeInformer<V1Lease>(options.kubeConfig, path, list, AGENT_SELECTOR);
    this.#informer.on('add', (l) => this.#upsert(l));
    this.#informer.on('update', (l) => this.#upsert(l));
    this.#informer.on('delete', (l) => this.#remove(l));
    this.#informer.on('error', (err) => {
      this.#o.onError?.(err);
      void this.#restartLater();
    });
  }

  /** Lists the registrations and keeps watching; resolves once the current agents are in the registry. */
  async start(): Promise<void> {
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restart.abort();
    await this.#informer.stop();
  }

  /** The drivers this directory added, by node. */
  get drivers(): ReadonlyMap<string, RemoteNodeDriver> {
    return this.#mine;
  }

  /** Node name → endpoint as currently registered (the informer's cache). */
  endpoints(): Map<string, RemoteEndpoint> {
    const out = new Map<string, RemoteEndpoint>();
    for (const l of this.#informer.list(this.#o.namespace)) {
      const e = endpointOf(l);
      if (e) out.set(e.node, e.endpoint);
    }
    return out;
  }

  async #restartLater(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#clock.sleep(this.#o.restartDelayMs ?? 1_000, this.#restart.signal);
      if (!this.#stopped) await this.#informer.start();
    } catch (err) {
      if (!this.#stopped) this.#o.onError?.(err);
    }
  }

  #upsert(lease: V1Lease): void {
    const e = endpointOf(lease);
    if (!e) return;
    const registry = this.#o.registry;
    const existing = registry.get(e.node);
    if (existing) {
      if (existing instanceof RemoteNodeDriver) existing.setEndpoint(e.endpoint);
      return;
    }
    const driver = new RemoteNodeDriver({
      ...this.#o.driverOptions,
      nodeName: e.node,
      token: this.#o.token,
      clock: this.#o.driverOptions?.clock ?? this.#clock,
      ...e.endpoint,
    });
    this.#mine.set(e.node, driver);
    registry.add(driver);
  }

  #remove(lease: V1Lease): void {
    const node = lease.spec?.holderIdentity ?? lease.metadata?.labels?.[AGENT_NODE_LABEL];
    if (!node) return;
    const driver = this.#mine.get(node);
    if (!driver) return;
    this.#mine.delete(node);
    if (this.#o.registry.get(node) === driver) this.#o.registry.remove(node);
    void driver.close();
  }
}

function endpointOf(lease: V1Lease): { node: string; endpoint: RemoteEndpoint } | undefined {
  const node = lease.spec?.holderIdentity || lease.metadata?.labels?.[AGENT_NODE_LABEL];
  const url = lease.metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION];
  if (!node || !url) return undefined;
  const certificate = lease.metadata?.annotations?.[AGENT_CERTIFICATE_ANNOTATION];
  return { node, endpoint: { url, ...(certificate ? { certificate } : {}) } };
}
