// hostDisk on a simulated node follows the libvirt agent's rule: paths only under allow-listed roots
// (none by default), symlinks resolved, `Disk` needs an existing regular file, `DiskOrCreate` a capacity.
import type { DomainDefinition, VirtualMachine } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { absolutePathError, HostDisks, SimEnv } from '../src/index.ts';
import { rejection, run, summary, vmDef, world } from './helpers.ts';

const ROOT = '/srv/disks';

function refusal(host: HostDisks, path: string, type: 'Disk' | 'DiskOrCreate', capacity?: number): string {
  const o = host.resolve(path, type, capacity);
  if (o.ok) throw new Error(`${path} was accepted as ${o.path}`);
  return o.message;
}

describe('HostDisks: the agent hostDisk path rule, without a filesystem', () => {
  it('refuses every hostDisk when no root is allowed (the default)', () => {
    const host = new HostDisks({ files: ['/srv/disks/a.img'] });
    expect(refusal(host, '/srv/disks/a.img', 'Disk')).toBe(
      'hostDisk /srv/disks/a.img is outside the allowed roots (none)',
    );
    expect(refusal(host, '/srv/disks/b.img', 'DiskOrCreate', 1024)).toMatch(/outside the allowed roots \(none\)$/);
  });

  it('refuses paths outside the roots, including a sibling that shares the prefix', () => {
    const host = new HostDisks({ roots: [ROOT], files: ['/etc/passwd', '/srv/disks-evil/x.img'] });
    expect(refusal(host, '/etc/passwd', 'Disk')).toBe(`hostDisk /etc/passwd is outside the allowed roots (${ROOT})`);
    expect(refusal(host, '/srv/disks-evil/x.img', 'Disk')).toMatch(/outside the allowed roots/);
    expect(refusal(host, '/srv/disks-evil/new.img', 'DiskOrCreate', 1024)).toMatch(/outside the allowed roots/);
    // A parent directory that does not exist under the root: the agent cannot resolve it either.
    expect(refusal(host, `${ROOT}/sub/new.img`, 'DiskOrCreate', 1024)).toMatch(/outside the allowed roots/);
  });

  it('refuses paths that are not absolute and normalised, as checkAbsolutePath does', () => {
    const host = new HostDisks({ roots: [ROOT] });
    for (const p of [`${ROOT}/../escape.img`, `${ROOT}/./x.img`, `${ROOT}//x.img`, `${ROOT}/x.img/`]) {
      expect(refusal(host, p, 'DiskOrCreate', 1024)).toBe(`hostDisk.path: "${p}" is not a normalised absolute path`);
    }
    for (const p of ['relative.img', `${ROOT}/x\n.img`, `${ROOT}/nul\u0000.img`, '']) {
      expect(refusal(host, p, 'DiskOrCreate', 1024)).toBe(
        'hostDisk.path: must be an absolute path without control characters',
      );
    }
    expect(absolutePathError('/')).toBeUndefined();
    expect(absolutePathError('/a/b.img')).toBeUndefined();
  });

  it('needs an existing regular file for Disk and a capacity for DiskOrCreate, which creates the file', () => {
    const host = new HostDisks({ roots: [ROOT], files: [`${ROOT}/base.img`] });
    expect(host.resolve(`${ROOT}/base.img`, 'Disk')).toEqual({ ok: true, path: `${ROOT}/base.img`, created: false });
    expect(refusal(host, `${ROOT}/missing.img`, 'Disk')).toBe(
      `hostDisk ${ROOT}/missing.img does not exist (type Disk)`,
    );
    expect(refusal(host, `${ROOT}/new.img`, 'DiskOrCreate')).toBe(
      `hostDisk ${ROOT}/new.img: DiskOrCreate needs a capacity`,
    );
    expect(refusal(host, `${ROOT}/new.img`, 'DiskOrCreate', 0)).toMatch(/needs a capacity/);
    expect(host.hasFile(`${ROOT}/new.img`)).toBe(false);
    expect(host.resolve(`${ROOT}/new.img`, 'DiskOrCreate', 1024)).toEqual({
      ok: true,
      path: `${ROOT}/new.img`,
      created: true,
    });
    expect(host.hasFile(`${ROOT}/new.img`)).toBe(true);
    // Existing now: Disk takes it, and DiskOrCreate needs no capacity any more.
    expect(host.resolve(`${ROOT}/new.img`, 'Disk')).toMatchObject({ ok: true, created: false });
    expect(host.resolve(`${ROOT}/new.img`, 'DiskOrCreate')).toMatchObject({ ok: true, created: false });
  });

  it('refuses directories: the root itself and a directory under it', () => {
    const host = new HostDisks({ roots: [ROOT], files: [`${ROOT}/vm1/disk.img`] });
    expect(refusal(host, ROOT, 'Disk')).toBe(`hostDisk ${ROOT} is not a regular file`);
    expect(refusal(host, `${ROOT}/vm1`, 'DiskOrCreate', 1024)).toMatch(/is not a regular file/);
    expect(host.resolve(`${ROOT}/vm1/disk.img`, 'Disk')).toMatchObject({ ok: true });
    expect(host.resolve(`${ROOT}/vm1/new.img`, 'DiskOrCreate', 1024)).toMatchObject({ ok: true, created: true });
  });

  it('resolves symlinks: a link or a linked directory leading out of the roots is refused', () => {
    const host = new HostDisks({
      roots: [ROOT],
      files: ['/outside/secret.img', `${ROOT}/real.img`],
      symlinks: {
        [`${ROOT}/out.img`]: '/outside/secret.img',
        [`${ROOT}/dangling.img`]: '/outside/created-by-agent.img',
        [`${ROOT}/escape`]: '/outside',
        [`${ROOT}/in.img`]: 'real.img',
        [`${ROOT}/loop.img`]: 'loop.img',
        '/srv/alias': 'disks',
      },
    });
    expect(refusal(host, `${ROOT}/out.img`, 'Disk')).toBe(`hostDisk ${ROOT}/out.img links outside the allowed roots`);
    expect(refusal(host, `${ROOT}/dangling.img`, 'DiskOrCreate', 1024)).toMatch(/links outside/);
    expect(refusal(host, `${ROOT}/loop.img`, 'Disk')).toMatch(/links outside/);
    expect(refusal(host, `${ROOT}/escape/secret.img`, 'Disk')).toMatch(/outside the allowed roots/);
    expect(refusal(host, `${ROOT}/escape/new.img`, 'DiskOrCreate', 1024)).toMatch(/outside the allowed roots/);
    expect(host.hasFile('/outside/new.img')).toBe(false);
    // A link that stays inside is used as the link's path, like the agent does.
    expect(host.resolve(`${ROOT}/in.img`, 'Disk')).toEqual({ ok: true, path: `${ROOT}/in.img`, created: false });
    // A path through a linked directory counts where it really is.
    expect(host.resolve('/srv/alias/real.img', 'Disk')).toEqual({ ok: true, path: `${ROOT}/real.img`, created: false });
    expect(host.realpath('/srv/alias/../disks/real.img')).toBe(`${ROOT}/real.img`);
    expect(host.realpath('/nowhere')).toBeUndefined();
  });

  it('takes roots with a trailing slash and refuses relative or unnormalised layout entries', () => {
    const host = new HostDisks({ roots: [`${ROOT}/`] });
    expect(host.roots).toEqual([ROOT]);
    expect(host.resolve(`${ROOT}/x.img`, 'DiskOrCreate', 1)).toMatchObject({ ok: true });
    expect(() => new HostDisks({ roots: ['disks'] })).toThrow(TypeError);
    expect(() => new HostDisks({ roots: ['/a/../b'] })).toThrow(/not a normalised absolute path/);
    expect(() => new HostDisks({ files: ['x.img'] })).toThrow(/hostFiles entry/);
    expect(() => new HostDisks({ symlinks: { 'l.img': '/x' } })).toThrow(/hostSymlinks entry/);
  });
});

