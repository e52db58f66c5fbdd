/**
 * The fields virtkit supports, as an explicit table. Validation walks an object against it: a supported
 * field of the wrong type is an error; a field that is not in the table — a KubeVirt field virtkit does
 * not implement yet, or a typo — is a warning naming its path, and stays in the stored object untouched.
 *
 * Extending support for a field means adding it here (and to the types in kubevirt.ts) in the same
 * commit as the code that honours it. Fields typed `unknown` in kubevirt.ts (probes, pod affinity,
 * instancetypes, dataVolumeTemplates) are deliberately absent: they are preserved but nothing acts on them.
 */
import type { FieldCause } from '../errors.ts';
import { RUN_STRATEGIES } from './kubevirt.ts';
import { checkQuantity, describeType } from './quantity.ts';

export type FieldSchema =
  | { readonly type: 'string'; readonly enum?: readonly string[] }
  | { readonly type: 'integer' }
  | { readonly type: 'boolean' }
  /** A Kubernetes quantity: a string like `128Mi` or a JSON number. */
  | { readonly type: 'quantity' }
  /** Fixed fields; any other key is reported as unsupported. */
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, FieldSchema>> }
  /** Arbitrary keys, each value of one schema (resource lists). */
  | { readonly type: 'map'; readonly values: FieldSchema }
  | { readonly type: 'array'; readonly items: FieldSchema }
  /** Accepted without inspection here; a rule in validation.ts checks it (labels, selectors, status). */
  | { readonly type: 'any' };

const str: FieldSchema = { type: 'string' };
const int: FieldSchema = { type: 'integer' };
const bool: FieldSchema = { type: 'boolean' };
const qty: FieldSchema = { type: 'quantity' };
const any: FieldSchema = { type: 'any' };
const oneOf = (...values: string[]): FieldSchema => ({ type: 'string', enum: values });
const obj = (fields: Record<string, FieldSchema>): FieldSchema => ({ type: 'object', fields });
const arr = (items: FieldSchema): FieldSchema => ({ type: 'array', items });
const map = (values: FieldSchema): FieldSchema => ({ type: 'map', values });
/** A marker object such as `masquerade: {}`: present or absent, no supported fields inside. */
const marker: FieldSchema = obj({});

export const DISK_BUSES = ['virtio', 'sata', 'scsi'] as const;
export const EVICTION_STRATEGIES = ['None', 'LiveMigrate', 'LiveMigrateIfPossible', 'External'] as const;
export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export const INTERFACE_MODELS = ['virtio', 'e1000', 'e1000e', 'igb', 'ne2k_pci', 'pcnet', 'rtl8139'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export const NODE_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const;
export const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

const bus = oneOf(...DISK_BUSES);
const pullPolicy = oneOf(...PULL_POLICIES);

/** metadata: labels, annotations, name and namespace are checked by rules (names.ts). */
export const OBJECT_META_SCHEMA: FieldSchema = obj({
  name: any,
  generateName: any,
  namespace: any,
  labels: any,
  annotations: any,
  uid: str,
  resourceVersion: str,
  generation: int,
  creationTimestamp: any,
  deletionTimestamp: any,
  deletionGracePeriodSeconds: int,
  finalizers: arr(str),
  ownerReferences: arr(
    obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool }),
  ),
  // Server-maintained bookkeeping kubectl may send back; kept, never interpreted.
  selfLink: any,
  managedFields: any,
});

const nodeSelectorRequirement = obj({ key: str, operator: oneOf(...NODE_SELECTOR_OPERATORS), values: arr(str) });
const nodeSelectorTerm = obj({
  matchExpressions: arr(nodeSelectorRequirement),
  matchFields: arr(nodeSelectorRequirement),
});

export const LABEL_SELECTOR_SCHEMA: FieldSchema = obj({
  matchLabels: any,
  matchExpressions: arr(obj({ key: str, operator: oneOf(...LABEL_SELECTOR_OPERATORS), values: arr(str) })),
});

