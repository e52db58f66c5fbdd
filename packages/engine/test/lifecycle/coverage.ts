/**
 * What coverage is measured against: every state node and every transition (eventless ones included)
 * of the lifecycle machine's definition, each with a stable readable name.
 */
import { lifecycleMachine } from '@virtkit/engine';
import type { AnyTransitionDefinition } from 'xstate';
import { getStateNodes } from 'xstate/graph';

/** A readable, unique name of a transition: `source --EVENT[index]--> targets`. */
export function transitionName(t: AnyTransitionDefinition): string {
  const list = t.eventType === '' ? t.source.always : t.source.transitions.get(t.eventType);
  const index = list?.indexOf(t) ?? -1;
  const targets = (t.target ?? []).map((n) => n.id).join(',') || '(self)';
  return `${t.source.id} --${t.eventType || 'always'}[${index}]--> ${targets}`;
}

/** Every transition in the machine's definition, eventless ones included. */
export function definedTransitions(): Set<string> {
  const all = new Set<string>();
  for (const node of [lifecycleMachine.root, ...getStateNodes(lifecycleMachine.root)]) {
    for (const list of node.transitions.values()) for (const t of list) all.add(transitionName(t));
    for (const t of node.always ?? []) all.add(transitionName(t));
  }
  return all;
}

/** Every state node id (`vm.running.ready`, ...). */
export function definedStates(): Set<string> {
  return new Set(getStateNodes(lifecycleMachine.root).map((n) => n.id));
}
