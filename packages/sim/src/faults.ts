/**
 * Faults a simulated node can suffer. Each shows afterwards exactly as the real failure would: through
 * the events the node emits (or does not emit) and the errors its calls return.
 */

/** Where a migration can be made to fail. */
export type MigrationPhase = 'setup' | 'precopy' | 'switchover';

export type NodeFault =
  /**
   * The host dies (power loss, kernel panic). Its domains die with it, nothing is reported (the
   * connection is gone first), every call and ping fails with `NodeUnreachable` after the client's
   * timeout. `reportVmDeaths` models a host whose QEMU processes are killed a moment before it goes
   * dark (e.g. a runaway OOM killer): each running domain reports `Stopped/Failed` first.
   */
  | { kind: 'node-crash'; reportVmDeaths?: boolean }
  /** Boots a crashed host (or hard-resets a running one): it comes back empty after its boot time. */
  | { kind: 'node-restart'; immediate?: boolean }
  /** The node agent process dies; libvirt and the guests keep running. Calls fail at once. */
  | { kind: 'agent-crash' }
  /** The agent starts again and adopts the running domains. */
  | { kind: 'agent-restart'; immediate?: boolean }
  /** Packets between this node and `peer` (default: the control plane) are dropped. */
  | { kind: 'partition'; peer?: string }
  | { kind: 'heal'; peer?: string }
  /** The image store is full (`full: false` frees it). Fetches fail with `DiskFull`. */
  | { kind: 'disk-full'; full?: boolean }
  /** The next `count` (default 1) fetches of `image` (default: any) fail with `ImageFetchFailed`. */
  | { kind: 'image-fetch-failure'; image?: string; count?: number; message?: string }
  /** The guest kernel panics: panic lines, `Crashed/Panicked`, `Stopped/Crashed`. */
  | { kind: 'guest-crash'; domain: string }
  /** The QEMU process dies: `Stopped/Failed`. */
  | { kind: 'qemu-crash'; domain: string }
  /** The next `count` (default 1) boots of `domain` (default: any domain on this node) hang before ready. */
  | { kind: 'boot-hang'; domain?: string; count?: number }
  /** The guest ignores (or honours again) ACPI shutdown and reboot requests. */
  | { kind: 'ignore-acpi'; domain: string; ignore?: boolean }
  /** The next outgoing migration (of `domain`, default any) stops making progress after `afterIteration` rounds (default 1). */
  | { kind: 'migration-stall'; domain?: string; afterIteration?: number }
  /** The next outgoing migration (of `domain`, default any) fails in `phase` (precopy: after round `iteration`, default 1). */
  | { kind: 'migration-failure'; domain?: string; phase: MigrationPhase; iteration?: number; message?: string }
  /** Every duration on this node is multiplied by `factor` (1 restores). */
  | { kind: 'slow'; factor: number };

export type FaultKind = NodeFault['kind'];

/** When to apply a fault: now (default), at an absolute clock time, or after a delay. */
export type FaultTiming = { at: number } | { after: number };

export interface FaultRecord {
  /** Clock time the fault took effect. */
  at: number;
  node: string;
  fault: NodeFault;
}

/** `kind key=value ...` with keys sorted, for traces. */
export function describeFault(f: NodeFault): string {
  const parts: string[] = [f.kind];
  for (const k of Object.keys(f).sort()) {
    if (k === 'kind') continue;
    const v = (f as unknown as Record<string, unknown>)[k];
    if (v !== undefined) parts.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(' ');
}
