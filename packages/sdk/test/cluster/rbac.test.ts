/**
 * Least privilege, checked against what the processes really do: a controller and two agents run a VM's
 * life (create, run, migrate, delete) through a recording proxy in front of our API server; every request
 * each one made is then authorised the way the apiserver's RBAC authoriser would, against the rules in
 * deploy/rbac-*.yaml. (Our API server has no RBAC of its own; this is the check that stands in for it.)
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { VirtualClock, type VirtualMachine, validateObject } from '@virtkit/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type Agent, type Controller, startController } from '../../src/cluster/index.ts';
import { type ClusterHarness, startCluster, startSimAgents, testCertificate } from './support.ts';

const NS = 'virtkit-system';
const DEPLOY = join(import.meta.dirname, '../../../../deploy');

interface Recorded {
  who: 'controller' | 'agent';
  method: string;
  path: string;
  watch: boolean;
}

interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
}

/** Request → RBAC attributes, as the apiserver's request-info resolver derives them. */
function attributes(r: Recorded): Attributes {
  const parts = r.path.split('/').filter(Boolean);
  let i: number;
  let group: string;
  if (parts[0] === 'api') {
    group = '';
    i = 2;
  } else {
    group = parts[1]!;
    i = 3;
  }
  let namespace: string | undefined;
  if (parts[i] === 'namespaces' && parts.length > i + 2) {
    namespace = parts[i + 1];
    i += 2;
  }
  let resource = parts[i]!;
  const name = parts[i + 1];
  const subresource = parts[i + 2];
  // In the deployment the engine's nodes are HypervisorNodes; this test runs them as v1 Nodes.
  if (group === '' && resource === 'nodes') {
    group = 'virtkit.io';
    resource = 'hypervisornodes';
  }
  const verb =
    r.method === 'GET'
      ? name === undefined
        ? r.watch
          ? 'watch'
          : 'list'
        : 'get'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name === undefined ? 'deletecollection' : 'delete' }[
          r.method
        ] ?? r.method);
  return { verb, group, resource, subresource, namespace, name };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function rbac(file: string): { clusterRules: Rule[]; namespaceRules: Rule[] } {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map(
    (d) => d.toJS() as { kind: string; rules?: Rule[]; metadata: { namespace?: string } },
  );
  return {
    clusterRules: docs.filter((d) => d.kind === 'ClusterRole').flatMap((d) => d.rules ?? []),
    namespaceRules: docs.filter((d) => d.kind === 'Role' && d.metadata.namespace === NS).flatMap((d) => d.rules ?? []),
  };
}

function allowed(a: Attributes, rules: { clusterRules: Rule[]; namespaceRules: Rule[] }): boolean {
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const match = (r: Rule) =>
    (r.apiGroups.includes(a.group) || r.apiGroups.includes('*')) &&
    (r.resources.includes(res) || r.resources.includes('*')) &&
    (r.verbs.includes(a.verb) || r.verbs.includes('*')) &&
    (!r.resourceNames || (a.name !== undefined && r.resourceNames.includes(a.name)));
  return rules.clusterRules.some(match) || (a.namespace === NS && rules.namespaceRules.some(match));
}

let h: ClusterHarness;
let proxy: { url: string; close(): Promise<void> };
let recorded: Recorded[];
let clock: VirtualClock;
let agents: Agent[] = [];
let controller: Controller;

