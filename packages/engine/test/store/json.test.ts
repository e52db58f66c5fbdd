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
