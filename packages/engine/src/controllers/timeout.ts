/** Bounding driver calls in time: a partitioned node may never answer. */
import { TimeoutError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';

/** Rejects with TimeoutError when `p` does not settle within `ms` of the clock's time. */
export function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = clock.setTimer(ms, () => reject(new TimeoutError(`no answer within ${ms} ms`)));
    p.then(
      (v) => {
        t.cancel();
        resolve(v);
      },
      (e) => {
        t.cancel();
        reject(e);
      },
    );
  });
}