const diskSchema = obj({
  name: str,
  disk: obj({ bus, readonly: bool }),
  cdrom: obj({ bus, readonly: bool, tray: oneOf('open', 'closed') }),
  lun: obj({ bus, readonly: bool }),
  bootOrder: int,
  serial: str,
  cache: oneOf('none', 'writethrough', 'writeback'),
});

const interfaceSchema = obj({
  name: str,
  masquerade: marker,
  bridge: marker,
  sriov: marker,
  model: oneOf(...INTERFACE_MODELS),
  macAddress: str,
  ports: arr(obj({ name: str, port: int, protocol: oneOf('TCP', 'UDP') })),
});

const volumeSchema = obj({
  name: str,
  containerDisk: obj({ image: str, path: str, imagePullPolicy: pullPolicy }),
  cloudInitNoCloud: obj({
    userData: str,
    userDataBase64: str,
    networkData: str,
    networkDataBase64: str,
    secretRef: obj({ name: str }),
    networkDataSecretRef: obj({ name: str }),
  }),
  emptyDisk: obj({ capacity: qty }),
  hostDisk: obj({ path: str, type: oneOf('Disk', 'DiskOrCreate'), capacity: qty, shared: bool }),
  persistentVolumeClaim: obj({ claimName: str, readOnly: bool, hotpluggable: bool }),
  dataVolume: obj({ name: str }),
});

const toggle = obj({ enabled: bool });

const domainSchema = obj({
  cpu: obj({ cores: int, sockets: int, threads: int, model: str }),
  memory: obj({ guest: qty }),
  resources: obj({ requests: map(qty), limits: map(qty), overcommitGuestOverhead: bool }),
  devices: obj({
    disks: arr(diskSchema),
    interfaces: arr(interfaceSchema),
    autoattachSerialConsole: bool,
    autoattachGraphicsDevice: bool,
    autoattachPodInterface: bool,
    rng: marker,
  }),
  firmware: obj({
    uuid: str,
    serial: str,
    bootloader: obj({ bios: obj({ useSerial: bool }), efi: obj({ secureBoot: bool }) }),
    kernelBoot: obj({
      kernelArgs: str,
      container: obj({ image: str, kernelPath: str, initrdPath: str, imagePullPolicy: pullPolicy }),
    }),
  }),
  machine: obj({ type: str }),
  features: obj({ acpi: toggle, apic: toggle, smm: toggle }),
  clock: obj({ utc: obj({ offsetSeconds: int }), timezone: str }),
});

export const VMI_SPEC_SCHEMA: FieldSchema = obj({
  domain: domainSchema,
  volumes: arr(volumeSchema),
  networks: arr(obj({ name: str, pod: marker, multus: obj({ networkName: str }) })),
  nodeSelector: any,
  affinity: obj({
    nodeAffinity: obj({
      requiredDuringSchedulingIgnoredDuringExecution: obj({ nodeSelectorTerms: arr(nodeSelectorTerm) }),
      preferredDuringSchedulingIgnoredDuringExecution: arr(obj({ weight: int, preference: nodeSelectorTerm })),
    }),
  }),
  tolerations: arr(
    obj({
      key: str,
      operator: oneOf('Exists', 'Equal'),
      value: str,
      effect: oneOf(...TAINT_EFFECTS, ''),
      tolerationSeconds: int,
    }),
  ),
  evictionStrategy: oneOf(...EVICTION_STRATEGIES),
  terminationGracePeriodSeconds: int,
  hostname: str,
  subdomain: str,
});

const templateSchema = obj({ metadata: OBJECT_META_SCHEMA, spec: VMI_SPEC_SCHEMA });

const kindSchema = (spec: FieldSchema): FieldSchema =>
  obj({ apiVersion: any, kind: any, metadata: OBJECT_META_SCHEMA, spec, status: any });

