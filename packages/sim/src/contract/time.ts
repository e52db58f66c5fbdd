/**
 * The two ways a contract run lets time pass: a virtual clock is driven timer by timer (a simulated
 * minute costs microseconds), a real clock is only waited on, in short bounded polls.
 */
import type { Clock, VirtualClock } from '@virtkit/engine';
import { CONTRACT_TIMEOUT, type ContractTime } from './types.ts';

/** Lets queued promise reactions run (the virtual clock does the same between timers). */
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Time for simulated nodes on `clock`: fires timers in order until the awaited thing happens. */
export function virtualTime(clock: VirtualClock): ContractTime {
  /** Advances to the next timer at or before `end`; false when there is none (nothing can change). */
  const step = async (end: number): Promise<boolean> => {
    await tick();
    const next = clock.nextTimerAt();
    if (next === undefined || next > end) return false;
    await clock.advanceTo(next);
    return true;
  };
  return {
    async settle<T>(p: Promise<T>, limitMs: number): Promise<T | typeof CONTRACT_TIMEOUT> {
      let done = false;
      const watched = p.finally(() => {
        done = true;
      });
      watched.catch(() => {});
      const end = clock.now() + limitMs;
      while (!done) {
        if (!(await step(end))) {
          await tick();
          if (!done) return CONTRACT_TIMEOUT;
        }
      }
      return watched;
    },
    async until(cond: () => boolean, limitMs: number): Promise<boolean> {
      const end = clock.now() + limitMs;
      while (!cond()) {
        if (!(await step(end))) {
          await tick();
          return cond();
        }
      }
      return true;
    },
  };
}

/** Time for real nodes: waits on `clock` (a `RealClock`), checking conditions every `pollMs`. */
export function clockTime(clock: Clock, pollMs = 25): ContractTime {
  return {
    async settle<T>(p: Promise<T>, limitMs: number): Promise<T | typeof CONTRACT_TIMEOUT> {
      const ac = new AbortController();
      const timeout = clock.sleep(limitMs, ac.signal).then(
        (): typeof CONTRACT_TIMEOUT => CONTRACT_TIMEOUT,
        (): typeof CONTRACT_TIMEOUT => CONTRACT_TIMEOUT,
      );
      try {
        return await Promise.race([p, timeout]);
      } finally {
        ac.abort();
      }
    },
    async until(cond: () => boolean, limitMs: number): Promise<boolean> {
      const end = clock.now() + limitMs;
      while (!cond()) {
        if (clock.now() >= end) return false;
        await clock.sleep(pollMs);
      }
      return true;
    },
  };
}
