import { isoTime, VirtualClock } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

describe('VirtualClock', () => {
  it('fires timers in time then creation order and only when advanced', async () => {
    const clock = new VirtualClock({ start: 0 });
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(20, () => fired.push('c'));
    const cancelled = clock.setTimer(15, () => fired.push('x'));
    cancelled.cancel();
    await clock.advance(10);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(10);
    await clock.advance(100);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.now()).toBe(110);
  });

  it('lets promise chains run between timers', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    const run = async () => {
      await clock.sleep(5);
      seen.push(clock.now());
      await clock.sleep(5);
      seen.push(clock.now());
    };
    const done = run();
    await clock.advance(10);
    await done;
    expect(seen).toEqual([5, 10]);
  });

  it('skips idle time automatically when autoAdvance is on', async () => {
    const clock = new VirtualClock({ start: 0, autoAdvance: true });
    const t0 = performance.now();
    await clock.sleep(10 * 60_000);
    expect(clock.now()).toBe(600_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('rejects a sleep when its signal aborts', async () => {
    const clock = new VirtualClock({ start: 0 });
    const ac = new AbortController();
    const p = clock.sleep(1000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('isoTime', () => {
  it('gives second-precision RFC 3339 for any reading, whatever came before', () => {
    const want = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    for (const ms of [0, 999, 1000, -1, 1767225606588, 1767225606999, 1767225607000, 0, 8.64e15]) {
      expect(isoTime(ms)).toBe(want(ms));
    }
    for (let i = 0; i < 2; i++) {
      expect(() => isoTime(1e20)).toThrow(RangeError);
      expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    }
    expect(isoTime(1000)).toBe('1970-01-01T00:00:01Z');
  });
});
