/**
 * Placement of VMIs on nodes. Nodes live in a struct-of-arrays index (typed arrays for capacity and usage)
 * so one placement is a single tight pass over the nodes; usage is accounted incrementally by allocation
 * key (assign/release), never recomputed from the VMI list. The rules are the Kubernetes scheduler's:
 * readiness, cordon, taints/tolerations, nodeSelector and required node affinity, then CPU, memory and
 * VM-count fit; scoring is least-allocated (spread) or most-allocated (binpack) plus preferred affinity.
 */
import { UnschedulableError } from '../errors.ts';
import type { Taint } from '../resources/core.ts';
import type { Affinity, Toleration } from '../resources/kubevirt.ts';
import {
  firstUntoleratedTaint,
  type Labels,
  matchesNodeSelector,
  matchesRequiredAffinity,
  preferredAffinityScore,
  untoleratedPreferNoSchedule,
} from './predicates.ts';

export type SchedulingPolicy = 'spread' | 'binpack';

export interface NodeResources {
  cpuMillis: number;
  memoryBytes: number;
  /** How many VMs (domains) the node may hold. */
  vms: number;
}

/** What the scheduler needs to know about a node. */
export interface SchedulerNode {
  name: string;
  labels: Labels;
  taints: readonly Taint[];
  /** `spec.unschedulable` (cordoned). */
  unschedulable: boolean;
  /** Ready condition is True. */
  ready: boolean;
  allocatable: NodeResources;
}

export interface PlacementRequest {
  cpuMillis: number;
  memoryBytes: number;
  nodeSelector?: Labels | undefined;
  affinity?: Affinity | undefined;
  tolerations?: readonly Toleration[] | undefined;
  /** Nodes that must not be chosen (a migration's source). */
  excludeNodes?: readonly string[] | undefined;
}

export type PlacementResult =
  | { ok: true; node: string; score: number }
  | {
      ok: false;
      /** Kubernetes-style: `0/4 nodes are available: 1 node(s) had untolerated taint {k: v}, 3 Insufficient memory.` */
      message: string;
      /** Reason → number of nodes that failed for it. */
      reasons: Record<string, number>;
    };

export interface SchedulerOptions {
  policy?: SchedulingPolicy;
  /** How equal scores are broken: by node name (default) or with the seeded `random`. */
  tieBreak?: 'name' | 'random';
  /** Seeded RNG in [0, 1); required for tieBreak 'random'. */
  random?: () => number;
}

export const REASON_NOT_READY = 'node(s) were not ready';
export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const REASON_EXCLUDED = "node(s) didn't match pod anti-affinity rules";
export const REASON_CPU = 'Insufficient cpu';
export const REASON_MEMORY = 'Insufficient memory';
export const REASON_VMS = 'Too many pods';
export const taintReason = (t: Taint): string => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;

const F_FREE = 1;
const F_NOT_READY = 2;
const F_UNSCHEDULABLE = 4;
const F_TAINTED = 8;
const SKIP = F_FREE | F_NOT_READY | F_UNSCHEDULABLE;

interface Usage {
  cpuMillis: number;
  memoryBytes: number;
  vms: number;
}

interface Allocation {
  node: string;
  cpuMillis: number;
  memoryBytes: number;
}

export type CapacityListener = () => void;

/** Label views kept at most (each costs upkeep on every usage change of its nodes). */
const MAX_VIEWS = 64;

interface View {
  key: string;
  value: string;
  orders: Map<Group, number[]>;
}

function viewOrder(v: View, g: Group): number[] {
  let o = v.orders.get(g);
  if (!o) {
    o = [];
    v.orders.set(g, o);
  }
  return o;
}

/** Removes slot `i` from `order`, at `at` when that is where it is, else wherever it is. */
function removeFrom(order: number[], i: number, at: number): void {
  const k = at >= 0 && order[at] === i ? at : order.indexOf(i);
  if (k >= 0) order.splice(k, 1);
}

interface Group {
  /** Nodes with PreferNoSchedule taints: their order depends on the request's tolerations. */
  linear: boolean;
  /** Slots, by (sort key, name) unless linear. */
  order: number[];
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

export class Scheduler {
  readonly policy: SchedulingPolicy;
  readonly #tieBreak: 'name' | 'random';
  readonly #random: (() => number) | undefined;

