// Everyday kubectl workflows a KubeVirt user runs, with the real kubectl against the API server.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject, Node, VirtualMachineInstance, VirtualMachineInstanceReplicaSet } from '@virtkit/engine';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, kubectl, kubectlUntil, startServer, vm } from './support.ts';

let h: Harness;

beforeAll(async () => {
  h = await startServer();
});
afterAll(async () => {
  await h.close();
});

beforeEach(async () => {
  for (const kind of [
    'VirtualMachine',
    'VirtualMachineInstance',
    'VirtualMachineInstanceReplicaSet',
    'Node',
  ] as const) {
    for (const o of (await h.store.list(kind)).items as KubeObject[]) {
      await h.store.delete(kind, o.metadata.namespace, o.metadata.name!);
    }
  }
});

function replicaSet(name: string, replicas: number): VirtualMachineInstanceReplicaSet {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: vm('x').spec.template.spec },
    },
  } as VirtualMachineInstanceReplicaSet;
}

describe('kubectl scale', () => {
  it('scales a VMIRS through its scale subresource', async () => {
    await h.store.create('VirtualMachineInstanceReplicaSet', replicaSet('rs', 1));
    const r = await kubectl(h, ['scale', 'vmirs', 'rs', '--replicas=4']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('virtualmachineinstancereplicaset.kubevirt.io/rs scaled\n');
    expect((await h.store.get('VirtualMachineInstanceReplicaSet', 'default', 'rs')).spec.replicas).toBe(4);

    // --current-replicas makes kubectl read the Scale and write it back with its resourceVersion.
    const stale = await kubectl(h, ['scale', 'vmirs', 'rs', '--current-replicas=2', '--replicas=3']);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('Expected replicas to be 2, was 4');
    const guarded = await kubectl(h, ['scale', 'vmirs', 'rs', '--current-replicas=4', '--replicas=0']);
    expect(guarded.stdout, guarded.stderr).toBe('virtualmachineinstancereplicaset.kubevirt.io/rs scaled\n');
    expect((await h.store.get('VirtualMachineInstanceReplicaSet', 'default', 'rs')).spec.replicas).toBe(0);

    const scale = await kubectl(h, [
      'get',
      '--raw',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancereplicasets/rs/scale',
    ]);
    expect(JSON.parse(scale.stdout)).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'rs', namespace: 'default' },
      spec: { replicas: 0 },
    });
    const negative = await kubectl(h, ['scale', 'vmirs', 'rs', '--replicas=-1']);
    expect(negative.code).not.toBe(0);
  });

  it('makes the scaler the owner of spec.replicas, so a server-side apply of another count conflicts', async () => {
    const file = join(h.dir, 'rs.json');
    await writeFile(file, JSON.stringify(replicaSet('owned-rs', 2)));
    expect((await kubectl(h, ['apply', '--server-side', '-f', file])).code).toBe(0);
    expect((await kubectl(h, ['scale', 'vmirs', 'owned-rs', '--replicas=5'])).code).toBe(0);
    const conflict = await kubectl(h, ['apply', '--server-side', '-f', file]);
    expect(conflict.code).not.toBe(0);
    // kubectl scale names no field manager: the server takes the client's name from its User-Agent.
    expect(conflict.stderr).toContain('conflict with "kubectl" using kubevirt.io/v1: .spec.replicas');
    expect((await h.store.get('VirtualMachineInstanceReplicaSet', 'default', 'owned-rs')).spec.replicas).toBe(5);
  });

  it('refuses a VM, which has no scale subresource, the way kubectl does', async () => {
    await h.store.create('VirtualMachine', vm('one'));
    const r = await kubectl(h, ['scale', 'vm', 'one', '--replicas=2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('could not find the requested resource');
  });
});

