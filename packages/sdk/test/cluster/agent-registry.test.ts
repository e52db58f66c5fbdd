// Agent discovery through Leases: agents register (KubernetesStore), the controller's directory (a client-node
// informer) keeps a DriverRegistry of RemoteNodeDrivers in step — all against our API server on 127.0.0.1.
import { DriverRegistry, type Lease, VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode } from '@virtkit/sim';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AGENT_CERTIFICATE_ANNOTATION,
  AGENT_ENDPOINT_ANNOTATION,
  AgentDirectory,
  type AgentRegistration,
  agentLeaseName,
  type NodeDriverServer,
  RemoteNodeDriver,
  registerAgent,
  serveNodeDriver,
} from '../../src/cluster/index.ts';
import { type ClusterHarness, drive, eventually, startCluster, until } from './support.ts';

const NS = 'virtkit-system';
const TOKEN = 't0ken';

let h: ClusterHarness;
let clock: VirtualClock;
let sims: SimNode[];
let servers: NodeDriverServer[];
let registrations: AgentRegistration[];
let registry: DriverRegistry;
let directory: AgentDirectory;

beforeEach(async () => {
  h = await startCluster();
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const fabric = new SimFabric({ clock, seed: 3 });
  sims = ['node-a', 'node-b'].map((name) => new SimNode({ name, fabric, timing: { heartbeatMs: 0 } }));
  servers = await Promise.all(sims.map((s) => serveNodeDriver(s, { token: TOKEN })));
  registrations = [];
  for (const [i, srv] of servers.entries()) {
    const r = registerAgent({
      store: await h.client(),
      clock,
      namespace: NS,
      nodeName: sims[i]!.nodeName,
      endpoint: { url: srv.url, certificate: srv.certificate! },
    });
    registrations.push(r);
    await r.ready;
  }
  registry = new DriverRegistry();
  directory = new AgentDirectory({
    kubeConfig: h.kubeConfig,
    namespace: NS,
    registry,
    token: TOKEN,
    driverOptions: { reconnectDelayMs: 10 },
  });
  await directory.start();
});

afterEach(async () => {
  await directory.stop();
  for (const d of registry.list()) await d.close();
  for (const r of registrations) await r.stop();
  for (const s of servers) await s.close();
  await h.close();
});

const lease = (node: string) => h.backing.get('Lease', NS, agentLeaseName(node)) as Promise<Lease>;

describe('agent registration and discovery', () => {
  it('registers every agent with its endpoint and certificate; the directory builds drivers that reach them', async () => {
    const l = await lease('node-a');
    expect(l.metadata.labels).toEqual({ 'virtkit.io/component': 'agent', 'virtkit.io/node': 'node-a' });
    expect(l.metadata.annotations?.[AGENT_ENDPOINT_ANNOTATION]).toBe(servers[0]!.url);
    expect(l.metadata.annotations?.[AGENT_CERTIFICATE_ANNOTATION]).toBe(servers[0]!.certificate);
    expect(l.spec).toMatchObject({ holderIdentity: 'node-a', leaseDurationSeconds: 40, leaseTransitions: 0 });
    expect(registry.list().map((d) => d.nodeName)).toEqual(['node-a', 'node-b']);
    for (const d of registry.list()) {
      expect(d).toBeInstanceOf(RemoteNodeDriver);
      const info = await drive(clock, d.info());
      expect(info.name).toBe(d.nodeName);
    }
  });

  it('renews the lease on the clock', async () => {
    expect((await lease('node-a')).spec?.renewTime).toBe('2026-01-01T00:00:00.000000Z');
    await clock.advance(10_000);
    await eventually(
      async () => (await lease('node-a')).spec?.renewTime === '2026-01-01T00:00:10.000000Z',
      'lease renewed',
    );
    await clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 50));
    expect((await lease('node-a')).spec?.renewTime).toBe('2026-01-01T00:00:10.000000Z');
  });

  it('re-points the same driver when an agent comes back at a new address', async () => {
    const driver = registry.get('node-a') as RemoteNodeDriver;
    await registrations[0]!.stop();
    await servers[0]!.close();
    const moved = await serveNodeDriver(sims[0]!, { token: TOKEN });
    servers[0] = moved;
    registrations[0] = registerAgent({
      store: await h.client(),
      clock,
      namespace: NS,
      nodeName: 'node-a',
      endpoint: { url: moved.url, certificate: moved.certificate! },
    });
    await registrations[0].ready;
    await until(() => driver.endpoint.url === moved.url, 'driver re-pointed');
    expect(registry.get('node-a')).toBe(driver);
    await drive(clock, driver.ping());
    // The lease was renewed by the new pod, not re-created.
    expect((await lease('node-a')).spec?.leaseTransitions).toBe(0);
  });

  it('drops a node whose lease an operator deleted, and adds one that registers later', async () => {
    const driver = registry.get('node-b') as RemoteNodeDriver;
    await registrations[1]!.stop();
    await h.backing.delete('Lease', NS, agentLeaseName('node-b'));
    await until(() => registry.get('node-b') === undefined, 'node-b removed');
    expect((await driver.ping().catch((e: { reason: string }) => e)) as { reason: string }).toMatchObject({
      reason: 'NodeUnreachable',
    });
    const fabric = sims[0]!.fabric;
    const late = new SimNode({ name: 'node-c', fabric, timing: { heartbeatMs: 0 } });
    const srv = await serveNodeDriver(late, { token: TOKEN });
    servers.push(srv);
    const r = registerAgent({
      store: await h.client(),
      clock,
      namespace: NS,
      nodeName: 'node-c',
      endpoint: { url: srv.url, certificate: srv.certificate! },
    });
    registrations.push(r);
    await until(() => registry.get('node-c') !== undefined, 'node-c added');
    await drive(clock, registry.get('node-c')!.ping());
  });

  it('survives the API server dropping its watch: later registrations still arrive', async () => {
    h.server.handler.closeWatches();
    const fabric = sims[0]!.fabric;
    const late = new SimNode({ name: 'node-d', fabric, timing: { heartbeatMs: 0 } });
    const srv = await serveNodeDriver(late, { token: TOKEN });
    servers.push(srv);
    registrations.push(
      registerAgent({
        store: await h.client(),
        clock,
        namespace: NS,
        nodeName: 'node-d',
        endpoint: { url: srv.url, certificate: srv.certificate! },
      }),
    );
    await until(() => registry.get('node-d') !== undefined, 'node-d added after the watch was dropped', 20_000);
  });
});
