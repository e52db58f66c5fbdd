/**
 * Semantic rules of a VirtualMachineInstance spec (KubeVirt's admission rules that virtkit needs),
 * shared by VMIs, VM templates and replica set templates. Types were checked by the schema walk;
 * every rule here skips values of the wrong type instead of reporting them twice.
 */
import { type Findings, list, present, quantityOf, quote, rec, text } from './findings.ts';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue, validateLabels } from './names.ts';
import type { Quantity } from './quantity.ts';
import { formatQuantity } from './quantity.ts';
import { unsupportedWarning } from './schema.ts';

/** Every volume source KubeVirt knows; a volume has exactly one, supported by virtkit or not. */
export const KUBEVIRT_VOLUME_SOURCES = [
  'containerDisk',
  'ephemeral',
  'cloudInitNoCloud',
  'cloudInitConfigDrive',
  'persistentVolumeClaim',
  'dataVolume',
  'emptyDisk',
  'hostDisk',
  'configMap',
  'secret',
  'serviceAccount',
  'sysprep',
  'downwardAPI',
  'downwardMetrics',
  'memoryDump',
] as const;

/** Every interface binding KubeVirt knows. */
const INTERFACE_BINDINGS = ['bridge', 'masquerade', 'sriov', 'slirp', 'passt', 'macvtap', 'binding'] as const;
const NETWORK_SOURCES = ['pod', 'multus'] as const;
const DISK_TARGETS = ['disk', 'cdrom', 'lun'] as const;

/** KubeVirt's minimum for guest memory and memory requests. */
const MIN_MEMORY_NANOS = 1_000_000n * 1_000_000_000n;
const MAX_STRING = 256;
/** Serial numbers reach the domain XML and the guest; KubeVirt's character set. */
const SERIAL_RE = /^[A-Za-z0-9_.+-]+$/;
/** A container image reference: registry/path[:tag][@digest]. No spaces, quotes or shell metacharacters. */
const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;
const MAC_RE = /^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/;
const UUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const TOKEN_RE = /^[A-Za-z0-9._-]+$/;
const PORT_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;
const TIMEZONE_RE = /^[A-Za-z0-9_+\-/]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Kubernetes' standard resource names virtkit schedules on; others (GPUs, hugepages) are kept but ignored. */
const SCHEDULED_RESOURCES = new Set(['cpu', 'memory']);

const countPresent = (o: Record<string, unknown>, keys: readonly string[]): string[] =>
  keys.filter((k) => present(o[k]));

/** Standard base64 as Go decodes it (padding required; CR and LF ignored). */
export function isBase64(s: string): boolean {
  return BASE64_RE.test(s.replace(/[\r\n]/g, ''));
}

/** Absolute, normalised, no control characters: safe to hand to a node as a path. */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path === '/') return 'must not point to root';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters';
  const parts = path.replace(/\/$/, '').split('/').slice(1);
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    return 'must be an absolute path to a file without relative components';
  return undefined;
}

function checkPath(f: Findings, field: string, value: unknown): void {
  const s = text(value);
  if (s === undefined) return;
  const p = pathProblem(s);
  if (p) f.invalid(field, `${quote(s)} ${p}`);
}

function checkImage(f: Findings, field: string, value: unknown): void {
  const s = text(value);
  if (s === undefined) return;
  if (s === '') f.required(field, 'image is required');
  else if (s.length > 4096 || !IMAGE_RE.test(s))
    f.invalid(field, `${quote(s)} is not a container image reference (registry/name[:tag][@digest])`);
}

function checkToken(f: Findings, field: string, value: unknown, re: RegExp, what: string): void {
  const s = text(value);
  if (s === undefined || s === '') return;
  if (s.length > MAX_STRING || !re.test(s)) f.invalid(field, `${quote(s)} is not a valid ${what}`);
}

function checkLabelName(f: Findings, field: string, value: unknown, what: string): string | undefined {
  if (!present(value) || value === '') {
    f.required(field, `${what} name is required`);
    return undefined;
  }
  const s = text(value);
  if (s === undefined) return undefined;
  for (const e of isDNS1123Label(s)) f.invalid(field, `${quote(s)}: ${e}`);
  return s;
}

