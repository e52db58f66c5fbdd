/**
 * The status mappings read the state value directly (they run several times per reconcile of every VMI).
 * The oracle here is the same table written with `matches`, checked in every reachable state.
 */
import { type LifecycleSnapshot, migrationPhase, printableStatus, stateName, vmiPhase } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { fineState, reachable } from './model.ts';

const imageProblem = (s: LifecycleSnapshot) => s.context.lastFailure?.reason === 'ImageFetchFailed';

function printableByMatches(s: LifecycleSnapshot): string {
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

function phaseByMatches(s: LifecycleSnapshot): string | undefined {
  if (s.matches('stopped')) return s.context.exit ? 'Succeeded' : undefined;
  if (s.matches({ creating: 'provisioning' })) return 'Pending';
  if (s.matches({ creating: 'scheduling' })) return 'Scheduling';
  if (s.matches({ creating: 'starting' })) return 'Scheduled';
  if (s.matches('running') || s.matches('paused') || s.matches('migrating') || s.matches('stopping')) return 'Running';
  if (s.matches('failed')) return 'Failed';
  // A final phase is final: a VMI deleted while Failed stays Failed.
  if ((s.matches('deleting') || s.matches('deleted')) && s.context.deletedWhileFailed) return 'Failed';
  if (s.matches({ deleting: 'undefining' }) || s.matches('deleted')) return 'Succeeded';
  if (s.matches('deleting')) return 'Running';
  return 'Unknown';
}

function migrationPhaseByMatches(s: LifecycleSnapshot): string | undefined {
  const m = s.context.migration;
  if (!m) return undefined;
  if (m.outcome) return m.outcome;
  return s.matches({ migrating: 'preparing' }) ? 'PreparingTarget' : 'Running';
}

describe('status mappings', () => {
  const states = [...reachable(fineState).values()];

  it('agree with the same table written with matches, in every reachable state', () => {
    expect(states.length).toBeGreaterThan(1000);
    for (const s of states) {
      const name = stateName(s);
      expect(printableStatus(s), name).toBe(printableByMatches(s));
      expect(vmiPhase(s), name).toBe(phaseByMatches(s));
      expect(migrationPhase(s), name).toBe(migrationPhaseByMatches(s));
    }
  });

  it('keep a VMI deleted while Failed in phase Failed (reachable in the model)', () => {
    const deletedFailed = states.filter((s) => s.matches('deleted') && s.context.deletedWhileFailed);
    expect(deletedFailed.length).toBeGreaterThan(0);
    for (const s of deletedFailed) expect(vmiPhase(s)).toBe('Failed');
  });

  it('name the leaf state by its dotted path', () => {
    const names = new Set(states.map(stateName));
    expect(names).toContain('creating.scheduling.unschedulable');
    expect(names).toContain('running.ready');
    expect(names).toContain('deleted');
  });
});
