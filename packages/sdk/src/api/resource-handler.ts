/**
 * REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection, the `status`
 * subresource, the implicit `namespaces`, and KubeVirt's action verbs.
 */
import { randomBytes } from 'node:crypto';
import type {
  DeleteOptions,
  Kind,
  KindMap,
  KubeObject,
  ListOptions,
  PatchType,
  WatchEvent,
  WatchOptions,
} from '@virtkit/engine';
import {
  applyJsonPatch,
  applyMergePatch,
  ConflictError,
  defaultObject,
  InvalidSpecError,
  NotFoundError,
  parseFieldSelector,
  validateObject,
} from '@virtkit/engine';
import { bodyText, decodeBody, decodeYaml, parseMediaTypes, requireObject } from './body.ts';
import {
  contentTypeOf,
  eventLine,
  listJson,
  negotiate,
  partialObject,
  type Representation,
  served,
  servedJson,
} from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse, statusResponse } from './handler.ts';
import { KINDS_NAMESPACE_SOURCES, namespaceObject, namespaceProblemOf } from './namespaces.ts';
import { qualifiedName, type ServedResource } from './resources.ts';
import type { Route } from './routes.ts';
import {
  ApiError,
  badRequest,
  invalidField,
  methodNotAllowed,
  notFound,
  type StatusDetails,
  statusFromError,
  statusOf,
  successStatus,
} from './status.ts';
import { toTable } from './table.ts';
import type { ApiResponse } from './types.ts';
import { hubCanServe, KindHub } from './watch-hub.ts';
import { errorLine, WatchStream } from './watch-stream.ts';

type ResourceRoute = Extract<Route, { type: 'resource' }>;
type ActionRoute = Extract<Route, { type: 'action' }>;

const PATCH_TYPES: Record<string, PatchType | 'apply'> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  // Our kinds have no patch strategy metadata; a strategic merge patch then behaves as a merge patch.
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw badRequest(`query parameter ${name}: expected true or false, got "${v}"`);
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`query parameter ${name}: expected an integer, got "${v}"`);
  return Number(v);
}

function dryRun(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values) {
    if (v !== 'All') throw badRequest(`query parameter dryRun: the only supported value is "All", got "${v}"`);
  }
  return values.length > 0;
}

function generateName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const bytes = randomBytes(5);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `${prefix}${s}`;
}

/** What a request is about, for the Status `details` and apiserver-style messages. */
function subject(r: ServedResource, name: string | undefined): Parameters<typeof statusFromError>[1] {
  const s: Parameters<typeof statusFromError>[1] = {
    qualifiedResource: qualifiedName(r),
    group: r.group,
    plural: r.plural,
    kind: r.kind,
  };
  if (name !== undefined) s.name = name;
  return s;
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
      [{ type: 'FieldValueInvalid', field: 'apiVersion', message: `must be ${r.apiVersion}` }],
    );
  }
  if (obj.kind !== undefined && obj.kind !== r.kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${r.kind})`, [
      { type: 'FieldValueInvalid', field: 'kind', message: `must be ${r.kind}` },
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
      );
    }
  } else if (m.namespace !== undefined && m.namespace !== '') {
    throw badRequest(`${r.kind} is cluster-scoped; metadata.namespace must be empty, got "${String(m.namespace)}"`);
  } else delete m.namespace;
  if (urlName !== undefined) {
    if (m.name === undefined || m.name === '') m.name = urlName;
    else if (m.name !== urlName) {
      throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${urlName})`);
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
function prepare(ctx: HandlerContext, submitted: KubeObject): { obj: KubeObject; warnings: string[] } {
  const obj = ctx.options.defaults === false ? submitted : defaultObject(submitted);
  const validator = ctx.options.validate ?? validateObject;
  if (validator === false) return { obj, warnings: [] };
  const { causes, warnings } = validator(obj);
  if (causes.length > 0) throw new InvalidSpecError(obj.kind, obj.metadata.name ?? '', causes);
  return { obj, warnings };
}

function kindOf(r: ServedResource): Kind {
  if (r.storeKind === undefined) throw new ApiError(405, 'MethodNotAllowed', `${r.plural} are read-only here`);
  return r.storeKind;
}

function respondObject(
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
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: servedJson(r, obj) };
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
export function warningHeaders(warnings: readonly string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  const shown = warnings.slice(0, MAX_WARNINGS);
  if (warnings.length > MAX_WARNINGS) shown.push(`${warnings.length - MAX_WARNINGS} more warnings not shown`);
  const quoted = shown.map((w) => `299 - "${w.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`);
  return { warning: quoted.join(', ') };
}

