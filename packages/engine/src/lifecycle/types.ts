/**
 * Data types of the VM lifecycle machine: commands it records for the controller, events it accepts,
 * its context and its tunable timings. Everything here is plain JSON so a snapshot can be persisted in
 * `status.virtkit` and restored after an engine restart.
 */
import type { DriverErrorReason } from '../errors.ts';
import type { RunStrategy } from '../resources/kubevirt.ts';

/** What the controller must ask a node's driver to do. */
export type CommandType =
  | 'define'
  | 'start'
  | 'shutdown'
  | 'destroy'
  | 'pause'
  | 'resume'
  | 'reboot'
  | 'undefine'
  | 'migrate'
  | 'abortMigration';

interface CommandBase {
  /** Sequence number, unique and increasing per machine; the idempotency key for executing it. */
  id: number;
  /** Node whose driver runs it (for `migrate` and `abortMigration`: the source). */
  node: string;
  /** Time it was recorded (the `now` of the event that recorded it). */
  at: number;
}

/**
 * A driver call the machine recorded. It stays in `context.pending` until acknowledged (`ACK`), failed
 * (`DRIVER_ERROR`), settled by the outcome event it was waiting for (e.g. `STARTED` settles `start`),
 * or superseded (a stop drops a not-yet-acknowledged `start`).
 *
 * Contract with the controller:
 * - Execute pending commands one at a time, in `id` order, each at most once per process lifetime; after a
 *   restore, execute every command still pending (they are idempotent by design or guarded by the driver).
 * - When the driver call resolves send `ACK {commandId}`; when it rejects send `DRIVER_ERROR {commandId, ...}`.
 * - `migrate` spans the whole migration: start it and move on to the next command without waiting; send
 *   `ACK` once the source reports the migration started (or `MIGRATION_PROGRESS`), and the outcome as
 *   `MIGRATION_SUCCEEDED`/`MIGRATION_FAILED` (a rejected `migrateDomain` may instead be a `DRIVER_ERROR`).
 * - A command dropped from `pending` while already running needs no special care: let it finish and
 *   ignore its result (the machine ignores acks and errors of commands it no longer holds).
 */
export type Command = CommandBase &
  (
    | { type: Exclude<CommandType, 'migrate'> }
    | {
        type: 'migrate';
        target: string;
        migrationName: string;
        /** The migration's completion deadline as a duration, for `MigrateOptions.completionTimeoutMs`. */
        completionTimeoutMs: number;
      }
  );

/** How a domain stopped, from libvirt's Stopped detail. */
export type StopReason = 'shutdown' | 'destroyed' | 'crashed' | 'migrated' | 'failed';

/** Every event carries the controller's clock reading; the machine never reads a clock itself. */
interface Timed {
  now: number;
}

/** Requests from users and the VM controller. Illegal ones are rejected by `assertCanAccept`. */
export type LifecycleRequest = Timed &
  (
    | { type: 'START' }
    | {
        type: 'STOP';
        /** Default true: ACPI shutdown, then destroy after the grace period. False: destroy at once. */
        graceful?: boolean;
        /** Default: `config.defaultGracePeriodSeconds`. 0 means destroy at once. */
        gracePeriodSeconds?: number;
      }
    | { type: 'FORCE_STOP' }
    | { type: 'RESTART'; gracePeriodSeconds?: number }
    | { type: 'PAUSE' }
    | { type: 'UNPAUSE' }
    | {
        type: 'MIGRATE';
        targetNode: string;
        migrationName: string;
        /** Default: `config.migrationCompletionTimeoutMs` (KubeVirt computes it per GiB of memory). */
        completionTimeoutMs?: number;
      }
    | { type: 'CANCEL_MIGRATION' }
    | { type: 'REBOOT' }
    | { type: 'DELETE'; gracePeriodSeconds?: number }
    | { type: 'SET_RUN_STRATEGY'; runStrategy: RunStrategy }
  );

/** Outcomes reported by the scheduler, the volume provisioner and node drivers. */
export type LifecycleOutcome = Timed &
  (
    | { type: 'PROVISIONED' }
    | { type: 'SCHEDULED'; node: string }
    | { type: 'UNSCHEDULABLE'; message: string }
    | { type: 'DEFINED' }
    | { type: 'STARTED' }
    | { type: 'GUEST_READY' }
    | { type: 'PAUSED' }
    | { type: 'RESUMED' }
    | { type: 'STOPPED'; reason: StopReason; node?: string }
    | { type: 'CRASHED'; message?: string }
    | { type: 'MIGRATION_PROGRESS'; dataRemaining?: number; dataTotal?: number }
    | { type: 'MIGRATION_SUCCEEDED'; node: string; downtimeMs: number }
    | { type: 'MIGRATION_FAILED'; reason: string; message?: string }
    | { type: 'DRIVER_ERROR'; commandId: number; reason: DriverErrorReason; message: string }
    | { type: 'NODE_LOST'; node: string }
    | { type: 'ACK'; commandId: number }
    /** Time passed: fires every deadline at or before `now`. */
    | { type: 'TICK' }
  );

