import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DriverError } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const virshNames = () =>
  execFileSync('virsh', ['-q', 'list', '--all', '--name'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

/** Misuse and hostile specs against a real daemon; nothing here boots a guest. */
describe('LibvirtNodeDriver refuses bad definitions with the port reasons', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let driver: LibvirtNodeDriver;
  const log = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('validation');
    driver = await LibvirtNodeDriver.open({
      nodeName: `validation-node-${RUN}`,
      dataDir: data.dir,
      // Local images come through a translation rule: a VM may not name node files itself.
      imageTranslations: [
        ...(await guestTranslations()),
        { translations: [{ regexp: 'local/(.+)', url: `${pathToFileURL(data.dir).href}/$1` }] },
      ],
      hostDiskRoots: [`${data.dir}/hostdisks`],
    });
    driver.onEvent(log.push);
  }, 300_000);
  afterAll(async () => {
    for (const d of await driver.listDomains()) await driver.undefineDomain(d.id).catch(() => undefined);
    await driver?.close();
    await data?.cleanup();
  }, 60_000);

  const reason = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      if (e instanceof DriverError) return e.reason;
      throw e;
    }
    return 'resolved';
  };

  it('keeps hostile names out of paths and XML', async () => {
    const def = await guestDefinition(`ok-${RUN}`, `uid-valid-1-${RUN}`);
    expect(await reason(driver.defineDomain({ ...def, uid: '../../../etc' }))).toBe('InvalidSpec');
    expect(await reason(driver.defineDomain({ ...def, id: 'ns_a/b' }))).toBe('InvalidSpec');
    // A name full of XML metacharacters is escaped, defined and removed intact.
    const evil = `vk-test_it's <"&> ..${RUN}`;
    const info = await driver.defineDomain({ ...def, id: evil, name: `it's <"&> ..`, uid: `uid-valid-evil-${RUN}` });
    expect(info.id).toBe(evil);
    expect(virshNames()).toContain(evil);
    expect(readdirSync(`${data.dir}/domains`)).toEqual([`uid-valid-evil-${RUN}`]);
    await driver.undefineDomain(evil);
    expect(virshNames()).not.toContain(evil);
    expect(existsSync(`${data.dir}/domains/uid-valid-evil-${RUN}`)).toBe(false);
    expect(log.sequence(evil)).toEqual(['Defined/Added', 'Undefined/Removed']);
  });

  it('maps image, disk and capacity problems to their reasons and leaves no files', async () => {
    const def = await guestDefinition(`img-${RUN}`, `uid-valid-2-${RUN}`);
    const missing = {
      ...def,
      spec: {
        ...def.spec,
        domain: { ...def.spec.domain, devices: { disks: [{ name: 'root', disk: { bus: 'virtio' as const } }] } },
        volumes: [{ name: 'root', containerDisk: { image: 'file:///nonexistent/disk.img' } }],
      },
    };
    expect(await reason(driver.defineDomain(missing))).toBe('ImageFetchFailed');
    const failed = log.events.find((e) => e.type === 'image' && e.phase === 'failed');
    expect(failed?.type === 'image' && failed.error?.reason).toBe('ImageFetchFailed');
    const untranslated = {
      ...missing,
      spec: { ...missing.spec, volumes: [{ name: 'root', containerDisk: { image: 'quay.io/x/y' } }] },
    };
    expect(await reason(driver.defineDomain(untranslated))).toBe('ImageFetchFailed');
    const host = {
      ...missing,
      spec: { ...missing.spec, volumes: [{ name: 'root', hostDisk: { path: '/etc/passwd', type: 'Disk' as const } }] },
    };
    expect(await reason(driver.defineDomain(host))).toBe('InvalidSpec');
    const huge = await guestDefinition(`huge-${RUN}`, `uid-valid-3-${RUN}`, { memory: '4Ti' });
    expect(await reason(driver.defineDomain(huge))).toBe('InsufficientResources');
    const pvc = {
      ...missing,
      spec: { ...missing.spec, volumes: [{ name: 'root', persistentVolumeClaim: { claimName: 'c' } }] },
    };
    expect(await reason(driver.defineDomain(pvc))).toBe('InvalidSpec');
    expect(readdirSync(`${data.dir}/domains`)).toEqual([]);
    expect(await driver.listDomains()).toEqual([]);
  });

  it('answers operations on unknown domains like libvirt: not found, or a no-op where the port says so', async () => {
    expect(await reason(driver.startDomain('vk-test_nope'))).toBe('DomainNotFound');
    expect(await reason(driver.pauseDomain('vk-test_nope'))).toBe('DomainNotFound');
    expect(await driver.getDomain('vk-test_nope')).toBeUndefined();
    await driver.destroyDomain('vk-test_nope');
    await driver.undefineDomain('vk-test_nope');
    await driver.abortMigration('vk-test_nope');
  });

  it('creates an emptyDisk and a hostDisk under the allowed root', async () => {
    const def = await guestDefinition(`disks-${RUN}`, `uid-valid-4-${RUN}`);
    const withDisks = {
      ...def,
      spec: {
        ...def.spec,
        domain: {
          ...def.spec.domain,
          devices: {
            disks: [
              { name: 'cloudinit', disk: { bus: 'virtio' as const } },
              { name: 'scratch', disk: { bus: 'scsi' as const } },
              { name: 'host', disk: { bus: 'sata' as const } },
            ],
          },
        },
        volumes: [
          ...(def.spec.volumes ?? []),
          { name: 'scratch', emptyDisk: { capacity: '64Mi' } },
          {
            name: 'host',
            hostDisk: { path: `${data.dir}/hostdisks/h.img`, type: 'DiskOrCreate' as const, capacity: '8Mi' },
          },
        ],
      },
    };
    execFileSync('mkdir', ['-p', `${data.dir}/hostdisks`]);
    await driver.defineDomain(withDisks);
    const xml = execFileSync('virsh', ['dumpxml', `vk-test_disks-${RUN}`], { encoding: 'utf8' });
    expect(xml).toMatch(/empty-1\.qcow2'\/>\s*<target dev='sda' bus='scsi'\/>/);
    expect(xml).toMatch(/h\.img'\/>\s*<target dev='sdb' bus='sata'\/>/);
    expect(xml).toContain("model='virtio-scsi'");
    const dir = `${data.dir}/domains/uid-valid-4-${RUN}`;
    expect(readdirSync(dir).sort()).toEqual(['cidata.iso', 'empty-1.qcow2']);
    await driver.undefineDomain(`vk-test_disks-${RUN}`);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${data.dir}/hostdisks/h.img`)).toBe(true); // host disks belong to the host
  });

  it('gives each VM a copy-on-write overlay over the shared image, removed with the VM', async () => {
    const base = `${data.dir}/base.raw`;
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', base, '16M']);
    const defs = await Promise.all(
      ['ov1', 'ov2'].map(async (n) => {
        const def = await guestDefinition(`${n}-${RUN}`, `uid-${n}-${RUN}`);
        return {
          ...def,
          spec: {
            ...def.spec,
            domain: {
              ...def.spec.domain,
              devices: {
                disks: [{ name: 'root', disk: { bus: 'virtio' as const } }, ...(def.spec.domain.devices.disks ?? [])],
              },
            },
            volumes: [{ name: 'root', containerDisk: { image: 'local/base.raw' } }, ...(def.spec.volumes ?? [])],
          },
        };
      }),
    );
    for (const d of defs) await driver.defineDomain(d);
    const backing = defs.map((d) => {
      const info = JSON.parse(
        execFileSync('qemu-img', ['info', '--output=json', '-U', `${data.dir}/domains/${d.uid}/disk-0.qcow2`], {
          encoding: 'utf8',
        }),
      );
      return info['backing-filename'] as string;
    });
    expect(backing[0]).toBe(backing[1]);
    expect(backing[0]).toMatch(new RegExp(`^${data.dir}/images/data/[0-9a-f]{64}$`));
    for (const d of defs) await driver.undefineDomain(d.id);
    for (const d of defs) expect(existsSync(`${data.dir}/domains/${d.uid}`)).toBe(false);
    expect(existsSync(backing[0] ?? '')).toBe(true); // the image stays in the store for the next VM
  });
});
