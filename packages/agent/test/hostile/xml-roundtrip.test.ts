// Hostile values in the domain XML: every value the agent writes into XML either reads back identically from
// a strict XML parser (and from libvirt itself: defineXML + getXMLDesc on the real daemon), or is refused
// before any XML exists with an UnsafeValueError naming the field.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildDomainXml,
  type DomainMetadata,
  type DomainXmlInput,
  LibvirtClient,
  readDomainMetadata,
  UnsafeValueError,
} from '../../src/index.ts';
import { LIBVIRT_SOCKET, requireLibvirt } from '../helpers.ts';
import { parseXml, select, textOf, type XmlElement, XmlSyntaxError } from './strict-xml.ts';

const SEED = 4_242;
const MiB = 1024 * 1024;

/** Hand-picked hostile strings; generated ones are added by fast-check. */
export const HOSTILE = [
  `<domain type='kvm'><name>evil</name></domain>`,
  `'; DROP TABLE domains; --`,
  `" onload="x`,
  `a & b &amp; &lt; &#x41; &unknown;`,
  `]]><![CDATA[x]]>`,
  '<!-- --> <?pi?> <!DOCTYPE x>',
  '$(touch /tmp/virtkit-pwned)',
  '`touch /tmp/virtkit-pwned`',
  '; touch /tmp/virtkit-pwned',
  '| touch /tmp/virtkit-pwned',
  '&& reboot',
  '../../../../etc/passwd',
  '/etc/shadow',
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'crlf\r\nend',
  '  leading and trailing  ',
  'ünïcödé ☃ 𝄞 中文',
  '\u200b\u202e\ufeff',
  'x'.repeat(4096),
  'nul\u0000byte',
  'bell\u0007',
  'del\u007f',
  'lone \ud800 surrogate',
  'lone \udc00 low',
  'non-char \uffff',
  '%s%n%x',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template placeholder is the hostile value
  '{{.Name}} ${HOME}',
];

const xmlForbidden = (v: string): boolean =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters XML 1.0 forbids
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(v) || /\p{Surrogate}/u.test(v);
// biome-ignore lint/suspicious/noControlCharactersInRegex: what checkAbsolutePath refuses
const controlChars = (v: string): boolean => /[\u0000-\u001F\u007F]/.test(v);

/** A path segment made of `v` (no `/`, not `.` or `..`), so the path stays normalised. */
const segment = (v: string): string => {
  const s = v.replaceAll('/', '_');
  return s === '' || s === '.' || s === '..' ? `x${s}` : s;
};

interface Field {
  name: string;
  /** The input with `v` placed in this field. */
  put(base: DomainXmlInput, v: string): DomainXmlInput;
  /** The value as read back from the parsed document. */
  read(root: XmlElement, v: string): unknown;
  /** What must be read back. */
  expected(v: string): unknown;
  /** Whether the agent must refuse `v` here. */
  refused(v: string): boolean;
}

const meta = (over: Partial<DomainMetadata> = {}): DomainMetadata => ({
  uid: 'uid-1',
  namespace: 'ns',
  name: 'vm',
  dir: '/var/lib/virtkit/domains/uid-1',
  consoleLog: '/var/lib/virtkit/domains/uid-1/console.log',
  cpuMillis: 100,
  memoryBytes: 64 * MiB,
  ...over,
});

const base = (): DomainXmlInput => ({
  name: 'vk-hostile_base',
  hypervisor: 'qemu',
  sockets: 1,
  cores: 1,
  threads: 1,
  memoryBytes: 64 * MiB,
  machine: 'pc',
  kernelBoot: { kernel: '/var/tmp/virtkit-hostile/kernel', cmdline: 'console=ttyS0' },
  disks: [
    { name: 'root', device: 'disk', bus: 'virtio', path: '/var/tmp/virtkit-hostile/root.qcow2', format: 'qcow2' },
  ],
  consoleLog: '/var/tmp/virtkit-hostile/console.log',
  metadata: meta(),
  smbiosSerial: 'serial-1',
});

const metadataOf = (root: XmlElement): unknown => {
  const vmi = select(root, 'metadata').flatMap((m) => m.children.filter((c): c is XmlElement => typeof c !== 'string'));
  return JSON.parse(textOf(vmi[0]) ?? 'null');
};

