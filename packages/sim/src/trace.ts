/**
 * The simulator's trace: every driver call and its outcome, every event a node emits and every fault,
 * in the order they happened, with virtual timestamps. `toText()` is stable (no wall time, no object
 * identity), so two runs with the same seed and scenario can be compared byte for byte.
 */

export type TraceKind = 'call' | 'ok' | 'err' | 'event' | 'dropped' | 'fault' | 'state';

export interface TraceEntry {
  /** Clock time, ms since epoch. */
  at: number;
  node: string;
  kind: TraceKind;
  text: string;
}

export interface TraceOptions {
  /** Record nothing (large benchmarks). Default true. */
  enabled?: boolean;
  /** Keep console lines out of the trace. Default false (they are recorded). */
  omitConsole?: boolean;
}

export class Trace {
  readonly origin: number;
  enabled: boolean;
  readonly omitConsole: boolean;
  readonly #entries: TraceEntry[] = [];

  constructor(origin: number, options: TraceOptions = {}) {
    this.origin = origin;
    this.enabled = options.enabled ?? true;
    this.omitConsole = options.omitConsole ?? false;
  }

  record(at: number, node: string, kind: TraceKind, text: string): void {
    if (this.enabled) this.#entries.push({ at, node, kind, text });
  }

  get entries(): readonly TraceEntry[] {
    return this.#entries;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** One line per entry: `+<seconds>.<ms> <node> <kind> <text>`, time relative to the trace origin. */
  toText(filter?: (e: TraceEntry) => boolean): string {
    let out = '';
    for (const e of this.#entries) {
      if (filter && !filter(e)) continue;
      out += `${formatOffset(e.at - this.origin)} ${e.node} ${e.kind} ${e.text}\n`;
    }
    return out;
  }

  clear(): void {
    this.#entries.length = 0;
  }
}

/** `+12.345` for 12 345 ms; fractions of a millisecond are shown to the microsecond. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  const whole = Math.floor(abs);
  const s = Math.floor(whole / 1000);
  const rest = String(whole % 1000).padStart(3, '0');
  const frac = abs - whole;
  const micro = frac > 0 ? `.${String(Math.round(frac * 1000)).padStart(3, '0')}` : '';
  return `${sign}${s}.${rest}${micro}`;
}
