import { ManifestParseError, parseManifests, RequestError, toYaml, VirtkitError } from '@virtkit/engine';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migration, node, replicaSet, vm, vmi } from './fixtures.ts';

const doc = (name: string, kind = 'VirtualMachineInstance') =>
  `apiVersion: kubevirt.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n`;

function parseError(input: string): ManifestParseError {
  try {
    parseManifests(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestParseError);
    return e as ManifestParseError;
  }
  throw new Error('expected parseManifests to fail');
}

describe('parseManifests', () => {
  it('reads multi-document YAML in order, skipping empty documents', () => {
    const text = `---\n${doc('a')}---\n# only a comment\n---\n${doc('b', 'VirtualMachine')}---\n`;
    const objs = parseManifests(text);
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['VirtualMachineInstance/a', 'VirtualMachine/b']);
    expect(parseManifests('')).toEqual([]);
    expect(parseManifests('---\n---\n')).toEqual([]);
  });

  it('reads JSON objects and arrays', () => {
    expect(parseManifests(JSON.stringify(vmi()))).toEqual([vmi()]);
    expect(parseManifests(`  ${JSON.stringify([vm(), node()], null, 2)}`)).toEqual([vm(), node()]);
  });

  it('reads bytes as UTF-8', () => {
    expect(parseManifests(new TextEncoder().encode(doc('é-not-valid-but-parsed')))[0]?.metadata.name).toBe(
      'é-not-valid-but-parsed',
    );
  });

  it('flattens kind: List and typed lists, recursively', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [vm(), { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceList', items: [vmi(), vmi()] }],
    };
    expect(parseManifests(toYaml(list)).map((o) => o.kind)).toEqual([
      'VirtualMachine',
      'VirtualMachineInstance',
      'VirtualMachineInstance',
    ]);
    expect(parseManifests(list)).toHaveLength(3);
  });

  it('takes objects and arrays of objects, deep-copied', () => {
    const original = vmi();
    const [copy] = parseManifests(original);
    expect(copy).toEqual(original);
    (copy?.metadata as { name: string }).name = 'changed';
    expect((original.metadata as { name: string }).name).toBe('vm1');
    expect(parseManifests([vm(), migration()])).toHaveLength(2);
  });

  it('reads YAML scalars as Kubernetes does (YAML 1.1): yes/on are booleans, 0644 is octal', () => {
    const [o] = parseManifests(
      'apiVersion: v1\nkind: X\nbools: [yes, No, on, OFF, y, true]\nmode: 0644\nhex: 0x1F\nexp: 1e3\nstr: "0644"\n',
    );
    expect(o?.bools).toEqual([true, false, true, false, true, true]);
    expect(o?.mode).toBe(420);
    expect(o?.hex).toBe(31);
    expect(o?.exp).toBe(1000);
    expect(o?.str).toBe('0644');
  });

  it('keeps timestamps and sexagesimal-looking values as strings, so everything is JSON', () => {
    const [o] = parseManifests(
      'apiVersion: v1\nkind: X\nmetadata:\n  creationTimestamp: 2024-01-02T03:04:05Z\n  d: 2024-01-02\nt: 1:20\nb: !!binary aGk=\n',
    );
    expect(o?.metadata).toEqual({ creationTimestamp: '2024-01-02T03:04:05Z', d: '2024-01-02' });
    expect(o?.t).toBe('1:20');
    expect(o?.b).toBe('aGk=');
  });

  it('expands anchors and merge keys, within a bound', () => {
    const [o] = parseManifests('apiVersion: v1\nkind: X\nbase: &b {cpu: 1}\nspec:\n  <<: *b\n  memory: 2\n');
    expect(o?.spec).toEqual({ cpu: 1, memory: 2 });
    const laughs = [
      'apiVersion: v1',
      'kind: X',
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from({ length: 8 }, (_, i) => {
        const p = String.fromCharCode(97 + i);
        const n = String.fromCharCode(98 + i);
        return `${n}: &${n} [*${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}]`;
      }),
    ].join('\n');
    const e = parseError(laughs);
    expect(e.message).toMatch(/^manifest document 1 cannot be read: .*alias/i);
  });

  it('names the document, line and column of a YAML syntax error', () => {
    const e = parseError(`${doc('a')}---\n${doc('b')}spec:\n  domain: [\n    bad: : x\n`);
    expect(e.code).toBe('BadRequest');
    expect(e.httpStatus).toBe(400);
    expect(e).toBeInstanceOf(VirtkitError);
    expect(e.documentIndex).toBe(1);
    expect(e.line).toBe(12);
    expect(e.column).toBeGreaterThan(0);
    expect(e.message).toMatch(/^manifest document 2 is not valid YAML: .* at line 12, column \d+/);
  });

  it('rejects duplicate keys and bad indentation', () => {
    expect(parseError(`${doc('a')}metadata:\n  name: b\n`).message).toMatch(/unique/i);
    const e = parseError('apiVersion: v1\nkind: X\nspec:\n  a: 1\n   b: 2\n');
    expect(e.documentIndex).toBe(0);
    expect(e.line).toBeGreaterThanOrEqual(4);
  });

  it('reports broken JSON with a line number (read as YAML flow)', () => {
    const e = parseError('{\n  "apiVersion": "v1",\n  "kind": "X",\n  "metadata": {"name": "a",}\n  "x": 1\n}');
    expect(e.line).toBeGreaterThan(1);
    expect(e.message).toMatch(/^manifest document 1 is not valid YAML/);
  });

  it('requires each document to be an object with apiVersion and kind', () => {
    expect(parseError('- a\n- b\n').message).toBe(
      'manifest document 1 must be an object (a Kubernetes resource), got array',
    );
    expect(parseError(`${doc('a')}---\njust a string\n`).message).toBe(
      'manifest document 2 must be an object (a Kubernetes resource), got string',
    );
    const missing = parseError(`${doc('a')}---\nkind: VirtualMachine\nmetadata: {name: x}\n`);
    expect(missing.message).toBe('manifest document 2: apiVersion is required');
    expect(missing.documentIndex).toBe(1);
    expect(parseError('apiVersion: v1\nkind: ""\n').message).toBe('manifest document 1: kind is required');
    expect(parseError('apiVersion: v1\nkind: List\nitems: [{kind: X}]\n').message).toBe(
      'manifest document 1, items[0]: apiVersion is required',
    );
    expect(() => parseManifests(42 as unknown as string)).toThrow(ManifestParseError);
  });

  it('rejects values JSON cannot carry', () => {
    expect(parseError('apiVersion: v1\nkind: X\nspec: {a: [1, .nan]}\n').message).toBe(
      'manifest document 1: spec.a[1] is NaN, which JSON cannot represent',
    );
    expect(parseError('apiVersion: v1\nkind: X\nv: -.inf\n').message).toMatch(/v is -Infinity/);
    expect(() => parseManifests({ apiVersion: 'v1', kind: 'X', when: new Date(0) })).toThrow(
      'manifest document 1: when is a Date, which JSON cannot represent',
    );
  });

  it('is not confused by a brand: ManifestParseError is not every VirtkitError', () => {
    expect(new RequestError('BadRequest', 'x')).not.toBeInstanceOf(ManifestParseError);
    expect(new ManifestParseError('m', 0)).toBeInstanceOf(VirtkitError);
  });
});