const FIELDS: Field[] = [
  {
    name: 'name',
    put: (b, v) => ({ ...b, name: `ns_${v}` }),
    read: (r) => textOf(select(r, 'name')[0]),
    expected: (v) => `ns_${v}`,
    refused: (v) => xmlForbidden(v) || controlChars(v) || v.includes('/') || v.length + 3 > 200,
  },
  {
    name: 'kernel cmdline',
    put: (b, v) => ({ ...b, kernelBoot: { ...b.kernelBoot!, cmdline: v } }),
    read: (r) => textOf(select(r, 'os/cmdline')[0]) ?? '',
    expected: (v) => v,
    refused: xmlForbidden,
  },
  {
    name: 'smbios serial',
    put: (b, v) => ({ ...b, smbiosSerial: v }),
    read: (r) => textOf(select(r, 'sysinfo/system/entry')[0]),
    expected: (v) => v,
    refused: xmlForbidden,
  },
  {
    name: 'disk path',
    put: (b, v) => ({ ...b, disks: [{ ...b.disks[0]!, path: `/var/tmp/virtkit-hostile/${segment(v)}` }] }),
    read: (r) => select(r, 'devices/disk/source')[0]?.attrs.file,
    expected: (v) => `/var/tmp/virtkit-hostile/${segment(v)}`,
    refused: (v) => xmlForbidden(v) || controlChars(v),
  },
  {
    name: 'console log path',
    put: (b, v) => ({ ...b, consoleLog: `/var/tmp/virtkit-hostile/${segment(v)}.log` }),
    read: (r) => select(r, 'devices/serial/source')[0]?.attrs.path,
    expected: (v) => `/var/tmp/virtkit-hostile/${segment(v)}.log`,
    refused: (v) => xmlForbidden(v) || controlChars(v),
  },
  {
    name: 'metadata',
    put: (b, v) => ({ ...b, metadata: meta({ name: v, namespace: v, readinessLine: v }) }),
    read: metadataOf,
    expected: (v) => meta({ name: v, namespace: v, readinessLine: v }),
    // JSON escapes control characters and lone surrogates, but not the non-characters U+FFFE/U+FFFF.
    refused: (v) => /[\uFFFE\uFFFF]/.test(v),
  },
  {
    name: 'disk serial',
    put: (b, v) => ({ ...b, disks: [{ ...b.disks[0]!, serial: v }] }),
    read: (r) => textOf(select(r, 'devices/disk/serial')[0]),
    expected: (v) => v,
    refused: xmlForbidden,
  },
  {
    name: 'cpu model',
    put: (b, v) => ({ ...b, cpuModel: v }),
    read: (r, v) => (v === 'host-model' || v === 'host-passthrough' ? v : textOf(select(r, 'cpu/model')[0])),
    // No model (an empty one) leaves the CPU to QEMU.
    expected: (v) => (v === '' ? undefined : v),
    refused: xmlForbidden,
  },
  {
    name: 'machine type',
    put: (b, v) => ({ ...b, machine: v }),
    read: (r) => select(r, 'os/type')[0]?.attrs.machine,
    // An empty machine type means the default.
    expected: (v) => v,
    refused: xmlForbidden,
  },
  {
    name: 'disk name (device alias)',
    put: (b, v) => ({ ...b, disks: [{ ...b.disks[0]!, name: v }] }),
    // libvirt takes only [A-Za-z0-9_-] after `ua-`: the alias is an encoding, checked by its shape.
    read: (r) => /^ua-[A-Za-z0-9_-]*$/.test(select(r, 'devices/disk/alias')[0]?.attrs.name ?? ''),
    expected: () => true,
    refused: () => false,
  },
];

/** Builds with `v` in `field`; returns what happened, for the assertions. */
function roundTrip(
  field: Field,
  v: string,
): { refused: true; error: unknown } | { refused: false; root: XmlElement; xml: string } {
  let xml: string;
  try {
    xml = buildDomainXml(field.put(base(), v));
  } catch (error) {
    return { refused: true, error };
  }
  return { refused: false, root: parseXml(xml), xml };
}

