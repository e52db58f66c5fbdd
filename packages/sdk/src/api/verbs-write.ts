/** Writes: create, update (and status), patch (merge, JSON, strategic as merge, simplified server-side apply). */
import { randomBytes } from 'node:crypto';
import type { Kind, KindMap, KubeObject, PatchType } from '@virtkit/engine';
import {
  applyJsonPatch,
  applyMergePatch,
  ConflictError,
  defaultObject,
  InvalidSpecError,
  isoTime,
  NotFoundError,
  validateObject,
} from '@virtkit/engine';
import { bodyText, decodeBody, decodeYaml, parseMediaTypes, requireObject } from './body.ts';
import { negotiate, served } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { statusResponse } from './handler.ts';
import { attributeUpdate, finishApply, managerOf, planApply, sameJson } from './managed-fields.ts';
import {
  boolParam,
  decodeRequestObject,
  details,
  dryRun,
  kindOf,
  type ResourceRoute,
  respondObject,
} from './request.ts';
import { qualifiedName, type ServedResource } from './resources.ts';
import { ApiError, badRequest, invalidField, statusOf } from './status.ts';
import type { ApiResponse } from './types.ts';

const PATCH_TYPES: Record<string, PatchType | 'apply'> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  // Built-in kinds only (KubeVirt's are custom resources, see patch()); without patch strategy metadata a
  // strategic merge patch behaves as a merge patch.
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export function attribution(ctx: HandlerContext, rc: RequestContext, r: ServedResource) {
  return { manager: managerOf(rc), apiVersion: r.apiVersion, time: isoTime(ctx.clock.now()) };
}

function generateName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const bytes = randomBytes(5);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `${prefix}${s}`;
}

/**
 * Checks a submitted object against the endpoint it was sent to and converts it to the stored form:
 * apiVersion and kind must match (or be absent), the namespace must match the path's, the name the URL's.
 */
