/**
 * Expiry of Events, as the apiserver's `--event-ttl`: an Event whose last occurrence is older than the TTL
 * is deleted. Level-triggered from the Event informer: every add or update files the Event's expiry in a
 * min-heap, and one clock timer, armed for the earliest expiry, hands the due keys to a work queue. So a
 * timer tick costs O(due · log n), never a scan of every Event, and an engine started on a store another
 * engine filled recomputes every expiry from the initial list.
 */
import { NotFoundError } from '../errors.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { ResourceStore } from '../ports/resource-store.ts';
import type { Event } from '../resources/core.ts';
import type { Informer } from './informer.ts';
import { keyOf, splitKey } from './informer.ts';
import { WorkQueue } from './work-queue.ts';

export interface EventTtlOptions {
  store: ResourceStore;
  clock: Clock;
  informer: Informer<'Event'>;
  ttlMs: number;
  concurrency: number;
  retry: { baseMs: number; maxMs: number };
  report(err: unknown, where: string): void;
}

interface Due {
  at: number;
  key: string;
}

/**
 * When the Event was last seen happening: the later of `lastTimestamp` and `eventTime` (events.k8s.io
 * writers set only the latter), else its creation. Undefined when none parses.
 */
export function lastOccurrence(ev: Event): number | undefined {
  let at: number | undefined;
  for (const t of [ev.lastTimestamp, ev.eventTime]) {
    const ms = t ? Date.parse(t) : Number.NaN;
    if (!Number.isNaN(ms) && (at === undefined || ms > at)) at = ms;
  }
  if (at !== undefined) return at;
  const created = ev.metadata.creationTimestamp ? Date.parse(ev.metadata.creationTimestamp) : Number.NaN;
  return Number.isNaN(created) ? undefined : created;
}

export class EventTtlController {
  readonly queue: WorkQueue;
  readonly #o: EventTtlOptions;
  /** Per Event key, the expiry its live heap entry carries; heap entries that disagree are stale. */
  readonly #due = new Map<string, number>();
  #heap: Due[] = [];
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;

  constructor(o: EventTtlOptions) {
    this.#o = o;
    this.queue = new WorkQueue(o.clock, (key) => this.#reconcile(key), {
      name: 'event-ttl',
      concurrency: o.concurrency,
      baseRetryMs: o.retry.baseMs,
      maxRetryMs: o.retry.maxMs,
      onError: (key, err) => o.report(err, `event-ttl ${key}`),
    });
    o.informer.on({
      add: (ev) => this.#file(ev),
      update: (_old, ev) => this.#file(ev),
      delete: (ev) => {
        this.#due.delete(keyOf(ev));
      },
    });
  }

  /** Events waiting for their expiry (for tests and metrics). */
  get pending(): number {
    return this.#due.size;
  }

  start(): void {
    this.#running = true;
    this.queue.start();
    this.#arm();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    await this.queue.stop();
  }

  #expiryOf(ev: Event): number {
    // An Event without any timestamp (never written by a store) is given a full TTL from now.
    return (lastOccurrence(ev) ?? this.#o.clock.now()) + this.#o.ttlMs;
  }

  #file(ev: Event): void {
    const key = keyOf(ev);
    const at = this.#expiryOf(ev);
    if (this.#due.get(key) === at) return;
    this.#due.set(key, at);
    this.#push({ at, key });
    // Entries left behind by recurring Events (each bump moves the expiry) are dropped once they dominate.
    if (this.#heap.length > 1024 && this.#heap.length > 2 * this.#due.size) this.#rebuild();
    if (this.#running && at < this.#timerAt) this.#arm();
  }

  /** (Re)arms the one timer for the earliest live expiry. */
  #arm(): void {
    this.#dropStale();
    const top = this.#heap[0];
    const at = top?.at ?? Number.POSITIVE_INFINITY;
    if (at === this.#timerAt && this.#timer) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = at;
    if (!top || !this.#running) return;
    this.#timer = this.#o.clock.setTimer(at - this.#o.clock.now(), () => this.#fire());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (!this.#running) return;
    const now = this.#o.clock.now();
    for (;;) {
      this.#dropStale();
      const top = this.#heap[0];
      if (!top || top.at > now) break;
      this.#pop();
      this.#due.delete(top.key);
      this.queue.add(top.key);
    }
    this.#arm();
  }

  async #reconcile(key: string): Promise<undefined> {
    const o = this.#o;
    const ev = o.informer.getByKey(key);
    if (!ev) return undefined;
    if (this.#expiryOf(ev) > o.clock.now()) {
      // Bumped since it was found due: it lives on, until its new expiry.
      this.#file(ev);
      return undefined;
    }
    const { namespace, name } = splitKey(key);
    try {
      // Both preconditions: never someone's re-creation under the same name (uid), and never a version
      // that recurred after the decision was taken (resourceVersion). A Conflict is retried from the cache.
      await o.store.delete('Event', namespace, name, {
        preconditions: {
          ...(ev.metadata.uid ? { uid: ev.metadata.uid } : {}),
          ...(ev.metadata.resourceVersion ? { resourceVersion: ev.metadata.resourceVersion } : {}),
        },
      });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    return undefined;
  }

  #dropStale(): void {
    for (;;) {
      const top = this.#heap[0];
      if (!top || this.#due.get(top.key) === top.at) return;
      this.#pop();
    }
  }

  #rebuild(): void {
    this.#heap = [];
    for (const [key, at] of this.#due) this.#push({ at, key });
  }

  #push(d: Due): void {
    const h = this.#heap;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= d.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = d;
  }

  #pop(): Due | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (!last || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mAt = last.at;
      if (l < h.length && h[l]!.at < mAt) {
        m = l;
        mAt = h[l]!.at;
      }
      if (r < h.length && h[r]!.at < mAt) m = r;
      if (m === i) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
    return top;
  }
}
