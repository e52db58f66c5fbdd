/**
 * OpenAPI v3 documents, one per served group version, built from the engine's table of supported fields
 * (KIND_SCHEMAS), which is what `kubectl explain` reads. Paths carry only each resource's list GET, which is
 * how explain maps a resource to its kind: kubectl's probe for server-side field validation looks at PATCH
 * operations, finds none, and keeps skipping client-side validation (v2 has no schemas), so what kubectl
 * sends stays as before and the server validates and warns.
 */
import { createHash } from 'node:crypto';
import { type FieldSchema, KIND_SCHEMAS } from '@virtkit/engine';
import { VERSION_INFO } from './discovery.ts';
import { API_GROUPS, type ServedResource } from './resources.ts';

type Schema = Record<string, unknown>;

const OBJECT_META_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const QUANTITY_REF = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** Short descriptions of the fields users look up most, by dotted path below the kind. */
const DESCRIPTIONS: Record<string, string> = {
  apiVersion: 'The versioned schema of this representation of an object.',
  kind: 'The REST resource this object represents, in CamelCase.',
  metadata: "Standard object's metadata.",
  status: 'The most recently observed state, written by the controllers. Read-only.',
  spec: 'The desired state.',
  'spec.running':
    'Deprecated: use runStrategy. true means Always, false means Halted. Mutually exclusive with runStrategy.',
  'spec.runStrategy':
    'When the VirtualMachineInstance should run: Always, Halted, Manual, RerunOnFailure or Once. Mutually exclusive with running.',
  'spec.template': 'The VirtualMachineInstance created from this object.',
  'spec.replicas': 'How many VirtualMachineInstances should run. Defaults to 1.',
  'spec.selector': 'Label query over the VirtualMachineInstances this replica set owns.',
  'spec.paused': 'Stops the replica set from creating or deleting VirtualMachineInstances.',
  'spec.vmiName': 'The VirtualMachineInstance to migrate; it must be in the migration object’s namespace.',
  'spec.addedNodeSelector': 'Node labels the migration target must have, on top of the VMI’s own.',
  'spec.domain': 'The virtual hardware: CPU, memory, devices, firmware, machine type.',
  'spec.domain.cpu': 'vCPU topology and model.',
  'spec.domain.memory': 'Guest memory.',
  'spec.domain.memory.guest': 'Memory the guest sees; defaults to the memory request.',
  'spec.domain.resources': 'Resource requests and limits of the VM (memory, cpu).',
  'spec.domain.devices': 'Disks, network interfaces and other devices of the guest.',
  'spec.domain.devices.disks': 'Disks of the guest, each backed by the volume with the same name.',
  'spec.domain.devices.interfaces': 'Network interfaces of the guest, each attached to the network with the same name.',
  'spec.domain.firmware': 'Firmware settings: UUID, serial, bootloader, kernel boot.',
  'spec.domain.machine': 'The emulated machine type (q35 by default).',
  'spec.volumes': 'Volumes the disks refer to: containerDisk, cloudInitNoCloud, emptyDisk, hostDisk, PVCs...',
  'spec.networks': 'Networks the interfaces refer to: the pod network or a Multus network.',
  'spec.nodeSelector': 'Labels a node must have for the VM to be scheduled there.',
  'spec.affinity': 'Node affinity rules for scheduling.',
  'spec.tolerations': 'Taints of nodes this VM tolerates.',
  'spec.evictionStrategy': 'What a node drain does to this VM: LiveMigrate, LiveMigrateIfPossible, None or External.',
  'spec.terminationGracePeriodSeconds': 'Seconds the guest gets to shut down before it is stopped forcibly.',
  'spec.hostname': 'Hostname of the guest; defaults to the VMI name.',
  'spec.unschedulable': 'Cordons the node: no new VMs are scheduled there.',
  'spec.taints': 'Taints of the node; VMs must tolerate them to run there.',
};

const KIND_DESCRIPTIONS: Record<string, string> = {
  VirtualMachine:
    'VirtualMachine handles the lifecycle of a VirtualMachineInstance: it starts, stops and restarts it according to its run strategy, and keeps its definition while it is stopped.',
  VirtualMachineInstance: 'VirtualMachineInstance is a running virtual machine: one boot of a guest on one node.',
  VirtualMachineInstanceMigration:
    'VirtualMachineInstanceMigration live-migrates a VirtualMachineInstance to another node.',
  VirtualMachineInstanceReplicaSet:
    'VirtualMachineInstanceReplicaSet keeps a number of identical VirtualMachineInstances running.',
  Node: 'Node is a host that runs virtual machines.',
  Event: 'Event is a report of something that happened to an object.',
  Lease: 'Lease is a lock held by one holder for a while.',
  Namespace: 'Namespace groups objects; here namespaces exist implicitly.',
};

/** A VM's or replica set's template spec is a VMI spec: both share the VMI's descriptions. */
const descriptionKey = (path: string): string =>
  path.startsWith('spec.template.spec.') ? `spec.${path.slice('spec.template.spec.'.length)}` : path;

const described = (s: Schema, path: string): Schema => {
  const d = DESCRIPTIONS[descriptionKey(path)];
  return d === undefined ? s : { description: d, ...s };
};

