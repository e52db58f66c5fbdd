import { describe, expect, it } from 'vitest';
import { JsonShapeError, JsonSizeError, jsonSize, toJsonObjectReusing, toJsonValue } from '../../src/store/json.ts';

const big = () => ({ spec: { items: Array.from({ length: 40 }, (_, i) => ({ name: `item-${i}`, value: i })) } });

describe('toJsonValue', () => {
  it('counts a subtree it returned before towards maxBytes like a new one', () => {
    const sizeOf = (v: unknown) => {
      for (let limit = 1; ; limit++) {
        try {
          toJsonValue(v, '', { maxBytes: limit });
          return limit;
        } catch (e) {
          if (!(e instanceof JsonSizeError)) throw e;
        }
      }
    };
    const shared = (toJsonValue(big()) as { spec: unknown }).spec;
    expect(sizeOf({ a: shared, b: shared })).toBe(sizeOf({ a: big().spec, b: big().spec }));
    expect(() => toJsonValue({ a: shared, b: shared }, '', { maxBytes: sizeOf({ a: shared }) })).toThrow(JsonSizeError);
  });

  it('checks copies of a subtree it returned before afresh', () => {
    const spec = (toJsonValue(big()) as { spec: { items: unknown[] } }).spec;
    expect(() => toJsonValue({ spec: { ...spec, bad: [undefined] } })).toThrow(JsonShapeError);
    expect(() => toJsonValue({ spec: { ...spec, when: new Date(0) } })).toThrow(JsonShapeError);
  });
});

describe('toJsonObjectReusing', () => {
  const fresh = () => ({
    apiVersion: 'v1',
    metadata: { name: 'a', labels: { x: 'y' } },
    spec: big().spec,
    status: { phase: 'Running', list: [1, 'two', null, true, { deep: [] }] },
    gone: undefined,
  });
  const sizesOf = (v: object) => {
    const m = { bytes: 0 };
    toJsonValue(v, '', { measure: m });
    return m.bytes;
  };

  it('gives what toJsonValue gives, taking known members as they are, with every member size', () => {
    const stored = toJsonValue(fresh()) as Record<string, object>;
    const input = { ...fresh(), spec: stored.spec, status: stored.status };
    const known = new Map<object, number>([
      [stored.spec!, jsonSize(stored.spec)],
      [stored.status!, jsonSize(stored.status)],
    ]);
    const sizes = new Map<object, number>();
    const measure = { bytes: 0 };
    const out = toJsonObjectReusing(input, (n) => known.get(n), sizes, { measure }) as Record<string, unknown>;
    expect(out).toEqual(toJsonValue(input));
    expect(Object.isFrozen(out)).toBe(true);
    expect(out.spec).toBe(stored.spec);
    expect(out.metadata).not.toBe(input.metadata);
    expect(measure.bytes).toBe(sizesOf(input));
    for (const k of ['metadata', 'spec', 'status']) expect(sizes.get(out[k] as object)).toBe(jsonSize(out[k]));
  });

  it('throws TooLarge exactly when toJsonValue does', () => {
    const stored = toJsonValue(fresh()) as Record<string, object>;
    const input = { ...fresh(), spec: stored.spec };
    const exact = sizesOf(input);
    for (const maxBytes of [exact - 200, exact - 1, exact, exact + 1]) {
      const plain = () => toJsonValue(input, '', { maxBytes });
      const reusing = () =>
        toJsonObjectReusing(input, (n) => (n === stored.spec ? jsonSize(n) : undefined), new Map(), { maxBytes });
      if (maxBytes < exact) {
        expect(plain).toThrow(JsonSizeError);
        expect(reusing).toThrow(JsonSizeError);
      } else {
        expect(reusing()).toEqual(plain());
      }
    }
  });

  it('reports shape errors and cycles at the same path', () => {
    const shapeError = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as JsonShapeError).field;
      }
      return undefined;
    };
    const bad: Record<string, unknown> = { ...fresh(), status: { when: new Date(0) } };
    const cyclic: Record<string, unknown> = { ...fresh(), status: { back: {} } };
    (cyclic.status as { back: Record<string, unknown> }).back.root = cyclic;
    for (const input of [bad, cyclic, { ...fresh(), 'odd key': [undefined] }]) {
      const want = shapeError(() => toJsonValue(input));
      expect(want).toBeDefined();
      expect(shapeError(() => toJsonObjectReusing(input, () => undefined, new Map()))).toBe(want);
    }
  });
});

describe('toJsonValue cycle and size errors', () => {
  /** The rule, spelled out: a cycle is reported where the walk first meets a container already on its path. */
  function oracle(value: unknown, maxBytes = Number.POSITIVE_INFINITY): string {
    let bytes = 0;
    const onPath = new Set<object>();
    const keys: (string | number)[] = [];
    const at = () => keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        bytes += v.length + 2;
        if (bytes > maxBytes) throw new Error('size');
        return;
      }
      if (typeof v === 'number') {
        bytes += 8;
        return;
      }
      if (v === null || typeof v !== 'object') throw new Error('unexpected');
      if (onPath.has(v)) throw new Error(`cycle${at()}`);
      onPath.add(v);
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
      for (const [k, x] of entries) {
        if (!Array.isArray(v)) bytes += String(k).length + 4;
        keys.push(k);
        walk(x);
        keys.pop();
      }
      onPath.delete(v);
      bytes += Array.isArray(v) ? 2 + v.length : 2;
      if (bytes > maxBytes) throw new Error('size');
    };
    try {
      walk(value);
    } catch (e) {
      return (e as Error).message;
    }
    return 'ok';
  }
  const actual = (value: unknown, maxBytes?: number): string => {
    try {
      toJsonValue(value, '', maxBytes === undefined ? {} : { maxBytes });
      return 'ok';
    } catch (e) {
      if (e instanceof JsonSizeError) return 'size';
      const field = (e as JsonShapeError).field;
      if ((e as Error).message.endsWith('circular reference')) {
        return `cycle${field === '<root>' ? '' : `.${field}`.replace(/\.\[/g, '[')}`;
      }
      throw e;
    }
  };
  /** A chain `depth` objects deep (each with some filler), its last link pointing back `back` links up. */
  function chain(depth: number, back: number, filler = 1): Record<string, unknown> {
    const links: Record<string, unknown>[] = [];
    for (let i = 0; i < depth; i++) links.push({ pad: 'x'.repeat(filler), n: i });
    for (let i = 0; i + 1 < depth; i++) links[i]!.next = i % 3 === 2 ? [links[i + 1]] : links[i + 1];
    if (back > 0) links[depth - 1]!.next = links[depth - back];
    return links[0]!;
  }

  it('reports a cycle at the path where it first closes, shallow or deep', () => {
    for (const depth of [1, 2, 5, 40, 63, 64, 65, 66, 130, 200]) {
      for (const back of [0, 1, 2, depth > 3 ? depth - 1 : 1, depth]) {
        if (back > depth) continue;
        const v = chain(depth, back);
        expect(actual(v), `depth ${depth} back ${back}`).toBe(oracle(v));
      }
    }
  });

  it('reports the cycle, not the size, when the walk went round the cycle before the size ran out', () => {
    for (const depth of [3, 10, 50]) {
      for (const filler of [1, 50, 400]) {
        const v = chain(depth, 2, filler);
        for (const maxBytes of [100, 1_000, 10_000, 100_000]) {
          expect(actual(v, maxBytes), `depth ${depth} filler ${filler} max ${maxBytes}`).toBe(oracle(v, maxBytes));
        }
      }
    }
  });
});
