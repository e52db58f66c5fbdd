import type { Clock, TimerHandle } from '../ports/clock.ts';
import { sleepOn } from './real-clock.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface VirtualClockOptions {
  /** Start time, ms since epoch. Default 2026-01-01T00:00:00Z so traces are stable. */
  start?: number;
  /**
   * Skip time automatically: whenever the process has nothing else to do (no pending microtasks or
   * immediates), jump to the next timer. A test that awaits a 10-minute timeout then finishes at once.
   */
  autoAdvance?: boolean;
}

/** Let queued promise reactions and I/O callbacks run before the next virtual instant. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/**
 * Virtual time. Timers fire in (time, creation order); time only moves by `advance`/`advanceTo`/
 * `runUntilIdle` or, with `autoAdvance`, when the process is otherwise idle.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Timer[] = [];
  #auto: boolean;
  #autoScheduled = false;
  #advancing = false;

  constructor(options: VirtualClockOptions = {}) {
    this.#now = options.start ?? Date.UTC(2026, 0, 1);
    this.#auto = options.autoAdvance ?? false;
  }

  now(): number {
    return this.#now;
  }

  get pendingTimers(): number {
    return this.#heap.filter((t) => !t.cancelled).length;
  }

  /** Time of the next pending timer, if any. */
  nextTimerAt(): number | undefined {
    this.#dropCancelledTop();
    return this.#heap[0]?.at;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#push(timer);
    this.#scheduleAuto();
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  get autoAdvance(): boolean {
    return this.#auto;
  }

  set autoAdvance(on: boolean) {
    this.#auto = on;
    this.#scheduleAuto();
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order, settling between them. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  async advanceTo(target: number): Promise<void> {
    this.#advancing = true;
    try {
      await settle();
      for (;;) {
        this.#dropCancelledTop();
        const next = this.#heap[0];
        if (!next || next.at > target) break;
        this.#pop();
        this.#now = Math.max(this.#now, next.at);
        next.fn();
        await settle();
      }
      this.#now = Math.max(this.#now, target);
    } finally {
      this.#advancing = false;
    }
  }

  /** Fires timers until none is left (or `maxTimers` fired, to stop runaway periodic timers). */
  async runUntilIdle(maxTimers = 1_000_000): Promise<number> {
    let fired = 0;
    await settle();
    while (fired < maxTimers) {
      this.#dropCancelledTop();
      const next = this.#heap[0];
      if (!next) break;
      this.#pop();
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      fired++;
      await settle();
    }
    return fired;
  }

  #scheduleAuto(): void {
    if (!this.#auto || this.#autoScheduled) return;
    this.#autoScheduled = true;
    // setImmediate runs after pending microtasks and I/O callbacks: a cheap "the process is idle" test.
    setImmediate(() => this.#autoStep());
  }

  #autoStep(): void {
    this.#autoScheduled = false;
    if (!this.#auto || this.#advancing) return;
    this.#dropCancelledTop();
    const next = this.#heap[0];
    if (!next) return;
    this.#pop();
    this.#now = Math.max(this.#now, next.at);
    next.fn();
    this.#scheduleAuto();
  }

  #dropCancelledTop(): void {
    while (this.#heap[0]?.cancelled) this.#pop();
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
