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
  const snapshot = isActor(source) ? source.getSnapshot() : source;
  return {
    format: LIFECYCLE_SNAPSHOT_FORMAT,
    version: LIFECYCLE_SNAPSHOT_VERSION,
    snapshot: persistedSnapshot(snapshot),
  };
}

/**
 * `JSON.parse(JSON.stringify(machine.getPersistedSnapshot(s)))`, built directly: it is written on every
 * transition of every VMI, and xstate's generic walk (looking for actor references in the context) and
 * the text round trip cost more than the transition. The machine has no child actors and no history
 * states; a snapshot that has either takes xstate's own path.
 */
function persistedSnapshot(s: LifecycleSnapshot): Record<string, unknown> {
  if (!isEmpty(s.children) || !isEmpty(s.historyValue)) {
    return JSON.parse(JSON.stringify(lifecycleMachine.getPersistedSnapshot(s))) as Record<string, unknown>;
  }
  // Same members in the same order as xstate's (`output` and `error` only when set, as JSON drops undefined).
  const out: Record<string, unknown> = { status: s.status };
  if (s.output !== undefined) out.output = jsonCopy(s.output);
  if (s.error !== undefined) out.error = jsonCopy(s.error);
  out.value = jsonCopy(s.value);
  out.historyValue = {};
  out.context = jsonCopy(s.context);
  out.children = {};
  return out;
}

function isEmpty(o: object | undefined): boolean {
  for (const _ in o) return false;
  return true;
}

/** What a JSON round trip makes of plain data: undefined members dropped, in arrays null, `toJSON` honoured. */
function jsonCopy(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'object': {
      if (v === null) return null;
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function')
        return jsonCopy((v as { toJSON(): unknown }).toJSON());
      if (Array.isArray(v)) {
        const out = new Array<unknown>(v.length);
        for (let i = 0; i < v.length; i++) out[i] = jsonCopy(v[i]) ?? null;
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        const c = jsonCopy((v as Record<string, unknown>)[key]);
        if (c === undefined) continue;
        if (key === '__proto__')
          Object.defineProperty(out, key, { value: c, enumerable: true, writable: true, configurable: true });
        else out[key] = c;
      }
      return out;
    }
    default:
      return undefined;
  }
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
