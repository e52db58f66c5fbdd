/**
 * Kubernetes mode: talks to any Kubernetes-compatible API server serving the kubevirt.io/v1 CRDs
 * (virtkit's own `virtkit up`, or a real cluster) through @kubernetes/client-node's KubeConfig and Watch.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import {
  type DeleteOptions,
  GoneError,
  KINDS,
  type Kind,
  type KindMap,
  type ListOptions,
  type ListResult,
  type PatchType,
  RealClock,
  type WatchEvent,
  type WatchOptions,
} from '@virtkit/engine';
import { errorFromStatus } from './status-errors.ts';
import type { Transport, VerbBody, VmiVerb, VmVerb } from './transport.ts';

export interface KubernetesTransportOptions {
  /** A KubeConfig, a path to a kubeconfig file, or absent for the default loading rules ($KUBECONFIG, ~/.kube/config). */
  kubeconfig?: string | KubeConfig;
  context?: string;
  namespace?: string;
  /**
   * How long a watch connection may carry nothing before it is dropped and resumed (client-node's
   * default: 30 s). Resuming is invisible to the consumer.
   */
  watchIdleTimeoutMs?: number;
}

const CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

function basePath(kind: Kind, namespace: string | undefined): string {
  const info = KINDS[kind];
  const root = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  return info.namespaced && namespace
    ? `${root}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`
    : `${root}/${info.plural}`;
}

export class KubernetesTransport implements Transport {
  readonly mode = 'kubernetes' as const;
  readonly clock = new RealClock();
  readonly defaultNamespace: string;
  readonly kubeConfig: KubeConfig;
  readonly #server: URL;
  readonly #watchIdleTimeoutMs: number | undefined;

  constructor(options: KubernetesTransportOptions = {}) {
    this.#watchIdleTimeoutMs = options.watchIdleTimeoutMs;
    let kc: KubeConfig;
    if (options.kubeconfig instanceof KubeConfig) kc = options.kubeconfig;
    else {
      kc = new KubeConfig();
      if (typeof options.kubeconfig === 'string') kc.loadFromFile(options.kubeconfig);
      else kc.loadFromDefault();
    }
    if (options.context) kc.setCurrentContext(options.context);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster: pass `context` or fix the kubeconfig');
    this.kubeConfig = kc;
    this.#server = new URL(cluster.server);
    const ctx = kc.getContextObject(kc.getCurrentContext());
    this.defaultNamespace = options.namespace ?? ctx?.namespace ?? 'default';
  }

  /** One HTTP request with the kubeconfig's credentials; JSON in and out; Status bodies become typed errors. */
  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(path, this.#server);
    const opts: RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = opts.headers as Record<string, string>;
    if (payload) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(payload.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text for the error message
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(parsed as T);
          else reject(errorFromStatus(code, parsed));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    return this.request('POST', basePath(kind, obj.metadata.namespace ?? this.defaultNamespace), obj);
  }

  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): Promise<KindMap[K]> {
    return this.request('GET', `${basePath(kind, namespace)}/${encodeURIComponent(name)}`);
  }