describe('kubectl get -o wide', () => {
  it("shows KubeVirt's wide VMI columns, Live-Migratable and Paused", async () => {
    const created = await h.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'paused', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    await h.store.updateStatus('VirtualMachineInstance', {
      ...created,
      status: {
        phase: 'Running',
        nodeName: 'node-a',
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'LiveMigratable', status: 'True' },
          { type: 'Paused', status: 'True' },
        ],
      },
    });
    const r = await kubectl(h, ['get', 'vmi', '-o', 'wide']);
    const [header, row] = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s{2,}/));
    expect(header).toEqual(['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY', 'LIVE-MIGRATABLE', 'PAUSED']);
    expect(row).toEqual(['paused', expect.stringMatching(/^\d+s$/), 'Running', 'node-a', 'False', 'True', 'True']);
  });
});

describe('kubectl explain', () => {
  it('explains KubeVirt kinds and their fields from the OpenAPI v3 documents', async () => {
    const vmDoc = await kubectl(h, ['explain', 'vm']);
    expect(vmDoc.stderr).toBe('');
    expect(vmDoc.stdout).toMatch(/^GROUP:\s+kubevirt\.io\nKIND:\s+VirtualMachine\nVERSION:\s+v1\n/);
    expect(vmDoc.stdout).toMatch(/^ {2}spec\t<Object>$/m);
    const strategy = await kubectl(h, ['explain', 'vm.spec.runStrategy']);
    expect(strategy.stdout).toContain('FIELD: runStrategy <string>');
    expect(strategy.stdout).toMatch(/ENUM:\n\s+Always\n\s+Halted\n\s+Manual\n\s+RerunOnFailure\n\s+Once\n/);
    // A VM's template spec is a VMI spec, described alike.
    const guest = await kubectl(h, ['explain', 'vm.spec.template.spec.domain.memory']);
    expect(guest.stdout).toMatch(/^ {2}guest\t<string>\n\s+Memory the guest sees/m);
    const tree = await kubectl(h, ['explain', 'vmi.spec.domain.devices', '--recursive']);
    expect(tree.stdout).toMatch(/^ {2}disks\t<\[\]Object>$/m);
    expect(tree.stdout).toMatch(/^ {4}bootOrder\t<integer>$/m);
    const node = await kubectl(h, ['explain', 'node.spec.unschedulable']);
    expect(node.stdout).toContain('FIELD: unschedulable <boolean>');
    const missing = await kubectl(h, ['explain', 'vm.spec.nonsense']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('field "nonsense" does not exist');
  });
});

async function placedVmi(
  name: string,
  node: string,
  evictionStrategy?: 'LiveMigrate' | 'None',
): Promise<VirtualMachineInstance> {
  const spec = { ...vm('x').spec.template.spec, ...(evictionStrategy ? { evictionStrategy } : {}) };
  const created = await h.store.create('VirtualMachineInstance', {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, namespace: 'default' },
    spec,
  } as VirtualMachineInstance);
  return h.store.updateStatus('VirtualMachineInstance', {
    ...created,
    status: {
      phase: 'Running',
      nodeName: node,
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'LiveMigratable', status: 'True' },
      ],
    },
  });
}

async function readyNode(name: string): Promise<void> {
  const node = await h.store.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name } } as Node);
  await h.store.updateStatus('Node', {
    ...node,
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    },
  });
}

