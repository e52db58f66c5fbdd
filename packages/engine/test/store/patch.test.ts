import { applyJsonPatch, applyMergePatch, InvalidSpecError, parseJsonPointer, RequestError } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

describe('applyMergePatch (RFC 7386)', () => {
  it('follows the RFC semantics case by case', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, want] of cases) {
      expect(applyMergePatch(target, patch), JSON.stringify([target, patch])).toEqual(want);
    }
  });

  it('does not modify its inputs', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: 2 } };
    const out = applyMergePatch(target, patch) as { a: Record<string, number> };
    out.a.d = 3;
    expect(target).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { c: 2 } });
  });

  it('keeps a "__proto__" key as data instead of changing the prototype', () => {
    const out = applyMergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe('applyJsonPatch (RFC 6902)', () => {
  it('applies each operation', () => {
    const doc = { foo: ['bar', 'baz'], obj: { k: 1 } };
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({
      foo: ['bar', 'qux', 'baz'],
      obj: { k: 1 },
    });
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/foo/-', value: 'end' }])).toEqual({
      foo: ['bar', 'baz', 'end'],
      obj: { k: 1 },
    });
    expect(applyJsonPatch(doc, [{ op: 'remove', path: '/foo/0' }])).toEqual({ foo: ['baz'], obj: { k: 1 } });
    expect(applyJsonPatch(doc, [{ op: 'replace', path: '/obj/k', value: 2 }])).toEqual({
      foo: ['bar', 'baz'],
      obj: { k: 2 },
    });
    expect(applyJsonPatch(doc, [{ op: 'move', from: '/obj/k', path: '/moved' }])).toEqual({
      foo: ['bar', 'baz'],
      obj: {},
      moved: 1,
    });
    expect(applyJsonPatch(doc, [{ op: 'move', from: '/foo/0', path: '/foo/1' }])).toEqual({
      foo: ['baz', 'bar'],
      obj: { k: 1 },
    });
    expect(applyJsonPatch(doc, [{ op: 'copy', from: '/obj', path: '/copy' }])).toEqual({ ...doc, copy: { k: 1 } });
    expect(applyJsonPatch(doc, [{ op: 'test', path: '/obj', value: { k: 1 } }])).toEqual(doc);
    expect(applyJsonPatch(doc, [{ op: 'replace', path: '', value: [1] }])).toEqual([1]);
    expect(
      applyJsonPatch({ 'a/b': 1, 'c~d': 2 }, [
        { op: 'remove', path: '/a~1b' },
        { op: 'remove', path: '/c~0d' },
      ]),
    ).toEqual({});
    expect(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/a', value: null }])).toEqual({ a: null });
    expect(doc).toEqual({ foo: ['bar', 'baz'], obj: { k: 1 } });
  });

  it('is all-or-nothing and reports unapplicable operations as InvalidSpecError on the path', () => {
    const doc = { a: { b: 1 }, list: [1] };
    for (const [ops, field, fragment] of [
      [[{ op: 'test', path: '/a/b', value: 2 }], '/a/b', 'test failed: expected 2, found 1'],
      [[{ op: 'test', path: '/nope', value: 2 }], '/nope', 'does not exist'],
      [[{ op: 'remove', path: '/a/x' }], '/a/x', 'does not exist'],
      [[{ op: 'replace', path: '/x', value: 1 }], '/x', 'does not exist'],
      [[{ op: 'add', path: '/x/y', value: 1 }], '/x/y', 'parent'],
      [[{ op: 'add', path: '/list/5', value: 1 }], '/list/5', 'out of bounds'],
      [[{ op: 'add', path: '/list/01', value: 1 }], '/list/01', 'out of bounds'],
      [[{ op: 'copy', from: '/zz', path: '/y' }], '/zz', '"from" location'],
    ] as const) {
      let err: unknown;
      try {
        applyJsonPatch(doc, ops, { kind: 'VirtualMachine', name: 'vm1' });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(ops)).toBeInstanceOf(InvalidSpecError);
      expect((err as InvalidSpecError).causes[0]?.field).toBe(field);
      expect((err as Error).message).toContain(fragment);
      expect((err as Error).message).toContain('VirtualMachine "vm1"');
    }
    expect(doc).toEqual({ a: { b: 1 }, list: [1] });
  });

  it('rejects malformed patches with BadRequest', () => {
    for (const ops of [
      {},
      [null],
      [{ op: 'add', value: 1 }],
      [{ op: 'add', path: 'x', value: 1 }],
      [{ op: 'add', path: '/x~2', value: 1 }],
      [{ op: 'replace', path: '/x' }],
      [{ op: 'move', path: '/a' }],
      [{ op: 'move', from: '/a', path: '/a/b' }],
      [{ op: 'nope', path: '/a' }],
    ]) {
      expect(() => applyJsonPatch({ a: { b: 1 } }, ops), JSON.stringify(ops)).toThrow(RequestError);
    }
  });

  it('parses JSON pointers', () => {
    expect(parseJsonPointer('')).toEqual([]);
    expect(parseJsonPointer('/')).toEqual(['']);
    expect(parseJsonPointer('/a~1b/c~0d/~01')).toEqual(['a/b', 'c~d', '~1']);
    expect(parseJsonPointer('a')).toBeUndefined();
    expect(parseJsonPointer('/a~')).toBeUndefined();
  });
});

describe('patches with shared subtrees (the store: frozen inputs)', () => {
  const freeze = <T>(v: T): T => {
    if (typeof v === 'object' && v !== null) {
      for (const x of Object.values(v)) freeze(x);
      Object.freeze(v);
    }
    return v;
  };
  const doc = () => freeze({ foo: ['bar', 'baz'], obj: { k: 1, deep: { x: [1, 2] } }, keep: { big: { a: 1 } } });
  const jsonCases: unknown[][] = [
    [{ op: 'add', path: '/foo/1', value: 'qux' }],
    [{ op: 'add', path: '/foo/-', value: { o: 1 } }],
    [{ op: 'remove', path: '/foo/0' }],
    [{ op: 'replace', path: '/obj/k', value: 2 }],
    [{ op: 'add', path: '/obj/deep/x/0', value: 0 }],
    [{ op: 'move', from: '/obj/k', path: '/moved' }],
    [{ op: 'move', from: '/foo/0', path: '/foo/1' }],
    [
      { op: 'copy', from: '/obj', path: '/copy' },
      { op: 'replace', path: '/copy/k', value: 5 },
      { op: 'add', path: '/copy/deep/x/-', value: 3 },
    ],
    [
      { op: 'add', path: '/new', value: { a: { b: 1 } } },
      { op: 'add', path: '/new/a/c', value: 2 },
    ],
    [{ op: 'test', path: '/obj', value: { k: 1, deep: { x: [1, 2] } } }],
    [{ op: 'replace', path: '', value: [1] }],
    [
      { op: 'replace', path: '', value: { a: { b: 1 } } },
      { op: 'add', path: '/a/c', value: 2 },
    ],
  ];

  it('json patch: the same result as a full copy, inputs untouched, untouched subtrees shared', () => {
    for (const raw of jsonCases) {
      const ops = freeze(structuredClone(raw));
      const d = doc();
      const want = applyJsonPatch(doc(), structuredClone(raw));
      const got = applyJsonPatch(d, ops, undefined, { share: true });
      expect(got, JSON.stringify(raw)).toEqual(want);
      expect(d).toEqual(doc());
      expect(ops).toEqual(raw);
      if (typeof got === 'object' && got !== null && !Array.isArray(got) && 'keep' in got) {
        expect((got as { keep: unknown }).keep).toBe(d.keep);
      }
    }
  });

  it('json patch: a failing operation leaves the frozen document as it was', () => {
    const d = doc();
    expect(() =>
      applyJsonPatch(
        d,
        freeze([
          { op: 'add', path: '/obj/deep/y', value: 1 },
          { op: 'test', path: '/obj/k', value: 2 },
        ]),
        undefined,
        { share: true },
      ),
    ).toThrow(InvalidSpecError);
    expect(d).toEqual(doc());
  });

  it('merge patch: the same result as a full copy, inputs untouched, untouched subtrees shared', () => {
    for (const patch of [{ obj: { k: 2 } }, { obj: { deep: null } }, { foo: ['x'] }, { added: { a: 1 } }, 'flat']) {
      const d = doc();
      const p = freeze(structuredClone(patch));
      const got = applyMergePatch(d, p, { share: true });
      expect(got, JSON.stringify(patch)).toEqual(applyMergePatch(doc(), structuredClone(patch)));
      expect(d).toEqual(doc());
      if (typeof got === 'object' && got !== null) expect((got as { keep: unknown }).keep).toBe(d.keep);
    }
  });
});
