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

/** How deep `toJsonValue` walks before it looks for cycles (see there). */
const CYCLE_DEPTH = 64;

/**
 * Validates that `value` is plain JSON data and returns a deep-frozen copy. Object properties whose value is
 * `undefined` are dropped (as JSON.stringify does); everything else JSON cannot represent faithfully — functions,
 * symbols, bigints, non-finite numbers, class instances such as Date or Map, `undefined` inside arrays, cycles —
 * throws `JsonShapeError` naming the path.
 */
export function toJsonValue(value: unknown, path = '', options: ToJsonOptions = {}): JsonValue {
  const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let bytes = options.startBytes ?? 0;
  const collect = options.collect;
  // The path is kept as a stack of keys and only turned into text when there is an error to report.
  const stack: (string | number)[] = [];
  const fail = (message: string, key?: string | number, keys: readonly (string | number)[] = stack): never => {
    let p = path;
    for (const k of key === undefined ? keys : [...keys, key]) p = jsonPath(p, k);
    throw new JsonShapeError(p || '<root>', message);
  };
  // The containers from the top to here: meeting one of them again is a cycle. Looking that up at every
  // container cost more than the rest of the walk, and a cycle matters only once the walk goes deep through
  // it: up to CYCLE_DEPTH containers deep nothing is looked up, then the path is checked once for its first
  // repeat (reported where a lookup at every container would have found it) and a set takes over. A size
  // error is checked the same way first: the walk may have gone round a cycle a few times before it.
  const within = options.within ? 1 : 0;
  const objs: object[] = options.within ? [options.within] : [];
  let deep: Set<object> | undefined;
  const failOnRepeat = (): void => {
    for (let k = 1; k < objs.length; k++) {
      for (let j = 0; j < k; j++) {
        if (objs[j] === objs[k]) fail('circular reference', undefined, stack.slice(0, k - within));
      }
    }
  };
  const tooLarge = (): never => {
    failOnRepeat();
    throw new JsonSizeError(bytes, limit);
  };
  const enter = (v: object): void => {
    if (deep) {
      if (deep.has(v)) fail('circular reference');
      deep.add(v);
    } else if (objs.length === CYCLE_DEPTH) {
      objs.push(v);
      failOnRepeat();
      objs.pop();
      deep = new Set(objs);
      deep.add(v);
    }
    objs.push(v);
  };
  const leave = (v: object): void => {
    objs.pop();
    if (deep) {
      deep.delete(v);
      if (objs.length < CYCLE_DEPTH) deep = undefined;
    }
  };

  const walk = (v: unknown): JsonValue => {
    switch (typeof v) {
      case 'string':
        bytes += v.length + 2;
        if (bytes > limit) tooLarge();
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
        const start = bytes;
        if (Array.isArray(v)) {
          enter(v);
          const out: JsonValue[] = new Array(v.length);
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (item === undefined) fail('undefined is not a JSON value', i);
            stack.push(i);
            out[i] = walk(item);
            stack.pop();
          }
          leave(v);
          bytes += 2 + v.length;
          if (bytes > limit) tooLarge();
          if (collect && stack.length <= collect.depth) collect.into.set(out, bytes - start);
          return Object.freeze(out) as JsonValue[];
        }
        if (deep?.has(v)) fail('circular reference');
        if (!isPlainObject(v)) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          fail(`a ${name} is not a JSON value; use a plain object or string`);
        }
        enter(v);
        const out: Record<string, JsonValue> = {};
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          const item = (v as Record<string, unknown>)[key];
          if (item === undefined) continue;
          bytes += key.length + 4;
          stack.push(key);
          if (key === '__proto__') setOwn(out, key, walk(item));
          else out[key] = walk(item);
          stack.pop();
        }
        leave(v);
        bytes += 2;
        if (bytes > limit) tooLarge();
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
  // Own enumerable keys, counted without building key arrays (this runs on every status compared).
  let na = 0;
  for (const key in a) {
    if (!Object.hasOwn(a, key)) continue;
    na++;
    if (!Object.hasOwn(b, key)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  let nb = 0;
  for (const key in b) if (Object.hasOwn(b, key)) nb++;
  return na === nb;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
