/**
 * The transport-free Kubernetes API: `handleRequest(request) → response`. The node:http server, the msw
 * handlers and the interceptor helper all go through it, so each behaves exactly like the others.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Clock, type Kind, RealClock } from '@virtkit/engine';
import { bodySize, DEFAULT_MAX_BODY_BYTES, tooLarge } from './body.ts';
import {
  aggregatedDiscovery,
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  VERSION_INFO,
} from './discovery.ts';
import { contentTypeOf, type JsonCache, jsonCacheOf, negotiate } from './encode.ts';
import { openapiV3Document, openapiV3Root } from './openapi.ts';
import { serveAction, serveResource } from './resource-handler.ts';
import { serveReview } from './reviews.ts';
import { parseRoute } from './routes.ts';
import { methodNotAllowed, notFound, type Status, statusFromError, statusOf } from './status.ts';
import type { ApiHandlerOptions, ApiRequest, ApiResponse } from './types.ts';
import type { KindHub } from './watch-hub.ts';
import { DEFAULT_WATCH_LIMITS, type WatchBufferLimits, type WatchStream } from './watch-stream.ts';

export interface ApiHandler {
  /** The bearer token clients must send; undefined when authentication is off. */
  readonly token: string | undefined;
  handleRequest(request: ApiRequest): Promise<ApiResponse>;
  /** Watches currently open. */
  readonly openWatches: number;
  /** Ends every open watch (what is buffered is still delivered). */
  closeWatches(): void;
}

/** Everything a request handler needs; built once per handler. */
export interface HandlerContext {
  options: ApiHandlerOptions;
  clock: Clock;
  watchLimits: WatchBufferLimits;
  watches: Set<WatchStream>;
  /** Shared watches per kind (see watch-hub.ts); 0 events: none, every watcher has its own store watch. */
  hubs: Map<Kind, KindHub>;
  watchCacheEvents: number;
  /** JSON text of the store's objects (see encode.ts). */
  json: JsonCache;
  /** When this handler started: the creation time of the implicit namespaces. */
  startedAt: number;
}

export interface RequestContext {
  method: string;
  query: URLSearchParams;
  headers: Map<string, string>;
  body: string | Uint8Array | undefined;
}

export function jsonResponse(status: number, body: unknown, contentType = 'application/json'): ApiResponse {
  return { status, headers: { 'content-type': contentType }, body: JSON.stringify(body) };
}

export function statusResponse(s: Status): ApiResponse {
  return jsonResponse(s.code, s);
}

function normalizeHeaders(h: ApiRequest['headers']): Map<string, string> {
  const out = new Map<string, string>();
  if (!h) return out;
  if (typeof (h as Headers).forEach === 'function' && typeof (h as Headers).get === 'function') {
    (h as Headers).forEach((v, k) => {
      out.set(k.toLowerCase(), v);
    });
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, string | string[] | undefined>)) {
    if (v !== undefined) out.set(k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v);
  }
  return out;
}

function normalizeQuery(q: ApiRequest['query']): URLSearchParams {
  if (q === undefined) return new URLSearchParams();
  if (typeof q === 'string') return new URLSearchParams(q.startsWith('?') ? q.slice(1) : q);
  if (q instanceof URLSearchParams) return q;
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out.set(k, v);
  return out;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function authorized(expected: Buffer | undefined, header: string | undefined): boolean {
  if (!expected) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), expected);
}

const UNAUTHORIZED = statusOf(401, 'Unauthorized', 'Unauthorized: a valid bearer token is required');

const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/** The same type as the apiserver labels it in responses (Go's mime parser rejects the `@`). */
const OPENAPI_V2_PROTOBUF_RESPONSE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/**
 * OpenAPI v2 is a valid empty document: kubectl's client-side validation then finds no schema for a kind and
 * skips it (the server's own validation answers with 422 and causes). v3 carries the schemas of the fields
 * virtkit supports, without paths (see openapi.ts), for `kubectl explain`.
 */
