import { describe, expect, it } from 'vitest';
import { CapacityWaitlist } from '../../src/controllers/capacity-waitlist.ts';
import { VirtualClock } from '../../src/index.ts';

/** A waitlist whose wakes are recorded instead of queued. */
function setup() {
  const clock = new VirtualClock();
  const woken: string[] = [];
  const list = new CapacityWaitlist(clock, (key) => woken.push(key), 1000);
  return { clock, woken, list };
}

describe('CapacityWaitlist', () => {
  it('lets a key that is not waiting try, and a waiting one only once woken', () => {
    const { list, woken } = setup();
    expect(list.mayTry('a')).toBe(true);
    list.failed('a', 'small');
    expect(list.mayTry('a')).toBe(false);
    list.capacity();
    expect(woken).toEqual(['a']);
    expect(list.mayTry('a')).toBe(true);
    expect(list.mayTry('a')).toBe(false); // the permission is used up
  });

  it('wakes the oldest waiting key first and the next one once it has tried', () => {
    const { list, woken } = setup();
    for (const k of ['a', 'b', 'c']) list.failed(k, 'small');
    list.capacity();
    expect(woken).toEqual(['a']);
    list.placed('a');
    expect(woken).toEqual(['a', 'b']);
    list.placed('b');
    expect(woken).toEqual(['a', 'b', 'c']);
  });

  it('skips keys asking for what just failed, but not keys asking for something else', () => {
    const { list, woken } = setup();
    list.failed('big-1', 'big');
    list.failed('big-2', 'big');
    list.failed('small-1', 'small');
    list.capacity();
    expect(woken).toEqual(['big-1']);
    list.failed('big-1', 'big');
    // big-2 would fail the same way; small-1 may fit.
    expect(woken).toEqual(['big-1', 'small-1']);
    list.placed('small-1');
    expect(woken).toEqual(['big-1', 'small-1']);
    // New capacity: the big ones get their turn again, oldest first.
    list.capacity();
    expect(woken).toEqual(['big-1', 'small-1', 'big-1']);
  });

  it('re-evaluates every skipped key once, refreshMs after capacity changed', async () => {
    const { list, woken, clock } = setup();
    for (const k of ['a', 'b', 'c']) list.failed(k, 'small');
    list.capacity();
    list.failed('a', 'small');
    list.capacity();
    list.failed('a', 'small');
    expect(woken).toEqual(['a', 'a']);
    await clock.advance(999);
    expect(woken).toEqual(['a', 'a']);
    await clock.advance(1);
    expect(woken).toEqual(['a', 'a', 'a', 'b', 'c']);
    for (const k of ['a', 'b', 'c']) expect(list.mayTry(k)).toBe(true);
    // Nothing changed since: no further pass.
    await clock.advance(10_000);
    expect(woken).toHaveLength(5);
  });

  it('moves on when the woken key ends its reconcile without trying, and wakes each key once per change', () => {
    const { list, woken } = setup();
    list.failed('a', 'x');
    list.failed('b', 'y');
    list.capacity();
    expect(woken).toEqual(['a']);
    list.tried('a'); // e.g. it is being deleted
    expect(woken).toEqual(['a', 'b']);
    list.tried('b');
    expect(woken).toEqual(['a', 'b']);
    list.remove('a');
    list.capacity();
    expect(woken).toEqual(['a', 'b', 'b']);
  });

  it('stop cancels a pending re-evaluation', async () => {
    const { list, woken, clock } = setup();
    list.failed('a', 'x');
    list.failed('b', 'x');
    list.capacity();
    list.failed('a', 'x');
    list.stop();
    await clock.advance(5_000);
    expect(woken).toEqual(['a']);
  });
});