/** An HTTPS proxy in front of the API server that records who asked for what (by bearer token). */
async function recordingProxy(): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(h.server.url);
  const cert = testCertificate();
  const server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const who = token === 'controller-token' ? 'controller' : token === 'agent-token' ? 'agent' : undefined;
    if (!who) {
      res.writeHead(401).end();
      return;
    }
    const url = new URL(req.url ?? '/', target);
    recorded.push({
      who,
      method: req.method ?? 'GET',
      path: url.pathname,
      watch: url.searchParams.get('watch') === 'true',
    });
    const upstream = httpsRequest(
      url,
      {
        method: req.method,
        headers: { ...req.headers, host: target.host, authorization: `Bearer ${h.server.token}` },
        ca: h.server.caCertificate,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        // A watch's headers must reach the client before its first event does.
        res.flushHeaders();
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function kubeconfigFor(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: proxy.url, caData: Buffer.from(testCertificate().cert).toString('base64') }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

async function runUntil(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = clock.now() + 600_000;
  while (!(await cond())) {
    if (clock.now() >= end) throw new Error(`not within 10 minutes of virtual time: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
    await clock.advance(250);
  }
}

beforeEach(async () => {
  h = await startCluster({}, { validate: validateObject, defaults: true });
  recorded = [];
  proxy = await recordingProxy();
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  agents = await startSimAgents({
    kubeconfig: kubeconfigFor('agent-token'),
    namespace: NS,
    token: 'rpc',
    clock,
    seed: 5,
  });
  controller = await startController({
    kubeconfig: kubeconfigFor('controller-token'),
    namespace: NS,
    identity: 'controller-0',
    token: 'rpc',
    clock,
    nodes: 'core',
  });
});

afterEach(async () => {
  await controller.stop();
  for (const a of agents.splice(0)) await a.stop();
  await proxy.close();
  await h.close();
});

describe('RBAC in deploy/', () => {
  it('allows every request the controller and the agents make through a VM’s life, and the agents nothing but Leases', async () => {
    const user = await h.client();
    await runUntil(async () => controller.engine?.running === true && controller.drivers.size === 2, 'engine leads');
    const vm: VirtualMachine = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'web', namespace: 'team-a' },
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
    await user.create('VirtualMachine', vm);
    const phase = async () => (await h.backing.tryGet('VirtualMachineInstance', 'team-a', 'web'))?.status?.phase;
    await runUntil(async () => (await phase()) === 'Running', 'web running');
    await user.create('VirtualMachineInstanceMigration', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { name: 'mig', namespace: 'team-a' },
      spec: { vmiName: 'web' },
    });
    await runUntil(
      async () =>
        (await h.backing.tryGet('VirtualMachineInstanceMigration', 'team-a', 'mig'))?.status?.phase === 'Succeeded',
      'migrated',
    );
    await user.delete('VirtualMachine', 'team-a', 'web');
    await runUntil(
      async () =>
        (await h.backing.tryGet('VirtualMachine', 'team-a', 'web')) === undefined && (await phase()) === undefined,
      'VM and VMI gone',
    );

    const controllerRules = rbac('rbac-controller.yaml');
    const agentRules = rbac('rbac-agent.yaml');
    const denied = recorded
      .map((r) => ({ r, a: attributes(r) }))
      .filter(({ r, a }) => !allowed(a, r.who === 'controller' ? controllerRules : agentRules))
      .map(
        ({ r, a }) =>
          `${r.who}: ${a.verb} ${a.group}/${a.resource}${a.subresource ? `/${a.subresource}` : ''} in ${a.namespace ?? '(cluster)'}`,
      );
    expect([...new Set(denied)]).toEqual([]);

    const used = (who: Recorded['who']) =>
      [
        ...new Set(
          recorded
            .filter((r) => r.who === who)
            .map((r) => {
              const a = attributes(r);
              return `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`;
            }),
        ),
      ].sort();
    // The agents touch Leases only; the controller did all of its kinds of work (the check saw real traffic).
    expect(used('agent').every((u) => u.endsWith(' leases'))).toBe(true);
    const c = used('controller');
    for (const expected of [
      'create virtualmachineinstances',
      'patch virtualmachineinstances/status',
      'update virtualmachines/status',
      'delete virtualmachineinstances',
      'watch virtualmachines',
      'create hypervisornodes',
      'create events',
      'update leases',
    ]) {
      expect(c).toContain(expected);
    }
    // And the check is able to fail: a request the rules do not grant is refused.
    expect(
      allowed(
        attributes({ who: 'agent', method: 'GET', path: '/apis/kubevirt.io/v1/virtualmachines', watch: false }),
        agentRules,
      ),
    ).toBe(false);
    expect(
      allowed(
        attributes({ who: 'controller', method: 'PATCH', path: '/api/v1/namespaces/x/pods/p', watch: false }),
        controllerRules,
      ),
    ).toBe(false);
  });
});
