/**
 * HTTP to a Kubernetes API server with a KubeConfig's credentials (@kubernetes/client-node resolves
 * tokens, client certificates, exec plugins and in-cluster service-account files). Requests share one
 * keep-alive agent per client: a controller writes status many times a second, and a TLS handshake per
 * request would cost more than the request. Non-2xx answers become virtkit's typed errors.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { TimeoutError, VirtkitError } from '@virtkit/engine';
import { errorFromStatus } from '../client/status-errors.ts';

export interface KubeApiOptions {
  /** A KubeConfig, a kubeconfig path, or absent: $KUBECONFIG / ~/.kube/config / in-cluster service account. */
  kubeconfig?: KubeConfig | string;
  context?: string;
  /** Bound on one non-streaming request, connection included. Default 30 s. */
  requestTimeoutMs?: number;
}

export interface KubeRequest {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export function loadKubeConfig(kubeconfig?: KubeConfig | string, context?: string): KubeConfig {
  let kc: KubeConfig;
  if (kubeconfig instanceof KubeConfig) kc = kubeconfig;
  else {
    kc = new KubeConfig();
    if (typeof kubeconfig === 'string') kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  }
  if (context) kc.setCurrentContext(context);
  if (!kc.getCurrentCluster())
    throw new Error('kubeconfig has no current cluster: pass a context or fix the kubeconfig');
  return kc;
}

/** Parses a response body: JSON when it is JSON, the text otherwise (for error messages). */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class KubeApi {
  readonly kubeConfig: KubeConfig;
  readonly server: URL;
  readonly #timeoutMs: number;
  #agent: HttpAgent | undefined;
  #closed = false;

  constructor(options: KubeApiOptions = {}) {
    this.kubeConfig = loadKubeConfig(options.kubeconfig, options.context);
    this.server = new URL(this.kubeConfig.getCurrentCluster()!.server);
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** The namespace of the kubeconfig's current context (in a pod: the service account's), or `default`. */
  get contextNamespace(): string {
    return this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace ?? 'default';
  }

  async #options(method: string, signal: AbortSignal | undefined, accept: string): Promise<RequestOptions> {
    const opts: RequestOptions = { method, headers: { accept } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // client-node builds a fresh agent without keep-alive; ours reuses connections. A proxy agent is kept.
    if (!this.kubeConfig.getCurrentCluster()?.proxyUrl) {
      this.#agent ??=
        this.server.protocol === 'https:'
          ? new HttpsAgent({
              keepAlive: true,
              ca: opts.ca,
              cert: opts.cert,
              key: opts.key,
              pfx: opts.pfx,
              passphrase: opts.passphrase,
              ...(opts.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: opts.rejectUnauthorized }),
              ...(opts.servername === undefined ? {} : { servername: opts.servername }),
            })
          : new HttpAgent({ keepAlive: true });
      opts.agent = this.#agent;
    }
    if (signal) opts.signal = signal;
    return opts;
  }

  url(path: string, query: KubeRequest['query'] = {}): URL {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** One JSON request; resolves the parsed body of a 2xx answer, rejects with a typed error otherwise. */
  async request<T>(path: string, r: KubeRequest = {}): Promise<T> {
    if (this.#closed) throw new VirtkitError('Internal', 'the store is closed', 503);
    const method = r.method ?? 'GET';
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = r.signal ? AbortSignal.any([r.signal, timeout]) : timeout;
    const opts = await this.#options(method, signal, 'application/json');
    const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
    const headers = opts.headers as Record<string, string>;
    if (payload) {
      headers['content-type'] = r.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const url = this.url(path, r.query);
    return new Promise<T>((resolve, reject) => {
      const fail = (err: unknown) => reject(this.#transportError(err, method, url, timeout));
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = parseBody(Buffer.concat(chunks).toString('utf8'));
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(body as T);
          else reject(errorFromStatus(code, body, body));
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(payload);
    });
  }

  /**
   * A streaming GET (watch, console): resolves the response once its headers arrived with a 2xx status;
   * a non-2xx answer is read whole and rejected as a typed error. The caller consumes and destroys it.
   */
  async stream(path: string, query: KubeRequest['query'], signal: AbortSignal, accept = 'application/json') {
    if (this.#closed) throw new VirtkitError('Internal', 'the store is closed', 503);
    const opts = await this.#options('GET', signal, accept);
    const url = this.url(path, query);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, resolve);
      req.on('error', (err) => reject(this.#transportError(err, 'GET', url, undefined)));
      req.end();
    });
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = parseBody(Buffer.concat(chunks).toString('utf8'));
      throw errorFromStatus(code, body, body);
    }
    return res;
  }

  #transportError(err: unknown, method: string, url: URL, timeout: AbortSignal | undefined): unknown {
    if (timeout?.aborted) {
      return new TimeoutError(`${method} ${url.pathname}: no answer from the API server within ${this.#timeoutMs} ms`, {
        cause: err,
      });
    }
    if ((err as { name?: string }).name === 'AbortError') return err;
    const message = err instanceof Error ? err.message : String(err);
    return new VirtkitError('Internal', `${method} ${url.pathname}: API server unreachable: ${message}`, 503, {
      cause: err,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.#agent?.destroy();
  }
}