function includeObject(rc: RequestContext): 'None' | 'Metadata' | 'Object' {
  const v = rc.query.get('includeObject') ?? 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`query parameter includeObject: expected None, Metadata or Object, got "${v}"`);
}

function listOptions(route: ResourceRoute, q: URLSearchParams): ListOptions {
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

async function get(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const rep = negotiate(rc.headers.get('accept'));
  const obj = (await ctx.options.store.get(kindOf(r), route.namespace, route.name!)) as KubeObject;
  return respondObject(r, rep, ctx, rc, obj);
}

async function list(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
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
    body: listJson(r, items, result.resourceVersion, result.continue),
  };
}

async function watch(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const q = rc.query;
  const timeout = intParam(q, 'timeoutSeconds');
  if (timeout !== undefined && timeout < 0) throw badRequest('query parameter timeoutSeconds: must not be negative');
  const options: WatchOptions = { ...listOptions(route, q) };
  delete options.limit;
  delete options.continue;
  const rv = q.get('resourceVersion');
  if (rv) options.resourceVersion = rv;
  if (boolParam(q, 'allowWatchBookmarks')) options.allowBookmarks = true;
  // Streaming lists (WatchList): the current state as ADDED events, then a bookmark marking their end.
  let markInitialEnd = false;
  if (boolParam(q, 'sendInitialEvents')) {
    const problem = !options.allowBookmarks
      ? ['allowWatchBookmarks', 'sendInitialEvents requires allowWatchBookmarks=true']
      : q.get('resourceVersionMatch') !== 'NotOlderThan'
        ? ['resourceVersionMatch', 'sendInitialEvents requires resourceVersionMatch=NotOlderThan']
        : rv && rv !== '0'
          ? ['resourceVersion', 'sendInitialEvents is supported from resourceVersion "" or "0" only']
          : undefined;
    if (problem) throw invalidField('ListOptions', problem[0]!, 'FieldValueForbidden', problem[1]!);
    markInitialEnd = true;
  }
  const include = rep.as === 'table' ? includeObject(rc) : 'Metadata';
  const encode = (ev: WatchEvent): string => {
    if (ev.type === 'BOOKMARK' && markInitialEnd) {
      // The store's first bookmark follows the initial events.
      markInitialEnd = false;
      const meta = { ...ev.object.metadata, annotations: { 'k8s.io/initial-events-end': 'true' } };
      return eventLine('BOOKMARK', JSON.stringify(served(r, { ...ev.object, metadata: meta })));
    }
    if (ev.type === 'BOOKMARK' || rep.as === 'json' || rep.as === 'discovery')
      return eventLine(ev.type, servedJson(r, ev.object, ev.type === 'DELETED'));
    if (rep.as === 'partial') return eventLine(ev.type, JSON.stringify(partialObject(rep.apiVersion, ev.object)));
    const table = toTable([served(r, ev.object)], {
      kind: r.kind,
      now: ctx.clock.now(),
      include,
      apiVersion: rep.apiVersion,
      ...(ev.object.metadata.resourceVersion === undefined
        ? {}
        : { resourceVersion: ev.object.metadata.resourceVersion }),
    });
    return eventLine(ev.type, JSON.stringify(table));
  };
  const stream = new WatchStream(ctx.watchLimits);
  const early = await feed(ctx, kind, r, stream, options, encode, markInitialEnd);
  if (early) return early;
  ctx.watches.add(stream);
  const timer =
    timeout === undefined || timeout === 0 ? undefined : ctx.clock.setTimer(timeout * 1000, () => stream.finish());
  stream.signal.addEventListener(
    'abort',
    () => {
      timer?.cancel();
      ctx.watches.delete(stream);
    },
    { once: true },
  );
  const contentType = rep.as === 'json' ? 'application/json' : contentTypeOf(rep);
  return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-cache, private' }, stream };
}

/**
 * Connects a watch response to its events: through the kind's shared hub when its filter allows and the
 * hub reaches back far enough, else through a store watch of its own. Returns a complete response instead
 * when the watch ends before it starts (a compacted resourceVersion).
 */
