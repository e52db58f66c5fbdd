import { describe, expect, it } from 'vitest';
import { assignTargets, buildDomainXml, type DomainXmlInput, readDomainMetadata } from '../../src/index.ts';
import { checkAbsolutePath, checkPathComponent, UnsafeValueError, xmlUnescape } from '../../src/xml/escape.ts';

const base = (over: Partial<DomainXmlInput> = {}): DomainXmlInput => ({
  name: 'ns_vm',
  hypervisor: 'qemu',
  sockets: 2,
  cores: 2,
  threads: 1,
  memoryBytes: 256 * 1024 * 1024,
  disks: [],
  consoleLog: '/var/lib/virtkit/domains/u1/console.log',
  metadata: {
    uid: 'u1',
    namespace: 'ns',
    name: 'vm',
    dir: '/var/lib/virtkit/domains/u1',
    consoleLog: '/var/lib/virtkit/domains/u1/console.log',
    cpuMillis: 4000,
    memoryBytes: 256 * 1024 * 1024,
  },
  ...over,
});

const count = (s: string, sub: string) => s.split(sub).length - 1;

describe('buildDomainXml', () => {
  it('writes topology, memory, hypervisor type, crash handling and a file-backed serial console', () => {
    const xml = buildDomainXml(base({ hypervisor: 'kvm', uuid: '6B3C0F9E-4A51-4C6E-9D1F-00000000A001' }));
    expect(xml).toContain("<domain type='kvm'>");
    expect(xml).toContain('<uuid>6b3c0f9e-4a51-4c6e-9d1f-00000000a001</uuid>');
    expect(xml).toContain("<vcpu placement='static'>4</vcpu>");
    expect(xml).toContain("<topology sockets='2' dies='1' cores='2' threads='1'/>");
    expect(xml).toContain("<memory unit='b'>268435456</memory>");
    expect(xml).toContain('<on_crash>destroy</on_crash>');
    expect(xml).toContain("<panic model='isa'/>");
    expect(xml).toContain("<source path='/var/lib/virtkit/domains/u1/console.log' append='on'/>");
    expect(xml).toContain("<boot dev='hd'/>");
  });

  it('names disks per bus like the guest kernel, with a virtio-scsi controller only for scsi', () => {
    expect(
      assignTargets([{ bus: 'virtio' }, { bus: 'sata' }, { bus: 'virtio' }, { bus: 'scsi' }, { bus: 'sata' }]),
    ).toEqual(['vda', 'sda', 'vdb', 'sdb', 'sdc']);
    expect(assignTargets(Array.from({ length: 28 }, () => ({ bus: 'virtio' as const }))).slice(25)).toEqual([
      'vdz',
      'vdaa',
      'vdab',
    ]);
    const disk = (name: string, bus: 'virtio' | 'sata' | 'scsi', device: 'disk' | 'cdrom' = 'disk') => ({
      name,
      bus,
      device,
      path: `/d/${name}.img`,
      format: 'raw' as const,
    });
    const xml = buildDomainXml(
      base({ disks: [disk('root', 'virtio'), disk('data', 'scsi'), disk('cd', 'sata', 'cdrom')] }),
    );
    expect(xml).toContain("<target dev='vda' bus='virtio'/>");
    expect(xml).toContain("<target dev='sda' bus='scsi'/>");
    expect(xml).toContain("<target dev='sdb' bus='sata'/>");
    expect(xml).toContain("<controller type='scsi' index='0' model='virtio-scsi'/>");
    expect(xml).toMatch(/device='cdrom'>[\s\S]*?<readonly\/>/);
    expect(buildDomainXml(base({ disks: [disk('root', 'virtio')] }))).not.toContain('virtio-scsi');
  });

  it('boots a kernel directly with initrd and command line', () => {
    const xml = buildDomainXml(
      base({ kernelBoot: { kernel: '/k/vmlinux', initrd: '/k/initrd', cmdline: 'console=ttyS0 quiet' } }),
    );
    expect(xml).toContain('<kernel>/k/vmlinux</kernel>');
    expect(xml).toContain('<initrd>/k/initrd</initrd>');
    expect(xml).toContain('<cmdline>console=ttyS0 quiet</cmdline>');
    expect(xml).not.toContain('<boot dev=');
  });

  it('escapes every user value so nothing can inject elements or attributes', () => {
    const evil = `x'/><devices><disk type='file'><source file='/etc/shadow'/></disk></devices><x a="&amp;`;
    const evilName = `ns_${evil.replaceAll('/', '')}`;
    const xml = buildDomainXml(
      base({
        name: evilName,
        kernelBoot: { kernel: '/k/vmlinux', cmdline: `a</cmdline><devices/><cmdline>${evil}` },
        smbiosSerial: evil,
        disks: [
          { name: evil, device: 'disk', bus: 'virtio', path: "/d/it's <a> & b.img", format: 'raw', serial: evil },
        ],
        metadata: { ...base().metadata, name: evil, namespace: '</virtkit:vmi><x/>' },
      }),
    );
    expect(count(xml, '<devices>')).toBe(1);
    expect(count(xml, '<disk ')).toBe(1);
    expect(xml).not.toContain("/etc/shadow'/>");
    expect(xml).toContain("<source file='/d/it&apos;s &lt;a&gt; &amp; b.img'/>");
    const escapedName = evilName
      .replaceAll('&', '&amp;')
      .replaceAll("'", '&apos;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;');
    expect(xml).toContain(`<name>${escapedName}</name>`);
    // Aliases only carry characters libvirt accepts.
    expect(xml).toMatch(/<alias name='ua-[A-Za-z0-9_-]+'\/>/);
    // The metadata survives the round trip exactly.
    expect(readDomainMetadata(xml)).toEqual({ ...base().metadata, name: evil, namespace: '</virtkit:vmi><x/>' });
  });

  it('rejects what cannot be escaped: control characters, "/" in names, relative or dotted paths', () => {
    expect(() => buildDomainXml(base({ name: 'a/b' }))).toThrow(UnsafeValueError);
    expect(() => buildDomainXml(base({ name: 'a\u0001b' }))).toThrow(UnsafeValueError);
    expect(() => buildDomainXml(base({ name: '' }))).toThrow(UnsafeValueError);
    expect(() => buildDomainXml(base({ kernelBoot: { kernel: '/k/../../etc/passwd' } }))).toThrow(/normalised/);
    expect(() => buildDomainXml(base({ kernelBoot: { kernel: 'vmlinux' } }))).toThrow(/absolute/);
    expect(() =>
      buildDomainXml(base({ disks: [{ name: 'd', device: 'disk', bus: 'virtio', path: '/a/./b', format: 'raw' }] })),
    ).toThrow(UnsafeValueError);
    expect(() => buildDomainXml(base({ uuid: "x' or '1" }))).toThrow(/UUID/);
    expect(() => buildDomainXml(base({ sockets: 0 }))).toThrow(/cpu.sockets/);
    expect(() => buildDomainXml(base({ memoryBytes: 1024 }))).toThrow(/memory/);
    expect(() => buildDomainXml(base({ kernelBoot: { kernel: '/k', cmdline: 'a\u0000b' } }))).toThrow(/control/);
    expect(() => buildDomainXml(base({ cpuModel: 'host-passthrough' }))).toThrow(/KVM/);
  });

  it('validates path components derived from identifiers', () => {
    expect(checkPathComponent('6b3c0f9e-4a51', 'uid')).toBe('6b3c0f9e-4a51');
    for (const bad of ['..', '.', '', 'a/b', '../x', '.hidden', 'a\u0000']) {
      expect(() => checkPathComponent(bad, 'uid')).toThrow(UnsafeValueError);
    }
    expect(checkAbsolutePath('/', 'p')).toBe('/');
    expect(() => checkAbsolutePath('/a//b', 'p')).toThrow();
    expect(() => checkAbsolutePath('/a/b/', 'p')).toThrow();
  });

  it('ignores metadata of other namespaces and unescapes entities', () => {
    expect(
      readDomainMetadata("<domain><metadata><x:vmi xmlns:x='urn:other'>{}</x:vmi></metadata></domain>"),
    ).toBeUndefined();
    expect(xmlUnescape('&lt;&#x41;&#66;&amp;&quot;&apos;&gt;')).toBe(`<AB&"'>`);
  });
});
