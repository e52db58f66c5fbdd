// The NodeDriver contract suite against SimNode, in virtual time: the simulator must produce the golden
// trace recorded from the real libvirt agent (packages/agent/test/contract re-records and checks it).
import {
  CONTRACT_SCENARIOS,
  type ContractTrace,
  compareContractTraces,
  formatContractTrace,
  formatDivergences,
  goldenTrace,
  runContract,
  simContractTarget,
} from '@virtkit/sim/contract';
import { describe, expect, it } from 'vitest';

const clone = (t: ContractTrace): ContractTrace => JSON.parse(JSON.stringify(t)) as ContractTrace;

describe('NodeDriver contract: SimNode', () => {
  it('the golden trace was recorded from the real agent and covers every scenario', () => {
    expect(goldenTrace.meta.driver).toBe('libvirt');
    expect(goldenTrace.scenarios.map((s) => s.scenario)).toEqual(CONTRACT_SCENARIOS.map((s) => s.name));
    for (const s of goldenTrace.scenarios) {
      expect(s.steps.filter((x) => x.outcome.result === 'timeout' || x.outcome.result === 'skipped')).toEqual([]);
    }
  });

  for (const seed of [1, 2, 3]) {
    it(`runs every scenario exactly as the golden trace says (seed ${seed})`, async () => {
      const sim = await runContract(simContractTarget({ seed }));
      const divergences = compareContractTraces(goldenTrace, sim);
      expect(
        divergences,
        formatDivergences(divergences, goldenTrace, sim, { expected: 'libvirt', actual: 'sim' }),
      ).toEqual([]);
    });
  }

  it('is deterministic: the same seed gives the same trace, byte for byte', async () => {
    const one = formatContractTrace(await runContract(simContractTarget({ seed: 7 })));
    const two = formatContractTrace(await runContract(simContractTarget({ seed: 7 })));
    expect(two).toBe(one);
    expect(JSON.parse(one)).toMatchObject({ meta: { driver: 'sim' } });
  });

  it('names the scenario, the step and the first divergent event, outcome or state', () => {
    const changed = clone(goldenTrace);
    const life = changed.scenarios.find((s) => s.scenario === 'lifecycle')!;
    const i = life.events.A.findIndex((e) => e.text.endsWith('lifecycle Suspended/Paused'));
    life.events.A[i]!.text = 'a lifecycle Suspended/IOError';
    const misuse = changed.scenarios.find((s) => s.scenario === 'misuse')!;
    misuse.steps[0]!.outcome = { result: 'ok' };
    const reboot = changed.scenarios.find((s) => s.scenario === 'reboot')!;
    reboot.steps[3]!.state = { A: [], B: [] };
    changed.scenarios.pop();

    const d = compareContractTraces(goldenTrace, changed);
    expect(d.map((x) => [x.scenario, x.what, x.step, x.node])).toEqual([
      ['lifecycle', 'event', 3, 'A'],
      ['misuse', 'outcome', 0, undefined],
      ['reboot', 'state', 3, undefined],
      [goldenTrace.scenarios.at(-1)!.scenario, 'missing scenario', -1, undefined],
    ]);
    expect(d[0]).toMatchObject({
      stepLabel: 'A pause a',
      position: i,
      expected: 'a lifecycle Suspended/Paused',
      actual: 'a lifecycle Suspended/IOError',
    });
    const report = formatDivergences(d, goldenTrace, changed);
    expect(report).toContain('scenario "lifecycle" step 3 (A pause a): event node A');
    expect(report).toContain('scenario "misuse" step 0 (A start a): outcome');

    // An event more or less is a divergence too, at the position where the lists part.
    const extra = clone(goldenTrace);
    extra.scenarios[0]!.events.A.push({ step: 99, text: 'a lifecycle Undefined/Removed' });
    expect(compareContractTraces(goldenTrace, extra)).toMatchObject([
      { what: 'event', expected: '(no more events)', actual: 'a lifecycle Undefined/Removed' },
    ]);
    expect(compareContractTraces(goldenTrace, clone(goldenTrace))).toEqual([]);
  });
});
