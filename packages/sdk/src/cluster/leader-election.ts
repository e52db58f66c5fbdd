/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it: the
 * leader renews the lease every retry period; a candidate takes it over once the lease has not changed
 * for a whole lease duration *as observed on the candidate's own clock* (holders' clocks may disagree, so
 * the lease's timestamps are informative only). Every write is conditional on the resourceVersion read,
 * so two candidates can never both win the same term.
 *
 * A leader that cannot renew within the renew deadline steps down before its lease can have expired for
 * anyone else (renewDeadline < leaseDuration), so at most one process acts as leader at a time as long as
 * the clocks tick at the same rate. `stop()` ends the leader's work (`onStoppedLeading` resolves) and then
 * releases the lease (empty holder), so a successor need not wait for it to expire.
 */
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  type Lease,
  NotFoundError,
  type ResourceStore,
} from '@virtkit/engine';

export interface LeaderElectorOptions {
  /** Where the Lease lives (a KubernetesStore on a cluster; any ResourceStore works). */
  store: ResourceStore;
  clock: Clock;
  namespace: string;
  /** The Lease's name, shared by every candidate for the same role. */
  name: string;
  /** This candidate's identity (pod name); must be unique among candidates. */
  identity: string;
  /** How long a lease is valid without renewal. Default 15 s. */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down. Default 10 s; must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Called once this candidate leads; `signal` aborts when it stops leading. */
  onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Called once after leadership ends (lost, or released by `stop`). */
  onStoppedLeading?: () => void | Promise<void>;
  /** Called when the observed leader changes (including to this candidate); '' when nobody holds it. */
  onNewLeader?: (identity: string) => void;
  /** Errors talking to the store (they are retried). */
  onError?: (err: unknown) => void;
}

/** RFC 3339 with microseconds: the MicroTime format Lease timestamps use. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #o: Required<Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> &
    LeaderElectorOptions;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #leading: AbortController | undefined;
  /** The lease as last read or written, and when (our clock) its content last changed. */
  #observed: Lease | undefined;
  #observedAt = 0;
  #leader = '';
  #lastRenew = 0;

  constructor(options: LeaderElectorOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(renewDeadlineMs < leaseDurationMs)) throw new Error('renewDeadlineMs must be less than leaseDurationMs');
    if (!(retryPeriodMs > 0 && retryPeriodMs < renewDeadlineMs)) {
      throw new Error('retryPeriodMs must be positive and less than renewDeadlineMs');
    }
    this.#o = { ...options, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** Whether this candidate currently leads. */
  get isLeader(): boolean {
    return this.#leading !== undefined;
  }

  /** The holder last observed ('' when none). */
  get leader(): string {
    return this.#leader;
  }

  /** Campaigns in the background until `stop()`; after losing leadership it campaigns again. */
  start(): void {
    if (this.#loop) throw new Error('leader elector already started');
    this.#loop = this.#run();
  }

  /** Stops campaigning; a leader releases the lease and is told `onStoppedLeading` first. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      // Candidate: try until we hold the lease.
      while (!signal.aborted && !(await this.#tryAcquireOrRenew())) await this.#sleep(this.#o.retryPeriodMs);
      if (signal.aborted) break;
      this.#lastRenew = this.#o.clock.now();
      const leading = new AbortController();
      this.#leading = leading;
      void Promise.resolve()
        .then(() => this.#o.onStartedLeading?.(leading.signal))
        .catch((err) => this.#o.onError?.(err));
      // Leader: renew until we cannot for a whole renew deadline, someone else holds it, or we stop.
      while (!signal.aborted) {
        await this.#sleep(this.#o.retryPeriodMs);
        if (signal.aborted) break;
        if (await this.#tryAcquireOrRenew()) {
          this.#lastRenew = this.#o.clock.now();
          continue;
        }
        const lost = this.#leader !== '' && this.#leader !== this.#o.identity;
        if (lost || this.#o.clock.now() - this.#lastRenew >= this.#o.renewDeadlineMs) break;
      }
      // The leader's work stops before the lease is given up, so a successor never overlaps with it.
      await this.#stepDown();
      if (signal.aborted) await this.#release();
    }
  }

  async #stepDown(): Promise<void> {
    const leading = this.#leading;
    if (!leading) return;
    this.#leading = undefined;
    leading.abort();
    try {
      await this.#o.onStoppedLeading?.();
    } catch (err) {
      this.#o.onError?.(err);
    }
  }

  /** Gives the lease up so a successor can take it at once (client-go's ReleaseOnCancel). */
  async #release(): Promise<void> {
    const lease = this.#observed;
    if (!lease || lease.spec?.holderIdentity !== this.#o.identity) return;
    try {
      const released = await this.#o.store.update('Lease', {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.#o.clock.now()) },
      });
      this.#observe(released);
    } catch (err) {
      // Lost the lease meanwhile, or cannot reach the server: it then expires on its own.
      this.#o.onError?.(err);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { store, namespace, name, identity, clock } = this.#o;
    const now = clock.now();
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    try {
      const current = await store.tryGet('Lease', namespace, name);
      if (!current) {
        const created = await store.create('Lease', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        this.#observe(created);
        return true;
      }
      this.#observe(current);
      const holder = current.spec?.holderIdentity ?? '';
      const held = holder !== '' && holder !== identity;
      const validForMs = (current.spec?.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (held && this.#observedAt + validForMs > clock.now()) return false;
      const spec = { ...current.spec, holderIdentity: identity, leaseDurationSeconds: durationSeconds };
      spec.renewTime = microTime(now);
      if (holder !== identity) {
        spec.acquireTime = microTime(now);
        spec.leaseTransitions = (current.spec?.leaseTransitions ?? 0) + 1;
      }
      this.#observe(await store.update('Lease', { ...current, spec }));
      return true;
    } catch (err) {
      // Someone else wrote first: not an error, just not us this time.
      if (!(err instanceof ConflictError || err instanceof AlreadyExistsError || err instanceof NotFoundError)) {
        this.#o.onError?.(err);
      }
      return false;
    }
  }

  #observe(lease: Lease): void {
    const before = this.#observed;
    if (
      !before ||
      before.metadata.resourceVersion !== lease.metadata.resourceVersion ||
      before.metadata.uid !== lease.metadata.uid
    ) {
      this.#observed = lease;
      this.#observedAt = this.#o.clock.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.#leader) {
      this.#leader = holder;
      try {
        this.#o.onNewLeader?.(holder);
      } catch (err) {
        this.#o.onError?.(err);
      }
    }
  }

  async #sleep(ms: number): Promise<void> {
    try {
      await this.#o.clock.sleep(ms, this.#stop.signal);
    } catch {
      // stopped
    }
  }
}