export type VMLifecycleEvent = LifecycleRequest | LifecycleOutcome;
export type VMLifecycleEventType = VMLifecycleEvent['type'];
export type LifecycleRequestType = LifecycleRequest['type'];

/** Request event types, for telling user requests apart from reports. */
export const LIFECYCLE_REQUESTS: readonly LifecycleRequestType[] = [
  'START',
  'STOP',
  'FORCE_STOP',
  'RESTART',
  'PAUSE',
  'UNPAUSE',
  'MIGRATE',
  'CANCEL_MIGRATION',
  'REBOOT',
  'DELETE',
  'SET_RUN_STRATEGY',
];

/** Named deadlines, each an absolute time in ms while armed. */
export type DeadlineKind = 'boot' | 'stopGrace' | 'migrationCompletion' | 'migrationProgress' | 'backoff' | 'stableRun';

export type Deadlines = Partial<Record<DeadlineKind, number>>;

/** CrashLoopBackOff timing: delay n (1-based) is `min(initialMs * factor^(n-1), maxMs)`. */
export interface BackoffConfig {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** After running this long without failing, the failure count resets to 0. */
  resetAfterMs: number;
}

export interface LifecycleConfig {
  /** From `start` issued to guest ready (and for a reboot: to guest ready again). */
  bootTimeoutMs: number;
  /** Grace period of a graceful stop or delete when the request does not give one. */
  defaultGracePeriodSeconds: number;
  /** Whole-migration limit when MIGRATE does not give one. */
  migrationCompletionTimeoutMs: number;
  /** Abort when the remaining data did not shrink for this long (KubeVirt `progressTimeout`). */
  migrationProgressTimeoutMs: number;
  backoff: BackoffConfig;
}

/** Defaults modelled on KubeVirt and Kubernetes: 10s doubling to a 5 min cap, reset after 10 min up. */
export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = {
  bootTimeoutMs: 5 * 60_000,
  defaultGracePeriodSeconds: 30,
  migrationCompletionTimeoutMs: 15 * 60_000,
  migrationProgressTimeoutMs: 150_000,
  backoff: { initialMs: 10_000, factor: 2, maxMs: 5 * 60_000, resetAfterMs: 10 * 60_000 },
};

export interface MigrationRecord {
  name: string;
  sourceNode: string;
  targetNode: string;
  startedAt: number;
  /** Last time the remaining data shrank (or the migration started). */
  lastProgressAt: number;
  dataRemaining?: number;
  dataTotal?: number;
  abortRequested: boolean;
  /** Why an abort was requested: `Cancelled`, `CompletionTimeout`, `ProgressTimeout`, `TargetLost`, `Stopping`. */
  abortReason?: string;
  /** Set when the migration ended. */
  outcome?: 'Succeeded' | 'Failed';
  endedAt?: number;
  downtimeMs?: number;
  failureReason?: string;
}

export interface FailureRecord {
  /** e.g. `BootTimeout`, `Crashed`, `NodeLost`, `Stopped:destroyed`, `DriverError:ImageFetchFailed`. */
  reason: string;
  message: string;
  at: number;
}

/**
 * Optional fields are cleared by setting them to `undefined` (xstate's assign merges, it cannot delete
 * keys); a persisted snapshot simply lacks them.
 */
export interface LifecycleContext {
  runStrategy: RunStrategy;
  config: LifecycleConfig;
  /** The latest event time seen by a transition. */
  now: number;
  /** Node the VM is placed on or runs on. */
  node?: string | undefined;
  /** Every node that may still hold a domain of this VM (cleared as undefines complete). */
  domainNodes: string[];
  /** Id the next recorded command gets. */
  nextCommandId: number;
  /** Recorded commands not yet acknowledged, failed, settled or superseded, in id order. */
  pending: Command[];
  deadlines: Deadlines;
  /** Consecutive failures (crashes, boot timeouts, start errors) since the last stable run or user start. */
  failureCount: number;
  lastFailure?: FailureRecord | undefined;
  /** The scheduler's last UNSCHEDULABLE message while unschedulable. */
  unschedulableMessage?: string | undefined;
  /** What happens once the running stop completes. */
  afterStop?: 'restart' | undefined;
  /** Deleted from the failed state: the VMI's phase stays Failed through deletion. */
  deletedWhileFailed?: true | undefined;
  /** How the VM last stopped; `Succeeded` VMI phase when the guest shut itself down. */
  exit?: { reason: StopReason | 'requested'; at: number } | undefined;
  /** The current or last migration. */
  migration?: MigrationRecord | undefined;
  /** The last driver error the machine received, whatever it did about it. */
  lastError?: { command: CommandType; reason: DriverErrorReason; message: string; at: number } | undefined;
}

export interface LifecycleInput {
  runStrategy?: RunStrategy;
  /** Overrides merged onto `DEFAULT_LIFECYCLE_CONFIG` (backoff merged field by field). */
  config?: Partial<Omit<LifecycleConfig, 'backoff'>> & { backoff?: Partial<BackoffConfig> };
  /** Creation time; the initial `context.now`. */
  now?: number;
}