function checkObjectRefName(f: Findings, field: string, value: unknown, what: string): void {
  if (!present(value) || value === '') {
    f.required(field, `${what} is required`);
    return;
  }
  const s = text(value);
  if (s === undefined) return;
  for (const e of isDNS1123Subdomain(s)) f.invalid(field, `${quote(s)}: ${e}`);
}

/** Validates the semantic rules of a VMI spec found at `p` (e.g. `spec` or `spec.template.spec`). */
export function validateVMISpecRules(spec: unknown, p: string, f: Findings): void {
  if (!present(spec)) {
    f.required(p, `${p} is required`);
    return;
  }
  const s = rec(spec);
  if (!s) return;
  if (!present(s.domain)) f.required(`${p}.domain`, `${p}.domain is required`);
  const domain = rec(s.domain) ?? {};
  validateCPU(domain, `${p}.domain`, f);
  validateMemoryAndResources(domain, `${p}.domain`, f);
  validateFirmware(domain, `${p}.domain`, f);
  validateStorage(s, p, f);
  validateNetworking(s, p, f);
  validateScheduling(s, p, f);

  const grace = s.terminationGracePeriodSeconds;
  if (typeof grace === 'number' && grace < 0)
    f.invalid(`${p}.terminationGracePeriodSeconds`, `${grace}: must be greater than or equal to 0`);
  const hostname = text(s.hostname);
  if (hostname)
    for (const e of isDNS1123Label(hostname))
      f.invalid(`${p}.hostname`, `${quote(hostname)} does not conform to the kubernetes DNS_LABEL rules: ${e}`);
  const subdomain = text(s.subdomain);
  if (subdomain)
    for (const e of isDNS1123Subdomain(subdomain))
      f.invalid(`${p}.subdomain`, `${quote(subdomain)} does not conform to the kubernetes DNS_SUBDOMAIN rules: ${e}`);
}

function validateCPU(domain: Record<string, unknown>, dp: string, f: Findings): void {
  const cpu = rec(domain.cpu);
  if (!cpu) return;
  for (const k of ['cores', 'sockets', 'threads'] as const) {
    const v = cpu[k];
    if (typeof v === 'number' && Number.isInteger(v) && v < 1)
      f.invalid(`${dp}.cpu.${k}`, `${v}: must be greater than or equal to 1`);
  }
  checkToken(f, `${dp}.cpu.model`, cpu.model, TOKEN_RE, 'CPU model');
  checkToken(f, `${dp}.clock.timezone`, rec(domain.clock)?.timezone, TIMEZONE_RE, 'timezone');
  const machine = rec(domain.machine);
  const type = text(machine?.type);
  if (type) checkToken(f, `${dp}.machine.type`, type, TOKEN_RE, 'machine type');
}

function validateMemoryAndResources(domain: Record<string, unknown>, dp: string, f: Findings): void {
  const memory = rec(domain.memory);
  const resources = rec(domain.resources);
  const requests = rec(resources?.requests);
  const limits = rec(resources?.limits);
  const guestField = `${dp}.memory.guest`;
  const reqField = `${dp}.resources.requests`;
  const limField = `${dp}.resources.limits`;

  if (!present(memory?.guest) && !present(requests?.memory) && !present(limits?.memory)) {
    f.required(guestField, `no memory requested, at least one of '${guestField}' or '${reqField}.memory' must be set`);
  }

  // Every resource quantity is non-negative; names are qualified names; only cpu and memory are scheduled.
  for (const [field, map] of [
    [reqField, requests],
    [limField, limits],
  ] as const) {
    for (const [name, value] of Object.entries(map ?? {})) {
      const entry = `${field}[${name}]`;
      for (const e of isQualifiedName(name)) f.invalid(field, `invalid resource name ${quote(name)}: ${e}`);
      if (!SCHEDULED_RESOURCES.has(name)) f.warnings.push(unsupportedWarning(entry));
      const q = quantityOf(value);
      if (q && q.nanos < 0n) f.invalid(entry, `'${q.text}': must be greater than or equal to 0`);
    }
  }

  const guest = quantityOf(memory?.guest);
  const reqMem = quantityOf(requests?.memory);
  const limMem = quantityOf(limits?.memory);
  const minimum = (q: Quantity | undefined, field: string) => {
    if (q && q.nanos < MIN_MEMORY_NANOS) f.invalid(field, `'${q.text}': must be greater than or equal to 1M`);
  };
  minimum(guest, guestField);
  minimum(reqMem, `${reqField}.memory`);
  minimum(limMem, `${limField}.memory`);
  if (reqMem && limMem && reqMem.nanos > limMem.nanos)
    f.invalid(`${reqField}.memory`, `'${reqMem.text}' is greater than ${limField}.memory '${limMem.text}'`);
  if (guest && limMem && guest.nanos > limMem.nanos)
    f.invalid(
      guestField,
      `'${guest.text}' must be equal to or less than the memory limit ${limField}.memory '${limMem.text}'`,
    );
  const reqCpu = quantityOf(requests?.cpu);
  const limCpu = quantityOf(limits?.cpu);
  if (reqCpu && limCpu && reqCpu.nanos > limCpu.nanos)
    f.invalid(
      `${reqField}.cpu`,
      `'${formatQuantity(reqCpu)}' is greater than ${limField}.cpu '${formatQuantity(limCpu)}'`,
    );
}

