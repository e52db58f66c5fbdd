import {
  defaultObject,
  defaultVirtualMachine,
  defaultVirtualMachineInstanceReplicaSet,
  defaultVMI,
  defaultVMISpec,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VirtualMachineInstanceReplicaSet,
  type VirtualMachineInstanceSpec,
  validateObject,
  vmiSpecResources,
  vmRunStrategy,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { replicaSet, set, vm, vmi } from './fixtures.ts';

const bare = (): VirtualMachineInstance => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'bare' },
  spec: {
    domain: {
      devices: { disks: [{ name: 'root' }] },
      resources: { requests: { memory: '64Mi' } },
    },
    volumes: [{ name: 'root', containerDisk: { image: 'cirros' } }],
  },
});

describe('defaultVMI', () => {
  it('fills in KubeVirt defaults', () => {
    const d = defaultVMI(bare());
    expect(d.spec).toEqual({
      domain: {
        cpu: { cores: 1, sockets: 1, threads: 1 },
        memory: { guest: '64Mi' },
        machine: { type: 'q35' },
        devices: {
          disks: [{ name: 'root', disk: { bus: 'virtio' } }],
          interfaces: [{ name: 'default', masquerade: {} }],
        },
        resources: { requests: { memory: '64Mi' } },
      },
      networks: [{ name: 'default', pod: {} }],
      volumes: [{ name: 'root', containerDisk: { image: 'cirros' } }],
      terminationGracePeriodSeconds: 180,
    });
    expect(validateObject(d)).toEqual({ causes: [], warnings: [] });
  });

  it('does not modify its input and is idempotent', () => {
    const input = bare();
    const before = structuredClone(input);
    const once = defaultVMI(input);
    expect(input).toEqual(before);
    expect(defaultVMI(once)).toEqual(once);
    expect(once).not.toBe(input);
  });

  it('defaults the memory request from guest memory, and guest memory from limits before requests', () => {
    const fromGuest = defaultVMISpec({ domain: { devices: {}, memory: { guest: '1Gi' } } });
    expect(fromGuest.domain.resources?.requests?.memory).toBe('1Gi');
    const fromLimits = defaultVMISpec({
      domain: { devices: {}, resources: { limits: { memory: '2Gi' }, requests: { cpu: '1' } } },
    });
    expect(fromLimits.domain.memory?.guest).toBe('2Gi');
    expect(fromLimits.domain.resources?.requests).toEqual({ cpu: '1', memory: '2Gi' });
    const none = defaultVMISpec({ domain: { devices: {} } });
    expect(none.domain.memory).toBeUndefined();
    expect(none.domain.resources).toBeUndefined();
  });

  it('keeps what is set', () => {
    const spec: VirtualMachineInstanceSpec = {
      domain: {
        cpu: { cores: 4 },
        memory: { guest: '2Gi' },
        resources: { requests: { memory: '1Gi' } },
        machine: { type: 'pc-q35-8.2' },
        devices: {
          disks: [
            { name: 'a', disk: { bus: 'sata' } },
            { name: 'b', cdrom: { readonly: false } },
            { name: 'c', lun: {} },
          ],
          interfaces: [{ name: 'x', bridge: {} }],
        },
      },
      networks: [{ name: 'x', multus: { networkName: 'br' } }],
      terminationGracePeriodSeconds: 0,
    };
    const d = defaultVMISpec(spec);
    expect(d.domain.cpu).toEqual({ cores: 4, sockets: 1, threads: 1 });
    expect(d.domain.memory?.guest).toBe('2Gi');
    expect(d.domain.resources?.requests?.memory).toBe('1Gi');
    expect(d.domain.machine?.type).toBe('pc-q35-8.2');
    expect(d.domain.devices.disks).toEqual([
      { name: 'a', disk: { bus: 'sata' } },
      { name: 'b', cdrom: { bus: 'sata', readonly: false, tray: 'closed' } },
      { name: 'c', lun: { bus: 'scsi' } },
    ]);
    expect(d.domain.devices.interfaces).toEqual([{ name: 'x', bridge: {} }]);
    expect(d.terminationGracePeriodSeconds).toBe(0);
  });

  it('binds an interface without a binding: masquerade on the pod network, bridge on others', () => {
    const d = defaultVMISpec({
      domain: { devices: { interfaces: [{ name: 'p' }, { name: 'm' }] } },
      networks: [
        { name: 'p', pod: {} },
        { name: 'm', multus: { networkName: 'ns/net' } },
      ],
    });
    expect(d.domain.devices.interfaces).toEqual([
      { name: 'p', masquerade: {} },
      { name: 'm', bridge: {} },
    ]);
  });

  it('adds no pod network when autoattachPodInterface is false or when asked not to', () => {
    const off = defaultVMISpec({ domain: { devices: { autoattachPodInterface: false } } });
    expect(off.domain.devices.interfaces).toBeUndefined();
    expect(off.networks).toBeUndefined();
    expect(defaultVMISpec({ domain: { devices: {} } }, { podNetwork: false }).networks).toBeUndefined();
  });

  it('stores kubevirt.io/v1alpha3 objects as kubevirt.io/v1 and keeps unsupported fields', () => {
    const old = set(vmi(), 'apiVersion', 'kubevirt.io/v1alpha3');
    set(old, 'spec.domain.chassis', { asset: 'x' });
    const d = defaultVMI(old as unknown as VirtualMachineInstance);
    expect(d.apiVersion).toBe('kubevirt.io/v1');
    expect((d.spec.domain as unknown as Record<string, unknown>).chassis).toEqual({ asset: 'x' });
  });

  it('gives the same resource request as the undefaulted spec', () => {
    const input = bare();
    expect(vmiSpecResources(defaultVMI(input).spec)).toEqual(vmiSpecResources(input.spec));
  });
});

