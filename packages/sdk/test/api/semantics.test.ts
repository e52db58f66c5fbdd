// REST semantics through the real server: deletion (propagation, finalizers, collections), dry runs,
// generateName, the status subresource, Table/PartialObjectMetadata negotiation, discovery documents.
import type { KubeObject, VirtualMachineInstance } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, raw, startServer, vm } from './support.ts';

const NS = '/apis/kubevirt.io/v1/namespaces/default';
const JSON_HEADERS = { 'content-type': 'application/json' };
let h: Harness;

beforeAll(async () => {
  h = await startServer();
});
afterAll(async () => {
  await h.close();
});

async function ownedVmi(owner: KubeObject, name: string): Promise<VirtualMachineInstance> {
  return h.store.create('VirtualMachineInstance', {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name,
      namespace: 'default',
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          name: owner.metadata.name!,
          uid: owner.metadata.uid!,
          controller: true,
        },
      ],
    },
    spec: vm('x').spec.template.spec,
  } as VirtualMachineInstance);
}

describe('delete', () => {
  it('cascades to dependents by default and orphans them when asked', async () => {
    const a = await h.store.create('VirtualMachine', vm('owner-a'));
    await ownedVmi(a, 'owner-a');
    const del = await raw(h.server, `${NS}/virtualmachines/owner-a`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.json()).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'owner-a', uid: a.metadata.uid },
    });
    expect(await h.store.tryGet('VirtualMachineInstance', 'default', 'owner-a')).toBeUndefined();

    const b = await h.store.create('VirtualMachine', vm('owner-b'));
    await ownedVmi(b, 'owner-b');
    const orphan = await raw(h.server, `${NS}/virtualmachines/owner-b`, {
      method: 'DELETE',
      body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' }),
      headers: JSON_HEADERS,
    });
    expect(orphan.status).toBe(200);
    const left = await h.store.get('VirtualMachineInstance', 'default', 'owner-b');
    expect(left.metadata.ownerReferences ?? []).toEqual([]);
  });

  it('returns the object while finalizers hold it, and checks preconditions', async () => {
    const held = await h.store.create('VirtualMachine', {
      ...vm('held'),
      metadata: { ...vm('held').metadata, finalizers: ['example.com/hold'] },
    });
    const wrongRv = await raw(h.server, `${NS}/virtualmachines/held`, {
      method: 'DELETE',
      body: JSON.stringify({ preconditions: { resourceVersion: '1' } }),
      headers: JSON_HEADERS,
    });
    expect(wrongRv.status).toBe(409);
    const del = await raw(h.server, `${NS}/virtualmachines/held`, {
      method: 'DELETE',
      body: JSON.stringify({
        preconditions: { uid: held.metadata.uid, resourceVersion: held.metadata.resourceVersion },
      }),
      headers: JSON_HEADERS,
    });
    expect(del.status).toBe(200);
    const body = del.json() as KubeObject;
    expect(body.kind).toBe('VirtualMachine');
    expect(body.metadata.deletionTimestamp).toBeDefined();
    // Releasing the finalizer completes the deletion.
    const patch = await raw(h.server, `${NS}/virtualmachines/held`, {
      method: 'PATCH',
      body: JSON.stringify({ metadata: { finalizers: null } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patch.status).toBe(200);
    expect(await h.store.tryGet('VirtualMachine', 'default', 'held')).toBeUndefined();
  });

  it('deletes a collection by label selector', async () => {
    for (const [n, tier] of [
      ['c1', 'batch'],
      ['c2', 'batch'],
      ['c3', 'web'],
    ] as const) {
      await h.store.create('VirtualMachine', vm(n, 'coll', { tier }));
    }
    const r = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/coll/virtualmachines?labelSelector=tier%3Dbatch', {
      method: 'DELETE',
    });
    expect(r.status).toBe(200);
    const list = r.json() as { kind: string; items: KubeObject[] };
    expect(list.kind).toBe('VirtualMachineList');
    expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['c1', 'c2']);
    expect((await h.store.list('VirtualMachine', { namespace: 'coll' })).items.map((i) => i.metadata.name)).toEqual([
      'c3',
    ]);
  });
});

