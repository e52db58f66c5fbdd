/**
 * The whole cluster deployment in one process, against our API server on 127.0.0.1 (standing in for a
 * cluster's apiserver): two controller replicas (engine over KubernetesStore, leader election) and two node
 * agents (SimNodes behind serveNodeDriver, registered by Lease). A user creates VMs through the API; they
 * run on the agents' nodes; the leader fails over; a VM live-migrates between the agents. Time is virtual.
 */
import {
  VirtualClock,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VirtualMachineInstanceMigration,
  validateObject,
} from '@virtkit/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Agent, type Controller, startController } from '../../src/cluster/index.ts';
import { type ClusterHarness, drive, startCluster, startSimAgents, until } from './support.ts';

const NS = 'virtkit-system';
const TOKEN = 'cluster-token';

let h: ClusterHarness;
let clock: VirtualClock;
let agents: Agent[] = [];
let controllers: Controller[];

function vm(name: string): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'apps' },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: { memory: { guest: '256Mi' }, devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] } },
          volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
        },
      },
    },
  };
}

/** Virtual time in small steps, real time between them for the HTTP round trips, until `cond` holds. */
async function runUntil(cond: () => Promise<boolean>, what: string, maxVirtualMs = 600_000): Promise<void> {
  const end = clock.now() + maxVirtualMs;
  while (!(await cond())) {
    if (clock.now() >= end) throw new Error(`not within ${maxVirtualMs} ms of virtual time: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
    await clock.advance(250);
  }
}

const vmi = (name: string) => h.backing.tryGet('VirtualMachineInstance', 'apps', name);
const running = async (name: string) => (await vmi(name))?.status?.phase === 'Running';

beforeEach(async () => {
  // The API server as a cluster runs it: KubeVirt's defaults and validation on every write.
  h = await startCluster({}, { validate: validateObject, defaults: true });
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  agents = await startSimAgents({ kubeconfig: h.kubeConfig, namespace: NS, token: TOKEN, clock, seed: 11 });
  controllers = [];
  for (const identity of ['controller-a', 'controller-b']) {
    controllers.push(
      await startController({
        kubeconfig: h.kubeConfig,
        namespace: NS,
        identity,
        token: TOKEN,
        clock,
        // Our API server serves v1 Nodes and no kubelet owns them.
        nodes: 'core',
        driverOptions: { reconnectDelayMs: 10 },
      }),
    );
  }
});

afterEach(async () => {
  for (const c of controllers) await c.stop();
  for (const a of agents.splice(0)) await a.stop();
  await h.close();
});

const leader = () => controllers.find((c) => c.engine?.running);

describe('virtkit on a cluster (our API server standing in for the apiserver)', () => {
  it('one replica leads; VMs created through the API run on the agents; failover keeps them; migration moves one', async () => {
    await runUntil(async () => leader() !== undefined, 'a leader with a running engine');
    expect(controllers.filter((c) => c.elector.isLeader)).toHaveLength(1);
    const first = leader()!;
    await until(() => first.drivers.size === 2, 'both agents discovered');
    await runUntil(
      async () =>
        (await h.backing.list('Node')).items.filter((n) => n.metadata.labels?.['kubevirt.io/schedulable'] === 'true')
          .length === 2,
      'both nodes registered and schedulable',
    );

    // A user creates a VM through the API (any client; here a KubernetesStore of its own).
    const user = await h.client();
    await user.create('VirtualMachine', vm('web'));
    await runUntil(() => running('web'), 'web running');
    const placed = (await vmi('web'))!.status!.nodeName!;
    expect(['node-1', 'node-2']).toContain(placed);
    const agent = agents.find((a) => a.driver.nodeName === placed)!;
    expect((await drive(clock, agent.driver.listDomains())).map((d) => d.id)).toEqual(['apps_web']);

    // The leader goes away (rolling update): the other replica takes over; the VM keeps running.
    await first.stop();
    controllers.splice(controllers.indexOf(first), 1);
    await runUntil(async () => leader() !== undefined, 'the other replica leads');
    const second = leader()!;
    expect(second).not.toBe(first);
    await user.create('VirtualMachine', vm('db'));
    await runUntil(() => running('db'), 'db running under the new leader');
    expect((await vmi('web'))!.status!.phase).toBe('Running');

    // Live migration of web to the other node, requested as KubeVirt users do: a migration object.
    const target = placed === 'node-1' ? 'node-2' : 'node-1';
    await user.create('VirtualMachineInstanceMigration', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { name: 'move-web', namespace: 'apps' },
      spec: { vmiName: 'web' },
    } as VirtualMachineInstanceMigration);
    await runUntil(async () => {
      const m = await h.backing.tryGet('VirtualMachineInstanceMigration', 'apps', 'move-web');
      return m?.status?.phase === 'Succeeded' || m?.status?.phase === 'Failed';
    }, 'migration finished');
    const mig = await h.backing.get('VirtualMachineInstanceMigration', 'apps', 'move-web');
    expect(mig.status?.phase).toBe('Succeeded');
    const moved = (await vmi('web')) as VirtualMachineInstance;
    expect(moved.status?.nodeName).toBe(target);
    expect(moved.status?.phase).toBe('Running');
    const onTarget = agents.find((a) => a.driver.nodeName === target)!;
    expect((await drive(clock, onTarget.driver.listDomains())).map((d) => d.id)).toContain('apps_web');
    expect(second.engine!.errors).toEqual([]);
  });
});