  #cap = 0;
  #len = 0;
  #flags = new Uint8Array(0);
  #allocCpu = new Float64Array(0);
  #allocMem = new Float64Array(0);
  #allocVms = new Float64Array(0);
  #usedCpu = new Float64Array(0);
  #usedMem = new Float64Array(0);
  #usedVms = new Float64Array(0);
  #names: string[] = [];
  #labels: Labels[] = [];
  #taints: (readonly Taint[])[] = [];
  #slots = new Map<string, number>();
  #rank = new Int32Array(0);
  #rankDirty = true;
  #freeSlots: number[] = [];
  /**
   * Nodes of one shape (same allocatable, no PreferNoSchedule taints) rank the same way for every request:
   * by how full they are. Each group keeps its nodes in score order, so a placement looks at the first
   * feasible node of each group instead of every node.
   */
  #groups = new Map<string, Group>();
  #groupOf: (Group | undefined)[] = [];
  /** Sort key per slot: fraction used (cpu + memory), negated for binpack so both sort ascending. */
  #key = new Float64Array(0);
  #views = new Map<string, View>();

  #allocations = new Map<string, Allocation>();
  /** Usage charged to nodes the index does not (yet, or any more) hold. */
  #orphanUsage = new Map<string, Usage>();
  #listeners = new Set<CapacityListener>();

