/**
 * Patch formats the store accepts: JSON merge patch (RFC 7386) and JSON patch (RFC 6902). Both work on JSON
 * trees and never modify their input. Malformed patches throw `RequestError` ('BadRequest'); a well-formed
 * JSON patch that cannot apply (missing path, failed `test`) throws `InvalidSpecError` naming the path.
 */
import { InvalidSpecError, RequestError } from '../errors.ts';
import { cloneJson, isJsonObject, jsonEqual, setOwn } from './json.ts';

/** Which object a patch applies to, for error messages. */
export interface PatchTarget {
  kind: string;
  name: string;
}

const ANON: PatchTarget = { kind: 'object', name: '' };

export interface ApplyPatchOptions {
  /**
   * The result may share the subtrees a patch leaves alone with the document, and values with the patch:
   * for inputs nobody modifies (the store's frozen objects), so a patch costs what it changes. Default: the
   * result is a fresh copy throughout.
   */
  share?: boolean;
}

/**
 * RFC 7386: objects merge key by key, `null` deletes a key, anything else (arrays included) replaces.
 * Returns a new tree; `target` is not modified.
 */
export function applyMergePatch(target: unknown, patch: unknown, options: ApplyPatchOptions = {}): unknown {
  const share = options.share === true;
  if (!isJsonObject(patch)) return share ? patch : cloneJson(patch);
  const out: Record<string, unknown> = isJsonObject(target) ? (share ? { ...target } : cloneJson(target)) : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) delete out[key];
    else if (value !== undefined)
      setOwn(out, key, applyMergePatch(Object.hasOwn(out, key) ? out[key] : undefined, value, options));
  }
  return out;
}

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

/** Splits an RFC 6901 JSON pointer into unescaped reference tokens; `undefined` when malformed. */
export function parseJsonPointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  const tokens: string[] = [];
  for (const raw of pointer.slice(1).split('/')) {
    // Most tokens have no escapes at all.
    if (!raw.includes('~')) {
      tokens.push(raw);
      continue;
    }
    if (/~[^01]|~$/.test(raw)) return undefined;
    tokens.push(raw.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return tokens;
}

const MISSING = Symbol('missing');

function arrayIndex(token: string, length: number, allowEnd: boolean): number | undefined {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
  const i = Number(token);
  return i < length || (allowEnd && i === length) ? i : undefined;
}

function getAt(doc: unknown, tokens: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(t, cur.length, false);
      if (i === undefined) return MISSING;
      cur = cur[i];
    } else if (isJsonObject(cur)) {
      if (!Object.hasOwn(cur, t)) return MISSING;
      cur = cur[t];
    } else {
      return MISSING;
    }
  }
  return cur;
}

/**
 * RFC 6902: applies operations in order to a copy of `doc`; all or nothing. A failing `test` throws
 * `InvalidSpecError` whose cause's field is the tested path.
 */
