/**
 * kubevirt.io/v1 resource types, with KubeVirt's exact field names for what virtkit supports.
 * Fields not listed are still accepted and preserved (reported as warnings by validation).
 */
import type { Condition, KubeObject, LabelSelector, ObjectMeta } from './meta.ts';

export const KUBEVIRT_API_VERSION = 'kubevirt.io/v1';

export type RunStrategy = 'Always' | 'Halted' | 'Manual' | 'RerunOnFailure' | 'Once';
export const RUN_STRATEGIES: readonly RunStrategy[] = ['Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once'];

export type EvictionStrategy = 'None' | 'LiveMigrate' | 'LiveMigrateIfPossible' | 'External';

export interface CPU {
  cores?: number;
  sockets?: number;
  threads?: number;
  model?: string;
}

export interface Memory {
  guest?: string;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  overcommitGuestOverhead?: boolean;
}

export type DiskBus = 'virtio' | 'sata' | 'scsi';

export interface DiskTarget {
  bus?: DiskBus;
  readonly?: boolean;
}

export interface Disk {
  name: string;
  disk?: DiskTarget;
  cdrom?: { bus?: DiskBus; readonly?: boolean; tray?: string };
  lun?: { bus?: DiskBus; readonly?: boolean };
  bootOrder?: number;
  serial?: string;
  cache?: 'none' | 'writethrough' | 'writeback';
}

export interface Interface {
  name: string;
  masquerade?: Record<string, never>;
  bridge?: Record<string, never>;
  sriov?: Record<string, never>;
  model?: string;
  macAddress?: string;
  ports?: { name?: string; port: number; protocol?: string }[];
}

export interface Devices {
  disks?: Disk[];
  interfaces?: Interface[];
  autoattachSerialConsole?: boolean;
  autoattachGraphicsDevice?: boolean;
  /** false: no default pod interface/network is added when none are declared (KubeVirt default: true). */
  autoattachPodInterface?: boolean;
  rng?: Record<string, never>;
}

export interface KernelBootContainer {
  image: string;
  kernelPath?: string;
  initrdPath?: string;
  imagePullPolicy?: string;
}

export interface Firmware {
  uuid?: string;
  serial?: string;
  bootloader?: { bios?: Record<string, unknown>; efi?: { secureBoot?: boolean } };
  kernelBoot?: { kernelArgs?: string; container?: KernelBootContainer };
}

export interface DomainSpec {
  cpu?: CPU;
  memory?: Memory;
  resources?: ResourceRequirements;
  devices: Devices;
  firmware?: Firmware;
  machine?: { type?: string };
  features?: Record<string, unknown>;
  clock?: Record<string, unknown>;
}

export interface ContainerDiskSource {
  image: string;
  path?: string;
  imagePullPolicy?: string;
}

export interface CloudInitNoCloudSource {
  userData?: string;
  userDataBase64?: string;
  networkData?: string;
  networkDataBase64?: string;
  secretRef?: { name: string };
  networkDataSecretRef?: { name: string };
}

export interface EmptyDiskSource {
  capacity: string;
}

export interface HostDiskSource {
  path: string;
  type: 'Disk' | 'DiskOrCreate';
  capacity?: string;
  shared?: boolean;
}

export interface PersistentVolumeClaimSource {
  claimName: string;
  readOnly?: boolean;
  hotpluggable?: boolean;
}

export interface Volume {
  name: string;
  containerDisk?: ContainerDiskSource;
  cloudInitNoCloud?: CloudInitNoCloudSource;
  emptyDisk?: EmptyDiskSource;
  hostDisk?: HostDiskSource;
  persistentVolumeClaim?: PersistentVolumeClaimSource;
  dataVolume?: { name: string };
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | '';
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
  };
  podAffinity?: unknown;
  podAntiAffinity?: unknown;
}