  constructor(options: SchedulerOptions = {}) {
    this.policy = options.policy ?? 'spread';
    this.#tieBreak = options.tieBreak ?? 'name';
    this.#random = options.random;
    if (this.#tieBreak === 'random' && !this.#random) throw new TypeError("tieBreak 'random' needs a seeded random");
  }

  get nodeCount(): number {
    return this.#slots.size;
  }

  hasNode(name: string): boolean {
    return this.#slots.has(name);
  }

  /** Adds or replaces a node. Usage already assigned to it (also before it existed) is kept. */
  upsertNode(node: SchedulerNode): void {
    this.#changed();
    let slot = this.#slots.get(node.name);
    const fresh = slot === undefined;
    let loosened = fresh;
    // Out of the index while its old labels and shape still say where it is.
    if (slot !== undefined) this.#ungroup(slot);
    if (slot === undefined) {
      slot = this.#freeSlots.pop() ?? this.#grow();
      this.#slots.set(node.name, slot);
      this.#rankDirty = true;
      this.#names[slot] = node.name;
      const orphan = this.#orphanUsage.get(node.name);
      this.#orphanUsage.delete(node.name);
      this.#usedCpu[slot] = orphan?.cpuMillis ?? 0;
      this.#usedMem[slot] = orphan?.memoryBytes ?? 0;
      this.#usedVms[slot] = orphan?.vms ?? 0;
    } else {
      const old = this.#flags[slot]!;
      // Anything that could let a waiting VMI fit now counts as loosening.
      loosened =
        (old & F_NOT_READY && node.ready) ||
        (old & F_UNSCHEDULABLE && !node.unschedulable) ||
        this.#taints[slot]!.length > node.taints.length ||
        !sameLabels(this.#labels[slot]!, node.labels) ||
        node.allocatable.cpuMillis > this.#allocCpu[slot]! ||
        node.allocatable.memoryBytes > this.#allocMem[slot]! ||
        node.allocatable.vms > this.#allocVms[slot]!;
    }
    let flags = 0;
    if (!node.ready) flags |= F_NOT_READY;
    if (node.unschedulable) flags |= F_UNSCHEDULABLE;
    if (node.taints.length > 0) flags |= F_TAINTED;
    this.#flags[slot] = flags;
    this.#labels[slot] = node.labels;
    this.#taints[slot] = node.taints;
    this.#allocCpu[slot] = node.allocatable.cpuMillis;
    this.#allocMem[slot] = node.allocatable.memoryBytes;
    this.#allocVms[slot] = node.allocatable.vms;
    this.#group(slot);
    if (loosened) this.#notify();
  }

  removeNode(name: string): void {
    this.#changed();
    const slot = this.#slots.get(name);
    if (slot === undefined) return;
    const used = { cpuMillis: this.#usedCpu[slot]!, memoryBytes: this.#usedMem[slot]!, vms: this.#usedVms[slot]! };
    if (used.cpuMillis || used.memoryBytes || used.vms) this.#orphanUsage.set(name, used);
    this.#ungroup(slot);
    this.#slots.delete(name);
    this.#rankDirty = true;
    this.#flags[slot] = F_FREE;
    this.#labels[slot] = {};
    this.#taints[slot] = [];
    this.#freeSlots.push(slot);
  }

  /** Charges `key`'s resources to `node`; re-assigning moves them, re-assigning identically is a no-op. */
  assign(key: string, node: string, cpuMillis: number, memoryBytes: number): void {
    const prev = this.#allocations.get(key);
    if (prev && prev.node === node && prev.cpuMillis === cpuMillis && prev.memoryBytes === memoryBytes) return;
    if (prev) this.#charge(prev.node, -prev.cpuMillis, -prev.memoryBytes, -1);
    this.#allocations.set(key, { node, cpuMillis, memoryBytes });
    this.#charge(node, cpuMillis, memoryBytes, 1);
    if (prev) this.#notify();
  }

  /** Frees what `key` holds; true when it held something. */
  release(key: string): boolean {
    const prev = this.#allocations.get(key);
    if (!prev) return false;
    this.#allocations.delete(key);
    this.#charge(prev.node, -prev.cpuMillis, -prev.memoryBytes, -1);
    this.#notify();
    return true;
  }

  allocationOf(key: string): Readonly<Allocation> | undefined {
    return this.#allocations.get(key);
  }

  /** What is charged to a node now. */
  usage(name: string): NodeResources {
    const slot = this.#slots.get(name);
    if (slot === undefined) {
      const o = this.#orphanUsage.get(name);
      return { cpuMillis: o?.cpuMillis ?? 0, memoryBytes: o?.memoryBytes ?? 0, vms: o?.vms ?? 0 };
    }
    return { cpuMillis: this.#usedCpu[slot]!, memoryBytes: this.#usedMem[slot]!, vms: this.#usedVms[slot]! };
  }

  /** Called whenever capacity may have appeared (node added/readied/uncordoned, usage released). */
  onCapacity(listener: CapacityListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Picks the best node, or explains why none fits. Does not charge anything: call `assign` to commit. */
  schedule(req: PlacementRequest): PlacementResult {
    // Many waiting VMIs ask the same thing (replicas): until something changes, the answer is the same.
    if (this.#failures.size > 0) {
      const known = this.#failures.get(JSON.stringify(req));
      if (known) return known;
    }
    const best = this.#best(req);
    if (best >= 0) return { ok: true, node: this.#names[best]!, score: this.#lastScore };
    const failure = this.#explain(req);
    this.#failures.set(JSON.stringify(req), failure);
    return failure;
  }

  /** Failed placements by request, valid until the nodes or their usage change. */
  #failures = new Map<string, PlacementResult>();

  #changed(): void {
    if (this.#failures.size > 0) this.#failures.clear();
  }

  /** Like `schedule`, but throws UnschedulableError with the Kubernetes-style message. */
  scheduleOrThrow(req: PlacementRequest): string {
    const r = this.schedule(req);
    if (!r.ok) throw new UnschedulableError(r.message);
    return r.node;
  }

  #lastScore = 0;

  #best(req: PlacementRequest): number {
    const preferred = !!req.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length;
    // Preferred affinity and random tie-breaking change the order per request: score every node.
    if (preferred || this.#tieBreak === 'random') return this.#scan(req);
    return this.#indexed(req);
  }

  #scan(req: PlacementRequest): number {
    const flags = this.#flags;
    const allocCpu = this.#allocCpu;
    const allocMem = this.#allocMem;
    const allocVms = this.#allocVms;
    const usedCpu = this.#usedCpu;
    const usedMem = this.#usedMem;
    const usedVms = this.#usedVms;
    const labelsOf = this.#labels;
    const taintsOf = this.#taints;
    const names = this.#names;
    const rank = this.#ranks();
    const rc = req.cpuMillis;
    const rm = req.memoryBytes;
    const selector = req.nodeSelector && Object.keys(req.nodeSelector).length > 0 ? req.nodeSelector : undefined;
    const affinity = req.affinity?.nodeAffinity ? req.affinity : undefined;
    const hasPreferred = !!affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length;
    const needLabels = selector !== undefined || affinity !== undefined;
    const tolerations = req.tolerations;
    const excluded = req.excludeNodes && req.excludeNodes.length > 0 ? new Set(req.excludeNodes) : undefined;
    const spread = this.policy === 'spread';
    const random = this.#tieBreak === 'random' ? this.#random : undefined;

    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    let ties = 0;
    const n = this.#len;
    for (let i = 0; i < n; i++) {
      const f = flags[i]!;
      if ((f & SKIP) !== 0) continue;
      const ac = allocCpu[i]!;
      const am = allocMem[i]!;
      const uc = usedCpu[i]! + rc;
      const um = usedMem[i]! + rm;
      if (uc > ac || um > am || usedVms[i]! + 1 > allocVms[i]!) continue;
      // Fractions of each resource in use after placing; 0..100 like the Kubernetes plugins.
      const fc = ac > 0 ? uc / ac : 0;
      const fm = am > 0 ? um / am : 0;
      let score = spread ? (2 - fc - fm) * 50 : (fc + fm) * 50;
      // The cheap part decides most nodes: a node that cannot win is not checked further.
      if (score < bestScore && !hasPreferred) continue;
      if (needLabels) {
        const labels = labelsOf[i]!;
        if (selector !== undefined && !matchesNodeSelector(labels, selector)) continue;
        if (affinity !== undefined && !matchesRequiredAffinity(labels, names[i]!, affinity)) continue;
        if (hasPreferred) score += preferredAffinityScore(labels, names[i]!, affinity);
      }
      if ((f & F_TAINTED) !== 0) {
        const taints = taintsOf[i]!;
        if (firstUntoleratedTaint(taints, tolerations)) continue;
        score -= untoleratedPreferNoSchedule(taints, tolerations) * 1000;
      }
      if (excluded?.has(names[i]!)) continue;
      if (score > bestScore) {
        best = i;
        bestScore = score;
        ties = 1;
      } else if (score === bestScore) {
        if (random) {
          ties++;
          if (random() * ties < 1) best = i;
        } else if (rank[i]! < rank[best]!) {
          best = i;
        }
      }
    }
    this.#lastScore = bestScore;
    return best;
  }

  /** The first feasible node of each group (in score order), plus every node of the unsorted groups. */
  #indexed(req: PlacementRequest): number {
    const rc = req.cpuMillis;
    const rm = req.memoryBytes;
    const spread = this.policy === 'spread';
    const names = this.#names;
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    const consider = (i: number, score: number) => {
      if (score > bestScore || (score === bestScore && names[i]! < names[best]!)) {
        best = i;
        bestScore = score;
      }
    };
    const sel = req.nodeSelector;
    let view: View | undefined;
    if (sel)
      for (const k in sel) {
        view = this.#view(k, sel[k]!);
        break;
      }
    for (const g of this.#groups.values()) {
      const order = g.linear ? g.order : view ? view.orders.get(g) : g.order;
      if (!order) continue;
      if (g.linear) {
        for (let k = 0; k < order.length; k++) {
          const i = order[k]!;
          const penalty = this.#feasible(i, req);
          if (penalty >= 0) consider(i, this.#score(i, rc, rm, spread) - penalty);
        }
        continue;
      }
      for (let k = 0; k < order.length; k++) {
        const i = order[k]!;
        if (this.#feasible(i, req) < 0) continue;
        consider(i, this.#score(i, rc, rm, spread));
        break;
      }
    }
    this.#lastScore = bestScore;
    return best;
  }

  #score(i: number, rc: number, rm: number, spread: boolean): number {
    const ac = this.#allocCpu[i]!;
    const am = this.#allocMem[i]!;
    const fc = ac > 0 ? (this.#usedCpu[i]! + rc) / ac : 0;
    const fm = am > 0 ? (this.#usedMem[i]! + rm) / am : 0;
    return spread ? (2 - fc - fm) * 50 : (fc + fm) * 50;
  }

  /** -1 when the node cannot take the request, else the score penalty of its untolerated soft taints. */
  #feasible(i: number, req: PlacementRequest): number {
    const f = this.#flags[i]!;
    if ((f & SKIP) !== 0) return -1;
    if (this.#usedCpu[i]! + req.cpuMillis > this.#allocCpu[i]!) return -1;
    if (this.#usedMem[i]! + req.memoryBytes > this.#allocMem[i]!) return -1;
    if (this.#usedVms[i]! + 1 > this.#allocVms[i]!) return -1;
    if (req.nodeSelector !== undefined && !matchesNodeSelector(this.#labels[i]!, req.nodeSelector)) return -1;
    if (req.affinity?.nodeAffinity && !matchesRequiredAffinity(this.#labels[i]!, this.#names[i]!, req.affinity)) {
      return -1;
    }
    let penalty = 0;
    if ((f & F_TAINTED) !== 0) {
      const taints = this.#taints[i]!;
      if (firstUntoleratedTaint(taints, req.tolerations)) return -1;
      penalty = untoleratedPreferNoSchedule(taints, req.tolerations) * 1000;
    }
    if (req.excludeNodes !== undefined && req.excludeNodes.length > 0 && req.excludeNodes.includes(this.#names[i]!)) {
      return -1;
    }
    return penalty;
  }

  #sortKey(i: number): number {
    const ac = this.#allocCpu[i]!;
    const am = this.#allocMem[i]!;
    const u = (ac > 0 ? this.#usedCpu[i]! / ac : 0) + (am > 0 ? this.#usedMem[i]! / am : 0);
    return this.policy === 'spread' ? u : -u;
  }

  /** Position of slot `i` (or where it goes) in a group ordered by (key, name). */
  #position(order: number[], i: number): number {
    const key = this.#key;
    const names = this.#names;
    const k = key[i]!;
    const name = names[i]!;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const j = order[mid]!;
      const kj = key[j]!;
      if (kj < k || (kj === k && names[j]! < name)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #group(i: number): void {
    const soft = this.#taints[i]!.some((t) => t.effect === 'PreferNoSchedule');
    const id = soft ? 'linear' : `${this.#allocCpu[i]}|${this.#allocMem[i]}|${this.#allocVms[i]}`;
    let g = this.#groups.get(id);
    if (!g) {
      g = { linear: soft, order: [] };
      this.#groups.set(id, g);
    }
    this.#groupOf[i] = g;
    if (g.linear) {
      g.order.push(i);
      return;
    }
    this.#key[i] = this.#sortKey(i);
    g.order.splice(this.#position(g.order, i), 0, i);
    const labels = this.#labels[i]!;
    for (const v of this.#views.values()) {
      if (labels[v.key] !== v.value) continue;
      const o = viewOrder(v, g);
      o.splice(this.#position(o, i), 0, i);
    }
  }

  /** Takes slot `i` out of its group (before its key changes); returns the group it was in. */
  #ungroup(i: number): Group | undefined {
    const g = this.#groupOf[i];
    if (!g) return undefined;
    this.#groupOf[i] = undefined;
    removeFrom(g.order, i, g.linear ? -1 : this.#position(g.order, i));
    if (!g.linear) {
      for (const v of this.#views.values()) {
        const o = v.orders.get(g);
        if (o && this.#labels[i]![v.key] === v.value) removeFrom(o, i, this.#position(o, i));
      }
    }
    return g;
  }

  /**
   * The nodes labelled `key=value`, per group and in score order: built on first use by a nodeSelector and
   * kept current from then on, so a selective request walks only matching nodes.
   */
  #view(key: string, value: string): View {
    const id = `${key}=${value}`;
    let v = this.#views.get(id);
    if (v) {
      // Most recently used last, so the least used is evicted first.
      this.#views.delete(id);
      this.#views.set(id, v);
      return v;
    }
    v = { key, value, orders: new Map() };
    for (const g of this.#groups.values()) {
      if (g.linear) continue;
      const o = g.order.filter((i) => this.#labels[i]![key] === value);
      if (o.length > 0) v.orders.set(g, o);
    }
    this.#views.set(id, v);
    if (this.#views.size > MAX_VIEWS) this.#views.delete(this.#views.keys().next().value as string);
    return v;
  }

  /** Each slot's position in node-name order (for deterministic tie-breaking), rebuilt after node changes. */
  #ranks(): Int32Array {
    if (this.#rank.length >= this.#len && !this.#rankDirty) return this.#rank;
    const order: number[] = [];
    for (const slot of this.#slots.values()) order.push(slot);
    order.sort((a, b) => (this.#names[a]! < this.#names[b]! ? -1 : 1));
    const rank = new Int32Array(Math.max(this.#cap, 1));
    for (let r = 0; r < order.length; r++) rank[order[r]!] = r;
    this.#rank = rank;
    this.#rankDirty = false;
    return rank;
  }

  /** Second, slower pass that runs only when nothing fits: counts why each node was rejected. */
  #explain(req: PlacementRequest): PlacementResult {
    const reasons: Record<string, number> = {};
    const add = (r: string) => {
      reasons[r] = (reasons[r] ?? 0) + 1;
    };
    const excluded = new Set(req.excludeNodes ?? []);
    for (const [name, i] of this.#slots) {
      const f = this.#flags[i]!;
      if (f & F_NOT_READY) {
        add(REASON_NOT_READY);
        continue;
      }
      if (f & F_UNSCHEDULABLE) {
        add(REASON_UNSCHEDULABLE);
        continue;
      }
      const taint = firstUntoleratedTaint(this.#taints[i]!, req.tolerations);
      if (taint) {
        add(taintReason(taint));
        continue;
      }
      const labels = this.#labels[i]!;
      if (!matchesNodeSelector(labels, req.nodeSelector) || !matchesRequiredAffinity(labels, name, req.affinity)) {
        add(REASON_AFFINITY);
        continue;
      }
      if (excluded.has(name)) {
        add(REASON_EXCLUDED);
        continue;
      }
      if (this.#usedCpu[i]! + req.cpuMillis > this.#allocCpu[i]!) add(REASON_CPU);
      if (this.#usedMem[i]! + req.memoryBytes > this.#allocMem[i]!) add(REASON_MEMORY);
      if (this.#usedVms[i]! + 1 > this.#allocVms[i]!) add(REASON_VMS);
    }
    const parts = Object.entries(reasons)
      .map(([r, c]) => `${c} ${r}`)
      .sort();
    const total = this.#slots.size;
    const message =
      parts.length > 0 ? `0/${total} nodes are available: ${parts.join(', ')}.` : `0/${total} nodes are available.`;
    return { ok: false, message, reasons };
  }

  #charge(node: string, cpu: number, mem: number, vms: number): void {
    this.#changed();
    const slot = this.#slots.get(node);
    if (slot !== undefined) {
      const g = this.#ungroup(slot);
      this.#usedCpu[slot]! += cpu;
      this.#usedMem[slot]! += mem;
      this.#usedVms[slot]! += vms;
      if (g) this.#group(slot);
      return;
    }
    const o = this.#orphanUsage.get(node) ?? { cpuMillis: 0, memoryBytes: 0, vms: 0 };
    o.cpuMillis += cpu;
    o.memoryBytes += mem;
    o.vms += vms;
    if (o.cpuMillis === 0 && o.memoryBytes === 0 && o.vms === 0) this.#orphanUsage.delete(node);
    else this.#orphanUsage.set(node, o);
  }

  #grow(): number {
    if (this.#len === this.#cap) {
      const cap = Math.max(16, this.#cap * 2);
      const growF = (a: Float64Array) => {
        const b = new Float64Array(cap);
        b.set(a);
        return b;
      };
      const flags = new Uint8Array(cap);
      flags.set(this.#flags);
      this.#flags = flags;
      this.#allocCpu = growF(this.#allocCpu);
      this.#allocMem = growF(this.#allocMem);
      this.#allocVms = growF(this.#allocVms);
      this.#usedCpu = growF(this.#usedCpu);
      this.#usedMem = growF(this.#usedMem);
      this.#usedVms = growF(this.#usedVms);
      this.#key = growF(this.#key);
      this.#cap = cap;
    }
    return this.#len++;
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}