export function applyJsonPatch(
  doc: unknown,
  operations: unknown,
  target: PatchTarget = ANON,
  options: ApplyPatchOptions = {},
): unknown {
  if (!Array.isArray(operations)) {
    throw new RequestError('BadRequest', 'json patch must be an array of operations');
  }
  const share = options.share === true;
  let root: unknown = share ? doc : cloneJson(doc);
  /** Containers this call made (when sharing): only these may be modified in place. */
  const owned = new Set<unknown>();
  const own = <T>(c: T): T => {
    if (owned.has(c)) return c;
    const copy = (Array.isArray(c) ? c.slice() : { ...c }) as T;
    owned.add(copy);
    return copy;
  };
  /** The value at `tokens` for modifying it in place: when sharing, the containers on the way are copied first. */
  const writable = (tokens: readonly string[]): unknown => {
    if (!share) return getAt(root, tokens);
    if (typeof root !== 'object' || root === null) return tokens.length === 0 ? root : MISSING;
    root = own(root);
    let cur = root as Record<string, unknown> | unknown[];
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k]!;
      let key: string | number;
      if (Array.isArray(cur)) {
        const i = arrayIndex(t, cur.length, false);
        if (i === undefined) return MISSING;
        key = i;
      } else {
        if (!Object.hasOwn(cur, t)) return MISSING;
        key = t;
      }
      const child = (cur as Record<string | number, unknown>)[key];
      if (typeof child !== 'object' || child === null) return k === tokens.length - 1 ? child : MISSING;
      const mine = own(child);
      if (mine !== child) {
        if (Array.isArray(cur)) cur[key as number] = mine;
        else setOwn(cur, key as string, mine);
      }
      cur = mine as Record<string, unknown> | unknown[];
    }
    return cur;
  };

  const bad = (i: number, message: string) => new RequestError('BadRequest', `json patch operation ${i}: ${message}`);
  const unapplicable = (i: number, op: string, path: string, message: string) =>
    new InvalidSpecError(target.kind, target.name, [
      { field: path, reason: 'FieldValueInvalid', message: `json patch operation ${i} (${op}): ${message}` },
    ]);

  const pointer = (i: number, op: Record<string, unknown>, member: 'path' | 'from'): string[] => {
    const p = op[member];
    if (typeof p !== 'string') throw bad(i, `"${member}" must be a string`);
    const tokens = parseJsonPointer(p);
    if (!tokens) throw bad(i, `"${member}" ${JSON.stringify(p)} is not a valid JSON pointer`);
    return tokens;
  };

  const add = (i: number, opName: string, path: string, tokens: string[], value: unknown) => {
    if (tokens.length === 0) {
      root = value;
      return;
    }
    const parent = writable(tokens.slice(0, -1));
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const idx = arrayIndex(last, parent.length, true);
      if (idx === undefined) throw unapplicable(i, opName, path, `array index "${last}" is out of bounds`);
      parent.splice(idx, 0, value);
    } else if (isJsonObject(parent)) {
      setOwn(parent, last, value);
    } else {
      throw unapplicable(i, opName, path, 'the parent of the target location does not exist');
    }
  };

  const remove = (i: number, opName: string, path: string, tokens: string[]): unknown => {
    if (tokens.length === 0) throw unapplicable(i, opName, path, 'cannot remove the whole document');
    const parent = writable(tokens.slice(0, -1));
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const idx = arrayIndex(last, parent.length, false);
      if (idx === undefined) throw unapplicable(i, opName, path, `array index "${last}" does not exist`);
      return parent.splice(idx, 1)[0];
    }
    if (isJsonObject(parent) && Object.hasOwn(parent, last)) {
      const old = parent[last];
      delete parent[last];
      return old;
    }
    throw unapplicable(i, opName, path, 'the target location does not exist');
  };

  operations.forEach((raw: unknown, i) => {
    if (!isJsonObject(raw)) throw bad(i, 'must be an object');
    const op = raw.op;
    const path = typeof raw.path === 'string' ? raw.path : '';
    switch (op) {
      case 'add':
      case 'replace':
      case 'test': {
        const tokens = pointer(i, raw, 'path');
        if (!Object.hasOwn(raw, 'value') || raw.value === undefined) throw bad(i, `"${op}" needs a "value"`);
        const value = share ? raw.value : cloneJson(raw.value);
        if (op === 'add') add(i, op, path, tokens, value);
        else if (op === 'replace') {
          if (getAt(root, tokens) === MISSING) throw unapplicable(i, op, path, 'the target location does not exist');
          if (tokens.length === 0) root = value;
          else {
            remove(i, op, path, tokens);
            add(i, op, path, tokens, value);
          }
        } else {
          const actual = getAt(root, tokens);
          if (actual === MISSING) throw unapplicable(i, op, path, 'test failed: the location does not exist');
          if (!jsonEqual(actual, value)) {
            throw unapplicable(
              i,
              op,
              path,
              `test failed: expected ${JSON.stringify(value)}, found ${JSON.stringify(actual)}`,
            );
          }
        }
        break;
      }
      case 'remove':
        remove(i, op, path, pointer(i, raw, 'path'));
        break;
      case 'move':
      case 'copy': {
        const from = pointer(i, raw, 'from');
        const to = pointer(i, raw, 'path');
        const value = getAt(root, from);
        if (value === MISSING) throw unapplicable(i, op, String(raw.from), 'the "from" location does not exist');
        if (op === 'move') {
          const isPrefix = from.length < to.length && from.every((t, k) => to[k] === t);
          if (isPrefix) throw bad(i, 'cannot move a value into one of its own children');
          if (from.length === to.length && from.every((t, k) => to[k] === t)) break;
          remove(i, op, String(raw.from), from);
          add(i, op, path, to, value);
        } else {
          add(i, op, path, to, cloneJson(value));
        }
        break;
      }
      default:
        throw bad(i, `unknown op ${JSON.stringify(op)}; expected add, remove, replace, move, copy or test`);
    }
  });
  return root;
}
