/**
 * Discovery documents: the legacy per-group endpoints and the aggregated form (apidiscovery.k8s.io/v2)
 * that kubectl 1.30+ asks `/api` and `/apis` for first, which saves it one request per group version.
 */
import {
  ACTION_SUBRESOURCES,
  API_GROUPS,
  type GroupVersion,
  PODS,
  type ServedResource,
  SUBRESOURCES_GROUP,
} from './resources.ts';

/** The Kubernetes version we present; the gcloud kubectl dispatcher picks a kubectl build from it. */
export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-virtkit',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'n/a',
  compiler: 'n/a',
  platform: 'linux/amd64',
} as const;

/** What a `scale` subresource serves; kubectl scale finds it through discovery. */
const SCALE_KIND = { group: 'autoscaling', version: 'v1', kind: 'Scale' } as const;

/** What `pods/eviction` takes; kubectl drain looks for it in discovery and else deletes pods. */
const EVICTION_KIND = { group: 'policy', version: 'v1', kind: 'Eviction' } as const;

const groupVersionString = (group: string, version: string): string => (group ? `${group}/${version}` : version);

export function apiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** A subresource-only group: KubeVirt's action verbs (for legacy discovery). */
const subresourcesGroupVersion = { group: SUBRESOURCES_GROUP, version: 'v1' };

function apiGroup(name: string, versions: { version: string }[]): unknown {
  const vs = versions.map((v) => ({ groupVersion: groupVersionString(name, v.version), version: v.version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(): unknown {
  const groups = API_GROUPS.filter((g) => g.name !== '').map((g) => apiGroup(g.name, g.versions));
  groups.push(apiGroup(SUBRESOURCES_GROUP, [subresourcesGroupVersion]));
  for (const g of groups) delete (g as Record<string, unknown>).kind;
  for (const g of groups) delete (g as Record<string, unknown>).apiVersion;
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDocument(name: string): unknown | undefined {
  if (name === SUBRESOURCES_GROUP) return apiGroup(name, [subresourcesGroupVersion]);
  const g = API_GROUPS.find((x) => x.name === name && name !== '');
  return g ? apiGroup(g.name, g.versions) : undefined;
}

function legacyResources(r: ServedResource): unknown[] {
  const main: Record<string, unknown> = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
  };
  if (r.shortNames.length) main.shortNames = r.shortNames;
  if (r.categories.length) main.categories = r.categories;
  const out = [main];
  if (r.hasStatus) {
    out.push({
      name: `${r.plural}/status`,
      singularName: '',
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['get', 'patch', 'update'],
    });
  }
  if (r.scalable) {
    out.push({
      name: `${r.plural}/scale`,
      singularName: '',
      namespaced: r.namespaced,
      group: SCALE_KIND.group,
      version: SCALE_KIND.version,
      kind: SCALE_KIND.kind,
      verbs: ['get', 'patch', 'update'],
    });
  }
  if (r === PODS) {
    out.push({
      name: 'pods/eviction',
      singularName: '',
      namespaced: true,
      group: EVICTION_KIND.group,
      version: EVICTION_KIND.version,
      kind: EVICTION_KIND.kind,
      verbs: ['create'],
    });
  }
  return out;
}

export function apiResourceList(group: string, version: string): unknown | undefined {
  if (group === SUBRESOURCES_GROUP && version === 'v1') {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: groupVersionString(group, version),
      resources: ACTION_SUBRESOURCES.map((a) => ({
        name: `${a.resource}/${a.name}`,
        singularName: '',
        namespaced: true,
        kind: a.resource === 'virtualmachines' ? 'VirtualMachine' : 'VirtualMachineInstance',
        verbs: [a.verb],
      })),
    };
  }
  const gv: GroupVersion | undefined = API_GROUPS.find((g) => g.name === group)?.versions.find(
    (v) => v.version === version,
  );
  if (!gv) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersionString(group, version),
    resources: gv.resources.flatMap(legacyResources),
  };
}

function discoveryResource(r: ServedResource): unknown {
  const responseKind = { group: r.group, version: r.version, kind: r.kind };
  const out: Record<string, unknown> = {
    resource: r.plural,
    responseKind,
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames.length) out.shortNames = r.shortNames;
  if (r.categories.length) out.categories = r.categories;
  const subresources: unknown[] = [];
  if (r.hasStatus) subresources.push({ subresource: 'status', responseKind, verbs: ['get', 'patch', 'update'] });
  if (r.scalable)
    subresources.push({ subresource: 'scale', responseKind: SCALE_KIND, verbs: ['get', 'patch', 'update'] });
  if (r === PODS) subresources.push({ subresource: 'eviction', responseKind: EVICTION_KIND, verbs: ['create'] });
  if (subresources.length) out.subresources = subresources;
  return out;
}

/**
 * `/api` (core) or `/apis` (named groups) in aggregated form; `apiVersion` as the client negotiated.
 * subresources.kubevirt.io is left out: it has only action subresources and no resource of its own, and a
 * verb-less `virtualmachines` entry there could make name resolution in clients ambiguous.
 */
export function aggregatedDiscovery(core: boolean, apiVersion: string): unknown {
  const items = API_GROUPS.filter((g) => (g.name === '') === core).map((g) => ({
    metadata: { name: g.name },
    versions: g.versions.map((v) => ({
      version: v.version,
      resources: v.resources.map(discoveryResource),
      freshness: 'Current',
    })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion, metadata: {}, items };
}
