import type { Clock, TimerHandle } from '../ports/clock.ts';

/** The longest delay one Node timer can hold. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wall-clock time for production. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    // A Node timer holds at most 2^31-1 ms (~24.8 days); longer ones would fire after 1 ms instead (a watch
    // asked to last 30 days ended at once), so they run as a chain. An infinite delay never fires.
    if (ms === Number.POSITIVE_INFINITY) return { cancel: () => {} };
    let t: ReturnType<typeof setTimeout>;
    const arm = (left: number): void => {
      t = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left);
      t.unref?.();
    };
    arm(Number.isNaN(ms) ? 0 : Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** `sleep` for any Clock in terms of its `setTimer`. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      handle.cancel();
      reject(signal?.reason);
    };
    const handle = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
