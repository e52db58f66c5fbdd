/**
 * The NodeDriver contract suite's vocabulary: scenarios are plain data (lists of steps against two nodes
 * `A` and `B`), a run of them produces a `ContractTrace` that holds nothing timing-dependent, so a trace
 * recorded from the real libvirt agent can be compared with one from the simulator, entry by entry.
 */
import type { NodeDriver } from '@virtkit/engine';

/** The two nodes every scenario runs against. */
export type ContractNode = 'A' | 'B';

/** A migration target: one of the pair, or a node name nobody knows. */
export type ContractTargetNode = ContractNode | 'unknown';

/**
 * A domain of a scenario, known by a short key (`a`, `f1`…). Every domain boots the project's test
 * guest (direct kernel boot, busybox init, NoCloud seed) so the same definition runs on both drivers.
 */
export interface ContractVm {
  /** Guest memory, a quantity; default `128Mi`. */
  memory?: string;
  /** `spec.hostname`; default none (the guest takes the VMI name). */
  hostname?: string;
  /** Attach the contract's data disk image as a containerDisk (an image the node has to fetch). */
  dataDisk?: boolean;
  /** Attach a hostDisk volume (after the cloud-init disk). */
  hostDisk?: ContractHostDisk;
}

/**
 * A hostDisk volume of a contract VM. A relative `path` is appended to the target's hostDisk root as
 * text (`../x.img` stays an escape attempt); an absolute one is used as it is.
 */
export interface ContractHostDisk {
  path: string;
  type: 'Disk' | 'DiskOrCreate';
  capacity?: string;
}

/** Ways a definition can be altered to provoke refusals. */
export type DefinitionVariant =
  /** Same id, another uid: `DomainExists`. */
  | 'other-uid'
  /** No guest memory and no memory request. */
  | 'no-memory'
  /** A disk that names no volume. */
  | 'disk-without-volume'
  /** An id that cannot be a libvirt domain name on disk (contains `/`). */
  | 'bad-name'
  /** A uid that is not a safe path component. */
  | 'bad-uid';

/** A lifecycle event as `virsh event` prints it, e.g. `Stopped/Shutdown`. */
export type LifecycleText = `${string}/${string}`;

/** What a `wait` step waits for on one node, for one domain. */
export type WaitTarget = 'guest-ready' | 'migration progress' | LifecycleText;

/**
 * What every step may say besides its action. `snapshot: false` leaves out the state snapshot after the
 * step where that state is a race on a real node (right after an ACPI shutdown request the guest may be
 * running, shutting down or already off); the events that follow are still compared.
 */
export interface StepOptions {
  snapshot?: false;
}

export type ContractStep = StepOptions &
  (
    | { do: 'define'; node: ContractNode; vm: string; variant?: DefinitionVariant }
    | {
        do: 'start' | 'shutdown' | 'destroy' | 'pause' | 'resume' | 'reboot' | 'undefine' | 'abort-migration';
        node: ContractNode;
        vm: string;
      }
    /** `getDomain` on its own (every step is followed by a snapshot anyway; this records the call's result). */
    | { do: 'get'; node: ContractNode; vm: string }
    | {
        do: 'migrate';
        node: ContractNode;
        vm: string;
        to: ContractTargetNode;
        bandwidthBytesPerSec?: number;
        /** Do not wait for the call; a later `await-migration` step collects its outcome. */
        background?: boolean;
      }
    | { do: 'await-migration'; vm: string }
    /**
     * Waits until the node has reported the event for the domain (the n-th wait for the same thing sees the
     * n-th occurrence). A wait that runs out ends the scenario: its outcome is `timeout`.
     */
    | { do: 'wait'; node: ContractNode; vm: string; for: WaitTarget; timeoutMs?: number }
  );

export interface ContractScenario {
  /** Short, unique, usable in a domain name (`[a-z0-9-]`). */
  name: string;
  /** What the scenario proves. */
  about: string;
  vms: Record<string, ContractVm>;
  steps: ContractStep[];
}

/** The guest every contract domain boots (the test guest of `@virtkit/agent/testing` on a real node). */
export interface ContractGuest {
  /** Kernel boot "container" image name. */
  image: string;
  kernelPath: string;
  initrdPath: string;
  kernelArgs: string;
}

/** What a step's call did. Messages are kept for people but never compared. */
export interface StepOutcome {
  result: 'ok' | 'error' | 'timeout' | 'skipped';
  /** `DriverError` reason, or `not-a-DriverError` when something else was thrown. */
  reason?: string;
  /** A normalised summary of what the call returned (define, get, migrate). */
  value?: string;
  message?: string;
}

export interface StepRecord {
  index: number;
  /** e.g. `A start a`. */
  label: string;
  outcome: StepOutcome;
  /** `listDomains` of both nodes after the step (normalised, scenario domains only); absent for background steps. */
  state?: Record<ContractNode, string[]>;
}

export interface EventRecord {
  /** Index of the step during which the event was observed (for reports; not compared). */
  step: number;
  text: string;
}

export interface ScenarioTrace {
  scenario: string;
  steps: StepRecord[];
  events: Record<ContractNode, EventRecord[]>;
}

export interface ContractTrace {
  /** Where the trace comes from (driver, versions, hypervisor, date); never compared. */
  meta: Record<string, string>;
  scenarios: ScenarioTrace[];
}

/**
 * How a run lets time pass. The simulator's clock only moves when driven; a real node's moves by itself.
 */
export interface ContractTime {
  /** Resolves with `p`'s value (or rejects with its error), or `CONTRACT_TIMEOUT` after `limitMs`. */
  settle<T>(p: Promise<T>, limitMs: number): Promise<T | typeof CONTRACT_TIMEOUT>;
  /** Lets time pass until `cond()` holds (true) or `limitMs` passed (false). */
  until(cond: () => boolean, limitMs: number): Promise<boolean>;
}

export const CONTRACT_TIMEOUT: unique symbol = Symbol('contract-timeout');

/** Two nodes for one scenario, fresh or reused (the runner cleans its domains up after each scenario). */
export interface ContractPair {
  a: NodeDriver;
  b: NodeDriver;
  time: ContractTime;
  /** Releases what `pair()` created (called after the runner's clean-up). */
  dispose?: () => Promise<void>;
}

/**
 * What the runner needs from an implementation under test. Both nodes must be able to migrate to each
 * other and hold at most `CONTRACT_MAX_VMS` domains each; the test guest must be bootable from
 * `guest`'s image without a fetch, `CONTRACT_DATA_DISK_IMAGE` must be fetchable, and hostDisk volumes
 * allowed under `hostDiskRoot` only.
 */
export interface ContractTarget {
  /** e.g. `libvirt` or `sim`. */
  name: string;
  /** Default `CONTRACT_GUEST`. */
  guest?: ContractGuest;
  /**
   * The one directory both nodes allow hostDisk paths under (their `hostDiskRoots`), holding nothing but
   * the symlinks of `CONTRACT_HOST_DISK_LINKS` when a run starts. Default `CONTRACT_HOST_DISK_ROOT`.
   */
  hostDiskRoot?: string;
  pair(scenario: ContractScenario): Promise<ContractPair>;
  /** Extra entries for the trace's `meta` (versions, hypervisor). */
  describe?(pair: ContractPair): Promise<Record<string, string>>;
}