describe('virt-launcher pods', () => {
  it('lists one pod per placed VMI, which describe node shows with its requests', async () => {
    await readyNode('node-a');
    await placedVmi('web', 'node-a');
    await placedVmi('db', 'node-b');
    const pods = await kubectl(h, ['get', 'pods', '-o', 'wide']);
    expect(pods.stderr).toBe('');
    const lines = pods.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^virt-launcher-db-\w{5}\s+1\/1\s+Running\s+0\s+\S+\s+<none>\s+node-b\s/);
    expect(lines[2]).toMatch(/^virt-launcher-web-\w{5}\s+1\/1\s+Running\s+0\s+\S+\s+<none>\s+node-a\s/);
    const onA = await kubectl(h, ['get', 'pods', '-A', '--field-selector', 'spec.nodeName=node-a', '-o', 'name']);
    expect(onA.stdout).toMatch(/^pod\/virt-launcher-web-\w{5}\n$/);
    const owner = await kubectl(h, [
      'get',
      'pods',
      '-l',
      'vm.kubevirt.io/name=web',
      '-o',
      'jsonpath={.items[0].metadata.ownerReferences[0].kind}',
    ]);
    expect(owner.stdout).toBe('VirtualMachineInstance');

    const d = await kubectl(h, ['describe', 'node', 'node-a']);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('Non-terminated Pods:          (1 in total)');
    expect(d.stdout).toMatch(/default\s+virt-launcher-web-\w{5}\s+1 \(25%\)\s+0 \(0%\)\s+128Mi \(1%\)/);
  });

  it('drains a node: a VMI without evictionStrategy is evicted, a LiveMigrate one is evacuated', async () => {
    await readyNode('node-a');
    await placedVmi('plain', 'node-a');
    const r = await kubectl(h, ['drain', 'node-a', '--timeout=20s']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^node\/node-a cordoned\n(.*\n)*pod\/virt-launcher-plain-\w{5} evicted\nnode\/node-a drained\n$/,
    );
    expect(await h.store.tryGet('VirtualMachineInstance', 'default', 'plain')).toBeUndefined();
    expect((await h.store.get('Node', undefined, 'node-a')).spec?.unschedulable).toBe(true);

    // LiveMigrate: the eviction is refused with 429 while an evacuation migration moves the VMI; kubectl retries.
    await placedVmi('mover', 'node-a', 'LiveMigrate');
    const blocked = await kubectl(h, ['drain', 'node-a', '--timeout=2s']);
    expect(blocked.code).not.toBe(0);
    expect(blocked.stderr).toContain('Eviction triggered evacuation of VMI "default/mover"');
    const migrations = (await h.store.list('VirtualMachineInstanceMigration')).items;
    expect(migrations.map((m) => m.spec.vmiName)).toEqual(['mover']);
    expect(migrations[0]!.metadata.annotations?.['kubevirt.io/evacuationMigration']).toBe('node-a');
    const moving = await h.store.get('VirtualMachineInstance', 'default', 'mover');
    await h.store.updateStatus('VirtualMachineInstance', {
      ...moving,
      status: { ...moving.status, nodeName: 'node-b' },
    });
    const done = await kubectl(h, ['drain', 'node-a', '--timeout=20s']);
    expect(done.stdout, done.stderr).toMatch(/node\/node-a drained\n$/);
    expect(await h.store.tryGet('VirtualMachineInstance', 'default', 'mover')).toBeDefined();
  });
});

