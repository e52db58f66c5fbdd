// @virtkit/engine — the control plane's public surface. Explicit exports only.

export {
  type DrainOptions,
  type MigrateOptions as VmMigrateOptions,
  type StartOptions,
  type StopOptions,
  VmActions,
  type VmActionsOptions,
} from './actions.ts';
export { RealClock, sleepOn } from './clock/real-clock.ts';
export { VirtualClock, type VirtualClockOptions } from './clock/virtual-clock.ts';
export { DEFAULT_MIGRATIONS, type ResolvedMigrationConfig } from './controllers/config.ts';
export * from './controllers/constants.ts';
export { type DrainProgress, DrainTracker } from './controllers/drain-progress.ts';
export { EventRecorder, type EventType } from './controllers/events.ts';
export type { VmiVirtkitStatus } from './controllers/vmi-status.ts';
export { DriverRegistry, type DriverRegistryChange } from './drivers.ts';
export {
  type CreateEngineOptions,
  createEngine,
  type Engine,
  type EngineConfig,
  type EngineError,
  type ResolvedEngineConfig,
  seededRandom,
} from './engine.ts';
export * from './errors.ts';
export * from './lifecycle/index.ts';
export * from './ports/clock.ts';
export type * from './ports/node-driver.ts';
export type * from './ports/resource-store.ts';
export type * from './resources/core.ts';
export {
  DEFAULT_MACHINE_TYPE,
  DEFAULT_NETWORK_NAME,
  DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
  defaultObject,
  defaultVirtualMachine,
  defaultVirtualMachineInstanceReplicaSet,
  defaultVMI,
  defaultVMISpec,
  type VMISpecDefaultsOptions,
  vmRunStrategy,
} from './resources/defaults.ts';
export { MAX_OBJECT_DEPTH, tooDeepMessage, tooDeepPath } from './resources/depth.ts';
export * from './resources/kinds.ts';
export * from './resources/kubevirt.ts';
export {
  KUBERNETES_YAML_OPTIONS,
  type ManifestInput,
  ManifestParseError,
  parseManifests,
  toYaml,
} from './resources/manifest.ts';
export type * from './resources/meta.ts';
export {
  DNS1123_LABEL_MAX_LENGTH,
  DNS1123_LABEL_MESSAGE,
  DNS1123_SUBDOMAIN_MAX_LENGTH,
  DNS1123_SUBDOMAIN_MESSAGE,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  LABEL_VALUE_MAX_LENGTH,
  QUALIFIED_NAME_MAX_LENGTH,
  TOTAL_ANNOTATION_SIZE_LIMIT,
  validateAnnotations,
  validateLabels,
} from './resources/names.ts';
export {
  checkQuantity,
  compareQuantities,
  formatBytes,
  formatMillis,
  formatQuantity,
  parseBytes,
  parseMillis,
  parseQuantity,
  QUANTITY_FORMAT_MESSAGE,
  type Quantity,
  type QuantityCheck,
  type QuantityFormat,
  quantityMilliValue,
  quantityValue,
} from './resources/quantity.ts';
export {
  DISK_BUSES,
  EVICTION_STRATEGIES,
  type FieldSchema,
  KIND_SCHEMAS,
  OBJECT_META_SCHEMA,
  VMI_SPEC_SCHEMA,
} from './resources/schema.ts';
export {
  KUBEVIRT_API_VERSIONS,
  type ValidationResult,
  validateNode,
  validateObject,
  validateOrThrow,
  validateVirtualMachine,
  validateVirtualMachineInstance,
  validateVirtualMachineInstanceMigration,
  validateVirtualMachineInstanceReplicaSet,
  validateVirtualMachineInstanceSpec,
} from './resources/validation.ts';
export {
  type VMIResourceRequest,
  vmiGuestMemoryBytes,
  vmiSpecResources,
  vmiVCPUs,
} from './resources/vmi-resources.ts';
export {
  type CapacityListener,
  type NodeResources,
  type PlacementRequest,
  type PlacementResult,
  Scheduler,
  type SchedulerNode,
  type SchedulerOptions,
  type SchedulingPolicy,
} from './scheduler/scheduler.ts';
export { MemoryStore } from './store/memory-store.ts';
export {
  applyJsonPatch,
  applyMergePatch,
  type JsonPatchOperation,
  type PatchTarget,
  parseJsonPointer,
} from './store/patch.ts';
export {
  EVERYTHING,
  type FieldRequirement,
  fieldValue,
  type LabelOperator,
  type LabelRequirement,
  labelSelectorFromObject,
  labelSelectorToString,
  matchesFieldSelector,
  matchesLabelSelector,
  NOTHING,
  type ParsedFieldSelector,
  type ParsedLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  SUPPORTED_FIELDS,
  validateLabelSelector,
} from './store/selectors.ts';
export { STORE_APPLICATION_ID, STORE_SCHEMA_VERSION, StoreLockedError } from './store/sqlite-backend.ts';
export { SqliteStore } from './store/sqlite-store.ts';
export {
  DEFAULT_HISTORY_LIMIT,
  type StoreBackend,
  StoreCore,
  type StoreEvent,
  type StoreOptions,
  type StoreState,
} from './store/store-core.ts';
