import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCpio, readCpio } from '../../src/guest/cpio.ts';
import { hasPvhNote, moduleDepends } from '../../src/guest/kernel.ts';
import { buildInitramfs } from '../../src/guest/test-guest.ts';
import { testGuest } from '../../src/testing/index.ts';

describe('cpio newc', () => {
  it('round-trips directories, files, symlinks and device nodes', () => {
    const buf = buildCpio([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: '/bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'hello' },
      { type: 'chardev', path: 'console', major: 5, minor: 1 },
    ]);
    expect(buf.length % 4).toBe(0);
    const entries = readCpio(buf);
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ['bin', '40755'],
      ['bin/hello', '100755'],
      ['bin/sh', '120777'],
      ['console', '20600'],
    ]);
    expect(entries[1]?.data.toString()).toBe('hi\n');
    expect(entries[2]?.data.toString()).toBe('hello');
    expect([entries[3]?.rdevMajor, entries[3]?.rdevMinor]).toEqual([5, 1]);
  });

  it('refuses paths that would escape the archive root', () => {
    expect(() => buildCpio([{ type: 'dir', path: '../etc' }])).toThrow(/bad path/);
    expect(() => buildCpio([{ type: 'dir', path: 'a//b' }])).toThrow(/bad path/);
  });
});

describe('test guest', () => {
  it('builds an initramfs with static busybox, /init, the power-button handler and modules in order', async () => {
    const mods = [
      { name: 'virtio', data: Buffer.from('virtio') },
      { name: 'virtio_blk', data: Buffer.from('blk') },
    ];
    const entries = readCpio(await buildInitramfs('/bin/busybox', mods));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('init')?.data.toString()).toMatch(/findfs LABEL=cidata[\s\S]*acpid[\s\S]*virtkit-guest ready/);
    expect(byPath.get('etc/acpi/PWRF/00000080')?.data.toString()).toMatch(/poweroff -f/);
    expect(byPath.get('etc/modules')?.data.toString()).toBe('virtio.ko\nvirtio_blk.ko\n');
    expect(byPath.get('bin/busybox')?.data.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(byPath.get('dev/console')).toMatchObject({ rdevMajor: 5, rdevMinor: 1 });
  });

  it('refuses a dynamically linked busybox', async () => {
    await expect(buildInitramfs(process.execPath, [])).rejects.toThrow(/not a static executable/);
  });

  it('reads module dependencies from .modinfo', () => {
    const ko = Buffer.concat([Buffer.from('\0license=GPL\0depends=virtio,virtio_ring\0vermagic=6.1\0')]);
    expect(moduleDepends(ko)).toEqual(['virtio', 'virtio_ring']);
    expect(moduleDepends(Buffer.from('\0depends=\0'))).toEqual([]);
  });

  it('provides a cached kernel with a PVH entry and an initramfs (built on first use)', async () => {
    const g = await testGuest();
    expect(g.cmdline).toContain('console=ttyS0');
    const kernel = readFileSync(g.kernel);
    if (g.kernel.endsWith('vmlinux')) expect(hasPvhNote(kernel)).toBe(true);
    const init = readCpio(readFileSync(g.initrd)).find((e) => e.path === 'init');
    expect(init?.data.toString()).toContain('virtkit-guest ready');
    // The second call is answered from the cache: same files.
    expect(await testGuest()).toEqual(g);
  }, 300_000);
});
