/**
 * Maps a lifecycle snapshot to the strings KubeVirt shows: the VM's printableStatus, the VMI's phase and
 * the phase of the current (or last) migration, plus the VMI's migrationState block.
 */
import { isoTime } from '../ports/clock.ts';
import type {
  MigrationPhase,
  PrintableStatus,
  VirtualMachineInstanceMigrationState,
  VMIPhase,
} from '../resources/kubevirt.ts';
import type { LifecycleSnapshot } from './snapshot.ts';
import type { DeadlineKind } from './types.ts';

/** Dotted path of the snapshot's leaf state, e.g. `running.ready` or `failed.backingOff`. */
export function stateName(snapshot: LifecycleSnapshot): string {
  return statePath(snapshot).join('.');
}

/**
 * The active states from the outermost, e.g. `['creating', 'scheduling', 'unschedulable']`, read off the
 * state value (the machine has no parallel states, so it is one path): the mappings below run several
 * times per reconcile of every VMI, and `matches` resolves its argument each time.
 */
function statePath(snapshot: LifecycleSnapshot): string[] {
  const parts: string[] = [];
  let v: unknown = snapshot.value;
  while (v !== undefined) {
    if (typeof v === 'string') {
      parts.push(v);
      break;
    }
    let next: unknown;
    let found = false;
    for (const key in v as Record<string, unknown>) {
      parts.push(key);
      next = (v as Record<string, unknown>)[key];
      found = true;
      break;
    }
    if (!found) break;
    v = next;
  }
  return parts;
}

const imageProblem = (snapshot: LifecycleSnapshot) => snapshot.context.lastFailure?.reason === 'ImageFetchFailed';

export function printableStatus(snapshot: LifecycleSnapshot): PrintableStatus {
  const [top, sub, leaf] = statePath(snapshot);
  switch (top) {
    case 'stopped':
      return 'Stopped';
    case 'creating':
      if (sub === 'provisioning') return 'Provisioning';
      return sub === 'scheduling' && leaf === 'unschedulable' ? 'ErrorUnschedulable' : 'Starting';
    case 'running':
      return 'Running';
    case 'paused':
      return 'Paused';
    case 'migrating':
      return 'Migrating';
    case 'stopping':
      return 'Stopping';
    case 'failed':
      if (sub === 'backingOff') return imageProblem(snapshot) ? 'ImagePullBackOff' : 'CrashLoopBackOff';
      return imageProblem(snapshot) ? 'ErrImagePull' : 'Stopped';
    case 'deleting':
    case 'deleted':
      return 'Terminating';
    default:
      return 'Unknown';
  }
}

/**
 * The VMI's phase, or undefined when no VMI should exist (a VM that never ran). A VMI is `Running` from
 * guest ready until it stops; `Succeeded` once stopped (guest shutdown or a requested stop).
 */
export function vmiPhase(snapshot: LifecycleSnapshot): VMIPhase | undefined {
  const [top, sub] = statePath(snapshot);
  switch (top) {
    case 'stopped':
      return snapshot.context.exit ? 'Succeeded' : undefined;
    case 'creating':
      if (sub === 'provisioning') return 'Pending';
      if (sub === 'scheduling') return 'Scheduling';
      return sub === 'starting' ? 'Scheduled' : 'Unknown';
    case 'running':
    case 'paused':
    case 'migrating':
    case 'stopping':
      return 'Running';
    case 'failed':
      return 'Failed';
    case 'deleting':
      if (snapshot.context.deletedWhileFailed) return 'Failed';
      return sub === 'undefining' ? 'Succeeded' : 'Running';
    case 'deleted':
      return snapshot.context.deletedWhileFailed ? 'Failed' : 'Succeeded';
    default:
      return 'Unknown';
  }
}

/** Phase of the ongoing migration, else of the last one; undefined when the VM never migrated. */
export function migrationPhase(snapshot: LifecycleSnapshot): MigrationPhase | undefined {
  const m = snapshot.context.migration;
  if (!m) return undefined;
  if (m.outcome) return m.outcome;
  const [top, sub] = statePath(snapshot);
  return top === 'migrating' && sub === 'preparing' ? 'PreparingTarget' : 'Running';
}

/** The VMI's `status.migrationState` for the current or last migration. */
export function migrationState(snapshot: LifecycleSnapshot): VirtualMachineInstanceMigrationState | undefined {
  const m = snapshot.context.migration;
  if (!m) return undefined;
  const st: VirtualMachineInstanceMigrationState = {
    migrationUid: m.name,
    sourceNode: m.sourceNode,
    targetNode: m.targetNode,
    startTimestamp: isoTime(m.startedAt),
    completed: m.outcome === 'Succeeded',
    failed: m.outcome === 'Failed',
    abortRequested: m.abortRequested,
    mode: 'PreCopy',
  };
  if (m.endedAt !== undefined) st.endTimestamp = isoTime(m.endedAt);
  if (m.abortRequested) {
    st.abortStatus = m.outcome === undefined ? 'Aborting' : m.outcome === 'Failed' ? 'Succeeded' : 'Failed';
  }
  if (m.downtimeMs !== undefined) st.downtimeMs = m.downtimeMs;
  return st;
}

/** The earliest armed deadline (absolute ms); arm one timer for it and send `TICK {now}` when it fires. */
export function nextDeadline(snapshot: LifecycleSnapshot): number | undefined {
  if (snapshot.status !== 'active') return undefined;
  let next: number | undefined;
  for (const at of Object.values(snapshot.context.deadlines)) {
    if (at !== undefined && (next === undefined || at < next)) next = at;
  }
  return next;
}

/** Armed deadlines, earliest first, for status and debugging. */
export function armedDeadlines(snapshot: LifecycleSnapshot): { kind: DeadlineKind; at: number }[] {
  if (snapshot.status !== 'active') return [];
  return Object.entries(snapshot.context.deadlines)
    .filter((e): e is [DeadlineKind, number] => e[1] !== undefined)
    .map(([kind, at]) => ({ kind, at }))
    .sort((a, b) => a.at - b.at);
}
