/** Reads: get and list (JSON, Table, PartialObjectMetadata), and the implicit namespaces. */
import { isDNS1123Label, type KubeObject } from '@virtkit/engine';
import { contentTypeOf, listJson, negotiate, partialObject, served } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse } from './handler.ts';
import { KINDS_NAMESPACE_SOURCES, namespaceObject } from './namespaces.ts';
import { includeObject, kindOf, listOptions, type ResourceRoute, respondObject } from './request.ts';
import { methodNotAllowed, notFound } from './status.ts';
import { toTable } from './table.ts';
import type { ApiResponse } from './types.ts';

export async function get(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const rep = negotiate(rc.headers.get('accept'));
  const obj = (await ctx.options.store.get(kindOf(r), route.namespace, route.name!)) as KubeObject;
  return respondObject(r, rep, ctx, rc, obj);
}

export async function list(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const rep = negotiate(rc.headers.get('accept'));
  const result = await ctx.options.store.list(kindOf(r), listOptions(route, rc.query));
  const items = result.items as KubeObject[];
  if (rep.as === 'table') {
    const table = toTable(
      items.map((o) => served(r, o)),
      {
        kind: r.kind,
        now: ctx.clock.now(),
        include: includeObject(rc),
        apiVersion: rep.apiVersion,
        resourceVersion: result.resourceVersion,
        ...(result.continue ? { continue: result.continue } : {}),
      },
    );
    return jsonResponse(200, table, contentTypeOf(rep));
  }
  if (rep.as === 'partial') {
    const metadata: Record<string, string> = { resourceVersion: result.resourceVersion };
    if (result.continue) metadata.continue = result.continue;
    return jsonResponse(
      200,
      {
        kind: 'PartialObjectMetadataList',
        apiVersion: rep.apiVersion,
        metadata,
        items: items.map((o) => partialObject(rep.apiVersion, o)),
      },
      contentTypeOf({ as: 'partial', apiVersion: rep.apiVersion }).replace(
        'PartialObjectMetadata',
        'PartialObjectMetadataList',
      ),
    );
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: listJson(ctx.json, r, items, result.resourceVersion, result.continue),
  };
}

export async function serveNamespaces(
  ctx: HandlerContext,
  rc: RequestContext,
  route: ResourceRoute,
  wantsWatch: boolean,
): Promise<ApiResponse> {
  const r = route.resource;
  if (rc.method !== 'GET' && rc.method !== 'HEAD') {
    throw methodNotAllowed(rc.method, `namespaces: namespaces exist implicitly here; create objects in any namespace`);
  }
  if (wantsWatch) throw methodNotAllowed('WATCH', 'namespaces');
  const rep = negotiate(rc.headers.get('accept'));
  const now = ctx.clock.now();
  if (route.name !== undefined) {
    // A name no namespace can have (not a DNS-1123 label) names none.
    if (isDNS1123Label(route.name).length > 0) throw notFound(`namespaces "${route.name}" not found`);
    return respondObject(r, rep, ctx, rc, namespaceObject(route.name, ctx.startedAt));
  }
  const names = new Set(['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  for (const kind of KINDS_NAMESPACE_SOURCES) {
    const { items } = await ctx.options.store.list(kind);
    for (const o of items as KubeObject[]) if (o.metadata.namespace) names.add(o.metadata.namespace);
  }
  const items = [...names].sort().map((n) => namespaceObject(n, ctx.startedAt));
  const rv = ctx.options.store.currentResourceVersion();
  if (rep.as === 'table') {
    return jsonResponse(
      200,
      toTable(items, {
        kind: r.kind,
        now,
        include: includeObject(rc),
        apiVersion: rep.apiVersion,
        resourceVersion: rv,
      }),
      contentTypeOf(rep),
    );
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: listJson(ctx.json, r, items, rv) };
}

/** The empty `services` collection (see resources.ts): lists answer with no items, a name with NotFound. */
export function serveServices(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): ApiResponse {
  if (rc.method !== 'GET' && rc.method !== 'HEAD') {
    throw methodNotAllowed(rc.method, 'services: virtkit runs no services');
  }
  if (route.name !== undefined || route.subresource !== undefined) {
    throw notFound(`services "${route.name ?? ''}" not found`);
  }
  const rep = negotiate(rc.headers.get('accept'));
  const resourceVersion = ctx.options.store.currentResourceVersion();
  if (rep.as === 'table') {
    const table = toTable([], {
      kind: 'Service',
      now: ctx.clock.now(),
      include: includeObject(rc),
      apiVersion: rep.apiVersion,
      resourceVersion,
    });
    return jsonResponse(200, table, contentTypeOf(rep));
  }
  return jsonResponse(200, { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion }, items: [] });
}
