import {
  InvalidSpecError,
  validateObject,
  validateOrThrow,
  validateVirtualMachineInstance,
  validateVirtualMachineInstanceSpec,
} from '@virtkit/engine';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { causeAt, type Json, type JsonObject, set, summary, vmi, vmiSpec } from './fixtures.ts';

/** Validates a fresh VMI after applying `edits` (path → value; undefined deletes). */
function check(edits: Record<string, Json | undefined>) {
  const obj = vmi();
  for (const [path, value] of Object.entries(edits)) set(obj, path, value);
  return validateVirtualMachineInstance(obj);
}

describe('a valid VirtualMachineInstance', () => {
  it('has no causes and no warnings', () => {
    expect(validateVirtualMachineInstance(vmi())).toEqual({ causes: [], warnings: [] });
  });

  it('is not modified by validation', () => {
    const obj = set(vmi(), 'spec.domain.chassis', { asset: 1 });
    const before = JSON.stringify(obj);
    validateVirtualMachineInstance(obj);
    expect(JSON.stringify(obj)).toBe(before);
  });

  it('may use the older kubevirt.io/v1alpha3 apiVersion', () => {
    expect(check({ apiVersion: 'kubevirt.io/v1alpha3' }).causes).toEqual([]);
  });
});

describe('type and object metadata', () => {
  it('requires apiVersion and kind, and checks them', () => {
    expect(summary(check({ apiVersion: undefined, kind: undefined }))).toEqual([
      'apiVersion FieldValueRequired',
      'kind FieldValueRequired',
    ]);
    const r = check({ apiVersion: 'kubevirt.io/v2', kind: 'VirtualMachine' });
    expect(summary(r)).toEqual(['apiVersion FieldValueNotSupported', 'kind FieldValueInvalid']);
    expect(causeAt(r, 'apiVersion')?.message).toBe(
      'Unsupported value: "kubevirt.io/v2": supported values: "kubevirt.io/v1", "kubevirt.io/v1alpha3"',
    );
  });

  it('requires a DNS-1123 subdomain name, or a generateName prefix', () => {
    expect(summary(check({ 'metadata.name': undefined }))).toEqual(['metadata.name FieldValueRequired']);
    expect(check({ 'metadata.name': undefined, 'metadata.generateName': 'vm-' }).causes).toEqual([]);
    expect(summary(check({ 'metadata.name': undefined, 'metadata.generateName': 'Vm-' }))).toEqual([
      'metadata.generateName FieldValueInvalid',
    ]);
    const r = check({ 'metadata.name': 'My_VM' });
    expect(causeAt(r, 'metadata.name')?.message).toMatch(
      /^"My_VM": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'/,
    );
    expect(causeAt(check({ 'metadata.name': 'a'.repeat(254) }), 'metadata.name')?.message).toMatch(
      /must be no more than 253 characters/,
    );
    expect(summary(check({ 'metadata.name': 42 }))).toEqual(['metadata.name FieldValueInvalid']);
  });

  it('checks namespace, labels and annotations', () => {
    const r = check({
      'metadata.namespace': 'My.NS',
      'metadata.labels': { 'bad key!': 'v', ok: 'bad value!' },
      'metadata.annotations': { big: 'x'.repeat(300 * 1024) },
    });
    expect(summary(r)).toEqual([
      'metadata.namespace FieldValueInvalid',
      'metadata.labels FieldValueInvalid',
      'metadata.labels[ok] FieldValueInvalid',
      'metadata.annotations FieldValueTooLong',
    ]);
  });

  it('rejects something that is not an object', () => {
    expect(summary(validateVirtualMachineInstance([1, 2]))).toEqual([' FieldValueInvalid']);
    expect(validateVirtualMachineInstance('vm').causes[0]?.message).toBe(
      'a VirtualMachineInstance must be a JSON object, got "vm"',
    );
  });

  it('requires a spec and a domain', () => {
    expect(summary(check({ spec: undefined }))).toEqual(['spec FieldValueRequired']);
    expect(summary(check({ 'spec.domain': undefined }))).toContain('spec.domain FieldValueRequired');
  });
});

