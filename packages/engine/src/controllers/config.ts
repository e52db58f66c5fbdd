/** Engine configuration: what users may set, and the defaults (modelled on Kubernetes and KubeVirt). */
import type { BackoffConfig, LifecycleConfig } from '../lifecycle/types.ts';
import { DEFAULT_LIFECYCLE_CONFIG } from '../lifecycle/types.ts';
import type { MigrationConfiguration } from '../resources/kubevirt.ts';
import type { SchedulingPolicy } from '../scheduler/scheduler.ts';

export interface EngineConfig {
  /** How often every node is pinged. Default 10 s (kubelet's node status update frequency). */
  heartbeatIntervalMs?: number;
  /**
   * A node whose last successful ping is older than this turns Ready=Unknown (NotReady); its VMIs then
   * fail with reason NodeUnresponsive and are restarted elsewhere per runStrategy. Default 40 s
   * (Kubernetes' node-monitor-grace-period).
   */
  nodeNotReadyAfterMs?: number;
  /**
   * Deleting a VMI whose node is NotReady waits this long for the node to destroy the domain, then
   * releases the finalizer with a `DomainCleanupSkipped` condition and a Warning event. Default 5 min.
   */
  deadNodeDeleteTimeoutMs?: number;
  scheduler?: {
    /** `spread` (least allocated, default) or `binpack` (most allocated). */
    policy?: SchedulingPolicy;
    /** Equal scores: by node name (default) or by the engine's seeded random. */
    tieBreak?: 'name' | 'random';
  };
  /** KubeVirt's `spec.configuration.migrations`, same names and units (seconds). */
  migrations?: MigrationConfiguration;
  /** CrashLoopBackOff of VMs whose VMI keeps failing (delays in ms). */
  crashLoopBackoff?: Partial<BackoffConfig>;
  /** Lifecycle timings (boot timeout, default grace period ...). */
  lifecycle?: Partial<Omit<LifecycleConfig, 'backoff'>>;
  /** Retries of failed reconciles: first delay, doubling up to the maximum. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Objects each controller reconciles at the same time. Default 8. */
  concurrency?: number;
  events?: {
    /**
     * Events whose last occurrence (`lastTimestamp`/`eventTime`, else `metadata.creationTimestamp`) is older
     * than this, on the engine's clock, are deleted — every Event in the store, as the apiserver's
     * `--event-ttl` does; a recurring Event lives on from its latest occurrence. Default 3600 (one hour, the
     * apiserver's default); 0 or Infinity keeps Events forever. Only a running engine deletes them (on a
     * cluster, the leader's; `startController` defaults this to 0, leaving Events to the API server's TTL).
     */
    ttlSeconds?: number;
  };
}

export interface ResolvedMigrationConfig {
  parallelMigrationsPerCluster: number;
  parallelOutboundMigrationsPerNode: number;
  /** Seconds per GiB of guest memory before a migration is aborted. */
  completionTimeoutPerGiB: number;
  /** Seconds without progress before a migration is aborted. */
  progressTimeout: number;
  bandwidthPerMigration?: string;
}

export interface ResolvedEngineConfig {
  heartbeatIntervalMs: number;
  nodeNotReadyAfterMs: number;
  deadNodeDeleteTimeoutMs: number;
  scheduler: { policy: SchedulingPolicy; tieBreak: 'name' | 'random' };
  migrations: ResolvedMigrationConfig;
  crashLoopBackoff: BackoffConfig;
  lifecycle: Omit<LifecycleConfig, 'backoff'>;
  retry: { baseMs: number; maxMs: number };
  concurrency: number;
  /** `ttlSeconds`: 0 when Events are kept forever. */
  events: { ttlSeconds: number };
}

/** KubeVirt's migration defaults. */
export const DEFAULT_MIGRATIONS: ResolvedMigrationConfig = {
  parallelMigrationsPerCluster: 5,
  parallelOutboundMigrationsPerNode: 2,
  completionTimeoutPerGiB: 150,
  progressTimeout: 150,
};

export function resolveConfig(config: EngineConfig = {}): ResolvedEngineConfig {
  const { backoff, ...lifecycle } = DEFAULT_LIFECYCLE_CONFIG;
  const m = config.migrations ?? {};
  return {
    heartbeatIntervalMs: config.heartbeatIntervalMs ?? 10_000,
    nodeNotReadyAfterMs: config.nodeNotReadyAfterMs ?? 40_000,
    deadNodeDeleteTimeoutMs: config.deadNodeDeleteTimeoutMs ?? 5 * 60_000,
    scheduler: { policy: config.scheduler?.policy ?? 'spread', tieBreak: config.scheduler?.tieBreak ?? 'name' },
    migrations: {
      parallelMigrationsPerCluster: m.parallelMigrationsPerCluster ?? DEFAULT_MIGRATIONS.parallelMigrationsPerCluster,
      parallelOutboundMigrationsPerNode:
        m.parallelOutboundMigrationsPerNode ?? DEFAULT_MIGRATIONS.parallelOutboundMigrationsPerNode,
      completionTimeoutPerGiB: m.completionTimeoutPerGiB ?? DEFAULT_MIGRATIONS.completionTimeoutPerGiB,
      progressTimeout: m.progressTimeout ?? DEFAULT_MIGRATIONS.progressTimeout,
      ...(m.bandwidthPerMigration !== undefined ? { bandwidthPerMigration: m.bandwidthPerMigration } : {}),
    },
    crashLoopBackoff: { ...backoff, ...stripUndefined(config.crashLoopBackoff ?? {}) },
    lifecycle: { ...lifecycle, ...stripUndefined(config.lifecycle ?? {}) },
    retry: { baseMs: config.retry?.baseMs ?? 200, maxMs: config.retry?.maxMs ?? 60_000 },
    concurrency: config.concurrency ?? 8,
    events: { ttlSeconds: eventTtlSeconds(config.events?.ttlSeconds) },
  };
}

function eventTtlSeconds(ttl: number | undefined): number {
  if (ttl === undefined) return 3600;
  if (Number.isNaN(ttl) || ttl < 0) throw new RangeError(`events.ttlSeconds must be 0 or more, got ${ttl}`);
  return Number.isFinite(ttl) ? ttl : 0;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
