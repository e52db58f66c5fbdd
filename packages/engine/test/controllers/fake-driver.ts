/**
 * A small in-test NodeDriver at the port boundary: domains with libvirt-like states, the canonical event
 * sequences, timings on the injected clock, and knobs for the faults the controllers must handle
 * (partition, guest crash, guest shutdown, ignored ACPI, failing/stalling migrations). Every mutating call
 * is logged so tests can assert there were no duplicates.
 */
import {
  type Clock,
  type DomainDefinition,
  type DomainEvent,
  type DomainInfo,
  DriverError,
  type MigrateOptions,
  type MigrationResult,
  type NodeDriver,
  type NodeInfo,
  type Unsubscribe,
  vmiSpecResources,
} from '../../src/index.ts';

interface Migration {
  target: string;
  reject: (e: unknown) => void;
  resolve: (r: MigrationResult) => void;
  timers: { cancel(): void }[];
}

interface Domain {
  def: DomainDefinition;
  state: DomainInfo['state'];
  reason: string;
  guestReady: boolean;
  cpuMillis: number;
  memoryBytes: number;
  bootTimer?: { cancel(): void } | undefined;
  migration?: Migration | undefined;
}

export interface FakeNodeOptions {
  cpuMillis?: number;
  memoryBytes?: number;
  vms?: number;
  labels?: Record<string, string>;
  hypervisor?: 'kvm' | 'qemu';
  /** From start to guest-ready. */
  bootMs?: number;
  /** From ACPI power-off to stopped. */
  shutdownMs?: number;
  /** Whole migration duration. */
  migrationMs?: number;
}

export type Fabric = Map<string, FakeNode>;

const GiB = 1024 ** 3;

export class FakeNode implements NodeDriver {
  readonly nodeName: string;
  readonly calls: string[] = [];
  readonly domains = new Map<string, Domain>();
  partitioned = false;
  ignoreAcpi = false;
  failMigrations = false;
  stallMigrations = false;
  /** When set, every guest crashes this long after it was started. */
  crashAfterMs: number | undefined;
  /** The next this many getDomain calls fail as unanswered in time (a node that is slow, not lost). */
  failedReads = 0;
  /** The same for info calls. */
  failedInfos = 0;
  readonly #clock: Clock;
  readonly #fabric: Fabric;
  readonly #opts: Required<Omit<FakeNodeOptions, 'labels'>> & { labels: Record<string, string> };
  #listeners = new Set<(e: DomainEvent) => void>();