/** Supported fields of each kind, from the top of the object. `status` is written by controllers, not checked. */
export const KIND_SCHEMAS = {
  VirtualMachine: kindSchema(obj({ running: bool, runStrategy: oneOf(...RUN_STRATEGIES), template: templateSchema })),
  VirtualMachineInstance: kindSchema(VMI_SPEC_SCHEMA),
  VirtualMachineInstanceMigration: kindSchema(obj({ vmiName: str, addedNodeSelector: any })),
  VirtualMachineInstanceReplicaSet: kindSchema(
    obj({ replicas: int, selector: LABEL_SELECTOR_SCHEMA, template: templateSchema, paused: bool }),
  ),
  Node: kindSchema(
    obj({
      unschedulable: bool,
      taints: arr(obj({ key: str, value: str, effect: oneOf(...TAINT_EFFECTS), timeAdded: any })),
      providerID: str,
    }),
  ),
} as const satisfies Record<string, FieldSchema>;

export interface SchemaFindings {
  causes: FieldCause[];
  warnings: string[];
}

export const unsupportedWarning = (path: string): string =>
  `${path}: not supported by virtkit; kept in the stored object but has no effect`;

const quote = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/**
 * Where a value sits, built as a chain and turned into text (`spec.disks[0].name`) only when a finding
 * needs it: most fields are fine, and formatting every path dominated the walk.
 */
interface PathLink {
  readonly parent: PathLink | string;
  /** `.name` for an object field, `[i]` / `[key]` for an array element or map entry. */
  readonly step: string | number;
  readonly bracket: boolean;
}

function pathText(p: PathLink | string): string {
  if (typeof p === 'string') return p;
  const parent = pathText(p.parent);
  if (p.bracket) return `${parent}[${p.step}]`;
  return parent ? `${parent}.${p.step}` : String(p.step);
}

/**
 * Checks `value` against `schema` at `path`, appending type errors to `out.causes` and unsupported
 * fields to `out.warnings`. A `null` field counts as absent, as in Kubernetes.
 */
export function walkSchema(value: unknown, schema: FieldSchema, path: string, out: SchemaFindings): void {
  walk(value, schema, path, out);
}

function walk(value: unknown, schema: FieldSchema, path: PathLink | string, out: SchemaFindings): void {
  const invalid = (message: string): void => {
    out.causes.push({ field: pathText(path), reason: 'FieldValueInvalid', message });
  };
  const wrongType = (expected: string): void => {
    invalid(`must be of type ${expected}, got ${describeType(value)} ${quote(value)}`);
  };
  switch (schema.type) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') {
        wrongType('string');
        return;
      }
      if (schema.enum && !schema.enum.includes(value))
        out.causes.push({
          field: pathText(path),
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: ${quote(value)}: supported values: ${schema.enum.map((e) => quote(e)).join(', ')}`,
        });
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) wrongType('integer');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') wrongType('boolean');
      return;
    case 'quantity': {
      const r = checkQuantity(value);
      if (!r.ok) invalid(`invalid quantity ${quote(value)}: ${r.reason}`);
      return;
    }
    case 'array':
      if (!Array.isArray(value)) {
        wrongType('array');
        return;
      }
      for (let i = 0; i < value.length; i++)
        walk(value[i], schema.items, { parent: path, step: i, bracket: true }, out);
      return;
    case 'map':
      if (!isRecord(value)) {
        wrongType('object');
        return;
      }
      for (const k in value)
        if (Object.hasOwn(value, k)) walk(value[k], schema.values, { parent: path, step: k, bracket: true }, out);
      return;
    case 'object':
      if (!isRecord(value)) {
        wrongType('object');
        return;
      }
      for (const k in value) {
        if (!Object.hasOwn(value, k)) continue;
        const v = value[k];
        if (v === null || v === undefined) continue;
        const child: PathLink = { parent: path, step: k, bracket: false };
        const fieldSchema = Object.hasOwn(schema.fields, k) ? schema.fields[k] : undefined;
        if (fieldSchema === undefined) out.warnings.push(unsupportedWarning(pathText(child)));
        else walk(v, fieldSchema, child, out);
      }
      return;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