function validateFirmware(domain: Record<string, unknown>, dp: string, f: Findings): void {
  const fw = rec(domain.firmware);
  if (!fw) return;
  const fp = `${dp}.firmware`;
  const uuid = text(fw.uuid);
  if (uuid !== undefined && !UUID_RE.test(uuid)) f.invalid(`${fp}.uuid`, `${quote(uuid)} is not a UUID`);
  checkToken(f, `${fp}.serial`, fw.serial, SERIAL_RE, 'serial ([A-Za-z0-9_.+-], at most 256 characters)');
  const boot = rec(fw.bootloader);
  if (boot && present(boot.bios) && present(boot.efi))
    f.invalid(`${fp}.bootloader`, `${fp}.bootloader has both EFI and BIOS configured, but they are mutually exclusive`);
  const kb = rec(fw.kernelBoot);
  if (!kb) return;
  const kp = `${fp}.kernelBoot`;
  const container = rec(kb.container);
  if (!container) {
    if (present(kb.kernelArgs))
      f.invalid(`${kp}.kernelArgs`, `kernel arguments can only be given with ${kp}.container`);
    return;
  }
  if (!present(container.image)) f.required(`${kp}.container.image`, 'image is required');
  checkImage(f, `${kp}.container.image`, container.image);
  if (!present(container.kernelPath) && !present(container.initrdPath))
    f.required(`${kp}.container`, `${kp}.container must set at least one of kernelPath and initrdPath`);
  checkPath(f, `${kp}.container.kernelPath`, container.kernelPath);
  checkPath(f, `${kp}.container.initrdPath`, container.initrdPath);
}

function validateStorage(s: Record<string, unknown>, p: string, f: Findings): void {
  const devices = rec(rec(s.domain)?.devices);
  const disks = list(devices?.disks);
  const volumes = list(s.volumes);
  const volumeByName = new Map<string, Record<string, unknown>>();

  volumes.forEach((raw, i) => {
    const v = rec(raw);
    if (!v) return;
    const vp = `${p}.volumes[${i}]`;
    const name = checkLabelName(f, `${vp}.name`, v.name, 'volume');
    if (name !== undefined) {
      if (volumeByName.has(name)) f.duplicate(`${vp}.name`, `${quote(name)}: volume names must be unique`);
      else volumeByName.set(name, v);
    }
    const sources = countPresent(v, KUBEVIRT_VOLUME_SOURCES);
    if (sources.length === 0)
      f.required(vp, `${vp} must have exactly one source type set (e.g. containerDisk, persistentVolumeClaim)`);
    else if (sources.length > 1)
      f.invalid(vp, `${vp} must have exactly one source type set, found ${sources.join(', ')}`);
    validateVolumeSource(v, vp, f);
  });

  const diskNames = new Set<string>();
  const bootOrders = new Map<number, string>();
  disks.forEach((raw, i) => {
    const d = rec(raw);
    if (!d) return;
    const dp = `${p}.domain.devices.disks[${i}]`;
    const name = checkLabelName(f, `${dp}.name`, d.name, 'disk');
    if (name !== undefined) {
      if (diskNames.has(name)) f.duplicate(`${dp}.name`, `${quote(name)}: disk names must be unique`);
      diskNames.add(name);
      const volume = volumeByName.get(name);
      if (!volume) f.invalid(`${dp}.name`, `${dp}.name '${name}' not found: no volume of that name in ${p}.volumes`);
      else if (present(d.lun) && !present(volume.persistentVolumeClaim) && !present(volume.dataVolume))
        f.invalid(`${dp}.lun`, `${dp}.lun can only be mapped to a DataVolume or PersistentVolumeClaim volume`);
    }
    const targets = countPresent(d, DISK_TARGETS);
    if (targets.length > 1)
      f.invalid(dp, `${dp} can only have a single target type defined, found ${targets.join(', ')}`);
    if (text(rec(d.cdrom)?.bus) === 'virtio')
      f.invalid(`${dp}.cdrom.bus`, 'bus type virtio is invalid for a CD-ROM device');
    const order = d.bootOrder;
    if (typeof order === 'number' && Number.isInteger(order)) {
      if (order < 1) f.invalid(`${dp}.bootOrder`, `${order}: must be greater than 0, if supplied`);
      else if (bootOrders.has(order))
        f.invalid(`${dp}.bootOrder`, `boot order ${order} is already set for ${bootOrders.get(order)}`);
      else bootOrders.set(order, `${dp}`);
    }
    checkToken(f, `${dp}.serial`, d.serial, SERIAL_RE, 'serial ([A-Za-z0-9_.+-], at most 256 characters)');
  });

  volumes.forEach((raw, i) => {
    const name = text(rec(raw)?.name);
    if (name && !diskNames.has(name))
      f.invalid(
        `${p}.volumes[${i}].name`,
        `${p}.volumes[${i}].name '${name}' not found: no disk of that name in ${p}.domain.devices.disks`,
      );
  });
}

