/**
 * `serveNodeDriver`: a node agent's NodeDriver (LibvirtNodeDriver, or a SimNode) over HTTP(S), for the
 * controller's RemoteNodeDriver. Calls run concurrently, as the engine issues them; each answers with the
 * method's result or the DriverError it threw (reason preserved). Events are kept in a bounded ring with
 * sequence numbers, so a controller that reconnects (network blip, controller failover) continues where
 * it left off instead of missing a Stopped event.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { DomainEvent, NodeDriver } from '@virtkit/engine';
import { listen } from '../api/listen.ts';
import type { ServingCertificate } from '../api/tls.ts';
import { CALL_METHODS, type CallMethod, type ConsoleLine, type EventLine, toWireError } from './node-rpc.ts';
import { servingCertificate } from './serving-certificate.ts';

export interface NodeDriverServerOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1; an agent pod listens on 0.0.0.0 (or its pod IP). */
  host?: string;
  /** Bearer token every request must carry; `false` turns authentication off (local tests only). */
  token: string | false;
  /**
   * TLS certificate and key. Default: a fresh self-signed one for `certificateHosts`, which the agent
   * publishes with its endpoint so the controller trusts exactly it. `false`: plain HTTP.
   */
  tls?: ServingCertificate | false;
  /** Names and addresses the generated certificate is for. Default 127.0.0.1, localhost, ::1. */
  certificateHosts?: string[];
  /** Events kept for reconnecting clients. Default 4096. */
  eventBuffer?: number;
  /** Heartbeat line interval on idle event streams (real time), so clients notice dead connections. Default 15 s. */
  heartbeatMs?: number;
  /** Largest accepted request body. Default 4 MiB. */
  maxBodyBytes?: number;
}

export interface NodeDriverServer {
  /** `https://host:port` (`http://` without TLS). */
  readonly url: string;
  readonly port: number;
  /** PEM of the serving certificate, for the controller to trust; undefined without TLS. */
  readonly certificate: string | undefined;
  /** Identifies this server process; event sequence numbers restart with a new epoch. */
  readonly epoch: string;
  /** Calls being served right now. */
  readonly inflight: number;
  /** Event streams currently connected. */
  readonly eventStreams: number;
  /** Stops listening and ends every stream; the driver stays open (its owner closes it). */
  close(): Promise<void>;
}

/** A client this far behind (bytes not yet taken by the socket) is cut off; it reconnects and replays. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function serveNodeDriver(driver: NodeDriver, options: NodeDriverServerOptions): Promise<NodeDriverServer> {
  const host = options.host ?? '127.0.0.1';
  const expected = options.token === false ? undefined : Buffer.from(`Bearer ${options.token}`);
  const capacity = options.eventBuffer ?? 4096;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const tls =
    options.tls === false
      ? undefined
      : (options.tls ?? servingCertificate(options.certificateHosts ?? ['127.0.0.1', 'localhost', '::1']));
  const epoch = randomBytes(8).toString('hex');
  const ring: { seq: number; event: DomainEvent }[] = [];
  let seq = 0;
  let inflight = 0;
  const streams = new Set<ServerResponse>();
  const consoles = new Set<AbortController>();

  const send = (res: ServerResponse, line: EventLine | ConsoleLine): void => {
    if (res.writableLength > MAX_PENDING_BYTES) {
      res.destroy();
      return;
    }
    res.write(`${JSON.stringify(line)}\n`);
  };

  const unsubscribe = driver.onEvent((event) => {
    const entry = { seq: ++seq, event };
    ring.push(entry);
    if (ring.length > capacity) ring.shift();
    for (const res of streams) send(res, entry);
  });

  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  async function call(method: CallMethod, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, maxBody);
    if (text === undefined) {
      json(res, 413, { error: { reason: 'InvalidSpec', node: driver.nodeName, message: 'request body too large' } });
      return;
    }
    let args: unknown;
    try {
      args = text ? JSON.parse(text) : [];
    } catch {
      args = undefined;
    }
    if (!Array.isArray(args)) {
      json(res, 400, {
        error: { reason: 'InvalidSpec', node: driver.nodeName, message: 'the body must be a JSON array of arguments' },
      });
      return;
    }
    inflight++;
    try {
      const fn = driver[method] as (...a: unknown[]) => Promise<unknown>;
      const result = await fn.apply(driver, args);
      json(res, 200, result === undefined ? {} : { result });
    } catch (err) {
      json(res, 500, { error: toWireError(err, driver.nodeName) });
    } finally {
      inflight--;
    }
  }

  function events(url: URL, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    const since = Number(url.searchParams.get('since') ?? Number.NaN);
    const sameEpoch = url.searchParams.get('epoch') === epoch;
    // A replay is complete when every event after `since` is still in the ring.
    const oldest = ring[0]?.seq ?? seq + 1;
    const replayed = sameEpoch && Number.isSafeInteger(since) && since >= oldest - 1 && since <= seq;
    send(res, { hello: { epoch, replayed, seq } });
    if (replayed) for (const e of ring) if (e.seq > since) send(res, e);
    streams.add(res);
    const beat = setInterval(() => send(res, { heartbeat: Date.now() }), heartbeatMs);
    beat.unref();
    res.once('close', () => {
      clearInterval(beat);
      streams.delete(res);
    });
  }

  async function consoleStream(id: string, url: URL, res: ServerResponse): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    // The client's open() resolves on the headers; a quiet console must not hold them back.
    res.flushHeaders();
    const ac = new AbortController();
    consoles.add(ac);
    res.once('close', () => ac.abort());
    try {
      const fromStart = url.searchParams.get('fromStart') === 'true';
      for await (const line of driver.console(id, { signal: ac.signal, fromStart })) {
        if (ac.signal.aborted) break;
        send(res, { line });
      }
      if (!ac.signal.aborted) send(res, { end: true });
    } catch (err) {
      if (!ac.signal.aborted) send(res, { error: toWireError(err, driver.nodeName) });
    } finally {
      consoles.delete(ac);
      res.end();
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (!authorized(req)) {
      json(res, 401, { error: { reason: 'Internal', node: driver.nodeName, message: 'unauthorized' } });
      return;
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'v1' && parts[1] === 'call' && parts.length === 3 && req.method === 'POST') {
      const method = parts[2] as CallMethod;
      if (CALL_METHODS.includes(method)) return call(method, req, res);
    }
    if (parts[0] === 'v1' && parts[1] === 'events' && parts.length === 2 && req.method === 'GET') {
      events(url, res);
      return;
    }
    if (parts[0] === 'v1' && parts[1] === 'console' && parts.length === 3 && req.method === 'GET') {
      return consoleStream(parts[2]!, url, res);
    }
    json(res, 404, {
      error: {
        reason: 'Unsupported',
        node: driver.nodeName,
        message: `no such endpoint: ${req.method} ${url.pathname}`,
      },
    });
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: toWireError(err, driver.nodeName) });
      else res.destroy();
    });
  };
  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 30_000, noDelay: true }, onRequest)
    : createHttpServer({ keepAliveTimeout: 30_000, noDelay: true }, onRequest);
  const listening = await listen(server, options.port ?? 0, host);

  return {
    url: listening.url,
    port: listening.port,
    certificate: tls?.cert,
    epoch,
    get inflight() {
      return inflight;
    },
    get eventStreams() {
      return streams.size;
    },
    async close() {
      unsubscribe();
      for (const ac of consoles) ac.abort();
      for (const res of streams) res.end();
      await listening.close();
    },
  };
}