function admit(
  r: ServedResource,
  value: unknown,
  namespace: string | undefined,
  urlName: string | undefined,
): KubeObject {
  const obj = requireObject(value, `the ${r.kind} in the request body`);
  if (obj.apiVersion !== undefined && obj.apiVersion !== r.apiVersion) {
    throw badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${r.apiVersion})`,
      [{ reason: 'FieldValueInvalid', field: 'apiVersion', message: `must be ${r.apiVersion}` }],
    );
  }
  if (obj.kind !== undefined && obj.kind !== r.kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${r.kind})`, [
      { reason: 'FieldValueInvalid', field: 'kind', message: `must be ${r.kind}` },
    ]);
  }
  if (obj.metadata === undefined) obj.metadata = {};
  const meta = obj.metadata;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw invalidField(`${r.kind}`, 'metadata', 'FieldValueInvalid', 'must be an object');
  }
  const m = meta as Record<string, unknown>;
  if (r.namespaced) {
    if (m.namespace === undefined || m.namespace === '') m.namespace = namespace;
    else if (m.namespace !== namespace) {
      throw badRequest(
        `the namespace of the provided object (${String(m.namespace)}) does not match the namespace sent on the request (${namespace})`,
        [{ reason: 'FieldValueInvalid', field: 'metadata.namespace', message: `must be ${JSON.stringify(namespace)}` }],
      );
    }
  } else if (m.namespace !== undefined && m.namespace !== '') {
    throw badRequest(`${r.kind} is cluster-scoped; metadata.namespace must be empty, got "${String(m.namespace)}"`, [
      {
        reason: 'FieldValueForbidden',
        field: 'metadata.namespace',
        message: 'must be empty for a cluster-scoped kind',
      },
    ]);
  } else delete m.namespace;
  if (urlName !== undefined) {
    if (m.name === undefined || m.name === '') m.name = urlName;
    else if (m.name !== urlName) {
      throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${urlName})`, [
        { reason: 'FieldValueInvalid', field: 'metadata.name', message: `must be ${JSON.stringify(urlName)}` },
      ]);
    }
  }
  obj.apiVersion = r.storageApiVersion;
  obj.kind = r.kind;
  return obj as KubeObject;
}

/**
 * What the apiserver and KubeVirt's webhooks do to an object before it is stored: defaults (unless turned
 * off), then validation — every cause at once as 422 Invalid; fields virtkit does not support come back as
 * warnings, never dropped.
 */
export function prepare(ctx: HandlerContext, submitted: KubeObject): { obj: KubeObject; warnings: string[] } {
  const obj = ctx.options.defaults === false ? submitted : defaultObject(submitted);
  const validator = ctx.options.validate ?? validateObject;
  if (validator === false) return { obj, warnings: [] };
  const { causes, warnings } = validator(obj);
  if (causes.length > 0) throw new InvalidSpecError(obj.kind, obj.metadata.name ?? '', causes);
  return { obj, warnings };
}

/**
 * KubeVirt's VMI update webhook refuses spec changes: a VMI is one boot of a guest, its spec fixed when it
 * started (change the VM and restart it instead). Metadata and status stay writable.
 */
function refuseVmiSpecChange(ctx: HandlerContext, existing: KubeObject, next: KubeObject): void {
  if (existing.kind !== 'VirtualMachineInstance') return;
  const before = ctx.options.defaults === false ? existing : defaultObject(existing);
  if (sameJson((before as { spec?: unknown }).spec, (next as { spec?: unknown }).spec)) return;
  // A webhook's denial carries no reason; kubectl prints it as `Error from server: admission webhook ...`.
  throw new ApiError(
    422,
    '',
    'admission webhook "virtualmachineinstances-update-validator.kubevirt.io" denied the request: update of VMI object is restricted',
  );
}

export async function create(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const isDry = dryRun(rc.query);
  const submitted = admit(r, decodeRequestObject(rc), route.namespace, undefined);
  const meta = submitted.metadata;
  if (!meta.name) {
    if (meta.generateName) meta.name = generateName(meta.generateName);
    else throw invalidField(r.kind, 'metadata.name', 'FieldValueRequired', 'name or generateName is required');
  }
  const prepared = prepare(ctx, submitted);
  const warnings = prepared.warnings;
  const obj = attributeUpdate(undefined, prepared.obj, attribution(ctx, rc, r));
  if (isDry) {
    const existing = await ctx.options.store.tryGet(kind, meta.namespace, meta.name);
    if (existing) {
      return statusResponse(
        statusOf(409, 'AlreadyExists', `${qualifiedName(r)} "${meta.name}" already exists`, details(r, meta.name)),
      );
    }
    return respondObject(r, rep, ctx, rc, obj, 201, warnings);
  }
  const created = (await ctx.options.store.create(kind, obj as KindMap[typeof kind])) as KubeObject;
  return respondObject(r, rep, ctx, rc, created, 201, warnings);
}

/** Writes an admitted object: `update`, or `updateStatus` for the status subresource. */
export async function write(ctx: HandlerContext, kind: Kind, obj: KubeObject, status: boolean): Promise<KubeObject> {
  const store = ctx.options.store;
  return (await (status
    ? store.updateStatus(kind, obj as KindMap[typeof kind])
    : store.update(kind, obj as KindMap[typeof kind]))) as KubeObject;
}

export async function update(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const isDry = dryRun(rc.query);
  const submitted = admit(r, decodeRequestObject(rc), route.namespace, route.name);
  const status = route.subresource === 'status';
  const prepared = status ? { obj: submitted, warnings: [] } : prepare(ctx, submitted);
  const warnings = prepared.warnings;
  const existing = (await ctx.options.store.get(kind, route.namespace, route.name!)) as KubeObject;
  if (!status) refuseVmiSpecChange(ctx, existing, prepared.obj);
  const obj = status ? prepared.obj : attributeUpdate(existing, prepared.obj, attribution(ctx, rc, r));
  if (isDry) return respondObject(r, rep, ctx, rc, obj, 200, warnings);
  return respondObject(r, rep, ctx, rc, await write(ctx, kind, obj, status), 200, warnings);
}

export function patchTypeOf(rc: RequestContext): PatchType | 'apply' {
  const type = parseMediaTypes(rc.headers.get('content-type'))[0]?.type ?? '';
  const patchType = PATCH_TYPES[type];
  if (patchType === undefined) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
    );
  }
  return patchType;
}

/** How often a patch is re-applied when the object changed between reading and writing it. */
const PATCH_RETRIES = 5;

/**
 * Patches are applied here, not in the store, so the result goes through defaulting and validation like
 * any write. The read-modify-write is optimistic: when someone else wrote in between, the patch is applied
 * again to the new state — unless the patch itself named a resourceVersion, which then is a precondition.
 */
export async function patch(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const patchType = patchTypeOf(rc);
  if (patchType === 'strategic' && r.group === 'kubevirt.io') {
    // On a cluster KubeVirt's kinds are custom resources, for which the apiserver has no strategic merge:
    // `kubectl patch vm` without --type fails there, so it fails here too.
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  }
  const isDryRun = dryRun(rc.query);
  const text = bodyText(rc.body);
  const store = ctx.options.store;
  const status = route.subresource === 'status';
  const name = route.name!;
  const who = attribution(ctx, rc, r);
  const force = boolParam(rc.query, 'force');
  if (force && patchType !== 'apply') throw badRequest('force is only allowed for apply patches');
  let body: unknown;
  if (patchType === 'apply') {
    // Server-side apply: create when absent, else merge the applied configuration in, with field ownership
    // and conflicts as managed-fields.ts tracks them.
    if (!rc.query.get('fieldManager')) {
      throw invalidField('PatchOptions', 'fieldManager', 'FieldValueRequired', 'is required for apply requests');
    }
    body = admit(r, decodeYaml(text), route.namespace, name);
    (body as KubeObject).apiVersion = r.apiVersion;
  } else {
    body = decodeBody(text, 'application/json');
    if (body === undefined) throw badRequest('the patch in the request body is empty');
    if (patchType === 'json' && !Array.isArray(body)) {
      throw badRequest('a JSON patch (application/json-patch+json) must be an array of operations');
    }
    if (patchType !== 'json' && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw badRequest('a merge patch must be a JSON object');
    }
  }
  for (let attempt = 0; ; attempt++) {
    const current = (await store.tryGet(kind, route.namespace, name)) as KubeObject | undefined;
    if (!current) {
      if (patchType !== 'apply' || status) throw new NotFoundError(r.kind, name, route.namespace);
      const prepared = prepare(ctx, body as KubeObject);
      const warnings = prepared.warnings;
      const obj = finishApply(prepared.obj, planApply(undefined, body as KubeObject, who, force));
      obj.apiVersion = r.storageApiVersion;
      if (isDryRun) return respondObject(r, rep, ctx, rc, obj, 201, warnings);
      return respondObject(
        r,
        rep,
        ctx,
        rc,
        (await store.create(kind, obj as KindMap[typeof kind])) as KubeObject,
        201,
        warnings,
      );
    }
    const base = served(r, current);
    const patched =
      patchType === 'json' ? applyJsonPatch(base, body, { kind: r.kind, name }) : applyMergePatch(base, body);
    let next = admit(r, patched, route.namespace, name);
    if (patchType === 'apply') next = finishApply(next, planApply(served(r, current), body as KubeObject, who, force));
    const currentRv = current.metadata.resourceVersion;
    // A resourceVersion the patch sets is a precondition; otherwise the write is conditional on what we read.
    const ownPrecondition = next.metadata.resourceVersion !== undefined && next.metadata.resourceVersion !== currentRv;
    if (!next.metadata.resourceVersion && currentRv !== undefined) next.metadata.resourceVersion = currentRv;
    const prepared = status ? { obj: next, warnings: [] } : prepare(ctx, next);
    if (!status) refuseVmiSpecChange(ctx, current, prepared.obj);
    const warnings = prepared.warnings;
    const obj = status || patchType === 'apply' ? prepared.obj : attributeUpdate(current, prepared.obj, who);
    if (isDryRun) return respondObject(r, rep, ctx, rc, obj, 200, warnings);
    try {
      return respondObject(r, rep, ctx, rc, await write(ctx, kind, obj, status), 200, warnings);
    } catch (err) {
      if (!(err instanceof ConflictError) || ownPrecondition || attempt >= PATCH_RETRIES) throw err;
    }
  }
}
