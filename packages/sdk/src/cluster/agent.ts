/**
 * The node agent process on a cluster (`virtkit agent`, one DaemonSet pod per node): a NodeDriver —
 * LibvirtNodeDriver over the node's libvirtd, or a SimNode — served to the controller by serveNodeDriver,
 * and registered with a Lease so the controller finds it. The agent also follows the other agents'
 * registrations: a live migration asks the target node's agent for its capacity and migration URI.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { type Clock, DriverRegistry, type NodeDriver, type NodeDriverRegistry, RealClock } from '@virtkit/engine';
import { AgentDirectory, type AgentRegistration, registerAgent } from './agent-registry.ts';
import { KubernetesStore } from './kubernetes-store.ts';
import { type NodeDriverServer, serveNodeDriver } from './node-driver-server.ts';

export interface AgentOptions {
  kubeconfig?: KubeConfig | string;
  context?: string;
  /** Namespace of the registrations (the controller's). */
  namespace: string;
  nodeName: string;
  /** Builds the node's driver; `peers` resolves other nodes' agents (for migration targets). */
  driver: (peers: NodeDriverRegistry) => NodeDriver | Promise<NodeDriver>;
  /** Bearer token the controller sends. */
  token: string | false;
  /** Listen address. Default 0.0.0.0. */
  host?: string;
  /** Default 8443; 0 for an ephemeral port. */
  port?: number;
  /** Address the controller uses to reach this agent (the pod IP). Default: `host`, or 127.0.0.1 for 0.0.0.0. */
  advertiseAddress?: string;
  /** Serve plain HTTP (inside a trusted network only). Default: TLS with a fresh self-signed certificate. */
  insecure?: boolean;
  clock?: Clock;
  renewIntervalMs?: number;
  log?: (line: string) => void;
}

export interface Agent {
  readonly driver: NodeDriver;
  readonly server: NodeDriverServer;
  readonly registration: AgentRegistration;
  readonly peers: DriverRegistry;
  /** Stops serving and renewing (the Lease stays, see agent-registry.ts), closes the driver. */
  stop(): Promise<void>;
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const log = o.log ?? (() => {});
  const clock = o.clock ?? new RealClock();
  const host = o.host ?? '0.0.0.0';
  const advertise = o.advertiseAddress ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  // The agent may read Leases in its namespace and nothing else (deploy/rbac-agent.yaml).
  const store = await KubernetesStore.connect(
    {
      ...(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }),
      ...(o.context === undefined ? {} : { context: o.context }),
    },
    { kind: 'Lease', namespace: o.namespace },
  );
  const peers = new DriverRegistry();
  const directory = new AgentDirectory({
    kubeConfig: store.kubeConfig,
    namespace: o.namespace,
    registry: peers,
    token: o.token,
    clock,
    onError: (err) => log(`peer directory: ${(err as Error).message ?? String(err)}`),
  });
  const cleanup: (() => Promise<void>)[] = [];
  try {
    await directory.start();
    cleanup.push(async () => {
      await directory.stop();
      for (const d of directory.drivers.values()) await d.close();
    });
    // The agent must not resolve itself through the network: its own node is this driver.
    const driver = await o.driver({
      get: (name) => (name === o.nodeName ? undefined : peers.get(name)),
      list: () => peers.list().filter((d) => d.nodeName !== o.nodeName),
    });
    cleanup.push(() => driver.close());
    const server = await serveNodeDriver(driver, {
      token: o.token,
      host,
      port: o.port ?? 8443,
      ...(o.insecure
        ? { tls: false as const }
        : { certificateHosts: [...new Set([advertise, 'localhost', '127.0.0.1'])] }),
    });
    cleanup.push(() => server.close());
    const url = `${o.insecure ? 'http' : 'https'}://${advertise.includes(':') ? `[${advertise}]` : advertise}:${server.port}`;
    const registration = registerAgent({
      store,
      clock,
      namespace: o.namespace,
      nodeName: o.nodeName,
      endpoint: { url, ...(server.certificate ? { certificate: server.certificate } : {}) },
      ...(o.renewIntervalMs === undefined ? {} : { renewIntervalMs: o.renewIntervalMs }),
      onError: (err) => log(`registration: ${(err as Error).message ?? String(err)}`),
    });
    cleanup.push(() => registration.stop());
    await registration.ready;
    log(`agent for node ${o.nodeName} serving at ${url}`);
    return {
      driver,
      server,
      registration,
      peers,
      async stop() {
        for (const c of cleanup.reverse()) await c();
        await store.close();
      },
    };
  } catch (err) {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await store.close();
    throw err;
  }
}
