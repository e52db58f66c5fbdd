// KubeVirt's subresource verbs (PUT .../virtualmachines/{name}/start, as virtctl sends them) through the engine's VmActions.
import { RealClock, type VirtualMachineInstance, VmActions } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, raw, startServer, vm } from './support.ts';

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
      details: { name: 'power', kind: 'virtualmachines', group: 'kubevirt.io' },
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
    ]);
    await bare.close();
  });
});
