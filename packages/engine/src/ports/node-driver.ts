/**
 * The NodeDriver port: the contract between the control plane and a node. Two implementations:
 * the libvirt agent (`@virtkit/agent`, real QEMU/KVM) and the simulator (`@virtkit/sim`, SimNode).
 * Both must produce the same events in the same order and the same errors for the same misuse;
 * a contract suite runs unchanged against both.
 *
 * Rules every implementation follows:
 * - Calls are idempotent where the engine may retry after a crash: `defineDomain` with a spec whose
 *   `uid` matches an existing domain returns that domain; `destroyDomain`/`undefineDomain` on a domain
 *   that is already gone resolve without error. Other misuse (start a running domain, pause a shut-off
 *   one) fails with `DriverError` reason `InvalidState`, exactly as libvirt's VIR_ERR_OPERATION_INVALID.
 * - A method resolves when the hypervisor accepted and completed the operation (as `virsh` returns),
 *   not when the guest reacted: `startDomain` resolves once the domain runs; guest readiness arrives
 *   later as a `guest-ready` event; `shutdownDomain` resolves when the request was delivered and the
 *   domain's stop arrives as a `lifecycle` Stopped event.
 * - Errors are `DriverError` (see errors.ts) with a `reason` from `DriverErrorReason`.
 * - Events for one domain are delivered in order. Events carry the node's clock time.
 *
 * Canonical event sequences (per node; the agent normalises libvirt's raw events to exactly these, the
 * simulator emits exactly these, and the contract suite compares them):
 * - defineDomain:   [image fetching, image fetched]* (only when an image had to be fetched), lifecycle Defined/Added
 * - startDomain:    lifecycle Started/Booted, console lines..., guest-ready
 * - pauseDomain:    lifecycle Suspended/Paused          resumeDomain: lifecycle Resumed/Unpaused
 * - shutdownDomain: (guest complies) lifecycle Shutdown/Finished, lifecycle Stopped/Shutdown
 * - destroyDomain:  lifecycle Stopped/Destroyed (nothing when already off)
 * - rebootDomain:   console lines of the new boot..., guest-ready
 * - guest crash:    console panic lines, lifecycle Crashed/Panicked, lifecycle Stopped/Crashed
 * - undefineDomain: lifecycle Undefined/Removed (nothing when already gone)
 * - migrateDomain:  source: migration started, migration progress*, migration completed (downtimeMs),
 *                   lifecycle Stopped/Migrated; target: lifecycle Started/Migrated.
 *                   On failure/abort: source: migration started, progress*, migration failed|aborted;
 *                   the domain keeps running on the source and nothing appears on the target.
 */
import type { DriverErrorReason } from '../errors.ts';
import type { VirtualMachineInstanceSpec } from '../resources/kubevirt.ts';

/** libvirt's domain states (virDomainState). */
export type DomainState =
  | 'nostate'
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutdown'
  | 'shutoff'
  | 'crashed'
  | 'pmsuspended';

/** What the engine asks a node to run. `id` is the domain name on the node: `<namespace>_<name>`. */
export interface DomainDefinition {
  id: string;
  /** UID of the VirtualMachineInstance; the domain's identity across retries and restarts. */
  uid: string;
  name: string;
  namespace: string;
  spec: VirtualMachineInstanceSpec;
  /** Line on the serial console that means "guest ready"; default: the driver's (cloud-init done) line. */
  readinessLine?: string;
  /** Labels/annotations of the VMI that drivers may use (e.g. image translation hints). */
  annotations?: Record<string, string>;
}

export interface DomainInfo {
  id: string;
  uid: string;
  state: DomainState;
  /** libvirt's state reason, e.g. `booted`, `user`, `migrated`, `destroyed`, `crashed`. */
  reason: string;
  /** Whether the guest reported ready (console line or guest agent) since its last boot. */
  guestReady: boolean;
  vcpus: number;
  memoryBytes: number;
  /** `kvm` or `qemu` (TCG, software emulation). */
  hypervisor: 'kvm' | 'qemu';
  /** Present while an outgoing migration runs. */
  migration?: MigrationProgress;
}

/** libvirt lifecycle events (virDomainEventType) with their detail strings as `virsh event` prints them. */
export type LifecycleEvent =
  | { event: 'Defined'; detail: 'Added' | 'Updated' }
  | { event: 'Undefined'; detail: 'Removed' }
  | { event: 'Started'; detail: 'Booted' | 'Migrated' | 'Restored' }
  | { event: 'Suspended'; detail: 'Paused' | 'Migrated' | 'IOError' }
  | { event: 'Resumed'; detail: 'Unpaused' | 'Migrated' }
  | { event: 'Shutdown'; detail: 'Finished' | 'Guest' | 'Host' }
  | { event: 'Stopped'; detail: 'Shutdown' | 'Destroyed' | 'Crashed' | 'Migrated' | 'Failed' }
  | { event: 'Crashed'; detail: 'Panicked' };

export interface MigrationProgress {
  /** Bytes of guest memory to move in total. */
  dataTotal: number;
  dataProcessed: number;
  dataRemaining: number;
  /** Pre-copy iteration (1-based). */
  iteration: number;
  /** Guest dirty rate, bytes/s, when known. */
  dirtyRate?: number;
  elapsedMs: number;
}

