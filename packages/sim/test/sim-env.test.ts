import { describe, expect, it } from 'vitest';
import { SimEnv } from '../src/index.ts';
import { vmDef } from './helpers.ts';

function createWebVm(env: SimEnv) {
  return env.store.create('VirtualMachine', {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, devices: {} },
          volumes: [
            { name: 'root', containerDisk: { image: 'virtkit/test-guest' } },
            { name: 'ci', cloudInitNoCloud: { userData: 'hostname: web-host\n' } },
          ],
        },
      },
    },
  });
}

describe('SimEnv', () => {
  it('builds N named nodes on one auto-advancing clock, a store, and tears down', async () => {
    let stopped = false;
    {
      await using env = await SimEnv.create({
        nodes: 3,
        seed: 1,
        engine: ({ drivers, store, clock }) => {
          expect(drivers.list().map((d) => d.nodeName)).toEqual(['node-1', 'node-2', 'node-3']);
          expect(store).toBeDefined();
          expect(clock.now()).toBe(Date.UTC(2026, 0, 1));
          return {
            stop: () => {
              stopped = true;
            },
          };
        },
      });
      const n1 = env.node('node-1');
      await n1.defineDomain(vmDef('a'));
      await n1.startDomain('default_a');
      const ready = await env.waitForEvent((e) => e.type === 'guest-ready');
      expect(ready.domain).toBe('default_a');
      expect(env.events.some((e) => e.type === 'lifecycle' && e.event === 'Started')).toBe(true);
    }
    expect(stopped).toBe(true);
  });

  it('embeds the engine: a VirtualMachine runs on a simulated node, then is deleted', async () => {
    await using env = await SimEnv.create({ nodes: 3, seed: 1 });
    expect(env.engine?.running).toBe(true);
    await createWebVm(env);
    const running = await env.waitForVMIPhase('default', 'web', 'Running');
    const nodeName = running.status!.nodeName!;
    const vmi = async () => env.store.tryGet('VirtualMachineInstance', 'default', 'web');
    const lines = env.node(nodeName).consoleBacklog('default_web');
    expect(lines.some((l) => l.includes('hostname=web-host'))).toBe(true);
    await env.store.delete('VirtualMachine', 'default', 'web');
    await env.waitFor(async () => (await vmi()) === undefined && env.node(nodeName).domainIds().length === 0, {
      what: 'VMI and domain gone',
    });
    expect(env.engine!.errors).toEqual([]);
  });

  it('replays an engine scenario byte for byte for the same seed', async () => {
    const once = async (seed: number) => {
      await using env = await SimEnv.create({ nodes: 3, seed });
      await createWebVm(env);
      await env.waitForVMIPhase('default', 'web', 'Running');
      env.faults.crashGuest(
        (await env.store.get('VirtualMachineInstance', 'default', 'web')).status!.nodeName!,
        'default_web',
      );
      await env.advance(30_000);
      return env.trace();
    };
    const a = await once(3);
    expect(a).toContain('Crashed/Panicked');
    expect(await once(3)).toBe(a);
  });

  it("puts node-spec taints on the engine's Node objects", async () => {
    await using env = await SimEnv.create({
      nodes: [
        { name: 'tainted', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
        { name: 'plain' },
      ],
      seed: 2,
    });
    const node = await env.store.get('Node', undefined, 'tainted');
    expect(node.spec?.taints).toEqual([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]);
  });

  it('takes node specs with sizes, labels and taints; faults by node name; waitFor in virtual time', async () => {
    await using env = await SimEnv.create({
      engine: false,
      nodes: [
        { name: 'big', cpu: 32, memory: '128Gi', labels: { zone: 'a' } },
        { name: 'small', cpu: '2', memory: '2Gi', taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] },
      ],
      seed: 5,
    });
    expect((await env.node('big').info()).capacity.memoryBytes).toBe(128 * 2 ** 30);
    expect(env.node('big').labels.zone).toBe('a');
    expect(env.taints.get('small')).toEqual([{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]);
    env.faults.crashNode('small');
    await expect(env.node('small').ping()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
    const t0 = env.clock.now();
    await env.waitFor(() => env.clock.now() - t0 >= 60_000);
    await expect(env.waitFor(() => false, { timeoutMs: 5_000, what: 'never' })).rejects.toMatchObject({
      code: 'Timeout',
    });
    expect(env.trace((e) => e.kind === 'fault')).toContain('small fault node-crash');
  });

  it('replays the same trace for the same seed', async () => {
    const once = async () => {
      await using env = await SimEnv.create({ nodes: 2, seed: 9, engine: false });
      await env.node('node-1').defineDomain(vmDef('a'));
      await env.node('node-1').startDomain('default_a');
      await env.waitForEvent((e) => e.type === 'guest-ready');
      await env.advance(3_000);
      return env.trace();
    };
    const a = await once();
    expect(await once()).toBe(a);
    expect(a).toContain('virtkit-guest heartbeat 3');
  });
});
