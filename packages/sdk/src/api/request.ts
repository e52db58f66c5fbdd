/** Shared pieces of serving a resource request: query parameters, responses, the request's subject. */
import type { Kind, KubeObject, ListOptions } from '@virtkit/engine';
import { bodyText, decodeBody } from './body.ts';
import { contentTypeOf, partialObject, type Representation, served, servedJson } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse } from './handler.ts';
import { qualifiedName, type ServedResource } from './resources.ts';
import type { Route } from './routes.ts';
import { ApiError, badRequest, type StatusDetails, type statusFromError } from './status.ts';
import { toTable } from './table.ts';
import type { ApiResponse } from './types.ts';

export type ResourceRoute = Extract<Route, { type: 'resource' }>;
export type ActionRoute = Extract<Route, { type: 'action' }>;

export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw badRequest(`query parameter ${name}: expected true or false, got "${v}"`);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`query parameter ${name}: expected an integer, got "${v}"`);
  return Number(v);
}

export function dryRun(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values) {
    if (v !== 'All') throw badRequest(`query parameter dryRun: the only supported value is "All", got "${v}"`);
  }
  return values.length > 0;
}

/** What a request is about, for the Status `details` and apiserver-style messages. */
export function subject(r: ServedResource, name: string | undefined): Parameters<typeof statusFromError>[1] {
  const s: Parameters<typeof statusFromError>[1] = {
    qualifiedResource: qualifiedName(r),
    group: r.group,
    plural: r.plural,
    kind: r.kind,
  };
  if (name !== undefined) s.name = name;
  return s;
}

export function kindOf(r: ServedResource): Kind {
  if (r.storeKind === undefined) throw new ApiError(405, 'MethodNotAllowed', `${r.plural} are read-only here`);
  return r.storeKind;
}

export function respondObject(
  r: ServedResource,
  rep: Representation,
  ctx: HandlerContext,
  rc: RequestContext,
  obj: KubeObject,
  status = 200,
  warnings: readonly string[] = [],
): ApiResponse {
  const headers = warningHeaders(warnings);
  if (rep.as === 'table') {
    const table = toTable([served(r, obj)], {
      kind: r.kind,
      now: ctx.clock.now(),
      include: includeObject(rc),
      apiVersion: rep.apiVersion,
      ...(obj.metadata.resourceVersion === undefined ? {} : { resourceVersion: obj.metadata.resourceVersion }),
    });
    return withHeaders(jsonResponse(status, table, contentTypeOf(rep)), headers);
  }
  if (rep.as === 'partial') {
    return withHeaders(jsonResponse(status, partialObject(rep.apiVersion, obj), contentTypeOf(rep)), headers);
  }
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: servedJson(ctx.json, r, obj) };
}

function withHeaders(res: ApiResponse, headers: Record<string, string>): ApiResponse {
  Object.assign(res.headers, headers);
  return res;
}

/** Most warnings sent with one response; the rest are summarized. */
const MAX_WARNINGS = 25;

/**
 * RFC 7234 `Warning` headers (code 299), as the apiserver sends them; kubectl prints each as `Warning: ...`.
 * The text is reduced to printable ASCII so it survives as a quoted-string.
 */
function warningHeaders(warnings: readonly string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  const shown = warnings.slice(0, MAX_WARNINGS);
  if (warnings.length > MAX_WARNINGS) shown.push(`${warnings.length - MAX_WARNINGS} more warnings not shown`);
  const quoted = shown.map((w) => `299 - "${w.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`);
  return { warning: quoted.join(', ') };
}

export function includeObject(rc: RequestContext): 'None' | 'Metadata' | 'Object' {
  const v = rc.query.get('includeObject') ?? 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`query parameter includeObject: expected None, Metadata or Object, got "${v}"`);
}

export function listOptions(route: ResourceRoute, q: URLSearchParams): ListOptions {
  const o: ListOptions = {};
  if (route.namespace !== undefined) o.namespace = route.namespace;
  const ls = q.get('labelSelector');
  if (ls) o.labelSelector = ls;
  let fs = q.get('fieldSelector') ?? '';
  if (route.name !== undefined) fs = fs ? `${fs},metadata.name=${route.name}` : `metadata.name=${route.name}`;
  if (fs) o.fieldSelector = fs;
  const limit = intParam(q, 'limit');
  if (limit !== undefined && limit > 0) o.limit = limit;
  const cont = q.get('continue');
  if (cont) o.continue = cont;
  return o;
}

export function decodeRequestObject(rc: RequestContext): unknown {
  return decodeBody(bodyText(rc.body), rc.headers.get('content-type'));
}

export function details(r: ServedResource, name: string): StatusDetails {
  return { name, group: r.group, kind: r.plural };
}