describe('toYaml', () => {
  it('writes documents separated by ---', () => {
    const text = toYaml([vm(), vmi()]);
    expect(text.split('\n').filter((l) => l === '---')).toHaveLength(1);
    expect(parseManifests(text)).toEqual([vm(), vmi()]);
  });

  it('round-trips every fixture losslessly', () => {
    for (const o of [vm(), vmi(), replicaSet(), migration(), node()]) expect(parseManifests(toYaml(o))).toEqual([o]);
  });

  it('round-trips strings YAML 1.1 would otherwise read as something else', () => {
    const tricky = [
      'yes',
      'No',
      'on',
      'OFF',
      'y',
      'n',
      '~',
      'null',
      'true',
      '0644',
      '0x1F',
      '0b101',
      '1_000',
      '1e3',
      '.5',
      '+1',
      '1:20',
      '2024-01-02',
      '2024-01-02T03:04:05Z',
      '.nan',
      '.inf',
      '<<',
      '=',
      ' lead',
      'trail ',
      'a: b',
      '# c',
      '- d',
      '"q"',
      "'s'",
      '',
      '\ttab',
      'multi\nline\n',
      'no\nfinal newline',
      '\u0000',
      'é☃',
    ];
    const o = { apiVersion: 'v1', kind: 'X', list: tricky, map: Object.fromEntries(tricky.map((t) => [t, t])) };
    expect(parseManifests(toYaml(o))).toEqual([o]);
  });

  it('round-trips arbitrary JSON objects (property, fixed seed)', () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    const object = fc.dictionary(fc.string(), value, { maxKeys: 6 });
    fc.assert(
      fc.property(object, (extra) => {
        const o = { ...extra, apiVersion: 'v1', kind: 'X' };
        // JSON equality: -0 and 0 are the same JSON number.
        const expected = JSON.parse(JSON.stringify(o)) as unknown;
        expect(JSON.parse(JSON.stringify(parseManifests(toYaml(o))))).toEqual([expected]);
      }),
      { seed: 7, numRuns: 400 },
    );
  });
});
