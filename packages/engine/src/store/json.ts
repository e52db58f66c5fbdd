/**
 * JSON-value helpers for the store. Stored objects are plain JSON trees, deep-frozen so the store can share
 * them between its index, its history and its watchers without copying; callers only ever get copies.
 */

/** A value the store can hold: what survives a JSON round trip unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Thrown by `toJsonValue` for a value JSON cannot represent; `field` is a dotted path to it. */
export class JsonShapeError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export interface ToJsonOptions {
  /** Rough upper bound on the serialized size in bytes; exceeding it throws `JsonSizeError`. */
  maxBytes?: number;
  /** Bytes already counted before this value (against `maxBytes`): the value is part of a larger one. */
  startBytes?: number;
  /** An object this value sits inside: a reference back to it is a cycle, as when walking from it. */
  within?: object;
  /** Receives the running total once the value is done (`startBytes` plus its size). */
  measure?: { bytes: number };
  /** Receives the size of every container down to `depth` (0: the value itself). */
  collect?: { depth: number; into: Map<object, number> };
}

/** Thrown by `toJsonValue` when the value exceeds `maxBytes`. */
export class JsonSizeError extends Error {
  readonly bytes: number;
  constructor(bytes: number, limit: number) {
    super(`object is larger than ${limit} bytes`);
    this.bytes = bytes;
  }
}

/** Writes `value` as an own property even for the key `__proto__`, which plain assignment would not. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The path of member `key` below `path`, as errors name fields (`spec.domain`, `items[0]`, `["a b"]`). */
export function jsonPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/**
 * Validates that `value` is plain JSON data and returns a deep-frozen copy. Object properties whose value is
 * `undefined` are dropped (as JSON.stringify does); everything else JSON cannot represent faithfully — functions,
 * symbols, bigints, non-finite numbers, class instances such as Date or Map, `undefined` inside arrays, cycles —
 * throws `JsonShapeError` naming the path.
 */
export function toJsonValue(value: unknown, path = '', options: ToJsonOptions = {}): JsonValue {
  const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let bytes = options.startBytes ?? 0;
  const onPath = new Set<object>();
  if (options.within) onPath.add(options.within);
  const collect = options.collect;
  // The path is kept as a stack of keys and only turned into text when there is an error to report.
  const stack: (string | number)[] = [];
  const fail = (message: string, key?: string | number): never => {
    let p = path;
    for (const k of key === undefined ? stack : [...stack, key]) p = jsonPath(p, k);
    throw new JsonShapeError(p || '<root>', message);
  };

  const walk = (v: unknown): JsonValue => {
    switch (typeof v) {
      case 'string':
        bytes += v.length + 2;
        if (bytes > limit) throw new JsonSizeError(bytes, limit);
        return v;
      case 'boolean':
        bytes += 5;
        return v;
      case 'number':
        if (!Number.isFinite(v)) fail(`${v} is not a JSON number`);
        bytes += 8;
        return Object.is(v, -0) ? 0 : v;
      case 'object': {
        if (v === null) {
          bytes += 4;
          return null;
        }
        if (onPath.has(v)) fail('circular reference');
        const start = bytes;
        if (Array.isArray(v)) {
          onPath.add(v);
          const out: JsonValue[] = new Array(v.length);
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (item === undefined) fail('undefined is not a JSON value', i);
            stack.push(i);
            out[i] = walk(item);
            stack.pop();
          }
          onPath.delete(v);
          bytes += 2 + v.length;
          if (bytes > limit) throw new JsonSizeError(bytes, limit);
          if (collect && stack.length <= collect.depth) collect.into.set(out, bytes - start);
          return Object.freeze(out) as JsonValue[];
        }
        if (!isPlainObject(v)) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          fail(`a ${name} is not a JSON value; use a plain object or string`);
        }
        onPath.add(v);
        const out: Record<string, JsonValue> = {};
        for (const key of Object.keys(v)) {
          const item = (v as Record<string, unknown>)[key];
          if (item === undefined) continue;
          bytes += key.length + 4;
          stack.push(key);
          if (key === '__proto__') setOwn(out, key, walk(item));
          else out[key] = walk(item);
          stack.pop();
        }
        onPath.delete(v);
        bytes += 2;
        if (bytes > limit) throw new JsonSizeError(bytes, limit);
        if (collect && stack.length <= collect.depth) collect.into.set(out, bytes - start);
        return Object.freeze(out);
      }
      default:
        return fail(`a ${typeof v} is not a JSON value`);
    }
  };
  const result = walk(value);
  if (options.measure) options.measure.bytes = bytes;
  return result;
}

/**
 * `toJsonValue` for a plain object some of whose members are subtrees validated before (frozen, so
 * unchanged since): those `known` gives a size for are taken as they are, the others are walked. The
 * result, errors and size accounting are the same as walking it all; `sizes` receives every member's.
 */
export function toJsonObjectReusing(
  value: object,
  known: (node: object) => number | undefined,
  sizes: Map<object, number>,
  options: ToJsonOptions = {},
): JsonValue {
  if (!isPlainObject(value) || Array.isArray(value))
    return toJsonValue(value, '', { ...options, collect: { depth: 1, into: sizes } });
  const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const out: Record<string, JsonValue> = {};
  const measure = { bytes: 0 };
  let bytes = 0;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    bytes += key.length + 4;
    const size = typeof item === 'object' && item !== null ? known(item) : undefined;
    let v: JsonValue;
    if (size !== undefined) {
      bytes += size;
      if (bytes > limit) throw new JsonSizeError(bytes, limit);
      v = item as JsonValue;
      sizes.set(item as object, size);
    } else {
      v = toJsonValue(item, jsonPath('', key), {
        maxBytes: limit,
        startBytes: bytes,
        within: value,
        measure,
        collect: { depth: 0, into: sizes },
      });
      bytes = measure.bytes;
    }
    setOwn(out, key, v);
  }
  bytes += 2;
  if (bytes > limit) throw new JsonSizeError(bytes, limit);
  if (options.measure) options.measure.bytes = bytes;
  return Object.freeze(out);
}

/** The size `toJsonValue` counts for a value it returned (no checks: it is valid JSON). */
export function jsonSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'boolean':
      return 5;
    case 'number':
      return 8;
    case 'object': {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 2 + value.length;
        for (const item of value) n += jsonSize(item);
        return n;
      }
      let n = 2;
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key];
        if (item !== undefined) n += key.length + 4 + jsonSize(item);
      }
      return n;
    }
    default:
      return 0;
  }
}

/** Deep copy of a JSON tree; the copy is mutable and shares nothing with the original. */
export function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (key === '__proto__') setOwn(out, key, cloneJson(item));
    else out[key] = cloneJson(item);
  }
  return out as T;
}

/** Freezes a JSON tree in place, skipping subtrees that are already frozen (those came from `toJsonValue`). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
  } else {
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return Object.freeze(value);
}

/** Structural equality of two JSON trees (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const key of ka) {
    if (!Object.hasOwn(b, key)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
