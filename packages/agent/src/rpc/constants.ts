/**
 * libvirt's public enumerations as plain constants, with the names `virsh` prints. Numbers are facts of
 * libvirt's stable API (include/libvirt/libvirt-domain.h, virterror.h).
 */

/** virDomainState, as numbers. */
export const DomainStateCode = {
  NoState: 0,
  Running: 1,
  Blocked: 2,
  Paused: 3,
  Shutdown: 4,
  Shutoff: 5,
  Crashed: 6,
  PMSuspended: 7,
} as const;

/** State names, indexed by virDomainState; the same words as the engine's `DomainState`. */
export const DOMAIN_STATE_NAMES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;
export type DomainStateName = (typeof DOMAIN_STATE_NAMES)[number];

/** State reasons per state (virDomain*Reason), lower-case as `virsh domstate --reason` prints them. */
export const DOMAIN_STATE_REASONS: readonly (readonly string[])[] = [
  ['unknown'],
  [
    'unknown',
    'booted',
    'migrated',
    'restored',
    'from snapshot',
    'unpaused',
    'migration canceled',
    'save canceled',
    'event wakeup',
    'crashed',
    'post-copy',
    'post-copy failed',
  ],
  ['unknown'],
  [
    'unknown',
    'user',
    'migrating',
    'saving',
    'dumping',
    'I/O error',
    'watchdog',
    'from snapshot',
    'shutting down',
    'creating snapshot',
    'crashed',
    'starting up',
    'post-copy',
    'post-copy failed',
  ],
  ['unknown', 'user'],
  ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot', 'daemon'],
  ['unknown', 'panicked'],
  ['unknown'],
];

export function stateName(state: number): DomainStateName {
  return DOMAIN_STATE_NAMES[state] ?? 'nostate';
}

export function stateReasonName(state: number, reason: number): string {
  return DOMAIN_STATE_REASONS[state]?.[reason] ?? 'unknown';
}

/** virDomainEventType, as numbers. */
export const LifecycleEventCode = {
  Defined: 0,
  Undefined: 1,
  Started: 2,
  Suspended: 3,
  Resumed: 4,
  Stopped: 5,
  Shutdown: 6,
  PMSuspended: 7,
  Crashed: 8,
} as const;

/** Event names as `virsh event` prints them, indexed by virDomainEventType. */
export const LIFECYCLE_EVENT_NAMES = [
  'Defined',
  'Undefined',
  'Started',
  'Suspended',
  'Resumed',
  'Stopped',
  'Shutdown',
  'PMSuspended',
  'Crashed',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENT_NAMES)[number];

/**
 * Detail names per event, indexed by the detail number. These are `virsh event`'s words, shortened to one
 * word where virsh prints a phrase (Shutdown: 'Guest' for "Finished after guest request", 'Host' for
 * "... host request"; Suspended: 'IOError' for "I/O Error", 'APIError', 'PostCopy', 'PostCopyFailed'),
 * matching the engine's `LifecycleEvent` vocabulary.
 */
export const LIFECYCLE_DETAIL_NAMES: Record<LifecycleEventName, readonly string[]> = {
  Defined: ['Added', 'Updated', 'Renamed', 'Snapshot'],
  Undefined: ['Removed', 'Renamed'],
  Started: ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Wakeup'],
  Suspended: [
    'Paused',
    'Migrated',
    'IOError',
    'Watchdog',
    'Restored',
    'Snapshot',
    'APIError',
    'PostCopy',
    'PostCopyFailed',
  ],
  Resumed: ['Unpaused', 'Migrated', 'Snapshot', 'PostCopy', 'PostCopyFailed'],
  Stopped: ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot'],
  Shutdown: ['Finished', 'Guest', 'Host'],
  PMSuspended: ['Memory', 'Disk'],
  Crashed: ['Panicked', 'Crashloaded'],
};

/** Event name for a virDomainEventType number; unknown numbers (newer daemons) read as `Unknown<n>`. */
export function eventName(event: number): string {
  return LIFECYCLE_EVENT_NAMES[event] ?? `Unknown${event}`;
}

export function eventDetailName(event: number, detail: number): string {
  const names = LIFECYCLE_EVENT_NAMES[event];
  return (names && LIFECYCLE_DETAIL_NAMES[names][detail]) ?? `Unknown${detail}`;
}

/** virDomainEventID values this client subscribes to. */
export const DomainEventId = {
  Lifecycle: 0,
  Reboot: 1,
  MigrationIteration: 20,
  JobCompleted: 21,
} as const;

