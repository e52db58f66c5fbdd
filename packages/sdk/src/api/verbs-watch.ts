/** Watches: parameters, encoding per representation, and feeding from the shared hub or a store watch. */
import type { Kind, KubeObject, ListOptions, WatchEvent, WatchOptions } from '@virtkit/engine';
import { parseFieldSelector } from '@virtkit/engine';
import { contentTypeOf, eventLine, negotiate, partialObject, served, servedJson } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { boolParam, includeObject, intParam, kindOf, listOptions, type ResourceRoute } from './request.ts';
import type { ServedResource } from './resources.ts';
import { badRequest, invalidField, statusFromError } from './status.ts';
import { toTable } from './table.ts';
import type { ApiResponse } from './types.ts';
import { hubCanServe, KindHub } from './watch-hub.ts';
import { errorLine, WatchStream } from './watch-stream.ts';

export async function watch(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const r = route.resource;
  const kind = kindOf(r);
  const rep = negotiate(rc.headers.get('accept'));
  const q = rc.query;
  const timeout = watchTimeoutParam(q);
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
      return eventLine(ev.type, servedJson(ctx.json, r, ev.object, ev.type === 'DELETED'));
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
  return watchResponse(ctx, stream, timeout, rep);
}

/** Reads `timeoutSeconds` as the apiserver does: absent or 0 is no limit, negative is a 400. */
export function watchTimeoutParam(q: URLSearchParams): number | undefined {
  const timeout = intParam(q, 'timeoutSeconds');
  if (timeout !== undefined && timeout < 0) throw badRequest('query parameter timeoutSeconds: must not be negative');
  return timeout;
}

/** The 200 response for a fed watch stream: tracked by the server, ended after `timeoutSeconds`. */
export function watchResponse(
  ctx: HandlerContext,
  stream: WatchStream,
  timeoutSeconds: number | undefined,
  rep: ReturnType<typeof negotiate>,
): ApiResponse {
  ctx.watches.add(stream);
  const timer =
    timeoutSeconds === undefined || timeoutSeconds === 0
      ? undefined
      : ctx.clock.setTimer(timeoutSeconds * 1000, () => stream.finish());
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
