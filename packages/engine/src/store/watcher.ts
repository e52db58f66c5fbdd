/**
 * One watch stream: a bounded queue between the store (which pushes synchronously as it commits) and an async
 * consumer. Writers never wait for a watcher. A consumer that falls more than `limit` live events behind is cut
 * off: it still receives what was queued, then its iterator throws `GoneError`, and it should watch again from the
 * last resourceVersion it saw (or relist).
 */
import { GoneError } from '../errors.ts';
import type { WatchEvent, WatchEventType } from '../ports/resource-store.ts';
import type { KubeObject } from '../resources/meta.ts';
import { cloneJson } from './json.ts';

interface Queued {
  type: WatchEventType;
  /** Shared, frozen; copied when handed to the consumer. */
  object: KubeObject;
  /** Initial/replayed events are bounded by the store's size and history, so they do not count against `limit`. */
  backlog: boolean;
}

export class Watcher implements AsyncIterableIterator<WatchEvent> {
  readonly #limit: number;
  #queue: Queued[] = [];
  #head = 0;
  #live = 0;
  #waiting: ((r: IteratorResult<WatchEvent>) => void) | undefined;
  #waitingReject: ((e: unknown) => void) | undefined;
  #failure: Error | undefined;
  #ended = false;
  #onDetach: () => void;
  #detached = false;

  /** `onDetach` runs once when the store should stop sending events (end, overflow, or consumer stopped). */
  constructor(limit: number, onDetach: () => void) {
    this.#limit = limit;
    this.#onDetach = onDetach;
  }

  /** Whether the store should still send events. */
  get active(): boolean {
    return !this.#detached;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  push(type: WatchEventType, object: KubeObject, backlog = false): void {
    if (this.#detached) return;
    if (!backlog && this.#live >= this.#limit) {
      this.#failure = new GoneError(
        `watch closed: the consumer fell more than ${this.#limit} events behind; watch again from the last resourceVersion seen`,
      );
      this.#detach();
      // Wake a consumer that is somehow waiting with a full queue (cannot normally happen) so it sees the error.
      this.#flush();
      return;
    }
    // Consecutive bookmarks say the same thing; keep only the newest so an idle consumer's queue cannot grow.
    const last = this.#queue[this.#queue.length - 1];
    if (type === 'BOOKMARK' && this.#queue.length > this.#head && last?.type === 'BOOKMARK' && !last.backlog) {
      last.object = object;
      return;
    }
    if (!backlog) this.#live++;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      this.#waitingReject = undefined;
      if (!backlog) this.#live--;
      resolve({ value: { type, object: cloneJson(object) }, done: false });
      return;
    }
    this.#queue.push({ type, object, backlog });
  }

  /** Ends the stream now, dropping anything queued (the watch was aborted or the store closed). */
  end(): void {
    this.#ended = true;
    this.#failure = undefined;
    this.#queue = [];
    this.#head = 0;
    this.#detach();
    this.#flush();
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      this.#queue[this.#head] = undefined as unknown as Queued;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (!item.backlog) this.#live--;
      return Promise.resolve({ value: { type: item.type, object: cloneJson(item.object) }, done: false });
    }
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = undefined;
      this.#ended = true;
      return Promise.reject(failure);
    }
    if (this.#ended || this.#detached) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiting) return Promise.reject(new Error('watch: next() called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#waitingReject = reject;
    });
  }

  /** The consumer stopped (for-await `break`/`return`). */
  return(): Promise<IteratorResult<WatchEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#onDetach();
  }

  #flush(): void {
    const resolve = this.#waiting;
    const reject = this.#waitingReject;
    if (!resolve || !reject) return;
    this.#waiting = undefined;
    this.#waitingReject = undefined;
    if (this.#failure && this.#head >= this.#queue.length) {
      const failure = this.#failure;
      this.#failure = undefined;
      this.#ended = true;
      reject(failure);
    } else {
      resolve({ value: undefined, done: true });
    }
  }
}