function validateVolumeSource(v: Record<string, unknown>, vp: string, f: Findings): void {
  const cd = rec(v.containerDisk);
  if (cd) {
    if (!present(cd.image)) f.required(`${vp}.containerDisk.image`, 'image is required');
    checkImage(f, `${vp}.containerDisk.image`, cd.image);
    checkPath(f, `${vp}.containerDisk.path`, cd.path);
  }

  const ci = rec(v.cloudInitNoCloud);
  if (ci) {
    const cp = `${vp}.cloudInitNoCloud`;
    const user = countPresent(ci, ['userData', 'userDataBase64', 'secretRef']);
    if (user.length === 0) f.required(cp, `${cp} must have one of userData, userDataBase64 or secretRef`);
    else if (user.length > 1) f.invalid(cp, `${cp} must have only one user data source, found ${user.join(', ')}`);
    const net = countPresent(ci, ['networkData', 'networkDataBase64', 'networkDataSecretRef']);
    if (net.length > 1) f.invalid(cp, `${cp} must have only one network data source, found ${net.join(', ')}`);
    for (const k of ['userDataBase64', 'networkDataBase64'] as const) {
      const b = text(ci[k]);
      if (b !== undefined && !isBase64(b)) f.invalid(`${cp}.${k}`, `${cp}.${k} is not valid base64`);
    }
    for (const k of ['secretRef', 'networkDataSecretRef'] as const) {
      const ref = rec(ci[k]);
      if (ref) checkObjectRefName(f, `${cp}.${k}.name`, ref.name, 'secret name');
    }
  }

  const ed = rec(v.emptyDisk);
  if (ed) {
    const field = `${vp}.emptyDisk.capacity`;
    if (!present(ed.capacity)) f.required(field, 'capacity is required');
    const q = quantityOf(ed.capacity);
    if (q && q.nanos <= 0n) f.invalid(field, `'${q.text}': must be greater than 0`);
  }

  const hd = rec(v.hostDisk);
  if (hd) {
    const hp = `${vp}.hostDisk`;
    if (!present(hd.path) || hd.path === '') f.required(`${hp}.path`, 'path is required');
    else checkPath(f, `${hp}.path`, hd.path);
    if (!present(hd.type)) f.required(`${hp}.type`, 'type is required: Disk or DiskOrCreate');
    const q = quantityOf(hd.capacity);
    if (hd.type === 'DiskOrCreate' && !present(hd.capacity))
      f.required(`${hp}.capacity`, `capacity is required when ${hp}.type is DiskOrCreate`);
    if (hd.type === 'Disk' && present(hd.capacity))
      f.forbidden(`${hp}.capacity`, `capacity may only be set when ${hp}.type is DiskOrCreate`);
    if (q && q.nanos <= 0n) f.invalid(`${hp}.capacity`, `'${q.text}': must be greater than 0`);
  }

  const pvc = rec(v.persistentVolumeClaim);
  if (pvc) checkObjectRefName(f, `${vp}.persistentVolumeClaim.claimName`, pvc.claimName, 'claimName');
  const dv = rec(v.dataVolume);
  if (dv) checkObjectRefName(f, `${vp}.dataVolume.name`, dv.name, 'name');
}

