import { createEngine, DriverRegistry, type Engine } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimEnv } from '../../src/index.ts';
import { calls, NS, nodesReady, printable, runningOn, vm } from './helpers.ts';

describe('scenario: engine restart in the middle of a migration', () => {
  it('a new engine on the same store and nodes finishes the migration without repeating any driver call', async () => {
    let engine: Engine | undefined;
    let wiring: Parameters<NonNullable<Exclude<Parameters<typeof SimEnv.create>[0]['engine'], false>>>[0] | undefined;
    const build = async () => {
      engine = createEngine({
        store: wiring!.store,
        clock: wiring!.clock,
        drivers: new DriverRegistry(wiring!.nodes),
        random: wiring!.random,
      });
      await engine.start();
      return engine;
    };
    await using env = await SimEnv.create({
      nodes: 2,
      seed: 21,
      trace: { omitConsole: true },
      nodeDefaults: { capacity: { cpu: 8, memory: 32 * 2 ** 30 } },
      engine: async (w) => {
        wiring = w;
        await build();
        return { stop: () => engine?.stop() };
      },
    });
    await nodesReady(env);
    const { store } = env;
    await store.create('VirtualMachine', vm('big', 'Always', { memory: '8Gi' }));
    await store.create('VirtualMachine', vm('bystander', 'Always'));
    await env.waitFor(
      async () => (await printable(store, 'big')) === 'Running' && (await printable(store, 'bystander')) === 'Running',
      {
        what: 'running',
      },
    );
    const source = (await store.get('VirtualMachineInstance', NS, 'big')).status!.nodeName!;
    const mig = await engine!.actions.migrate(NS, 'big');
    await env.waitFor(
      async () =>
        (await store.get('VirtualMachineInstanceMigration', NS, mig.metadata.name!)).status?.phase === 'Running',
      { what: 'migration Running' },
    );
    // Really in the middle: the source is still sending.
    expect(env.node(source).peek('default_big')?.migration).toBeDefined();
    const before = env.fabric.trace.entries.filter((e) => e.kind === 'call').length;
    // The old engine goes away mid-transfer; a new one starts on the same store and nodes.
    await engine!.stop();
    const old = engine;
    await build();
    expect(engine).not.toBe(old);
    await env.waitFor(
      async () =>
        (await store.get('VirtualMachineInstanceMigration', NS, mig.metadata.name!)).status?.phase === 'Succeeded',
      { what: 'migration Succeeded', timeoutMs: 15 * 60_000 },
    );
    const vmi = await store.get('VirtualMachineInstance', NS, 'big');
    expect(vmi.status?.nodeName).not.toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({ completed: true, sourceNode: source });
    expect(runningOn(env, 'big')).toEqual([vmi.status!.nodeName]);
    expect(calls(env, 'migrateDomain')).toBe(1);
    expect(calls(env, 'defineDomain', 'default_big')).toBe(1);
    expect(calls(env, 'startDomain', 'default_big')).toBe(1);
    expect(calls(env, 'startDomain', 'default_bystander')).toBe(1);
    // After the restart, nothing but reads and the migration's own clean-up reached the nodes.
    const after = env.fabric.trace.entries
      .filter((e) => e.kind === 'call')
      .slice(before)
      .map((e) => e.text.split(' ')[0]);
    expect(after.filter((m) => !['getDomain', 'listDomains', 'info', 'ping', 'undefineDomain'].includes(m!))).toEqual(
      [],
    );
    await env.waitFor(async () => (await printable(store, 'big')) === 'Running', { what: 'Running' });
    expect(engine!.errors).toEqual([]);
  });
});
