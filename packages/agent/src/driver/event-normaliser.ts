import type { LifecycleEvent } from '@virtkit/engine';

/** What the agent knows about one domain that decides which raw libvirt events are meaningful. */
export interface NormaliserState {
  /** The canonical state implied by the events emitted so far. */
  phase: 'off' | 'running' | 'paused';
  /** A destroy issued by this agent is in flight: its Shutdown/Host is noise. */
  destroying: boolean;
  /** A reboot issued by this agent is in flight: libvirt's fake reboot emits Shutdown/Resumed noise. */
  rebooting: boolean;
  /** The domain left this node by migration: its Undefined/Removed is the source side's clean-up. */
  migratedAway: boolean;
}

export function initialState(phase: NormaliserState['phase'] = 'off'): NormaliserState {
  return { phase, destroying: false, rebooting: false, migratedAway: false };
}

export interface RawLifecycle {
  event: string;
  detail: string;
}

/**
 * Maps one raw libvirt lifecycle event to the port's canonical vocabulary (or to nothing). libvirt emits
 * extra events the port leaves out: `Resumed Unpaused` before `Started Booted` on start, `Shutdown Host`
 * before `Stopped Destroyed` on destroy, `Suspended/Resumed Migrated` around a migration, `Undefined` on
 * the source after a migration with undefine-source, `Defined` on the target when it persists the domain.
 * Pure, so the mapping is unit-tested without a daemon.
 */
export function normalise(state: NormaliserState, raw: RawLifecycle): { emit?: LifecycleEvent; next: NormaliserState } {
  const next = { ...state };
  const { event, detail } = raw;
  switch (event) {
    case 'Defined':
      if (state.phase !== 'off') return { next };
      if (detail === 'Added' || detail === 'Updated') return { emit: { event, detail }, next };
      return { next };
    case 'Undefined':
      if (state.migratedAway || detail !== 'Removed') return { next };
      return { emit: { event: 'Undefined', detail: 'Removed' }, next };
    case 'Started':
      if (detail === 'Booted' || detail === 'Migrated' || detail === 'Restored') {
        next.phase = 'running';
        next.migratedAway = false;
        return { emit: { event, detail }, next };
      }
      return { next };
    case 'Suspended':
      if (state.rebooting || state.phase === 'off') return { next };
      if (detail === 'Paused' || detail === 'IOError') {
        next.phase = 'paused';
        return { emit: { event, detail }, next };
      }
      return { next };
    case 'Resumed':
      if (detail === 'Unpaused' && state.phase === 'paused' && !state.rebooting) {
        next.phase = 'running';
        return { emit: { event: 'Resumed', detail: 'Unpaused' }, next };
      }
      if (state.phase === 'paused') next.phase = 'running';
      return { next };
    case 'Shutdown':
      if (state.destroying || state.rebooting || detail === 'Host' || state.phase === 'off') return { next };
      return { emit: { event: 'Shutdown', detail: 'Finished' }, next };
    case 'Stopped': {
      next.phase = 'off';
      next.destroying = false;
      next.rebooting = false;
      if (detail === 'Migrated') next.migratedAway = true;
      if (state.phase === 'off' && detail !== 'Migrated') return { next };
      if (detail === 'Shutdown' || detail === 'Destroyed' || detail === 'Crashed' || detail === 'Migrated') {
        return { emit: { event: 'Stopped', detail }, next };
      }
      return { emit: { event: 'Stopped', detail: 'Failed' }, next };
    }
    case 'Crashed':
      if (detail === 'Panicked') return { emit: { event: 'Crashed', detail: 'Panicked' }, next };
      return { next };
    default:
      return { next };
  }
}
