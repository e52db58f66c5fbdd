/**
 * The `scale` subresource: an autoscaling/v1 Scale view of a replica set's spec.replicas, which is what
 * `kubectl scale` (and the HPA) read and write — it never touches the resource itself.
 */
import {
  applyJsonPatch,
  applyMergePatch,
  ConflictError,
  type KindMap,
  type KubeObject,
  NotFoundError,
} from '@virtkit/engine';
import { bodyText, decodeBody, requireObject } from './body.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse } from './handler.ts';
import { attributeUpdate } from './managed-fields.ts';
import { decodeRequestObject, dryRun, kindOf, type ResourceRoute } from './request.ts';
import { badRequest, invalidField, methodNotAllowed } from './status.ts';
import type { ApiResponse } from './types.ts';
import { attribution, patchTypeOf, prepare, write } from './verbs-write.ts';

interface Scale {
  kind: 'Scale';
  apiVersion: 'autoscaling/v1';
  metadata: Record<string, unknown>;
  spec: { replicas: number };
  status: { replicas: number; selector?: string };
}

const rec = (x: unknown): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};

function scaleOf(obj: KubeObject): Scale {
  const m = obj.metadata;
  const metadata: Record<string, unknown> = { name: m.name, namespace: m.namespace };
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (m.creationTimestamp !== undefined) metadata.creationTimestamp = m.creationTimestamp;
  const spec = rec((obj as { spec?: unknown }).spec);
  const status = rec((obj as { status?: unknown }).status);
  const scale: Scale = {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata,
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0 },
  };
  if (typeof status.labelSelector === 'string') scale.status.selector = status.labelSelector;
  return scale;
}

/** The replica count a submitted Scale asks for, checked like the apiserver's Scale validation. */
function desiredReplicas(value: unknown): { replicas: number; resourceVersion: string | undefined } {
  const scale = requireObject(value, 'the Scale in the request body');
  if (scale.kind !== undefined && scale.kind !== 'Scale') {
    throw badRequest(`the kind in the data (${String(scale.kind)}) does not match the expected kind (Scale)`);
  }
  // Go clients omit a zero replica count (omitempty): absent means 0.
  const replicas = rec(scale.spec).replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas)) {
    throw invalidField('Scale', 'spec.replicas', 'FieldValueInvalid', 'must be an integer');
  }
  if (replicas < 0) {
    throw invalidField('Scale', 'spec.replicas', 'FieldValueInvalid', 'must be greater than or equal to 0');
  }
  const rv = rec(scale.metadata).resourceVersion;
  return { replicas, resourceVersion: typeof rv === 'string' && rv !== '' ? rv : undefined };
}

/** How often a patch is re-applied when the replica set changed between reading and writing it. */
const RETRIES = 5;

export async function serveScale(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const store = ctx.options.store;
  const name = route.name!;
  const read = async (): Promise<KubeObject> => {
    const obj = (await store.tryGet(kind, route.namespace, name)) as KubeObject | undefined;
    if (!obj) throw new NotFoundError(r.kind, name, route.namespace);
    return obj;
  };
  if (rc.method === 'GET' || rc.method === 'HEAD') return jsonResponse(200, scaleOf(await read()));
  if (rc.method !== 'PUT' && rc.method !== 'PATCH') throw methodNotAllowed(rc.method, `${r.plural}/scale`);
  const patchType = rc.method === 'PATCH' ? patchTypeOf(rc) : undefined;
  if (patchType === 'apply') throw badRequest('server-side apply is not supported on the scale subresource');
  const body = patchType === undefined ? decodeRequestObject(rc) : decodeBody(bodyText(rc.body), 'application/json');
  for (let attempt = 0; ; attempt++) {
    const current = await read();
    const submitted =
      patchType === undefined
        ? body
        : patchType === 'json'
          ? applyJsonPatch(scaleOf(current), body, { kind: 'Scale', name })
          : applyMergePatch(scaleOf(current), body);
    const { replicas, resourceVersion } = desiredReplicas(submitted);
    // A resourceVersion in a PUT body, or one a patch changes, is a precondition, as on any update.
    const precondition =
      resourceVersion !== undefined &&
      (patchType === undefined || resourceVersion !== current.metadata.resourceVersion);
    const next = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: resourceVersion ?? current.metadata.resourceVersion },
      spec: { ...rec((current as { spec?: unknown }).spec), replicas },
    } as KubeObject;
    // The scaler owns spec.replicas from now on, so a later apply of another count conflicts with it.
    const obj = attributeUpdate(current, prepare(ctx, next).obj, attribution(ctx, rc, r));
    if (dryRun(rc.query)) return jsonResponse(200, scaleOf(obj));
    try {
      return jsonResponse(200, scaleOf(await write(ctx, kind, obj as KindMap[typeof kind] & KubeObject, false)));
    } catch (err) {
      if (!(err instanceof ConflictError) || precondition || attempt >= RETRIES) throw err;
    }
  }
}