async function feed(
  ctx: HandlerContext,
  kind: Kind,
  r: ServedResource,
  stream: WatchStream,
  options: WatchOptions,
  encode: (ev: WatchEvent) => string,
  markInitialEnd: boolean,
): Promise<ApiResponse | undefined> {
  const store = ctx.options.store;
  const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector) : undefined;
  if (ctx.watchCacheEvents > 0 && hubCanServe(fields, Boolean(options.labelSelector))) {
    const sub = { stream, namespace: options.namespace, fields, bookmarks: Boolean(options.allowBookmarks), encode };
    const rv = options.resourceVersion ?? '';
    if (rv !== '' && rv !== '0') {
      // Resuming: from the hub's ring when it reaches back that far (versions ahead of the store and
      // malformed ones go to the store, which answers them properly).
      if (/^\d+$/.test(rv) && Number(rv) <= Number(store.currentResourceVersion())) {
        const hub = hubFor(ctx, kind);
        if (hub.subscribe(sub, Number(rv))) return undefined;
        if (hub.subscribers === 0) hub.close();
      }
    } else {
      // The current state first, then changes after it: the list's version is where the hub takes over.
      const listOptions: ListOptions = {};
      if (options.namespace !== undefined) listOptions.namespace = options.namespace;
      if (options.fieldSelector) listOptions.fieldSelector = options.fieldSelector;
      const hub = hubFor(ctx, kind);
      let listed: Awaited<ReturnType<typeof store.list>>;
      try {
        listed = await store.list(kind, listOptions);
      } catch (err) {
        if (hub.subscribers === 0) hub.close();
        throw err;
      }
      const { items, resourceVersion } = listed;
      for (const object of items as KubeObject[]) stream.push(encode({ type: 'ADDED', object }));
      if (options.allowBookmarks) {
        const bookmark: KubeObject = {
          apiVersion: r.storageApiVersion,
          kind: r.kind,
          metadata: markInitialEnd
            ? { resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } }
            : { resourceVersion },
        };
        stream.push(eventLine('BOOKMARK', JSON.stringify(served(r, bookmark))));
      }
      if (hub.subscribe(sub, Number(resourceVersion))) return undefined;
      if (hub.subscribers === 0) hub.close();
      // The hub cannot serve it after all: continue from the list's version on a store watch.
      options = { ...options, resourceVersion };
      delete options.allowBookmarks;
      if (sub.bookmarks) options.allowBookmarks = true;
    }
  }
  // The store checks selectors and the resourceVersion right away: those errors get a proper HTTP status,
  // except a compacted resourceVersion, which the apiserver reports inside the watch (200, then ERROR 410).
  let source: AsyncIterable<WatchEvent>;
  try {
    source = store.watch(kind, { ...options, signal: stream.signal }) as AsyncIterable<WatchEvent>;
  } catch (err) {
    if ((err as { code?: string }).code !== 'Gone') throw err;
    return { status: 200, headers: { 'content-type': 'application/json' }, body: errorLine(statusFromError(err)) };
  }
  void stream.pipeFrom(source, encode);
  return undefined;
}

function hubFor(ctx: HandlerContext, kind: Kind): KindHub {
  let hub = ctx.hubs.get(kind);
  if (!hub) {
    const created = new KindHub(ctx.options.store, kind, ctx.watchCacheEvents, () => {
      if (ctx.hubs.get(kind) === created) ctx.hubs.delete(kind);
    });
    ctx.hubs.set(kind, created);
    hub = created;
  }
  return hub;
}

function decodeRequestObject(rc: RequestContext): unknown {
  return decodeBody(bodyText(rc.body), rc.headers.get('content-type'));
}

