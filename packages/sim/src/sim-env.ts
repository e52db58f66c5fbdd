/**
 * SimEnv: a whole simulated cluster in one object — a VirtualClock (auto-advancing by default), a
 * MemoryStore, a SimFabric with N SimNodes and the embedded engine (`createEngine`) wired to them — for
 * tests and examples that need nothing but `npm install`:
 *
 *   await using env = await SimEnv.create({ nodes: 3, seed: 1 });
 *   await env.store.create('VirtualMachine', vm);
 *   env.faults.crashNode('node-1');
 *   await env.waitFor(async () => ...);
 *
 * Everything random (node timings, store uids) derives from `seed`, so a scenario replays byte for byte.
 */
import {
  createEngine,
  type DomainEvent,
  DriverRegistry,
  type Engine,
  type EngineConfig,
  MemoryStore,
  type NodeDriverRegistry,
  type ResourceStore,
  type Taint,
  TimeoutError,
  VirtualClock,
  type VirtualMachineInstance,
  type VMIPhase,
} from '@virtkit/engine';
import { SimFabric } from './fabric.ts';
import type { FaultTiming, NodeFault } from './faults.ts';
import { Rng, type Seed } from './rng.ts';
import { SimNode, type SimNodeOptions } from './sim-node.ts';
import type { TraceEntry, TraceOptions } from './trace.ts';

export type SimNodeDefaults = Partial<Omit<SimNodeOptions, 'name' | 'fabric' | 'rng'>>;

export interface SimEnvNodeSpec {
  name: string;
  /** Cores (number) or a CPU quantity. */
  cpu?: number | string;
  /** Bytes (number) or a memory quantity. */
  memory?: number | string;
  vms?: number;
  labels?: Record<string, string>;
  /** Applied to the node's Node object once the engine has registered it. */
  taints?: Taint[];
  /** Any other SimNode option for this node (timing, images, reserve ...). */
  options?: SimNodeDefaults;
}

/** What SimEnv hands an engine factory. */
export interface SimEngineWiring {
  store: ResourceStore;
  clock: VirtualClock;
  drivers: NodeDriverRegistry;
  nodes: readonly SimNode[];
  /** Seeded uniform [0, 1) for the engine's own randomness. */
  random: () => number;
}

/** The part of an engine SimEnv needs: a way to stop it. */
export interface SimEngineHandle {
  stop?(): Promise<void> | void;
  close?(): Promise<void> | void;
  [Symbol.asyncDispose]?(): Promise<void>;
}

export interface SimEnvOptions {
  /** How many nodes (`node-1` ... `node-N`, default sizes) or one spec per node. */
  nodes: number | SimEnvNodeSpec[];
  seed?: Seed;
  /** Default: a MemoryStore on the env's clock with seeded uids. */
  store?: ResourceStore;
  /** Options every node gets (a node spec's own options win). */
  nodeDefaults?: SimNodeDefaults;
  trace?: TraceOptions;
  /** Jump to the next timer whenever the process is idle (default true). */
  autoAdvance?: boolean;
  /** Clock start, ms since epoch (default 2026-01-01T00:00:00Z). */
  start?: number;
  /** Configuration of the embedded engine. */
  engineConfig?: EngineConfig;
  /**
   * The control plane: the embedded engine (default), `false` for nodes, store and clock only, or a
   * factory building something else from the wiring.
   */
  engine?: false | ((wiring: SimEngineWiring) => SimEngineHandle | Promise<SimEngineHandle>);
}

export interface WaitOptions {
  /** Virtual milliseconds before failing with TimeoutError (default 10 minutes). */
  timeoutMs?: number;
  /** Virtual milliseconds between checks (default 100). */
  pollMs?: number;
  /** Shown in the TimeoutError. */
  what?: string;
}

/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Eight hex digits; every stored object gets a uid, so no number formatting or padding per call. */
const hex8 = (n: number) => HEX[n >>> 24]! + HEX[(n >>> 16) & 0xff]! + HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!;

