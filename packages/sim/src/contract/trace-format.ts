/**
 * A contract trace as JSON with one line per step and per event, so a regenerated golden trace reads as
 * a short diff of the steps and events that changed.
 */
import type { ContractTrace } from './types.ts';

/** `[`, one item per line, `]`, each line indented by `pad`. */
function block(items: unknown[], pad: string): string {
  if (items.length === 0) return '[]';
  return `[\n${items.map((x) => `${pad}  ${JSON.stringify(x)}`).join(',\n')}\n${pad}]`;
}

export function formatContractTrace(trace: ContractTrace): string {
  const scenarios = trace.scenarios.map(
    (s) =>
      `    {\n      "scenario": ${JSON.stringify(s.scenario)},\n` +
      `      "steps": ${block(s.steps, '      ')},\n` +
      `      "events": {\n        "A": ${block(s.events.A, '        ')},\n        "B": ${block(s.events.B, '        ')}\n      }\n    }`,
  );
  return `{\n  "meta": ${JSON.stringify(trace.meta)},\n  "scenarios": [\n${scenarios.join(',\n')}\n  ]\n}\n`;
}
