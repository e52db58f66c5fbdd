/**
 * REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection, the `status`
 * subresource, the implicit `namespaces`, and KubeVirt's action verbs. Routing here; the verbs in verbs-*.ts.
 */
import { bodyText, decodeBody } from './body.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { statusResponse } from './handler.ts';
import { servePods } from './pods.ts';
import { boolParam, type ResourceRoute, subject } from './request.ts';
import { PODS, qualifiedName, SERVICES } from './resources.ts';
import { ApiError, methodNotAllowed, notFound, statusFromError } from './status.ts';
import type { ApiResponse } from './types.ts';
import { deleteCollection, remove } from './verbs-delete.ts';
import { get, list, serveNamespaces, serveServices } from './verbs-read.ts';
import { serveScale } from './verbs-scale.ts';
import { watch } from './verbs-watch.ts';
import { create, patch, update } from './verbs-write.ts';

export { serveAction } from './verbs-action.ts';

export async function serveResource(
  ctx: HandlerContext,
  rc: RequestContext,
  route: ResourceRoute,
): Promise<ApiResponse> {
  const r = route.resource;
  try {
    return await dispatch(ctx, rc, route);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    return statusResponse(statusFromError(err, subject(r, route.name ?? bodyName(rc))));
  }
}

/** The object name from a create body, for error messages; undefined when not parseable. */
function bodyName(rc: RequestContext): string | undefined {
  if (rc.method !== 'POST' || rc.body === undefined) return undefined;
  try {
    const v = decodeBody(bodyText(rc.body), rc.headers.get('content-type')) as { metadata?: { name?: unknown } };
    return typeof v?.metadata?.name === 'string' ? v.metadata.name : undefined;
  } catch {
    return undefined;
  }
}

async function dispatch(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const { method } = rc;
  const isCollection = route.name === undefined;
  const wantsWatch = route.watchPrefix || boolParam(rc.query, 'watch');
  if (r === PODS) return servePods(ctx, rc, route, wantsWatch);
  if (r === SERVICES) {
    if (wantsWatch) throw methodNotAllowed('WATCH', 'services: virtkit runs no services');
    return serveServices(ctx, rc, route);
  }
  if (route.subresource === 'scale' && r.scalable && route.name !== undefined && !wantsWatch) {
    return serveScale(ctx, rc, route);
  }
  if (route.subresource !== undefined && !(route.subresource === 'status' && r.hasStatus)) {
    throw notFound('the server could not find the requested resource');
  }
  if (r.storeKind === undefined) return serveNamespaces(ctx, rc, route, wantsWatch);
  if (wantsWatch) {
    if (method !== 'GET') throw methodNotAllowed(method, 'watch');
    return watch(ctx, rc, route);
  }
  switch (method) {
    case 'GET':
    case 'HEAD':
      return isCollection ? list(ctx, rc, route) : get(ctx, rc, route);
    case 'POST':
      if (!isCollection) throw methodNotAllowed(method, `${qualifiedName(r)} "${route.name}"`);
      if (r.namespaced && route.namespace === undefined) throw methodNotAllowed(method, qualifiedName(r));
      return create(ctx, rc, route);
    case 'PUT':
      if (isCollection) throw methodNotAllowed(method, qualifiedName(r));
      return update(ctx, rc, route);
    case 'PATCH':
      if (isCollection) throw methodNotAllowed(method, qualifiedName(r));
      return patch(ctx, rc, route);
    case 'DELETE':
      if (isCollection) {
        if (r.namespaced && route.namespace === undefined) throw methodNotAllowed(method, qualifiedName(r));
        return deleteCollection(ctx, rc, route);
      }
      if (route.subresource !== undefined) throw methodNotAllowed(method, `${qualifiedName(r)}/status`);
      return remove(ctx, rc, route);
    default:
      throw methodNotAllowed(method, qualifiedName(r));
  }
}
