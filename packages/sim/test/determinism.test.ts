import { VirtualClock } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { SimFabric, SimNode } from '../src/index.ts';
import { run, vmDef } from './helpers.ts';

/** A scenario touching every random stream: images, boots, shutdowns, migration, faults. */
async function scenario(seed: number, nodeNames = ['n1', 'n2', 'n3']): Promise<SimFabric> {
  const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const fabric = new SimFabric({ clock, seed });
  const nodes = nodeNames.map((name) => new SimNode({ name, fabric, timing: { heartbeatMs: 5000 } }));
  const [n1, n2] = nodes as [SimNode, SimNode];
  await run(
    clock,
    Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        await n1.defineDomain(vmDef(name, { userData: `hostname: ${name}-host\n` }));
        await n1.startDomain(`default_${name}`);
      }),
    ),
  );
  await clock.advance(12_000);
  await run(clock, n1.migrateDomain('default_a', 'n2'));
  n1.crashGuest('default_b');
  await run(clock, n1.shutdownDomain('default_c'));
  await clock.advance(5_000);
  await run(clock, n2.pauseDomain('default_a'));
  await run(clock, n2.resumeDomain('default_a'));
  n2.crashAgent();
  n2.restartAgent();
  await clock.advance(20_000);
  for (const n of nodes) n.dispose();
  return fabric;
}

describe('determinism', () => {
  it('the same seed and scenario give the same trace, byte for byte', async () => {
    const a = (await scenario(42)).trace.toText();
    const b = (await scenario(42)).trace.toText();
    expect(a.length).toBeGreaterThan(2000);
    expect(b).toBe(a);
  });

  it('a different seed gives different timings', async () => {
    const a = (await scenario(42)).trace.toText();
    const b = (await scenario(43)).trace.toText();
    expect(b).not.toBe(a);
    // Same calls and lifecycle events; only times (and the console text that shows them) differ.
    const strip = (t: string) =>
      t
        .split('\n')
        .filter((l) => !l.includes(' console '))
        .map((l) => l.replace(/^\S+ /, '').replace(/ downtime=\d+/, ''))
        .sort();
    expect(strip(b)).toEqual(strip(a));
  });

  it("adding a node does not shift another node's timings", async () => {
    const only = (t: string, node: string) => t.split('\n').filter((l) => l.split(' ')[1] === node);
    const three = (await scenario(7)).trace.toText();
    const four = (await scenario(7, ['n1', 'n2', 'n3', 'extra'])).trace.toText();
    expect(only(four, 'n1')).toEqual(only(three, 'n1'));
    expect(only(four, 'n2')).toEqual(only(three, 'n2'));
  });

  it('records faults in the fault log and the trace', async () => {
    const fabric = await scenario(1);
    expect(fabric.faultLog.map((f) => `${f.node} ${f.fault.kind}`)).toEqual([
      'n1 guest-crash',
      'n2 agent-crash',
      'n2 agent-restart',
    ]);
    expect(fabric.trace.toText((e) => e.kind === 'fault')).toMatch(/n1 fault guest-crash domain="default_b"/);
    expect(fabric.faultText().split('\n').filter(Boolean)).toHaveLength(3);
  });
});
