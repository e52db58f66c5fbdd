/**
 * The REST resources the API server serves, derived from the engine's KINDS registry, plus what a
 * Kubernetes client expects beside them: the implicit `namespaces` resource, kubevirt.io/v1alpha3 (an
 * older served version of the same objects, stored as v1 like KubeVirt does) and KubeVirt's
 * subresources.kubevirt.io action verbs.
 */
import { KINDS, type Kind } from '@virtkit/engine';

export interface ServedResource {
  group: string;
  version: string;
  /** `v1` or `group/version`: the apiVersion objects carry when served through this resource. */
  apiVersion: string;
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  namespaced: boolean;
  hasStatus: boolean;
  /** Serves the `scale` subresource (autoscaling/v1 Scale over spec.replicas), as KubeVirt's VMIRS CRD does. */
  scalable: boolean;
  /** The store kind behind it; undefined for the synthetic `namespaces`. */
  storeKind: Kind | undefined;
  /** The apiVersion the store keeps; differs from `apiVersion` for older served versions. */
  storageApiVersion: string;
  categories: string[];
  verbs: string[];
}

export interface ActionSubresource {
  /** `virtualmachines` or `virtualmachineinstances`. */
  resource: string;
  name: string;
  /** `update` (PUT, the action verbs) or `get` (GET, the console stream). */
  verb: 'update' | 'get';
}

export const SUBRESOURCES_GROUP = 'subresources.kubevirt.io';

/**
 * KubeVirt's action verbs, called with PUT like virtctl does, and the serial console. KubeVirt serves the
 * console as a websocket; here it is a plain streamed GET of text lines (a virtkit extension).
 */
export const ACTION_SUBRESOURCES: readonly ActionSubresource[] = [
  { resource: 'virtualmachines', name: 'start', verb: 'update' },
  { resource: 'virtualmachines', name: 'stop', verb: 'update' },
  { resource: 'virtualmachines', name: 'restart', verb: 'update' },
  { resource: 'virtualmachines', name: 'migrate', verb: 'update' },
  { resource: 'virtualmachineinstances', name: 'pause', verb: 'update' },
  { resource: 'virtualmachineinstances', name: 'unpause', verb: 'update' },
  { resource: 'virtualmachineinstances', name: 'softreboot', verb: 'update' },
  { resource: 'virtualmachineinstances', name: 'console', verb: 'get' },
];

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function fromKind(kind: Kind, version = KINDS[kind].version): ServedResource {
  const info = KINDS[kind];
  return {
    group: info.group,
    version,
    apiVersion: info.group ? `${info.group}/${version}` : version,
    plural: info.plural,
    singular: info.singular,
    kind: info.kind,
    shortNames: info.shortNames,
    namespaced: info.namespaced,
    hasStatus: info.hasStatus,
    scalable: kind === 'VirtualMachineInstanceReplicaSet',
    storeKind: kind,
    storageApiVersion: info.apiVersion,
    // KubeVirt puts its workload kinds in `all` so `kubectl get all` shows them.
    categories: info.group === 'kubevirt.io' ? ['all'] : [],
    verbs: ALL_VERBS,
  };
}

const NAMESPACES: ServedResource = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  plural: 'namespaces',
  singular: 'namespace',
  kind: 'Namespace',
  shortNames: ['ns'],
  namespaced: false,
  hasStatus: false,
  scalable: false,
  storeKind: undefined,
  storageApiVersion: 'v1',
  categories: [],
  verbs: ['get', 'list'],
};

/** virt-launcher pods: a read-only view of placed VMIs (see pods.ts), with the eviction subresource. */
export const PODS: ServedResource = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  plural: 'pods',
  singular: 'pod',
  kind: 'Pod',
  shortNames: ['po'],
  namespaced: true,
  hasStatus: false,
  scalable: false,
  storeKind: undefined,
  storageApiVersion: 'v1',
  categories: ['all'],
  verbs: ['delete', 'get', 'list', 'watch'],
};

/**
 * Services: virtkit runs none, but `kubectl cluster-info` lists them to find the control plane; an empty,
 * read-only collection answers it truthfully (see verbs-read.ts).
 */
export const SERVICES: ServedResource = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  plural: 'services',
  singular: 'service',
  kind: 'Service',
  shortNames: ['svc'],
  namespaced: true,
  hasStatus: false,
  scalable: false,
  storeKind: undefined,
  storageApiVersion: 'v1',
  categories: [],
  verbs: ['get', 'list'],
};

export interface GroupVersion {
  group: string;
  version: string;
  resources: ServedResource[];
}

export interface ApiGroup {
  name: string;
  /** Preferred first. */
  versions: GroupVersion[];
}

function buildGroups(): ApiGroup[] {
  const byGroup = new Map<string, Map<string, ServedResource[]>>();
  const add = (r: ServedResource): void => {
    const versions = byGroup.get(r.group) ?? new Map<string, ServedResource[]>();
    byGroup.set(r.group, versions);
    const list = versions.get(r.version) ?? [];
    versions.set(r.version, list);
    list.push(r);
  };
  for (const kind of Object.keys(KINDS) as Kind[]) {
    add(fromKind(kind));
    if (KINDS[kind].group === 'kubevirt.io') add(fromKind(kind, 'v1alpha3'));
  }
  add(NAMESPACES);
  add(PODS);
  add(SERVICES);
  const groups: ApiGroup[] = [];
  for (const [name, versions] of byGroup) {
    groups.push({ name, versions: [...versions].map(([version, resources]) => ({ group: name, version, resources })) });
  }
  return groups;
}

/** Every served group; the core group ("") first. */
export const API_GROUPS: readonly ApiGroup[] = buildGroups().sort((a, b) =>
  a.name === '' ? -1 : b.name === '' ? 1 : a.name.localeCompare(b.name),
);

const index = new Map<string, ServedResource>();
for (const g of API_GROUPS)
  for (const v of g.versions) for (const r of v.resources) index.set(`${g.name}/${v.version}/${r.plural}`, r);

export function findResource(group: string, version: string, plural: string): ServedResource | undefined {
  return index.get(`${group}/${version}/${plural}`);
}

export function findGroupVersion(group: string, version: string): GroupVersion | undefined {
  return API_GROUPS.find((g) => g.name === group)?.versions.find((v) => v.version === version);
}

/** `plural` for the core group, else `plural.group`: how the apiserver names a resource in messages. */
export function qualifiedName(r: { plural: string; group: string }): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}