describe('kubectl auth', () => {
  it('answers can-i and whoami for the token, which may do everything', async () => {
    const can = await kubectl(h, ['auth', 'can-i', 'delete', 'vm']);
    expect(can.stderr).toBe('');
    expect(can.stdout).toBe('yes\n');
    const all = await kubectl(h, ['auth', 'can-i', '*', '*', '--all-namespaces']);
    expect(all.stdout).toBe('yes\n');
    const list = await kubectl(h, ['auth', 'can-i', '--list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
    const who = await kubectl(h, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(who.stderr).toBe('');
    expect(who.stdout).toBe('virtkit-admin');
  });
});

describe('kubectl apply --server-side', () => {
  it('tracks field managers: a conflicting apply is refused, --force-conflicts takes over, dropped fields go', async () => {
    const file = join(h.dir, 'ssa-owned.yaml');
    const manifest = vm('owned', 'default', { app: 'a', tier: 'web' });
    await writeFile(file, JSON.stringify(manifest));
    expect((await kubectl(h, ['apply', '--server-side', '-f', file])).stdout).toBe(
      'virtualmachine.kubevirt.io/owned serverside-applied\n',
    );
    const managed = ((await h.store.get('VirtualMachine', 'default', 'owned')).metadata as { managedFields?: unknown })
      .managedFields as {
      manager: string;
      operation: string;
      fieldsV1: Record<string, unknown>;
    }[];
    expect(managed.map((m) => [m.manager, m.operation])).toEqual([['kubectl', 'Apply']]);
    expect(managed[0]!.fieldsV1).toMatchObject({ 'f:spec': { 'f:runStrategy': {} } });

    const patched = await kubectl(h, [
      'patch',
      'vm',
      'owned',
      '--type',
      'merge',
      '-p',
      '{"spec":{"runStrategy":"Manual"}}',
    ]);
    expect(patched.code).toBe(0);
    const conflict = await kubectl(h, ['apply', '--server-side', '-f', file]);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain(
      'Apply failed with 1 conflict: conflict with "kubectl-patch" using kubevirt.io/v1: .spec.runStrategy',
    );
    expect((await h.store.get('VirtualMachine', 'default', 'owned')).spec.runStrategy).toBe('Manual');

    const forced = await kubectl(h, ['apply', '--server-side', '--force-conflicts', '-f', file]);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await h.store.get('VirtualMachine', 'default', 'owned')).spec.runStrategy).toBe('Halted');

    // A label the applier no longer applies is removed; one another manager set stays.
    expect((await kubectl(h, ['label', 'vm', 'owned', 'team=infra'])).code).toBe(0);
    await writeFile(file, JSON.stringify(vm('owned', 'default', { app: 'a' })));
    expect((await kubectl(h, ['apply', '--server-side', '-f', file])).code).toBe(0);
    expect((await h.store.get('VirtualMachine', 'default', 'owned')).metadata.labels).toEqual({
      app: 'a',
      team: 'infra',
    });
    // The same value as another manager's is shared ownership, not a conflict.
    await writeFile(file, JSON.stringify(vm('owned', 'default', { app: 'a', team: 'infra' })));
    const shared = await kubectl(h, ['apply', '--server-side', '-f', file]);
    expect(shared.code, shared.stderr).toBe(0);
  });
});

describe('kubectl get nodes -o wide', () => {
  it("shows kubectl's wide node columns", async () => {
    const node = await h.store.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } as Node);
    await h.store.updateStatus('Node', {
      ...node,
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: '192.168.1.5' }],
        nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0' },
      },
    } as Node);
    const r = await kubectl(h, ['get', 'nodes', '-o', 'wide']);
    const [header, row] = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s{2,}/));
    expect(header).toEqual([
      'NAME',
      'STATUS',
      'ROLES',
      'AGE',
      'VERSION',
      'INTERNAL-IP',
      'EXTERNAL-IP',
      'OS-IMAGE',
      'KERNEL-VERSION',
      'CONTAINER-RUNTIME',
    ]);
    expect(row).toEqual([
      'n1',
      'Ready',
      '<none>',
      expect.stringMatching(/^\d+s$/),
      'v1.32.0',
      '192.168.1.5',
      '<none>',
      'Debian GNU/Linux 12 (bookworm)',
      '6.1.0',
      '<unknown>',
    ]);
  });
});

describe('kubectl get pods -w', () => {
  it('follows the VMIs: a pod appears when placed and a migrated VMI is a new pod', async () => {
    await placedVmi('mover', 'node-a');
    const w = kubectlUntil(h, ['get', 'pods', '-w', '--output-watch-events', '-o', 'wide'], (out) =>
      /ADDED\s+virt-launcher-mover-\w{5}.*node-b/.test(out),
    );
    while (!/virt-launcher-mover/.test(w.stdout())) await new Promise((r) => setTimeout(r, 20));
    const vmi = await h.store.get('VirtualMachineInstance', 'default', 'mover');
    await h.store.updateStatus('VirtualMachineInstance', { ...vmi, status: { ...vmi.status, nodeName: 'node-b' } });
    const events = (await w.result)
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    expect(events.map((e) => [e[0], e[7]])).toEqual([
      ['ADDED', 'node-a'],
      ['DELETED', 'node-a'],
      ['ADDED', 'node-b'],
    ]);
    expect(events[0]![1]).toBe(events[1]![1]);
    expect(events[2]![1]).not.toBe(events[0]![1]);
  });
});