/** virDomainJobType. */
export const JobType = { None: 0, Bounded: 1, Unbounded: 2, Completed: 3, Failed: 4, Cancelled: 5 } as const;
export const JOB_TYPE_NAMES = ['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled'] as const;

/** virDomainGetJobStatsFlags. */
export const JobStatsFlags = { Completed: 1, KeepCompleted: 2 } as const;

/** virDomainMigrateFlags (subset that makes sense here). */
export const MigrateFlags = {
  Live: 1 << 0,
  PeerToPeer: 1 << 1,
  Tunnelled: 1 << 2,
  PersistDest: 1 << 3,
  UndefineSource: 1 << 4,
  Paused: 1 << 5,
  NonSharedDisk: 1 << 6,
  NonSharedInc: 1 << 7,
  ChangeProtection: 1 << 8,
  Unsafe: 1 << 9,
  Offline: 1 << 10,
  Compressed: 1 << 11,
  AbortOnError: 1 << 12,
  AutoConverge: 1 << 13,
  PostCopy: 1 << 15,
} as const;

/** Typed-parameter names for migration (VIR_MIGRATE_PARAM_*). */
export const MigrateParam = {
  /** Where QEMU's migration stream goes, e.g. `tcp://127.0.0.1` (string). */
  Uri: 'migrate_uri',
  DestName: 'destination_name',
  DestXml: 'destination_xml',
  PersistXml: 'persistent_xml',
  /** MiB/s (ullong). */
  Bandwidth: 'bandwidth',
  /** Address the destination QEMU listens on for the incoming stream (string). */
  ListenAddress: 'listen_address',
} as const;

/** virDomainCreateFlags. */
export const CreateFlags = { None: 0, Paused: 1, AutoDestroy: 2, BypassCache: 4, ForceBoot: 8, Validate: 16 } as const;
/** virDomainDefineFlags. */
export const DefineFlags = { Validate: 1 } as const;
/** virDomainUndefineFlagsValues. */
export const UndefineFlags = {
  ManagedSave: 1,
  SnapshotsMetadata: 2,
  Nvram: 4,
  KeepNvram: 8,
  CheckpointsMetadata: 16,
  Tpm: 32,
  KeepTpm: 64,
} as const;
/** virDomainShutdownFlagValues. */
export const ShutdownFlags = {
  Default: 0,
  AcpiPowerBtn: 1,
  GuestAgent: 2,
  Initctl: 4,
  Signal: 8,
  Paravirt: 16,
} as const;
/** virDomainRebootFlagValues (same bits as shutdown). */
export const RebootFlags = ShutdownFlags;
/** virDomainDestroyFlagsValues. */
export const DestroyFlags = { Default: 0, Graceful: 1, RemoveLogs: 2 } as const;
/** virDomainXMLFlags. */
export const XmlFlags = { Secure: 1, Inactive: 2, UpdateCpu: 4, Migratable: 8 } as const;
/** virConnectListAllDomainsFlags. */
export const ListFlags = {
  Active: 1 << 0,
  Inactive: 1 << 1,
  Persistent: 1 << 2,
  Transient: 1 << 3,
  Running: 1 << 4,
  Paused: 1 << 5,
  Shutoff: 1 << 6,
  Other: 1 << 7,
} as const;

/** virErrorNumber values this code reasons about. */
export const ErrorCode = {
  InternalError: 1,
  NoMemory: 2,
  NoSupport: 3,
  NoConnect: 5,
  InvalidConn: 6,
  InvalidDomain: 7,
  InvalidArg: 8,
  OperationFailed: 9,
  XmlError: 27,
  DomExist: 28,
  OperationDenied: 29,
  SystemError: 38,
  Rpc: 39,
  NoDomain: 42,
  AuthFailed: 45,
  OperationInvalid: 55,
  ConfigUnsupported: 67,
  OperationTimeout: 68,
  ArgumentUnsupported: 74,
  OperationAborted: 78,
  MigrateUnsafe: 81,
  OperationUnsupported: 84,
  AgentUnresponsive: 86,
  ResourceBusy: 87,
  AccessDenied: 88,
  CpuIncompatible: 91,
  XmlInvalidSchema: 92,
  AuthUnavailable: 94,
  XmlDetail: 35,
} as const;

/** virErrorDomain values (where an error came from) most often seen here. */
export const ErrorDomain = {
  None: 0,
  Dom: 6,
  Rpc: 7,
  Conf: 9,
  Qemu: 10,
  Remote: 13,
  Domain: 20,
  Security: 24,
  Cgroup: 54,
} as const;

/** virTypedParameterType. */
export const TypedParamType = { Int: 1, UInt: 2, LLong: 3, ULLong: 4, Double: 5, Boolean: 6, String: 7 } as const;
