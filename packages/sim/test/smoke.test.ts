import { describe, expect, it } from 'vitest';
import { run, summary, vmDef, world } from './helpers.ts';

describe('smoke', () => {
  it('defines, starts and boots', async () => {
    const { clock, node, events } = world();
    const info = await run(clock, node.defineDomain(vmDef('a')));
    expect(info.state).toBe('shutoff');
    await run(clock, node.startDomain('default_a'));
    await clock.advance(10_000);
    expect(summary(events)).toEqual([
      'n1 image fetching',
      'n1 image fetched',
      'n1 lifecycle Defined/Added',
      'n1 lifecycle Started/Booted',
      'n1 guest-ready console',
    ]);
    console.log(node.fabric.trace.toText());
  });
});
