/**
 * The Clock port. Everything in the engine, simulator and agent that waits or timestamps takes time
 * from an injected Clock, so tests run in virtual time and restored state keeps its deadlines.
 */

export interface TimerHandle {
  /** Cancels the timer; a no-op when it already fired or was cancelled. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds of this clock's time. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** RFC 3339 timestamp (second precision, like Kubernetes) for a clock reading. */
export function isoTime(ms: number): string {
  // Called for every condition and status written; readings cluster in the same second.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    lastSecond = second;
  }
  return lastText;
}

let lastSecond = Number.NaN;
let lastText = '';
