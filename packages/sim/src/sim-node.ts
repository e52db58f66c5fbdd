/**
 * SimNode: a simulated node implementing the NodeDriver port the way the real libvirt agent behaves —
 * same canonical event sequences (see ports/node-driver.ts), same DriverError reasons and libvirt's
 * messages for the same misuse, timings drawn from the measured distributions in defaults.ts, all in the
 * injected clock's time and driven by one seeded random stream per node and per domain.
 *
 * Behaviour decisions (where the port leaves room), mirroring what the agent does with libvirt:
 * - Capacity: a *defined* domain reserves its CPU and memory and one VM slot whether it runs or not
 *   (libvirt itself reserves nothing, but the agent refuses a define that does not fit, so a start
 *   can never fail for capacity).
 *   An incoming migration reserves on the target from `migration started` until it completes or fails.
 * - Calls on one domain are serialised like libvirt's per-domain job lock: a second `startDomain`
 *   waits for the first and then fails with `InvalidState`. `destroyDomain`, `abortMigration`,
 *   `getDomain` and `listDomains` do not queue (libvirt lets them run beside a job).
 * - `pauseDomain` on a paused domain succeeds without an event (libvirt's suspend is a no-op then);
 *   `resumeDomain` on a running one fails `InvalidState` ("domain is already running");
 *   `shutdownDomain`/`rebootDomain` of a paused domain fail `InvalidState` (libvirt: "domain is not running").
 * - Migrating to the node itself fails `MigrationFailed`, as the agent refuses it.
 * - `rebootDomain` clears `guestReady` at once (as the agent does); the new boot's ready line sets it again.
 * - `defineDomain` refuses with `InvalidSpec` what the agent refuses before creating anything: an id that
 *   cannot be a domain name, a uid that cannot be a directory name, a disk without a volume.
 * - hostDisk volumes follow the agent's allow-list (`hostDiskRoots`, none by default: every hostDisk is
 *   refused) over the host files the node is given (`hostFiles`, `hostSymlinks`): `defineDomain` refuses
 *   with `InvalidSpec` a path outside the roots (symlinks resolved), a missing `Disk`, a `DiskOrCreate`
 *   without capacity; a `DiskOrCreate` creates its file, which stays on the node.
 * - Migration: on completion the source reports `Stopped/Migrated` and forgets the domain (as the agent
 *   does: it undefines the source itself, without an `Undefined` event); the target's domain appears only
 *   on completion.
 * - Unreachable node: a call into a crashed or partitioned node fails with `NodeUnreachable` after the
 *   client's timeout; into a live host whose agent is down, at once (connection refused). Calls in flight
 *   when the agent dies fail at once; the operation itself still completes inside libvirt. Events that
 *   happen while the control plane cannot hear the node are lost (recorded as `dropped` in the trace).
 * - `console(id)` yields what is held of the domain's current (or last) run — the lines since its last
 *   start, bounded — then live lines until the domain stops or the signal aborts. Like the agent, whose
 *   `fromStart` re-reads the same lines from the log file, `fromStart` changes nothing here.
 */
import {
  type Clock,
  type DomainDefinition,
  type DomainEvent,
  type DomainInfo,
  type DomainState,
  DriverError,
  type DriverErrorReason,
  type LifecycleEvent,
  type MigrateOptions,
  type MigrationProgress,
  type MigrationResult,
  type NodeCapacity,
  type NodeDriver,
  type NodeInfo,
  type TimerHandle,
  type Unsubscribe,
} from '@virtkit/engine';
import { type GuestIdentity, guestIdentity } from './cloud-init.ts';
import { ConsoleLog } from './console-log.ts';
import {
  DEFAULT_CAPACITY,
  DEFAULT_DISK_BYTES,
  DEFAULT_IMAGES,
  DEFAULT_TIMING,
  DEFAULT_UNKNOWN_IMAGE,
  NO_IMAGE_GUEST,
  type SimImage,
  type TimingProfile,
} from './defaults.ts';
import { diskError, hostDiskError, identityError } from './definition-checks.ts';
import { type Dist, sample, validateDist } from './distributions.ts';
import { CONTROL_PLANE, type SimFabric } from './fabric.ts';
import type { FaultTiming, MigrationPhase, NodeFault } from './faults.ts';
import {
  bootScript,
  heartbeatLine,
  POWER_BUTTON_LINE,
  panicLines,
  powerDownLine,
  READY_PREFIX,
  restartLine,
} from './guest-script.ts';
import { GuestTimers } from './guest-timers.ts';
import { HostDisks } from './host-disks.ts';
import { canSwitchOver, dirtiedBytes, sendMs } from './migration-model.ts';
import { cpuToMillis, formatBytes, memoryToBytes, parseQuantity } from './quantity.ts';
import { type DomainSize, domainSize, imageRepository, imagesOf } from './resources.ts';
import type { Rng } from './rng.ts';

export const SIM_VERSION = '0.1.0';

/** VMI annotations a simulated node honours (passed through `DomainDefinition.annotations`). */
export const SIM_ANNOTATIONS = {
  /** `"true"`: the guest ignores ACPI shutdown/reboot. */
  ignoreAcpi: 'sim.virtkit.io/ignore-acpi',
  /** `"true"`: every boot hangs before ready. */
  bootHang: 'sim.virtkit.io/boot-hang',
  /** Bytes per second (quantity allowed, e.g. `200Mi`): the guest's page-dirtying rate. */
  dirtyRate: 'sim.virtkit.io/dirty-rate',
  /** Milliseconds from start to ready (a constant, overrides the image). */
  bootMs: 'sim.virtkit.io/boot-ms',
} as const;

export interface SimNodeOptions {
  name: string;
  fabric: SimFabric;
  /** `cpu` in cores (number) or a quantity (`'4'`, `'3500m'`); `memory` in bytes or a quantity (`'8Gi'`). */
  capacity?: { cpu?: number | string; memory?: number | string; vms?: number };
  /** What the host keeps for itself; allocatable = capacity − reserve. */
  reserve?: { cpu?: number | string; memory?: number | string };
  labels?: Record<string, string>;
  /** Default: `fabric.rng.fork('node:<name>')`. */
  rng?: Rng;
  timing?: Partial<TimingProfile>;
  /** Merged over DEFAULT_IMAGES; keys are image references or repositories (tag stripped). */
  images?: Record<string, SimImage>;
  /** Images missing from the catalogue: fetched with DEFAULT_UNKNOWN_IMAGE's size (default) or refused. */
  unknownImages?: 'fetch' | 'fail';
  /**
   * Images already on the node's disk when it starts (pre-pulled, or local files such as the agent's
   * `file://` kernel-boot translation of the test guest): used without a fetch and without image events.
   */
  preloadedImages?: readonly string[];
  diskBytes?: number;
  /** Ratios of allocatable that may be reserved (default 1: no overcommit). */
  overcommit?: { cpu?: number; memory?: number };
  hypervisor?: 'kvm' | 'qemu';
  /** `minimal`: the guest prints only its ready line and heartbeats (large simulations). */
  console?: 'full' | 'minimal';
  /**
   * Absolute directories hostDisk paths must lie under, like the agent's `hostDiskRoots`. Default none:
   * every hostDisk volume is refused, as on a real node configured with none.
   */
  hostDiskRoots?: readonly string[];
  /** Regular files on the simulated host (absolute paths), for hostDisk volumes of type `Disk`. */
  hostFiles?: readonly string[];
  /** Symlinks on the simulated host: link path → target (absolute, or relative to the link's directory). */
  hostSymlinks?: Readonly<Record<string, string>>;
}

