/**
 * The label, affinity and taint rules of the Kubernetes scheduler, as pure functions over plain data.
 * They are evaluated per node on every placement, so they avoid allocation on the common paths.
 */
import type { Taint } from '../resources/core.ts';
import type { Affinity, NodeSelectorRequirement, NodeSelectorTerm, Toleration } from '../resources/kubevirt.ts';

export type Labels = Readonly<Record<string, string>>;

/** `spec.nodeSelector`: every pair must be present with exactly that value. */
export function matchesNodeSelector(labels: Labels, selector: Labels | undefined): boolean {
  if (!selector) return true;
  for (const key in selector) {
    if (labels[key] !== selector[key]) return false;
  }
  return true;
}

function parseIntStrict(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  return Number(s);
}

/** One requirement against a map of values (labels, or `metadata.name` for matchFields). */
export function matchesRequirement(values: Labels, req: NodeSelectorRequirement): boolean {
  const has = Object.hasOwn(values, req.key);
  const v = has ? values[req.key] : undefined;
  switch (req.operator) {
    case 'In':
      return has && (req.values ?? []).includes(v as string);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(v as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const mine = parseIntStrict(v);
      const theirs = parseIntStrict(req.values?.[0]);
      if (mine === undefined || theirs === undefined) return false;
      return req.operator === 'Gt' ? mine > theirs : mine < theirs;
    }
    default:
      return false;
  }
}

/** A term matches when all its expressions and fields match; a term with neither matches nothing. */
export function matchesTerm(labels: Labels, nodeName: string, term: NodeSelectorTerm): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const e of exprs) if (!matchesRequirement(labels, e)) return false;
  if (fields.length > 0) {
    const f = { 'metadata.name': nodeName };
    for (const e of fields) if (!matchesRequirement(f, e)) return false;
  }
  return true;
}

/** Required node affinity: the terms are ORed. */
export function matchesRequiredAffinity(labels: Labels, nodeName: string, affinity: Affinity | undefined): boolean {
  const req = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!req) return true;
  for (const term of req.nodeSelectorTerms) if (matchesTerm(labels, nodeName, term)) return true;
  return false;
}

/** Sum of the weights of the preferred node-affinity terms this node matches. */
export function preferredAffinityScore(labels: Labels, nodeName: string, affinity: Affinity | undefined): number {
  const prefs = affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
  if (!prefs) return 0;
  let sum = 0;
  for (const p of prefs) if (matchesTerm(labels, nodeName, p.preference)) sum += p.weight;
  return sum;
}

export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === 'Exists') return !toleration.key || toleration.key === taint.key;
  // Equal (the default): key and value must match; an absent value equals the empty string.
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

function tolerated(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  if (!tolerations) return false;
  for (const t of tolerations) if (tolerates(t, taint)) return true;
  return false;
}

/** The first NoSchedule/NoExecute taint no toleration covers, or undefined when all are tolerated. */
export function firstUntoleratedTaint(
  taints: readonly Taint[],
  tolerations: readonly Toleration[] | undefined,
): Taint | undefined {
  for (const taint of taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tolerated(tolerations, taint)) return taint;
  }
  return undefined;
}

/** Untolerated PreferNoSchedule taints: the node is still feasible but ranks lower. */
export function untoleratedPreferNoSchedule(
  taints: readonly Taint[],
  tolerations: readonly Toleration[] | undefined,
): number {
  let n = 0;
  for (const taint of taints) if (taint.effect === 'PreferNoSchedule' && !tolerated(tolerations, taint)) n++;
  return n;
}