function openapi(path: string, accept: string | undefined): ApiResponse {
  if (path === 'v2') {
    // An empty protobuf message is a valid, empty openapi_v2.Document.
    if (accept?.includes(OPENAPI_V2_PROTOBUF))
      return { status: 200, headers: { 'content-type': OPENAPI_V2_PROTOBUF_RESPONSE }, body: '' };
    return jsonResponse(200, {
      swagger: '2.0',
      info: { title: 'virtkit', version: VERSION_INFO.gitVersion },
      paths: {},
      definitions: {},
    });
  }
  if (path === 'v3') return jsonResponse(200, openapiV3Root());
  const doc = path.startsWith('v3/') ? openapiV3Document(path.slice(3)) : undefined;
  if (doc !== undefined) return { status: 200, headers: { 'content-type': 'application/json' }, body: doc };
  throw notFound('the server could not find the requested resource');
}

export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const token = options.token === false ? undefined : (options.token ?? randomBytes(24).toString('base64url'));
  const expected = token === undefined ? undefined : digest(token);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const ctx: HandlerContext = {
    options,
    clock: options.clock ?? new RealClock(),
    watchLimits: { ...DEFAULT_WATCH_LIMITS, ...options.watchLimits },
    watches: new Set(),
    hubs: new Map(),
    watchCacheEvents: options.watchCacheEvents ?? 1024,
    json: jsonCacheOf(options.store),
    startedAt: 0,
  };
  ctx.startedAt = ctx.clock.now();

  async function handle(request: ApiRequest): Promise<ApiResponse> {
    const method = request.method.toUpperCase();
    const headers = normalizeHeaders(request.headers);
    const route = parseRoute(request.path);
    if (route.type === 'health') return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };
    // Like the apiserver's public-info-viewer role, /version needs no credentials (kubectl wrappers probe it).
    if (route.type === 'version' && (method === 'GET' || method === 'HEAD')) return jsonResponse(200, VERSION_INFO);
    if (!authorized(expected, headers.get('authorization'))) return statusResponse(UNAUTHORIZED);
    if (bodySize(request.body) > maxBody) throw tooLarge(maxBody);
    const rc: RequestContext = { method, query: normalizeQuery(request.query), headers, body: request.body };
    const readOnly = (what: string): void => {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, what);
    };
    switch (route.type) {
      case 'version':
        readOnly(request.path);
        return jsonResponse(200, VERSION_INFO);
      case 'coreVersions':
      case 'groups': {
        readOnly(request.path);
        const rep = negotiate(headers.get('accept'));
        const core = route.type === 'coreVersions';
        if (rep.as === 'discovery')
          return jsonResponse(200, aggregatedDiscovery(core, rep.apiVersion), contentTypeOf(rep));
        return jsonResponse(200, core ? apiVersions(options.serverAddress ?? '127.0.0.1') : apiGroupList());
      }
      case 'group': {
        readOnly(request.path);
        const doc = apiGroupDocument(route.group);
        if (!doc) throw notFound('the server could not find the requested resource');
        return jsonResponse(200, doc);
      }
      case 'resourceList': {
        readOnly(request.path);
        const doc = apiResourceList(route.group, route.version);
        if (!doc) throw notFound('the server could not find the requested resource');
        return jsonResponse(200, doc);
      }
      case 'openapi':
        readOnly(request.path);
        return openapi(route.path, headers.get('accept'));
      case 'resource':
        return serveResource(ctx, rc, route);
      case 'action':
        return serveAction(ctx, rc, route);
      case 'review':
        return serveReview(rc, route.review);
      case 'notFound':
        throw notFound('the server could not find the requested resource');
    }
  }

  return {
    token,
    async handleRequest(request) {
      try {
        return await handle(request);
      } catch (err) {
        return statusResponse(statusFromError(err));
      }
    },
    get openWatches() {
      return ctx.watches.size;
    },
    closeWatches() {
      for (const w of ctx.watches) w.finish();
      for (const h of ctx.hubs.values()) h.close();
    },
  };
}
