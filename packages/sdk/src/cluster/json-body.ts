/**
 * Serialises what a caller hands the store. JSON.stringify would silently turn a Date into a string, NaN
 * into null and drop functions — a remote store must refuse those the way the in-process stores do, with
 * an InvalidSpecError naming the field, before anything is sent.
 */
import { type FieldCause, InvalidSpecError } from '@virtkit/engine';

function step(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** The first value JSON cannot carry faithfully, as a field cause; undefined when `value` is plain JSON. */
export function jsonProblem(value: unknown, root = ''): FieldCause | undefined {
  const onPath = new Set<object>();
  const bad = (path: string, message: string): FieldCause => ({
    field: path || '<root>',
    reason: 'FieldValueInvalid',
    message,
  });
  const walk = (v: unknown, path: string): FieldCause | undefined => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return undefined;
      case 'number':
        return Number.isFinite(v) ? undefined : bad(path, `${v} is not a JSON number`);
      case 'object': {
        if (v === null) return undefined;
        if (onPath.has(v)) return bad(path, 'circular reference');
        onPath.add(v);
        let found: FieldCause | undefined;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length && !found; i++) {
            found =
              v[i] === undefined ? bad(step(path, i), 'undefined is not a JSON value') : walk(v[i], step(path, i));
          }
        } else {
          const proto = Object.getPrototypeOf(v);
          if (proto !== Object.prototype && proto !== null) {
            const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
            found = bad(path, `a ${name} is not a JSON value; use a plain object or string`);
          } else {
            for (const key of Object.keys(v)) {
              const item = (v as Record<string, unknown>)[key];
              if (item === undefined) continue;
              found = walk(item, step(path, key));
              if (found) break;
            }
          }
        }
        onPath.delete(v);
        return found;
      }
      default:
        return bad(path, `a ${typeof v} is not a JSON value`);
    }
  };
  return walk(value, root);
}

/** Throws InvalidSpecError for a value JSON cannot carry; `kind`/`name` only word the message. */
export function assertJson(value: unknown, kind: string, name: string, root = ''): void {
  const p = jsonProblem(value, root);
  if (p) throw new InvalidSpecError(kind, name, [p]);
}