  async list<K extends Kind>(kind: K, options: ListOptions = {}): Promise<ListResult<KindMap[K]>> {
    const q = new URLSearchParams();
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
    if (options.limit) q.set('limit', String(options.limit));
    if (options.continue) q.set('continue', options.continue);
    const qs = q.size ? `?${q}` : '';
    const list = await this.request<{ items: KindMap[K][]; metadata: { resourceVersion: string; continue?: string } }>(
      'GET',
      `${basePath(kind, options.namespace)}${qs}`,
    );
    const out: ListResult<KindMap[K]> = { items: list.items ?? [], resourceVersion: list.metadata.resourceVersion };
    if (list.metadata.continue) out.continue = list.metadata.continue;
    for (const item of out.items) {
      item.apiVersion ??= KINDS[kind].apiVersion as KindMap[K]['apiVersion'];
      item.kind ??= kind;
    }
    return out;
  }

  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    const name = encodeURIComponent(obj.metadata.name ?? '');
    return this.request('PUT', `${basePath(kind, obj.metadata.namespace ?? this.defaultNamespace)}/${name}`, obj);
  }

  patch<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
  ): Promise<KindMap[K]> {
    return this.request(
      'PATCH',
      `${basePath(kind, namespace)}/${encodeURIComponent(name)}`,
      patch,
      CONTENT_TYPES[type],
    );
  }

  async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): Promise<void> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions', ...options };
    await this.request('DELETE', `${basePath(kind, namespace)}/${encodeURIComponent(name)}`, body);
  }

  /**
   * client-node's Watch gives up on a connection that carried nothing for 30 s (its inactivity timeout),
   * which a quiet watch on a healthy server does all the time. Such an end is not the consumer's concern:
   * the watch resumes from the last resourceVersion it delivered, as client-go's reflector does. A 410 or
   * any other error still ends it.
   */
  async *watch<K extends Kind>(kind: K, options: WatchOptions = {}): AsyncIterable<WatchEvent<KindMap[K]>> {
    let resourceVersion = options.resourceVersion;
    for (;;) {
      const once = this.#watchOnce<K>(kind, {
        ...options,
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      });
      let end: 'idle' | 'closed';
      for (;;) {
        const r = await once.next();
        if (r.done) {
          end = r.value;
          break;
        }
        resourceVersion = r.value.object.metadata?.resourceVersion ?? resourceVersion;
        yield r.value;
      }
      // Without a version to resume from, a new watch would replay every object as ADDED: end instead.
      if (end !== 'idle' || options.signal?.aborted || resourceVersion === undefined) return;
    }
  }

  async *#watchOnce<K extends Kind>(
    kind: K,
    options: WatchOptions,
  ): AsyncGenerator<WatchEvent<KindMap[K]>, 'idle' | 'closed'> {
    const queue: WatchEvent<KindMap[K]>[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let idle = false;
    let failure: unknown;
    const params: Record<string, string | boolean> = { allowWatchBookmarks: options.allowBookmarks ?? false };
    if (options.resourceVersion) params.resourceVersion = options.resourceVersion;
    if (options.labelSelector) params.labelSelector = options.labelSelector;
    if (options.fieldSelector) params.fieldSelector = options.fieldSelector;
    const watch = new Watch(this.kubeConfig);
    // client-node declares the field private (TypeScript only); it is the inactivity timeout it arms.
    if (this.#watchIdleTimeoutMs !== undefined)
      (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.#watchIdleTimeoutMs;
    const ctrl = await watch.watch(
      basePath(kind, options.namespace),
      params,
      (phase, obj) => {
        if (phase === 'ERROR') {
          const code = (obj as { code?: number }).code ?? 500;
          failure =
            code === 410
              ? new GoneError((obj as { message?: string }).message ?? 'too old resource version')
              : errorFromStatus(code, obj);
          finished = true;
        } else {
          queue.push({ type: phase as WatchEvent['type'], object: obj as KindMap[K] });
        }
        wake?.();
      },
      (err) => {
        if (err && !finished && !options.signal?.aborted) {
          if ((err as { name?: string }).name === 'TimeoutError') idle = true;
          else failure = err;
        }
        finished = true;
        wake?.();
      },
    );
    const onAbort = () => {
      finished = true;
      ctrl.abort();
      wake?.();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (finished) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
      if (failure && !options.signal?.aborted) throw failure;
      return idle ? 'idle' : 'closed';
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      ctrl.abort();
    }
  }

  vmVerb(namespace: string, name: string, verb: VmVerb, body: VerbBody = {}): Promise<unknown> {
    return this.request(
      'PUT',
      `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}/${verb}`,
      // KubeVirt names the grace period `gracePeriod` in StopOptions but `gracePeriodSeconds` in RestartOptions.
      verb === 'restart' && body.gracePeriod !== undefined ? { gracePeriodSeconds: body.gracePeriod } : body,
    );
  }

  async vmiVerb(namespace: string, name: string, verb: VmiVerb): Promise<void> {
    await this.request(
      'PUT',
      `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachineinstances/${encodeURIComponent(name)}/${verb}`,
      {},
    );
  }

  async *console(namespace: string, name: string, options: { signal?: AbortSignal } = {}): AsyncIterable<string> {
    const url = new URL(
      `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachineinstances/${encodeURIComponent(name)}/console`,
      this.#server,
    );
    const opts: RequestOptions = { method: 'GET', headers: { accept: 'text/plain' } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    if (options.signal) opts.signal = options.signal;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = send(url, opts, resolve);
      req.on('error', reject);
      req.end();
    });
    if ((res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      throw errorFromStatus(res.statusCode ?? 0, parsed);
    }
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let i = buf.indexOf('\n');
        while (i >= 0) {
          yield buf.slice(0, i);
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
        }
      }
    } catch (e) {
      if (!options.signal?.aborted) throw e;
    }
    if (buf) yield buf;
  }

  async close(): Promise<void> {}
}
