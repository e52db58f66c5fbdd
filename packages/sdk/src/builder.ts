/**
 * A small fluent builder for kubevirt.io/v1 VirtualMachine manifests. It produces plain objects (no
 * classes, no hidden state), so the result can be stored, diffed, printed as YAML or sent to any cluster.
 *
 * @example
 * const manifest = vm('web').memory('256Mi').cores(2).containerDisk('quay.io/containerdisks/cirros').cloudInit({ hostname: 'web' }).build();
 */
import type {
  Disk,
  DiskBus,
  EvictionStrategy,
  RunStrategy,
  Toleration,
  VirtualMachine,
  VirtualMachineInstanceReplicaSet,
  VirtualMachineInstanceSpec,
  Volume,
} from '@virtkit/engine';

export interface CloudInitOptions {
  /** Guest hostname (meta-data local-hostname). */
  hostname?: string;
  /** Raw user-data; when absent a minimal `#cloud-config` is generated. */
  userData?: string;
  networkData?: string;
}

const clone = <T>(x: T): T => structuredClone(x);

export class VirtualMachineBuilder {
  #name: string;
  #namespace: string | undefined;
  #labels: Record<string, string> = {};
  #annotations: Record<string, string> = {};
  #runStrategy: RunStrategy = 'Always';
  #spec: VirtualMachineInstanceSpec = { domain: { devices: { disks: [] } }, volumes: [] };
  #templateLabels: Record<string, string> = {};

  constructor(name: string) {
    this.#name = name;
  }

  namespace(ns: string): this {
    this.#namespace = ns;
    return this;
  }

  /** Labels on the VM and on the VMI template (so replica sets and selectors see them). */
  label(key: string, value: string): this {
    this.#labels[key] = value;
    this.#templateLabels[key] = value;
    return this;
  }

  annotation(key: string, value: string): this {
    this.#annotations[key] = value;
    return this;
  }

  runStrategy(strategy: RunStrategy): this {
    this.#runStrategy = strategy;
    return this;
  }

  /** Guest memory, a Kubernetes quantity such as `256Mi`; also the memory request. */
  memory(quantity: string): this {
    this.#spec.domain.memory = { guest: quantity };
    this.#spec.domain.resources = {
      ...this.#spec.domain.resources,
      requests: { ...this.#spec.domain.resources?.requests, memory: quantity },
    };
    return this;
  }

  cores(n: number): this {
    this.#spec.domain.cpu = { ...this.#spec.domain.cpu, cores: n };
    return this;
  }

  sockets(n: number): this {
    this.#spec.domain.cpu = { ...this.#spec.domain.cpu, sockets: n };
    return this;
  }

  threads(n: number): this {
    this.#spec.domain.cpu = { ...this.#spec.domain.cpu, threads: n };
    return this;
  }

  /** CPU request as a quantity (e.g. `500m`), independent of the topology. */
  cpuRequest(quantity: string): this {
    this.#spec.domain.resources = {
      ...this.#spec.domain.resources,
      requests: { ...this.#spec.domain.resources?.requests, cpu: quantity },
    };
    return this;
  }