function validateNetworking(s: Record<string, unknown>, p: string, f: Findings): void {
  const interfaces = list(rec(rec(s.domain)?.devices)?.interfaces);
  const networks = list(s.networks);
  const networkByName = new Map<string, Record<string, unknown>>();
  let podNetworks = 0;

  networks.forEach((raw, i) => {
    const n = rec(raw);
    if (!n) return;
    const np = `${p}.networks[${i}]`;
    const name = checkLabelName(f, `${np}.name`, n.name, 'network');
    if (name !== undefined) {
      if (networkByName.has(name)) f.duplicate(`${np}.name`, `${quote(name)}: network names must be unique`);
      else networkByName.set(name, n);
    }
    const sources = countPresent(n, NETWORK_SOURCES);
    if (sources.length === 0) f.required(np, `${np} must have exactly one source: pod or multus`);
    else if (sources.length > 1) f.invalid(np, `${np} must have exactly one source, found ${sources.join(', ')}`);
    if (present(n.pod)) podNetworks++;
    const multus = rec(n.multus);
    if (multus && (!present(multus.networkName) || multus.networkName === ''))
      f.required(`${np}.multus.networkName`, 'networkName is required');
  });
  if (podNetworks > 1) f.invalid(`${p}.networks`, 'more than one interface is connected to a pod network');

  const interfaceNames = new Set<string>();
  interfaces.forEach((raw, i) => {
    const itf = rec(raw);
    if (!itf) return;
    const ip = `${p}.domain.devices.interfaces[${i}]`;
    const name = checkLabelName(f, `${ip}.name`, itf.name, 'interface');
    const network = name === undefined ? undefined : networkByName.get(name);
    if (name !== undefined) {
      if (interfaceNames.has(name)) f.duplicate(`${ip}.name`, `${quote(name)}: interface names must be unique`);
      interfaceNames.add(name);
      if (!network) f.invalid(`${ip}.name`, `${ip}.name '${name}' not found: no network of that name in ${p}.networks`);
    }
    const bindings = countPresent(itf, INTERFACE_BINDINGS);
    if (bindings.length > 1) f.invalid(ip, `${ip} must have at most one binding method, found ${bindings.join(', ')}`);
    if (present(itf.masquerade) && network && present(network.multus) && !present(network.pod))
      f.invalid(`${ip}.masquerade`, 'masquerade binding is only supported on the pod network');
    const mac = text(itf.macAddress);
    if (mac !== undefined && !MAC_RE.test(mac))
      f.invalid(`${ip}.macAddress`, `${quote(mac)} is not a valid MAC address`);
    list(itf.ports).forEach((rawPort, j) => {
      const portName = text(rec(rawPort)?.name);
      if (
        portName !== undefined &&
        !(PORT_NAME_RE.test(portName) && /[a-z]/.test(portName) && !portName.includes('--'))
      )
        f.invalid(
          `${ip}.ports[${j}].name`,
          `${quote(portName)} must be an IANA service name: at most 15 lowercase letters, digits and single '-', with a letter`,
        );
      const port = rec(rawPort)?.port;
      const pp = `${ip}.ports[${j}].port`;
      if (!present(port)) f.required(pp, 'port is required');
      else if (typeof port === 'number' && Number.isInteger(port) && (port < 1 || port > 65535))
        f.invalid(pp, `${port}: must be between 1 and 65535, inclusive`);
    });
  });

  networks.forEach((raw, i) => {
    const name = text(rec(raw)?.name);
    if (name && !interfaceNames.has(name))
      f.invalid(
        `${p}.networks[${i}].name`,
        `${p}.networks[${i}].name '${name}' not found: no interface of that name in ${p}.domain.devices.interfaces`,
      );
  });
}

