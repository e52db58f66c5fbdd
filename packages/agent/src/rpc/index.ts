/**
 * A pure TypeScript client of libvirt's remote RPC protocol. Start at `LibvirtClient.connect`.
 */
export {
  type AsyncUnsubscribe,
  type ConnectOptions,
  DEFAULT_SOCKET_PATH,
  type DomainInfoResult,
  type DomainRef,
  type DomainStateInfo,
  type JobInfo,
  type JobStats,
  LibvirtClient,
  type LifecycleEventMessage,
  type LifecycleListener,
  type MigrateToUriOptions,
  type NodeInfoResult,
  parseLibvirtUri,
  type RebootListener,
} from './client.ts';
export { type Domain, type TypedParam, typedParamsToRecord, uuidFromBytes, uuidToBytes } from './codec.ts';
export {
  type ConnectionOptions,
  type Endpoint,
  type KeepaliveOptions,
  type KeepaliveStats,
  RpcConnection,
} from './connection.ts';
export {
  CreateFlags,
  DefineFlags,
  DestroyFlags,
  DOMAIN_STATE_NAMES,
  DomainEventId,
  DomainStateCode,
  type DomainStateName,
  ErrorCode,
  ErrorDomain,
  eventDetailName,
  eventName,
  JOB_TYPE_NAMES,
  JobStatsFlags,
  JobType,
  LIFECYCLE_DETAIL_NAMES,
  LIFECYCLE_EVENT_NAMES,
  LifecycleEventCode,
  type LifecycleEventName,
  ListFlags,
  MigrateFlags,
  MigrateParam,
  RebootFlags,
  ShutdownFlags,
  stateName,
  stateReasonName,
  TypedParamType,
  UndefineFlags,
  XmlFlags,
} from './constants.ts';
export {
  driverErrorReason,
  type ErrorContext,
  LibvirtConnectionError,
  LibvirtError,
  type LibvirtErrorFields,
  LibvirtProtocolError,
  toDriverError,
} from './errors.ts';
export { XdrError, XdrReader, XdrWriter } from './xdr.ts';
