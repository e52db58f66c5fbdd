// connect({ driver: 'libvirt' }) hands image translations and the direct image URL policy to the real
// agent on this machine's libvirtd, and checks them as the agent's config file is checked. No guest
// boots: both VMs fail while the agent prepares their images, before anything is defined in libvirt.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidSpecError } from '@virtkit/engine';
import { connect, vm } from '@virtkit/sdk';
import { describe, expect, it } from 'vitest';

const SOCKET = '/var/run/libvirt/libvirt-sock';

describe("connect({ driver: 'libvirt', libvirt: { imageTranslations, directImageUrls } })", () => {
  it('checks them before reaching libvirt, naming the bad field', async () => {
    const e = await connect({
      driver: 'libvirt',
      libvirt: {
        socketPath: '/nonexistent/libvirt-sock',
        imageTranslations: [{ translations: [{ regexp: 'os/(.+', url: 'https://img.example.com/$1' }] }],
      },
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidSpecError);
    expect((e as InvalidSpecError).causes.map((c) => c.field)).toEqual(['imageTranslations[0].translations[0].regexp']);
    expect((e as Error).message).toMatch(/^AgentConfig "connect\(\) libvirt options" is invalid: /);
    const policy = await connect({
      driver: 'libvirt',
      libvirt: { socketPath: '/nonexistent/libvirt-sock', directImageUrls: 'sometimes' as never },
    }).catch((x: unknown) => x);
    expect((policy as InvalidSpecError).causes.map((c) => c.field)).toEqual(['directImageUrls']);
  });

  it('the agent translates by the rules and refuses direct URLs under refuse', async () => {
    if (!existsSync(SOCKET)) throw new Error(`no libvirtd socket at ${SOCKET}: run scripts/setup-libvirt.sh`);
    const dir = await mkdtemp(join('/var/tmp', 'virtkit-connect-images-'));
    await chmod(dir, 0o755);
    const missing = join(dir, 'no-such-guest.qcow2');
    try {
      await using vk = await connect({
        driver: 'libvirt',
        libvirt: {
          socketPath: SOCKET,
          // Its own node name: other runs may share this libvirtd.
          nodeName: `images-${process.pid.toString(36)}`,
          agentDataDir: join(dir, 'agent'),
          hypervisor: 'qemu',
          imageTranslations: [{ prefix: 'local', translations: [{ name: 'guest', url: pathToFileURL(missing).href }] }],
          directImageUrls: 'refuse',
        },
      });
      await vk.vms.create(vm('translated').memory('64Mi').containerDisk('local/guest').build());
      await vk.vms.create(vm('direct').memory('64Mi').containerDisk('https://images.example.com/x.img').build());
      await vk.vms.waitFor('translated', 'CrashLoopBackOff', { timeoutMs: 20_000 });
      await vk.vms.waitFor('direct', 'CrashLoopBackOff', { timeoutMs: 20_000 });
      const failed = (await vk.events.list()).filter((e) => e.reason === 'Failed').map((e) => e.message ?? '');
      // The rule took local/guest to the file it names (which is not there)...
      expect(failed.some((m) => m.includes(missing))).toBe(true);
      // ...and the spec's own URL was not fetched at all.
      expect(failed.some((m) => m.includes("directImageUrls: 'refuse'"))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
