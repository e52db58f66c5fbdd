// The real kubectl binary against the API server: discovery, tables, apply, patch, delete, wait, watch.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject, Node, VirtualMachine, VirtualMachineInstance } from '@virtkit/engine';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EXAMPLES_DIR, type Harness, kubectl, kubectlUntil, startServer, vm } from './support.ts';

let h: Harness;

beforeAll(async () => {
  h = await startServer();
});
afterAll(async () => {
  await h.close();
});

async function clear(): Promise<void> {
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
}

beforeEach(clear);

/** Splits kubectl's table output into rows of cells (columns separated by 2+ spaces). */
function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s{2,}/));
}

async function setVmStatus(name: string, status: VirtualMachine['status']): Promise<void> {
  const cur = await h.store.get('VirtualMachine', 'default', name);
  await h.store.updateStatus('VirtualMachine', { ...cur, status: status ?? {} });
}

describe('kubectl get', () => {
  it('shows KubeVirt columns for vms, vmis and nodes', async () => {
    await h.store.create('VirtualMachine', vm('web-1'));
    await setVmStatus('web-1', {
      printableStatus: 'Running',
      ready: true,
      conditions: [{ type: 'Ready', status: 'True' }],
    });
    await h.store.create('VirtualMachine', vm('db-1'));
    await setVmStatus('db-1', { printableStatus: 'Stopped' });
    const vmi = await h.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'web-1', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    await h.store.updateStatus('VirtualMachineInstance', {
      ...vmi,
      status: {
        phase: 'Running',
        nodeName: 'node-a',
        interfaces: [{ name: 'default', ipAddress: '10.0.0.7' }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
    const node = await h.store.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } } as Node);
    await h.store.updateStatus('Node', {
      ...node,
      status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'virtkit-sim' } },
    });

    const r = await kubectl(h, ['get', 'vms,vmis,nodes']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = rows(r.stdout);
    expect(t[0]).toEqual(['NAME', 'AGE', 'STATUS', 'READY']);
    expect(t[1]).toEqual(['virtualmachine.kubevirt.io/db-1', expect.stringMatching(/^\d+s$/), 'Stopped']);
    expect(t[2]).toEqual(['virtualmachine.kubevirt.io/web-1', expect.stringMatching(/^\d+s$/), 'Running', 'True']);
    expect(t[3]).toEqual(['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY']);
    expect(t[4]).toEqual([
      'virtualmachineinstance.kubevirt.io/web-1',
      expect.stringMatching(/^\d+s$/),
      'Running',
      '10.0.0.7',
      'node-a',
      'True',
    ]);
    expect(t[5]).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
    expect(t[6]).toEqual(['node/node-a', 'Ready', '<none>', expect.stringMatching(/^\d+s$/), 'virtkit-sim']);
  });

  it('filters by label and field selectors, across namespaces, and pages with --chunk-size', async () => {
    for (let i = 0; i < 7; i++)
      await h.store.create(
        'VirtualMachine',
        vm(`vm-${i}`, i % 2 ? 'team-a' : 'default', { tier: i < 3 ? 'web' : 'db' }),
      );
    const byLabel = await kubectl(h, ['get', 'vms', '-A', '-l', 'tier=web', '-o', 'name']);
    expect(byLabel.stdout.trim().split('\n').sort()).toEqual([
      'virtualmachine.kubevirt.io/vm-0',
      'virtualmachine.kubevirt.io/vm-1',
      'virtualmachine.kubevirt.io/vm-2',
    ]);
    const byField = await kubectl(h, [
      'get',
      'vms',
      '-n',
      'team-a',
      '--field-selector',
      'metadata.name!=vm-3',
      '-o',
      'name',
    ]);
    expect(byField.stdout.trim().split('\n')).toEqual([
      'virtualmachine.kubevirt.io/vm-1',
      'virtualmachine.kubevirt.io/vm-5',
    ]);
    const paged = await kubectl(h, ['get', 'vms', '-A', '--chunk-size=2', '-v=6']);
    expect(rows(paged.stdout).length).toBe(8);
    // Four pages of two: the first without a continue token, three with one.
    const gets = paged.stderr.split('\n').filter((l) => /GET https:\S+\/virtualmachines\?\S*limit=2/.test(l));
    expect(gets.length).toBe(4);
    expect(gets.filter((l) => l.includes('continue=')).length).toBe(3);
  });

  it('lists api-resources from aggregated discovery and shows the default namespace', async () => {
    const r = await kubectl(h, ['api-resources', '--api-group=kubevirt.io', '-o', 'name']);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      'virtualmachineinstancemigrations.kubevirt.io',
      'virtualmachineinstancereplicasets.kubevirt.io',
      'virtualmachineinstances.kubevirt.io',
      'virtualmachines.kubevirt.io',
    ]);
    const ns = await kubectl(h, ['get', 'namespace', 'default', '-o', 'jsonpath={.status.phase}']);
    expect(ns.stdout).toBe('Active');
  });
});