  #addDisk(disk: Disk, volume: Volume): this {
    this.#spec.domain.devices.disks = [...(this.#spec.domain.devices.disks ?? []), disk];
    this.#spec.volumes = [...(this.#spec.volumes ?? []), volume];
    return this;
  }

  /** Boot disk from a container image (or, with the libvirt agent, an image URL through its translation config). */
  containerDisk(image: string, options: { name?: string; bus?: DiskBus } = {}): this {
    const name = options.name ?? 'containerdisk';
    return this.#addDisk({ name, disk: { bus: options.bus ?? 'virtio' } }, { name, containerDisk: { image } });
  }

  emptyDisk(name: string, capacity: string, bus: DiskBus = 'virtio'): this {
    return this.#addDisk({ name, disk: { bus } }, { name, emptyDisk: { capacity } });
  }

  hostDisk(name: string, path: string, options: { type?: 'Disk' | 'DiskOrCreate'; capacity?: string } = {}): this {
    const hostDisk: Volume['hostDisk'] = { path, type: options.type ?? 'Disk' };
    if (options.capacity !== undefined && hostDisk) hostDisk.capacity = options.capacity;
    return this.#addDisk({ name, disk: { bus: 'virtio' } }, { name, hostDisk });
  }

  /** cloud-init NoCloud data source; sets the guest hostname. */
  cloudInit(options: CloudInitOptions = {}): this {
    const userData = options.userData ?? `#cloud-config\n${options.hostname ? `hostname: ${options.hostname}\n` : ''}`;
    if (options.hostname) this.#spec.hostname = options.hostname;
    const source: NonNullable<Volume['cloudInitNoCloud']> = { userData };
    if (options.networkData !== undefined) source.networkData = options.networkData;
    return this.#addDisk(
      { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
      { name: 'cloudinitdisk', cloudInitNoCloud: source },
    );
  }

  /** Direct kernel boot from a container image holding the kernel and initrd (KubeVirt's `firmware.kernelBoot`). */
  kernelBoot(options: { image: string; kernelPath: string; initrdPath?: string; kernelArgs?: string }): this {
    const container: NonNullable<
      NonNullable<NonNullable<VirtualMachineInstanceSpec['domain']['firmware']>['kernelBoot']>['container']
    > = {
      image: options.image,
      kernelPath: options.kernelPath,
    };
    if (options.initrdPath !== undefined) container.initrdPath = options.initrdPath;
    const kernelBoot: { container: typeof container; kernelArgs?: string } = { container };
    if (options.kernelArgs !== undefined) kernelBoot.kernelArgs = options.kernelArgs;
    this.#spec.domain.firmware = { ...this.#spec.domain.firmware, kernelBoot };
    return this;
  }

  nodeSelector(selector: Record<string, string>): this {
    this.#spec.nodeSelector = { ...this.#spec.nodeSelector, ...selector };
    return this;
  }

  tolerate(toleration: Toleration): this {
    this.#spec.tolerations = [...(this.#spec.tolerations ?? []), toleration];
    return this;
  }

  evictionStrategy(strategy: EvictionStrategy): this {
    this.#spec.evictionStrategy = strategy;
    return this;
  }

  terminationGracePeriodSeconds(seconds: number): this {
    this.#spec.terminationGracePeriodSeconds = seconds;
    return this;
  }

  /** The VMI spec this builder describes (a copy). */
  instanceSpec(): VirtualMachineInstanceSpec {
    return clone(this.#spec);
  }

  build(): VirtualMachine {
    const metadata: VirtualMachine['metadata'] = { name: this.#name };
    if (this.#namespace !== undefined) metadata.namespace = this.#namespace;
    if (Object.keys(this.#labels).length) metadata.labels = { ...this.#labels };
    if (Object.keys(this.#annotations).length) metadata.annotations = { ...this.#annotations };
    const templateMeta = Object.keys(this.#templateLabels).length ? { labels: { ...this.#templateLabels } } : {};
    return {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata,
      spec: { runStrategy: this.#runStrategy, template: { metadata: templateMeta, spec: clone(this.#spec) } },
    };
  }
}

/** Starts a VirtualMachine manifest. */
export function vm(name: string): VirtualMachineBuilder {
  return new VirtualMachineBuilder(name);
}

/** A VirtualMachineInstanceReplicaSet whose VMIs are shaped by `template` and labelled `app=<name>`. */
export function replicaSet(
  name: string,
  replicas: number,
  template: VirtualMachineBuilder,
  namespace?: string,
): VirtualMachineInstanceReplicaSet {
  const labels = { 'virtkit.io/replicaset': name };
  const metadata: VirtualMachineInstanceReplicaSet['metadata'] = { name };
  if (namespace !== undefined) metadata.namespace = namespace;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata,
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: template.instanceSpec() },
    },
  };
}
