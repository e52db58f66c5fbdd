// Hostile names and paths against the agent's file handling, in a temporary tree: the image store, the
// cloud-init builder and LibvirtNodeDriver (on the real libvirtd) write only inside the agent's data
// directory (and a hostDisk only under its allow-listed root), never read host files into a VM, never run a
// shell, and refuse what they cannot store with a typed error naming the problem.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DomainDefinition, DriverError } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  buildNoCloudIso,
  CloudInitError,
  ImageError,
  ImageStore,
  LibvirtNodeDriver,
  UnsafeValueError,
} from '../../src/index.ts';
import { guestDefinition, guestTranslations, requireLibvirt } from '../helpers.ts';

let R: string;
let data: string;
let hd: string;
let secretHash: string;
const SYSTEM_MARKER = `/tmp/virtkit-pwned-${process.pid}`;
const shellMarkers = (): string[] => [
  `$(touch ${R}/pwned)`,
  `\`touch ${R}/pwned\``,
  `; touch ${R}/pwned`,
  `| touch ${R}/pwned`,
  `&& touch ${R}/pwned`,
  `$(touch ${SYSTEM_MARKER})`,
  `'; touch ${SYSTEM_MARKER}; '`,
];

/** Every path under `dir`, relative to it (symlinks not followed). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(R, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

let before: string[];
/** Files the tests deliberately create outside the data directory (hostDisks under the allowed root). */
const created: string[] = [];

beforeAll(async () => {
  R = await mkdtemp('/var/tmp/virtkit-hostile-fs-');
  await chmod(R, 0o755);
  data = join(R, 'data');
  hd = join(R, 'roots', 'hd');
  await mkdir(data, { recursive: true });
  await mkdir(hd, { recursive: true });
  await mkdir(join(R, 'roots', 'hd-evil'), { recursive: true });
  await mkdir(join(R, 'outside'), { recursive: true });
  await mkdir(join(R, 'src'), { recursive: true });
  const secret = Buffer.alloc(1024 * 1024, 'SECRET-HOST-FILE ');
  secretHash = createHash('sha256').update(secret).digest('hex');
  await writeFile(join(R, 'outside', 'secret.img'), secret);
  await writeFile(join(R, 'src', 'image.raw'), Buffer.alloc(1024 * 1024, 1));
  await symlink(join(R, 'outside'), join(hd, 'escape'));
  await symlink(join(R, 'outside', 'secret.img'), join(hd, 'link.img'));
  await symlink(join(R, 'outside', 'created-by-agent.img'), join(hd, 'dangling.img'));
  before = tree(R);
});

afterAll(async () => {
  if (R) await rm(R, { recursive: true, force: true });
  await rm(SYSTEM_MARKER, { force: true });
});

/** What appeared since the start that lies outside the data directory (and the hostDisk files we allowed). */
function newOutside(): string[] {
  const now = tree(R);
  return now.filter((p) => !before.includes(p) && !p.startsWith('data/') && p !== 'data' && !created.includes(p));
}

function noShellRan(): void {
  expect(existsSync(join(R, 'pwned'))).toBe(false);
  expect(existsSync(SYSTEM_MARKER)).toBe(false);
}

/** No file inside the data directory holds the host's secret. */
function secretNotCopied(): void {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.isFile() ? [join(d, e.name)] : [],
    );
  for (const f of walk(data)) {
    if (statSync(f).size !== 1024 * 1024) continue;
    expect(createHash('sha256').update(readFileSync(f)).digest('hex'), f).not.toBe(secretHash);
  }
}

