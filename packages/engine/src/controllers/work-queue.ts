/**
 * A controller work queue as client-go's: keys are deduplicated while waiting, one key is never processed
 * by two workers at once (a key added while in process runs again afterwards), failures are retried with
 * exponential back-off per key, and delayed adds run on the injected clock. Keys only: the reconciler
 * reads the current state itself, so nothing here needs to survive a restart.
 */
import { ConflictError } from '../errors.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';

export interface ReconcileResult {
  /** Process the key again after this long (e.g. to check a deadline). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult | undefined>;

export interface WorkQueueOptions {
  name: string;
  /** Keys processed at the same time (different keys only). */
  concurrency?: number;
  /** First retry delay after a failure; doubles per consecutive failure of the same key. */
  baseRetryMs?: number;
  maxRetryMs?: number;
  onError?: (key: string, err: unknown) => void;
}

export class WorkQueue {
  readonly name: string;
  readonly #clock: Clock;
  readonly #reconcile: Reconciler;
  readonly #concurrency: number;
  readonly #baseRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #onError: (key: string, err: unknown) => void;

  #queue: string[] = [];
  #head = 0;
  #queued = new Set<string>();
  #processing = new Set<string>();
  #dirty = new Set<string>();
  #failures = new Map<string, number>();
  #delayed = new Map<string, { at: number; timer: TimerHandle }>();
  #workers = 0;
  #running = false;
  #idleWaiters: (() => void)[] = [];

  constructor(clock: Clock, reconcile: Reconciler, options: WorkQueueOptions) {
    this.name = options.name;
    this.#clock = clock;
    this.#reconcile = reconcile;
    this.#concurrency = options.concurrency ?? 4;
    this.#baseRetryMs = options.baseRetryMs ?? 200;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
    this.#onError = options.onError ?? (() => {});
  }

  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Nothing queued and nothing in process (delayed keys may still be waiting for their time). */
  get idle(): boolean {
    return this.length === 0 && this.#processing.size === 0;
  }

  add(key: string): void {
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  /** Adds the key after `ms`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimer(ms, () => {
      this.#delayed.delete(key);
      this.add(key);
    });
    this.#delayed.set(key, { at, timer });
  }

  /** Re-adds after the key's back-off delay, which doubles per consecutive failure. */
  addRateLimited(key: string): void {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    this.addAfter(key, Math.min(this.#baseRetryMs * 2 ** Math.min(n - 1, 30), this.#maxRetryMs));
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** Stops taking keys and waits for the ones in process. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const d of this.#delayed.values()) d.timer.cancel();
    this.#delayed.clear();
    while (this.#processing.size > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
  }

  #pump(): void {
    while (this.#running && this.#workers < this.#concurrency && this.length > 0) {
      const key = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#queued.delete(key);
      this.#processing.add(key);
      this.#workers++;
      void this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    try {
      const res = await this.#reconcile(key);
      this.forget(key);
      if (res?.requeueAfterMs !== undefined) this.addAfter(key, res.requeueAfterMs);
    } catch (err) {
      // A conflict only means our cached copy was stale: retry (with back-off) without reporting it.
      if (!(err instanceof ConflictError)) this.#onError(key, err);
      this.addRateLimited(key);
    } finally {
      this.#processing.delete(key);
      this.#workers--;
      if (this.#dirty.delete(key)) this.add(key);
      this.#pump();
      if (this.#processing.size === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
