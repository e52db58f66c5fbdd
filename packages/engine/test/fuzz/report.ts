/** Describing a failing specimen so a failure names its counterexample (without printing megabytes). */
import type { Json, Specimen } from './specs.ts';

/** JSON with long strings, long arrays and deep nesting cut, for failure messages. */
export function preview(value: unknown, maxChars = 1500): string {
  const cut = (v: unknown, depth: number): Json => {
    if (typeof v === 'string') return v.length > 120 ? `${v.slice(0, 100)}…(${v.length} chars)` : v;
    if (v === null || typeof v !== 'object') return v as Json;
    if (depth > 12) return '…(deeper)';
    if (Array.isArray(v)) {
      const head = v.slice(0, 8).map((x) => cut(x, depth + 1));
      return v.length > 8 ? [...head, `…(${v.length} items)`] : head;
    }
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) out[k.length > 80 ? `${k.slice(0, 60)}…` : k] = cut(x, depth + 1);
    return out;
  };
  const s = JSON.stringify(cut(value, 0));
  return s.length > maxChars ? `${s.slice(0, maxChars)}…` : s;
}

export function describeSpecimen(s: Specimen, index: number, seed: number): string {
  return (
    `specimen #${index} of seed ${seed} (${s.family}/${s.mutation}, ${s.kind}` +
    `${s.expectField === undefined ? '' : `, must name ${s.expectField}`}` +
    `${s.unknown ? `, unknown field ${s.unknown.path}` : ''}): ${preview(s.obj)}`
  );
}

/** Counts by key, printed as one sorted line. */
export class Tally {
  readonly #counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + n);
  }
  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
  toString(): string {
    return [...this.#counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
  }
}
