/**
 * `RemoteNodeDriver`: the NodeDriver port spoken to a node agent over HTTP(S) (`serveNodeDriver`), so the
 * engine drives nodes it does not run on exactly as it drives local ones.
 *
 * - A DriverError thrown on the node arrives as a DriverError with the same reason, node and message.
 * - A node that cannot be reached (connection refused or reset, TLS failure, no answer to a ping within
 *   `pingTimeoutMs`) fails the call with reason `NodeUnreachable` — what the engine's heartbeats and
 *   fencing act on. Calls are never retried here: the engine decides, and its calls are idempotent.
 * - Events arrive on one stream, opened while anyone listens, reconnected with backoff, and resumed from
 *   the last event seen; `lostEventGaps` counts reconnects whose gap the agent could no longer replay
 *   (agent restarted, or the gap outgrew its buffer). Those gaps are noticed (`onEventsLost`), and so is
 *   the stream's first connection when calls were made before it: the state they read may have changed,
 *   unheard, before the stream was there to tell.
 * - The endpoint may change (the agent's pod was replaced): `setEndpoint` moves every later call and the
 *   event stream to it, keeping the driver — and the engine's view of the node — the same object.
 */
import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import {
  type Clock,
  type DomainDefinition,
  type DomainEvent,
  type DomainInfo,
  DriverError,
  type MigrateOptions,
  type MigrationResult,
  type NodeDriver,
  type NodeInfo,
  RealClock,
  type Unsubscribe,
} from '@virtkit/engine';
import { type CallMethod, type ConsoleLine, type EventLine, fromWireError } from './node-rpc.ts';

export interface RemoteEndpoint {
  /** `https://10.0.3.7:8443`. */
  url: string;
  /** PEM of the agent's serving certificate: trusted as the only anchor, hostname not checked. */
  certificate?: string;
}

export interface RemoteNodeDriverOptions extends RemoteEndpoint {
  nodeName: string;
  /** Bearer token shared with the agents; `false` for an agent serving without authentication. */
  token: string | false;
  /** Time for reconnect backoff. Default: the real clock. */
  clock?: Clock;
  /** A ping or info call unanswered for this long makes the node unreachable. Default 5 s. */
  pingTimeoutMs?: number;
  /** Bound on other calls (they may pull images or migrate for minutes). Default: none. */
  callTimeoutMs?: number;
  /** First reconnect delay of the event stream; doubles up to 5 s. Default 200 ms. */
  reconnectDelayMs?: number;
}

const SHORT_CALLS = new Set<CallMethod>(['ping', 'info', 'getDomain', 'listDomains']);

export class RemoteNodeDriver implements NodeDriver {
  readonly nodeName: string;
  readonly #token: string | false;
  readonly #clock: Clock;
  readonly #pingTimeoutMs: number;
  readonly #callTimeoutMs: number | undefined;
  readonly #reconnectMs: number;
  #endpoint!: { url: URL; certificate: string | undefined; agent: HttpAgent };
  readonly #listeners = new Set<(e: DomainEvent) => void>();
  readonly #lostListeners = new Set<() => void>();
  #stream: AbortController | undefined;
  #streamLoop: Promise<void> | undefined;
  #epoch: string | undefined;
  #seq = 0;
  #lostGaps = 0;
  /** A call was made before the event stream first connected (its answer may predate the stream). */
  #calledBeforeStream = false;
  #connected = false;
  #closed = false;

  constructor(options: RemoteNodeDriverOptions) {
    this.nodeName = options.nodeName;
    this.#token = options.token;
    this.#clock = options.clock ?? new RealClock();
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 5_000;
    this.#callTimeoutMs = options.callTimeoutMs;
    this.#reconnectMs = options.reconnectDelayMs ?? 200;
    this.setEndpoint(options);
  }

  get endpoint(): RemoteEndpoint {
    const e = this.#endpoint;
    return { url: e.url.origin, ...(e.certificate ? { certificate: e.certificate } : {}) };
  }

  /** Reconnects with gaps the agent could not replay (events may have been missed). */
  get lostEventGaps(): number {
    return this.#lostGaps;
  }

  /** Whether the event stream is connected right now. */
  get eventStreamConnected(): boolean {
    return this.#connected;
  }

