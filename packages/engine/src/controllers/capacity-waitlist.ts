/**
 * Unschedulable VMIs waiting for capacity, and which of them may try again.
 *
 * Retrying every waiting VMI whenever capacity may have appeared costs waiting × changes attempts, each
 * a status write and an Event: ten thousand VMIs created while a thousand nodes register one by one made
 * millions. Instead the oldest waiting VMI tries first and the next one as soon as it has tried (a
 * chain), so placements happen in the same order and at the same virtual time as before. A VMI asking
 * for the same as one that just failed (same placement request, same scheduler state) would fail the
 * same way: it is skipped until capacity changes again, and the skipped ones are all re-evaluated
 * together once per `refreshMs` while changes keep coming, which keeps their status messages current
 * (Kubernetes' scheduler likewise requeues only pods an event may help, and backs off the rest).
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';

export class CapacityWaitlist {
  readonly #clock: Clock;
  readonly #wake: (key: string) => void;
  readonly #refreshMs: number;
  /** Waiting keys, oldest first, with the placement request they failed with. */
  #waiting = new Map<string, string>();
  /** Waiting keys allowed to try once more. */
  #retry = new Set<string>();
  /** The key the chain woke, until it has tried. */
  #chain: string | undefined;
  /** Requests that failed since capacity last changed. */
  #full = new Set<string>();
  /** Keys the chain woke since capacity last changed (each at most once, whatever its reconcile did). */
  #passed = new Set<string>();
  #refresh: TimerHandle | undefined;

  constructor(clock: Clock, wake: (key: string) => void, refreshMs: number) {
    this.#clock = clock;
    this.#wake = wake;
    this.#refreshMs = refreshMs;
  }

  /** Whether an unschedulable `key` may try now; consumes its permission. */
  mayTry(key: string): boolean {
    return !this.#waiting.has(key) || this.#retry.delete(key);
  }

  /** `key` was placed. */
  placed(key: string): void {
    this.#waiting.delete(key);
    this.#retry.delete(key);
    this.tried(key);
  }

  /** `key` did not fit; `request` identifies what it asked for (equal requests fail alike). */
  failed(key: string, request: string): void {
    this.#waiting.set(key, request);
    this.#full.add(request);
    this.tried(key);
  }

  /** `key` is gone or no longer scheduling. */
  remove(key: string): void {
    this.#waiting.delete(key);
    this.#retry.delete(key);
    this.tried(key);
  }

  /** A reconcile of `key` is over: if the chain was waiting for it, the next one goes. */
  tried(key: string): void {
    if (this.#chain !== key) return;
    this.#chain = undefined;
    this.#next();
  }

  /** Capacity may have appeared. */
  capacity(): void {
    this.#full.clear();
    this.#passed.clear();
    if (this.#waiting.size === 0) return;
    if (this.#chain === undefined) this.#next();
    this.#refresh ??= this.#clock.setTimer(this.#refreshMs, () => {
      this.#refresh = undefined;
      for (const key of this.#waiting.keys()) {
        this.#retry.add(key);
        this.#wake(key);
      }
    });
  }

  stop(): void {
    this.#refresh?.cancel();
    this.#refresh = undefined;
  }

  #next(): void {
    for (const [key, request] of this.#waiting) {
      if (this.#full.has(request) || this.#passed.has(key)) continue;
      this.#chain = key;
      this.#passed.add(key);
      this.#retry.add(key);
      this.#wake(key);
      return;
    }
  }
}
