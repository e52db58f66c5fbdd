// The test guest as a domain, shared by the agent's tests, its benchmark and the simulator's calibration.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { translateImage } from '../../src/images/translation.ts';
import { type TestGuest, testGuestDomain, testGuestTranslations } from '../../src/testing/index.ts';

const guest: TestGuest = {
  dir: '/var/cache/virtkit/test-guest',
  kernel: '/var/cache/virtkit/test-guest/vmlinux',
  initrd: '/var/cache/virtkit/test-guest/initrd.cpio',
  kernelVersion: '6.1.0',
  cmdline: 'console=ttyS0',
};

describe('testGuestDomain', () => {
  it('boots the guest its translations point at: kernel and initrd resolve to the cached files', () => {
    const def = testGuestDomain(guest, { name: 'web', uid: 'u1', namespace: 'vk-bench' });
    expect([def.id, def.name, def.namespace, def.uid]).toEqual(['vk-bench_web', 'web', 'vk-bench', 'u1']);
    const boot = def.spec.domain.firmware?.kernelBoot;
    expect(boot?.kernelArgs).toBe('console=ttyS0');
    const image = translateImage(boot?.container?.image ?? '', testGuestTranslations(guest));
    const root = fileURLToPath(image?.url ?? 'file:///nowhere');
    expect(root + boot?.container?.kernelPath).toBe(guest.kernel);
    expect(root + boot?.container?.initrdPath).toBe(guest.initrd);
  });

  it('takes memory, hostname and user-data, with a small empty-config guest by default', () => {
    const plain = testGuestDomain(guest, { name: 'a', uid: 'u', namespace: 'vk-test' });
    expect(plain.spec.domain.memory?.guest).toBe('192Mi');
    expect(plain.spec.hostname).toBeUndefined();
    expect(plain.spec.volumes?.[0]?.cloudInitNoCloud?.userData).toBe('#cloud-config\n');
    const sized = testGuestDomain(guest, {
      name: 'b',
      uid: 'u',
      namespace: 'vk-test',
      memory: '256Mi',
      hostname: 'b-host',
      userData: '#cloud-config\nhostname: b\n',
    });
    expect(sized.spec.domain.memory?.guest).toBe('256Mi');
    expect(sized.spec.hostname).toBe('b-host');
    expect(sized.spec.volumes?.[0]?.cloudInitNoCloud?.userData).toBe('#cloud-config\nhostname: b\n');
  });
});
