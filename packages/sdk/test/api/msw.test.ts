// In-process API without a port: msw handlers (global fetch) and the interceptor (client-node 2.x over undici).
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  Watch,
} from '@kubernetes/client-node';
import { MemoryStore, type VirtualMachine } from '@virtkit/engine';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMswHandlers, interceptApi } from '../../src/api/index.ts';
import { vm } from './support.ts';

const BASE = 'http://virtkit.test:6443';
const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';

describe('createMswHandlers with msw setupServer', () => {
  const store = new MemoryStore();
  const server = setupServer(...createMswHandlers({ store, baseUrl: BASE }));
  beforeAll(() => server.listen());
  afterAll(async () => {
    server.close();
    await store.close();
  });

  it('serves CRUD to global fetch', async () => {
    const created = await fetch(`${BASE}${VMS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(vm('msw-1')),
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as VirtualMachine).metadata.uid).toBeDefined();
    const list = (await (await fetch(`${BASE}${VMS}`)).json()) as KubernetesListObject<
      VirtualMachine & KubernetesObject
    >;
    expect(list.items.map((v) => v.metadata?.name)).toEqual(['msw-1']);
    const missing = await fetch(`${BASE}${VMS}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    const patched = await fetch(`${BASE}${VMS}/msw-1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { runStrategy: 'Always' } }),
    });
    expect(((await patched.json()) as VirtualMachine).spec.runStrategy).toBe('Always');
    expect((await fetch(`${BASE}${VMS}/msw-1`, { method: 'DELETE' })).status).toBe(200);
    expect(await store.tryGet('VirtualMachine', 'default', 'msw-1')).toBeUndefined();
  });

  it('streams a watch to global fetch', async () => {
    const rv = store.currentResourceVersion();
    const res = await fetch(`${BASE}${VMS}?watch=true&resourceVersion=${rv}`);
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await store.create('VirtualMachine', vm('streamed'));
    let text = '';
    while (!text.includes('\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'streamed' } },
    });
    await reader.cancel();
  });

  it('requires the token when one is given', async () => {
    const s = new MemoryStore();
    const guarded = setupServer(...createMswHandlers({ store: s, baseUrl: 'http://guarded.test', token: 'sesame' }));
    guarded.listen();
    try {
      expect((await fetch(`http://guarded.test${VMS}`)).status).toBe(401);
      const ok = await fetch(`http://guarded.test${VMS}`, { headers: { authorization: 'Bearer sesame' } });
      expect(ok.status).toBe(200);
    } finally {
      guarded.close();
      await s.close();
    }
  });
});

describe('interceptApi with @kubernetes/client-node', () => {
  const store = new MemoryStore();
  let api: ReturnType<typeof interceptApi>;
  let kc: KubeConfig;
  beforeAll(async () => {
    api = interceptApi({ store, baseUrl: BASE });
    kc = new KubeConfig();
    kc.loadFromString(await api.kubeconfig());
  });
  afterAll(async () => {
    api.dispose();
    await store.close();
  });

  it('answers CustomObjectsApi and CoreV1Api without a listening port', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachines',
      namespace: 'default',
      body: vm('in-process'),
    });
    expect((await store.get('VirtualMachine', 'default', 'in-process')).metadata.name).toBe('in-process');
    const got = (await custom.getNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachines',
      namespace: 'default',
      name: 'in-process',
    })) as VirtualMachine;
    expect(got.spec.runStrategy).toBe('Halted');
    const core = kc.makeApiClient(CoreV1Api);
    expect((await core.readNamespace({ name: 'default' })).status?.phase).toBe('Active');
    await expect(core.readNode({ name: 'none' })).rejects.toMatchObject({ code: 404 });
  });

  it('streams a client-node watch', async () => {
    const rv = store.currentResourceVersion();
    const seen: string[] = [];
    const watch = new Watch(kc);
    const req = await watch.watch(
      VMS,
      { resourceVersion: rv },
      (type, obj: VirtualMachine) => seen.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    await store.create('VirtualMachine', vm('watched-in-process'));
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(['ADDED watched-in-process']);
    req.abort();
  });

  it('leaves other hosts alone', async () => {
    await expect(fetch('http://127.0.0.1:1/')).rejects.toThrow();
  });
});