function withHostDisk(name: string, hostDisk: NonNullable<DomainDefinition['spec']['volumes']>[number]['hostDisk']) {
  const def = vmDef(name);
  def.spec.domain.devices!.disks!.push({ name: 'host', disk: { bus: 'virtio' } });
  def.spec.volumes!.push({ name: 'host', ...(hostDisk ? { hostDisk } : {}) });
  return def;
}

describe('SimNode: hostDisk volumes at defineDomain, like the agent', () => {
  it('refuses a hostDisk with InvalidSpec by default, before any image or lifecycle event', async () => {
    const w = world();
    const e = await rejection(
      run(
        w.clock,
        w.node.defineDomain(withHostDisk('a', { path: '/var/data/disk.img', type: 'DiskOrCreate', capacity: '1Gi' })),
      ),
    );
    expect(e).toMatchObject({ reason: 'InvalidSpec' });
    expect(e.message).toContain('hostDisk /var/data/disk.img is outside the allowed roots (none)');
    expect(w.events).toEqual([]);
    expect(w.node.domainIds()).toEqual([]);
  });

  it('with roots: refuses what is outside or missing, creates a DiskOrCreate file that outlives its domain', async () => {
    const w = world(1, { hostDiskRoots: ['/var/data'], hostFiles: ['/var/data/golden.img'] });
    const define = (def: DomainDefinition) => run(w.clock, w.node.defineDomain(def));
    expect(await rejection(define(withHostDisk('a', { path: '/etc/hostname', type: 'Disk' })))).toMatchObject({
      reason: 'InvalidSpec',
    });
    const missing = await rejection(define(withHostDisk('b', { path: '/var/data/new.img', type: 'Disk' })));
    expect(missing.message).toContain('does not exist (type Disk)');
    await define(withHostDisk('c', { path: '/var/data/golden.img', type: 'Disk' }));
    await define(withHostDisk('d', { path: '/var/data/new.img', type: 'DiskOrCreate', capacity: '1Gi' }));
    await run(w.clock, w.node.undefineDomain('default_d'));
    await define(withHostDisk('e', { path: '/var/data/new.img', type: 'Disk' }));
    expect(w.node.domainIds().sort()).toEqual(['default_c', 'default_e']);
    expect(summary(w.events).filter((s) => s.includes('Defined'))).toHaveLength(3);
  });

  it('refuses the hostDisk before capacity: a refused spec on a full node is InvalidSpec', async () => {
    const w = world(1, { capacity: { vms: 0 } });
    const e = await rejection(run(w.clock, w.node.defineDomain(withHostDisk('a', { path: '/x.img', type: 'Disk' }))));
    expect(e.reason).toBe('InvalidSpec');
  });
});

