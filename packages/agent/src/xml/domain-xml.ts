import type { DiskBus } from '@virtkit/engine';
import { checkAbsolutePath, checkDomainName, UnsafeValueError, xmlEscape, xmlUnescape } from './escape.ts';

/** XML namespace of the agent's `<metadata>` element. */
export const VIRTKIT_XMLNS = 'https://virtkit.dev/xmlns/agent/v1';

/**
 * What the agent records inside the domain so that a restarted agent (or the migration target) can match
 * the domain to its VMI and find its files without any state of its own.
 */
export interface DomainMetadata {
  uid: string;
  namespace: string;
  name: string;
  /** Directory holding this domain's own files (overlays, cloud-init ISO); removed on undefine. */
  dir: string;
  /** Serial console log (QEMU appends to it). */
  consoleLog: string;
  /** Readiness line from the definition, when it overrides the driver's default. */
  readinessLine?: string;
  /** Node whose agent owns the domain; rewritten on migration so the target's agent adopts it. */
  node?: string;
  /** Resources charged against the node's capacity. */
  cpuMillis: number;
  memoryBytes: number;
}

export interface DomainDiskInput {
  /** Disk name from the VMI spec; becomes the device alias (`ua-<name>`). */
  name: string;
  device: 'disk' | 'cdrom';
  bus: DiskBus;
  path: string;
  format: 'raw' | 'qcow2';
  readonly?: boolean;
  bootOrder?: number;
  serial?: string;
  cache?: 'none' | 'writethrough' | 'writeback';
}

export interface DomainXmlInput {
  /** libvirt domain name (`<namespace>_<name>`). */
  name: string;
  /** SMBIOS/domain UUID; libvirt picks one when absent. */
  uuid?: string;
  hypervisor: 'kvm' | 'qemu';
  sockets: number;
  cores: number;
  threads: number;
  /** `host-model`, `host-passthrough` or a named model; default: QEMU's. */
  cpuModel?: string;
  memoryBytes: number;
  /** Machine type, default `pc`. */
  machine?: string;
  kernelBoot?: { kernel: string; initrd?: string; cmdline?: string };
  disks: DomainDiskInput[];
  consoleLog: string;
  metadata: DomainMetadata;
  /** SMBIOS system serial (firmware.serial). */
  smbiosSerial?: string;
}

const DISK_PREFIX: Record<DiskBus, string> = { virtio: 'vd', sata: 'sd', scsi: 'sd' };

/** `0 → a`, `25 → z`, `26 → aa`: the kernel's disk naming. */
function diskLetters(index: number): string {
  let s = '';
  let n = index + 1;
  while (n > 0) {
    n--;
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  }
  return s;
}

/** Target device names per bus; sata and scsi share the `sd` namespace as they do in the guest. */
export function assignTargets(disks: readonly Pick<DomainDiskInput, 'bus'>[]): string[] {
  const next: Record<string, number> = {};
  return disks.map((d) => {
    const prefix = DISK_PREFIX[d.bus];
    if (!prefix) throw new UnsafeValueError('bus', `unsupported disk bus "${String(d.bus)}"`);
    const i = next[prefix] ?? 0;
    next[prefix] = i + 1;
    return prefix + diskLetters(i);
  });
}