  constructor(name: string, clock: Clock, fabric: Fabric, options: FakeNodeOptions = {}) {
    this.nodeName = name;
    this.#clock = clock;
    this.#fabric = fabric;
    this.#opts = {
      cpuMillis: options.cpuMillis ?? 8000,
      memoryBytes: options.memoryBytes ?? 16 * GiB,
      vms: options.vms ?? 110,
      labels: options.labels ?? {},
      hypervisor: options.hypervisor ?? 'kvm',
      bootMs: options.bootMs ?? 2000,
      shutdownMs: options.shutdownMs ?? 1000,
      migrationMs: options.migrationMs ?? 4000,
    };
    fabric.set(name, this);
  }

  /** Mutating calls of one kind, e.g. `count('startDomain')`. */
  count(op: string): number {
    return this.calls.filter((c) => c.startsWith(`${op} `)).length;
  }

  running(): string[] {
    return [...this.domains.values()].filter((d) => d.state === 'running' || d.state === 'paused').map((d) => d.def.id);
  }

  #check(): Promise<void> {
    if (this.partitioned)
      return Promise.reject(new DriverError('NodeUnreachable', this.nodeName, 'node is unreachable'));
    return Promise.resolve();
  }

  #emit(domain: Domain, e: Record<string, unknown>): void {
    if (this.partitioned) return;
    const ev = {
      node: this.nodeName,
      domain: domain.def.id,
      uid: domain.def.uid,
      at: this.#clock.now(),
      ...e,
    } as DomainEvent;
    queueMicrotask(() => {
      for (const l of [...this.#listeners]) l(ev);
    });
  }

  #get(id: string): Domain {
    const d = this.domains.get(id);
    if (!d) throw new DriverError('DomainNotFound', this.nodeName, `domain ${id} not found`);
    return d;
  }

  async info(): Promise<NodeInfo> {
    await this.#check();
    if (this.failedInfos > 0) {
      this.failedInfos--;
      throw new DriverError('NodeUnreachable', this.nodeName, 'info: no answer in time');
    }
    const cap = { cpuMillis: this.#opts.cpuMillis, memoryBytes: this.#opts.memoryBytes, vms: this.#opts.vms };
    return {
      name: this.nodeName,
      capacity: cap,
      allocatable: cap,
      labels: this.#opts.labels,
      hypervisor: this.#opts.hypervisor,
      ...(this.#opts.hypervisor === 'qemu' ? { emulationReason: '/dev/kvm is missing' } : {}),
      versions: { fake: '1' },
    };
  }

  async ping(): Promise<void> {
    await this.#check();
  }

  async defineDomain(def: DomainDefinition): Promise<DomainInfo> {
    await this.#check();
    this.calls.push(`defineDomain ${def.id}`);
    const existing = this.domains.get(def.id);
    if (existing) {
      if (existing.def.uid === def.uid) return this.#info(existing);
      throw new DriverError('DomainExists', this.nodeName, `domain ${def.id} exists with another uid`);
    }
    const req = vmiSpecResources(def.spec);
    let cpu = 0;
    let mem = 0;
    for (const d of this.domains.values()) {
      cpu += d.cpuMillis;
      mem += d.memoryBytes;
    }
    if (cpu + req.cpuMillis > this.#opts.cpuMillis || mem + req.memoryBytes > this.#opts.memoryBytes) {
      throw new DriverError('InsufficientResources', this.nodeName, `domain ${def.id} does not fit`);
    }
    const d: Domain = { def, state: 'shutoff', reason: 'unknown', guestReady: false, ...req };
    this.domains.set(def.id, d);
    this.#emit(d, { type: 'lifecycle', event: 'Defined', detail: 'Added' });
    return this.#info(d);
  }

  #boot(d: Domain): void {
    d.guestReady = false;
    d.bootTimer?.cancel();
    d.bootTimer = this.#clock.setTimer(this.#opts.bootMs, () => {
      d.bootTimer = undefined;
      if (d.state !== 'running') return;
      d.guestReady = true;
      this.#emit(d, { type: 'guest-ready', via: 'console' });
    });
  }

  async startDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`startDomain ${id}`);
    const d = this.#get(id);
    if (d.state === 'running' || d.state === 'paused')
      throw new DriverError('InvalidState', this.nodeName, 'domain is already running');
    d.state = 'running';
    d.reason = 'booted';
    this.#emit(d, { type: 'lifecycle', event: 'Started', detail: 'Booted' });
    this.#boot(d);
    if (this.crashAfterMs !== undefined) {
      this.#clock.setTimer(this.crashAfterMs, () => {
        if (d.state === 'running' && this.domains.get(id) === d) this.crash(id);
      });
    }
  }

  #stop(d: Domain, detail: 'Shutdown' | 'Destroyed' | 'Crashed' | 'Migrated', reason: string): void {
    d.state = 'shutoff';
    d.reason = reason;
    d.guestReady = false;
    d.bootTimer?.cancel();
    d.bootTimer = undefined;
    this.#emit(d, { type: 'lifecycle', event: 'Stopped', detail });
  }

  async shutdownDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`shutdownDomain ${id}`);
    const d = this.#get(id);
    if (d.state !== 'running') throw new DriverError('InvalidState', this.nodeName, 'domain is not running');
    if (this.ignoreAcpi) return;
    this.#clock.setTimer(this.#opts.shutdownMs, () => {
      if (d.state !== 'running') return;
      this.#emit(d, { type: 'lifecycle', event: 'Shutdown', detail: 'Finished' });
      this.#stop(d, 'Shutdown', 'shutdown');
    });
  }

  async destroyDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`destroyDomain ${id}`);
    const d = this.domains.get(id);
    if (!d || d.state === 'shutoff') return;
    this.#stop(d, 'Destroyed', 'destroyed');
  }

  async pauseDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`pauseDomain ${id}`);
    const d = this.#get(id);
    if (d.state !== 'running') throw new DriverError('InvalidState', this.nodeName, 'domain is not running');
    d.state = 'paused';
    this.#emit(d, { type: 'lifecycle', event: 'Suspended', detail: 'Paused' });
  }

  async resumeDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`resumeDomain ${id}`);
    const d = this.#get(id);
    if (d.state !== 'paused') throw new DriverError('InvalidState', this.nodeName, 'domain is not paused');
    d.state = 'running';
    this.#emit(d, { type: 'lifecycle', event: 'Resumed', detail: 'Unpaused' });
  }

  async rebootDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`rebootDomain ${id}`);
    const d = this.#get(id);
    if (d.state !== 'running') throw new DriverError('InvalidState', this.nodeName, 'domain is not running');
    this.#boot(d);
  }

  async undefineDomain(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`undefineDomain ${id}`);
    const d = this.domains.get(id);
    if (!d) return;
    if (d.state === 'running' || d.state === 'paused')
      throw new DriverError('InvalidState', this.nodeName, 'domain is running');
    this.domains.delete(id);
    this.#emit(d, { type: 'lifecycle', event: 'Undefined', detail: 'Removed' });
  }

  async getDomain(id: string): Promise<DomainInfo | undefined> {
    await this.#check();
    if (this.failedReads > 0) {
      this.failedReads--;
      throw new DriverError('NodeUnreachable', this.nodeName, 'getDomain: no answer in time');
    }
    const d = this.domains.get(id);
    return d ? this.#info(d) : undefined;
  }

  async listDomains(): Promise<DomainInfo[]> {
    await this.#check();
    return [...this.domains.values()].map((d) => this.#info(d));
  }

  async migrateDomain(id: string, targetNode: string, _options?: MigrateOptions): Promise<MigrationResult> {
    await this.#check();
    this.calls.push(`migrateDomain ${id} ${targetNode}`);
    const d = this.#get(id);
    if (d.state !== 'running') throw new DriverError('InvalidState', this.nodeName, 'domain is not running');
    if (d.migration) throw new DriverError('InvalidState', this.nodeName, 'a migration is already running');
    const target = this.#fabric.get(targetNode);
    if (!target || target === this) throw new DriverError('MigrationFailed', this.nodeName, `no target ${targetNode}`);
    const total = d.memoryBytes || GiB;
    return new Promise<MigrationResult>((resolve, reject) => {
      const started = this.#clock.now();
      const timers: { cancel(): void }[] = [];
      d.migration = { target: targetNode, resolve, reject, timers };
      this.#emit(d, { type: 'migration', phase: 'started', targetNode });
      const steps = 4;
      for (let i = 1; i <= steps; i++) {
        timers.push(
          this.#clock.setTimer((this.#opts.migrationMs * i) / (steps + 1), () => {
            const remaining = this.stallMigrations ? total / 2 : Math.round(total * (1 - i / steps));
            this.#emit(d, {
              type: 'migration',
              phase: 'progress',
              targetNode,
              progress: {
                dataTotal: total,
                dataProcessed: total - remaining,
                dataRemaining: remaining,
                iteration: i,
                elapsedMs: this.#clock.now() - started,
              },
            });
          }),
        );
      }
      timers.push(
        this.#clock.setTimer(this.#opts.migrationMs, () => {
          if (this.stallMigrations) return;
          d.migration = undefined;
          if (this.failMigrations || target.partitioned || this.partitioned) {
            const error = { reason: 'MigrationFailed' as const, message: 'injected migration failure' };
            this.#emit(d, { type: 'migration', phase: 'failed', targetNode, error });
            reject(new DriverError('MigrationFailed', this.nodeName, error.message));
            return;
          }
          target.#arrive(d);
          this.#emit(d, { type: 'migration', phase: 'completed', targetNode, downtimeMs: 25 });
          this.#stop(d, 'Migrated', 'migrated');
          resolve({
            targetNode,
            downtimeMs: 25,
            durationMs: this.#clock.now() - started,
            bytesTransferred: total,
            iterations: steps,
          });
        }),
      );
    });
  }

  #arrive(src: Domain): void {
    const d: Domain = {
      def: src.def,
      state: 'running',
      reason: 'migrated',
      guestReady: true,
      cpuMillis: src.cpuMillis,
      memoryBytes: src.memoryBytes,
    };
    this.domains.set(src.def.id, d);
    this.#emit(d, { type: 'lifecycle', event: 'Started', detail: 'Migrated' });
  }

  async abortMigration(id: string): Promise<void> {
    await this.#check();
    this.calls.push(`abortMigration ${id}`);
    const d = this.domains.get(id);
    const m = d?.migration;
    if (!d || !m) return;
    for (const t of m.timers) t.cancel();
    d.migration = undefined;
    const error = { reason: 'MigrationAborted' as const, message: 'migration aborted' };
    this.#emit(d, { type: 'migration', phase: 'aborted', targetNode: m.target, error });
    m.reject(new DriverError('MigrationAborted', this.nodeName, error.message));
  }

  async *console(): AsyncIterable<string> {
    // Not needed by the controllers.
  }

  onEvent(listener: (event: DomainEvent) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {}

  /** Guest-side faults. */
  crash(id: string): void {
    const d = this.#get(id);
    this.#emit(d, { type: 'lifecycle', event: 'Crashed', detail: 'Panicked' });
    this.#stop(d, 'Crashed', 'crashed');
  }

  guestShutdown(id: string): void {
    const d = this.#get(id);
    this.#emit(d, { type: 'lifecycle', event: 'Shutdown', detail: 'Finished' });
    this.#stop(d, 'Shutdown', 'shutdown');
  }

  #info(d: Domain): DomainInfo {
    return {
      id: d.def.id,
      uid: d.def.uid,
      state: d.state,
      reason: d.reason,
      guestReady: d.guestReady,
      vcpus: 1,
      memoryBytes: d.memoryBytes,
      hypervisor: this.#opts.hypervisor,
      ...(d.migration
        ? {
            migration: {
              dataTotal: d.memoryBytes,
              dataProcessed: 0,
              dataRemaining: d.memoryBytes,
              iteration: 1,
              elapsedMs: 0,
            },
          }
        : {}),
    };
  }
}
