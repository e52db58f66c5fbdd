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

function child(path: string, key: string | number): string {
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
  let bytes = 0;
  const onPath = new Set<object>();
  // The path is kept as a stack of keys and only turned into text when there is an error to report.
  const stack: (string | number)[] = [];
  const fail = (message: string, key?: string | number): never => {
    let p = path;
    for (const k of key === undefined ? stack : [...stack, key]) p = child(p, k);
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
        return Object.freeze(out);
      }
      default:
        return fail(`a ${typeof v} is not a JSON value`);
    }
  };
  return walk(value);
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
