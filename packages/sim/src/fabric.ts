/**
 * The simulated cluster's shared world: one clock, one root seed, one trace and fault log, the nodes
 * (so a migration can find its target) and the network between them and the control plane (so a
 * partition can be modelled). It is also the `NodeDriverRegistry` the engine uses to find nodes.
 */
import type { Clock, NodeDriverRegistry } from '@virtkit/engine';
import { describeFault, type FaultRecord, type NodeFault } from './faults.ts';
import { Rng, type Seed } from './rng.ts';
import type { SimNode } from './sim-node.ts';
import { Trace, type TraceOptions } from './trace.ts';

/** The control plane's name on the simulated network. */
export const CONTROL_PLANE = 'control-plane';

export interface SimFabricOptions {
  clock: Clock;
  /** Root seed of all randomness (default 1). Ignored when `rng` is given. */
  seed?: Seed;
  rng?: Rng;
  trace?: TraceOptions;
}

export class SimFabric implements NodeDriverRegistry {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly faultLog: FaultRecord[] = [];
  readonly #nodes = new Map<string, SimNode>();
  /** Unordered pairs `a\u0000b` (a < b) that cannot reach each other. */
  readonly #cuts = new Set<string>();

  constructor(options: SimFabricOptions) {
    this.clock = options.clock;
    this.rng = options.rng ?? Rng.from(options.seed ?? 1);
    this.trace = new Trace(options.clock.now(), options.trace);
  }

  /** Called by SimNode's constructor. */
  add(node: SimNode): void {
    if (node.nodeName === CONTROL_PLANE) throw new TypeError(`"${CONTROL_PLANE}" is reserved`);
    if (this.#nodes.has(node.nodeName)) throw new TypeError(`a node named "${node.nodeName}" already exists`);
    this.#nodes.set(node.nodeName, node);
  }

  remove(name: string): void {
    this.#nodes.delete(name);
  }

  get(nodeName: string): SimNode | undefined {
    return this.#nodes.get(nodeName);
  }

  list(): SimNode[] {
    return [...this.#nodes.values()];
  }

  /** Drops traffic between `a` and `b` (default: the control plane) both ways. */
  partition(a: string, b: string = CONTROL_PLANE): void {
    const key = pairKey(a, b);
    if (this.#cuts.has(key)) return;
    this.#cuts.add(key);
    this.#log(a, { kind: 'partition', peer: b });
    this.#notify(a, b);
  }

  heal(a: string, b: string = CONTROL_PLANE): void {
    const key = pairKey(a, b);
    if (!this.#cuts.delete(key)) return;
    this.#log(a, { kind: 'heal', peer: b });
    this.#notify(a, b);
  }

  healAll(): void {
    for (const key of [...this.#cuts]) {
      const [a, b] = key.split('\u0000') as [string, string];
      this.heal(a, b);
    }
  }

  canReach(a: string, b: string): boolean {
    return this.#cuts.size === 0 || !this.#cuts.has(pairKey(a, b));
  }

  /** Records a fault in the fault log and the trace. */
  recordFault(node: string, fault: NodeFault): void {
    this.#log(node, fault);
  }

  /** The fault log as stable text. */
  faultText(): string {
    return this.faultLog.map((f) => `${f.at - this.trace.origin} ${f.node} ${describeFault(f.fault)}\n`).join('');
  }

  #log(node: string, fault: NodeFault): void {
    const at = this.clock.now();
    this.faultLog.push({ at, node, fault });
    this.trace.record(at, node, 'fault', describeFault(fault));
  }

  #notify(a: string, b: string): void {
    this.#nodes.get(a)?.networkChanged();
    this.#nodes.get(b)?.networkChanged();
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}
