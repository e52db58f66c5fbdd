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
  const parts: string[] = [];
  let v: unknown = snapshot.value;
  while (v !== undefined) {
    if (typeof v === 'string') {
      parts.push(v);
      break;
    }
    const [key, child] = Object.entries(v as Record<string, unknown>)[0] ?? [];
    if (key === undefined) break;
    parts.push(key);
    v = child;
  }
  return parts.join('.');
}

const imageProblem = (snapshot: LifecycleSnapshot) => snapshot.context.lastFailure?.reason === 'ImageFetchFailed';

export function printableStatus(snapshot: LifecycleSnapshot): PrintableStatus {
  const s = snapshot;
  if (s.matches('stopped')) return 'Stopped';
  if (s.matches({ creating: 'provisioning' })) return 'Provisioning';
  if (s.matches({ creating: { scheduling: 'unschedulable' } })) return 'ErrorUnschedulable';
  if (s.matches('creating')) return 'Starting';
  if (s.matches('running')) return 'Running';
  if (s.matches('paused')) return 'Paused';
  if (s.matches('migrating')) return 'Migrating';
  if (s.matches('stopping')) return 'Stopping';
  if (s.matches({ failed: 'backingOff' })) return imageProblem(s) ? 'ImagePullBackOff' : 'CrashLoopBackOff';
  if (s.matches('failed')) return imageProblem(s) ? 'ErrImagePull' : 'Stopped';
  if (s.matches('deleting') || s.matches('deleted')) return 'Terminating';
  return 'Unknown';
}

/**
 * The VMI's phase, or undefined when no VMI should exist (a VM that never ran). A VMI is `Running` from
 * guest ready until it stops; `Succeeded` once stopped (guest shutdown or a requested stop).
 */
export function vmiPhase(snapshot: LifecycleSnapshot): VMIPhase | undefined {
  const s = snapshot;
  if (s.matches('stopped')) return s.context.exit ? 'Succeeded' : undefined;
  if (s.matches({ creating: 'provisioning' })) return 'Pending';
  if (s.matches({ creating: 'scheduling' })) return 'Scheduling';
  if (s.matches({ creating: 'starting' })) return 'Scheduled';
  if (s.matches('running') || s.matches('paused') || s.matches('migrating') || s.matches('stopping')) return 'Running';
  if (s.matches('failed')) return 'Failed';
  if (s.matches({ deleting: 'undefining' }) || s.matches('deleted')) return 'Succeeded';
  if (s.matches('deleting')) return 'Running';
  return 'Unknown';
}

/** Phase of the ongoing migration, else of the last one; undefined when the VM never migrated. */
export function migrationPhase(snapshot: LifecycleSnapshot): MigrationPhase | undefined {
  const m = snapshot.context.migration;
  if (!m) return undefined;
  if (m.outcome) return m.outcome;
  if (snapshot.matches({ migrating: 'preparing' })) return 'PreparingTarget';
  return 'Running';
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