describe('CPU and memory', () => {
  it('requires some memory: guest, a request or a limit', () => {
    const r = check({ 'spec.domain.memory': undefined, 'spec.domain.resources': undefined });
    expect(summary(r)).toEqual(['spec.domain.memory.guest FieldValueRequired']);
    expect(r.causes[0]?.message).toBe(
      "no memory requested, at least one of 'spec.domain.memory.guest' or 'spec.domain.resources.requests.memory' must be set",
    );
    expect(check({ 'spec.domain.memory': undefined }).causes).toEqual([]);
    expect(check({ 'spec.domain.memory': undefined, 'spec.domain.resources.requests': undefined }).causes).toEqual([]);
  });

  it('treats null as absent', () => {
    expect(summary(check({ 'spec.domain.memory.guest': null, 'spec.domain.resources': null }))).toEqual([
      'spec.domain.memory.guest FieldValueRequired',
    ]);
    expect(check({ 'spec.domain.cpu': null }).causes).toEqual([]);
  });

  it('requires valid, positive memory quantities of at least 1M, reported once', () => {
    expect(summary(check({ 'spec.domain.memory.guest': '128 MB' }))).toEqual([
      'spec.domain.memory.guest FieldValueInvalid',
    ]);
    expect(causeAt(check({ 'spec.domain.memory.guest': '128MB' }), 'spec.domain.memory.guest')?.message).toBe(
      'invalid quantity "128MB": quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'',
    );
    expect(causeAt(check({ 'spec.domain.memory.guest': '512k' }), 'spec.domain.memory.guest')?.message).toBe(
      "'512k': must be greater than or equal to 1M",
    );
    expect(summary(check({ 'spec.domain.memory.guest': '0' }))).toEqual(['spec.domain.memory.guest FieldValueInvalid']);
    expect(summary(check({ 'spec.domain.resources.requests.memory': '-1Gi' }))).toEqual([
      'spec.domain.resources.requests[memory] FieldValueInvalid',
      'spec.domain.resources.requests.memory FieldValueInvalid',
    ]);
    expect(check({ 'spec.domain.memory.guest': 134217728 }).causes).toEqual([]);
  });

  it('keeps requests within limits and guest memory within the limit', () => {
    expect(summary(check({ 'spec.domain.resources.requests.memory': '1Gi' }))).toEqual([
      'spec.domain.resources.requests.memory FieldValueInvalid',
    ]);
    expect(causeAt(check({ 'spec.domain.memory.guest': '1Gi' }), 'spec.domain.memory.guest')?.message).toBe(
      "'1Gi' must be equal to or less than the memory limit spec.domain.resources.limits.memory '256Mi'",
    );
    expect(
      causeAt(check({ 'spec.domain.resources.requests.cpu': '3' }), 'spec.domain.resources.requests.cpu')?.message,
    ).toBe("'3' is greater than spec.domain.resources.limits.cpu '2'");
    expect(summary(check({ 'spec.domain.resources.limits.cpu': '-1' }))).toEqual([
      'spec.domain.resources.limits[cpu] FieldValueInvalid',
      'spec.domain.resources.requests.cpu FieldValueInvalid',
    ]);
  });

  it('warns about resources virtkit does not schedule and rejects malformed resource names', () => {
    const obj = vmi();
    const limits = ((obj.spec as JsonObject).domain as JsonObject).resources as JsonObject;
    (limits.limits as JsonObject)['nvidia.com/gpu'] = '1';
    (limits.requests as JsonObject)['bad name'] = '1';
    const res = validateVirtualMachineInstance(obj);
    expect(res.warnings).toEqual([
      'spec.domain.resources.requests[bad name]: not supported by virtkit; kept in the stored object but has no effect',
      'spec.domain.resources.limits[nvidia.com/gpu]: not supported by virtkit; kept in the stored object but has no effect',
    ]);
    expect(summary(res)).toEqual(['spec.domain.resources.requests FieldValueInvalid']);
  });

  it('requires positive integer cores, sockets and threads', () => {
    const r = check({ 'spec.domain.cpu.cores': 0, 'spec.domain.cpu.sockets': -1, 'spec.domain.cpu.threads': 1.5 });
    expect(summary(r)).toEqual([
      'spec.domain.cpu.threads FieldValueInvalid',
      'spec.domain.cpu.cores FieldValueInvalid',
      'spec.domain.cpu.sockets FieldValueInvalid',
    ]);
    expect(causeAt(r, 'spec.domain.cpu.threads')?.message).toBe('must be of type integer, got number 1.5');
    expect(causeAt(r, 'spec.domain.cpu.cores')?.message).toBe('0: must be greater than or equal to 1');
    expect(causeAt(check({ 'spec.domain.cpu.cores': '2' }), 'spec.domain.cpu.cores')?.message).toBe(
      'must be of type integer, got string "2"',
    );
  });

  it('checks the CPU model and machine type characters', () => {
    expect(
      check({ 'spec.domain.cpu.model': 'host-passthrough', 'spec.domain.machine.type': 'pc-q35-8.2' }).causes,
    ).toEqual([]);
    expect(
      summary(check({ 'spec.domain.cpu.model': 'host passthrough', 'spec.domain.machine.type': 'q35"/>' })),
    ).toEqual(['spec.domain.cpu.model FieldValueInvalid', 'spec.domain.machine.type FieldValueInvalid']);
    expect(check({ 'spec.domain.machine.type': '' }).causes).toEqual([]);
  });
});