describe('the agent keeps to its data directory', () => {
  it('stores images under hostile names inside the store, or refuses them with ImageError', async () => {
    const store = new ImageStore({ dir: join(data, 'images') });
    const url = pathToFileURL(join(R, 'src', 'image.raw')).href;
    const names = [
      '../../outside/evil',
      '../../../../../../tmp/virtkit-evil',
      '/etc/passwd',
      '..',
      '.',
      'a/../../b',
      '~/x',
      '<x>&"\'',
      'ünïcødé/☃',
      ...shellMarkers(),
      'new\nline',
      'nul\u0000byte',
      'x'.repeat(1024 * 1024),
      // Short in characters, too long in bytes for one file name.
      '€'.repeat(120),
    ];
    let stored = 0;
    let refused = 0;
    for (const name of names) {
      try {
        const img = await store.pull(url, { name });
        expect(realpathSync(img.path).startsWith(`${join(data, 'images')}/`)).toBe(true);
        const link = store.linkPath(name);
        expect(link.startsWith(`${join(data, 'images', 'links')}/`), name.slice(0, 40)).toBe(true);
        expect(relative(join(data, 'images', 'links'), link)).not.toContain('/');
        stored++;
      } catch (e) {
        expect(e, JSON.stringify(name.slice(0, 40))).toBeInstanceOf(ImageError);
        expect((e as ImageError).reason).toBe('InvalidSpec');
        refused++;
      }
    }
    expect(refused).toBeGreaterThanOrEqual(4);
    expect(newOutside()).toEqual([]);
    noShellRan();
    console.log(`image store: ${names.length} hostile names, ${stored} stored inside the store, ${refused} refused`);
  });

  it('writes cloud-init seeds only where told, quoting hostile meta-data, carrying user data byte for byte', async () => {
    const isoinfo = (iso: string, file: string) =>
      execFileSync('isoinfo', ['-R', '-x', file, '-i', iso], { maxBuffer: 16 * 1024 * 1024 });
    const cases = [
      { hostname: 'x\nruncmd: [touch /tmp/pwned]', instanceId: 'id\n- evil', userData: '#cloud-config\n' },
      { hostname: `"; rm -rf / #`, instanceId: "'", userData: shellMarkers().join('\n') },
      { hostname: '<x>&', instanceId: '{a: b}', userData: `\u0000\u0001 binary \u00ff ${'y'.repeat(1024 * 1024)}` },
      { hostname: '../../outside', instanceId: '..', userData: 'lone \ud800 surrogate' },
    ];
    for (const [i, c] of cases.entries()) {
      const iso = join(data, 'ci', String(i), 'cidata.iso');
      await buildNoCloudIso({ hostname: c.hostname, instanceId: c.instanceId, source: { userData: c.userData } }, iso);
      const meta = parseYaml(isoinfo(iso, '/meta-data').toString('utf8')) as Record<string, unknown>;
      expect(meta).toEqual({ 'instance-id': c.instanceId, 'local-hostname': c.hostname });
      // User data is UTF-8 text: exactly the string's encoding (an unpaired surrogate becomes U+FFFD, as in Go).
      expect(isoinfo(iso, '/user-data').equals(Buffer.from(c.userData, 'utf8'))).toBe(true);
      // Only the ISO is left: the scratch directory is gone.
      expect(await readdir(join(data, 'ci', String(i)))).toEqual(['cidata.iso']);
    }
    for (const bad of [
      'relative/cidata.iso',
      `${data}/ci/../../outside/x.iso`,
      `${data}/ci/./x.iso`,
      `${data}/ci\u0000/x.iso`,
    ])
      await expect(
        buildNoCloudIso({ hostname: 'h', instanceId: 'i', source: { userData: '' } }, bad),
      ).rejects.toBeInstanceOf(UnsafeValueError);
    await expect(
      buildNoCloudIso(
        { hostname: 'h', instanceId: 'i', source: { userDataBase64: '$(reboot)' } },
        join(data, 'ci', 'b64', 'x.iso'),
      ),
    ).rejects.toBeInstanceOf(CloudInitError);
    expect(newOutside()).toEqual([]);
    noShellRan();
  });

  it('resolves hostDisk paths only under the allowed root, whatever the links and dots', async () => {
    const store = new ImageStore({ dir: join(data, 'images'), hostDiskRoots: [hd] });
    const refusedCases: [string, 'Disk' | 'DiskOrCreate'][] = [
      ['/etc/passwd', 'Disk'],
      [`${hd}/../../outside/secret.img`, 'Disk'],
      [`${hd}/../hd-evil/x.img`, 'DiskOrCreate'],
      [`${hd}-evil/x.img`, 'DiskOrCreate'],
      [`${hd}/escape/secret.img`, 'Disk'],
      [`${hd}/escape/new.img`, 'DiskOrCreate'],
      [`${hd}/link.img`, 'Disk'],
      [`${hd}/dangling.img`, 'DiskOrCreate'],
      [`${hd}/./x.img`, 'DiskOrCreate'],
      [`${hd}//x.img`, 'DiskOrCreate'],
      ['relative.img', 'DiskOrCreate'],
      [`${hd}/x\n.img`, 'DiskOrCreate'],
      [`${hd}/nul\u0000.img`, 'DiskOrCreate'],
      [hd, 'Disk'],
      [`${hd}/missing.img`, 'Disk'],
    ];
    for (const [path, type] of refusedCases) {
      const e = await store.hostDisk(path, type, 1024 * 1024).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, JSON.stringify(path)).toBeInstanceOf(ImageError);
      expect((e as ImageError).reason).toBe('InvalidSpec');
      expect((e as ImageError).message).toMatch(/hostDisk/);
    }
    const ok = await store.hostDisk(`${hd}/ok <&'"$(x)>.img`, 'DiskOrCreate', 1024 * 1024);
    expect(ok).toBe(`${hd}/ok <&'"$(x)>.img`);
    expect(statSync(ok).size).toBe(1024 * 1024);
    expect(existsSync(join(R, 'outside', 'created-by-agent.img'))).toBe(false);
    created.push(relative(R, ok));
    expect(newOutside()).toEqual([]);
    noShellRan();
  });
});

