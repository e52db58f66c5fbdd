/**
 * The domain definitions of the contract scenarios. Both drivers receive exactly the same definition, so
 * a difference in their traces is a difference in the drivers, never in what they were asked.
 */
import type { DomainDefinition } from '@virtkit/engine';
import { CONTRACT_DATA_DISK_IMAGE, CONTRACT_HOST_DISK_ROOT } from './scenarios.ts';
import type { ContractGuest, ContractScenario, DefinitionVariant } from './types.ts';

/** Namespace of every contract domain: ids are `vk-contract_<scenario>-<vm>`. */
export const CONTRACT_NAMESPACE = 'vk-contract';

/** The test guest as `@virtkit/agent/testing`'s `testGuest()` builds it (kernel with PVH entry, busybox initramfs). */
export const CONTRACT_GUEST: ContractGuest = {
  image: 'virtkit/test-guest',
  kernelPath: '/vmlinux',
  initrdPath: '/initrd.cpio',
  kernelArgs: 'console=ttyS0 quiet panic=-1',
};

/** Domain id of a scenario's VM. */
export function contractDomainId(scenario: string, vm: string): string {
  return `${CONTRACT_NAMESPACE}_${scenario}-${vm}`;
}

/**
 * A stable RFC 4122-shaped uid per scenario and VM (the agent uses a UUID-shaped uid as the libvirt
 * domain UUID), so traces and console lines can be normalised back to the VM key.
 */
export function contractUid(scenario: string, vm: string, other = false): string {
  let h = 0x811c9dc5;
  for (const ch of `${scenario}/${vm}${other ? '/other' : ''}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const hex = h.toString(16).padStart(8, '0');
  return `c0277ac7-0000-4000-8000-0000${hex}`;
}

/** The definition of `vm` in `scenario`, optionally altered to provoke a refusal. */
export function contractDefinition(
  scenario: ContractScenario,
  vm: string,
  variant?: DefinitionVariant,
  guest: ContractGuest = CONTRACT_GUEST,
  hostDiskRoot: string = CONTRACT_HOST_DISK_ROOT,
): DomainDefinition {
  const spec = scenario.vms[vm];
  if (!spec) throw new TypeError(`scenario ${scenario.name} has no vm "${vm}"`);
  const name = `${scenario.name}-${vm}`;
  const disks: { name: string; disk: { bus: 'virtio' } }[] = [{ name: 'cloudinit', disk: { bus: 'virtio' } }];
  const volumes: NonNullable<DomainDefinition['spec']['volumes']> = [
    { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } },
  ];
  if (spec.dataDisk) {
    disks.push({ name: 'data', disk: { bus: 'virtio' } });
    volumes.push({ name: 'data', containerDisk: { image: CONTRACT_DATA_DISK_IMAGE } });
  }
  if (spec.hostDisk) {
    const { path, type, capacity } = spec.hostDisk;
    disks.push({ name: 'host', disk: { bus: 'virtio' } });
    volumes.push({
      name: 'host',
      hostDisk: {
        path: path.startsWith('/') ? path : `${hostDiskRoot}/${path}`,
        type,
        ...(capacity !== undefined ? { capacity } : {}),
      },
    });
  }
  if (variant === 'disk-without-volume') disks.push({ name: 'missing', disk: { bus: 'virtio' } });
  const def: DomainDefinition = {
    id: contractDomainId(scenario.name, vm),
    uid: contractUid(scenario.name, vm, variant === 'other-uid'),
    name,
    namespace: CONTRACT_NAMESPACE,
    spec: {
      ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
      domain: {
        cpu: { cores: 1 },
        ...(variant === 'no-memory' ? {} : { memory: { guest: spec.memory ?? '128Mi' } }),
        resources: { requests: { cpu: '100m' } },
        firmware: {
          kernelBoot: {
            kernelArgs: guest.kernelArgs,
            container: { image: guest.image, kernelPath: guest.kernelPath, initrdPath: guest.initrdPath },
          },
        },
        devices: { disks },
      },
      volumes,
    },
  };
  if (variant === 'bad-name') def.id = `${def.id}/x`;
  if (variant === 'bad-uid') def.uid = `../${def.uid}`;
  return def;
}
