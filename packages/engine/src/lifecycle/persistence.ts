/**
 * Persistence of a lifecycle actor in `status.virtkit`: a versioned, JSON-safe envelope around xstate's
 * persisted snapshot. Restoring never re-runs anything (the machine has no invoked actors or delayed
 * transitions); pending commands and absolute deadlines come back exactly as they were.
 */
import { createActor } from 'xstate';
import { VirtkitError } from '../errors.ts';
import { lifecycleMachine } from './machine.ts';
import type { LifecycleActor, LifecycleSnapshot } from './snapshot.ts';

export const LIFECYCLE_SNAPSHOT_FORMAT = 'virtkit.io/lifecycle';
/** Bump when a change to states or context makes older snapshots unreadable (and add a migration). */
export const LIFECYCLE_SNAPSHOT_VERSION = 1;

export interface PersistedLifecycle {
  format: typeof LIFECYCLE_SNAPSHOT_FORMAT;
  version: number;
  /** xstate's persisted snapshot: `value`, `context`, `status`, ... */
  snapshot: Record<string, unknown>;
}

/** A persisted lifecycle that cannot be read: unknown version, foreign object or invalid state. */
export class LifecycleSnapshotError extends VirtkitError {
  static override readonly brandName = 'LifecycleSnapshotError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('StoreCorrupt', `lifecycle snapshot: ${message}`, 500, options);
  }
}

function isActor(x: LifecycleActor | LifecycleSnapshot): x is LifecycleActor {
  return typeof (x as LifecycleActor).getPersistedSnapshot === 'function';
}

/** A JSON-safe copy of the actor's (or snapshot's) state, tagged with format and version. */
export function persist(source: LifecycleActor | LifecycleSnapshot): PersistedLifecycle {
  const raw = isActor(source) ? source.getPersistedSnapshot() : lifecycleMachine.getPersistedSnapshot(source);
  return {
    format: LIFECYCLE_SNAPSHOT_FORMAT,
    version: LIFECYCLE_SNAPSHOT_VERSION,
    snapshot: JSON.parse(JSON.stringify(raw)) as Record<string, unknown>,
  };
}

function check(json: unknown): PersistedLifecycle {
  if (typeof json !== 'object' || json === null) throw new LifecycleSnapshotError('not an object');
  const p = json as Partial<PersistedLifecycle>;
  if (p.format !== LIFECYCLE_SNAPSHOT_FORMAT) {
    throw new LifecycleSnapshotError(`format is ${JSON.stringify(p.format)}, expected "${LIFECYCLE_SNAPSHOT_FORMAT}"`);
  }
  if (p.version !== LIFECYCLE_SNAPSHOT_VERSION) {
    throw new LifecycleSnapshotError(
      `unsupported version ${JSON.stringify(p.version)}; this engine reads version ${LIFECYCLE_SNAPSHOT_VERSION}`,
    );
  }
  const s = p.snapshot;
  if (typeof s !== 'object' || s === null || typeof s.context !== 'object' || s.value === undefined) {
    throw new LifecycleSnapshotError('missing snapshot value or context');
  }
  return p as PersistedLifecycle;
}

/** Restores a started actor from `persist`'s output (`createActor(machine, { snapshot })`). */
export function restore(json: unknown): LifecycleActor {
  const p = check(json);
  let actor: LifecycleActor;
  try {
    // Resolving validates the state value against the machine before an actor exists.
    lifecycleMachine.resolveState({
      value: p.snapshot.value as never,
      context: p.snapshot.context as never,
    });
    actor = createActor(lifecycleMachine, { snapshot: p.snapshot as never });
  } catch (cause) {
    throw new LifecycleSnapshotError(`invalid snapshot: ${(cause as Error).message}`, { cause });
  }
  actor.start();
  return actor;
}

/** Restores just the snapshot, for pure use with `send(snapshot, event)`. */
export function restoreSnapshot(json: unknown): LifecycleSnapshot {
  const actor = restore(json);
  const snapshot = actor.getSnapshot();
  actor.stop();
  return snapshot;
}