/** A version-4-shaped UUID from four random words (for deterministic store uids). */
function uuidFrom(rng: Rng): string {
  const a = hex8(rng.uint32() >>> 0);
  const b = hex8(rng.uint32() >>> 0);
  const c = hex8(rng.uint32() >>> 0);
  const d = hex8(rng.uint32() >>> 0);
  const variant = ((Number.parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

export class SimEnv implements AsyncDisposable {
  readonly clock: VirtualClock;
  readonly fabric: SimFabric;
  readonly store: ResourceStore;
  readonly nodes: readonly SimNode[];
  /** Taints per node name, as given in the node specs. */
  readonly taints: ReadonlyMap<string, Taint[]>;
  readonly #events: DomainEvent[] = [];
  readonly #eventWaiters = new Set<(e: DomainEvent) => void>();
  readonly #ownsStore: boolean;
  #engine: Engine | undefined;
  #custom: SimEngineHandle | undefined;
  #disposed = false;

  private constructor(options: SimEnvOptions) {
    this.clock = new VirtualClock({ start: options.start ?? Date.UTC(2026, 0, 1), autoAdvance: false });
    const root = Rng.from(options.seed ?? 1);
    const traceOptions = options.trace;
    this.fabric = new SimFabric(
      traceOptions
        ? { clock: this.clock, rng: root.fork('fabric'), trace: traceOptions }
        : { clock: this.clock, rng: root.fork('fabric') },
    );
    const storeRng = root.fork('store');
    this.#ownsStore = options.store === undefined;
    this.store =
      options.store ??
      new MemoryStore({ clock: this.clock, uid: () => uuidFrom(storeRng), random: () => storeRng.next() });
    const specs: SimEnvNodeSpec[] =
      typeof options.nodes === 'number'
        ? Array.from({ length: options.nodes }, (_, i) => ({ name: `node-${i + 1}` }))
        : options.nodes;
    const taints = new Map<string, Taint[]>();
    this.nodes = specs.map((spec) => {
      if (spec.taints) taints.set(spec.name, spec.taints);
      const capacity: NonNullable<SimNodeOptions['capacity']> = {
        ...options.nodeDefaults?.capacity,
        ...spec.options?.capacity,
      };
      if (spec.cpu !== undefined) capacity.cpu = spec.cpu;
      if (spec.memory !== undefined) capacity.memory = spec.memory;
      if (spec.vms !== undefined) capacity.vms = spec.vms;
      const node = new SimNode({
        ...options.nodeDefaults,
        ...spec.options,
        timing: { ...options.nodeDefaults?.timing, ...spec.options?.timing },
        name: spec.name,
        fabric: this.fabric,
        capacity,
        labels: { ...options.nodeDefaults?.labels, ...spec.options?.labels, ...spec.labels },
      });
      node.onEvent((e) => this.#onEvent(e));
      return node;
    });
    this.taints = taints;
  }

  static async create(options: SimEnvOptions): Promise<SimEnv> {
    const env = new SimEnv(options);
    const rng = Rng.from(options.seed ?? 1).fork('engine');
    const random = () => rng.next();
    if (typeof options.engine === 'function') {
      env.#custom = await options.engine({
        store: env.store,
        clock: env.clock,
        drivers: env.fabric,
        nodes: env.nodes,
        random,
      });
    } else if (options.engine !== false) {
      const engine = createEngine({
        store: env.store,
        clock: env.clock,
        drivers: new DriverRegistry(env.nodes),
        random,
        ...(options.engineConfig ? { config: options.engineConfig } : {}),
      });
      env.#engine = engine;
      await engine.start();
    }
    env.clock.autoAdvance = options.autoAdvance ?? true;
    if (env.#engine && env.taints.size > 0) await env.#applyTaints();
    return env;
  }

  /** The embedded engine (undefined with `engine: false` or a custom factory). */
  get engine(): Engine | undefined {
    return this.#engine;
  }

  /** What a custom engine factory returned. */
  get customEngine(): SimEngineHandle | undefined {
    return this.#custom;
  }

  /** Taints go on the Node objects the engine registers for the nodes. */
  async #applyTaints(): Promise<void> {
    for (const [name, taints] of this.taints) {
      await this.waitFor(async () => (await this.store.tryGet('Node', undefined, name)) !== undefined, {
        what: `Node ${name} to be registered`,
      });
      await this.store.patch('Node', undefined, name, 'merge', { spec: { taints } });
    }
  }

  node(name: string): SimNode {
    const n = this.fabric.get(name);
    if (!n) throw new TypeError(`no simulated node named "${name}"`);
    return n;
  }

  /** Every event any node delivered to the control plane, in order. */
  get events(): readonly DomainEvent[] {
    return this.#events;
  }

  /** Moves virtual time forward by `ms`, firing everything due on the way. */
  async advance(ms: number): Promise<void> {
    const auto = this.clock.autoAdvance;
    this.clock.autoAdvance = false;
    try {
      await this.clock.advance(ms);
    } finally {
      this.clock.autoAdvance = auto;
    }
  }

  /** The trace as stable text (optionally filtered). */
  trace(filter?: (e: TraceEntry) => boolean): string {
    return this.fabric.trace.toText(filter);
  }

  /** Node-level faults by node name; each takes effect now or at `when`. */
  readonly faults = {
    inject: (node: string, fault: NodeFault, when?: FaultTiming) => this.node(node).inject(fault, when),
    crashNode: (node: string, opts: { reportVmDeaths?: boolean } = {}, when?: FaultTiming) =>
      this.node(node).inject({ kind: 'node-crash', ...opts }, when),
    restartNode: (node: string, opts: { immediate?: boolean } = {}, when?: FaultTiming) =>
      this.node(node).inject({ kind: 'node-restart', ...opts }, when),
    crashAgent: (node: string, when?: FaultTiming) => this.node(node).inject({ kind: 'agent-crash' }, when),
    restartAgent: (node: string, opts: { immediate?: boolean } = {}, when?: FaultTiming) =>
      this.node(node).inject({ kind: 'agent-restart', ...opts }, when),
    partition: (node: string, peer?: string, when?: FaultTiming) =>
      this.node(node).inject(peer === undefined ? { kind: 'partition' } : { kind: 'partition', peer }, when),
    heal: (node: string, peer?: string, when?: FaultTiming) =>
      this.node(node).inject(peer === undefined ? { kind: 'heal' } : { kind: 'heal', peer }, when),
    diskFull: (node: string, full = true, when?: FaultTiming) =>
      this.node(node).inject({ kind: 'disk-full', full }, when),
    imageFetchFailure: (
      node: string,
      opts: { image?: string; count?: number; message?: string } = {},
      when?: FaultTiming,
    ) => this.node(node).inject({ kind: 'image-fetch-failure', ...opts }, when),
    crashGuest: (node: string, domain: string, when?: FaultTiming) =>
      this.node(node).inject({ kind: 'guest-crash', domain }, when),
    hangBoot: (node: string, domain?: string, when?: FaultTiming) =>
      this.node(node).inject(domain === undefined ? { kind: 'boot-hang' } : { kind: 'boot-hang', domain }, when),
    slow: (node: string, factor: number, when?: FaultTiming) => this.node(node).inject({ kind: 'slow', factor }, when),
  };

  /** Resolves once `check` holds, polling in virtual time; TimeoutError after `timeoutMs` of virtual time. */
  async waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
    const deadline = this.clock.now() + (options.timeoutMs ?? 600_000);
    const poll = options.pollMs ?? 100;
    for (;;) {
      if (await check()) return;
      if (this.clock.now() >= deadline) {
        throw new TimeoutError(
          `timed out after ${options.timeoutMs ?? 600_000} ms (virtual) waiting for ${options.what ?? 'a condition'}`,
        );
      }
      await this.#sleep(Math.min(poll, deadline - this.clock.now()));
    }
  }

  /** Waits until the VirtualMachineInstance `namespace/name` reports `phase` (polling the store in virtual time). */
  async waitForVMIPhase(
    namespace: string,
    name: string,
    phase: VMIPhase,
    options: WaitOptions = {},
  ): Promise<VirtualMachineInstance> {
    let last: VirtualMachineInstance | undefined;
    await this.waitFor(
      async () => {
        last = await this.store.tryGet('VirtualMachineInstance', namespace, name);
        return last?.status?.phase === phase;
      },
      { what: `VirtualMachineInstance ${namespace}/${name} to be ${phase}`, ...options },
    );
    return last!;
  }

  /** Resolves with the first event (from now on) matching `match`; TimeoutError after `timeoutMs` virtual ms. */
  waitForEvent(match: (e: DomainEvent) => boolean, options: WaitOptions = {}): Promise<DomainEvent> {
    const ms = options.timeoutMs ?? 600_000;
    return new Promise<DomainEvent>((resolve, reject) => {
      const listener = (e: DomainEvent) => {
        if (!match(e)) return;
        this.#eventWaiters.delete(listener);
        timer.cancel();
        resolve(e);
      };
      const timer = this.clock.setTimer(ms, () => {
        this.#eventWaiters.delete(listener);
        reject(new TimeoutError(`timed out after ${ms} ms (virtual) waiting for ${options.what ?? 'an event'}`));
      });
      this.#eventWaiters.add(listener);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#engine) {
      const auto = this.clock.autoAdvance;
      await this.#engine.stop();
      this.clock.autoAdvance = auto;
    }
    const engine = this.#custom;
    this.#custom = undefined;
    if (engine) {
      const dispose = engine[Symbol.asyncDispose];
      if (dispose) await dispose.call(engine);
      else if (engine.stop) await engine.stop();
      else if (engine.close) await engine.close();
    }
    this.clock.autoAdvance = false;
    for (const n of this.nodes) n.dispose();
    if (this.#ownsStore) await this.store.close();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.clock.setTimer(ms, resolve);
      // Without auto-advance nobody else moves time: do it here.
      if (!this.clock.autoAdvance) void this.clock.advance(ms);
    });
  }

  #onEvent(e: DomainEvent): void {
    this.#events.push(e);
    for (const w of [...this.#eventWaiters]) w(e);
  }
}