function toOpenApi(f: FieldSchema, path: string): Schema {
  switch (f.type) {
    case 'string':
      return described(f.enum ? { type: 'string', enum: [...f.enum] } : { type: 'string' }, path);
    case 'integer':
      return described({ type: 'integer', format: 'int64' }, path);
    case 'boolean':
      return described({ type: 'boolean' }, path);
    case 'quantity':
      return described({ allOf: [{ $ref: `#/components/schemas/${QUANTITY_REF}` }] }, path);
    case 'array':
      return described({ type: 'array', items: toOpenApi(f.items, path) }, path);
    case 'map':
      return described({ type: 'object', additionalProperties: toOpenApi(f.values, path) }, path);
    case 'any':
      return described({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, path);
    case 'object': {
      const properties: Record<string, Schema> = {};
      for (const [k, v] of Object.entries(f.fields)) properties[k] = toOpenApi(v, path ? `${path}.${k}` : k);
      return described({ type: 'object', properties }, path);
    }
  }
}

const QUANTITY: Schema = {
  description: 'A fixed-point number with an optional suffix: 128Mi, 1Gi, 500m, 2.',
  type: 'string',
};

const OBJECT_META: Schema = {
  description: 'Metadata every persisted resource has.',
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Unique within a namespace.' },
    generateName: { type: 'string', description: 'A prefix the server completes into a unique name.' },
    namespace: { type: 'string', description: 'The namespace of a namespaced object.' },
    labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Labels, for selection.' },
    annotations: { type: 'object', additionalProperties: { type: 'string' }, description: 'Free-form metadata.' },
    uid: { type: 'string', description: 'Unique in time and space; set by the server.' },
    resourceVersion: { type: 'string', description: 'Opaque version for optimistic concurrency and watches.' },
    generation: { type: 'integer', format: 'int64', description: 'Incremented on every change of the spec.' },
    creationTimestamp: { type: 'string', format: 'date-time', description: 'When the object was created.' },
    deletionTimestamp: { type: 'string', format: 'date-time', description: 'When deletion was requested.' },
    finalizers: { type: 'array', items: { type: 'string' }, description: 'What must finish before deletion.' },
    ownerReferences: {
      type: 'array',
      description: 'Objects this one depends on; deleting them garbage-collects it.',
      items: {
        type: 'object',
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          name: { type: 'string' },
          uid: { type: 'string' },
          controller: { type: 'boolean' },
          blockOwnerDeletion: { type: 'boolean' },
        },
      },
    },
  },
};

function kindSchema(r: ServedResource): Schema {
  const table = (KIND_SCHEMAS as Record<string, FieldSchema>)[r.kind];
  const base =
    table?.type === 'object'
      ? toOpenApi(table, '')
      : { type: 'object', properties: {}, 'x-kubernetes-preserve-unknown-fields': true };
  const properties = { ...(base.properties as Record<string, Schema>) };
  properties.apiVersion = { type: 'string', description: DESCRIPTIONS.apiVersion };
  properties.kind = { type: 'string', description: DESCRIPTIONS.kind };
  properties.metadata = {
    description: DESCRIPTIONS.metadata,
    allOf: [{ $ref: `#/components/schemas/${OBJECT_META_REF}` }],
  };
  return {
    ...base,
    description: KIND_DESCRIPTIONS[r.kind] ?? r.kind,
    properties,
    'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.kind }],
  };
}

/**
 * The list operation of a resource: `kubectl explain` finds a resource's kind through the
 * x-kubernetes-group-version-kind of its path's operation. Only a GET is listed (see the file comment).
 */
function listPath(r: ServedResource): Schema {
  return {
    get: {
      description: `list or watch objects of kind ${r.kind}`,
      operationId: `list${r.kind}`,
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': 'list',
      'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
    },
  };
}

/** `io.kubevirt.v1.VirtualMachine`, `io.k8s.api.core.v1.Node`: names in the style of the apiserver's. */
function schemaName(r: ServedResource): string {
  if (r.group === '') return `io.k8s.api.core.${r.version}.${r.kind}`;
  return `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;
}

interface Published {
  /** `api/v1` or `apis/{group}/{version}`. */
  path: string;
  body: string;
  hash: string;
}

function build(): Map<string, Published> {
  const out = new Map<string, Published>();
  for (const g of API_GROUPS) {
    for (const v of g.versions) {
      const path = g.name === '' ? `api/${v.version}` : `apis/${g.name}/${v.version}`;
      const schemas: Record<string, Schema> = { [OBJECT_META_REF]: OBJECT_META, [QUANTITY_REF]: QUANTITY };
      const paths: Record<string, Schema> = {};
      for (const r of v.resources) {
        schemas[schemaName(r)] = kindSchema(r);
        paths[`/${path}/${r.plural}`] = listPath(r);
      }
      const body = JSON.stringify({
        openapi: '3.0.0',
        info: { title: 'virtkit', version: VERSION_INFO.gitVersion },
        paths,
        components: { schemas },
      });
      const hash = createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase();
      out.set(path, { path, body, hash });
    }
  }
  return out;
}

let published: Map<string, Published> | undefined;
const documents = (): Map<string, Published> => {
  published ??= build();
  return published;
};

/** `/openapi/v3`: where each group version's document is; the hash lets clients cache it. */
export function openapiV3Root(): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const d of documents().values()) paths[d.path] = { serverRelativeURL: `/openapi/v3/${d.path}?hash=${d.hash}` };
  return { paths };
}

/** The JSON text of `/openapi/v3/{path}`, or undefined when no such group version is served. */
export function openapiV3Document(path: string): string | undefined {
  return documents().get(path)?.body;
}