describe('kubectl events', () => {
  it('lists the events of one object with --for', async () => {
    const vmi = await placedVmi('ev', 'node-a');
    for (const [name, involved] of [
      ['ev.1', { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'ev', uid: vmi.metadata.uid }],
      ['other.1', { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'other' }],
    ] as const) {
      await h.store.create('Event', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: 'default' },
        involvedObject: { ...involved, namespace: 'default' },
        reason: 'Started',
        message: `${involved.name} started`,
        type: 'Normal',
        lastTimestamp: new Date().toISOString(),
      } as unknown as KubeObject as never);
    }
    const r = await kubectl(h, ['events', '--for', 'vmi/ev']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n\S+\s+Normal\s+Started\s+VirtualMachineInstance\/ev\s+ev started\n$/,
    );
  });
});

describe('kubectl cluster-info', () => {
  it('names the control plane', async () => {
    const r = await kubectl(h, ['cluster-info']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Kubernetes control plane is running at ${h.server.url}`);
    const svc = await kubectl(h, ['get', 'services', '-A']);
    expect(svc.code).toBe(0);
    expect(svc.stderr).toBe('No resources found\n');
  });
});

describe('VMI updates', () => {
  it("refuses a change to a VMI's spec like KubeVirt's webhook, and allows its metadata", async () => {
    await placedVmi('fixed', 'node-a');
    const spec = await kubectl(h, [
      'patch',
      'vmi',
      'fixed',
      '--type',
      'merge',
      '-p',
      '{"spec":{"domain":{"memory":{"guest":"256Mi"}}}}',
    ]);
    expect(spec.code).not.toBe(0);
    expect(spec.stderr).toBe(
      'Error from server: admission webhook "virtualmachineinstances-update-validator.kubevirt.io" denied the request: update of VMI object is restricted\n',
    );
    expect((await h.store.get('VirtualMachineInstance', 'default', 'fixed')).spec.domain.memory?.guest).toBe('128Mi');
    const label = await kubectl(h, ['label', 'vmi', 'fixed', 'env=prod']);
    expect(label.stdout, label.stderr).toBe('virtualmachineinstance.kubevirt.io/fixed labeled\n');
    expect((await h.store.get('VirtualMachineInstance', 'default', 'fixed')).metadata.labels).toEqual({ env: 'prod' });
  });
});

describe('kubectl patch', () => {
  it('refuses a strategic merge patch of a KubeVirt kind, as for any custom resource, and takes it for a node', async () => {
    await h.store.create('VirtualMachine', vm('sm'));
    const r = await kubectl(h, ['patch', 'vm', 'sm', '-p', '{"spec":{"runStrategy":"Always"}}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'application/strategic-merge-patch+json is not supported by kubevirt.io/v1, Kind=VirtualMachine',
    );
    expect((await h.store.get('VirtualMachine', 'default', 'sm')).spec.runStrategy).toBe('Halted');
    const merge = await kubectl(h, ['patch', 'vm', 'sm', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Always"}}']);
    expect(merge.stdout).toBe('virtualmachine.kubevirt.io/sm patched\n');
    await readyNode('n-sm');
    const node = await kubectl(h, ['patch', 'node', 'n-sm', '-p', '{"spec":{"unschedulable":true}}']);
    expect(node.stdout, node.stderr).toBe('node/n-sm patched\n');
  });
});
