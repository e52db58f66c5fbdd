// The VM lifecycle machine's public surface (re-exported by the engine's index).
export { backoffDelay } from './commands.ts';
export { lifecycleMachine } from './machine.ts';
export {
  LIFECYCLE_SNAPSHOT_FORMAT,
  LIFECYCLE_SNAPSHOT_VERSION,
  LifecycleSnapshotError,
  type PersistedLifecycle,
  persist,
  restore,
  restoreSnapshot,
} from './persistence.ts';
export { assertCanAccept, isRequest, REQUEST_VERBS, send } from './requests.ts';
export type { LifecycleActor, LifecycleMachine, LifecycleSnapshot } from './snapshot.ts';
export {
  armedDeadlines,
  migrationPhase,
  migrationState,
  nextDeadline,
  printableStatus,
  stateName,
  vmiPhase,
} from './status.ts';
export {
  type BackoffConfig,
  type Command,
  type CommandType,
  DEFAULT_LIFECYCLE_CONFIG,
  type DeadlineKind,
  type Deadlines,
  type FailureRecord,
  LIFECYCLE_REQUESTS,
  type LifecycleConfig,
  type LifecycleContext,
  type LifecycleInput,
  type LifecycleOutcome,
  type LifecycleRequest,
  type LifecycleRequestType,
  type MigrationRecord,
  type StopReason,
  type VMLifecycleEvent,
  type VMLifecycleEventType,
} from './types.ts';