describe('defaultVirtualMachine', () => {
  it('sets runStrategy Halted only when neither it nor running is set', () => {
    const neither = set(vm(), 'spec.runStrategy', undefined) as unknown as VirtualMachine;
    expect(defaultVirtualMachine(neither).spec.runStrategy).toBe('Halted');
    const running = set(vm(), 'spec.runStrategy', undefined);
    set(running, 'spec.running', true);
    const d = defaultVirtualMachine(running as unknown as VirtualMachine);
    expect(d.spec.runStrategy).toBeUndefined();
    expect(d.spec.running).toBe(true);
    expect(defaultVirtualMachine(vm() as unknown as VirtualMachine).spec.runStrategy).toBe('Always');
  });

  it('defaults the template spec without adding a pod network, and stays valid', () => {
    const input = set(vm(), 'spec.template.spec.domain.devices.interfaces', undefined);
    set(input, 'spec.template.spec.networks', undefined);
    const before = structuredClone(input);
    const d = defaultVirtualMachine(input as unknown as VirtualMachine);
    expect(input).toEqual(before);
    expect(d.spec.template.spec.domain.machine?.type).toBe('q35');
    expect(d.spec.template.spec.domain.devices.interfaces).toBeUndefined();
    expect(d.spec.template.spec.networks).toBeUndefined();
    expect(validateObject(d).causes).toEqual([]);
    expect(defaultVirtualMachine(d)).toEqual(d);
  });
});

describe('defaultVirtualMachineInstanceReplicaSet and defaultObject', () => {
  it('defaults replicas to 1 and keeps 0', () => {
    const rs = set(replicaSet(), 'spec.replicas', undefined) as unknown as VirtualMachineInstanceReplicaSet;
    expect(defaultVirtualMachineInstanceReplicaSet(rs).spec.replicas).toBe(1);
    const zero = set(replicaSet(), 'spec.replicas', 0) as unknown as VirtualMachineInstanceReplicaSet;
    expect(defaultVirtualMachineInstanceReplicaSet(zero).spec.replicas).toBe(0);
  });

  it('dispatches on kind and copies other kinds unchanged', () => {
    expect(defaultObject(vmi() as unknown as VirtualMachineInstance).spec.terminationGracePeriodSeconds).toBe(30);
    const mig = { apiVersion: 'kubevirt.io/v1alpha3', kind: 'VirtualMachineInstanceMigration', spec: { vmiName: 'a' } };
    expect(defaultObject(mig)).toEqual({ ...mig, apiVersion: 'kubevirt.io/v1' });
    expect(mig.apiVersion).toBe('kubevirt.io/v1alpha3');
    const n = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } };
    const copy = defaultObject(n);
    expect(copy).toEqual(n);
    expect(copy).not.toBe(n);
  });
});

describe('vmRunStrategy', () => {
  it('resolves the deprecated running alias', () => {
    expect(vmRunStrategy({ runStrategy: 'Manual' })).toBe('Manual');
    expect(vmRunStrategy({ running: true })).toBe('Always');
    expect(vmRunStrategy({ running: false })).toBe('Halted');
    expect(vmRunStrategy({})).toBe('Halted');
  });
});
