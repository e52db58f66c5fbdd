/**
 * The API server on node:https (node:http with `tls: false`): a thin transport around `handleRequest` that
 * enforces the body limit while reading, and streams watches with socket backpressure.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { DEFAULT_MAX_BODY_BYTES, tooLarge } from './body.ts';
import { type ApiHandler, createApiHandler, statusResponse } from './handler.ts';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
import { listen } from './listen.ts';
import { statusFromError } from './status.ts';
import { createServingCertificate, type ServingCertificate } from './tls.ts';
import type { ApiHandlerOptions, ApiRequest, ApiResponse, ResponseStream } from './types.ts';

export interface ApiServerOptions extends ApiHandlerOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * TLS certificate and key (PEM). Default: a fresh self-signed one for 127.0.0.1/localhost, which the
   * kubeconfig carries as the cluster CA. `false`: plain HTTP — but Kubernetes clients (kubectl, client-go)
   * never send a bearer token over plain HTTP, so pair it with `token: false` for them.
   */
  tls?: ServingCertificate | false;
  /** How long a watch client whose buffer overflowed may take to read its final error before it is cut off. */
  stalledWatchGraceMs?: number;
}

export interface ApiServer {
  /** `https://host:port` (`http://` with `tls: false`). */
  readonly url: string;
  /** The serving certificate (PEM) clients should trust; undefined with `tls: false`. */
  readonly caCertificate: string | undefined;
  /** Bearer token clients must send; undefined when authentication is off. */
  readonly token: string | undefined;
  /** The same API without the transport (for msw handlers, interceptors, tests). */
  handleRequest(request: ApiRequest): Promise<ApiResponse>;
  readonly handler: ApiHandler;
  /** Client connections currently open (keep-alive and watches included). */
  readonly openConnections: number;
  /** The kubeconfig text for this server (context `virtkit`); written (mode 0600) when a path is given. */
  kubeconfig(path?: string): Promise<string>;
  /** Ends watches, closes connections, stops listening. The store stays open. */
  close(): Promise<void>;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve('tooLarge');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve('tooLarge');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

function writeWhole(res: ServerResponse, r: ApiResponse, head: boolean): void {
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  res.writeHead(r.status, { ...r.headers, 'content-length': String(body?.length ?? 0) });
  res.end(head ? undefined : body);
}

/** Streams a watch (or console) to the client at the client's pace; the stream's buffer absorbs bursts. */
async function pipeStream(res: ServerResponse, r: ApiResponse, stream: ResponseStream, graceMs: number): Promise<void> {
  res.writeHead(r.status, r.headers);
  res.flushHeaders();
  let closed = false;
  res.once('close', () => {
    closed = true;
    stream.cancel();
  });
  // A client that stopped reading never drains; once its buffer overflowed, give it `graceMs` to catch up.
  void stream.overflowed.then(() => {
    const t = setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, graceMs);
    t.unref();
    res.once('close', () => clearTimeout(t));
  });
  for (let chunk = await stream.next(); chunk !== undefined && !closed; chunk = await stream.next()) {
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!closed) res.end();
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const graceMs = options.stalledWatchGraceMs ?? 10_000;
  let serverAddress = `${host}:${options.port ?? 0}`;
  const handler = createApiHandler({
    ...options,
    get serverAddress() {
      return serverAddress;
    },
  });

  const tls = options.tls === false ? undefined : (options.tls ?? createServingCertificate());
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void serve(req, res).catch((err) => {
      if (!res.headersSent) writeWhole(res, statusResponse(statusFromError(err)), false);
      else res.destroy();
    });
  };
  const serverOptions = { keepAliveTimeout: 30_000, noDelay: true };
  const server = tls
    ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, onRequest)
    : createHttpServer(serverOptions, onRequest);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const body = await readBody(req, limit);
    if (body === 'tooLarge') {
      res.setHeader('connection', 'close');
      writeWhole(res, statusResponse(statusFromError(tooLarge(limit))), false);
      return;
    }
    const r = await handler.handleRequest({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      ...(body.length ? { body } : {}),
    });
    if (r.stream) await pipeStream(res, r, r.stream, graceMs);
    else writeWhole(res, r, method === 'HEAD');
  }

  const listening = await listen(server, options.port ?? 0, host);
  serverAddress = listening.address;
  const url = listening.url;
  const kc = { server: url, token: handler.token, ...(tls ? { caCertificate: tls.cert } : {}) };

  return {
    url,
    token: handler.token,
    caCertificate: tls?.cert,
    handler,
    handleRequest: (request) => handler.handleRequest(request),
    get openConnections() {
      return listening.connections;
    },
    kubeconfig: (path) => (path === undefined ? Promise.resolve(kubeconfigYaml(kc)) : writeKubeconfig(path, kc)),
    async close() {
      // Watches are told to finish; whatever still holds a connection is then cut.
      handler.closeWatches();
      await listening.close();
    },
  };
}
