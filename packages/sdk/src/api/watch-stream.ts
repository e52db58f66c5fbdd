/**
 * One watch response: encoded events pushed in (from a store watch, or from the shared watch hub) into a
 * bounded buffer, and handed to the transport in batches as fast as the client reads. A slow or stalled
 * client therefore never holds up the store or other watchers, and costs at most the buffer: when it
 * overflows, the watch ends with an `ERROR` event carrying a 410 Expired Status — what the apiserver does to a
 * watcher that falls behind — and the client relists and watches again.
 */
import type { WatchEvent } from '@virtkit/engine';
import { type Status, statusFromError, statusOf } from './status.ts';

export interface WatchBufferLimits {
  /** Events buffered for one watcher before it is closed with 410. */
  maxEvents: number;
  /** Bytes (of encoded events) buffered for one watcher before it is closed with 410. */
  maxBytes: number;
  /**
   * Least time between two batches handed to one watcher's transport: events arriving meanwhile leave
   * together. The first event after a quiet spell goes at once; under a burst this trades a few ms of
   * latency for far fewer (TLS) writes, which is what a fan-out to many watchers spends its time on.
   */
  flushIntervalMs: number;
}

export const DEFAULT_WATCH_LIMITS: WatchBufferLimits = {
  maxEvents: 10_000,
  maxBytes: 16 * 1024 * 1024,
  flushIntervalMs: 5,
};

/** A watch event line as the apiserver writes it: `{"type":...,"object":...}` and a newline. */
export function errorLine(status: Status): string {
  return `{"type":"ERROR","object":${JSON.stringify(status)}}\n`;
}

export class WatchStream implements AsyncIterable<string> {
  /** Aborted once nothing more will be pushed: finished, cancelled, overflowed or the source ended. */
  readonly #abort = new AbortController();
  #queue: string[] = [];
  #bytes = 0;
  #cancelled = false;
  #overflowed = false;
  #wake: (() => void) | undefined;
  #wakeScheduled = false;
  #lastBatchAt = Number.NEGATIVE_INFINITY;
  readonly #limits: WatchBufferLimits;
  readonly #overflow: Promise<void>;
  #signalOverflow!: () => void;

  constructor(limits: WatchBufferLimits = DEFAULT_WATCH_LIMITS) {
    this.#limits = limits;
    this.#overflow = new Promise((resolve) => {
      this.#signalOverflow = resolve;
    });
  }

  /** Aborted when the stream takes no more events; give it to the store watch feeding the stream. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Resolves when the buffer overflowed; the transport may then give a stalled client a deadline. */
  get overflowed(): Promise<void> {
    return this.#overflow;
  }

  get isOverflowed(): boolean {
    return this.#overflowed;
  }

  /** Encoded bytes waiting for the client. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Whether the stream still takes events. */
  get open(): boolean {
    return !this.#abort.signal.aborted;
  }

  /**
   * Adds one encoded event (a line ending in a newline). When the buffer is full, the watch ends instead
   * with a 410 Expired error event; later pushes are ignored.
   */
  push(line: string): void {
    if (this.#abort.signal.aborted) return;
    if (this.#queue.length + 1 > this.#limits.maxEvents || this.#bytes + line.length > this.#limits.maxBytes) {
      this.#overflowed = true;
      this.#append(
        errorLine(
          statusOf(
            410,
            'Expired',
            `watch closed: the client fell more than ${this.#queue.length} events (${this.#bytes} bytes) behind; list again and watch from the new resourceVersion`,
          ),
        ),
      );
      this.#signalOverflow();
      this.#abort.abort();
      return;
    }
    this.#append(line);
  }

  /** Ends the stream with an ERROR event for `err` (a Status; GoneError becomes 410 Expired). */
  fail(err: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#append(errorLine(statusFromError(err)));
    this.#abort.abort();
  }

  /** Pumps a store watch (opened with `this.signal`) into the stream until either ends. */
  async pipeFrom(source: AsyncIterable<WatchEvent>, encode: (event: WatchEvent) => string): Promise<void> {
    try {
      for await (const event of source) {
        if (this.#abort.signal.aborted) break;
        this.push(encode(event));
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.finish();
    }
  }

  #append(line: string): void {
    if (this.#cancelled) return;
    this.#queue.push(line);
    this.#bytes += line.length;
    this.#notify();
  }

  /**
   * Wakes the reader on the next turn of the event loop rather than at once: events committed in the same
   * turn (a burst, a transaction) then leave as one write instead of one write each.
   */
  #notify(): void {
    if (!this.#wake || this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    });
  }

  /**
   * The next batch of lines (everything buffered, joined), waiting for at least one; `undefined` when the
   * watch is over and everything was taken.
   */
  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.#cancelled) return undefined;
      if (this.#queue.length > 0) {
        const wait = this.#lastBatchAt + this.#limits.flushIntervalMs - performance.now();
        if (wait > 0 && !this.#abort.signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, wait).unref());
          if (this.#cancelled) return undefined;
        }
        this.#lastBatchAt = performance.now();
        const batch = this.#queue.length === 1 ? this.#queue[0]! : this.#queue.join('');
        this.#queue = [];
        this.#bytes = 0;
        return batch;
      }
      if (this.#abort.signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Ends the watch cleanly: what is buffered is still delivered (e.g. on `timeoutSeconds`). */
  finish(): void {
    this.#abort.abort();
    this.#notify();
  }

  /** Drops the watch: the client went away. Nothing more is delivered. */
  cancel(): void {
    this.#cancelled = true;
    this.#queue = [];
    this.#bytes = 0;
    this.#abort.abort();
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    try {
      for (let b = await this.next(); b !== undefined; b = await this.next()) yield b;
    } finally {
      this.cancel();
    }
  }
}
