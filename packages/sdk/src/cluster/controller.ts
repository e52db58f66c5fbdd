/**
 * The controller process on a cluster (`virtkit controller`): the engine over a KubernetesStore, run only
 * while this replica holds the leader Lease, with its nodes taken from the agents' registrations. Every
 * replica keeps its store connection and agent directory warm, so a failover costs one engine start.
 */
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { type Clock, createEngine, DriverRegistry, type Engine, type EngineConfig, RealClock } from '@virtkit/engine';
import { AgentDirectory } from './agent-registry.ts';
import { CLUSTER_NODE_RESOURCE, KubernetesStore } from './kubernetes-store.ts';
import { LeaderElector } from './leader-election.ts';
import type { RemoteNodeDriverOptions } from './remote-node-driver.ts';

export interface ControllerOptions {
  kubeconfig?: KubeConfig | string;
  context?: string;
  /** Namespace of the leader Lease and of the agents' registrations. */
  namespace: string;
  /** Default `virtkit-controller`. */
  leaseName?: string;
  /** This replica's identity in the Lease. Default: the host name (the pod name in a pod). */
  identity?: string;
  /** Token the agents expect. */
  token: string | false;
  clock?: Clock;
  /**
   * Where the engine's Node objects live. `hypervisor` (default): the HypervisorNode CRD, never the
   * cluster's own Nodes (see CLUSTER_NODE_RESOURCE). `core`: v1 Nodes — for API servers that are virtkit's
   * own (`virtkit up`), where no kubelet owns them.
   */
  nodes?: 'hypervisor' | 'core';
  /**
   * `events.ttlSeconds` defaults to 0 here: the API server expires Events itself (`--event-ttl`), and the
   * controller's RBAC (deploy/rbac-controller.yaml) grants no list, watch or delete on them. Setting it
   * needs those verbs on `events`, and expires every Event of the cluster, not only the engine's.
   */
  engineConfig?: EngineConfig;
  /** Seeded randomness for the engine's tie-breaking. */
  random?: () => number;
  election?: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  driverOptions?: Partial<Omit<RemoteNodeDriverOptions, 'nodeName' | 'url' | 'certificate' | 'token'>>;
  log?: (line: string) => void;
}

export interface Controller {
  readonly store: KubernetesStore;
  readonly drivers: DriverRegistry;
  readonly elector: LeaderElector;
  /** The running engine while this replica leads. */
  readonly engine: Engine | undefined;
  /** Stops the engine (if leading), releases the Lease, closes connections. */
  stop(): Promise<void>;
}

export async function startController(o: ControllerOptions): Promise<Controller> {
  const log = o.log ?? (() => {});
  const clock = o.clock ?? new RealClock();
  const store = await KubernetesStore.connect({
    ...(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }),
    ...(o.context === undefined ? {} : { context: o.context }),
    ...((o.nodes ?? 'hypervisor') === 'hypervisor' ? { resources: { Node: CLUSTER_NODE_RESOURCE } } : {}),
  });
  const drivers = new DriverRegistry();
  drivers.onChange((c) => log(`node ${c.driver.nodeName} ${c.type === 'added' ? 'registered' : 'removed'}`));
  const directory = new AgentDirectory({
    kubeConfig: store.kubeConfig,
    namespace: o.namespace,
    registry: drivers,
    token: o.token,
    clock,
    ...(o.driverOptions ? { driverOptions: o.driverOptions } : {}),
    onError: (err) => log(`agent directory: ${(err as Error).message ?? String(err)}`),
  });
  await directory.start();

  let engine: Engine | undefined;
  // Start and stop of the engine are serialised: a term that ends while its engine starts waits for it.
  let transition: Promise<void> = Promise.resolve();
  const elector = new LeaderElector({
    store,
    clock,
    namespace: o.namespace,
    name: o.leaseName ?? 'virtkit-controller',
    identity: o.identity ?? hostname(),
    ...o.election,
    onStartedLeading: () => {
      transition = transition.then(async () => {
        log('leading: starting the engine');
        const e = createEngine({
          store,
          clock,
          drivers,
          config: { ...o.engineConfig, events: { ttlSeconds: 0, ...o.engineConfig?.events } },
          ...(o.random ? { random: o.random } : {}),
          onError: (err, where) => log(`engine: ${where}: ${(err as Error).message ?? String(err)}`),
        });
        await e.start();
        engine = e;
        log('engine running');
      });
      return transition;
    },
    onStoppedLeading: () => {
      transition = transition.then(async () => {
        const e = engine;
        engine = undefined;
        if (e) {
          log('no longer leading: stopping the engine');
          await e.stop();
        }
      });
      return transition;
    },
    onNewLeader: (who) => log(`leader is now ${who || '(nobody)'}`),
    onError: (err) => log(`leader election: ${(err as Error).message ?? String(err)}`),
  });
  elector.start();

  return {
    store,
    drivers,
    elector,
    get engine() {
      return engine;
    },
    async stop() {
      await elector.stop();
      await transition;
      await directory.stop();
      for (const d of directory.drivers.values()) await d.close();
      await store.close();
    },
  };
}
