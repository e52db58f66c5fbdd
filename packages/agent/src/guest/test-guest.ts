import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/exec.ts';
import { buildCpio, type CpioEntry } from './cpio.ts';
import { initScript, powerButtonHandler } from './init-script.ts';
import { extractVmlinux, resolveModules } from './kernel.ts';

export interface TestGuest {
  /** Uncompressed `vmlinux` (PVH entry) when it could be extracted, else the distribution's `vmlinuz`. */
  kernel: string;
  /** Uncompressed newc initramfs with busybox and the /init of `initScript()`. */
  initrd: string;
  kernelVersion: string;
  /** Kernel command line the guest expects (serial console on ttyS0). */
  cmdline: string;
  dir: string;
}

export interface TestGuestOptions {
  /** Cache directory; default `$VIRTKIT_GUEST_DIR` or `/var/cache/virtkit/test-guest`. */
  dir?: string;
  /** Debian kernel package; default: what `linux-image-amd64` depends on. */
  kernelPackage?: string;
  /** Statically linked busybox; default /bin/busybox (Debian's busybox-static). */
  busybox?: string;
}

/** Modules the guest loads: virtio disks and the cidata ISO, SATA/SCSI disks, power button, pvpanic. */
const GUEST_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'sd_mod',
  'ahci',
  'sr_mod',
  'isofs',
  'button',
  'evdev',
  'pvpanic_mmio',
];

const GUEST_CMDLINE = 'console=ttyS0 quiet panic=-1';

/** Identifies what the initramfs is made of, so a cached guest built from an older recipe is rebuilt. */
const RECIPE = createHash('sha256')
  .update([initScript(), powerButtonHandler(), GUEST_MODULES.join(','), GUEST_CMDLINE].join('\0'))
  .digest('hex')
  .slice(0, 16);

let building: Promise<TestGuest> | undefined;

/**
 * The guest the agent's tests and benchmarks boot: a Debian kernel plus a busybox initramfs, built on first
 * use (apt-get download + dpkg -x, no installation) and cached. Needs apt lists, xz-utils and busybox-static.
 */
export function testGuest(options: TestGuestOptions = {}): Promise<TestGuest> {
  if (options.dir !== undefined || options.kernelPackage !== undefined || options.busybox !== undefined) {
    return buildOrLoad(options);
  }
  building ??= buildOrLoad(options).catch((err) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function buildOrLoad(options: TestGuestOptions): Promise<TestGuest> {
  const dir = options.dir ?? process.env.VIRTKIT_GUEST_DIR ?? '/var/cache/virtkit/test-guest';
  const cached = await load(dir);
  if (cached) return cached;
  await mkdir(join(dir, '..'), { recursive: true });
  // Built in a scratch directory and renamed into place, so concurrent builders never see half a guest.
  const scratch = await mkdtemp(`${dir}.build-`);
  try {
    const out = join(scratch, 'out');
    await mkdir(out);
    const pkg = options.kernelPackage ?? (await defaultKernelPackage());
    const debDir = join(scratch, 'deb');
    await mkdir(debDir);
    await run('apt-get', ['download', pkg], { cwd: debDir, timeoutMs: 300_000 }).catch((err: Error) => {
      throw new Error(`test guest: apt-get download ${pkg} failed (run apt-get update first?): ${err.message}`, {
        cause: err,
      });
    });
    const deb = (await readdir(debDir)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`test guest: apt-get download ${pkg} produced no .deb`);
    const root = join(scratch, 'root');
    await run('dpkg', ['-x', join(debDir, deb), root], { timeoutMs: 300_000 });
    const bootFiles = await readdir(join(root, 'boot'));
    const vmlinuzName = bootFiles.find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuzName) throw new Error(`test guest: no vmlinuz in ${pkg}`);
    const kernelVersion = vmlinuzName.slice('vmlinuz-'.length);
    const vmlinuz = await readFile(join(root, 'boot', vmlinuzName));
    const vmlinux = await extractVmlinux(vmlinuz);
    const kernelName = vmlinux ? 'vmlinux' : 'vmlinuz';
    await writeFile(join(out, kernelName), vmlinux ?? vmlinuz);
    const modules = await resolveModules(join(root, 'lib', 'modules', kernelVersion), GUEST_MODULES);
    const initrd = await buildInitramfs(options.busybox ?? '/bin/busybox', modules);
    await writeFile(join(out, 'initrd.cpio'), initrd);
    const meta = { kernel: kernelName, kernelVersion, kernelPackage: pkg, cmdline: GUEST_CMDLINE, recipe: RECIPE };
    await writeFile(join(out, 'guest.json'), `${JSON.stringify(meta, null, 2)}\n`);
    // World-readable: QEMU may run as an unprivileged user.
    await chmod(out, 0o755);
    if (await stat(dir).catch(() => undefined)) await rm(dir, { recursive: true, force: true });
    try {
      await rename(out, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const built = await load(dir);
  if (!built) throw new Error(`test guest: ${dir} is incomplete after building`);
  return built;
}

async function load(dir: string): Promise<TestGuest | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'guest.json'), 'utf8')) as {
      kernel: string;
      kernelVersion: string;
      cmdline: string;
      recipe?: string;
    };
    if (meta.recipe !== RECIPE) return undefined;
    const kernel = join(dir, meta.kernel);
    const initrd = join(dir, 'initrd.cpio');
    await stat(kernel);
    await stat(initrd);
    return { kernel, initrd, kernelVersion: meta.kernelVersion, cmdline: meta.cmdline, dir };
  } catch {
    return undefined;
  }
}

async function defaultKernelPackage(): Promise<string> {
  const out = (await run('apt-cache', ['depends', 'linux-image-amd64'], { timeoutMs: 60_000 })).toString('utf8');
  const m = /Depends:\s*(linux-image-[0-9][^\s]*-amd64)\b/.exec(out);
  if (!m?.[1]) throw new Error('test guest: cannot resolve linux-image-amd64 (run apt-get update first)');
  return m[1];
}

/** Whether an ELF executable needs a dynamic loader (has PT_INTERP); the initramfs has no libc. */
function isDynamic(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return true;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

/** The test guest's initramfs: busybox, /init, the module files in load order, acpid's power handler. */
export async function buildInitramfs(
  busyboxPath: string,
  modules: readonly { name: string; data: Buffer }[],
): Promise<Buffer> {
  const busybox = await readFile(busyboxPath);
  if (isDynamic(busybox)) {
    throw new Error(`test guest: ${busyboxPath} is not a static executable (install busybox-static)`);
  }
  const entries: CpioEntry[] = [
    ...[
      'bin',
      'dev',
      'etc',
      'var',
      'var/log',
      'var/run',
      'etc/acpi',
      'etc/acpi/PWRF',
      'lib',
      'lib/modules',
      'mnt',
      'proc',
      'sys',
      'tmp',
    ].map((path): CpioEntry => ({ type: 'dir', path })),
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'file', path: 'init', data: Buffer.from(initScript()), mode: 0o755 },
    { type: 'file', path: 'etc/acpi/PWRF/00000080', data: Buffer.from(powerButtonHandler()), mode: 0o755 },
    { type: 'file', path: 'etc/modules', data: Buffer.from(modules.map((m) => `${m.name}.ko\n`).join('')) },
    ...modules.map((m): CpioEntry => ({ type: 'file', path: `lib/modules/${m.name}.ko`, data: m.data })),
  ];
  return buildCpio(entries);
}