export type DomainEvent =
  | ({ type: 'lifecycle'; node: string; domain: string; uid: string; at: number } & LifecycleEvent)
  | { type: 'guest-ready'; node: string; domain: string; uid: string; at: number; via: 'console' | 'agent' }
  | {
      type: 'migration';
      node: string;
      domain: string;
      uid: string;
      at: number;
      phase: 'started' | 'progress' | 'completed' | 'failed' | 'aborted';
      progress?: MigrationProgress;
      /** On completed: measured downtime of the switch-over. */
      downtimeMs?: number;
      /** On failed/aborted. */
      error?: { reason: DriverErrorReason; message: string };
      targetNode: string;
    }
  | { type: 'console'; node: string; domain: string; uid: string; at: number; line: string }
  | {
      type: 'image';
      node: string;
      domain: string;
      uid: string;
      at: number;
      phase: 'fetching' | 'fetched' | 'failed';
      bytesDone?: number;
      bytesTotal?: number;
      error?: { reason: DriverErrorReason; message: string };
    };

export interface NodeCapacity {
  /** Millicores (1000 = one CPU). */
  cpuMillis: number;
  memoryBytes: number;
  /** Maximum number of domains. */
  vms: number;
}

export interface NodeInfo {
  name: string;
  capacity: NodeCapacity;
  /** Capacity minus what the host reserves for itself. */
  allocatable: NodeCapacity;
  labels: Record<string, string>;
  /** `kvm` when /dev/kvm can really run guests, else `qemu` (TCG) with the reason in `emulationReason`. */
  hypervisor: 'kvm' | 'qemu';
  emulationReason?: string;
  /** e.g. `{ libvirt: '9.0.0', qemu: '7.2.0' }` or `{ sim: '0.1.0' }`. */
  versions: Record<string, string>;
  /** Address other nodes use to reach this node for migration (e.g. `qemu+tcp://127.0.0.1:16510/system`). */
  migrationUri?: string;
}

export interface MigrateOptions {
  /** Maximum tolerated downtime for the switch-over (libvirt `migrate-setmaxdowntime`). */
  maxDowntimeMs?: number;
  /** Bandwidth cap in bytes/s. */
  bandwidthBytesPerSec?: number;
  /** Fails (and aborts) the migration when it has not completed within this time. */
  completionTimeoutMs?: number;
  /** Fails when no progress (dataRemaining did not shrink) for this long. */
  progressTimeoutMs?: number;
}

export interface MigrationResult {
  targetNode: string;
  downtimeMs: number;
  durationMs: number;
  bytesTransferred: number;
  iterations: number;
}

export type Unsubscribe = () => void;

export interface NodeDriver {
  readonly nodeName: string;

  /** Node capacity, labels and hypervisor. Fails with `NodeUnreachable` when the node cannot be reached. */
  info(): Promise<NodeInfo>;

  /** Liveness probe used for heartbeats; rejects with `NodeUnreachable` when partitioned or down. */
  ping(): Promise<void>;

  /**
   * Prepares everything the domain needs (images, overlays, cloud-init disk) and defines it (shut off).
   * Idempotent by `uid`. Fails with `InsufficientResources` when it does not fit the node's allocatable
   * capacity, `ImageFetchFailed`/`DiskFull` for image problems, `DomainExists` when a domain with the same
   * id but another uid exists.
   * Capacity: every *defined* domain holds its CPU, memory (sized by `vmiSpecResources`) and one VM slot
   * whether it runs or not, until it is undefined (or migrated away), so a start never fails for capacity.
   */
  defineDomain(definition: DomainDefinition): Promise<DomainInfo>;

  /** Boots a defined, shut-off domain. `InvalidState` when it already runs. */
  startDomain(id: string): Promise<void>;

  /** Asks the guest to power off (ACPI). The Stopped event follows when the guest complies. */
  shutdownDomain(id: string): Promise<void>;

  /** Forces the domain off (like pulling the plug). Resolves when it is off; no-op when already off or gone. */
  destroyDomain(id: string): Promise<void>;

  pauseDomain(id: string): Promise<void>;
  resumeDomain(id: string): Promise<void>;

  /** Soft reboot (ACPI reboot of the guest). */
  rebootDomain(id: string): Promise<void>;

  /** Removes the domain's definition and every per-domain file (overlay, cloud-init ISO). Must be off. No-op when gone. */
  undefineDomain(id: string): Promise<void>;

  getDomain(id: string): Promise<DomainInfo | undefined>;
  listDomains(): Promise<DomainInfo[]>;

  /**
   * Live-migrates a running domain to `targetNode` (peer-to-peer, hypervisor-managed). Resolves when the
   * domain runs on the target; rejects with `MigrationFailed`/`MigrationAborted`, after which the domain
   * still runs on this node. `InsufficientResources` when the target cannot hold it.
   */
  migrateDomain(id: string, targetNode: string, options?: MigrateOptions): Promise<MigrationResult>;

  /** Aborts a running outgoing migration; no-op when none runs. */
  abortMigration(id: string): Promise<void>;

  /** Serial console: the lines written so far (bounded backlog) followed by new ones until the domain stops or `signal` aborts. */
  console(id: string, options?: { signal?: AbortSignal; fromStart?: boolean }): AsyncIterable<string>;

  /** Subscribes to events of all domains on this node. */
  onEvent(listener: (event: DomainEvent) => void): Unsubscribe;

  /**
   * Optional: notices that events of this node may have been lost — a remote agent restarted (or its event
   * buffer overflowed) while the event stream was reconnecting. Whoever follows domains by their events must
   * read them again (`getDomain`). Drivers whose events cannot be lost need not implement it.
   */
  onEventsLost?(listener: () => void): Unsubscribe;

  /** Releases connections; domains keep running. */
  close(): Promise<void>;
}

/** Resolves node names to drivers; the engine talks to nodes only through this. */
export interface NodeDriverRegistry {
  get(nodeName: string): NodeDriver | undefined;
  list(): NodeDriver[];
}
