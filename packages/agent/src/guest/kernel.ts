import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/exec.ts';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Extracts the uncompressed ELF `vmlinux` from an xz-compressed bzImage (Debian's kernels). QEMU boots
 * an ELF kernel through its PVH entry point, which skips the in-guest decompression — much faster under TCG.
 * Returns undefined when the image is not xz-compressed or the payload is not ELF.
 */
export async function extractVmlinux(bzImage: Buffer): Promise<Buffer | undefined> {
  for (let at = bzImage.indexOf(XZ_MAGIC); at >= 0; at = bzImage.indexOf(XZ_MAGIC, at + 1)) {
    try {
      const out = await run('xz', ['--decompress', '--stdout', '--single-stream'], {
        input: bzImage.subarray(at),
        timeoutMs: 120_000,
      });
      if (out.subarray(0, 4).equals(ELF_MAGIC) && hasPvhNote(out)) return out;
    } catch {
      // Not a real stream at this offset; try the next match.
    }
  }
  return undefined;
}

/** Whether an ELF64 image carries the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18) QEMU needs. */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const off = Number(elf.readBigUInt64LE(ph + 8));
    const size = Number(elf.readBigUInt64LE(ph + 32));
    for (let p = off; p + 12 <= off + size; ) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.toString('ascii', p + 12, p + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      p += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

/** The `depends=` list from a kernel module's .modinfo strings. */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const list = ko.toString('utf8', at + 9, end);
  return list === '' ? [] : list.split(',');
}

/**
 * Finds `wanted` modules and everything they depend on in an extracted kernel package's module tree,
 * returned in load order (dependencies first). Module names treat `-` and `_` alike, as the kernel does.
 */
export async function resolveModules(
  modulesDir: string,
  wanted: readonly string[],
): Promise<{ name: string; file: string; data: Buffer }[]> {
  const index = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.name.endsWith('.ko')) index.set(ent.name.slice(0, -3).replaceAll('-', '_'), p);
    }
  };
  await walk(join(modulesDir, 'kernel'));
  const builtin = new Set(
    (await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => ''))
      .split('\n')
      .map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '').replaceAll('-', '_'))
      .filter(Boolean),
  );
  const order: { name: string; file: string; data: Buffer }[] = [];
  const seen = new Set<string>();
  const visit = async (raw: string): Promise<void> => {
    const name = raw.replaceAll('-', '_');
    if (seen.has(name)) return;
    seen.add(name);
    const file = index.get(name);
    if (!file) {
      if (builtin.has(name)) return;
      throw new Error(`kernel module ${raw} not found under ${modulesDir}`);
    }
    const data = await readFile(file);
    for (const dep of moduleDepends(data)) await visit(dep);
    order.push({ name, file, data });
  };
  for (const w of wanted) await visit(w);
  return order;
}
