/**
 * A bound on how deeply objects and arrays may nest in a resource. Real manifests nest about 15 levels; a
 * hostile one can nest hundreds of thousands (3 MiB of `[`), which JSON.parse takes but every recursive
 * walk after it — structuredClone in defaulting, JSON.stringify, the YAML writer — does not: they throw
 * RangeError (stack overflow) somewhere between 800 and 10,000 levels. Checking the bound first, without
 * recursion, turns such input into a clear error instead of a crash deep inside a request.
 */

/** Deepest nesting of objects and arrays accepted in a resource; the resource itself is level 1. */
export const MAX_OBJECT_DEPTH = 100;

/**
 * The path (`spec.x.a[0]`) of the first object or array nested deeper than `max` levels in `value`, or
 * undefined when there is none. Iterative, so it is safe on input of any depth.
 */
export function tooDeepPath(value: unknown, max = MAX_OBJECT_DEPTH): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  interface Frame {
    value: object;
    depth: number;
    parent: Frame | undefined;
    step: string;
  }
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, step: '' }];
  for (let f = stack.pop(); f !== undefined; f = stack.pop()) {
    if (f.depth > max) return pathOf(f);
    if (Array.isArray(f.value)) {
      f.value.forEach((v, i) => {
        if (v !== null && typeof v === 'object')
          stack.push({ value: v, depth: f.depth + 1, parent: f, step: `[${i}]` });
      });
    } else {
      for (const [k, v] of Object.entries(f.value))
        if (v !== null && typeof v === 'object') stack.push({ value: v, depth: f.depth + 1, parent: f, step: k });
    }
  }
  return undefined;
}

function pathOf(frame: { parent: unknown; step: string }): string {
  const steps: string[] = [];
  for (let f = frame as { parent: unknown; step: string } | undefined; f?.parent; f = f.parent as typeof f)
    steps.push(f.step);
  return steps.reverse().reduce((p, s) => (s.startsWith('[') || p === '' ? `${p}${s}` : `${p}.${s}`), '');
}

/** The message for a cause or error about `path` (from `tooDeepPath`). */
export function tooDeepMessage(max = MAX_OBJECT_DEPTH): string {
  return `nested more than ${max} levels deep (objects and arrays); flatten it`;
}
