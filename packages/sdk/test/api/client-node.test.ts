// @kubernetes/client-node 2.x (undici) against the API server: CRUD, errors, watch and an informer that relists on 410.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import type { VirtualMachine } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startServer, vm } from './support.ts';

const VMS = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;

let h: Harness;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let core: CoreV1Api;

beforeAll(async () => {
  // A short history, so a watch from an old resourceVersion gets 410 after a few writes.
  h = await startServer({}, { historyLimit: 20 });
  kc = new KubeConfig();
  kc.loadFromFile(h.kubeconfig);
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await h.close();
});

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<unknown>;
    return {
      code: e.code,
      body: (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as Record<string, unknown>,
    };
  }
  throw new Error('expected the request to fail');
}

describe('CustomObjectsApi', () => {
  it('creates, reads, lists, replaces, patches and deletes VMs', async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...VMS,
      namespace: 'crud',
      body: vm('alpha', 'crud', { app: 'a' }),
    })) as VirtualMachine;
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    // KubeVirt's defaults were applied on create.
    expect(created.spec.template.spec.domain.cpu).toEqual({ cores: 1, sockets: 1, threads: 1 });
    await custom.createNamespacedCustomObject({ ...VMS, namespace: 'crud', body: vm('beta', 'crud', { app: 'b' }) });

    const got = (await custom.getNamespacedCustomObject({
      ...VMS,
      namespace: 'crud',
      name: 'alpha',
    })) as VirtualMachine;
    expect(got.metadata.uid).toBe(created.metadata.uid);

    const list = (await custom.listNamespacedCustomObject({
      ...VMS,
      namespace: 'crud',
      labelSelector: 'app in (b)',
    })) as KubernetesListObject<VirtualMachine & KubernetesObject>;
    expect(list.kind).toBe('VirtualMachineList');
    expect(list.items.map((v) => v.metadata?.name)).toEqual(['beta']);

    const replaced = (await custom.replaceNamespacedCustomObject({
      ...VMS,
      namespace: 'crud',
      name: 'alpha',
      body: { ...got, spec: { ...got.spec, runStrategy: 'Always' } },
    })) as VirtualMachine;
    expect(replaced.spec.runStrategy).toBe('Always');
    expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(got.metadata.resourceVersion));

    // Replacing from a stale read is a conflict.
    const stale = await apiError(
      custom.replaceNamespacedCustomObject({ ...VMS, namespace: 'crud', name: 'alpha', body: got }),
    );
    expect(stale.code).toBe(409);
    expect(stale.body.reason).toBe('Conflict');

    const patched = (await custom.patchNamespacedCustomObject(
      { ...VMS, namespace: 'crud', name: 'alpha', body: { metadata: { labels: { app: 'patched' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as VirtualMachine;
    expect(patched.metadata.labels).toEqual({ app: 'patched' });

    const jsonPatched = (await custom.patchNamespacedCustomObject(
      {
        ...VMS,
        namespace: 'crud',
        name: 'alpha',
        body: [{ op: 'replace', path: '/spec/runStrategy', value: 'Halted' }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as VirtualMachine;
    expect(jsonPatched.spec.runStrategy).toBe('Halted');

    const status = (await custom.patchNamespacedCustomObjectStatus(
      { ...VMS, namespace: 'crud', name: 'alpha', body: { status: { printableStatus: 'Stopped' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as VirtualMachine;
    expect(status.status?.printableStatus).toBe('Stopped');
    // The main resource ignores status; the status subresource ignores the rest.
    const statusRead = (await custom.getNamespacedCustomObjectStatus({
      ...VMS,
      namespace: 'crud',
      name: 'alpha',
    })) as VirtualMachine;
    expect(statusRead.status?.printableStatus).toBe('Stopped');

    const deleted = (await custom.deleteNamespacedCustomObject({ ...VMS, namespace: 'crud', name: 'alpha' })) as Record<
      string,
      unknown
    >;
    expect(deleted).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'alpha', kind: 'virtualmachines' },
    });
    const gone = await apiError(custom.getNamespacedCustomObject({ ...VMS, namespace: 'crud', name: 'alpha' }));
    expect(gone.code).toBe(404);
    expect(gone.body).toMatchObject({ reason: 'NotFound', message: 'virtualmachines.kubevirt.io "alpha" not found' });
  });

  it('answers 422 with every cause for an invalid VM', async () => {
    const bad = vm('invalid', 'crud') as unknown as { spec: Record<string, unknown> };
    bad.spec.runStrategy = 'Sometimes';
    bad.spec.running = true;
    const err = await apiError(custom.createNamespacedCustomObject({ ...VMS, namespace: 'crud', body: bad }));
    expect(err.code).toBe(422);
    expect(err.body.reason).toBe('Invalid');
    const causes = (err.body.details as { causes: { field: string; reason: string }[] }).causes;
    expect(causes.map((c) => c.field)).toEqual(expect.arrayContaining(['spec.runStrategy']));
    expect(causes.length).toBeGreaterThanOrEqual(2);
    expect(await h.store.tryGet('VirtualMachine', 'crud', 'invalid')).toBeUndefined();
  });

  it('lists across namespaces with paging', async () => {
    for (let i = 0; i < 5; i++) await h.store.create('VirtualMachine', vm(`page-${i}`, `pg-${i % 2}`, { page: 'yes' }));
    const seen: string[] = [];
    let cont: string | undefined;
    do {
      const page = (await custom.listClusterCustomObject({
        ...VMS,
        labelSelector: 'page=yes',
        limit: 2,
        ...(cont ? { _continue: cont } : {}),
      })) as KubernetesListObject<VirtualMachine & KubernetesObject>;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((v) => `${v.metadata?.namespace}/${v.metadata?.name}`));
      cont = page.metadata?._continue ?? (page.metadata as { continue?: string } | undefined)?.continue;
    } while (cont);
    expect(seen.sort()).toEqual(['pg-0/page-0', 'pg-0/page-2', 'pg-0/page-4', 'pg-1/page-1', 'pg-1/page-3']);
  });
});

describe('CoreV1Api', () => {
  it('manages Nodes and Events and reads the default namespace', async () => {
    const node = await core.createNode({
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker-1', labels: { zone: 'a' } } },
    });
    expect(node.metadata?.uid).toBeDefined();
    const nodes = await core.listNode({ labelSelector: 'zone=a' });
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(['worker-1']);
    const patched = await core.patchNode(
      { name: 'worker-1', body: { spec: { unschedulable: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(patched.spec?.unschedulable).toBe(true);
    const withStatus = await core.replaceNodeStatus({
      name: 'worker-1',
      body: { ...patched, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    });
    expect(withStatus.status?.conditions?.[0]?.type).toBe('Ready');
    await core.deleteNode({ name: 'worker-1' });
    expect(await h.store.tryGet('Node', undefined, 'worker-1')).toBeUndefined();

    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'vm1.started' },
        involvedObject: { kind: 'VirtualMachine', name: 'vm1', namespace: 'default' },
        reason: 'Started',
        message: 'VM started',
        type: 'Normal',
      },
    });
    const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'metadata.name=vm1.started' });
    expect(events.items.map((e) => e.reason)).toEqual(['Started']);

    const ns = await core.readNamespace({ name: 'default' });
    expect(ns.status?.phase).toBe('Active');
  });
});

describe('watch and informer', () => {
  it('watches from a resourceVersion, and reports 410 for one compacted away', async () => {
    const start = h.store.currentResourceVersion();
    const events: { type: string; name: string | undefined; code?: number }[] = [];
    const watch = new Watch(kc);
    const req = await watch.watch(
      '/apis/kubevirt.io/v1/namespaces/watched/virtualmachines',
      { resourceVersion: start },
      (type, obj: KubernetesObject & { code?: number }) => {
        events.push({ type, name: obj.metadata?.name, ...(type === 'ERROR' ? { code: obj.code } : {}) });
      },
      () => {},
    );
    await h.store.create('VirtualMachine', vm('w1', 'watched'));
    await h.store.delete('VirtualMachine', 'watched', 'w1');
    while (events.length < 2) await new Promise((r) => setTimeout(r, 10));
    req.abort();
    expect(events).toEqual([
      { type: 'ADDED', name: 'w1' },
      { type: 'DELETED', name: 'w1' },
    ]);

    // Push `start` out of the retained history, then watch from it.
    for (let i = 0; i < 25; i++) await h.store.create('Event', event(`compact-${i}`));
    const late: { type: string; code?: number }[] = [];
    let done!: (err: unknown) => void;
    const finished = new Promise((r) => {
      done = r;
    });
    await watch.watch(
      '/apis/kubevirt.io/v1/namespaces/watched/virtualmachines',
      { resourceVersion: start },
      (type, obj: { code?: number }) => late.push({ type, ...(type === 'ERROR' ? { code: obj.code } : {}) }),
      done,
    );
    // The server ends that watch itself, right after the error.
    expect(await finished).toBeNull();
    expect(late).toEqual([{ type: 'ERROR', code: 410 }]);
  });

  it('keeps an informer cache in sync and relists after 410 Gone', async () => {
    const ns = 'informed';
    for (const n of ['i-1', 'i-2', 'i-3']) await h.store.create('VirtualMachine', vm(n, ns));
    let lists = 0;
    let relist: (() => Promise<void>) | undefined;
    const listFn = async () => {
      lists++;
      if (relist) await relist();
      return (await custom.listNamespacedCustomObject({
        ...VMS,
        namespace: ns,
      })) as KubernetesListObject<VirtualMachine & KubernetesObject>;
    };
    const informer = makeInformer<VirtualMachine & KubernetesObject>(
      kc,
      `/apis/kubevirt.io/v1/namespaces/${ns}/virtualmachines`,
      listFn,
    );
    const log: string[] = [];
    const waiters: { pred: () => boolean; resolve: () => void }[] = [];
    const until = (pred: () => boolean) =>
      new Promise<void>((resolve) => {
        if (pred()) resolve();
        else waiters.push({ pred, resolve });
      });
    const record = (what: string) => (obj: VirtualMachine) => {
      log.push(`${what} ${obj.metadata.name}`);
      for (const w of [...waiters]) {
        if (!w.pred()) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
    informer.on('add', record('add'));
    informer.on('update', record('update'));
    informer.on('delete', record('delete'));
    await informer.start();
    await until(() => log.length >= 3);
    expect(log.sort()).toEqual(['add i-1', 'add i-2', 'add i-3']);

    // A live change arrives through the watch.
    await h.store.create('VirtualMachine', vm('i-4', ns));
    await until(() => log.includes('add i-4'));
    expect(lists).toBe(1);

    // Writes elsewhere compact the history past the informer's resourceVersion; then its watch is cut.
    // Reconnecting from that version gets 410, so the informer must list again; a VM deleted meanwhile
    // (just before that list) is then reported as deleted.
    for (let i = 0; i < 25; i++) await h.store.create('Event', event(`informer-${i}`));
    relist = async () => {
      relist = undefined;
      await h.store.delete('VirtualMachine', ns, 'i-2');
    };
    h.server.handler.closeWatches();
    await until(() => log.includes('delete i-2'));
    expect(lists).toBe(2);
    expect(
      informer
        .list(ns)
        .map((v) => v.metadata.name)
        .sort(),
    ).toEqual(['i-1', 'i-3', 'i-4']);

    // And it watches again after the relist.
    await h.store.create('VirtualMachine', vm('i-5', ns));
    await until(() => log.includes('add i-5'));
    await informer.stop();
  });
});

function event(name: string) {
  return {
    apiVersion: 'v1' as const,
    kind: 'Event' as const,
    metadata: { name, namespace: 'default' },
    involvedObject: { kind: 'Node', name: 'n' },
    reason: 'Test',
  };
}
