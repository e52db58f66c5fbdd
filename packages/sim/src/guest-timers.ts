/**
 * Timers in guest time: they only run while the guest's CPUs run. Pausing the domain (or the
 * stop-and-copy phase of a migration) freezes them with their remaining delays; resuming continues
 * them. Uptime counts running time only, as the guest's own clock would see it.
 */
import type { Clock, TimerHandle } from '@virtkit/engine';

interface Entry {
  fn: () => void;
  /** Clock time it fires at while running. */
  due: number;
  /** Remaining delay while frozen. */
  remaining: number;
  handle: TimerHandle | undefined;
}

export class GuestTimers {
  #clock: Clock;
  readonly #entries = new Set<Entry>();
  #frozen = false;
  #uptimeBase = 0;
  #runningSince: number;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#runningSince = clock.now();
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  get pending(): number {
    return this.#entries.size;
  }

  /** Guest uptime (running time since the last reset). */
  uptime(): number {
    return this.#frozen ? this.#uptimeBase : this.#uptimeBase + (this.#clock.now() - this.#runningSince);
  }

  /** A new boot: uptime starts from zero. */
  resetUptime(): void {
    this.#uptimeBase = 0;
    this.#runningSince = this.#clock.now();
  }

  schedule(ms: number, fn: () => void): void {
    const entry: Entry = { fn, due: this.#clock.now() + ms, remaining: ms, handle: undefined };
    this.#entries.add(entry);
    if (!this.#frozen) this.#arm(entry, ms);
  }

  freeze(): void {
    if (this.#frozen) return;
    const now = this.#clock.now();
    this.#uptimeBase += now - this.#runningSince;
    this.#frozen = true;
    for (const e of this.#entries) {
      e.handle?.cancel();
      e.handle = undefined;
      e.remaining = Math.max(0, e.due - now);
    }
  }

  thaw(): void {
    if (!this.#frozen) return;
    this.#frozen = false;
    this.#runningSince = this.#clock.now();
    // Re-arm in due order so equal delays keep their original order.
    for (const e of this.#entries) this.#arm(e, e.remaining);
  }

  /** The guest is gone (powered off, destroyed, crashed): nothing it scheduled happens. */
  cancelAll(): void {
    for (const e of this.#entries) e.handle?.cancel();
    this.#entries.clear();
  }

  #arm(e: Entry, ms: number): void {
    e.due = this.#clock.now() + ms;
    e.handle = this.#clock.setTimer(ms, () => {
      this.#entries.delete(e);
      e.fn();
    });
  }
}