async function create(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
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
  const { obj, warnings } = prepare(ctx, submitted);
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

function details(r: ServedResource, name: string): StatusDetails {
  return { name, group: r.group, kind: r.plural };
}

/** Writes an admitted object: `update`, or `updateStatus` for the status subresource. */
async function write(ctx: HandlerContext, kind: Kind, obj: KubeObject, status: boolean): Promise<KubeObject> {
  const store = ctx.options.store;
  return (await (status
    ? store.updateStatus(kind, obj as KindMap[typeof kind])
    : store.update(kind, obj as KindMap[typeof kind]))) as KubeObject;
}

async function update(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const isDry = dryRun(rc.query);
  const submitted = admit(r, decodeRequestObject(rc), route.namespace, route.name);
  const status = route.subresource === 'status';
  const { obj, warnings } = status ? { obj: submitted, warnings: [] } : prepare(ctx, submitted);
  if (isDry) {
    await ctx.options.store.get(kind, route.namespace, route.name!);
    return respondObject(r, rep, ctx, rc, obj, 200, warnings);
  }
  return respondObject(r, rep, ctx, rc, await write(ctx, kind, obj, status), 200, warnings);
}

function patchTypeOf(rc: RequestContext): PatchType | 'apply' {
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
async function patch(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const patchType = patchTypeOf(rc);
  const isDryRun = dryRun(rc.query);
  const text = bodyText(rc.body);
  const store = ctx.options.store;
  const status = route.subresource === 'status';
  const name = route.name!;
  let body: unknown;
  if (patchType === 'apply') {
    // Server-side apply, simplified: create when absent, else merge the applied configuration in. Field
    // ownership (managedFields) and conflicts between field managers are not tracked.
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
      const { obj, warnings } = prepare(ctx, body as KubeObject);
      (obj as KubeObject).apiVersion = r.storageApiVersion;
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
    const next = admit(r, patched, route.namespace, name);
    const currentRv = current.metadata.resourceVersion;
    // A resourceVersion the patch sets is a precondition; otherwise the write is conditional on what we read.
    const ownPrecondition = next.metadata.resourceVersion !== undefined && next.metadata.resourceVersion !== currentRv;
    if (!next.metadata.resourceVersion && currentRv !== undefined) next.metadata.resourceVersion = currentRv;
    const { obj, warnings } = status ? { obj: next, warnings: [] } : prepare(ctx, next);
    if (isDryRun) return respondObject(r, rep, ctx, rc, obj, 200, warnings);
    try {
      return respondObject(r, rep, ctx, rc, await write(ctx, kind, obj, status), 200, warnings);
    } catch (err) {
      if (!(err instanceof ConflictError) || ownPrecondition || attempt >= PATCH_RETRIES) throw err;
    }
  }
}

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

async function remove(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
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

async function deleteCollection(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
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
  return { status: 200, headers: { 'content-type': 'application/json' }, body: listJson(r, deleted, resourceVersion) };
}

async function serveNamespaces(
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
    const problem = namespaceProblemOf(route.name);
    if (problem) throw notFound(`namespaces "${route.name}" not found`);
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
  return { status: 200, headers: { 'content-type': 'application/json' }, body: listJson(r, items, rv) };
}

function optionsBody(rc: RequestContext): Record<string, unknown> {
  const v = decodeRequestObject(rc);
  return v === undefined ? {} : requireObject(v, 'the options in the request body');
}

export async function serveAction(ctx: HandlerContext, rc: RequestContext, route: ActionRoute): Promise<ApiResponse> {
  const what = `${route.resource}/${route.action}`;
  if (rc.method !== 'PUT') throw methodNotAllowed(rc.method, what);
  const actions = ctx.options.actions;
  if (!actions) {
    return statusResponse(
      statusOf(503, 'ServiceUnavailable', `${what} is not available: this API server was started without VM actions`),
    );
  }
  const body = optionsBody(rc);
  const { namespace, name } = route;
  const num = (key: string): number | undefined => {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw invalidField(`${what} options`, key, 'FieldValueInvalid', 'must be a non-negative integer');
    }
    return v;
  };
  try {
    switch (route.action) {
      case 'start': {
        const paused = body.paused;
        if (paused !== undefined && typeof paused !== 'boolean')
          throw invalidField('StartOptions', 'paused', 'FieldValueInvalid', 'must be a boolean');
        await actions.start(namespace, name, paused === undefined ? {} : { paused });
        break;
      }
      case 'stop': {
        const g = num('gracePeriod');
        await actions.stop(namespace, name, g === undefined ? {} : { gracePeriodSeconds: g });
        break;
      }
      case 'restart': {
        const g = num('gracePeriodSeconds');
        await actions.restart(namespace, name, g === undefined ? {} : { gracePeriodSeconds: g });
        break;
      }
      case 'migrate': {
        const sel = body.addedNodeSelector;
        if (
          sel !== undefined &&
          (typeof sel !== 'object' || sel === null || Object.values(sel).some((x) => typeof x !== 'string'))
        ) {
          throw invalidField(
            'MigrateOptions',
            'addedNodeSelector',
            'FieldValueInvalid',
            'must map label keys to string values',
          );
        }
        await actions.migrate(
          namespace,
          name,
          sel === undefined ? {} : { addedNodeSelector: sel as Record<string, string> },
        );
        break;
      }
      case 'pause':
        await actions.pause(namespace, name);
        break;
      case 'unpause':
        await actions.unpause(namespace, name);
        break;
      case 'softreboot':
        await actions.softReboot(namespace, name);
        break;
      default:
        throw notFound('the server could not find the requested resource');
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const group = 'kubevirt.io';
    return statusResponse(
      statusFromError(err, { qualifiedResource: `${route.resource}.${group}`, group, plural: route.resource, name }),
    );
  }
  return { status: 202, headers: {} };
}
