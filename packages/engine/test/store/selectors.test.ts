import {
  EVERYTHING,
  fieldValue,
  labelSelectorFromObject,
  labelSelectorToString,
  matchesFieldSelector,
  matchesLabelSelector,
  NOTHING,
  parseFieldSelector,
  parseLabelSelector,
  RequestError,
  validateLabelSelector,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

const labels = { app: 'web', tier: 'front', version: '12', empty: '' };

describe('parseLabelSelector', () => {
  it('parses every operator and matches like Kubernetes', () => {
    const table: [string, boolean][] = [
      ['app=web', true],
      ['app==web', true],
      ['app=db', false],
      ['app!=db', true],
      ['app!=web', false],
      ['missing!=x', true],
      ['app in (db,web)', true],
      ['app in (db)', false],
      ['missing in (x)', false],
      ['app notin (db)', true],
      ['app notin (web,db)', false],
      ['missing notin (x)', true],
      ['app', true],
      ['missing', false],
      ['!missing', true],
      ['!app', false],
      ['version>11', true],
      ['version>12', false],
      ['version<13', true],
      ['app>1', false],
      ['empty=', true],
      ['empty in (,x)', true],
      ['app=web,tier=front', true],
      ['app=web,tier=back', false],
      ['  app = web ,  tier  in  ( front , back )  ', true],
      ['', true],
    ];
    for (const [sel, want] of table) expect(parseLabelSelector(sel).matches(labels), sel).toBe(want);
    expect(parseLabelSelector('!app').matches(undefined)).toBe(true);
    expect(parseLabelSelector('app').matches(undefined)).toBe(false);
  });

  it('accepts prefixed keys and treats in/notin as plain words in values', () => {
    const l = { 'example.com/role': 'in', 'kubevirt.io/vm': 'a' };
    expect(parseLabelSelector('example.com/role=in').matches(l)).toBe(true);
    expect(parseLabelSelector('example.com/role in (in, notin)').matches(l)).toBe(true);
    expect(parseLabelSelector('kubevirt.io/vm').matches(l)).toBe(true);
  });

  it('rejects malformed selectors with BadRequest naming the problem and position', () => {
    const bad: [string, string][] = [
      ['app in web', 'expected "(" after "in" at position 7'],
      ['app in (web', 'expected "," or ")"'],
      ['app in ()', 'needs at least one value'],
      ['app=web tier=x', 'expected "," or end of input'],
      ['=web', 'expected a label key at position 0'],
      ['!', 'expected a label key'],
      ['app,,tier', 'expected a label key'],
      ['app>x', 'expected an integer'],
      ['app=(x)', 'expected a label value'],
      ['bad key!=x', 'expected an operator'],
      ['-bad=x', 'key "-bad"'],
      [`app=${'v'.repeat(64)}`, 'no more than 63 characters'],
      ['app=bad!value', 'expected "," or end of input'],
    ];
    for (const [sel, fragment] of bad) {
      let err: unknown;
      try {
        parseLabelSelector(sel);
      } catch (e) {
        err = e;
      }
      expect(err, sel).toBeInstanceOf(RequestError);
      expect((err as RequestError).code).toBe('BadRequest');
      expect((err as Error).message, sel).toContain(fragment);
      expect((err as Error).message).toContain(JSON.stringify(sel));
    }
  });

  it('formats canonically (sorted, deduplicated) and round-trips', () => {
    const sel = parseLabelSelector('tier notin (b,a,a), app=web, !gone, has, n>3');
    expect(sel.toString()).toBe('app=web,!gone,has,n>3,tier notin (a,b)');
    expect(parseLabelSelector(sel.toString()).toString()).toBe(sel.toString());
    expect(parseLabelSelector('').toString()).toBe('');
    expect(parseLabelSelector(' ').empty).toBe(true);
  });
});

describe('LabelSelector objects', () => {
  it('converts matchLabels and matchExpressions; {} selects all, absent selects nothing', () => {
    const sel = labelSelectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front', 'back'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'version', operator: 'Exists' },
        { key: 'zone', operator: 'NotIn', values: ['z1'] },
      ],
    });
    expect(sel.matches(labels)).toBe(true);
    expect(sel.matches({ ...labels, canary: 'yes' })).toBe(false);
    expect(sel.matches({ ...labels, zone: 'z1' })).toBe(false);
    expect(sel.toString()).toBe('app=web,!canary,tier in (back,front),version,zone notin (z1)');
    expect(labelSelectorFromObject({}).matches({})).toBe(true);
    expect(labelSelectorFromObject(undefined).matches(labels)).toBe(false);
    expect(labelSelectorFromObject(null)).toBe(NOTHING);
    expect(EVERYTHING.matches(undefined)).toBe(true);
    expect(labelSelectorToString({ matchLabels: { b: '2', a: '1' } })).toBe('a=1,b=2');
  });

  it('matchesLabelSelector takes strings, objects and parsed selectors', () => {
    expect(matchesLabelSelector('app=web', labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: 'db' } }, labels)).toBe(false);
    expect(matchesLabelSelector(parseLabelSelector('tier'), labels)).toBe(true);
    expect(matchesLabelSelector(undefined, labels)).toBe(false);
  });

  it('reports every problem of an invalid selector as field causes', () => {
    const causes = validateLabelSelector(
      {
        matchLabels: { 'bad key': 'x', ok: 'bad value!' },
        matchExpressions: [
          { key: 'a', operator: 'In', values: [] },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'Sometimes' },
          { key: 'd', operator: 'NotIn', values: 'x' },
        ],
      },
      'spec.selector',
    );
    expect(causes.map((c) => c.field)).toEqual([
      'spec.selector.matchLabels',
      'spec.selector.matchLabels.ok',
      'spec.selector.matchExpressions[0].values',
      'spec.selector.matchExpressions[1].values',
      'spec.selector.matchExpressions[2].operator',
      'spec.selector.matchExpressions[3].values',
    ]);
    expect(validateLabelSelector({ matchLabels: { a: 'b' } }, 'spec.selector')).toEqual([]);
    expect(validateLabelSelector('app=web', 'spec.selector')[0]?.field).toBe('spec.selector');
    expect(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toThrow(RequestError);
  });
});

