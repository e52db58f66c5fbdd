// KubeVirt's subresource verbs (PUT .../virtualmachines/{name}/start, as virtctl sends them) through the engine's VmActions.
import { RealClock, type VirtualMachineInstance, VmActions } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, raw, startServer, vm, watchRaw } from './support.ts';

const SUB = '/apis/subresources.kubevirt.io/v1/namespaces/default';
let h: Harness;

beforeAll(async () => {
  h = await startServer((store) => ({ actions: new VmActions({ store, clock: new RealClock() }) }));
});
afterAll(async () => {
  await h.close();
});

const put = (path: string, body?: unknown) =>
  raw(h.server, `${SUB}/${path}`, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });

describe('VM verbs', () => {
  it('start and stop change the run strategy; a second start is a 409 that says why', async () => {
    await h.store.create('VirtualMachine', vm('power'));
    const start = await put('virtualmachines/power/start');
    expect(start.status).toBe(202);
    expect((await h.store.get('VirtualMachine', 'default', 'power')).spec.runStrategy).toBe('Always');
    const again = await put('virtualmachines/power/start', {});
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({
      kind: 'Status',
      reason: 'Conflict',
      code: 409,
      message: expect.stringContaining('runStrategy Always does not support manual start requests'),
      details: {
        name: 'power',
        kind: 'virtualmachines',
        group: 'kubevirt.io',
        // virtkit's own clients recover the exact error from this tagged cause.
        causes: [{ field: 'virtkit.io/error', reason: 'IllegalTransition' }],
      },
    });
    const stop = await put('virtualmachines/power/stop', { gracePeriod: 0 });
    expect(stop.status).toBe(202);
    expect((await h.store.get('VirtualMachine', 'default', 'power')).spec.runStrategy).toBe('Halted');
  });

  it('restart and migrate of a VM that is not running are 409s', async () => {
    await h.store.create('VirtualMachine', vm('idle'));
    const restart = await put('virtualmachines/idle/restart');
    expect(restart.status).toBe(409);
    expect((restart.json() as { message: string }).message).toContain('restart');
    const migrate = await put('virtualmachines/idle/migrate', {});
    expect(migrate.status).toBe(409);
    expect((migrate.json() as { message: string }).message).toContain('not running');
  });

  it('answers 404 for a VM that does not exist', async () => {
    const r = await put('virtualmachines/ghost/start');
    expect(r.status).toBe(404);
    expect((r.json() as { message: string }).message).toBe('virtualmachines.kubevirt.io "ghost" not found');
  });

  it('rejects bad options with 422 and other methods with 405', async () => {
    await h.store.create('VirtualMachine', vm('opts'));
    const bad = await put('virtualmachines/opts/stop', { gracePeriod: -3 });
    expect(bad.status).toBe(422);
    expect(bad.json()).toMatchObject({ reason: 'Invalid', details: { causes: [{ field: 'gracePeriod' }] } });
    const get = await raw(h.server, `${SUB}/virtualmachines/opts/start`);
    expect(get.status).toBe(405);
    expect((await raw(h.server, `${SUB}/virtualmachines/opts/explode`, { method: 'PUT' })).status).toBe(404);
  });
});

describe('VMI verbs', () => {
  it('pause, unpause and softreboot a VMI that is not there: 404 or 409', async () => {
    await h.store.create('VirtualMachine', vm('novmi'));
    const paused = await put('virtualmachineinstances/novmi/pause');
    expect(paused.status).toBe(409);
    expect((paused.json() as { message: string }).message).toContain('not running');
    expect((await put('virtualmachineinstances/nothing/unpause')).status).toBe(404);
    expect((await put('virtualmachineinstances/nothing/softreboot')).status).toBe(404);
  });

  it('pauses a running VMI by recording the request on it', async () => {
    const vmi = await h.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'running', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    await h.store.updateStatus('VirtualMachineInstance', { ...vmi, status: { phase: 'Running', nodeName: 'n1' } });
    const r = await put('virtualmachineinstances/running/pause');
    expect(r.status, r.text).toBe(202);
    const after = await h.store.get('VirtualMachineInstance', 'default', 'running');
    expect(Object.keys(after.metadata.annotations ?? {}).some((k) => k.includes('pause'))).toBe(true);
  });
});