  /** Points the driver at a new address of the same node; the event stream moves too. */
  setEndpoint(endpoint: RemoteEndpoint): void {
    const url = new URL(endpoint.url);
    const same =
      this.#endpoint && this.#endpoint.url.origin === url.origin && this.#endpoint.certificate === endpoint.certificate;
    if (same) return;
    const old = this.#endpoint;
    const agent =
      url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            ...(endpoint.certificate ? { ca: endpoint.certificate, checkServerIdentity: () => undefined } : {}),
          })
        : new HttpAgent({ keepAlive: true });
    this.#endpoint = { url, certificate: endpoint.certificate, agent };
    old?.agent.destroy();
    // The stream loop reconnects to the new endpoint.
    this.#stream?.abort();
    if (this.#listeners.size > 0 && !this.#closed) this.#startStream();
  }

  info(): Promise<NodeInfo> {
    return this.#call('info', []);
  }

  async ping(): Promise<void> {
    await this.#call('ping', []);
  }

  defineDomain(definition: DomainDefinition): Promise<DomainInfo> {
    return this.#call('defineDomain', [definition]);
  }

  async startDomain(id: string): Promise<void> {
    await this.#call('startDomain', [id]);
  }

  async shutdownDomain(id: string): Promise<void> {
    await this.#call('shutdownDomain', [id]);
  }

  async destroyDomain(id: string): Promise<void> {
    await this.#call('destroyDomain', [id]);
  }

  async pauseDomain(id: string): Promise<void> {
    await this.#call('pauseDomain', [id]);
  }

  async resumeDomain(id: string): Promise<void> {
    await this.#call('resumeDomain', [id]);
  }

  async rebootDomain(id: string): Promise<void> {
    await this.#call('rebootDomain', [id]);
  }

  async undefineDomain(id: string): Promise<void> {
    await this.#call('undefineDomain', [id]);
  }

  getDomain(id: string): Promise<DomainInfo | undefined> {
    return this.#call('getDomain', [id]);
  }

  listDomains(): Promise<DomainInfo[]> {
    return this.#call('listDomains', []);
  }

  migrateDomain(id: string, targetNode: string, options: MigrateOptions = {}): Promise<MigrationResult> {
    return this.#call('migrateDomain', [id, targetNode, options]);
  }

  async abortMigration(id: string): Promise<void> {
    await this.#call('abortMigration', [id]);
  }

  async *console(id: string, options: { signal?: AbortSignal; fromStart?: boolean } = {}): AsyncIterable<string> {
    const ac = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, ac.signal]) : ac.signal;
    const query = options.fromStart ? '?fromStart=true' : '';
    let res: IncomingMessage;
    try {
      res = await this.#open(`/v1/console/${encodeURIComponent(id)}${query}`, signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const text of lines) {
        if (!text) continue;
        const msg = JSON.parse(text) as ConsoleLine;
        if ('line' in msg) yield msg.line;
        else if ('error' in msg) throw fromWireError(msg.error, this.nodeName);
        else return;
      }
      // Ended without an end marker: the connection broke.
      if (!signal.aborted) throw this.#unreachable('the console stream was cut off');
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof DriverError) throw err;
      throw this.#unreachable(`console stream failed: ${(err as Error).message}`, err);
    } finally {
      ac.abort();
      lines.close();
      res.destroy();
    }
  }

  onEvent(listener: (event: DomainEvent) => void): Unsubscribe {
    this.#listeners.add(listener);
    if (!this.#stream && !this.#closed) this.#startStream();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopStream();
    };
  }

  /**
   * Called after a reconnect whose gap the agent could not replay (see `lostEventGaps`), and when the stream
   * first connects after calls were already made.
   */
  onEventsLost(listener: () => void): Unsubscribe {
    this.#lostListeners.add(listener);
    return () => {
      this.#lostListeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#lostListeners.clear();
    await this.#stopStream();
    this.#endpoint.agent.destroy();
  }

  // --- calls ---

  async #call<T>(method: CallMethod, args: unknown[]): Promise<T> {
    if (this.#closed) throw new DriverError('NodeUnreachable', this.nodeName, 'the remote driver is closed');
    if (this.#epoch === undefined) this.#calledBeforeStream = true;
    const timeoutMs = SHORT_CALLS.has(method) ? this.#pingTimeoutMs : this.#callTimeoutMs;
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const body = Buffer.from(JSON.stringify(args));
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = this.#request(`/v1/call/${method}`, 'POST', signal, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(this.#unreachable(`${method}: ${err.message}`, err)));
      });
      req.on('error', (err) =>
        reject(
          signal?.aborted
            ? this.#unreachable(`${method}: no answer within ${timeoutMs} ms`, err)
            : this.#unreachable(`${method}: ${err.message}`, err),
        ),
      );
      req.setHeader('content-type', 'application/json');
      req.setHeader('content-length', String(body.length));
      req.end(body);
    });
    let parsed: { result?: T; error?: unknown };
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw this.#unreachable(`${method}: the agent answered ${status} with something that is not JSON`);
    }
    if (status === 200) return parsed.result as T;
    if (parsed.error !== undefined) throw fromWireError(parsed.error, this.nodeName);
    throw new DriverError('Internal', this.nodeName, `${method}: the agent answered ${status}`);
  }

  #request(
    path: string,
    method: string,
    signal: AbortSignal | undefined,
    onResponse: (res: IncomingMessage) => void,
  ): ClientRequest {
    const e = this.#endpoint;
    const url = new URL(path, e.url);
    const opts: RequestOptions = { method, agent: e.agent, headers: { accept: 'application/json' } };
    if (this.#token !== false) (opts.headers as Record<string, string>).authorization = `Bearer ${this.#token}`;
    if (signal) opts.signal = signal;
    return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, onResponse);
  }

  /** A streaming GET; resolves once a 200 arrived, rejects with the agent's error otherwise. */
  #open(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.#request(path, 'GET', signal, (res) => {
        res.on('error', () => {});
        if (res.statusCode === 200) {
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let body: { error?: unknown } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // not JSON
          }
          reject(
            body.error !== undefined
              ? fromWireError(body.error, this.nodeName)
              : new DriverError('Internal', this.nodeName, `${path}: the agent answered ${res.statusCode}`),
          );
        });
      });
      req.on('error', (err) => reject(this.#unreachable(`${path}: ${err.message}`, err)));
      req.end();
    });
  }

  #unreachable(message: string, cause?: unknown): DriverError {
    return new DriverError(
      'NodeUnreachable',
      this.nodeName,
      `agent at ${this.#endpoint.url.origin}: ${message}`,
      cause === undefined ? undefined : { cause },
    );
  }

  // --- events ---

  #startStream(): void {
    const ac = new AbortController();
    this.#stream = ac;
    const previous = this.#streamLoop ?? Promise.resolve();
    this.#streamLoop = previous.then(() => this.#runStream(ac.signal));
  }

  async #stopStream(): Promise<void> {
    this.#stream?.abort();
    this.#stream = undefined;
    await this.#streamLoop;
  }

  async #runStream(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const query = this.#epoch === undefined ? '' : `?epoch=${this.#epoch}&since=${this.#seq}`;
      let res: IncomingMessage | undefined;
      try {
        res = await this.#open(`/v1/events${query}`, signal);
        const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
        for await (const text of lines) {
          if (!text) continue;
          const msg = JSON.parse(text) as EventLine;
          if ('hello' in msg) {
            const first = this.#epoch === undefined;
            const lost = !first && !msg.hello.replayed;
            if (lost) this.#lostGaps++;
            if (!msg.hello.replayed) this.#seq = msg.hello.seq;
            this.#epoch = msg.hello.epoch;
            this.#connected = true;
            failures = 0;
            // Whatever happened meanwhile (a guest that died while the agent was restarting) is read again. So
            // is what happened between the first answers (an engine's first look at its domains after a
            // restart) and this first connection: a guest that became ready then was told to no one.
            if (lost || (first && this.#calledBeforeStream)) {
              for (const l of [...this.#lostListeners]) {
                try {
                  l();
                } catch {
                  // a listener's bug must not stop the stream
                }
              }
            }
          } else if ('event' in msg) {
            this.#seq = msg.seq;
            for (const l of [...this.#listeners]) {
              try {
                l(msg.event);
              } catch {
                // a listener's bug must not stop the stream
              }
            }
          }
        }
      } catch {
        // reconnect below
      } finally {
        this.#connected = false;
        res?.destroy();
      }
      if (signal.aborted) return;
      failures++;
      try {
        await this.#clock.sleep(Math.min(5_000, this.#reconnectMs * 2 ** Math.min(failures - 1, 5)), signal);
      } catch {
        return;
      }
    }
  }
}
