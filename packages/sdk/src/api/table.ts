/**
 * Server-side printing: `meta.k8s.io/v1` Table responses, which is what `kubectl get` renders. Columns
 * follow KubeVirt's printer columns for its kinds and kubectl's built-in ones for core kinds.
 */
import type { KubeObject } from '@virtkit/engine';

export interface TableColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** `includeObject` query parameter of a Table request. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

/**
 * Kubernetes' human-readable age (`5s`, `3m20s`, `4h`, `2d3h`, `3y45d`): the same thresholds kubectl users
 * see from any apiserver.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

type Cell = (obj: KubeObject, now: number) => unknown;

interface Column {
  def: TableColumnDefinition;
  cell: Cell;
}

const col = (
  name: string,
  cell: Cell,
  description: string,
  type: TableColumnDefinition['type'] = 'string',
  priority = 0,
  format = '',
): Column => ({ def: { name, type, format, description, priority }, cell });

const rec = (x: unknown): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string => (typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x));

function age(obj: KubeObject, now: number): string {
  const created = obj.metadata.creationTimestamp;
  if (!created) return '<unknown>';
  const t = Date.parse(created);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

function conditionStatus(obj: KubeObject, type: string): string {
  const c = arr(rec(obj.status).conditions).find((x) => rec(x).type === type);
  return c === undefined ? '' : str(rec(c).status);
}

function nodeStatus(obj: KubeObject): string {
  const ready = conditionStatus(obj, 'Ready');
  const parts = [ready === 'True' ? 'Ready' : ready === '' ? 'Unknown' : 'NotReady'];
  if (rec(obj.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(obj: KubeObject): string {
  const roles = Object.keys(obj.metadata.labels ?? {})
    .filter((l) => l.startsWith('node-role.kubernetes.io/'))
    .map((l) => l.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  return roles.length ? roles.sort().join(',') : '<none>';
}

function internalIp(obj: KubeObject): string {
  const a = arr(rec(obj.status).addresses).find((x) => rec(x).type === 'InternalIP');
  return a === undefined ? '<none>' : str(rec(a).address);
}

function externalIp(obj: KubeObject): string {
  const a = arr(rec(obj.status).addresses).find((x) => rec(x).type === 'ExternalIP');
  return a === undefined ? '<none>' : str(rec(a).address);
}

/** A nodeInfo field, or `<unknown>` as kubectl prints a missing one. */
function nodeInfo(obj: KubeObject, field: string): string {
  return str(rec(rec(obj.status).nodeInfo)[field]) || '<unknown>';
}

function eventObject(obj: KubeObject): string {
  const io = rec(obj.involvedObject);
  return `${str(io.kind).toLowerCase()}/${str(io.name)}`;
}

