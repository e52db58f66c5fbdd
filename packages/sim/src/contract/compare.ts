/**
 * Compares two contract traces (usually: the golden one recorded from the real agent, and a fresh one)
 * and says where they part: the scenario, the step, and the first divergent outcome, state or event.
 */
import type { ContractNode, ContractTrace, ScenarioTrace, StepOutcome, StepRecord } from './types.ts';

export interface Divergence {
  scenario: string;
  /** Index and label of the step concerned (for events: the step during which the event was observed). */
  step: number;
  stepLabel: string;
  what: 'missing scenario' | 'extra scenario' | 'steps' | 'outcome' | 'state' | 'event';
  node?: ContractNode;
  /** For events: position in the node's event list. */
  position?: number;
  expected: string;
  actual: string;
}

export function outcomeText(o: StepOutcome): string {
  let s = o.result;
  if (o.reason !== undefined) s += ` ${o.reason}`;
  if (o.value !== undefined) s += `: ${o.value}`;
  return s;
}

const stateText = (s: StepRecord['state']) => (s ? JSON.stringify(s) : '(no snapshot)');

/** Every divergence, at most one per scenario and kind (steps, each node's events): the first one. */
export function compareContractTraces(expected: ContractTrace, actual: ContractTrace): Divergence[] {
  const out: Divergence[] = [];
  const byName = new Map(actual.scenarios.map((s) => [s.scenario, s]));
  for (const e of expected.scenarios) {
    const a = byName.get(e.scenario);
    byName.delete(e.scenario);
    if (!a) {
      out.push({
        scenario: e.scenario,
        step: -1,
        stepLabel: '',
        what: 'missing scenario',
        expected: 'run',
        actual: 'absent',
      });
      continue;
    }
    out.push(...compareScenario(e, a));
  }
  for (const a of byName.values()) {
    out.push({
      scenario: a.scenario,
      step: -1,
      stepLabel: '',
      what: 'extra scenario',
      expected: 'absent',
      actual: 'run',
    });
  }
  return out;
}

function compareScenario(e: ScenarioTrace, a: ScenarioTrace): Divergence[] {
  const out: Divergence[] = [];
  const base = { scenario: e.scenario };
  const labels = (s: ScenarioTrace) => s.steps.map((x) => x.label).join(' | ');
  if (labels(e) !== labels(a)) {
    out.push({ ...base, step: -1, stepLabel: '', what: 'steps', expected: labels(e), actual: labels(a) });
    return out;
  }
  for (const [i, es] of e.steps.entries()) {
    const as = a.steps[i] as StepRecord;
    const eo = outcomeText(es.outcome);
    const ao = outcomeText(as.outcome);
    if (eo !== ao) {
      out.push({ ...base, step: i, stepLabel: es.label, what: 'outcome', expected: eo, actual: ao });
      break;
    }
    if (stateText(es.state) !== stateText(as.state)) {
      out.push({
        ...base,
        step: i,
        stepLabel: es.label,
        what: 'state',
        expected: stateText(es.state),
        actual: stateText(as.state),
      });
      break;
    }
  }
  for (const node of ['A', 'B'] as const) {
    const ee = e.events[node];
    const ae = a.events[node];
    const n = Math.max(ee.length, ae.length);
    for (let i = 0; i < n; i++) {
      const x = ee[i];
      const y = ae[i];
      if (x?.text === y?.text) continue;
      // Name the step during which the first of the two was observed.
      const step = Math.min(x?.step ?? Number.POSITIVE_INFINITY, y?.step ?? Number.POSITIVE_INFINITY);
      out.push({
        ...base,
        step,
        stepLabel: e.steps[step]?.label ?? '(after the last step)',
        what: 'event',
        node,
        position: i,
        expected: x ? x.text : '(no more events)',
        actual: y ? y.text : '(no more events)',
      });
      break;
    }
  }
  return out.sort((p, q) => p.step - q.step);
}

/** A readable report of divergences, with the events around each event divergence. */
export function formatDivergences(
  divergences: readonly Divergence[],
  expected: ContractTrace,
  actual: ContractTrace,
  names: { expected: string; actual: string } = { expected: 'expected', actual: 'actual' },
): string {
  if (divergences.length === 0) return 'no divergences';
  const lines: string[] = [`${divergences.length} divergence(s) between ${names.expected} and ${names.actual}:`];
  for (const d of divergences) {
    const where = d.step >= 0 ? `step ${d.step} (${d.stepLabel})` : '';
    const node = d.node ? ` node ${d.node} event #${d.position}` : '';
    lines.push(`- scenario "${d.scenario}" ${where}: ${d.what}${node}`);
    lines.push(`    ${names.expected}: ${d.expected}`);
    lines.push(`    ${names.actual}: ${d.actual}`);
    if (d.what === 'event' && d.node && d.position !== undefined) {
      const ctx = (t: ContractTrace) =>
        t.scenarios
          .find((s) => s.scenario === d.scenario)
          ?.events[d.node as ContractNode].slice(Math.max(0, (d.position ?? 0) - 3), (d.position ?? 0) + 3)
          .map((x) => x.text)
          .join(' · ') ?? '';
      lines.push(`    around it, ${names.expected}: ${ctx(expected)}`);
      lines.push(`    around it, ${names.actual}: ${ctx(actual)}`);
    }
  }
  return lines.join('\n');
}