/** Device alias: libvirt only accepts `ua-` followed by letters, digits, `_` and `-`. */
function alias(name: string): string {
  return `ua-${name.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.codePointAt(0)?.toString(16)}_`)}`;
}

function positiveInt(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new UnsafeValueError(field, `must be an integer 1-1024, got ${n}`);
  return n;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Builds libvirt domain XML. Every user-supplied value is escaped; names and paths are validated. */
export function buildDomainXml(input: DomainXmlInput): string {
  const e = xmlEscape;
  const name = checkDomainName(input.name);
  const sockets = positiveInt(input.sockets, 'cpu.sockets');
  const cores = positiveInt(input.cores, 'cpu.cores');
  const threads = positiveInt(input.threads, 'cpu.threads');
  if (!Number.isSafeInteger(input.memoryBytes) || input.memoryBytes < 16 * 1024 * 1024) {
    throw new UnsafeValueError('memory', `must be at least 16Mi, got ${input.memoryBytes} bytes`);
  }
  if (input.uuid !== undefined && !UUID_RE.test(input.uuid)) {
    throw new UnsafeValueError('firmware.uuid', `"${input.uuid.slice(0, 64)}" is not a UUID`);
  }
  if (input.hypervisor !== 'kvm' && input.hypervisor !== 'qemu') {
    throw new UnsafeValueError('hypervisor', 'must be kvm or qemu');
  }
  const L: string[] = [];
  L.push(`<domain type='${input.hypervisor}'>`);
  L.push(`  <name>${e(name, 'name')}</name>`);
  if (input.uuid) L.push(`  <uuid>${input.uuid.toLowerCase()}</uuid>`);
  L.push('  <metadata>');
  L.push(
    `    <virtkit:vmi xmlns:virtkit='${VIRTKIT_XMLNS}'>${e(JSON.stringify(input.metadata), 'metadata')}</virtkit:vmi>`,
  );
  L.push('  </metadata>');
  L.push(`  <memory unit='b'>${input.memoryBytes}</memory>`);
  L.push(`  <vcpu placement='static'>${sockets * cores * threads}</vcpu>`);
  if (input.smbiosSerial !== undefined) {
    L.push("  <sysinfo type='smbios'>");
    L.push(`    <system><entry name='serial'>${e(input.smbiosSerial, 'firmware.serial')}</entry></system>`);
    L.push('  </sysinfo>');
  }
  L.push('  <os>');
  L.push(`    <type arch='x86_64' machine='${e(input.machine ?? 'pc', 'machine.type')}'>hvm</type>`);
  if (input.kernelBoot) {
    L.push(`    <kernel>${e(checkAbsolutePath(input.kernelBoot.kernel, 'kernel'))}</kernel>`);
    if (input.kernelBoot.initrd)
      L.push(`    <initrd>${e(checkAbsolutePath(input.kernelBoot.initrd, 'initrd'))}</initrd>`);
    if (input.kernelBoot.cmdline) L.push(`    <cmdline>${e(input.kernelBoot.cmdline, 'kernelArgs')}</cmdline>`);
  } else if (!input.disks.some((d) => d.bootOrder !== undefined)) {
    L.push("    <boot dev='hd'/>");
  }
  if (input.smbiosSerial !== undefined) L.push("    <smbios mode='sysinfo'/>");
  L.push('  </os>');
  // ACPI carries the power button (graceful shutdown); the pvpanic device below reports guest panics.
  L.push('  <features><acpi/><apic/></features>');
  const model = input.cpuModel;
  if (model === 'host-passthrough' || model === 'host-model') {
    if (input.hypervisor !== 'kvm') throw new UnsafeValueError('cpu.model', `${model} needs KVM`);
    L.push(`  <cpu mode='${model}'>`);
  } else if (model) {
    L.push("  <cpu mode='custom' match='exact'>");
    L.push(`    <model fallback='forbid'>${e(model, 'cpu.model')}</model>`);
  } else {
    L.push('  <cpu>');
  }
  L.push(`    <topology sockets='${sockets}' dies='1' cores='${cores}' threads='${threads}'/>`);
  L.push('  </cpu>');
  L.push("  <clock offset='utc'/>");
  L.push('  <on_poweroff>destroy</on_poweroff>');
  L.push('  <on_reboot>restart</on_reboot>');
  // A panicked guest is stopped (Crashed/Panicked, then Stopped/Crashed) so the control plane can react.
  L.push('  <on_crash>destroy</on_crash>');
  L.push('  <devices>');
  const targets = assignTargets(input.disks);
  input.disks.forEach((d, i) => {
    const path = checkAbsolutePath(d.path, `disk ${d.name}`);
    if (d.format !== 'raw' && d.format !== 'qcow2') throw new UnsafeValueError(`disk ${d.name}`, 'bad format');
    if (d.device !== 'disk' && d.device !== 'cdrom') throw new UnsafeValueError(`disk ${d.name}`, 'bad device');
    const cache = d.cache ? ` cache='${e(d.cache)}'` : '';
    L.push(`    <disk type='file' device='${d.device}'>`);
    L.push(`      <driver name='qemu' type='${d.format}'${cache}/>`);
    L.push(`      <source file='${e(path)}'/>`);
    L.push(`      <target dev='${targets[i]}' bus='${d.bus}'/>`);
    if (d.readonly || d.device === 'cdrom') L.push('      <readonly/>');
    if (d.serial !== undefined) L.push(`      <serial>${e(d.serial, `disk ${d.name} serial`)}</serial>`);
    if (d.bootOrder !== undefined) L.push(`      <boot order='${positiveInt(d.bootOrder, 'bootOrder')}'/>`);
    L.push(`      <alias name='${e(alias(d.name))}'/>`);
    L.push('    </disk>');
  });
  if (input.disks.some((d) => d.bus === 'scsi')) L.push("    <controller type='scsi' index='0' model='virtio-scsi'/>");
  // The serial console goes to a file that QEMU appends to: the agent streams it by tailing, it survives
  // an agent restart (no pty to re-attach), and the full boot log stays available for diagnosis.
  L.push("    <serial type='file'>");
  L.push(`      <source path='${e(checkAbsolutePath(input.consoleLog, 'consoleLog'))}' append='on'/>`);
  L.push("      <target port='0'/>");
  L.push('    </serial>');
  L.push("    <panic model='isa'/>");
  L.push("    <memballoon model='none'/>");
  L.push('  </devices>');
  L.push('</domain>');
  return `${L.join('\n')}\n`;
}

/** Reads the agent's metadata back from domain XML; undefined for domains the agent did not define. */
export function readDomainMetadata(xml: string): DomainMetadata | undefined {
  const m = /<(?:[A-Za-z0-9_-]+:)?vmi\s[^>]*xmlns(?::[A-Za-z0-9_-]+)?=(['"])([^'"]*)\1[^>]*>([^<]*)</.exec(xml);
  if (!m || xmlUnescape(m[2] ?? '') !== VIRTKIT_XMLNS) return undefined;
  try {
    const parsed = JSON.parse(xmlUnescape(m[3] ?? '')) as DomainMetadata;
    return typeof parsed.uid === 'string' && typeof parsed.dir === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