function check(field: Field, v: string): void {
  const r = roundTrip(field, v);
  const label = `${field.name} = ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (r.refused) {
    expect(r.error, label).toBeInstanceOf(UnsafeValueError);
    expect((r.error as UnsafeValueError).field.length, label).toBeGreaterThan(0);
    expect(field.refused(v), `${label} was refused: ${(r.error as Error).message}`).toBe(true);
    return;
  }
  expect(field.refused(v), `${label} should have been refused`).toBe(false);
  expect(field.read(r.root, v), label).toEqual(field.expected(v));
  // The agent's own reader agrees with the strict parser about its metadata.
  expect(readDomainMetadata(r.xml), label).toEqual(field.put(base(), v).metadata);
}

describe('the strict XML reader', () => {
  it('rejects what XML forbids and reads what it allows as libxml2 does', () => {
    const bad = [
      '<a>&</a>',
      '<a>&nbsp;</a>',
      '<a b="<"/>',
      '<a b="1" b="2"/>',
      '<a></b>',
      '<a>\u0001</a>',
      '<a>\ud800</a>',
      '<a>&#0;</a>',
      '<a>&#xd800;</a>',
      '<!DOCTYPE a><a/>',
      '<a/><b/>',
      '<a>]]></a>',
      '<a',
    ];
    for (const doc of bad) expect(() => parseXml(doc), doc).toThrow(XmlSyntaxError);
    const ok = parseXml(
      `<?xml version='1.0'?><!-- c --><a x='1&#10;2' y="t\tu\nv"><b>&lt;&amp;&gt;&quot;&apos;\r\n&#13;</b><![CDATA[<raw>]]></a>`,
    );
    expect(ok.attrs).toEqual({ x: '1\n2', y: 't u v' });
    expect(textOf(select(ok, 'b')[0])).toBe(`<&>"'\n\r`);
    expect(textOf(ok)).toBe('<raw>');
  });
});

describe('buildDomainXml with hostile values (property, fixed seed)', () => {
  it('reads every hand-picked hostile value back identically, or refuses it naming the field', () => {
    let refused = 0;
    for (const field of FIELDS)
      for (const v of HOSTILE) {
        check(field, v);
        if (field.refused(v)) refused++;
      }
    console.log(`domain XML: ${FIELDS.length * HOSTILE.length} hand-picked cases, ${refused} refused`);
  });

  it('reads every generated string back identically, or refuses it naming the field', () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.string({ unit: fc.constantFrom(...'<>&\'"\t\n\r;$`|/.\\ ]]!-?'.split('')), maxLength: 20 }),
      fc.constantFrom(...HOSTILE),
    );
    fc.assert(
      fc.property(fc.constantFrom(...FIELDS), value, (field, v) => {
        check(field, v);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('libvirt reads back what the agent wrote (real daemon)', () => {
  let client: LibvirtClient;
  const defined: string[] = [];
  beforeAll(async () => {
    requireLibvirt();
    client = await LibvirtClient.connect({ socketPath: LIBVIRT_SOCKET });
  });
  afterAll(async () => {
    for (const name of defined) await client.undefine(await client.lookupByName(name)).catch(() => undefined);
    await client?.close();
  });

  it('keeps hostile names, paths, command lines, serials and metadata intact through defineXML and getXMLDesc', async () => {
    // Fields libvirt stores verbatim. (Machine type and CPU model must name real ones; the disk serial has a
    // character set of its own — libvirt refuses what it does not take, checked below.)
    const fields = FIELDS.filter((f) =>
      ['name', 'kernel cmdline', 'smbios serial', 'disk path', 'console log path', 'metadata'].includes(f.name),
    );
    let compared = 0;
    let refusedByAgent = 0;
    for (const [i, v] of HOSTILE.entries()) {
      for (const field of fields) {
        const unique = (input: DomainXmlInput): DomainXmlInput =>
          field.name === 'name'
            ? { ...input, name: `${input.name.slice(0, 180)}-${i}` }
            : { ...input, name: `vk-hostile_${i}-${compared}` };
        let xml: string;
        try {
          xml = buildDomainXml(unique(field.put(base(), v)));
        } catch (e) {
          expect(e).toBeInstanceOf(UnsafeValueError);
          expect(field.refused(v)).toBe(true);
          refusedByAgent++;
          continue;
        }
        const dom = await client.defineXML(xml);
        defined.push(dom.name);
        const back = parseXml(await client.getXMLDesc(dom));
        // libvirt holds a CR as sent (&#13;), but writes it back literally, which every XML reader takes as LF.
        const eol = (x: unknown) => (typeof x === 'string' ? x.replace(/\r\n?/g, '\n') : x);
        const expected = field.name === 'name' ? dom.name : eol(field.expected(v));
        expect(
          field.name === 'name' ? textOf(select(back, 'name')[0]) : field.read(back, v),
          `${field.name} ${JSON.stringify(v.slice(0, 60))}`,
        ).toEqual(expected);
        if (field.name === 'name') expect(dom.name).toBe(unique(field.put(base(), v)).name);
        await client.undefine(dom);
        defined.pop();
        compared++;
      }
    }
    console.log(
      `libvirt round trip: ${compared} hostile values defined and read back intact, ${refusedByAgent} refused by the agent first`,
    );
    expect(compared).toBeGreaterThan(100);
  }, 120_000);
});
