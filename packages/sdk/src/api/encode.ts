/**
 * Response encoding: content negotiation (plain JSON, Table, PartialObjectMetadata, aggregated discovery),
 * served-version conversion, and JSON text of stored objects, cached per store so a list or a watch fan-out
 * serializes each stored object once, not once per client.
 */
import type { KubeObject, ResourceStore, WatchEvent } from '@virtkit/engine';
import { parseMediaTypes } from './body.ts';
import type { ServedResource } from './resources.ts';
import { ApiError } from './status.ts';

export type Representation =
  | { as: 'json' }
  | { as: 'table'; apiVersion: string }
  | { as: 'partial'; apiVersion: string }
  | { as: 'discovery'; apiVersion: string };

const JSON_TYPE = 'application/json';

/**
 * Picks the first representation in the Accept header we can produce. Order matters, q-values are not
 * used (kubectl and client-go list preferences in order). Nothing acceptable: 406.
 */
export function negotiate(accept: string | undefined): Representation {
  const ranges = parseMediaTypes(accept);
  if (ranges.length === 0) return { as: 'json' };
  for (const r of ranges) {
    if (r.type === '*/*' || r.type === 'application/*') return { as: 'json' };
    if (r.type !== JSON_TYPE) continue;
    const { as, g, v } = r.params;
    if (as === undefined) return { as: 'json' };
    if (as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1')) {
      return { as: 'table', apiVersion: `meta.k8s.io/${v}` };
    }
    if (
      (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') &&
      g === 'meta.k8s.io' &&
      (v === 'v1' || v === 'v1beta1')
    ) {
      return { as: 'partial', apiVersion: `meta.k8s.io/${v}` };
    }
    if (as === 'APIGroupDiscoveryList' && g === 'apidiscovery.k8s.io' && (v === 'v2' || v === 'v2beta1')) {
      return { as: 'discovery', apiVersion: `apidiscovery.k8s.io/${v}` };
    }
  }
  throw new ApiError(
    406,
    'NotAcceptable',
    `only the following media types are accepted: application/json, application/json;as=Table;g=meta.k8s.io;v=v1, application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1 (asked for: ${accept})`,
  );
}

/** Content-Type for a negotiated representation. */
export function contentTypeOf(rep: Representation): string {
  switch (rep.as) {
    case 'json':
      return JSON_TYPE;
    case 'table':
      return `${JSON_TYPE};as=Table;v=${rep.apiVersion.split('/')[1]};g=meta.k8s.io`;
    case 'partial':
      return `${JSON_TYPE};as=PartialObjectMetadata;v=${rep.apiVersion.split('/')[1]};g=meta.k8s.io`;
    case 'discovery':
      return `${JSON_TYPE};g=apidiscovery.k8s.io;v=${rep.apiVersion.split('/')[1]};as=APIGroupDiscoveryList`;
  }
}

/** The object as served through `r` (its apiVersion, when `r` is an older served version). */
export function served(r: ServedResource, obj: KubeObject): KubeObject {
  return r.apiVersion === obj.apiVersion || r.storeKind === undefined ? obj : { ...obj, apiVersion: r.apiVersion };
}

/**
 * JSON text of one store's objects, shared by every list and watcher that sends the same object: a watch
 * fan-out then serializes each change once, not once per watcher. Within a store an object's content is fixed
 * by its uid and resourceVersion (every write bumps the version); another store can hold other content under
 * the same pair (two simulations with one seed mint the same uids), hence one cache per store. DELETED events
 * are keyed apart because a watcher whose selector an object stopped matching gets the previous content under
 * the new version. Bounded in entries and bytes; oldest out first.
 */
export class JsonCache {
  readonly #map = new Map<string, string>();
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;

  constructor(maxEntries = 16_384, maxBytes = 32 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  json(obj: KubeObject, deleted = false): string {
    const { uid, resourceVersion } = obj.metadata;
    if (!uid || !resourceVersion) return JSON.stringify(obj);
    const key = `${deleted ? 'D' : 'O'}${uid}@${resourceVersion}`;
    const hit = this.#map.get(key);
    if (hit !== undefined) return hit;
    const text = JSON.stringify(obj);
    if (text.length > this.#maxBytes / 64) return text;
    this.#map.set(key, text);
    this.#bytes += text.length;
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const [oldest, value] = this.#map.entries().next().value as [string, string];
      this.#map.delete(oldest);
      this.#bytes -= value.length;
    }
    return text;
  }

  get size(): number {
    return this.#map.size;
  }
}

const caches = new WeakMap<ResourceStore, JsonCache>();

/** The JSON cache of `store`'s objects, shared by every handler serving that store; it goes with the store. */
export function jsonCacheOf(store: ResourceStore): JsonCache {
  let cache = caches.get(store);
  if (cache === undefined) {
    cache = new JsonCache();
    caches.set(store, cache);
  }
  return cache;
}

/** JSON of the object served through `r`; only the apiVersion differs for older versions. */
export function servedJson(cache: JsonCache, r: ServedResource, obj: KubeObject, deleted = false): string {
  if (r.apiVersion === obj.apiVersion || r.storeKind === undefined) return cache.json(obj, deleted);
  return JSON.stringify(served(r, obj));
}

export function eventLine(type: WatchEvent['type'], objectText: string): string {
  return `{"type":"${type}","object":${objectText}}\n`;
}

export function listJson(
  cache: JsonCache,
  r: ServedResource,
  items: readonly KubeObject[],
  resourceVersion: string,
  cont?: string,
): string {
  const metadata: Record<string, string> = { resourceVersion };
  if (cont) metadata.continue = cont;
  const head = `{"kind":${JSON.stringify(`${r.kind}List`)},"apiVersion":${JSON.stringify(r.apiVersion)},"metadata":${JSON.stringify(metadata)},"items":[`;
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) parts[i] = servedJson(cache, r, items[i]!);
  return `${head}${parts.join(',')}]}`;
}

export function partialObject(apiVersion: string, obj: KubeObject): unknown {
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: obj.metadata };
}
