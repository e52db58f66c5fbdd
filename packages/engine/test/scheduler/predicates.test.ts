import { describe, expect, it } from 'vitest';
import type { Taint } from '../../src/resources/core.ts';
import type { Affinity, NodeSelectorRequirement } from '../../src/resources/kubevirt.ts';
import {
  firstUntoleratedTaint,
  matchesNodeSelector,
  matchesRequiredAffinity,
  matchesRequirement,
  preferredAffinityScore,
  tolerates,
  untoleratedPreferNoSchedule,
} from '../../src/scheduler/predicates.ts';

const labels = { zone: 'a', gen: '5', 'kubernetes.io/hostname': 'n1' };
const req = (operator: NodeSelectorRequirement['operator'], key: string, values?: string[]): NodeSelectorRequirement =>
  values ? { key, operator, values } : { key, operator };

describe('nodeSelector', () => {
  it('needs every pair with the exact value', () => {
    expect(matchesNodeSelector(labels, undefined)).toBe(true);
    expect(matchesNodeSelector(labels, {})).toBe(true);
    expect(matchesNodeSelector(labels, { zone: 'a' })).toBe(true);
    expect(matchesNodeSelector(labels, { zone: 'a', gen: '5' })).toBe(true);
    expect(matchesNodeSelector(labels, { zone: 'b' })).toBe(false);
    expect(matchesNodeSelector(labels, { zone: 'a', missing: '' })).toBe(false);
  });
});

describe('node selector requirements', () => {
  it.each([
    ['In', 'zone', ['a', 'b'], true],
    ['In', 'zone', ['b'], false],
    ['In', 'missing', ['a'], false],
    ['NotIn', 'zone', ['b'], true],
    ['NotIn', 'zone', ['a'], false],
    ['NotIn', 'missing', ['a'], true],
    ['Exists', 'zone', undefined, true],
    ['Exists', 'missing', undefined, false],
    ['DoesNotExist', 'missing', undefined, true],
    ['DoesNotExist', 'zone', undefined, false],
    ['Gt', 'gen', ['4'], true],
    ['Gt', 'gen', ['5'], false],
    ['Lt', 'gen', ['6'], true],
    ['Lt', 'gen', ['5'], false],
    ['Gt', 'zone', ['1'], false],
    ['Gt', 'missing', ['1'], false],
    ['Lt', 'gen', ['x'], false],
  ] as const)('%s %s %j → %s', (op, key, values, expected) => {
    expect(matchesRequirement(labels, req(op, key, values ? [...values] : undefined))).toBe(expected);
  });
});

describe('required node affinity', () => {
  const affinity = (
    ...terms: NonNullable<Affinity['nodeAffinity']>['requiredDuringSchedulingIgnoredDuringExecution'][]
  ) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms[0] } }) as Affinity;

  it('ORs the terms and ANDs the expressions within a term', () => {
    const a = affinity({
      nodeSelectorTerms: [
        { matchExpressions: [req('In', 'zone', ['b'])] },
        { matchExpressions: [req('In', 'zone', ['a']), req('Gt', 'gen', ['3'])] },
      ],
    });
    expect(matchesRequiredAffinity(labels, 'n1', a)).toBe(true);
    const b = affinity({
      nodeSelectorTerms: [{ matchExpressions: [req('In', 'zone', ['a']), req('Gt', 'gen', ['9'])] }],
    });
    expect(matchesRequiredAffinity(labels, 'n1', b)).toBe(false);
  });

  it('matches metadata.name through matchFields', () => {
    const a = affinity({ nodeSelectorTerms: [{ matchFields: [req('In', 'metadata.name', ['n1'])] }] });
    expect(matchesRequiredAffinity(labels, 'n1', a)).toBe(true);
    expect(matchesRequiredAffinity(labels, 'n2', a)).toBe(false);
  });

  it('an empty term matches nothing, absent affinity matches everything', () => {
    expect(matchesRequiredAffinity(labels, 'n1', affinity({ nodeSelectorTerms: [{}] }))).toBe(false);
    expect(matchesRequiredAffinity(labels, 'n1', undefined)).toBe(true);
    expect(matchesRequiredAffinity(labels, 'n1', {})).toBe(true);
  });

  it('sums the weights of matching preferred terms', () => {
    const a: Affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 10, preference: { matchExpressions: [req('In', 'zone', ['a'])] } },
          { weight: 5, preference: { matchExpressions: [req('Exists', 'gen')] } },
          { weight: 50, preference: { matchExpressions: [req('In', 'zone', ['z'])] } },
        ],
      },
    };
    expect(preferredAffinityScore(labels, 'n1', a)).toBe(15);
    expect(preferredAffinityScore(labels, 'n1', undefined)).toBe(0);
  });
});

describe('taints and tolerations', () => {
  const gpu: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const evict: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  const soft: Taint = { key: 'soft', value: 'x', effect: 'PreferNoSchedule' };

  it('Equal needs key, value and (when given) effect', () => {
    expect(tolerates({ key: 'dedicated', value: 'gpu' }, gpu)).toBe(true);
    expect(tolerates({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }, gpu)).toBe(true);
    expect(tolerates({ key: 'dedicated', value: 'cpu' }, gpu)).toBe(false);
    expect(tolerates({ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }, gpu)).toBe(false);
    expect(tolerates({ key: 'node.kubernetes.io/unreachable' }, evict)).toBe(true);
  });

  it('Exists matches any value, and with an empty key every taint', () => {
    expect(tolerates({ key: 'dedicated', operator: 'Exists' }, gpu)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, gpu)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, evict)).toBe(true);
    expect(tolerates({ operator: 'Exists', effect: 'NoSchedule' }, evict)).toBe(false);
  });

  it('reports the first hard taint not tolerated and ignores PreferNoSchedule', () => {
    expect(firstUntoleratedTaint([soft, gpu, evict], [])).toBe(gpu);
    expect(firstUntoleratedTaint([soft, gpu, evict], [{ key: 'dedicated', operator: 'Exists' }])).toBe(evict);
    expect(firstUntoleratedTaint([soft], undefined)).toBeUndefined();
    expect(untoleratedPreferNoSchedule([soft, gpu], undefined)).toBe(1);
    expect(untoleratedPreferNoSchedule([soft], [{ key: 'soft', value: 'x' }])).toBe(0);
  });
});
