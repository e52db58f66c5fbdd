/**
 * The test guest as a domain: the image translation that maps its kernel-boot container to the guest's cache
 * directory, and a definition that boots it with a NoCloud seed. The agent's tests, its benchmark and the
 * simulator's calibration all run this same guest.
 */
import { pathToFileURL } from 'node:url';
import type { DomainDefinition } from '@virtkit/engine';
import type { TestGuest } from '../guest/test-guest.ts';
import type { ImageTranslationConfig } from '../images/translation.ts';

/** The image name of the test guest's kernel-boot container. */
export const TEST_GUEST_IMAGE = 'virtkit/test-guest';

/** Image translations mapping `TEST_GUEST_IMAGE` to the guest's cache directory. */
export function testGuestTranslations(guest: TestGuest): ImageTranslationConfig[] {
  return [{ translations: [{ name: TEST_GUEST_IMAGE, url: pathToFileURL(guest.dir).href }] }];
}

export interface TestGuestDomainOptions {
  name: string;
  uid: string;
  /** Also the domain id's prefix: `<namespace>_<name>`. */
  namespace: string;
  /** Guest memory. Default 192Mi. */
  memory?: string;
  hostname?: string;
  /** The NoCloud user-data. Default an empty `#cloud-config`. */
  userData?: string;
}

/** A domain that boots the test guest (1 vCPU, 100m requested) with a NoCloud seed. */
export function testGuestDomain(guest: TestGuest, o: TestGuestDomainOptions): DomainDefinition {
  return {
    id: `${o.namespace}_${o.name}`,
    uid: o.uid,
    name: o.name,
    namespace: o.namespace,
    spec: {
      ...(o.hostname ? { hostname: o.hostname } : {}),
      domain: {
        cpu: { cores: 1 },
        memory: { guest: o.memory ?? '192Mi' },
        resources: { requests: { cpu: '100m' } },
        firmware: {
          kernelBoot: {
            kernelArgs: guest.cmdline,
            container: {
              image: TEST_GUEST_IMAGE,
              kernelPath: guest.kernel.slice(guest.dir.length),
              initrdPath: guest.initrd.slice(guest.dir.length),
            },
          },
        },
        devices: { disks: [{ name: 'cloudinit', disk: { bus: 'virtio' } }] },
      },
      volumes: [{ name: 'cloudinit', cloudInitNoCloud: { userData: o.userData ?? '#cloud-config\n' } }],
    },
  };
}
