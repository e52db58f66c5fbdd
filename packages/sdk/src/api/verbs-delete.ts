/** Deletes: one object (propagation, preconditions, grace) or a collection by selector. */
import type { DeleteOptions, KubeObject } from '@virtkit/engine';
import { requireObject } from './body.ts';
import { listJson, negotiate } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse } from './handler.ts';
import {
  decodeRequestObject,
  details,
  dryRun,
  intParam,
  kindOf,
  listOptions,
  type ResourceRoute,
  respondObject,
} from './request.ts';
import { invalidField, successStatus } from './status.ts';
import type { ApiResponse } from './types.ts';

const PROPAGATION = new Set(['Background', 'Foreground', 'Orphan']);

function deleteOptions(rc: RequestContext): DeleteOptions {
  const raw = decodeRequestObject(rc);
  const body = raw === undefined ? {} : requireObject(raw, 'DeleteOptions');
  const o: DeleteOptions = {};
  const policy = body.propagationPolicy ?? rc.query.get('propagationPolicy') ?? undefined;
  if (policy !== undefined && policy !== null) {
    if (typeof policy !== 'string' || !PROPAGATION.has(policy)) {
      throw invalidField(
        'DeleteOptions',
        'propagationPolicy',
        'FieldValueNotSupported',
        `Unsupported value: "${String(policy)}": supported values: "Background", "Foreground", "Orphan"`,
      );
    }
    o.propagationPolicy = policy as DeleteOptions['propagationPolicy'] & string;
  } else if (body.orphanDependents === true || rc.query.get('orphanDependents') === 'true') {
    o.propagationPolicy = 'Orphan';
  }
  const grace = body.gracePeriodSeconds ?? intParam(rc.query, 'gracePeriodSeconds');
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0) {
      throw invalidField('DeleteOptions', 'gracePeriodSeconds', 'FieldValueInvalid', 'must be a non-negative integer');
    }
    o.gracePeriodSeconds = grace;
  }
  const pre = body.preconditions;
  if (pre !== undefined && pre !== null) {
    const p = requireObject(pre, 'DeleteOptions.preconditions');
    const preconditions: NonNullable<DeleteOptions['preconditions']> = {};
    for (const key of ['uid', 'resourceVersion'] as const) {
      const v = p[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string')
        throw invalidField('DeleteOptions', `preconditions.${key}`, 'FieldValueInvalid', 'must be a string');
      preconditions[key] = v;
    }
    o.preconditions = preconditions;
  }
  const dry = body.dryRun;
  if (Array.isArray(dry) && dry.length > 0) rc.query.append('dryRun', String(dry[0]));
  return o;
}

export async function remove(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const opts = deleteOptions(rc);
  const store = ctx.options.store;
  if (dryRun(rc.query))
    return respondObject(r, rep, ctx, rc, (await store.get(kind, route.namespace, route.name!)) as KubeObject);
  const result = (await store.delete(kind, route.namespace, route.name!, opts)) as KubeObject;
  // Like the apiserver for custom resources: the object while finalizers hold it, else a Success Status.
  if (result.metadata.deletionTimestamp && (result.metadata.finalizers?.length ?? 0) > 0) {
    return respondObject(r, rep, ctx, rc, result);
  }
  const d = details(r, route.name!);
  if (result.metadata.uid) d.uid = result.metadata.uid;
  return jsonResponse(200, successStatus(d));
}

export async function deleteCollection(
  ctx: HandlerContext,
  rc: RequestContext,
  route: ResourceRoute,
): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const opts = deleteOptions(rc);
  const store = ctx.options.store;
  const lo = listOptions(route, rc.query);
  delete lo.limit;
  delete lo.continue;
  const { items, resourceVersion } = await store.list(kind, lo);
  const deleted: KubeObject[] = [];
  const dry = dryRun(rc.query);
  for (const item of items as KubeObject[]) {
    if (dry) {
      deleted.push(item);
      continue;
    }
    try {
      deleted.push((await store.delete(kind, item.metadata.namespace, item.metadata.name!, opts)) as KubeObject);
    } catch (err) {
      // Someone else deleted it meanwhile: that is what was asked for.
      if ((err as { code?: string }).code !== 'NotFound') throw err;
    }
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: listJson(ctx.json, r, deleted, resourceVersion),
  };
}
