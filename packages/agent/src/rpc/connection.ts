/**
 * One RPC connection to a libvirt daemon: transport (UNIX socket or TCP), packet framing, serial
 * allocation and reply matching, the keepalive program, and delivery of asynchronous messages (events).
 * It knows nothing about procedures; `LibvirtClient` builds on it.
 *
 * Calls are pipelined: many may be in flight, each reply is matched to its call by serial number. Once
 * the connection fails (socket error, peer closed, keepalive timeout, undecodable data) every pending and
 * later call rejects with `LibvirtConnectionError`; reconnecting is the caller's decision.
 */
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { readError } from './codec.ts';
import { LibvirtConnectionError, LibvirtError, LibvirtProtocolError } from './errors.ts';
import {
  decodeHeader,
  encodePacket,
  KEEPALIVE_PROC_PING,
  KEEPALIVE_PROC_PONG,
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  LENGTH_SIZE,
  type MessageHeader,
  MessageStatus,
  MessageType,
  PacketSplitter,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
} from './protocol.ts';
import { XdrReader, type XdrWriter } from './xdr.ts';

/** Where the daemon is: a UNIX socket path, or a TCP host and port (libvirtd `--listen`, `auth_tcp = "none"`). */
export type Endpoint = { socketPath: string } | { host: string; port: number };

export interface KeepaliveOptions {
  /** Send a PING after this long without receiving anything. Default 5000 ms (libvirt's default). */
  intervalMs?: number;
  /** Declare the peer dead after this many intervals without receiving anything. Default 5. */
  count?: number;
}

export interface ConnectionOptions {
  /** Fails the connect after this long. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Our own dead-peer detection; `false` to only answer the daemon's pings. Default on. */
  keepalive?: KeepaliveOptions | false;
  /**
   * Answer the daemon's keepalive PINGs (default true). `false` exists to test the daemon's dead-client
   * detection: it then drops the connection after its keepalive_interval × keepalive_count.
   */
  answerPings?: boolean;
}

/** Keepalive traffic seen on a connection. */
export interface KeepaliveStats {
  pingsReceived: number;
  pongsReceived: number;
  pingsSent: number;
  pongsSent: number;
}

/** An asynchronous message from the daemon (an event), with its payload still to decode. */
export type MessageHandler = (procedure: number, body: XdrReader) => void;

interface Pending {
  procedure: number;
  resolve: (body: XdrReader) => void;
  reject: (err: Error) => void;
}

export class RpcConnection {
  readonly #socket: Socket;
  readonly #splitter = new PacketSplitter();
  readonly #pending = new Map<number, Pending>();
  readonly #messageHandlers = new Set<MessageHandler>();
  readonly #closeListeners = new Set<(err: LibvirtConnectionError) => void>();
  #serial = 0;
  #failure: LibvirtConnectionError | undefined;
  #lastReceived = performance.now();
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #answerPings = true;
  readonly #stats: KeepaliveStats = { pingsReceived: 0, pongsReceived: 0, pingsSent: 0, pongsSent: 0 };
  /** Where this connection goes, for messages. */
  readonly endpoint: string;

  private constructor(socket: Socket, endpoint: string) {
    this.#socket = socket;
    this.endpoint = endpoint;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(new LibvirtConnectionError(`${endpoint}: ${err.message}`, { cause: err })));
    socket.on('close', () => this.#fail(new LibvirtConnectionError(`${endpoint}: connection closed`)));
  }