describe('SimEnv: hostDiskRoots as a node option', () => {
  const vm = (): VirtualMachine => ({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: 'hd', namespace: 'default' },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: { memory: { guest: '128Mi' }, devices: { disks: [{ name: 'host', disk: { bus: 'virtio' } }] } },
          volumes: [{ name: 'host', hostDisk: { path: '/var/data/disk.img', type: 'DiskOrCreate', capacity: '1Gi' } }],
        },
      },
    },
  });

  it('runs a KubeVirt-style DiskOrCreate VM on nodes that allow its directory', async () => {
    await using env = await SimEnv.create({ nodes: 2, seed: 1, nodeDefaults: { hostDiskRoots: ['/var/data'] } });
    await env.store.create('VirtualMachine', vm());
    const vmi = await env.waitForVMIPhase('default', 'hd', 'Running');
    expect(vmi.status?.nodeName).toMatch(/^node-/);
  });

  it('fails it on nodes that allow none (the default), as the agent does', async () => {
    await using env = await SimEnv.create({ nodes: 2, seed: 1 });
    await env.store.create('VirtualMachine', vm());
    await env.waitFor(
      async () =>
        (await env.store.get('VirtualMachine', 'default', 'hd')).status?.printableStatus === 'CrashLoopBackOff',
      { what: 'the VM to crash-loop' },
    );
    const failures = (await env.store.list('Event')).items.filter((e) => e.reason === 'Failed');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures)
      expect(f.message).toMatch(
        /^InvalidSpec: node node-\d: hostDisk \/var\/data\/disk.img is outside the allowed roots \(none\)$/,
      );
    expect(env.nodes.every((n) => n.domainIds().length === 0)).toBe(true);
  });
});