describe('field selectors', () => {
  const vmi = {
    metadata: { name: 'a', namespace: 'ns' },
    spec: { vmiName: 'x', unschedulable: true },
    status: { phase: 'Running', nodeName: 'n1' },
  };

  it('matches =, == and != on supported fields, absent fields reading as empty', () => {
    expect(matchesFieldSelector('metadata.name=a', vmi)).toBe(true);
    expect(matchesFieldSelector('metadata.name==a,metadata.namespace=ns', vmi)).toBe(true);
    expect(matchesFieldSelector('status.phase!=Running', vmi)).toBe(false);
    expect(matchesFieldSelector('spec.nodeName=', vmi)).toBe(true);
    expect(matchesFieldSelector('spec.unschedulable=true', vmi)).toBe(true);
    expect(
      matchesFieldSelector('involvedObject.kind=VirtualMachine', { involvedObject: { kind: 'VirtualMachine' } }),
    ).toBe(true);
    expect(fieldValue(vmi, 'status.nodeName')).toBe('n1');
    expect(parseFieldSelector('').matches(vmi)).toBe(true);
  });

  it('unescapes \\, \\= and \\\\ in values and formats them back', () => {
    const sel = parseFieldSelector('metadata.name=a\\,b\\=c\\\\d');
    expect(sel.requirements[0]?.value).toBe('a,b=c\\d');
    expect(sel.matches({ metadata: { name: 'a,b=c\\d' } })).toBe(true);
    expect(parseFieldSelector(sel.toString()).requirements).toEqual(sel.requirements);
  });

  it('rejects unknown fields and malformed terms with BadRequest', () => {
    for (const [sel, fragment] of [
      ['spec.domain=x', 'field label not supported: "spec.domain"'],
      ['metadata.name', 'is not of the form'],
      ['=x', 'empty field name'],
      ['metadata.name=a=b', 'unescaped "="'],
      ['metadata.name=a\\b', 'invalid escape'],
    ] as const) {
      expect(() => parseFieldSelector(sel), sel).toThrow(fragment);
      expect(() => parseFieldSelector(sel)).toThrow(RequestError);
    }
  });
});
