/**
 * Synchronous admission of requests: API callers learn that a request is illegal in the current state
 * before anything changes, as a typed `IllegalTransitionError` naming the state and the request.
 */
import { transition } from 'xstate';
import { IllegalTransitionError } from '../errors.ts';
import { lifecycleMachine } from './machine.ts';
import type { LifecycleActor, LifecycleSnapshot } from './snapshot.ts';
import { stateName } from './status.ts';
import { LIFECYCLE_REQUESTS, type LifecycleRequestType, type VMLifecycleEvent } from './types.ts';

/** The verb each request names in errors: "cannot unpause a VM that is running.ready". */
export const REQUEST_VERBS: Record<LifecycleRequestType, string> = {
  START: 'start',
  STOP: 'stop',
  FORCE_STOP: 'force-stop',
  RESTART: 'restart',
  PAUSE: 'pause',
  UNPAUSE: 'unpause',
  MIGRATE: 'migrate',
  CANCEL_MIGRATION: 'cancel the migration of',
  REBOOT: 'reboot',
  DELETE: 'delete',
  SET_RUN_STRATEGY: 'change the run strategy of',
};

export function isRequest(event: VMLifecycleEvent): event is Extract<VMLifecycleEvent, { type: LifecycleRequestType }> {
  return (LIFECYCLE_REQUESTS as readonly string[]).includes(event.type);
}

function hint(snapshot: LifecycleSnapshot, event: VMLifecycleEvent): string | undefined {
  switch (event.type) {
    case 'MIGRATE':
      if (snapshot.matches({ running: 'ready' })) return `the VM already runs on node "${event.targetNode}"`;
      if (snapshot.matches('migrating')) return 'a migration is already in progress';
      return 'only a running VM can migrate';
    case 'STOP':
      if (snapshot.matches('migrating')) return 'cancel the migration first, or force-stop';
      if (snapshot.matches('stopping')) return 'it is already stopping; force-stop to destroy it now';
      return undefined;
    case 'START':
      if (snapshot.matches({ failed: 'backingOff' })) return 'a restart is already scheduled after the back-off';
      return undefined;
    case 'CANCEL_MIGRATION':
      if (snapshot.matches({ migrating: 'aborting' })) return 'the migration is already being aborted';
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Throws `IllegalTransitionError` when `event` is a request the machine does not accept in this state.
 * Reports (driver and scheduler outcomes, ACK, TICK) are never rejected: the machine ignores the ones
 * that do not apply, because they describe facts rather than ask for anything.
 */
export function assertCanAccept(snapshot: LifecycleSnapshot, event: VMLifecycleEvent): void {
  if (!isRequest(event)) return;
  if (snapshot.status === 'active' && snapshot.can(event)) return;
  throw new IllegalTransitionError(stateName(snapshot), REQUEST_VERBS[event.type], hint(snapshot, event));
}

function isActor(x: LifecycleActor | LifecycleSnapshot): x is LifecycleActor {
  return typeof (x as LifecycleActor).send === 'function';
}

/**
 * Checks a request, then applies the event: to a running actor (returns its new snapshot) or purely to a
 * snapshot (returns the next snapshot; the input is untouched). Reports about a deleted VM are dropped.
 */
export function send(target: LifecycleActor | LifecycleSnapshot, event: VMLifecycleEvent): LifecycleSnapshot {
  const snapshot = isActor(target) ? target.getSnapshot() : target;
  assertCanAccept(snapshot, event);
  // A deleted VM's actor is done; late reports about it change nothing.
  if (snapshot.status !== 'active') return snapshot;
  if (!isActor(target)) return transition(lifecycleMachine, target, event)[0];
  target.send(event);
  return target.getSnapshot();
}