describe('writes', () => {
  it('names objects from generateName', async () => {
    const body = vm('');
    body.metadata = { generateName: 'gen-', namespace: 'default' };
    const r = await raw(h.server, `${NS}/virtualmachines`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: JSON_HEADERS,
    });
    expect(r.status).toBe(201);
    const name = (r.json() as KubeObject).metadata.name!;
    expect(name).toMatch(/^gen-[a-z0-9]{5}$/);
    expect(await h.store.tryGet('VirtualMachine', 'default', name)).toBeDefined();
  });

  it('stores nothing on dryRun=All, yet validates and checks existence', async () => {
    const rv = h.store.currentResourceVersion();
    const ok = await raw(h.server, `${NS}/virtualmachines?dryRun=All`, {
      method: 'POST',
      body: JSON.stringify(vm('dry')),
      headers: JSON_HEADERS,
    });
    expect(ok.status).toBe(201);
    expect((ok.json() as KubeObject).spec).toMatchObject({ runStrategy: 'Halted' });
    const bad = vm('dry-bad') as unknown as { spec: Record<string, unknown> };
    bad.spec.runStrategy = 'Nope';
    const invalid = await raw(h.server, `${NS}/virtualmachines?dryRun=All`, {
      method: 'POST',
      body: JSON.stringify(bad),
      headers: JSON_HEADERS,
    });
    expect(invalid.status).toBe(422);
    await h.store.create('VirtualMachine', vm('dry-existing'));
    const before = h.store.currentResourceVersion();
    const patch = await raw(h.server, `${NS}/virtualmachines/dry-existing?dryRun=All`, {
      method: 'PATCH',
      body: JSON.stringify({ spec: { runStrategy: 'Always' } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect((patch.json() as { spec: { runStrategy: string } }).spec.runStrategy).toBe('Always');
    const del = await raw(h.server, `${NS}/virtualmachines/dry-existing?dryRun=All`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(h.store.currentResourceVersion()).toBe(before);
    expect(await h.store.tryGet('VirtualMachine', 'default', 'dry')).toBeUndefined();
    expect((await h.store.get('VirtualMachine', 'default', 'dry-existing')).spec.runStrategy).toBe('Halted');
    expect(Number(before)).toBe(Number(rv) + 1);
    const badDry = await raw(h.server, `${NS}/virtualmachines?dryRun=Some`, {
      method: 'POST',
      body: '{}',
      headers: JSON_HEADERS,
    });
    expect(badDry.status).toBe(400);
  });

  it('writes status only through the status subresource', async () => {
    const created = await h.store.create('VirtualMachine', vm('st'));
    const withStatus = { ...created, status: { printableStatus: 'Running' } };
    const main = await raw(h.server, `${NS}/virtualmachines/st`, {
      method: 'PUT',
      body: JSON.stringify(withStatus),
      headers: JSON_HEADERS,
    });
    expect(main.status).toBe(200);
    expect((main.json() as KubeObject).status).toBeUndefined();
    const current = (await raw(h.server, `${NS}/virtualmachines/st`)).json() as KubeObject;
    const status = await raw(h.server, `${NS}/virtualmachines/st/status`, {
      method: 'PUT',
      body: JSON.stringify({
        ...current,
        status: { printableStatus: 'Running' },
        spec: { ...(current.spec as object), runStrategy: 'Always' },
      }),
      headers: JSON_HEADERS,
    });
    expect(status.status).toBe(200);
    const after = await h.store.get('VirtualMachine', 'default', 'st');
    expect(after.status?.printableStatus).toBe('Running');
    expect(after.spec.runStrategy).toBe('Halted');
    expect((await raw(h.server, `${NS}/virtualmachines/st/status`)).json()).toMatchObject({
      status: { printableStatus: 'Running' },
    });
    // Events have no status subresource.
    expect((await raw(h.server, '/api/v1/namespaces/default/events/x/status')).status).toBe(404);
  });

  it('serves and stores kubevirt.io/v1alpha3 as v1', async () => {
    const old = { ...vm('alpha'), apiVersion: 'kubevirt.io/v1alpha3' };
    const r = await raw(h.server, '/apis/kubevirt.io/v1alpha3/namespaces/default/virtualmachines', {
      method: 'POST',
      body: JSON.stringify(old),
      headers: JSON_HEADERS,
    });
    expect(r.status).toBe(201);
    expect((r.json() as KubeObject).apiVersion).toBe('kubevirt.io/v1alpha3');
    expect((await h.store.get('VirtualMachine', 'default', 'alpha')).apiVersion).toBe('kubevirt.io/v1');
    const v1 = (await raw(h.server, `${NS}/virtualmachines/alpha`)).json() as KubeObject;
    expect(v1.apiVersion).toBe('kubevirt.io/v1');
    const mismatch = await raw(h.server, `${NS}/virtualmachines`, {
      method: 'POST',
      body: JSON.stringify({ ...old, metadata: { name: 'alpha-2' } }),
      headers: JSON_HEADERS,
    });
    expect(mismatch.status).toBe(400);
  });
});

describe('representations', () => {
  it('answers Tables with rows and the chosen includeObject', async () => {
    await h.store.create('VirtualMachine', vm('tbl', 'tables'));
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io';
    const list = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/tables/virtualmachines', { headers: { accept } });
    expect(list.headers['content-type']).toBe('application/json;as=Table;v=v1;g=meta.k8s.io');
    const table = list.json() as {
      kind: string;
      columnDefinitions: { name: string; priority: number }[];
      rows: { cells: unknown[]; object: KubeObject }[];
    };
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Age', 'Status', 'Ready']);
    expect(table.rows[0]!.cells[0]).toBe('tbl');
    expect(table.rows[0]!.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'tbl' } });
    const full = (
      await raw(h.server, '/apis/kubevirt.io/v1/namespaces/tables/virtualmachines/tbl?includeObject=Object', {
        headers: { accept },
      })
    ).json() as typeof table;
    expect(full.rows[0]!.object.kind).toBe('VirtualMachine');
    const none = (
      await raw(h.server, '/apis/kubevirt.io/v1/namespaces/tables/virtualmachines?includeObject=None', {
        headers: { accept },
      })
    ).json() as typeof table;
    expect(none.rows[0]!.object).toBeUndefined();
    const old = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/tables/virtualmachines', {
      headers: { accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io' },
    });
    expect((old.json() as { apiVersion: string }).apiVersion).toBe('meta.k8s.io/v1beta1');
  });

  it('answers PartialObjectMetadata lists for metadata-only clients', async () => {
    const r = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/tables/virtualmachines', {
      headers: { accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io' },
    });
    expect(r.json()).toMatchObject({
      kind: 'PartialObjectMetadataList',
      apiVersion: 'meta.k8s.io/v1',
      items: [{ kind: 'PartialObjectMetadata', metadata: { name: 'tbl' } }],
    });
  });
});

