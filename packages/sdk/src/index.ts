// @virtkit/sdk — the typed API users touch. Explicit exports only.

// Errors users catch, re-exported so `@virtkit/sdk` is enough.
export {
  AlreadyExistsError,
  ConflictError,
  DriverError,
  type ErrorCode,
  GoneError,
  IllegalTransitionError,
  InvalidSpecError,
  NotFoundError,
  TimeoutError,
  UnschedulableError,
  VirtkitError,
} from '@virtkit/engine';
export {
  type ApiActions,
  type ApiHandler,
  type ApiHandlerOptions,
  type ApiRequest,
  type ApiResponse,
  type ApiServer,
  type ApiServerOptions,
  createApiHandler,
  createApiServer,
  createMswHandlers,
  createServingCertificate,
  DEFAULT_IN_PROCESS_URL,
  type InProcessOptions,
  type InterceptedApi,
  interceptApi,
  kubeconfigYaml,
  type ObjectValidator,
  type ServingCertificate,
  type WatchBufferLimits,
  writeKubeconfig,
} from './api/index.ts';
export { type CloudInitOptions, replicaSet, VirtualMachineBuilder, vm } from './builder.ts';
export { VirtkitClient } from './client/client.ts';
export { KubernetesTransport, type KubernetesTransportOptions } from './client/kubernetes-transport.ts';
export { type DrainOptions, type DrainProgress, Nodes } from './client/nodes.ts';
export {
  type DeleteRequest,
  type ListQuery,
  type NamespaceOption,
  ResourceClient,
  type WaitCondition,
  type WaitOptions,
  type WatchQuery,
} from './client/resources.ts';
export { errorFromStatus, type KubeStatus } from './client/status-errors.ts';
export type { Transport, VerbBody, VmiVerb, VmVerb } from './client/transport.ts';
export {
  type ActionWait,
  type MigrateOptions,
  Migrations,
  ReplicaSets,
  type StopOptions,
  VirtualMachineInstances,
  VirtualMachines,
} from './client/vms.ts';
export {
  type ConnectOptions,
  clientForSimEnv,
  connect,
  type EmbeddedOptions,
  type KubernetesOptions,
} from './connect.ts';