describe('disks and volumes', () => {
  const disks = 'spec.domain.devices.disks';

  it('needs a volume for every disk and a disk for every volume', () => {
    const r = check({ [`${disks}.1.name`]: 'other' });
    expect(summary(r)).toEqual([`${disks}[1].name FieldValueInvalid`, 'spec.volumes[1].name FieldValueInvalid']);
    expect(causeAt(r, `${disks}[1].name`)?.message).toBe(
      "spec.domain.devices.disks[1].name 'other' not found: no volume of that name in spec.volumes",
    );
  });

  it('needs unique, DNS-1123 label disk and volume names', () => {
    const r = check({ [`${disks}.1.name`]: 'root', 'spec.volumes.1.name': 'root' });
    expect(summary(r)).toEqual(['spec.volumes[1].name FieldValueDuplicate', `${disks}[1].name FieldValueDuplicate`]);
    const bad = check({ [`${disks}.0.name`]: 'Root_Disk', 'spec.volumes.0.name': 'Root_Disk' });
    expect(summary(bad)).toEqual(['spec.volumes[0].name FieldValueInvalid', `${disks}[0].name FieldValueInvalid`]);
    expect(causeAt(bad, `${disks}[0].name`)?.message).toMatch(/^"Root_Disk": a lowercase RFC 1123 label/);
    expect(summary(check({ [`${disks}.0.name`]: undefined }))).toEqual([
      `${disks}[0].name FieldValueRequired`,
      'spec.volumes[0].name FieldValueInvalid',
    ]);
  });

  it('allows at most one of disk, cdrom and lun', () => {
    const r = check({ [`${disks}.0.cdrom`]: {} });
    expect(summary(r)).toEqual([`${disks}[0] FieldValueInvalid`]);
    expect(r.causes[0]?.message).toBe(
      'spec.domain.devices.disks[0] can only have a single target type defined, found disk, cdrom',
    );
  });

  it('supports the virtio, sata and scsi buses only', () => {
    const r = check({ [`${disks}.0.disk.bus`]: 'ide' });
    expect(summary(r)).toEqual([`${disks}[0].disk.bus FieldValueNotSupported`]);
    expect(r.causes[0]?.message).toBe('Unsupported value: "ide": supported values: "virtio", "sata", "scsi"');
    expect(summary(check({ [`${disks}.1`]: { name: 'cloudinit', cdrom: { bus: 'virtio' } } }))).toEqual([
      `${disks}[1].cdrom.bus FieldValueInvalid`,
    ]);
    expect(check({ [`${disks}.1`]: { name: 'cloudinit', cdrom: { bus: 'sata', readonly: true } } }).causes).toEqual([]);
  });

  it('maps a lun only to a claim or data volume', () => {
    expect(summary(check({ [`${disks}.0`]: { name: 'root', lun: {} } }))).toEqual([
      `${disks}[0].lun FieldValueInvalid`,
    ]);
    expect(
      check({
        [`${disks}.0`]: { name: 'root', lun: { bus: 'scsi' } },
        'spec.volumes.0': { name: 'root', persistentVolumeClaim: { claimName: 'data' } },
      }).causes,
    ).toEqual([]);
  });

  it('checks boot orders and serials', () => {
    expect(summary(check({ [`${disks}.0.bootOrder`]: 0 }))).toEqual([`${disks}[0].bootOrder FieldValueInvalid`]);
    expect(summary(check({ [`${disks}.1.bootOrder`]: 1 }))).toEqual([`${disks}[1].bootOrder FieldValueInvalid`]);
    expect(summary(check({ [`${disks}.0.serial`]: 'abc def' }))).toEqual([`${disks}[0].serial FieldValueInvalid`]);
    expect(check({ [`${disks}.0.serial`]: 'SN-001_a.b+c' }).causes).toEqual([]);
  });

  it('requires exactly one source per volume, counting sources virtkit does not support', () => {
    expect(summary(check({ 'spec.volumes.0': { name: 'root' } }))).toEqual(['spec.volumes[0] FieldValueRequired']);
    const two = check({ 'spec.volumes.0.emptyDisk': { capacity: '1Gi' } });
    expect(summary(two)).toEqual(['spec.volumes[0] FieldValueInvalid']);
    expect(two.causes[0]?.message).toBe(
      'spec.volumes[0] must have exactly one source type set, found containerDisk, emptyDisk',
    );
    const configMap = check({ 'spec.volumes.0': { name: 'root', configMap: { name: 'cm' } } });
    expect(configMap.causes).toEqual([]);
    expect(configMap.warnings).toEqual([
      'spec.volumes[0].configMap: not supported by virtkit; kept in the stored object but has no effect',
    ]);
  });

  it('requires a container disk image that is a plain image reference', () => {
    expect(summary(check({ 'spec.volumes.0.containerDisk.image': undefined }))).toEqual([
      'spec.volumes[0].containerDisk.image FieldValueRequired',
    ]);
    expect(summary(check({ 'spec.volumes.0.containerDisk.image': '' }))).toEqual([
      'spec.volumes[0].containerDisk.image FieldValueRequired',
    ]);
    for (const image of ['img; rm -rf /', '-oProxyCommand=x', 'a b', 'img$(x)', 'img\n']) {
      expect(summary(check({ 'spec.volumes.0.containerDisk.image': image }))).toEqual([
        'spec.volumes[0].containerDisk.image FieldValueInvalid',
      ]);
    }
    for (const image of ['registry:5000/kubevirt/fedora:devel', 'quay.io/x/y@sha256:0123abcd', 'cirros']) {
      expect(check({ 'spec.volumes.0.containerDisk.image': image }).causes).toEqual([]);
    }
    expect(summary(check({ 'spec.volumes.0.containerDisk.path': 'disk/../../etc' }))).toEqual([
      'spec.volumes[0].containerDisk.path FieldValueInvalid',
    ]);
  });

  it('requires cloud-init user data, one source of it, and valid base64', () => {
    const ci = 'spec.volumes.1.cloudInitNoCloud';
    expect(summary(check({ [ci]: { networkData: 'version: 2' } }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud FieldValueRequired',
    ]);
    expect(summary(check({ [`${ci}.userDataBase64`]: 'I2Nsb3VkLWNvbmZpZwo=' }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud FieldValueInvalid',
    ]);
    expect(summary(check({ [ci]: { userDataBase64: 'not base64!' } }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud.userDataBase64 FieldValueInvalid',
    ]);
    expect(check({ [ci]: { userDataBase64: 'I2Nsb3Vk\nLWNvbmZpZwo=' } }).causes).toEqual([]);
    expect(summary(check({ [ci]: { userData: 'x', networkDataBase64: 'abc' } }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud.networkDataBase64 FieldValueInvalid',
    ]);
    expect(summary(check({ [ci]: { secretRef: {} } }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud.secretRef.name FieldValueRequired',
    ]);
    expect(check({ [ci]: { secretRef: { name: 'my-userdata' } } }).causes).toEqual([]);
    expect(summary(check({ [ci]: { userData: 'x', networkData: 'a', networkDataBase64: 'YQ==' } }))).toEqual([
      'spec.volumes[1].cloudInitNoCloud FieldValueInvalid',
    ]);
  });

  it('requires a positive emptyDisk capacity', () => {
    const v = 'spec.volumes.0';
    expect(summary(check({ [v]: { name: 'root', emptyDisk: {} } }))).toEqual([
      'spec.volumes[0].emptyDisk.capacity FieldValueRequired',
    ]);
    expect(summary(check({ [v]: { name: 'root', emptyDisk: { capacity: '2Gb' } } }))).toEqual([
      'spec.volumes[0].emptyDisk.capacity FieldValueInvalid',
    ]);
    expect(summary(check({ [v]: { name: 'root', emptyDisk: { capacity: '0' } } }))).toEqual([
      'spec.volumes[0].emptyDisk.capacity FieldValueInvalid',
    ]);
    expect(check({ [v]: { name: 'root', emptyDisk: { capacity: '2Gi' } } }).causes).toEqual([]);
  });

  it('checks host disks: absolute clean path, type, capacity only for DiskOrCreate', () => {
    const host = (hostDisk: Json) => check({ 'spec.volumes.0': { name: 'root', hostDisk } });
    expect(host({ path: '/var/data/disk.img', type: 'DiskOrCreate', capacity: '1Gi' }).causes).toEqual([]);
    expect(host({ path: '/var/data/disk.img', type: 'Disk' }).causes).toEqual([]);
    expect(summary(host({ path: 'disk.img', type: 'Disk' }))).toEqual([
      'spec.volumes[0].hostDisk.path FieldValueInvalid',
    ]);
    expect(summary(host({ path: '/var/../etc/shadow', type: 'Disk' }))).toEqual([
      'spec.volumes[0].hostDisk.path FieldValueInvalid',
    ]);
    expect(summary(host({ path: '/', type: 'Disk' }))).toEqual(['spec.volumes[0].hostDisk.path FieldValueInvalid']);
    expect(summary(host({ path: '/a\u0000b', type: 'Disk' }))).toEqual([
      'spec.volumes[0].hostDisk.path FieldValueInvalid',
    ]);
    expect(summary(host({ type: 'Disk' }))).toEqual(['spec.volumes[0].hostDisk.path FieldValueRequired']);
    expect(summary(host({ path: '/d.img' }))).toEqual(['spec.volumes[0].hostDisk.type FieldValueRequired']);
    expect(summary(host({ path: '/d.img', type: 'File' }))).toEqual([
      'spec.volumes[0].hostDisk.type FieldValueNotSupported',
    ]);
    expect(summary(host({ path: '/d.img', type: 'DiskOrCreate' }))).toEqual([
      'spec.volumes[0].hostDisk.capacity FieldValueRequired',
    ]);
    expect(summary(host({ path: '/d.img', type: 'Disk', capacity: '1Gi' }))).toEqual([
      'spec.volumes[0].hostDisk.capacity FieldValueForbidden',
    ]);
  });

  it('accepts persistent volume claims and data volumes by name', () => {
    expect(
      check({ 'spec.volumes.0': { name: 'root', persistentVolumeClaim: { claimName: 'disk-alpine' } } }).causes,
    ).toEqual([]);
    expect(summary(check({ 'spec.volumes.0': { name: 'root', persistentVolumeClaim: {} } }))).toEqual([
      'spec.volumes[0].persistentVolumeClaim.claimName FieldValueRequired',
    ]);
    expect(
      summary(check({ 'spec.volumes.0': { name: 'root', persistentVolumeClaim: { claimName: 'Bad_Claim' } } })),
    ).toEqual(['spec.volumes[0].persistentVolumeClaim.claimName FieldValueInvalid']);
    expect(check({ 'spec.volumes.0': { name: 'root', dataVolume: { name: 'dv' } } }).causes).toEqual([]);
  });
});

describe('interfaces and networks', () => {
  const itf = 'spec.domain.devices.interfaces';

  it('match by name both ways', () => {
    const r = check({ [`${itf}.0.name`]: 'eth0' });
    expect(summary(r)).toEqual([`${itf}[0].name FieldValueInvalid`, 'spec.networks[0].name FieldValueInvalid']);
  });

  it('have unique names, one binding, and one source per network', () => {
    expect(summary(check({ [`${itf}.1`]: { name: 'default', bridge: {} } }))).toEqual([
      `${itf}[1].name FieldValueDuplicate`,
    ]);
    expect(summary(check({ [`${itf}.0.bridge`]: {} }))).toEqual([`${itf}[0] FieldValueInvalid`]);
    expect(summary(check({ 'spec.networks.0.multus': { networkName: 'ns/net' } }))).toEqual([
      'spec.networks[0] FieldValueInvalid',
    ]);
    expect(summary(check({ 'spec.networks.0': { name: 'default' } }))).toEqual(['spec.networks[0] FieldValueRequired']);
    expect(summary(check({ 'spec.networks.0': { name: 'default', multus: {} } }))).toEqual([
      'spec.networks[0].multus.networkName FieldValueRequired',
      `${itf}[0].masquerade FieldValueInvalid`,
    ]);
    expect(
      summary(check({ [`${itf}.1`]: { name: 'second', bridge: {} }, 'spec.networks.1': { name: 'second', pod: {} } })),
    ).toEqual(['spec.networks FieldValueInvalid']);
  });

  it('checks MAC addresses, ports and models', () => {
    expect(check({ [`${itf}.0.macAddress`]: '02:00:00:aa:bb:cc' }).causes).toEqual([]);
    expect(summary(check({ [`${itf}.0.macAddress`]: '02:00:00:aa:bb' }))).toEqual([
      `${itf}[0].macAddress FieldValueInvalid`,
    ]);
    expect(
      summary(check({ [`${itf}.0.ports`]: [{ port: 70000 }, { name: 'x' }, { port: 22, protocol: 'SCTP' }] })),
    ).toEqual([
      `${itf}[0].ports[2].protocol FieldValueNotSupported`,
      `${itf}[0].ports[0].port FieldValueInvalid`,
      `${itf}[0].ports[1].port FieldValueRequired`,
    ]);
    expect(summary(check({ [`${itf}.0.model`]: 'ne2000' }))).toEqual([`${itf}[0].model FieldValueNotSupported`]);
    expect(
      check({
        [`${itf}.0.ports`]: [
          { name: 'http', port: 80 },
          { name: 'h2-alt', port: 8080 },
        ],
      }).causes,
    ).toEqual([]);
    expect(
      summary(
        check({
          [`${itf}.0.ports`]: [
            { name: 'HTTP', port: 80 },
            { name: '1234', port: 81 },
            { name: 'a--b', port: 82 },
          ],
        }),
      ),
    ).toEqual([
      `${itf}[0].ports[0].name FieldValueInvalid`,
      `${itf}[0].ports[1].name FieldValueInvalid`,
      `${itf}[0].ports[2].name FieldValueInvalid`,
    ]);
  });

  it('may be absent altogether', () => {
    expect(check({ [itf]: undefined, 'spec.networks': undefined }).causes).toEqual([]);
  });
});

describe('scheduling constraints', () => {
  it('checks node selector keys and values', () => {
    expect(check({ 'spec.nodeSelector': { 'kubernetes.io/arch': 'amd64' } }).causes).toEqual([]);
    expect(summary(check({ 'spec.nodeSelector': { 'a b': 'x', zone: 'bad value' } }))).toEqual([
      'spec.nodeSelector FieldValueInvalid',
      'spec.nodeSelector[zone] FieldValueInvalid',
    ]);
  });

  it('checks tolerations like Kubernetes', () => {
    const t = (tol: Json) => check({ 'spec.tolerations': [tol] });
    expect(t({ key: 'dedicated', operator: 'Equal', value: 'vms', effect: 'NoSchedule' }).causes).toEqual([]);
    expect(t({ operator: 'Exists' }).causes).toEqual([]);
    expect(summary(t({ key: 'k', operator: 'Exists', value: 'v' }))).toEqual([
      'spec.tolerations[0].operator FieldValueInvalid',
    ]);
    expect(summary(t({ value: 'v' }))).toEqual(['spec.tolerations[0].operator FieldValueInvalid']);
    expect(summary(t({ key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 }))).toEqual([
      'spec.tolerations[0].effect FieldValueInvalid',
    ]);
    expect(summary(t({ key: 'k', effect: 'Sometimes' }))).toEqual([
      'spec.tolerations[0].effect FieldValueNotSupported',
    ]);
    expect(summary(t({ key: 'k', operator: 'Equal', value: '-x-' }))).toEqual([
      'spec.tolerations[0].value FieldValueInvalid',
    ]);
    expect(summary(t('dedicated'))).toEqual(['spec.tolerations[0] FieldValueInvalid']);
  });

  it('checks node affinity terms and requirements', () => {
    const req = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution';
    const terms = (nodeSelectorTerms: Json) => check({ [req]: { nodeSelectorTerms } });
    expect(terms([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }]).causes).toEqual([]);
    expect(summary(terms([]))).toEqual([`${req}.nodeSelectorTerms FieldValueRequired`]);
    const bad = terms([
      {
        matchExpressions: [
          { key: 'zone', operator: 'In' },
          { key: 'gpu', operator: 'Exists', values: ['x'] },
          { key: 'cores', operator: 'Gt', values: ['four'] },
          { key: 'x', operator: 'Near', values: ['y'] },
        ],
        matchFields: [{ key: 'metadata.labels', operator: 'Exists' }],
      },
    ]);
    const t0 = `${req}.nodeSelectorTerms[0]`;
    expect(summary(bad)).toEqual([
      `${t0}.matchExpressions[3].operator FieldValueNotSupported`,
      `${t0}.matchExpressions[0].values FieldValueRequired`,
      `${t0}.matchExpressions[1].values FieldValueForbidden`,
      `${t0}.matchExpressions[2].values[0] FieldValueInvalid`,
      `${t0}.matchFields[0].key FieldValueNotSupported`,
      `${t0}.matchFields[0].operator FieldValueNotSupported`,
      `${t0}.matchFields[0].values FieldValueRequired`,
    ]);
    const pref = 'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution';
    expect(summary(check({ [pref]: [{ weight: 0, preference: {} }, { weight: 50 }] }))).toEqual([
      `${pref}[0].weight FieldValueInvalid`,
      `${pref}[1].preference FieldValueRequired`,
    ]);
  });

  it('warns about pod affinity, which virtkit does not schedule on', () => {
    const r = check({ 'spec.affinity.podAntiAffinity': { requiredDuringSchedulingIgnoredDuringExecution: [] } });
    expect(r.causes).toEqual([]);
    expect(r.warnings).toEqual([
      'spec.affinity.podAntiAffinity: not supported by virtkit; kept in the stored object but has no effect',
    ]);
  });

  it('checks eviction strategy, grace period, hostname and subdomain', () => {
    expect(check({ 'spec.evictionStrategy': 'LiveMigrate' }).causes).toEqual([]);
    expect(summary(check({ 'spec.evictionStrategy': 'Sometimes' }))).toEqual([
      'spec.evictionStrategy FieldValueNotSupported',
    ]);
    expect(summary(check({ 'spec.terminationGracePeriodSeconds': -1 }))).toEqual([
      'spec.terminationGracePeriodSeconds FieldValueInvalid',
    ]);
    expect(check({ 'spec.terminationGracePeriodSeconds': 0 }).causes).toEqual([]);
    expect(summary(check({ 'spec.hostname': 'my.host', 'spec.subdomain': 'Sub' }))).toEqual([
      'spec.hostname FieldValueInvalid',
      'spec.subdomain FieldValueInvalid',
    ]);
  });
});

describe('firmware', () => {
  const fw = 'spec.domain.firmware';
  it('checks uuid, serial and bootloader', () => {
    expect(check({ [fw]: { uuid: '5d307ca9-b3ef-428c-8861-06e72d69f223', serial: 'abc-1' } }).causes).toEqual([]);
    expect(summary(check({ [fw]: { uuid: 'not-a-uuid', serial: '<x/>' } }))).toEqual([
      `${fw}.uuid FieldValueInvalid`,
      `${fw}.serial FieldValueInvalid`,
    ]);
    expect(summary(check({ [`${fw}.bootloader`]: { bios: {}, efi: { secureBoot: false } } }))).toEqual([
      `${fw}.bootloader FieldValueInvalid`,
    ]);
  });

  it('checks a kernel boot container', () => {
    const kb = `${fw}.kernelBoot`;
    expect(
      check({
        [kb]: { kernelArgs: 'console=ttyS0', container: { image: 'registry/kernel:1', kernelPath: '/boot/vmlinuz' } },
      }).causes,
    ).toEqual([]);
    expect(summary(check({ [kb]: { container: {} } }))).toEqual([
      `${kb}.container.image FieldValueRequired`,
      `${kb}.container FieldValueRequired`,
    ]);
    expect(summary(check({ [kb]: { kernelArgs: 'x' } }))).toEqual([`${kb}.kernelArgs FieldValueInvalid`]);
    expect(summary(check({ [kb]: { container: { image: 'k', initrdPath: 'boot/initrd' } } }))).toEqual([
      `${kb}.container.initrdPath FieldValueInvalid`,
    ]);
  });
});

describe('unsupported fields', () => {
  it('are warnings naming their path, anywhere in the object, and stay in it', () => {
    const obj = vmi();
    set(obj, 'spec.domain.chassis', { asset: '1' });
    set(obj, 'spec.domain.devices.disks.0.io', 'native');
    set(obj, 'spec.domain.memory.hugepages', { pageSize: '2Mi' });
    set(obj, 'spec.domain.devices.interfaces.0.pciAddress', '0000:81:01.0');
    set(obj, 'spec.startStrategy', 'Paused');
    set(obj, 'spec.livenessProbe', { guestAgentPing: {} });
    set(obj, 'metadata.somethingNew', 'x');
    set(obj, 'extra', 1);
    const r = validateVirtualMachineInstance(obj);
    expect(r.causes).toEqual([]);
    expect(r.warnings.map((w) => w.slice(0, w.indexOf(':')))).toEqual([
      'metadata.somethingNew',
      'spec.domain.memory.hugepages',
      'spec.domain.devices.disks[0].io',
      'spec.domain.devices.interfaces[0].pciAddress',
      'spec.domain.chassis',
      'spec.startStrategy',
      'spec.livenessProbe',
      'extra',
    ]);
    expect(((obj.spec as JsonObject).domain as JsonObject).chassis).toEqual({ asset: '1' });
  });

  it('ignore status, which controllers write', () => {
    expect(check({ status: { phase: 'Running', anything: { at: 'all' } } })).toEqual({ causes: [], warnings: [] });
  });
});

describe('several problems at once', () => {
  it('are all reported, and validateOrThrow throws them all as InvalidSpecError', () => {
    const obj = vmi();
    set(obj, 'metadata.name', 'Bad Name');
    set(obj, 'spec.domain.cpu.cores', 0);
    set(obj, 'spec.domain.memory.guest', 'lots');
    set(obj, 'spec.domain.devices.disks.0.disk.bus', 'ide');
    set(obj, 'spec.volumes.1.cloudInitNoCloud', {});
    set(obj, 'spec.terminationGracePeriodSeconds', -5);
    set(obj, 'spec.domain.chassis', {});
    const r = validateObject(obj);
    expect(summary(r).sort()).toEqual(
      [
        'metadata.name FieldValueInvalid',
        'spec.domain.cpu.cores FieldValueInvalid',
        'spec.domain.memory.guest FieldValueInvalid',
        'spec.domain.devices.disks[0].disk.bus FieldValueNotSupported',
        'spec.volumes[1].cloudInitNoCloud FieldValueRequired',
        'spec.terminationGracePeriodSeconds FieldValueInvalid',
      ].sort(),
    );
    try {
      validateOrThrow(obj);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidSpecError);
      const err = e as InvalidSpecError;
      expect(err.code).toBe('Invalid');
      expect(err.httpStatus).toBe(422);
      expect(err.causes).toEqual(r.causes);
      expect(err.message).toMatch(/^VirtualMachineInstance "Bad Name" is invalid: /);
      expect(err.message).toContain('spec.domain.devices.disks[0].disk.bus: Unsupported value: "ide"');
    }
  });

  it('validateOrThrow returns the warnings of a valid object', () => {
    expect(validateOrThrow(set(vmi(), 'spec.domain.chassis', {}))).toEqual({
      warnings: ['spec.domain.chassis: not supported by virtkit; kept in the stored object but has no effect'],
    });
  });
});

describe('validateVirtualMachineInstanceSpec', () => {
  it('validates a bare spec under a given path', () => {
    expect(validateVirtualMachineInstanceSpec(vmiSpec())).toEqual({ causes: [], warnings: [] });
    const spec = vmiSpec();
    set(spec, 'domain.memory', undefined);
    set(spec, 'domain.resources', undefined);
    expect(summary(validateVirtualMachineInstanceSpec(spec, 'spec.template.spec'))).toEqual([
      'spec.template.spec.domain.memory.guest FieldValueRequired',
    ]);
  });
});

describe('robustness', () => {
  it('never throws and never mutates, whatever JSON replaces any part of a valid VMI (property, fixed seed)', () => {
    const paths: string[] = [];
    const walk = (v: Json, p: string) => {
      paths.push(p);
      if (Array.isArray(v)) {
        for (const [i, x] of v.entries()) walk(x, `${p}.${i}`);
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
      }
    };
    walk(vmi(), '');
    const targets = paths.filter((p) => p !== '');
    fc.assert(
      fc.property(fc.constantFrom(...targets), fc.jsonValue(), (path, value) => {
        const obj = set(vmi(), path, value as Json);
        const before = JSON.stringify(obj);
        const r = validateObject(obj);
        expect(JSON.stringify(obj)).toBe(before);
        for (const c of r.causes) {
          expect(typeof c.field).toBe('string');
          expect(c.message.length).toBeGreaterThan(0);
        }
      }),
      { seed: 424242, numRuns: 1500 },
    );
  });
});
