import { describe, expect, it } from 'vitest';
import { JsonShapeError, JsonSizeError, toJsonValue } from '../../src/store/json.ts';

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
