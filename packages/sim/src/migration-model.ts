/**
 * QEMU pre-copy live migration as arithmetic. Round 1 sends every non-zero page; each later round sends
 * the pages the guest dirtied while the previous round was on the wire. When what is left could be sent
 * within the allowed downtime, QEMU stops the guest and sends it (stop-and-copy). When the guest dirties
 * pages at least as fast as the link sends them, the remainder never shrinks: QEMU keeps iterating and
 * only a timeout (or abort) ends the migration.
 */

/** Milliseconds to send `bytes` at `bandwidth` bytes/s; at least 1 ms per round so time always moves. */
export function sendMs(bytes: number, bandwidth: number): number {
  if (bandwidth <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.ceil((bytes / bandwidth) * 1000));
}

/** Bytes dirtied during `ms` at `dirtyRate` bytes/s; never more than the guest's memory. */
export function dirtiedBytes(ms: number, dirtyRate: number, memoryBytes: number): number {
  return Math.min(memoryBytes, Math.round((dirtyRate * ms) / 1000));
}

/** Whether `remaining` bytes fit in the allowed downtime. */
export function canSwitchOver(remaining: number, bandwidth: number, maxDowntimeMs: number): boolean {
  return bandwidth > 0 && (remaining / bandwidth) * 1000 <= maxDowntimeMs;
}

export interface PrecopyPlanInput {
  memoryBytes: number;
  /** Bytes of round 1 (non-zero pages). */
  firstRoundBytes: number;
  bandwidth: number;
  dirtyRate: number;
  maxDowntimeMs: number;
  /** Stop planning after this many rounds. */
  maxRounds?: number;
}

export interface PlannedRound {
  iteration: number;
  sentBytes: number;
  durationMs: number;
  /** Dirty bytes left when the round ends. */
  remainingBytes: number;
}

/** The rounds a migration would run, and whether it converges within `maxRounds`. */
export function planPrecopy(p: PrecopyPlanInput): { rounds: PlannedRound[]; converges: boolean } {
  const rounds: PlannedRound[] = [];
  let send = p.firstRoundBytes;
  const max = p.maxRounds ?? 1000;
  for (let i = 1; i <= max; i++) {
    const durationMs = sendMs(send, p.bandwidth);
    const remainingBytes = dirtiedBytes(durationMs, p.dirtyRate, p.memoryBytes);
    rounds.push({ iteration: i, sentBytes: send, durationMs, remainingBytes });
    if (canSwitchOver(remainingBytes, p.bandwidth, p.maxDowntimeMs)) return { rounds, converges: true };
    send = remainingBytes;
  }
  return { rounds, converges: false };
}