describe('kubectl apply', () => {
  it('applies every KubeVirt example, then again as unchanged or configured', async () => {
    const files = (await readdir(EXAMPLES_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThan(0);
    const expected: { kind: string; name: string }[] = [];
    for (const f of files) {
      const text = await readFile(join(EXAMPLES_DIR, f), 'utf8');
      for (const d of parseAllDocuments(text)) {
        const o = d.toJS() as KubeObject;
        expected.push({ kind: o.kind, name: o.metadata.name! });
      }
      const r = await kubectl(h, ['apply', '-f', join(EXAMPLES_DIR, f)]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/ created\n$/);
    }
    for (const { kind, name } of expected) {
      const stored = (await h.store.get(kind as 'VirtualMachine', 'default', name)) as KubeObject;
      // kubevirt.io/v1alpha3 manifests are stored as kubevirt.io/v1, like KubeVirt does.
      expect(stored.apiVersion).toBe(kind === 'Node' ? 'v1' : 'kubevirt.io/v1');
      expect(stored.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBeDefined();
    }
    for (const f of files) {
      const r = await kubectl(h, ['apply', '-f', join(EXAMPLES_DIR, f)]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/ (unchanged|configured)\n$/);
    }
    const again = await kubectl(h, ['apply', '-f', join(EXAMPLES_DIR, 'vm-cirros.yaml')]);
    expect(again.stdout).toBe('virtualmachine.kubevirt.io/vm-cirros unchanged\n');
  });

  it('applies a change as "configured" and reports unsupported fields as warnings', async () => {
    const file = join(h.dir, 'vm.yaml');
    const doc = vm('applied') as unknown as Record<string, unknown>;
    await writeFile(file, JSON.stringify(doc));
    expect((await kubectl(h, ['apply', '-f', file])).stdout).toContain('created');
    (doc.metadata as { labels: Record<string, string> }).labels = { env: 'prod' };
    (doc.spec as { template: { spec: { domain: Record<string, unknown> } } }).template.spec.domain.chassis = {
      vendor: 'acme',
    };
    await writeFile(file, JSON.stringify(doc));
    const r = await kubectl(h, ['apply', '-f', file]);
    expect(r.stdout).toBe('virtualmachine.kubevirt.io/applied configured\n');
    expect(r.stderr).toMatch(/^Warning: spec\.template\.spec\.domain\.chassis: .*not supported/m);
    const stored = await h.store.get('VirtualMachine', 'default', 'applied');
    expect(stored.metadata.labels).toEqual({ env: 'prod' });
  });

  it('rejects an invalid manifest with the field and reason, storing nothing', async () => {
    const file = join(h.dir, 'bad.yaml');
    const bad = vm('bad');
    (bad.spec.template.spec.domain as unknown as Record<string, unknown>).memory = { guest: 'lots' };
    await writeFile(file, JSON.stringify(bad));
    const r = await kubectl(h, ['apply', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('The VirtualMachine "bad" is invalid');
    expect(r.stderr).toContain('spec.template.spec.domain.memory.guest');
    expect(await h.store.tryGet('VirtualMachine', 'default', 'bad')).toBeUndefined();
  });

  it('applies server-side', async () => {
    const file = join(h.dir, 'ssa.yaml');
    await writeFile(file, JSON.stringify(vm('ssa')));
    const first = await kubectl(h, ['apply', '--server-side', '-f', file]);
    expect(first.stdout).toBe('virtualmachine.kubevirt.io/ssa serverside-applied\n');
    const second = await kubectl(h, ['apply', '--server-side', '-f', file]);
    expect(second.code).toBe(0);
    expect((await h.store.get('VirtualMachine', 'default', 'ssa')).spec.runStrategy).toBe('Halted');
  });
});

describe('kubectl patch, delete, wait, watch', () => {
  it('patches with merge and json patches', async () => {
    await h.store.create('VirtualMachine', vm('p', 'default', { app: 'demo' }));
    const merge = await kubectl(h, ['patch', 'vm', 'p', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Always"}}']);
    expect(merge.stdout).toBe('virtualmachine.kubevirt.io/p patched\n');
    expect((await h.store.get('VirtualMachine', 'default', 'p')).spec.runStrategy).toBe('Always');
    const json = await kubectl(h, [
      'patch',
      'vm',
      'p',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/metadata/labels/color","value":"blue"},{"op":"replace","path":"/spec/runStrategy","value":"Manual"}]',
    ]);
    expect(json.stdout, json.stderr).toBe('virtualmachine.kubevirt.io/p patched\n');
    const after = await h.store.get('VirtualMachine', 'default', 'p');
    expect(after.spec.runStrategy).toBe('Manual');
    expect(after.metadata.labels?.color).toBe('blue');
    const bad = await kubectl(h, ['patch', 'vm', 'p', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Sometimes"}}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.runStrategy');
    expect((await h.store.get('VirtualMachine', 'default', 'p')).spec.runStrategy).toBe('Manual');
  });

  it('deletes, and says NotFound for what is not there', async () => {
    await h.store.create('VirtualMachine', vm('d'));
    const r = await kubectl(h, ['delete', 'vm', 'd']);
    expect(r.stdout).toBe('virtualmachine.kubevirt.io "d" deleted\n');
    expect(await h.store.tryGet('VirtualMachine', 'default', 'd')).toBeUndefined();
    const again = await kubectl(h, ['delete', 'vm', 'd']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toBe('Error from server (NotFound): virtualmachines.kubevirt.io "d" not found\n');
  });

  it('waits for printableStatus Running', async () => {
    await h.store.create('VirtualMachine', vm('w'));
    const notYet = await kubectl(h, [
      'wait',
      'vm/w',
      '--for=jsonpath={.status.printableStatus}=Running',
      '--timeout=1s',
    ]);
    expect(notYet.code).not.toBe(0);
    expect(notYet.stderr).toContain('timed out');
    const waiting = kubectl(h, ['wait', 'vm/w', '--for=jsonpath={.status.printableStatus}=Running', '--timeout=20s']);
    await setVmStatus('w', { printableStatus: 'Starting' });
    await setVmStatus('w', { printableStatus: 'Running' });
    const r = await waiting;
    expect(r.stdout).toBe('virtualmachine.kubevirt.io/w condition met\n');
  });

  it('streams changes to `get -w`', async () => {
    await h.store.create('VirtualMachine', vm('watched'));
    const w = kubectlUntil(h, ['get', 'vms', '-w'], (out) => /watched\s+\S+\s+Running\s+True/.test(out));
    // Change the VM only once kubectl shows its first row, so the change must arrive through the watch.
    while (!/watched/.test(w.stdout())) await new Promise((r) => setTimeout(r, 20));
    await setVmStatus('watched', { printableStatus: 'Starting' });
    await setVmStatus('watched', { printableStatus: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
    const out = await w.result;
    const lines = rows(out);
    expect(lines[0]).toEqual(['NAME', 'AGE', 'STATUS', 'READY']);
    expect(lines.map((l) => l[2] ?? '')).toEqual(['STATUS', '', 'Starting', 'Running']);
  });
});

describe('kubectl authentication', () => {
  it('is refused with a wrong token', async () => {
    const text = (await readFile(h.kubeconfig, 'utf8')).replace(h.server.token!, 'wrong-token');
    const bad = join(h.dir, 'bad-kubeconfig');
    await writeFile(bad, text);
    const r = await kubectl({ ...h, kubeconfig: bad }, ['get', 'vms']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('You must be logged in to the server');
  });
});