function validateScheduling(s: Record<string, unknown>, p: string, f: Findings): void {
  f.addAll(validateLabels(s.nodeSelector, `${p}.nodeSelector`));

  list(s.tolerations).forEach((raw, i) => {
    const t = rec(raw);
    if (!t) return;
    const tp = `${p}.tolerations[${i}]`;
    const key = text(t.key) ?? '';
    const operator = text(t.operator) ?? 'Equal';
    if (key !== '') {
      for (const e of isQualifiedName(key)) f.invalid(`${tp}.key`, `${quote(key)}: ${e}`);
    } else if (operator !== 'Exists') {
      f.invalid(
        `${tp}.operator`,
        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
      );
    }
    const value = text(t.value) ?? '';
    if (operator === 'Exists' && value !== '')
      f.invalid(`${tp}.operator`, "value must be empty when `operator` is 'Exists'");
    if (operator === 'Equal')
      for (const e of isValidLabelValue(value)) f.invalid(`${tp}.value`, `${quote(value)}: ${e}`);
    if (present(t.tolerationSeconds) && t.effect !== 'NoExecute')
      f.invalid(`${tp}.effect`, "effect must be 'NoExecute' when `tolerationSeconds` is set");
  });

  const nodeAffinity = rec(rec(s.affinity)?.nodeAffinity);
  if (!nodeAffinity) return;
  const ap = `${p}.affinity.nodeAffinity`;
  const required = rec(nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution);
  if (required) {
    const rp = `${ap}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`;
    const terms = list(required.nodeSelectorTerms);
    if (terms.length === 0) f.required(rp, 'must have at least one node selector term');
    terms.forEach((t, i) => {
      validateNodeSelectorTerm(t, `${rp}[${i}]`, f);
    });
  }
  list(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).forEach((raw, i) => {
    const pref = rec(raw);
    if (!pref) return;
    const pp = `${ap}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
    const w = pref.weight;
    if (!present(w)) f.required(`${pp}.weight`, 'weight is required');
    else if (typeof w === 'number' && (w < 1 || w > 100)) f.invalid(`${pp}.weight`, `${w}: must be in the range 1-100`);
    if (!present(pref.preference)) f.required(`${pp}.preference`, 'preference is required');
    else validateNodeSelectorTerm(pref.preference, `${pp}.preference`, f);
  });
}

function validateNodeSelectorTerm(raw: unknown, tp: string, f: Findings): void {
  const term = rec(raw);
  if (!term) return;
  list(term.matchExpressions).forEach((r, i) => {
    validateNodeSelectorRequirement(r, `${tp}.matchExpressions[${i}]`, false, f);
  });
  list(term.matchFields).forEach((r, i) => {
    validateNodeSelectorRequirement(r, `${tp}.matchFields[${i}]`, true, f);
  });
}

function validateNodeSelectorRequirement(raw: unknown, rp: string, field: boolean, f: Findings): void {
  const r = rec(raw);
  if (!r) return;
  const key = text(r.key);
  const op = text(r.operator);
  const values = list(r.values);
  if (!present(r.key) || key === '') f.required(`${rp}.key`, 'key is required');
  else if (key !== undefined && field && key !== 'metadata.name')
    f.notSupported(`${rp}.key`, `Unsupported value: ${quote(key)}: supported values: "metadata.name"`);
  for (const e of key && !field ? isQualifiedName(key) : []) f.invalid(`${rp}.key`, `${quote(key)}: ${e}`);
  if (!present(r.operator)) f.required(`${rp}.operator`, 'operator is required');
  if (op === undefined) return;
  if (field && op !== 'In' && op !== 'NotIn')
    f.notSupported(`${rp}.operator`, `Unsupported value: ${quote(op)}: supported values: "In", "NotIn"`);
  if (field && values.length !== 1) f.required(`${rp}.values`, 'must have exactly one value for a field selector');
  else if ((op === 'In' || op === 'NotIn') && values.length === 0)
    f.required(`${rp}.values`, `must be specified when operator is ${op}`);
  else if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
    f.forbidden(`${rp}.values`, `may not be specified when operator is ${op}`);
  else if (op === 'Gt' || op === 'Lt') {
    if (values.length !== 1) f.required(`${rp}.values`, `must be specified single value when operator is ${op}`);
    else if (typeof values[0] === 'string' && !/^-?\d+$/.test(values[0]))
      f.invalid(`${rp}.values[0]`, `${quote(values[0])}: must be an integer for operator ${op}`);
  }
}