function lastSeen(obj: KubeObject, now: number): string {
  const t = Date.parse(str(obj.lastTimestamp) || str(obj.metadata.creationTimestamp));
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

function podReady(obj: KubeObject): string {
  const statuses = arr(rec(obj.status).containerStatuses);
  const total = arr(rec(obj.spec).containers).length;
  return `${statuses.filter((c) => rec(c).ready === true).length}/${total}`;
}

const NAME = col('Name', (o) => o.metadata.name ?? '', 'Name must be unique within a namespace.', 'string', 0, 'name');
const AGE = col(
  'Age',
  age,
  'CreationTimestamp is a timestamp representing the server time when this object was created.',
);

const COLUMNS: Record<string, Column[]> = {
  VirtualMachine: [
    NAME,
    AGE,
    col('Status', (o) => str(rec(o.status).printableStatus), 'Human Readable Status'),
    col('Ready', (o) => conditionStatus(o, 'Ready'), 'Ready'),
  ],
  VirtualMachineInstance: [
    NAME,
    AGE,
    col('Phase', (o) => str(rec(o.status).phase), 'Phase'),
    col('IP', (o) => str(rec(arr(rec(o.status).interfaces)[0]).ipAddress), 'IP Address'),
    col('NodeName', (o) => str(rec(o.status).nodeName), 'NodeName'),
    col('Ready', (o) => conditionStatus(o, 'Ready'), 'Ready'),
    col('Live-Migratable', (o) => conditionStatus(o, 'LiveMigratable'), 'Live Migratable', 'string', 1),
    col('Paused', (o) => conditionStatus(o, 'Paused'), 'Paused', 'string', 1),
  ],
  VirtualMachineInstanceMigration: [
    NAME,
    col('Phase', (o) => str(rec(o.status).phase), 'The current phase of VM instance migration'),
    col('VMI', (o) => str(rec(o.spec).vmiName), 'The name of the VMI to perform the migration on'),
  ],
  VirtualMachineInstanceReplicaSet: [
    NAME,
    col('Desired', (o) => rec(o.spec).replicas ?? null, 'Number of desired VirtualMachineInstances', 'integer'),
    col('Current', (o) => rec(o.status).replicas ?? null, 'Number of managed and not final or deleted VMIs', 'integer'),
    col(
      'Ready',
      (o) => rec(o.status).readyReplicas ?? null,
      'Number of managed VMIs which are ready to receive traffic',
      'integer',
    ),
    AGE,
  ],
  Node: [
    NAME,
    col('Status', nodeStatus, 'The status of the node'),
    col('Roles', nodeRoles, 'The roles of the node'),
    AGE,
    col('Version', (o) => str(rec(rec(o.status).nodeInfo).kubeletVersion), 'Kubelet Version reported by the node.'),
    col('Internal-IP', internalIp, 'List of internal IPs in the node.', 'string', 1),
    col('External-IP', externalIp, 'List of external IPs in the node.', 'string', 1),
    col('OS-Image', (o) => nodeInfo(o, 'osImage'), 'OS image reported by the node from /etc/os-release.', 'string', 1),
    col('Kernel-Version', (o) => nodeInfo(o, 'kernelVersion'), 'Kernel version reported by the node.', 'string', 1),
    col(
      'Container-Runtime',
      (o) => nodeInfo(o, 'containerRuntimeVersion'),
      'Container runtime and version reported by the node.',
      'string',
      1,
    ),
  ],
  Event: [
    col('Last Seen', lastSeen, 'Time when this Event was last seen'),
    col('Type', (o) => str(o.type), 'Type of this event (Normal, Warning), new types could be added in the future.'),
    col('Reason', (o) => str(o.reason), 'Reason why this event is generated'),
    col('Object', eventObject, 'The object that this event is about.'),
    col('Message', (o) => str(o.message), 'A human-readable description of the status of this operation.'),
  ],
  Pod: [
    NAME,
    col('Ready', podReady, 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', (o) => str(rec(o.status).phase), 'The aggregate status of the containers in this pod.'),
    col('Restarts', () => 0, 'The number of times the containers in this pod have been restarted.', 'integer'),
    AGE,
    col('IP', (o) => str(rec(o.status).podIP) || '<none>', 'IP address assigned to the pod', 'string', 1),
    col('Node', (o) => str(rec(o.spec).nodeName) || '<none>', 'Name of the node the pod is assigned to', 'string', 1),
    col('Nominated Node', () => '<none>', 'Name of the node the pod is nominated to', 'string', 1),
    col('Readiness Gates', () => '<none>', 'Pod readiness gates', 'string', 1),
  ],
  Lease: [NAME, col('Holder', (o) => str(rec(o.spec).holderIdentity), 'Holder identity of the lease'), AGE],
  Namespace: [NAME, col('Status', (o) => str(rec(o.status).phase), 'The status of the namespace'), AGE],
};

const DEFAULT_COLUMNS: Column[] = [NAME, AGE];

function rowObject(obj: KubeObject, include: IncludeObject, metaApiVersion: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: metaApiVersion, metadata: obj.metadata };
}

export interface TableOptions {
  kind: string;
  now: number;
  include: IncludeObject;
  /** `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`, as negotiated. */
  apiVersion: string;
  resourceVersion?: string;
  continue?: string;
}

export function toTable(objects: readonly KubeObject[], o: TableOptions): Table {
  const columns = COLUMNS[o.kind] ?? DEFAULT_COLUMNS;
  const metadata: Table['metadata'] = {};
  if (o.resourceVersion !== undefined) metadata.resourceVersion = o.resourceVersion;
  if (o.continue) metadata.continue = o.continue;
  return {
    kind: 'Table',
    apiVersion: o.apiVersion,
    metadata,
    columnDefinitions: columns.map((c) => c.def),
    rows: objects.map((obj) => {
      const row: TableRow = { cells: columns.map((c) => c.cell(obj, o.now)) };
      const object = rowObject(obj, o.include, o.apiVersion);
      if (object !== undefined) row.object = object;
      return row;
    }),
  };
}
