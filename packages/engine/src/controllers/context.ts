/** What every controller gets from the engine: the ports, the shared caches and the shared services. */
import type { DriverRegistry } from '../drivers.ts';
import type { Clock } from '../ports/clock.ts';
import type { ResourceStore } from '../ports/resource-store.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { ResolvedEngineConfig } from './config.ts';
import type { EventRecorder } from './events.ts';
import type { Informer } from './informer.ts';

export interface Informers {
  vm: Informer<'VirtualMachine'>;
  vmi: Informer<'VirtualMachineInstance'>;
  migration: Informer<'VirtualMachineInstanceMigration'>;
  replicaSet: Informer<'VirtualMachineInstanceReplicaSet'>;
  node: Informer<'Node'>;
}

/** Index names registered on the informers. */
export const IDX_VMI_BY_NODE = 'vmi-by-node';
/** VMIs by the target node of their migration in progress (status.migrationState.targetNode). */
export const IDX_VMI_BY_MIGRATION_TARGET = 'vmi-by-migration-target';
export const IDX_VMI_BY_UID = 'vmi-by-uid';
export const IDX_VMI_BY_OWNER = 'vmi-by-owner';
/** VMIs without a controller, by namespace (candidates for adoption by a replica set). */
export const IDX_VMI_ORPHANS = 'vmi-orphans';
export const IDX_MIGRATION_BY_VMI = 'migration-by-vmi';

export interface ControllerContext {
  store: ResourceStore;
  clock: Clock;
  drivers: DriverRegistry;
  scheduler: Scheduler;
  events: EventRecorder;
  informers: Informers;
  config: ResolvedEngineConfig;
  /** Seeded RNG in [0, 1). */
  random: () => number;
  /** Reports an unexpected error (the engine's error sink). */
  report(err: unknown, where: string): void;
  /** Counts a driver call in flight, so `Engine.settled()` can wait for it. */
  track<T>(p: Promise<T>): Promise<T>;
}