describe('discovery', () => {
  it('serves legacy and aggregated discovery for every kind', async () => {
    const core = (await raw(h.server, '/api/v1')).json() as {
      resources: { name: string; namespaced: boolean; kind: string }[];
    };
    expect(core.resources.map((r) => r.name).sort()).toEqual([
      'events',
      'namespaces',
      'nodes',
      'nodes/status',
      'pods',
      'pods/eviction',
      'services',
    ]);
    const groups = (await raw(h.server, '/apis')).json() as {
      groups: { name: string; preferredVersion: { version: string } }[];
    };
    expect(groups.groups.map((g) => g.name)).toEqual([
      'coordination.k8s.io',
      'kubevirt.io',
      'subresources.kubevirt.io',
    ]);
    expect(groups.groups.find((g) => g.name === 'kubevirt.io')?.preferredVersion.version).toBe('v1');
    const kv = (await raw(h.server, '/apis/kubevirt.io/v1')).json() as {
      resources: { name: string; shortNames?: string[] }[];
    };
    expect(kv.resources.find((r) => r.name === 'virtualmachines')?.shortNames).toEqual(['vm', 'vms']);
    expect(kv.resources.map((r) => r.name)).toContain('virtualmachineinstances/status');
    const agg = await raw(h.server, '/apis', {
      headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' },
    });
    expect(agg.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const items = (
      agg.json() as {
        items: {
          metadata: { name: string };
          versions: { version: string; resources: { resource: string; scope: string }[] }[];
        }[];
      }
    ).items;
    const kubevirt = items.find((i) => i.metadata.name === 'kubevirt.io')!;
    expect(kubevirt.versions.map((v) => v.version)).toEqual(['v1', 'v1alpha3']);
    expect(kubevirt.versions[0]!.resources.find((r) => r.resource === 'virtualmachines')?.scope).toBe('Namespaced');
    const openapi = await raw(h.server, '/openapi/v2', {
      headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' },
    });
    expect(openapi.status).toBe(200);
    expect(openapi.text).toBe('');
  });
});
