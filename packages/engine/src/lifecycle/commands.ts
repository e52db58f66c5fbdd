/**
 * Pure bookkeeping of recorded driver commands: recording with ids, superseding, settling by
 * acknowledgement, error or outcome. The machine's actions are thin wrappers over these.
 */
import type { BackoffConfig, Command, CommandType, LifecycleContext, VMLifecycleEvent } from './types.ts';

/** A command as the machine asks for it; `id` and `at` are filled in when recorded. */
export type CommandSpec = Command extends infer C ? (C extends Command ? Omit<C, 'id' | 'at'> : never) : never;

/**
 * Commands a newly recorded command makes pointless while still unacknowledged. Stopping a VM drops a
 * start that was not yet issued; a destroy drops a shutdown. A command already running in the
 * controller finishes anyway (commands run one at a time, in order), so dropping is always safe.
 */
const SUPERSEDES: Partial<Record<CommandType, readonly CommandType[]>> = {
  shutdown: ['define', 'start', 'pause', 'resume', 'reboot', 'migrate'],
  destroy: ['define', 'start', 'pause', 'resume', 'reboot', 'migrate', 'shutdown'],
  undefine: ['define', 'start', 'pause', 'resume', 'reboot', 'migrate'],
  abortMigration: ['migrate'],
};

/** Which pending commands an outcome event proves done, so they are not re-issued after a restore. */
const SETTLED_BY: Partial<Record<VMLifecycleEvent['type'], readonly CommandType[]>> = {
  DEFINED: ['define'],
  STARTED: ['start'],
  GUEST_READY: ['start', 'reboot'],
  PAUSED: ['pause'],
  RESUMED: ['resume'],
  STOPPED: ['shutdown', 'destroy'],
  MIGRATION_PROGRESS: ['migrate'],
  MIGRATION_SUCCEEDED: ['migrate', 'abortMigration'],
  MIGRATION_FAILED: ['migrate', 'abortMigration'],
};

type Bookkeeping = Pick<LifecycleContext, 'pending' | 'nextCommandId' | 'domainNodes'>;

/**
 * Appends commands (after dropping the ones they supersede) and tracks nodes that may hold a domain.
 * A command equal to the last one pending for its node is redundant and not recorded again.
 */
export function record(ctx: Bookkeeping, at: number, specs: readonly CommandSpec[]): Bookkeeping {
  let pending = ctx.pending;
  let nextCommandId = ctx.nextCommandId;
  let domainNodes = ctx.domainNodes;
  for (const spec of specs) {
    const dropped = SUPERSEDES[spec.type];
    if (dropped) pending = pending.filter((c) => !dropped.includes(c.type));
    const last = pending.findLast((c) => c.node === spec.node);
    if (spec.type === 'migrate' || last?.type !== spec.type) {
      pending = [...pending, { ...spec, id: nextCommandId++, at } as Command];
    }
    const holder = spec.type === 'define' ? spec.node : spec.type === 'migrate' ? spec.target : undefined;
    if (holder !== undefined && !domainNodes.includes(holder)) domainNodes = [...domainNodes, holder];
  }
  return { pending, nextCommandId, domainNodes };
}

export function findPending(ctx: Pick<LifecycleContext, 'pending'>, id: number): Command | undefined {
  return ctx.pending.find((c) => c.id === id);
}

/** Pending commands that `event` settles: by id for ACK/DRIVER_ERROR, by type (and node) for outcomes. */
export function settledBy(ctx: Pick<LifecycleContext, 'pending'>, event: VMLifecycleEvent): Command[] {
  if (event.type === 'ACK' || event.type === 'DRIVER_ERROR') {
    const c = findPending(ctx, event.commandId);
    return c ? [c] : [];
  }
  const types = SETTLED_BY[event.type];
  if (!types) return [];
  const node = event.type === 'STOPPED' ? event.node : undefined;
  return ctx.pending.filter((c) => types.includes(c.type) && (node === undefined || c.node === node));
}

/**
 * Removes settled commands. A settled undefine frees its node unless the VM is placed there again or
 * later commands still concern it (a define queued after the undefine re-creates the domain there).
 */
export function settle(
  ctx: Bookkeeping & Pick<LifecycleContext, 'node'>,
  event: VMLifecycleEvent,
): Pick<Bookkeeping, 'pending' | 'domainNodes'> {
  const done = settledBy(ctx, event);
  if (done.length === 0) return { pending: ctx.pending, domainNodes: ctx.domainNodes };
  const pending = ctx.pending.filter((c) => !done.includes(c));
  const freed = done.filter((c) => c.type === 'undefine').map((c) => c.node);
  const stillUsed = (n: string) =>
    n === ctx.node || pending.some((c) => c.node === n || (c.type === 'migrate' && c.target === n));
  const domainNodes = ctx.domainNodes.filter((n) => !freed.includes(n) || stillUsed(n));
  return { pending, domainNodes };
}

/** Forgets a node that is gone: its pending commands can never run, its domains are the node's to reap. */
export function forgetNode(ctx: Bookkeeping, node: string): Pick<Bookkeeping, 'pending' | 'domainNodes'> {
  return {
    pending: ctx.pending.filter((c) => c.node !== node),
    domainNodes: ctx.domainNodes.filter((n) => n !== node),
  };
}

export function hasPending(ctx: Pick<LifecycleContext, 'pending'>, type: CommandType): boolean {
  return ctx.pending.some((c) => c.type === type);
}

/** Cleanup of every node that may hold a domain: optional destroy, then undefine. */
export function cleanupSpecs(nodes: readonly string[], destroy: boolean): CommandSpec[] {
  const specs: CommandSpec[] = [];
  if (destroy) for (const node of nodes) specs.push({ type: 'destroy', node });
  for (const node of nodes) specs.push({ type: 'undefine', node });
  return specs;
}

/** Back-off before retry number `failures` (1-based): exponential, capped. */
export function backoffDelay(config: BackoffConfig, failures: number): number {
  const n = Math.max(1, failures);
  // Cap the exponent too, so huge failure counts cannot overflow to Infinity/NaN.
  const exp = Math.min(n - 1, 64);
  return Math.min(config.initialMs * config.factor ** exp, config.maxMs);
}