export interface VirtualMachineInstanceSpec {
  domain: DomainSpec;
  volumes?: Volume[];
  networks?: { name: string; pod?: Record<string, never>; multus?: { networkName: string } }[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  evictionStrategy?: EvictionStrategy;
  terminationGracePeriodSeconds?: number;
  hostname?: string;
  subdomain?: string;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
}

export type VMIPhase = 'Pending' | 'Scheduling' | 'Scheduled' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface VirtualMachineInstanceMigrationState {
  migrationUid?: string;
  sourceNode?: string;
  targetNode?: string;
  startTimestamp?: string;
  endTimestamp?: string;
  completed?: boolean;
  failed?: boolean;
  abortRequested?: boolean;
  abortStatus?: 'Succeeded' | 'Failed' | 'Aborting';
  mode?: 'PreCopy' | 'PostCopy';
  /** virtkit extension: measured downtime of the final switch-over. */
  downtimeMs?: number;
}

export interface VirtualMachineInstanceStatus {
  phase?: VMIPhase;
  reason?: string;
  nodeName?: string;
  conditions?: Condition[];
  interfaces?: { name?: string; ipAddress?: string; mac?: string }[];
  guestOSInfo?: Record<string, unknown>;
  migrationState?: VirtualMachineInstanceMigrationState;
  migrationMethod?: string;
  launcherContainerImageVersion?: string;
  phaseTransitionTimestamps?: { phase: VMIPhase; phaseTransitionTimestamp: string }[];
  activePods?: Record<string, string>;
  /** virtkit extension: persisted lifecycle-machine snapshot (see lifecycle/). */
  virtkit?: Record<string, unknown>;
}

export interface VirtualMachineInstance extends KubeObject {
  apiVersion: typeof KUBEVIRT_API_VERSION;
  kind: 'VirtualMachineInstance';
  spec: VirtualMachineInstanceSpec;
  status?: VirtualMachineInstanceStatus;
}

export interface VirtualMachineInstanceTemplateSpec {
  metadata?: ObjectMeta;
  spec: VirtualMachineInstanceSpec;
}

export type PrintableStatus =
  | 'Stopped'
  | 'Provisioning'
  | 'Starting'
  | 'Running'
  | 'Paused'
  | 'Stopping'
  | 'Terminating'
  | 'CrashLoopBackOff'
  | 'Migrating'
  | 'Unknown'
  | 'ErrorUnschedulable'
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'ErrorPvcNotFound'
  | 'DataVolumeError'
  | 'WaitingForVolumeBinding';

export interface VirtualMachineStateChangeRequest {
  action: 'Start' | 'Stop';
  data?: Record<string, string>;
  uid?: string;
}

export interface VirtualMachineSpec {
  /** Deprecated alias of runStrategy (true = Always, false = Halted). Never both. */
  running?: boolean;
  runStrategy?: RunStrategy;
  template: VirtualMachineInstanceTemplateSpec;
  dataVolumeTemplates?: unknown[];
  instancetype?: unknown;
  preference?: unknown;
}

export interface VirtualMachineStatus {
  created?: boolean;
  ready?: boolean;
  printableStatus?: PrintableStatus;
  conditions?: Condition[];
  stateChangeRequests?: VirtualMachineStateChangeRequest[];
  startFailure?: { consecutiveFailCount: number; retryAfterTimestamp?: string; lastFailedVMIUID?: string };
  observedGeneration?: number;
  desiredGeneration?: number;
  runStrategy?: RunStrategy;
}

export interface VirtualMachine extends KubeObject {
  apiVersion: typeof KUBEVIRT_API_VERSION;
  kind: 'VirtualMachine';
  spec: VirtualMachineSpec;
  status?: VirtualMachineStatus;
}

export type MigrationPhase =
  | 'Pending'
  | 'Scheduling'
  | 'Scheduled'
  | 'PreparingTarget'
  | 'TargetReady'
  | 'Running'
  | 'Succeeded'
  | 'Failed';

export interface VirtualMachineInstanceMigrationSpec {
  vmiName: string;
  /** Constrains target choice (KubeVirt 1.3+). */
  addedNodeSelector?: Record<string, string>;
}

export interface VirtualMachineInstanceMigrationStatus {
  phase?: MigrationPhase;
  conditions?: Condition[];
  phaseTransitionTimestamps?: { phase: MigrationPhase; phaseTransitionTimestamp: string }[];
  migrationState?: VirtualMachineInstanceMigrationState;
}

export interface VirtualMachineInstanceMigration extends KubeObject {
  apiVersion: typeof KUBEVIRT_API_VERSION;
  kind: 'VirtualMachineInstanceMigration';
  spec: VirtualMachineInstanceMigrationSpec;
  status?: VirtualMachineInstanceMigrationStatus;
}

export interface VirtualMachineInstanceReplicaSetSpec {
  replicas?: number;
  selector: LabelSelector;
  template: VirtualMachineInstanceTemplateSpec;
  paused?: boolean;
}

export interface VirtualMachineInstanceReplicaSetStatus {
  replicas?: number;
  readyReplicas?: number;
  labelSelector?: string;
  conditions?: Condition[];
}

export interface VirtualMachineInstanceReplicaSet extends KubeObject {
  apiVersion: typeof KUBEVIRT_API_VERSION;
  kind: 'VirtualMachineInstanceReplicaSet';
  spec: VirtualMachineInstanceReplicaSetSpec;
  status?: VirtualMachineInstanceReplicaSetStatus;
}

/** Cluster-wide migration settings, KubeVirt's `spec.configuration.migrations`. */
export interface MigrationConfiguration {
  parallelMigrationsPerCluster?: number;
  parallelOutboundMigrationsPerNode?: number;
  bandwidthPerMigration?: string;
  completionTimeoutPerGiB?: number;
  progressTimeout?: number;
  allowAutoConverge?: boolean;
  allowPostCopy?: boolean;
}
