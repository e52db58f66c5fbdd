/** Parsing request paths into what they address, the way the apiserver's router does. */
import { ACTION_SUBRESOURCES, findResource, type ServedResource, SUBRESOURCES_GROUP } from './resources.ts';
import { findReview, type Review } from './reviews.ts';

export type Route =
  | { type: 'version' }
  | { type: 'health' }
  | { type: 'coreVersions' }
  | { type: 'groups' }
  | { type: 'group'; group: string }
  | { type: 'resourceList'; group: string; version: string }
  | { type: 'openapi'; path: string }
  | {
      type: 'resource';
      resource: ServedResource;
      /** Set for namespaced paths (`.../namespaces/{ns}/...`). */
      namespace: string | undefined;
      name: string | undefined;
      subresource: string | undefined;
      /** The deprecated `/watch/` path prefix. */
      watchPrefix: boolean;
    }
  | { type: 'action'; resource: string; namespace: string; name: string; action: string }
  | { type: 'review'; review: Review }
  | { type: 'notFound' };

const NOT_FOUND: Route = { type: 'notFound' };

function segments(path: string): string[] | undefined {
  const parts = path.split('/').filter((s) => s !== '');
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
}

/**
 * `rest` is what follows `/api/v1` or `/apis/{group}/{version}`:
 * `[watch/][namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`.
 */
function resourceRoute(group: string, version: string, rest: string[]): Route {
  let i = 0;
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    i = 1;
  }
  let namespace: string | undefined;
  // `namespaces/{ns}/{resource}` addresses a namespaced resource, unless `{resource}` is not one: then it is
  // the namespace's own subresource (`namespaces/{name}/status`).
  if (rest[i] === 'namespaces' && rest.length - i >= 3) {
    const candidate = findResource(group, version, rest[i + 2]!);
    if (candidate?.namespaced) {
      namespace = rest[i + 1]!;
      i += 2;
    }
  }
  const plural = rest[i];
  if (plural === undefined) return NOT_FOUND;
  const resource = findResource(group, version, plural);
  if (!resource) return NOT_FOUND;
  const name = rest[i + 1];
  const subresource = rest[i + 2];
  if (rest.length > i + 3) return NOT_FOUND;
  if (namespace !== undefined && !resource.namespaced) return NOT_FOUND;
  // A namespaced resource is addressed by name only inside its namespace.
  if (namespace === undefined && resource.namespaced && name !== undefined) return NOT_FOUND;
  if (watchPrefix && subresource !== undefined) return NOT_FOUND;
  return { type: 'resource', resource, namespace, name, subresource, watchPrefix };
}

function actionRoute(rest: string[]): Route {
  // namespaces/{ns}/{resource}/{name}/{action}
  if (rest.length !== 5 || rest[0] !== 'namespaces') return NOT_FOUND;
  const [, namespace, resource, name, action] = rest as [string, string, string, string, string];
  if (!ACTION_SUBRESOURCES.some((a) => a.resource === resource && a.name === action)) return NOT_FOUND;
  return { type: 'action', resource, namespace, name, action };
}

export function parseRoute(path: string): Route {
  const s = segments(path);
  if (!s) return NOT_FOUND;
  const [first, second, third] = s;
  if (first === 'version' && s.length === 1) return { type: 'version' };
  if ((first === 'healthz' || first === 'livez' || first === 'readyz') && s.length === 1) return { type: 'health' };
  if (first === 'openapi') return { type: 'openapi', path: s.slice(1).join('/') };
  if (first === 'api') {
    if (s.length === 1) return { type: 'coreVersions' };
    if (second !== 'v1') return NOT_FOUND;
    if (s.length === 2) return { type: 'resourceList', group: '', version: 'v1' };
    return resourceRoute('', 'v1', s.slice(2));
  }
  if (first === 'apis') {
    if (s.length === 1) return { type: 'groups' };
    if (s.length === 2) return { type: 'group', group: second! };
    if (s.length === 3) return { type: 'resourceList', group: second!, version: third! };
    if (second === SUBRESOURCES_GROUP) return third === 'v1' ? actionRoute(s.slice(3)) : NOT_FOUND;
    const review = s.length === 4 ? findReview(second!, third!, s[3]!) : undefined;
    if (review) return { type: 'review', review };
    return resourceRoute(second!, third!, s.slice(3));
  }
  return NOT_FOUND;
}