describe('without actions', () => {
  it('answers 503 and lists the verbs in discovery', async () => {
    const bare = await startServer();
    const r = await raw(bare.server, `${SUB}/virtualmachines/any/start`, { method: 'PUT' });
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ reason: 'ServiceUnavailable' });
    const list = (await raw(bare.server, '/apis/subresources.kubevirt.io/v1')).json() as {
      resources: { name: string }[];
    };
    expect(list.resources.map((x) => x.name)).toEqual([
      'virtualmachines/start',
      'virtualmachines/stop',
      'virtualmachines/restart',
      'virtualmachines/migrate',
      'virtualmachineinstances/pause',
      'virtualmachineinstances/unpause',
      'virtualmachineinstances/softreboot',
      'virtualmachineinstances/console',
    ]);
    await bare.close();
  });
});

describe('console', () => {
  /** A node driver at the port boundary: a console with a backlog, then lines the test writes. */
  function fakeDrivers(node: string) {
    const live: string[] = [];
    let wake: (() => void) | undefined;
    const seen: { id: string; fromStart: boolean | undefined }[] = [];
    let stopped = false;
    const driver = {
      nodeName: node,
      async *console(id: string, o: { signal?: AbortSignal; fromStart?: boolean } = {}) {
        seen.push({ id, fromStart: o.fromStart });
        yield 'boot: line 1';
        yield 'boot: line 2';
        o.signal?.addEventListener('abort', () => wake?.());
        try {
          while (!o.signal?.aborted) {
            const line = live.shift();
            if (line !== undefined) {
              if (line === 'EOF') return;
              yield line;
            } else await new Promise<void>((r) => (wake = r));
          }
        } finally {
          stopped = true;
        }
      },
    };
    const registry = { get: (n: string) => (n === node ? driver : undefined), list: () => [driver] };
    return {
      registry: registry as unknown as import('@virtkit/engine').NodeDriverRegistry,
      write(line: string) {
        live.push(line);
        wake?.();
      },
      seen,
      stopped: () => stopped,
    };
  }

  it('streams the serial console of a running VMI as text lines, until it ends', async () => {
    const fake = fakeDrivers('node-1');
    const c = await startServer({ drivers: fake.registry });
    const vmi = await c.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'con', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    await c.store.updateStatus('VirtualMachineInstance', { ...vmi, status: { phase: 'Running', nodeName: 'node-1' } });
    const text = raw(c.server, `${SUB}/virtualmachineinstances/con/console`);
    while (fake.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    fake.write('login: ');
    fake.write('EOF');
    const r = await text;
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.text).toBe('boot: line 1\nboot: line 2\nlogin: \n');
    expect(fake.seen).toEqual([{ id: 'default_con', fromStart: true }]);

    // A console of a VMI on no node, of a missing VMI, and with PUT.
    await c.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'pending', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    const pending = await raw(c.server, `${SUB}/virtualmachineinstances/pending/console`);
    expect(pending.status).toBe(404);
    expect((pending.json() as { message: string }).message).toContain('runs on no node');
    expect((await raw(c.server, `${SUB}/virtualmachineinstances/ghost/console`)).status).toBe(404);
    expect((await raw(c.server, `${SUB}/virtualmachineinstances/con/console`, { method: 'PUT' })).status).toBe(405);
    await c.close();
  });

  it('stops reading the driver when the client goes away', async () => {
    const fake = fakeDrivers('node-2');
    const c = await startServer({ drivers: fake.registry });
    const vmi = await c.store.create('VirtualMachineInstance', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'gone', namespace: 'default' },
      spec: vm('x').spec.template.spec,
    } as VirtualMachineInstance);
    await c.store.updateStatus('VirtualMachineInstance', { ...vmi, status: { phase: 'Running', nodeName: 'node-2' } });
    const w = watchRaw(c.server, `${SUB}/virtualmachineinstances/gone/console`);
    expect(await w.status).toBe(200);
    while (fake.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    w.close();
    while (!fake.stopped()) await new Promise((r) => setTimeout(r, 5));
    expect(fake.stopped()).toBe(true);
    await c.close();
  });

  it('answers 503 without drivers', async () => {
    expect((await raw(h.server, `${SUB}/virtualmachineinstances/any/console`)).status).toBe(503);
  });
});
