/** Translation of a node driver's DomainEvents into lifecycle-machine outcomes. */
import type { StopReason, VMLifecycleEvent } from '../lifecycle/types.ts';
import type { DomainEvent, DomainInfo } from '../ports/node-driver.ts';

const STOP_DETAIL: Record<string, StopReason> = {
  Shutdown: 'shutdown',
  Destroyed: 'destroyed',
  Crashed: 'crashed',
  Migrated: 'migrated',
  Failed: 'failed',
};

/** The lifecycle outcome a driver event reports, or undefined for events the machine does not need. */
export function toLifecycleEvent(ev: DomainEvent, now: number): VMLifecycleEvent | undefined {
  switch (ev.type) {
    case 'guest-ready':
      return { type: 'GUEST_READY', now };
    case 'lifecycle':
      switch (ev.event) {
        case 'Defined':
          return { type: 'DEFINED', now };
        case 'Started':
          // A domain arriving by migration is reported by the source's `migration completed`.
          return ev.detail === 'Migrated' ? undefined : { type: 'STARTED', now };
        case 'Suspended':
          return ev.detail === 'Paused' ? { type: 'PAUSED', now } : undefined;
        case 'Resumed':
          return ev.detail === 'Unpaused' ? { type: 'RESUMED', now } : undefined;
        case 'Stopped':
          return { type: 'STOPPED', reason: STOP_DETAIL[ev.detail] ?? 'failed', node: ev.node, now };
        case 'Crashed':
          return { type: 'CRASHED', message: `the guest on node ${ev.node} panicked`, now };
        default:
          return undefined;
      }
    case 'migration':
      switch (ev.phase) {
        case 'started':
          return { type: 'MIGRATION_PROGRESS', now };
        case 'progress':
          return ev.progress
            ? {
                type: 'MIGRATION_PROGRESS',
                dataRemaining: ev.progress.dataRemaining,
                dataTotal: ev.progress.dataTotal,
                now,
              }
            : { type: 'MIGRATION_PROGRESS', now };
        case 'completed':
          return { type: 'MIGRATION_SUCCEEDED', node: ev.targetNode, downtimeMs: ev.downtimeMs ?? 0, now };
        case 'failed':
        case 'aborted':
          return {
            type: 'MIGRATION_FAILED',
            reason: ev.error?.reason ?? (ev.phase === 'aborted' ? 'MigrationAborted' : 'MigrationFailed'),
            ...(ev.error ? { message: ev.error.message } : {}),
            now,
          };
        default:
          return undefined;
      }
    default:
      return undefined;
  }
}

/** How a shut-off domain stopped, from libvirt's state reason. */
export function stopReasonOf(info: DomainInfo): StopReason {
  switch (info.reason) {
    case 'shutdown':
      return 'shutdown';
    case 'crashed':
      return 'crashed';
    case 'migrated':
      return 'migrated';
    case 'destroyed':
      return 'destroyed';
    default:
      return 'failed';
  }
}
