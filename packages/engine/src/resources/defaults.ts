/**
 * Defaults as KubeVirt's mutating webhook and virt-controller apply them, for the parts the control plane
 * relies on. Pure: each function returns a new object and never modifies its argument. Idempotent:
 * defaulting a defaulted object changes nothing. The namespace default ('default') is the store's job.
 */
import type {
  Disk,
  RunStrategy,
  VirtualMachine,
  VirtualMachineInstance,
  VirtualMachineInstanceReplicaSet,
  VirtualMachineInstanceSpec,
  VirtualMachineSpec,
} from './kubevirt.ts';
import { KUBEVIRT_API_VERSION } from './kubevirt.ts';

export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 180;
export const DEFAULT_MACHINE_TYPE = 'q35';
/** Name of the interface and network added when a VMI declares none. */
export const DEFAULT_NETWORK_NAME = 'default';

const OLDER_KUBEVIRT_API_VERSIONS = new Set(['kubevirt.io/v1alpha3']);

export interface VMISpecDefaultsOptions {
  /**
   * Add KubeVirt's default pod network (`default`, masquerade) when the spec declares no interfaces and
   * no networks and `autoattachPodInterface` is not false. KubeVirt does this when a VMI is created, not
   * in VM or replica set templates. Default: true.
   */
  podNetwork?: boolean;
}

const copy = <T>(v: T): T => structuredClone(v);

/** kubevirt.io/v1alpha3 objects are stored as kubevirt.io/v1, as KubeVirt stores them. */
function normalizeApiVersion(apiVersion: string): string {
  return OLDER_KUBEVIRT_API_VERSIONS.has(apiVersion) ? KUBEVIRT_API_VERSION : apiVersion;
}

/**
 * Whether `v` is a JSON object. Defaults run before validation (as KubeVirt's mutating webhook runs before its
 * validating one), so they see objects of any shape: they fill in only where the structure has the right
 * type, and never replace a value of the wrong type — validation must still see it and name it.
 */
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Absent in the Kubernetes sense. */
const absent = (v: unknown): v is null | undefined => v === undefined || v === null;

function defaultDisk(disk: Disk): void {
  if (absent(disk.disk) && absent(disk.cdrom) && absent(disk.lun)) disk.disk = {};
  if (isObj(disk.disk)) disk.disk.bus ??= 'virtio';
  if (isObj(disk.cdrom)) {
    disk.cdrom.bus ??= 'sata';
    disk.cdrom.readonly ??= true;
    disk.cdrom.tray ??= 'closed';
  }
  if (isObj(disk.lun)) disk.lun.bus ??= 'scsi';
}

/** Applies the defaults to `spec` in place (callers pass a private copy). */
function applyVMISpecDefaults(spec: VirtualMachineInstanceSpec, options: VMISpecDefaultsOptions): void {
  if (!isObj(spec)) return;
  spec.domain ??= { devices: {} };
  const domain = spec.domain;
  if (!isObj(domain)) return;
  domain.devices ??= {};
  const devices = isObj(domain.devices) ? domain.devices : undefined;

  domain.cpu ??= {};
  if (isObj(domain.cpu)) {
    domain.cpu.cores ??= 1;
    domain.cpu.sockets ??= 1;
    domain.cpu.threads ??= 1;
  }

  // Guest memory and the memory request each default from the other (limits take part as in Kubernetes).
  const resources = domain.resources;
  const requests = isObj(resources) ? resources.requests : undefined;
  const limits = isObj(resources) ? resources.limits : undefined;
  const limitMemory = (isObj(limits) ? limits.memory : undefined) as string | undefined;
  const guest = ((isObj(domain.memory) ? domain.memory.guest : undefined) ??
    limitMemory ??
    (isObj(requests) ? requests.memory : undefined)) as string | undefined;
  const fits = (v: unknown) => absent(v) || isObj(v);
  if (!absent(guest) && fits(domain.memory) && fits(resources) && fits(requests)) {
    domain.memory ??= {};
    domain.memory.guest ??= guest;
    domain.resources ??= {};
    domain.resources.requests ??= {};
    domain.resources.requests.memory ??= limitMemory ?? guest;
  }

  if (Array.isArray(devices?.disks))
    for (const disk of devices.disks) if (isObj(disk)) defaultDisk(disk as unknown as Disk);

  if (absent(domain.machine)) domain.machine = { type: DEFAULT_MACHINE_TYPE };
  else if (isObj(domain.machine) && (absent(domain.machine.type) || domain.machine.type === ''))
    domain.machine.type = DEFAULT_MACHINE_TYPE;

  if (!devices) {
    spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
    return;
  }
  const none = (v: unknown) => absent(v) || (Array.isArray(v) && v.length === 0);
  const noNetworking = none(devices.interfaces) && none(spec.networks);
  if ((options.podNetwork ?? true) && noNetworking && devices.autoattachPodInterface !== false) {
    devices.interfaces = [{ name: DEFAULT_NETWORK_NAME, masquerade: {} }];
    spec.networks = [{ name: DEFAULT_NETWORK_NAME, pod: {} }];
  }
  // An interface without a binding: masquerade on the pod network, bridge elsewhere.
  const networks = Array.isArray(spec.networks) ? spec.networks : [];
  for (const itf of Array.isArray(devices.interfaces) ? devices.interfaces : []) {
    if (!isObj(itf)) continue;
    const bindings = ['masquerade', 'bridge', 'sriov', 'slirp', 'passt', 'macvtap', 'binding'];
    if (bindings.some((b) => (itf as unknown as Record<string, unknown>)[b] !== undefined)) continue;
    const network = networks.find((n) => isObj(n) && n.name === itf.name);
    if (network?.pod) itf.masquerade = {};
    else itf.bridge = {};
  }

  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
}

