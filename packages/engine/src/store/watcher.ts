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

type Waiter = (r: IteratorResult<WatchEvent>) => void;

const DONE: IteratorResult<WatchEvent> = Object.freeze({ value: undefined, done: true });

export class Watcher implements AsyncIterableIterator<WatchEvent> {
  readonly #limit: number;
  #queue: Queued[] = [];
  #head = 0;
  #live = 0;
  /** Pending `next()` calls; only ever non-empty while the queue is empty. */
  #waiters: Waiter[] = [];
  #failure: Error | undefined;
  #ended = false;
  readonly #onDetach: () => void;
  /** Hand out the frozen objects themselves (the consumer asked for shared objects). */
  readonly #shared: boolean;
  #detached = false;

  /** `onDetach` runs once when the store should stop sending events (end, overflow, or consumer stopped). */
  constructor(limit: number, onDetach: () => void, shared = false) {
    this.#limit = limit;
    this.#onDetach = onDetach;
    this.#shared = shared;
  }

  /** Whether the store should still send events. */
  get active(): boolean {
    return !this.#detached;
  }

  push(type: WatchEventType, object: KubeObject, backlog = false): void {
    if (this.#detached) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: { type, object: this.#shared ? object : cloneJson(object) }, done: false });
      return;
    }
    // Consecutive bookmarks say the same thing; keep only the newest so an idle consumer's queue cannot grow.
    const last = this.#queue[this.#queue.length - 1];
    if (type === 'BOOKMARK' && this.#queue.length > this.#head && last?.type === 'BOOKMARK' && !last.backlog) {
      last.object = object;
      return;
    }
    if (!backlog) {
      if (this.#live >= this.#limit) {
        this.#failure = new GoneError(
          `watch closed: the consumer fell more than ${this.#limit} events behind; watch again from the last resourceVersion seen`,
        );
        this.#detach();
        return;
      }
      this.#live++;
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
    for (const w of this.#waiters.splice(0)) w(DONE);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      this.#queue[this.#head] = undefined as unknown as Queued;
      this.#head++;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (!item.backlog) this.#live--;
      const object = this.#shared ? item.object : cloneJson(item.object);
      return Promise.resolve({ value: { type: item.type, object }, done: false });
    }
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = undefined;
      this.#ended = true;
      return Promise.reject(failure);
    }
    if (this.#ended || this.#detached) return Promise.resolve(DONE);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The consumer stopped (for-await `break`/`return`). */
  return(): Promise<IteratorResult<WatchEvent>> {
    this.end();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#onDetach();
  }
}
