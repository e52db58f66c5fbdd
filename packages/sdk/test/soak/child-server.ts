// The parent's side of server-child.ts, and raw watch clients over TLS that read at the pace a test chooses.
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { KubeObject } from '@virtkit/engine';
import type { ChildOptions } from './server-child.ts';

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface Stats {
  openWatches: number;
  openConnections: number;
  storeWatchers: number;
  resourceVersion: string;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** An API server in a child process (`node --expose-gc`), driven over IPC. */
export class ChildServer {
  readonly url: string;
  readonly token: string;
  readonly ca: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  private constructor(child: ChildProcess, ready: { url: string; token: string; ca: string }) {
    this.#child = child;
    this.url = ready.url;
    this.token = ready.token;
    this.ca = ready.ca;
    child.on('message', (m: { id?: number; value?: unknown; error?: string }) => {
      const p = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id!);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    child.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`server child exited (${code})`));
      this.#pending.clear();
    });
  }

  static start(options: ChildOptions = {}): Promise<ChildServer> {
    const child = fork(join(import.meta.dirname, 'server-child.ts'), [JSON.stringify(options)], {
      execArgv: ['--expose-gc', '--conditions=@virtkit/source', '--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('server child did not start within 30 s'));
      }, 30_000);
      child.once('exit', (code) => reject(new Error(`server child exited (${code}) before it was ready`)));
      child.once('message', (m: { type?: string; url: string; token: string; ca: string }) => {
        clearTimeout(timer);
        if (m.type === 'ready') resolve(new ChildServer(child, m));
        else reject(new Error(`unexpected first message ${JSON.stringify(m)}`));
      });
    });
  }

  #ask<T>(m: Record<string, unknown>): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ ...m, id });
    });
  }

  /** Memory after two forced garbage collections. */
  memory(): Promise<Memory> {
    return this.#ask({ type: 'memory' });
  }
  stats(): Promise<Stats> {
    return this.#ask({ type: 'stats' });
  }
  create(object: KubeObject): Promise<string> {
    return this.#ask({ type: 'create', object });
  }
  /** Sets label `v` of VM `name` (and an annotation of `filler` bytes); resolves with the new resourceVersion. */
  label(name: string, value: string, filler?: number): Promise<string> {
    return this.#ask({ type: 'label', name, value, ...(filler ? { filler } : {}) });
  }
  delete(name: string): Promise<string> {
    return this.#ask({ type: 'delete', name });
  }
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    await this.#ask({ type: 'close' }).catch(() => undefined);
    await exited;
  }
}

export interface WatchEventLine {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string };
}

/**
 * A watch over a raw TLS socket. `readUpTo` bytes are read, then the socket is paused for good (0: the client
 * never reads anything, not even the response headers); `Infinity` reads everything, parsing events.
 */
export class RawWatch {
  readonly socket: TLSSocket;
  readonly events: WatchEventLine[] = [];
  bytes = 0;
  status = 0;
  ended = false;
  #head = '';
  /** Body bytes not yet decoded. */
  #raw = '';
  /** Decoded data not yet ending in a newline. */
  #data = '';
  #inBody = false;
  #chunkLeft = 0;
  #listeners = new Set<() => void>();

  /** Called with each event as it is parsed. */
  onEvent: ((e: WatchEventLine) => void) | undefined;
  /** Whether events are kept in `events` (a long soak counts them instead). */
  keep = true;
  /** Events parsed so far. */
  received = 0;

  constructor(server: { url: string; token: string; ca: string }, path: string, readUpTo = Number.POSITIVE_INFINITY) {
    const u = new URL(server.url);
    this.socket = tlsConnect({ host: u.hostname, port: Number(u.port), ca: server.ca });
    this.socket.on('error', () => {});
    this.socket.once('secureConnect', () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${server.token}\r\nAccept: application/json\r\n\r\n`,
      );
      if (readUpTo === 0) this.socket.pause();
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (readUpTo !== Number.POSITIVE_INFINITY) {
        if (this.bytes >= readUpTo) this.socket.pause();
        return;
      }
      this.#parse(chunk.toString('latin1'));
      for (const l of this.#listeners) l();
    });
    this.socket.on('close', () => {
      this.ended = true;
      for (const l of this.#listeners) l();
    });
  }

  /** Decodes the HTTP/1.1 chunked response into event lines (bytes kept as latin1, each line read as UTF-8). */
  #parse(text: string): void {
    if (!this.#inBody) {
      this.#head += text;
      const end = this.#head.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.status = Number(this.#head.slice(9, 12));
      text = this.#head.slice(end + 4);
      this.#inBody = true;
    }
    this.#raw += text;
    for (;;) {
      if (this.#chunkLeft === 0) {
        const nl = this.#raw.indexOf('\r\n');
        if (nl < 0) return;
        const size = Number.parseInt(this.#raw.slice(0, nl), 16);
        if (!Number.isFinite(size)) throw new Error(`bad chunk header ${JSON.stringify(this.#raw.slice(0, 20))}`);
        this.#raw = this.#raw.slice(nl + 2);
        if (size === 0) return;
        this.#chunkLeft = size + 2; // the data, then CRLF
      }
      const take = Math.min(this.#chunkLeft, this.#raw.length);
      this.#data += this.#raw.slice(0, take);
      this.#raw = this.#raw.slice(take);
      this.#chunkLeft -= take;
      if (this.#chunkLeft > 0) return;
      this.#data = this.#data.slice(0, -2);
      const lines = this.#data.split('\n');
      this.#data = lines.pop() ?? '';
      for (const l of lines) {
        if (!l) continue;
        const e = JSON.parse(Buffer.from(l, 'latin1').toString('utf8')) as WatchEventLine;
        this.received++;
        if (this.keep) this.events.push(e);
        this.onEvent?.(e);
      }
    }
  }

  /** Resolves once `pred` holds (checked on every read); rejects after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          this.#listeners.delete(check);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          this.#listeners.delete(check);
          reject(new Error(`watch ended while waiting for ${what} (${this.events.length} events)`));
        }
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.events.length} events)`));
      }, timeoutMs);
      this.#listeners.add(check);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