/** A copy of `spec` with KubeVirt's defaults: 1×1×1 CPU topology, memory request ⇄ guest, disk buses, q35, grace period. */
export function defaultVMISpec(
  spec: VirtualMachineInstanceSpec,
  options: VMISpecDefaultsOptions = {},
): VirtualMachineInstanceSpec {
  const out = copy(spec);
  applyVMISpecDefaults(out, options);
  return out;
}

/** A defaulted copy of a VirtualMachineInstance (apiVersion normalised, spec defaulted, pod network added). */
export function defaultVMI(vmi: VirtualMachineInstance): VirtualMachineInstance {
  const out = copy(vmi);
  out.apiVersion = normalizeApiVersion(out.apiVersion) as typeof out.apiVersion;
  out.metadata ??= {};
  out.spec ??= { domain: { devices: {} } };
  applyVMISpecDefaults(out.spec, { podNetwork: true });
  return out;
}

/** A defaulted copy of a VirtualMachine: runStrategy Halted when neither it nor `running` is set; template defaulted. */
export function defaultVirtualMachine(vm: VirtualMachine): VirtualMachine {
  const out = copy(vm);
  out.apiVersion = normalizeApiVersion(out.apiVersion) as typeof out.apiVersion;
  out.metadata ??= {};
  if (isObj(out.spec)) {
    if (out.spec.running === undefined && out.spec.runStrategy === undefined) out.spec.runStrategy = 'Halted';
    if (isObj(out.spec.template) && out.spec.template.spec)
      applyVMISpecDefaults(out.spec.template.spec, { podNetwork: false });
  }
  return out;
}

/** A defaulted copy of a VirtualMachineInstanceReplicaSet: one replica unless given; template defaulted. */
export function defaultVirtualMachineInstanceReplicaSet(
  rs: VirtualMachineInstanceReplicaSet,
): VirtualMachineInstanceReplicaSet {
  const out = copy(rs);
  out.apiVersion = normalizeApiVersion(out.apiVersion) as typeof out.apiVersion;
  out.metadata ??= {};
  if (isObj(out.spec)) {
    out.spec.replicas ??= 1;
    if (isObj(out.spec.template) && out.spec.template.spec)
      applyVMISpecDefaults(out.spec.template.spec, { podNetwork: false });
  }
  return out;
}

/** The effective run strategy: `runStrategy`, else the deprecated `running` (true → Always, false → Halted), else Halted. */
export function vmRunStrategy(spec: Pick<VirtualMachineSpec, 'running' | 'runStrategy'>): RunStrategy {
  if (spec.runStrategy !== undefined) return spec.runStrategy;
  return spec.running === true ? 'Always' : 'Halted';
}

/**
 * Defaults any stored kind by its `kind` (VMs, VMIs, replica sets as above; migrations get their
 * apiVersion normalised); other kinds are returned as a plain copy.
 */
export function defaultObject<T extends { apiVersion: string; kind: string }>(obj: T): T {
  switch (obj.kind) {
    case 'VirtualMachine':
      return defaultVirtualMachine(obj as unknown as VirtualMachine) as unknown as T;
    case 'VirtualMachineInstance':
      return defaultVMI(obj as unknown as VirtualMachineInstance) as unknown as T;
    case 'VirtualMachineInstanceReplicaSet':
      return defaultVirtualMachineInstanceReplicaSet(
        obj as unknown as VirtualMachineInstanceReplicaSet,
      ) as unknown as T;
    case 'VirtualMachineInstanceMigration': {
      const out = copy(obj);
      out.apiVersion = normalizeApiVersion(out.apiVersion);
      return out;
    }
    default:
      return copy(obj);
  }
}