interface Dom {
  id: string;
  uid: string;
  def: DomainDefinition;
  size: DomainSize;
  image: SimImage;
  identity: GuestIdentity;
  rng: Rng;
  /** The node currently hosting this guest (changes on migration). */
  host: SimNode;
  state: DomainState;
  reason: string;
  guestReady: boolean;
  agentConnected: boolean;
  log: ConsoleLog;
  guest: GuestTimers;
  /** Bumped whenever the guest process ends, so stale continuations do nothing. */
  epoch: number;
  heartbeatSeq: number;
  ignoresAcpi: boolean;
  acpiPending: boolean;
  bootHang: boolean;
  bootDist: Dist;
  dirtyRate: number;
  readinessLine: string;
  readinessVia: 'console' | 'agent';
  migration: Outgoing | undefined;
  destroying: Promise<void> | undefined;
}

interface Outgoing {
  d: Dom;
  target: SimNode;
  targetEpoch: number;
  reserved: boolean;
  startedAt: number;
  phase: MigrationPhase;
  iteration: number;
  sent: number;
  remaining: number;
  best: number;
  bandwidth: number;
  maxDowntimeMs: number;
  progressTimeoutMs: number | undefined;
  stallAfter: number | undefined;
  stalled: boolean;
  failure: { phase: MigrationPhase; iteration: number; message: string | undefined } | undefined;
  round: TimerHandle | undefined;
  roundStart: number;
  roundBytes: number;
  timers: TimerHandle[];
  progressTimer: TimerHandle | undefined;
  done: boolean;
  resolve: (r: MigrationResult) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface PendingCall {
  method: string;
  subject: string;
  settled: boolean;
  timeoutArmed: boolean;
  outcome: Outcome | undefined;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type ImageEntry = { state: 'cached'; size: number } | { state: 'fetching'; promise: Promise<void> };

interface Unreachable {
  /** The client waits for its timeout (no answer) rather than being refused at once. */
  timeout: boolean;
  message: string;
}

const noop = () => {};

function isActive(d: Dom): boolean {
  return d.state === 'running' || d.state === 'paused' || d.state === 'blocked' || d.state === 'pmsuspended';
}

function resolveCapacity(
  c: { cpu?: number | string; memory?: number | string } | undefined,
  fallback: { cpu: number; memory: number },
): { cpuMillis: number; memoryBytes: number } {
  const cpuMillis = cpuToMillis(c?.cpu ?? fallback.cpu);
  const memoryBytes = memoryToBytes(c?.memory ?? fallback.memory);
  if (cpuMillis === undefined || memoryBytes === undefined || cpuMillis < 0 || memoryBytes < 0) {
    throw new TypeError(`invalid capacity ${JSON.stringify(c)}`);
  }
  return { cpuMillis, memoryBytes };
}

export class SimNode implements NodeDriver {
  readonly nodeName: string;
  readonly fabric: SimFabric;
  readonly clock: Clock;
  readonly timing: TimingProfile;
  readonly labels: Record<string, string>;
  readonly hypervisor: 'kvm' | 'qemu';
  readonly capacity: NodeCapacity;
  readonly allocatable: NodeCapacity;
  /** Errors thrown by event listeners (a listener's bug must not break the node). */
  readonly listenerErrors: unknown[] = [];

  readonly #rng: Rng;
  readonly #rngCalls: Rng;
  readonly #rngImages: Rng;
  readonly #rngHost: Rng;
  readonly #images: Record<string, SimImage>;
  readonly #unknownImages: 'fetch' | 'fail';
  readonly #overcommit: { cpu: number; memory: number };
  readonly #minimalConsole: boolean;
  readonly #diskBytes: number;
  /** Host files as hostDisk volumes see them; `DiskOrCreate` adds to it and nothing removes. */
  readonly #hostDisks: HostDisks;
  #diskUsed = 0;
  #diskFull = false;

  #host: 'up' | 'down' | 'booting' = 'up';
  #agent: 'up' | 'down' | 'starting' = 'up';
  #closed = false;
  #disposed = false;
  /** Bumped when the host dies: every wait started before never continues. */
  #hostEpoch = 0;
  #bootSeq = 0;
  #agentSeq = 0;
  #cpReachable = true;
  #slow = 1;

  readonly #domains = new Map<string, Dom>();
  readonly #incoming = new Map<string, DomainSize>();
  readonly #jobs = new Map<string, Promise<void>>();
  readonly #imageCache = new Map<string, ImageEntry>();
  readonly #listeners = new Set<(e: DomainEvent) => void>();
  readonly #pending = new Set<PendingCall>();
  readonly #hostTimers = new Set<TimerHandle>();
  #used = { cpuMillis: 0, memoryBytes: 0, vms: 0 };

  #fetchFailures: { image: string | undefined; count: number; message: string | undefined }[] = [];
  #bootHangs: { domain: string | undefined; count: number }[] = [];
  #migrationStalls: { domain: string | undefined; afterIteration: number }[] = [];
  #migrationFailures: {
    domain: string | undefined;
    phase: MigrationPhase;
    iteration: number;
    message: string | undefined;
  }[] = [];

  constructor(options: SimNodeOptions) {
    this.nodeName = options.name;
    this.fabric = options.fabric;
    this.clock = options.fabric.clock;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    for (const [k, v] of Object.entries(this.timing)) {
      if (typeof v === 'object' || k === 'rpc') validateDist(v as Dist, `timing.${k}`);
    }
    this.labels = { 'kubernetes.io/hostname': options.name, ...options.labels };
    this.hypervisor = options.hypervisor ?? 'qemu';
    const cap = resolveCapacity(options.capacity, DEFAULT_CAPACITY);
    const vms = options.capacity?.vms ?? DEFAULT_CAPACITY.vms;
    this.capacity = { ...cap, vms };
    const res = resolveCapacity(options.reserve, { cpu: 0, memory: 0 });
    this.allocatable = {
      cpuMillis: Math.max(0, cap.cpuMillis - res.cpuMillis),
      memoryBytes: Math.max(0, cap.memoryBytes - res.memoryBytes),
      vms,
    };
    this.#rng = options.rng ?? options.fabric.rng.fork(`node:${options.name}`);
    this.#rngCalls = this.#rng.fork('calls');
    this.#rngImages = this.#rng.fork('images');
    this.#rngHost = this.#rng.fork('host');
    this.#images = { ...DEFAULT_IMAGES, ...options.images };
    this.#unknownImages = options.unknownImages ?? 'fetch';
    this.#overcommit = { cpu: options.overcommit?.cpu ?? 1, memory: options.overcommit?.memory ?? 1 };
    this.#minimalConsole = options.console === 'minimal';
    this.#diskBytes = options.diskBytes ?? DEFAULT_DISK_BYTES;
    this.#hostDisks = new HostDisks({
      roots: options.hostDiskRoots ?? [],
      files: options.hostFiles ?? [],
      symlinks: options.hostSymlinks ?? {},
    });
    for (const ref of options.preloadedImages ?? []) {
      const size = this.#resolveImage(ref)?.sizeBytes ?? 0;
      this.#imageCache.set(ref, { state: 'cached', size });
      this.#diskUsed += size;
    }
    this.fabric.add(this);
  }

  // ---------------------------------------------------------------- inspection (not part of the port)

  /** `up`, `down` (crashed) or `booting`. */
  get hostState(): 'up' | 'down' | 'booting' {
    return this.#host;
  }

  get agentState(): 'up' | 'down' | 'starting' {
    return this.#agent;
  }

  /** Reserved by defined and incoming domains. */
  get used(): Readonly<NodeCapacity> {
    return { ...this.#used };
  }

  get slowFactor(): number {
    return this.#slow;
  }

  /** Ids of the domains libvirt has on this node, whatever the agent or network state. */
  domainIds(): string[] {
    return [...this.#domains.keys()];
  }

  /** The domain's state as libvirt holds it, bypassing the agent (for tests and SimEnv assertions). */
  peek(id: string): DomainInfo | undefined {
    const d = this.#domains.get(id);
    return d ? this.#info(d) : undefined;
  }

  /** Console lines held for `id` (bounded backlog), bypassing the agent. */
  consoleBacklog(id: string): readonly string[] {
    return this.#domains.get(id)?.log.backlog() ?? [];
  }

  isImageCached(ref: string): boolean {
    return this.#imageCache.get(ref)?.state === 'cached';
  }

  // ---------------------------------------------------------------- NodeDriver

  info(): Promise<NodeInfo> {
    return this.#call('info', '-', async () => {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      const info: NodeInfo = {
        name: this.nodeName,
        capacity: { ...this.capacity },
        allocatable: { ...this.allocatable },
        labels: { ...this.labels },
        hypervisor: this.hypervisor,
        versions: { sim: SIM_VERSION },
        migrationUri: `sim+tcp://${this.nodeName}/system`,
      };
      if (this.hypervisor === 'qemu') info.emulationReason = 'simulated node: timings follow TCG measurements';
      return info;
    });
  }

  ping(): Promise<void> {
    return this.#call('ping', '-', () => this.#wait(this.#ms(this.timing.rpc, this.#rngCalls)));
  }

  defineDomain(definition: DomainDefinition): Promise<DomainInfo> {
    return this.#call('defineDomain', definition.id, () => this.#job(definition.id, () => this.#define(definition)));
  }

  startDomain(id: string): Promise<void> {
    return this.#call('startDomain', id, () => this.#job(id, () => this.#start(id)));
  }

  shutdownDomain(id: string): Promise<void> {
    return this.#call('shutdownDomain', id, () => this.#job(id, () => this.#shutdown(id)));
  }

  destroyDomain(id: string): Promise<void> {
    return this.#call('destroyDomain', id, () => this.#destroy(id));
  }

  pauseDomain(id: string): Promise<void> {
    return this.#call('pauseDomain', id, () => this.#job(id, () => this.#pause(id)));
  }

  resumeDomain(id: string): Promise<void> {
    return this.#call('resumeDomain', id, () => this.#job(id, () => this.#resume(id)));
  }

  rebootDomain(id: string): Promise<void> {
    return this.#call('rebootDomain', id, () => this.#job(id, () => this.#reboot(id)));
  }

  undefineDomain(id: string): Promise<void> {
    return this.#call('undefineDomain', id, () => this.#job(id, () => this.#undefine(id)));
  }

  getDomain(id: string): Promise<DomainInfo | undefined> {
    return this.#call('getDomain', id, async () => {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      const d = this.#domains.get(id);
      return d ? this.#info(d) : undefined;
    });
  }

  listDomains(): Promise<DomainInfo[]> {
    return this.#call('listDomains', '-', async () => {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      return [...this.#domains.values()]
        .map((d) => this.#info(d))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  migrateDomain(id: string, targetNode: string, options: MigrateOptions = {}): Promise<MigrationResult> {
    return this.#call('migrateDomain', `${id} ${targetNode}`, () =>
      this.#job(id, () => this.#migrate(id, targetNode, options)),
    );
  }

  abortMigration(id: string): Promise<void> {
    return this.#call('abortMigration', id, async () => {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      const m = this.#domains.get(id)?.migration;
      // Once the switch-over started QEMU cannot cancel any more; the migration completes.
      if (!m || m.phase === 'switchover') return;
      this.#migrationEnd(m, 'MigrationAborted', 'aborted', 'operation aborted: migration out job: canceled by client');
    });
  }

  console(id: string, options: { signal?: AbortSignal; fromStart?: boolean } = {}): AsyncIterable<string> {
    const node = this;
    return {
      async *[Symbol.asyncIterator]() {
        const log = await node.#call('console', id, async () => {
          await node.#wait(node.#ms(node.timing.rpc, node.#rngCalls));
          const d = node.#domains.get(id);
          if (!d) throw node.#notFound(id);
          return d.log;
        });
        yield* log.read(options.signal);
      },
    };
  }

  onEvent(listener: (event: DomainEvent) => void): Unsubscribe {
    const wrapped = (e: DomainEvent) => listener(e);
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }

  /**
   * Guest agent information (like `virsh guestinfo`). Fails `InvalidState` when the guest runs no agent
   * or it has not connected yet ("Guest agent is not responding").
   */
  guestInfo(
    id: string,
  ): Promise<{ hostname: string; os: { id: string; name: string; version: string }; uptimeMs: number }> {
    return this.#call('guestInfo', id, async () => {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      const d = this.#domains.get(id);
      if (!d) throw this.#notFound(id);
      if (!isActive(d)) throw this.#err('InvalidState', 'Requested operation is not valid: domain is not running');
      if (!d.agentConnected) {
        throw this.#err('InvalidState', 'Guest agent is not responding: QEMU guest agent is not connected');
      }
      return {
        hostname: d.identity.hostname,
        os: d.image.os ?? { id: 'linux', name: 'Linux', version: 'unknown' },
        uptimeMs: d.guest.uptime(),
      };
    });
  }

  // ---------------------------------------------------------------- faults

  /** Applies a fault now, at an absolute clock time, or after a delay. Recorded in the fault log when it takes effect. */
  inject(fault: NodeFault, when?: FaultTiming): void {
    if (!when) {
      this.#applyFault(fault);
      return;
    }
    const delay = 'at' in when ? when.at - this.clock.now() : when.after;
    const h = this.clock.setTimer(Math.max(0, delay), () => {
      this.#hostTimers.delete(h);
      this.#applyFault(fault);
    });
    this.#hostTimers.add(h);
  }

  crash(options: { reportVmDeaths?: boolean } = {}): void {
    this.inject({ kind: 'node-crash', ...options });
  }

  restart(options: { immediate?: boolean } = {}): void {
    this.inject({ kind: 'node-restart', ...options });
  }

  crashAgent(): void {
    this.inject({ kind: 'agent-crash' });
  }

  restartAgent(options: { immediate?: boolean } = {}): void {
    this.inject({ kind: 'agent-restart', ...options });
  }

  crashGuest(domain: string): void {
    this.inject({ kind: 'guest-crash', domain });
  }

  /** Stops every timer this node owns so the clock can go idle; the node is unusable afterwards. */
  dispose(): void {
    this.#disposed = true;
    this.#closed = true;
    this.#hostEpoch++;
    for (const h of this.#hostTimers) h.cancel();
    this.#hostTimers.clear();
    for (const d of this.#domains.values()) {
      d.guest.cancelAll();
      if (d.migration) this.#migrationSilentEnd(d.migration);
    }
    this.#listeners.clear();
    this.fabric.remove(this.nodeName);
  }

  /** @internal The fabric tells the node that reachability changed. */
  networkChanged(): void {
    const reachable = this.fabric.canReach(this.nodeName, CONTROL_PLANE);
    if (reachable === this.#cpReachable) return;
    this.#cpReachable = reachable;
    if (!reachable) this.#connectionLost(false);
    else this.#flushPending();
  }

  #applyFault(f: NodeFault): void {
    if (this.#disposed) return;
    if (f.kind === 'partition') {
      this.fabric.partition(this.nodeName, f.peer ?? CONTROL_PLANE);
      return;
    }
    if (f.kind === 'heal') {
      this.fabric.heal(this.nodeName, f.peer ?? CONTROL_PLANE);
      return;
    }
    this.fabric.recordFault(this.nodeName, f);
    switch (f.kind) {
      case 'node-crash':
        this.#crashHost(f.reportVmDeaths ?? false);
        break;
      case 'node-restart':
        if (this.#host !== 'down') this.#crashHost(false);
        this.#bootHost(f.immediate ?? false);
        break;
      case 'agent-crash':
        this.#crashAgent();
        break;
      case 'agent-restart':
        if (this.#host !== 'up') break;
        if (this.#agent !== 'down') this.#crashAgent();
        this.#startAgent(f.immediate ?? false);
        break;
      case 'disk-full':
        this.#diskFull = f.full ?? true;
        break;
      case 'image-fetch-failure':
        this.#fetchFailures.push({ image: f.image, count: f.count ?? 1, message: f.message });
        break;
      case 'guest-crash': {
        const d = this.#domains.get(f.domain);
        if (d && isActive(d)) this.#guestPanic(d);
        break;
      }
      case 'qemu-crash': {
        const d = this.#domains.get(f.domain);
        if (d && isActive(d)) this.#stopped(d, 'crashed', 'Failed');
        break;
      }
      case 'boot-hang':
        this.#bootHangs.push({ domain: f.domain, count: f.count ?? 1 });
        break;
      case 'ignore-acpi': {
        const d = this.#domains.get(f.domain);
        if (d) d.ignoresAcpi = f.ignore ?? true;
        break;
      }
      case 'migration-stall': {
        const running = this.#runningMigration(f.domain);
        if (running && running.phase !== 'switchover') {
          running.stalled = true;
          running.round?.cancel();
          running.round = undefined;
        } else this.#migrationStalls.push({ domain: f.domain, afterIteration: f.afterIteration ?? 1 });
        break;
      }
      case 'migration-failure': {
        const spec = { phase: f.phase, iteration: f.iteration ?? 1, message: f.message };
        const running = this.#runningMigration(f.domain);
        if (running) running.failure = spec;
        else this.#migrationFailures.push({ domain: f.domain, ...spec });
        break;
      }
      case 'slow':
        if (!(f.factor > 0)) throw new TypeError('slow factor must be > 0');
        this.#slow = f.factor;
        break;
    }
  }

  #runningMigration(domain: string | undefined): Outgoing | undefined {
    if (domain !== undefined) return this.#domains.get(domain)?.migration;
    for (const d of this.#domains.values()) if (d.migration) return d.migration;
    return undefined;
  }

  #crashHost(reportVmDeaths: boolean): void {
    if (this.#host === 'down') return;
    if (reportVmDeaths) {
      for (const d of this.#domains.values()) if (isActive(d)) this.#stopped(d, 'crashed', 'Failed');
    }
    this.#host = 'down';
    this.#agent = 'down';
    this.#hostEpoch++;
    this.#bootSeq++;
    this.#agentSeq++;
    this.#trace('state', 'host down');
    const lost = this.#err('NodeUnreachable', 'connection to node lost');
    for (const d of this.#domains.values()) {
      d.guest.cancelAll();
      d.epoch++;
      if (d.migration) this.#migrationSilentEnd(d.migration);
      d.log.fail(lost);
    }
    this.#domains.clear();
    this.#incoming.clear();
    this.#jobs.clear();
    this.#used = { cpuMillis: 0, memoryBytes: 0, vms: 0 };
    // Finished images survive on disk; half-fetched ones do not.
    this.#diskUsed = 0;
    for (const [ref, e] of this.#imageCache) {
      if (e.state === 'cached') this.#diskUsed += e.size;
      else this.#imageCache.delete(ref);
    }
    this.#connectionLost(false);
  }

  #bootHost(immediate: boolean): void {
    this.#host = 'booting';
    const seq = ++this.#bootSeq;
    this.#trace('state', 'host booting');
    const up = () => {
      if (seq !== this.#bootSeq) return;
      this.#host = 'up';
      this.#agent = 'up';
      this.#trace('state', 'host up');
      this.#flushPending();
    };
    if (immediate) up();
    else this.#hostTimer(this.#ms(this.timing.nodeBoot, this.#rngHost), up);
  }

  #crashAgent(): void {
    if (this.#agent === 'down') return;
    this.#agent = 'down';
    this.#agentSeq++;
    this.#trace('state', 'agent down');
    this.#connectionLost(true);
    const lost = this.#err('NodeUnreachable', 'connection reset by peer: node agent exited');
    for (const d of this.#domains.values()) d.log.fail(lost);
  }

  #startAgent(immediate: boolean): void {
    this.#agent = 'starting';
    const seq = ++this.#agentSeq;
    const up = () => {
      if (seq !== this.#agentSeq || this.#host !== 'up') return;
      this.#agent = 'up';
      this.#trace('state', 'agent up');
    };
    if (immediate) up();
    else this.#hostTimer(this.#ms(this.timing.agentStart, this.#rngHost), up);
  }

  #hostTimer(ms: number, fn: () => void): void {
    const h = this.clock.setTimer(ms, () => {
      this.#hostTimers.delete(h);
      fn();
    });
    this.#hostTimers.add(h);
  }

  // ---------------------------------------------------------------- calls, reachability, jobs

  #unreachable(): Unreachable | undefined {
    if (this.#closed) return { timeout: false, message: 'driver is closed' };
    if (this.#host !== 'up') return { timeout: true, message: 'connection timed out: no route to host' };
    if (!this.#cpReachable) return { timeout: true, message: 'connection timed out' };
    if (this.#agent !== 'up') return { timeout: false, message: 'connection refused: node agent is not running' };
    return undefined;
  }

  #call<T>(method: string, subject: string, body: () => Promise<T>): Promise<T> {
    this.#trace('call', `${method} ${subject}`);
    const down = this.#unreachable();
    if (down) {
      const delay = down.timeout ? this.timing.unreachableTimeoutMs : this.#ms(this.timing.rpc, this.#rngCalls);
      return new Promise<T>((_, reject) => {
        this.clock.setTimer(delay, () => {
          const e = this.#err('NodeUnreachable', down.message);
          this.#trace('err', `${method} ${subject} NodeUnreachable`);
          reject(e);
        });
      });
    }
    return new Promise<T>((resolve, reject) => {
      const p: PendingCall = {
        method,
        subject,
        settled: false,
        timeoutArmed: false,
        outcome: undefined,
        resolve: resolve as (v: unknown) => void,
        reject,
      };
      this.#pending.add(p);
      body().then(
        (value) => this.#complete(p, { ok: true, value }),
        (error: unknown) => this.#complete(p, { ok: false, error }),
      );
    });
  }

  #complete(p: PendingCall, outcome: Outcome): void {
    if (p.settled) return;
    if (this.#unreachable()) {
      // The answer cannot reach the caller; it is delivered if the network heals before the timeout.
      p.outcome = outcome;
      return;
    }
    this.#settle(p, outcome);
  }

  #settle(p: PendingCall, outcome: Outcome): void {
    p.settled = true;
    this.#pending.delete(p);
    if (outcome.ok) {
      this.#trace('ok', `${p.method} ${p.subject}`);
      p.resolve(outcome.value);
    } else {
      const reason = outcome.error instanceof DriverError ? outcome.error.reason : 'Error';
      this.#trace('err', `${p.method} ${p.subject} ${reason}`);
      p.reject(outcome.error);
    }
  }

  #connectionLost(immediate: boolean): void {
    for (const p of this.#pending) {
      if (immediate) {
        this.#settle(p, {
          ok: false,
          error: this.#err('NodeUnreachable', 'connection reset by peer: node agent exited'),
        });
      } else if (!p.timeoutArmed) {
        p.timeoutArmed = true;
        this.clock.setTimer(this.timing.unreachableTimeoutMs, () => {
          p.timeoutArmed = false;
          if (p.settled) return;
          const down = this.#unreachable();
          if (down) this.#settle(p, { ok: false, error: this.#err('NodeUnreachable', down.message) });
          else if (p.outcome) this.#settle(p, p.outcome);
        });
      }
    }
  }

  #flushPending(): void {
    if (this.#unreachable()) return;
    for (const p of [...this.#pending]) if (p.outcome) this.#settle(p, p.outcome);
  }

  /** Runs `fn` after the domain's previous job, like libvirt's per-domain job lock. */
  #job<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#jobs.get(id);
    const run = prev ? prev.then(fn) : fn();
    const tail = run.then(noop, noop);
    this.#jobs.set(id, tail);
    tail.then(() => {
      if (this.#jobs.get(id) === tail) this.#jobs.delete(id);
    });
    return run;
  }

  /** Waits `ms` of clock time; never continues when the host died meanwhile. */
  #wait(ms: number): Promise<void> {
    const epoch = this.#hostEpoch;
    return new Promise<void>((resolve) => {
      this.clock.setTimer(ms, () => {
        if (epoch === this.#hostEpoch) resolve();
      });
    });
  }

  #ms(d: Dist, rng: Rng): number {
    return Math.round(sample(d, rng) * this.#slow);
  }

  async #refuse(error: DriverError): Promise<never> {
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    throw error;
  }

  #err(reason: DriverErrorReason, message: string): DriverError {
    return new DriverError(reason, this.nodeName, message);
  }

  #notFound(id: string): DriverError {
    return this.#err('DomainNotFound', `Domain not found: no domain with matching name '${id}'`);
  }

  #notRunning(): DriverError {
    return this.#err('InvalidState', 'Requested operation is not valid: domain is not running');
  }

  // ---------------------------------------------------------------- capacity

  #fitError(size: DomainSize): string | undefined {
    const a = this.allocatable;
    const u = this.#used;
    const freeCpu = a.cpuMillis * this.#overcommit.cpu - u.cpuMillis;
    const freeMem = a.memoryBytes * this.#overcommit.memory - u.memoryBytes;
    const freeVms = a.vms - u.vms;
    if (size.cpuMillis <= freeCpu && size.memoryBytes <= freeMem && freeVms >= 1) return undefined;
    return (
      `insufficient resources on node ${this.nodeName}: requested cpu ${size.cpuMillis}m memory ${formatBytes(size.memoryBytes)}, ` +
      `free cpu ${Math.max(0, freeCpu)}m memory ${formatBytes(Math.max(0, freeMem))} vms ${Math.max(0, freeVms)}`
    );
  }

  #reserve(size: DomainSize): void {
    this.#used.cpuMillis += size.cpuMillis;
    this.#used.memoryBytes += size.memoryBytes;
    this.#used.vms += 1;
  }

  #release(size: DomainSize): void {
    this.#used.cpuMillis -= size.cpuMillis;
    this.#used.memoryBytes -= size.memoryBytes;
    this.#used.vms -= 1;
  }

  // ---------------------------------------------------------------- domain operations

  async #define(def: DomainDefinition): Promise<DomainInfo> {
    const badIdentity = identityError(def);
    if (badIdentity) return this.#refuse(this.#err('InvalidSpec', badIdentity));
    const existing = this.#domains.get(def.id);
    if (existing) {
      if (existing.uid === def.uid) {
        await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
        return this.#info(existing);
      }
      return this.#refuse(
        this.#err('DomainExists', `operation failed: domain '${def.id}' already exists with uuid ${existing.uid}`),
      );
    }
    if (this.#incoming.has(def.id)) {
      return this.#refuse(
        this.#err('DomainExists', `operation failed: domain '${def.id}' is being migrated to this node`),
      );
    }
    const size = domainSize(def.spec);
    if (typeof size === 'string') return this.#refuse(this.#err('InvalidSpec', size));
    const badDisk = diskError(def);
    if (badDisk) return this.#refuse(this.#err('InvalidSpec', badDisk));
    const badHostDisk = hostDiskError(def, this.#hostDisks);
    if (badHostDisk) return this.#refuse(this.#err('InvalidSpec', badHostDisk));
    const refusal = this.#fitError(size);
    if (refusal) return this.#refuse(this.#err('InsufficientResources', refusal));
    this.#reserve(size);
    const rng = this.#rng.fork(`domain:${def.uid}`);
    const refs = imagesOf(def.spec);
    let image: SimImage = NO_IMAGE_GUEST;
    const epoch = this.#hostEpoch;
    try {
      for (const ref of refs) await this.#ensureImage(ref, def);
      if (refs[0] !== undefined) image = this.#resolveImage(refs[0]) ?? DEFAULT_UNKNOWN_IMAGE;
      await this.#wait(this.#ms(this.timing.define, rng));
    } catch (e) {
      if (epoch === this.#hostEpoch) this.#release(size);
      throw e;
    }
    const d = this.#newDom(def, size, image, rng);
    this.#domains.set(def.id, d);
    this.#lifecycle(d, { event: 'Defined', detail: 'Added' });
    return this.#info(d);
  }

  #newDom(def: DomainDefinition, size: DomainSize, image: SimImage, rng: Rng): Dom {
    const ann = def.annotations ?? {};
    const bootMs = ann[SIM_ANNOTATIONS.bootMs] !== undefined ? Number(ann[SIM_ANNOTATIONS.bootMs]) : undefined;
    const dirty =
      ann[SIM_ANNOTATIONS.dirtyRate] !== undefined ? parseQuantity(ann[SIM_ANNOTATIONS.dirtyRate]!) : undefined;
    const probe = def.spec.readinessProbe;
    const viaAgent = typeof probe === 'object' && probe !== null && 'guestAgentPing' in probe;
    return {
      id: def.id,
      uid: def.uid,
      def,
      size,
      image,
      identity: guestIdentity(def),
      rng,
      host: this,
      state: 'shutoff',
      reason: 'unknown',
      guestReady: false,
      agentConnected: false,
      log: new ConsoleLog(),
      guest: new GuestTimers(this.clock),
      epoch: 0,
      heartbeatSeq: 0,
      ignoresAcpi: ann[SIM_ANNOTATIONS.ignoreAcpi] === 'true' || (image.ignoresAcpi ?? false),
      acpiPending: false,
      bootHang: ann[SIM_ANNOTATIONS.bootHang] === 'true' || (image.bootHang ?? false),
      bootDist:
        bootMs !== undefined && Number.isFinite(bootMs) && bootMs >= 0 ? bootMs : (image.boot ?? this.timing.boot),
      dirtyRate: dirty !== undefined && dirty >= 0 ? dirty : (image.dirtyRate ?? this.timing.dirtyRate),
      readinessLine: def.readinessLine ?? READY_PREFIX,
      readinessVia: viaAgent ? 'agent' : 'console',
      migration: undefined,
      destroying: undefined,
    };
  }

  #resolveImage(ref: string): SimImage | undefined {
    const img = this.#images[ref] ?? this.#images[imageRepository(ref)];
    if (img) return img;
    return this.#unknownImages === 'fetch' ? DEFAULT_UNKNOWN_IMAGE : undefined;
  }

  async #ensureImage(ref: string, def: DomainDefinition): Promise<void> {
    const entry = this.#imageCache.get(ref);
    if (entry?.state === 'cached') return;
    const img = this.#resolveImage(ref);
    this.#imageEvent(def, ref, 'fetching', img?.sizeBytes, 0);
    try {
      let promise = entry?.promise;
      if (!promise) {
        promise = this.#fetch(ref, img);
        this.#imageCache.set(ref, { state: 'fetching', promise });
      }
      await promise;
    } catch (e) {
      this.#imageEvent(def, ref, 'failed', img?.sizeBytes, undefined, e instanceof DriverError ? e : undefined);
      throw e;
    }
    this.#imageEvent(def, ref, 'fetched', img?.sizeBytes, img?.sizeBytes);
  }

  async #fetch(ref: string, img: SimImage | undefined): Promise<void> {
    let reserved = 0;
    const epoch = this.#hostEpoch;
    try {
      await this.#wait(this.#ms(this.timing.imageFetchOverhead, this.#rngImages));
      const armed = this.#fetchFailures.find((f) => f.image === undefined || f.image === ref);
      if (armed) {
        if (--armed.count <= 0) this.#fetchFailures.splice(this.#fetchFailures.indexOf(armed), 1);
        throw this.#err('ImageFetchFailed', `failed to pull image "${ref}": ${armed.message ?? 'unexpected EOF'}`);
      }
      if (!img) throw this.#err('ImageFetchFailed', `failed to pull image "${ref}": manifest unknown`);
      if (this.#diskFull || this.#diskUsed + img.sizeBytes > this.#diskBytes) {
        throw this.#err('DiskFull', `failed to store image "${ref}": No space left on device`);
      }
      this.#diskUsed += img.sizeBytes;
      reserved = img.sizeBytes;
      await this.#wait(Math.round((img.sizeBytes / this.timing.imageBandwidth) * 1000 * this.#slow));
      this.#imageCache.set(ref, { state: 'cached', size: img.sizeBytes });
    } catch (e) {
      if (epoch === this.#hostEpoch) {
        this.#diskUsed -= reserved;
        this.#imageCache.delete(ref);
      }
      throw e;
    }
  }

  async #start(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    if (isActive(d))
      return this.#refuse(this.#err('InvalidState', 'Requested operation is not valid: domain is already running'));
    await this.#wait(this.#ms(this.timing.start, d.rng));
    d.epoch++;
    d.state = 'running';
    d.reason = 'booted';
    d.log.startRun();
    this.#lifecycle(d, { event: 'Started', detail: 'Booted' });
    this.#boot(d);
  }

  /** Schedules a boot in guest time: console lines, the ready line, the guest agent, heartbeats. */
  #boot(d: Dom): void {
    d.guestReady = false;
    d.agentConnected = false;
    d.acpiPending = false;
    d.heartbeatSeq = 0;
    d.guest.resetUptime();
    const bootMs = this.#ms(d.bootDist, d.rng);
    const hang = d.bootHang || this.#takeBootHang(d.id);
    const script = bootScript({
      identity: d.identity,
      kernel: d.image.kernel ?? '6.1.0-virtkit-amd64',
      vcpus: d.size.vcpus,
      memoryBytes: d.size.guestMemoryBytes,
      bootMs,
      hang,
      minimal: this.#minimalConsole,
    });
    for (const s of script) d.guest.schedule(s.at, () => d.host.#consoleLine(d, s.line));
    if (hang) return;
    if (d.image.guestAgent) {
      d.guest.schedule(bootMs + this.#ms(this.timing.guestAgentConnect, d.rng), () => {
        d.agentConnected = true;
        if (d.readinessVia === 'agent' && !d.guestReady) d.host.#guestReady(d, 'agent');
      });
    }
    const hb = this.timing.heartbeatMs;
    if (hb > 0) d.guest.schedule(bootMs + hb, () => d.host.#heartbeat(d));
  }

  #takeBootHang(id: string): boolean {
    const i = this.#bootHangs.findIndex((h) => h.domain === undefined || h.domain === id);
    if (i < 0) return false;
    const h = this.#bootHangs[i]!;
    if (--h.count <= 0) this.#bootHangs.splice(i, 1);
    return true;
  }

  #heartbeat(d: Dom): void {
    d.heartbeatSeq++;
    this.#consoleLine(d, heartbeatLine(d.heartbeatSeq));
    d.guest.schedule(this.timing.heartbeatMs, () => d.host.#heartbeat(d));
  }

  #consoleLine(d: Dom, line: string): void {
    d.log.append(line);
    if (this.#listeners.size > 0 || this.fabric.trace.enabled) {
      this.#emit(
        { type: 'console', node: this.nodeName, domain: d.id, uid: d.uid, at: this.clock.now(), line },
        this.fabric.trace.omitConsole ? undefined : `console ${d.id} ${JSON.stringify(line)}`,
      );
    }
    if (!d.guestReady && d.readinessVia === 'console' && line.includes(d.readinessLine)) this.#guestReady(d, 'console');
  }

  #guestReady(d: Dom, via: 'console' | 'agent'): void {
    d.guestReady = true;
    this.#emit(
      { type: 'guest-ready', node: this.nodeName, domain: d.id, uid: d.uid, at: this.clock.now(), via },
      `guest-ready ${d.id} via=${via}`,
    );
  }

  async #shutdown(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    // libvirt sends the power button only to a running guest; a paused one is refused.
    if (d.state !== 'running') throw this.#notRunning();
    if (d.ignoresAcpi || d.acpiPending) return;
    d.acpiPending = true;
    // In guest time: a guest paused after the request handles the power button once resumed.
    d.guest.schedule(this.#ms(this.timing.acpiShutdown, d.rng), () => {
      const host = d.host;
      host.#consoleLine(d, POWER_BUTTON_LINE);
      host.#consoleLine(d, powerDownLine(d.guest.uptime()));
      host.#lifecycle(d, { event: 'Shutdown', detail: 'Finished' });
      host.#stopped(d, 'shutdown', 'Shutdown');
    });
  }

  async #reboot(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    if (d.state !== 'running') throw this.#notRunning();
    // Like the agent: readiness belongs to a boot, and a reboot was asked for.
    d.guestReady = false;
    if (d.ignoresAcpi || d.acpiPending) return;
    d.acpiPending = true;
    d.guest.schedule(this.#ms(this.timing.acpiShutdown, d.rng), () => {
      const host = d.host;
      host.#consoleLine(d, restartLine(d.guest.uptime()));
      d.guest.cancelAll();
      host.#boot(d);
    });
  }

  async #destroy(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d || !isActive(d)) {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      return;
    }
    if (d.destroying) return d.destroying;
    const run = async () => {
      // QEMU is signalled at once: the guest stops doing anything; libvirt reports it off when reaped.
      if (d.migration)
        this.#migrationEnd(d.migration, 'MigrationFailed', 'failed', 'operation failed: domain is not running');
      d.guest.cancelAll();
      const epoch = d.epoch;
      await this.#wait(this.#ms(this.timing.destroy, d.rng));
      if (d.epoch === epoch && this.#domains.get(id) === d) this.#stopped(d, 'destroyed', 'Destroyed');
    };
    const p = run();
    d.destroying = p;
    try {
      await p;
    } finally {
      if (d.destroying === p) d.destroying = undefined;
    }
  }

  async #pause(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    if (!isActive(d)) throw this.#notRunning();
    if (d.state === 'paused') return;
    d.state = 'paused';
    d.reason = 'user';
    d.guest.freeze();
    this.#lifecycle(d, { event: 'Suspended', detail: 'Paused' });
  }

  async #resume(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    if (!isActive(d)) throw this.#notRunning();
    if (d.state === 'running')
      throw this.#err('InvalidState', 'Requested operation is not valid: domain is already running');
    d.state = 'running';
    d.reason = 'unpaused';
    d.guest.thaw();
    this.#lifecycle(d, { event: 'Resumed', detail: 'Unpaused' });
  }

  async #undefine(id: string): Promise<void> {
    const d = this.#domains.get(id);
    if (!d) {
      await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
      return;
    }
    if (d.destroying) await d.destroying;
    await this.#wait(this.#ms(this.timing.undefine, d.rng));
    if (this.#domains.get(id) !== d) return;
    if (isActive(d))
      throw this.#err('InvalidState', 'Requested operation is not valid: cannot undefine a running domain');
    this.#domains.delete(id);
    this.#release(d.size);
    d.log.endRun();
    this.#lifecycle(d, { event: 'Undefined', detail: 'Removed' });
  }

  #guestPanic(d: Dom): void {
    if (d.migration)
      this.#migrationEnd(d.migration, 'MigrationFailed', 'failed', 'operation failed: domain is not running');
    d.guest.cancelAll();
    for (const line of panicLines(d.guest.uptime())) this.#consoleLine(d, line);
    this.#lifecycle(d, { event: 'Crashed', detail: 'Panicked' });
    this.#stopped(d, 'crashed', 'Crashed');
  }

  /** The guest process is gone: shut off with `reason`, `Stopped/<detail>`. */
  #stopped(d: Dom, reason: string, detail: 'Shutdown' | 'Destroyed' | 'Crashed' | 'Migrated' | 'Failed'): void {
    if (d.migration)
      this.#migrationEnd(d.migration, 'MigrationFailed', 'failed', 'operation failed: domain is not running');
    d.guest.cancelAll();
    d.epoch++;
    d.state = 'shutoff';
    d.reason = reason;
    d.guestReady = false;
    d.agentConnected = false;
    d.acpiPending = false;
    d.log.endRun();
    this.#lifecycle(d, { event: 'Stopped', detail });
  }

  // ---------------------------------------------------------------- migration

  async #migrate(id: string, targetName: string, options: MigrateOptions): Promise<MigrationResult> {
    const d = this.#domains.get(id);
    if (!d) return this.#refuse(this.#notFound(id));
    if (d.destroying) await d.destroying;
    if (!isActive(d)) return this.#refuse(this.#notRunning());
    if (targetName === this.nodeName) {
      return this.#refuse(
        this.#err('MigrationFailed', `operation failed: Attempt to migrate guest to the same host ${this.nodeName}`),
      );
    }
    const target = this.fabric.get(targetName);
    if (!target) {
      return this.#refuse(
        this.#err('MigrationFailed', `unable to connect to target node '${targetName}': unknown node`),
      );
    }
    await this.#wait(this.#ms(this.timing.rpc, this.#rngCalls));
    if (!isActive(d)) throw this.#notRunning();
    const targetUp = target.#host === 'up' && this.fabric.canReach(this.nodeName, targetName);
    if (targetUp) {
      if (target.#domains.has(id) || target.#incoming.has(id)) {
        throw this.#err('DomainExists', `operation failed: domain '${id}' already exists on target node ${targetName}`);
      }
      const refusal = target.#fitError(d.size);
      if (refusal) throw this.#err('InsufficientResources', refusal);
    }
    return new Promise<MigrationResult>((resolve, reject) => {
      const stall = this.#takeArmed(this.#migrationStalls, id);
      const failure = this.#takeArmed(this.#migrationFailures, id);
      const m: Outgoing = {
        d,
        target,
        targetEpoch: target.#hostEpoch,
        reserved: false,
        startedAt: this.clock.now(),
        phase: 'setup',
        iteration: 0,
        sent: 0,
        remaining: d.size.guestMemoryBytes,
        best: Number.POSITIVE_INFINITY,
        bandwidth: (options.bandwidthBytesPerSec ?? this.timing.migrationBandwidth) / this.#slow,
        maxDowntimeMs: options.maxDowntimeMs ?? this.timing.maxDowntimeMs,
        progressTimeoutMs: options.progressTimeoutMs,
        stallAfter: stall?.afterIteration,
        stalled: false,
        failure: failure ? { phase: failure.phase, iteration: failure.iteration, message: failure.message } : undefined,
        round: undefined,
        roundStart: 0,
        roundBytes: 0,
        timers: [],
        progressTimer: undefined,
        done: false,
        resolve,
        reject,
      };
      d.migration = m;
      if (targetUp) {
        target.#incoming.set(id, d.size);
        target.#reserve(d.size);
        m.reserved = true;
      }
      this.#migrationEvent(m, 'started');
      if (options.completionTimeoutMs !== undefined) {
        const ms = options.completionTimeoutMs;
        m.timers.push(
          this.clock.setTimer(ms, () => {
            if (m.phase !== 'switchover') {
              this.#migrationEnd(
                m,
                'MigrationFailed',
                'failed',
                `operation failed: migration did not complete within ${ms} ms (completion timeout)`,
              );
            }
          }),
        );
      }
      this.#armProgressTimer(m);
      m.timers.push(
        this.clock.setTimer(this.#ms(this.timing.migrationSetup, d.rng), () => this.#migrationSetupDone(m)),
      );
    });
  }

  #takeArmed<T extends { domain: string | undefined }>(list: T[], id: string): T | undefined {
    const i = list.findIndex((x) => x.domain === undefined || x.domain === id);
    if (i < 0) return undefined;
    return list.splice(i, 1)[0];
  }

  #armProgressTimer(m: Outgoing): void {
    const ms = m.progressTimeoutMs;
    if (ms === undefined) return;
    m.progressTimer?.cancel();
    m.progressTimer = this.clock.setTimer(ms, () => {
      if (m.phase !== 'switchover') {
        this.#migrationEnd(
          m,
          'MigrationFailed',
          'failed',
          `operation failed: migration made no progress for ${ms} ms (progress timeout)`,
        );
      }
    });
  }

  #linkError(m: Outgoing): string | undefined {
    const t = m.target;
    if (t.#host !== 'up' || t.#hostEpoch !== m.targetEpoch)
      return `operation failed: unable to connect to target node ${t.nodeName}: connection refused`;
    if (!this.fabric.canReach(this.nodeName, t.nodeName)) {
      return `operation failed: migration to ${t.nodeName}: unable to write to socket: Connection timed out`;
    }
    return undefined;
  }

  #migrationSetupDone(m: Outgoing): void {
    if (m.done) return;
    if (m.failure?.phase === 'setup') {
      this.#migrationEnd(
        m,
        'MigrationFailed',
        'failed',
        m.failure.message ?? 'operation failed: migration out job: failed to prepare target',
      );
      return;
    }
    const link = this.#linkError(m);
    if (link) {
      this.#migrationEnd(m, 'MigrationFailed', 'failed', link);
      return;
    }
    m.phase = 'precopy';
    this.#migrationRound(m, Math.round(m.d.size.guestMemoryBytes * this.timing.touchedMemoryFraction));
  }

  #migrationRound(m: Outgoing, bytes: number): void {
    if (m.stalled || (m.stallAfter !== undefined && m.iteration >= m.stallAfter)) {
      m.stalled = true;
      return;
    }
    m.iteration++;
    const ms = sendMs(bytes, m.bandwidth);
    m.roundStart = this.clock.now();
    m.roundBytes = bytes;
    m.remaining = bytes;
    m.round = this.clock.setTimer(ms, () => this.#migrationRoundDone(m, bytes, ms));
  }

  #migrationRoundDone(m: Outgoing, bytes: number, ms: number): void {
    if (m.done) return;
    m.round = undefined;
    const d = m.d;
    m.sent += bytes;
    const rate = d.state === 'paused' ? 0 : d.dirtyRate;
    m.remaining = dirtiedBytes(ms, rate, d.size.guestMemoryBytes);
    this.#migrationEvent(m, 'progress');
    if (m.remaining < m.best) {
      m.best = m.remaining;
      this.#armProgressTimer(m);
    }
    if (m.failure?.phase === 'precopy' && m.iteration >= m.failure.iteration) {
      this.#migrationEnd(
        m,
        'MigrationFailed',
        'failed',
        m.failure.message ?? 'operation failed: migration out job: unexpectedly failed',
      );
      return;
    }
    const link = this.#linkError(m);
    if (link) {
      this.#migrationEnd(m, 'MigrationFailed', 'failed', link);
      return;
    }
    if (m.stalled) return;
    if (canSwitchOver(m.remaining, m.bandwidth, m.maxDowntimeMs)) this.#switchOver(m);
    else this.#migrationRound(m, m.remaining);
  }

  #switchOver(m: Outgoing): void {
    m.phase = 'switchover';
    const d = m.d;
    d.guest.freeze();
    const downtime = Math.round((m.remaining / m.bandwidth) * 1000 + this.#ms(this.timing.migrationSwitchover, d.rng));
    m.timers.push(
      this.clock.setTimer(downtime, () => {
        if (m.done) return;
        const error =
          m.failure?.phase === 'switchover'
            ? (m.failure.message ?? 'operation failed: migration out job: unexpectedly failed')
            : this.#linkError(m);
        if (error) {
          this.#migrationEnd(m, 'MigrationFailed', 'failed', error);
          return;
        }
        this.#migrationComplete(m, downtime);
      }),
    );
  }

  #migrationComplete(m: Outgoing, downtimeMs: number): void {
    const d = m.d;
    const target = m.target;
    m.done = true;
    this.#cancelMigrationTimers(m);
    d.migration = undefined;
    const sent = m.sent + m.remaining;
    const result: MigrationResult = {
      targetNode: target.nodeName,
      downtimeMs,
      durationMs: this.clock.now() - m.startedAt,
      bytesTransferred: sent,
      iterations: m.iteration,
    };
    // The guest (timers, identity, random stream) moves to the target. Like the agent, the source then
    // reports Stopped/Migrated and drops its definition (no Undefined event), releasing its reservation.
    const paused = d.state === 'paused';
    const sourceLog = d.log;
    this.#domains.delete(d.id);
    this.#release(d.size);
    target.#incoming.delete(d.id);
    d.host = target;
    d.state = paused ? 'paused' : 'running';
    d.reason = 'migrated';
    d.log = new ConsoleLog();
    d.log.startRun();
    d.epoch++;
    target.#domains.set(d.id, d);
    target.#lifecycle(d, { event: 'Started', detail: 'Migrated' });
    if (!paused) d.guest.thaw();
    m.sent = sent;
    m.remaining = 0;
    this.#migrationEvent(m, 'completed', { downtimeMs });
    sourceLog.endRun();
    this.#lifecycle(d, { event: 'Stopped', detail: 'Migrated' });
    m.resolve(result);
  }

  #cancelMigrationTimers(m: Outgoing): void {
    m.round?.cancel();
    m.progressTimer?.cancel();
    for (const t of m.timers) t.cancel();
    m.timers.length = 0;
  }

  #releaseTarget(m: Outgoing): void {
    if (!m.reserved) return;
    m.reserved = false;
    const t = m.target;
    if (t.#hostEpoch === m.targetEpoch && t.#incoming.delete(m.d.id)) t.#release(m.d.size);
  }

  #migrationEnd(
    m: Outgoing,
    reason: 'MigrationFailed' | 'MigrationAborted',
    phase: 'failed' | 'aborted',
    message: string,
  ): void {
    if (m.done) return;
    m.done = true;
    this.#cancelMigrationTimers(m);
    m.d.migration = undefined;
    if (m.phase === 'switchover' && m.d.state === 'running') m.d.guest.thaw();
    this.#releaseTarget(m);
    const error = this.#err(reason, message);
    this.#migrationEvent(m, phase, { error: { reason, message } });
    m.reject(error);
  }

  /** The source host died: no events can leave it. */
  #migrationSilentEnd(m: Outgoing): void {
    if (m.done) return;
    m.done = true;
    this.#cancelMigrationTimers(m);
    m.d.migration = undefined;
    this.#releaseTarget(m);
    m.reject(this.#err('NodeUnreachable', 'connection to node lost'));
  }

  #progress(m: Outgoing): MigrationProgress {
    // Mid-round, the part of the round already on the wire counts as processed.
    const inFlight = m.round
      ? Math.min(m.roundBytes, Math.floor(((this.clock.now() - m.roundStart) / 1000) * m.bandwidth))
      : 0;
    const p: MigrationProgress = {
      dataTotal: m.d.size.guestMemoryBytes,
      dataProcessed: m.sent + inFlight,
      dataRemaining: m.remaining - inFlight,
      iteration: m.iteration,
      elapsedMs: this.clock.now() - m.startedAt,
    };
    if (m.iteration > 0) p.dirtyRate = m.d.state === 'paused' ? 0 : m.d.dirtyRate;
    return p;
  }

  #migrationEvent(
    m: Outgoing,
    phase: 'started' | 'progress' | 'completed' | 'failed' | 'aborted',
    extra: { downtimeMs?: number; error?: { reason: DriverErrorReason; message: string } } = {},
  ): void {
    const d = m.d;
    const ev: DomainEvent = {
      type: 'migration',
      node: this.nodeName,
      domain: d.id,
      uid: d.uid,
      at: this.clock.now(),
      phase,
      targetNode: m.target.nodeName,
      ...extra,
    };
    if (phase !== 'started') ev.progress = this.#progress(m);
    let text: string | undefined;
    if (this.fabric.trace.enabled) {
      text = `migration ${d.id} ${phase} target=${m.target.nodeName}`;
      if (phase !== 'started') text += ` it=${m.iteration} sent=${m.sent} remaining=${m.remaining}`;
      if (extra.downtimeMs !== undefined) text += ` downtime=${extra.downtimeMs}`;
      if (extra.error) text += ` ${extra.error.reason} ${JSON.stringify(extra.error.message)}`;
    }
    this.#emit(ev, text);
  }

  // ---------------------------------------------------------------- events

  #lifecycle(d: Dom, e: LifecycleEvent): void {
    const ev = {
      type: 'lifecycle',
      node: this.nodeName,
      domain: d.id,
      uid: d.uid,
      at: this.clock.now(),
      ...e,
    } as DomainEvent;
    this.#emit(ev, this.fabric.trace.enabled ? `lifecycle ${d.id} ${e.event}/${e.detail}` : undefined);
  }

  #imageEvent(
    def: DomainDefinition,
    ref: string,
    phase: 'fetching' | 'fetched' | 'failed',
    total: number | undefined,
    done: number | undefined,
    error?: DriverError,
  ): void {
    const ev: DomainEvent = {
      type: 'image',
      node: this.nodeName,
      domain: def.id,
      uid: def.uid,
      at: this.clock.now(),
      phase,
    };
    if (total !== undefined) ev.bytesTotal = total;
    if (done !== undefined) ev.bytesDone = done;
    if (error) ev.error = { reason: error.reason, message: error.message };
    let text: string | undefined;
    if (this.fabric.trace.enabled) {
      text = `image ${def.id} ${phase} ${ref}`;
      if (error) text += ` ${error.reason}`;
    }
    this.#emit(ev, text);
  }

  #emit(ev: DomainEvent, text: string | undefined): void {
    const deliver = !this.#unreachable();
    if (text !== undefined) this.fabric.trace.record(ev.at, this.nodeName, deliver ? 'event' : 'dropped', text);
    if (!deliver) return;
    for (const l of this.#listeners) {
      try {
        l(ev);
      } catch (e) {
        this.listenerErrors.push(e);
      }
    }
  }

  #trace(kind: 'call' | 'ok' | 'err' | 'state', text: string): void {
    this.fabric.trace.record(this.clock.now(), this.nodeName, kind, text);
  }

  #info(d: Dom): DomainInfo {
    const info: DomainInfo = {
      id: d.id,
      uid: d.uid,
      state: d.state,
      reason: d.reason,
      guestReady: d.guestReady,
      vcpus: d.size.vcpus,
      memoryBytes: d.size.guestMemoryBytes,
      hypervisor: this.hypervisor,
    };
    if (d.migration) info.migration = this.#progress(d.migration);
    return info;
  }
}