  /** Opens the transport. Resolves once the socket is connected; nothing is sent yet. */
  static open(endpoint: Endpoint, options: ConnectionOptions = {}): Promise<RpcConnection> {
    const label = 'socketPath' in endpoint ? `unix:${endpoint.socketPath}` : `tcp:${endpoint.host}:${endpoint.port}`;
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket =
        'socketPath' in endpoint
          ? createConnection({ path: endpoint.socketPath })
          : createConnection({ host: endpoint.host, port: endpoint.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LibvirtConnectionError(`${label}: connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new LibvirtConnectionError(`${label}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        const conn = new RpcConnection(socket, label);
        conn.#answerPings = options.answerPings ?? true;
        if (options.keepalive !== false) conn.#startKeepalive(options.keepalive ?? {});
        resolve(conn);
      });
    });
  }

  /** True once the connection failed or was closed. */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /** Keepalive traffic so far (a copy). */
  get keepaliveStats(): KeepaliveStats {
    return { ...this.#stats };
  }

  /** Number of calls waiting for their reply. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /**
   * Calls `procedure` of the remote program. `args` writes the payload; `decode` reads the reply's payload
   * (the reply must be consumed exactly). Rejects with `LibvirtError` when the daemon answers with an error.
   */
  call<T = void>(
    procedure: number,
    args?: (w: XdrWriter) => void,
    decode?: (r: XdrReader) => T,
    sizeHint?: number,
  ): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#serial = (this.#serial + 1) >>> 0 || 1;
    const serial = this.#serial;
    let packet: Buffer;
    try {
      packet = encodePacket(
        {
          program: REMOTE_PROGRAM,
          version: REMOTE_PROTOCOL_VERSION,
          procedure,
          type: MessageType.Call,
          serial,
          status: MessageStatus.Ok,
        },
        args,
        sizeHint,
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(serial, {
        procedure,
        reject,
        resolve: (body) => {
          try {
            const value = decode ? decode(body) : (undefined as T);
            body.expectEnd(`reply to procedure ${procedure}`);
            resolve(value);
          } catch (err) {
            const e = new LibvirtProtocolError(`cannot decode reply to procedure ${procedure}: ${String(err)}`, {
              cause: err,
            });
            reject(e);
            // A layout mismatch means later bytes cannot be trusted either.
            this.#fail(new LibvirtConnectionError(`${this.endpoint}: ${e.message}`, { cause: e }));
          }
        },
      });
      this.#socket.write(packet);
    });
  }

  /** Subscribes to asynchronous messages of the remote program (events). */
  onMessage(handler: MessageHandler): () => void {
    this.#messageHandlers.add(handler);
    return () => this.#messageHandlers.delete(handler);
  }

  /** Called once when the connection fails or closes (not called when already closed). */
  onClose(listener: (err: LibvirtConnectionError) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Closes the transport at once; pending calls reject. Prefer `LibvirtClient.close()`, which says goodbye first. */
  destroy(reason = 'closed by client'): void {
    this.#fail(new LibvirtConnectionError(`${this.endpoint}: ${reason}`));
  }

  /** Sends a keepalive PING now (normally the timer does it). */
  ping(): void {
    this.#sendKeepalive(KEEPALIVE_PROC_PING);
  }

  #startKeepalive(opts: KeepaliveOptions): void {
    const interval = opts.intervalMs ?? 5000;
    const count = opts.count ?? 5;
    // Check a few times per interval so a ping goes out close to when it is due.
    const tick = Math.max(10, Math.floor(interval / 4));
    let lastPing = 0;
    this.#keepaliveTimer = setInterval(() => {
      const now = performance.now();
      const silent = now - this.#lastReceived;
      if (silent >= interval * (count + 1)) {
        this.#fail(
          new LibvirtConnectionError(
            `${this.endpoint}: no answer to keepalive for ${Math.round(silent)} ms; peer considered dead`,
          ),
        );
      } else if (silent >= interval && now - lastPing >= interval) {
        lastPing = now;
        this.#sendKeepalive(KEEPALIVE_PROC_PING);
      }
    }, tick);
    this.#keepaliveTimer.unref();
  }

  #sendKeepalive(procedure: number): void {
    if (this.#failure) return;
    if (procedure === KEEPALIVE_PROC_PING) this.#stats.pingsSent++;
    else this.#stats.pongsSent++;
    this.#socket.write(
      encodePacket({
        program: KEEPALIVE_PROGRAM,
        version: KEEPALIVE_PROTOCOL_VERSION,
        procedure,
        type: MessageType.Message,
        serial: 0,
        status: MessageStatus.Ok,
      }),
    );
  }

  #onData(chunk: Buffer): void {
    this.#lastReceived = performance.now();
    let packets: Buffer[];
    try {
      packets = this.#splitter.push(chunk);
    } catch (err) {
      this.#fail(new LibvirtConnectionError(`${this.endpoint}: ${String(err)}`, { cause: err }));
      return;
    }
    for (const p of packets) {
      if (this.#failure) return;
      try {
        this.#onPacket(p);
      } catch (err) {
        this.#fail(new LibvirtConnectionError(`${this.endpoint}: bad packet: ${String(err)}`, { cause: err }));
      }
    }
  }

  #onPacket(packet: Buffer): void {
    const r = new XdrReader(packet, LENGTH_SIZE);
    const h = decodeHeader(r);
    if (h.program === KEEPALIVE_PROGRAM) {
      if (h.procedure === KEEPALIVE_PROC_PING) {
        this.#stats.pingsReceived++;
        if (this.#answerPings) this.#sendKeepalive(KEEPALIVE_PROC_PONG);
      } else if (h.procedure === KEEPALIVE_PROC_PONG) {
        this.#stats.pongsReceived++;
      }
      return;
    }
    if (h.program !== REMOTE_PROGRAM) return; // other programs (qemu, lxc) are not used here
    if (h.type === MessageType.Reply || h.type === MessageType.ReplyWithFds) {
      this.#onReply(h, r);
    } else if (h.type === MessageType.Message) {
      for (const handler of this.#messageHandlers) {
        // Each handler reads from its own position.
        handler(h.procedure, new XdrReader(packet, r.offset));
      }
    }
  }

  #onReply(h: MessageHeader, body: XdrReader): void {
    const pending = this.#pending.get(h.serial);
    if (!pending) throw new LibvirtProtocolError(`reply with unknown serial ${h.serial}`);
    this.#pending.delete(h.serial);
    if (h.status === MessageStatus.Ok) {
      pending.resolve(body);
    } else if (h.status === MessageStatus.Error) {
      pending.reject(new LibvirtError(readError(body), pending.procedure));
    } else {
      pending.reject(new LibvirtProtocolError(`unexpected reply status ${h.status} for procedure ${h.procedure}`));
    }
  }

  #fail(err: LibvirtConnectionError): void {
    if (this.#failure) return;
    this.#failure = err;
    if (this.#keepaliveTimer) clearInterval(this.#keepaliveTimer);
    this.#socket.destroy();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    for (const l of this.#closeListeners) l(err);
    this.#closeListeners.clear();
    this.#messageHandlers.clear();
  }
}