describe('LibvirtNodeDriver with hostile definitions (real libvirtd, nothing boots)', () => {
  let driver: LibvirtNodeDriver;
  let def: DomainDefinition;
  beforeAll(async () => {
    requireLibvirt();
    driver = await LibvirtNodeDriver.open({
      nodeName: 'hostile-fs-node',
      dataDir: data,
      imageTranslations: [
        ...(await guestTranslations()),
        // An operator's rule for local images: a name must not climb out of the directory it points to.
        { translations: [{ regexp: 'local/(.+)', url: `${pathToFileURL(join(R, 'src')).href}/$1` }] },
      ],
      hostDiskRoots: [hd],
    });
    def = await guestDefinition('hostile', 'uid-hostile-0');
  });
  afterAll(async () => {
    if (!driver) return;
    for (const d of await driver.listDomains()) await driver.undefineDomain(d.id).catch(() => undefined);
    await driver.close();
  });

  const outcome = async (d: DomainDefinition): Promise<string> => {
    try {
      await driver.defineDomain(d);
    } catch (e) {
      if (e instanceof DriverError) return e.reason;
      throw e;
    }
    await driver.undefineDomain(d.id);
    return 'defined';
  };

  const withVolume = (uid: string, volume: Record<string, unknown>): DomainDefinition => ({
    ...def,
    id: `vk-test_${uid}`,
    uid,
    spec: {
      ...def.spec,
      domain: {
        ...def.spec.domain,
        devices: { disks: [...(def.spec.domain.devices?.disks ?? []), { name: 'x', disk: { bus: 'virtio' } }] },
      },
      volumes: [...(def.spec.volumes ?? []), { name: 'x', ...volume } as never],
    },
  });

  it('refuses hostile uids and ids before touching the disk', async () => {
    for (const uid of [
      '../../outside',
      '/abs',
      '..',
      '.hidden',
      'a/b',
      'x'.repeat(300),
      'nul\u0000',
      ...shellMarkers(),
    ])
      expect(await outcome({ ...def, uid }), uid).toBe('InvalidSpec');
    for (const id of ['ns_a/b', '', 'x'.repeat(201), 'ns_\n'])
      expect(await outcome({ ...def, id, uid: 'uid-hostile-1' }), id).toBe('InvalidSpec');
    expect(newOutside()).toEqual([]);
  });

  it('never attaches a host file named by the VM: file:// URLs, absolute paths and shell text as images', async () => {
    const images = [
      pathToFileURL(join(R, 'outside', 'secret.img')).href,
      join(R, 'outside', 'secret.img'),
      `file://${R}/src/../outside/secret.img`,
      '/etc/shadow',
      'file:///etc/shadow',
      'local/../outside/secret.img',
      'local/x/../../outside/secret.img',
      'local/%2e%2e/outside/secret.img',
      ...shellMarkers(),
    ];
    for (const [i, image] of images.entries()) {
      const reason = await outcome(withVolume(`uid-img-${i}`, { containerDisk: { image } }));
      expect(['ImageFetchFailed', 'InvalidSpec'], `${image}: ${reason}`).toContain(reason);
    }
    secretNotCopied();
    // The rule itself works: a local image inside its directory is attached.
    expect(await outcome(withVolume('uid-img-ok', { containerDisk: { image: 'local/image.raw' } }))).toBe('defined');
    expect(existsSync(join(data, 'domains'))).toBe(true);
    expect(readdirSync(join(data, 'domains'))).toEqual([]);
    expect(newOutside()).toEqual([]);
    noShellRan();
  });

  it('refuses hostDisk paths outside the allowed root with a clear InvalidSpec, and creates allowed ones inside', async () => {
    const paths: [string, string][] = [
      ['/etc/passwd', 'Disk'],
      [`${hd}/../../outside/secret.img`, 'Disk'],
      [`${hd}-evil/y.img`, 'DiskOrCreate'],
      [`${hd}/escape/secret.img`, 'Disk'],
      [`${hd}/link.img`, 'Disk'],
      [`${hd}/dangling.img`, 'DiskOrCreate'],
    ];
    for (const [i, [path, type]] of paths.entries()) {
      const d = withVolume(`uid-hd-${i}`, {
        hostDisk: { path, type, ...(type === 'DiskOrCreate' ? { capacity: '1Mi' } : {}) },
      });
      try {
        await driver.defineDomain(d);
        throw new Error(`hostDisk ${path} was accepted`);
      } catch (e) {
        expect(e, path).toBeInstanceOf(DriverError);
        expect((e as DriverError).reason).toBe('InvalidSpec');
        expect((e as DriverError).message, path).toMatch(/hostDisk/);
      }
    }
    const allowed = `${hd}/vm disk <&'">.img`;
    expect(
      await outcome(withVolume('uid-hd-ok', { hostDisk: { path: allowed, type: 'DiskOrCreate', capacity: '1Mi' } })),
    ).toBe('defined');
    expect(statSync(allowed).size).toBe(1024 * 1024);
    created.push(relative(R, allowed));
    expect(existsSync(join(R, 'outside', 'created-by-agent.img'))).toBe(false);
    secretNotCopied();
    expect(newOutside()).toEqual([]);
  });

  it('carries hostile hostnames and user data into the seed of a defined domain, inside its directory', async () => {
    const hostile = {
      ...def,
      id: 'vk-test_seed',
      uid: 'uid-seed',
      spec: {
        ...def.spec,
        hostname: `x\n"; touch ${R}/pwned; "`,
        volumes: [
          { name: 'cloudinit', cloudInitNoCloud: { userData: `#cloud-config\nruncmd:\n - ${shellMarkers()[0]}\n` } },
        ],
      },
    };
    await driver.defineDomain(hostile);
    const iso = join(data, 'domains', 'uid-seed', 'cidata.iso');
    const meta = parseYaml(execFileSync('isoinfo', ['-R', '-x', '/meta-data', '-i', iso], { encoding: 'utf8' }));
    expect(meta).toEqual({ 'instance-id': 'uid-seed', 'local-hostname': hostile.spec.hostname });
    await driver.undefineDomain('vk-test_seed');
    expect(existsSync(join(data, 'domains', 'uid-seed'))).toBe(false);
    expect(newOutside()).toEqual([]);
    noShellRan();
  });
});

describe('no shell (review, enforced)', () => {
  it('spawns processes only through execFile/spawn with argument arrays, never with a shell', async () => {
    const src = join(import.meta.dirname, '../../src');
    const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'));
    const offenders: string[] = [];
    let spawning = 0;
    for (const f of files) {
      const text = await readFile(join(src, f), 'utf8');
      const imports = [...text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'node:child_process'/g)].flatMap((m) =>
        m[1]!.split(',').map((s) => s.trim().replace(/^type\s+/, '')),
      );
      if (imports.length) spawning++;
      for (const name of imports)
        if (!['execFile', 'execFileSync', 'spawn', 'ChildProcess', 'SpawnOptions', 'ExecFileOptions'].includes(name))
          offenders.push(`${f}: imports ${name}`);
      if (/\bshell\s*:\s*true/.test(text)) offenders.push(`${f}: shell: true`);
      if (/require\(['"](node:)?child_process['"]\)|from 'child_process'/.test(text))
        offenders.push(`${f}: child_process without node:`);
      if (/(?<![.\w])(exec|execSync)\(/.test(text)) offenders.push(`${f}: a shell-capable or blocking call`);
    }
    expect(offenders).toEqual([]);
    expect(spawning).toBeGreaterThan(0);
  });
});
