/**
 * A shared watch per kind, in the manner of the apiserver's watch cache: one store watch feeds every HTTP
 * watcher of the kind, so a change costs the store one delivery (not one per watcher) and is serialized once.
 * Recent events stay in a ring, so a watcher resuming from a recent resourceVersion is served from memory.
 *
 * Only watchers whose filter cannot flip on a change use the hub: a namespace, and field selectors on
 * `metadata.name` / `metadata.namespace` (immutable). A label or status selector needs the object's previous
 * state to turn a change into ADDED/DELETED for that watcher; the store does that, so such watchers — and
 * resumptions from versions older than the ring — get their own store watch instead.
 */
import type { Kind, KubeObject, ParsedFieldSelector, ResourceStore, WatchEvent, WatchEventType } from '@virtkit/engine';
import type { WatchStream } from './watch-stream.ts';

export interface HubSubscriber {
  stream: WatchStream;
  namespace: string | undefined;
  fields: ParsedFieldSelector | undefined;
  bookmarks: boolean;
  encode: (event: WatchEvent) => string;
}

interface HubEvent {
  type: WatchEventType;
  object: KubeObject;
  rv: number;
}

interface Subscription extends HubSubscriber {
  /** Events at or before this version are already known to the watcher. */
  after: number;
}

/** Fields whose value never changes for an object, so a selector on them cannot start or stop matching. */
const IMMUTABLE_FIELDS = new Set(['metadata.name', 'metadata.namespace']);

export function hubCanServe(fields: ParsedFieldSelector | undefined, hasLabelSelector: boolean): boolean {
  return !hasLabelSelector && (fields === undefined || fields.requirements.every((r) => IMMUTABLE_FIELDS.has(r.field)));
}

export class KindHub {
  readonly #ring: (HubEvent | undefined)[];
  #head = 0;
  #size = 0;
  /** Every event after this version is in the ring or still to come. */
  #floor: number;
  readonly #subs = new Set<Subscription>();
  readonly #abort = new AbortController();
  readonly #onClose: () => void;

  constructor(store: ResourceStore, kind: Kind, capacity: number, onClose: () => void) {
    this.#ring = new Array<HubEvent | undefined>(capacity);
    this.#onClose = onClose;
    const from = store.currentResourceVersion();
    this.#floor = Number(from);
    // From the current version: "0" (an empty store) would replay nothing either.
    const source = store.watch(kind, { resourceVersion: from, allowBookmarks: true, signal: this.#abort.signal });
    void this.#pump(source as AsyncIterable<WatchEvent>);
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  /** The oldest version a watcher may resume from here. */
  get floor(): number {
    return this.#floor;
  }

  async #pump(source: AsyncIterable<WatchEvent>): Promise<void> {
    try {
      for await (const ev of source) this.#receive(ev);
      // The store ended the watch (it closed): so do the watchers.
      for (const s of this.#subs) s.stream.finish();
    } catch (err) {
      // The store cut this watch off (it fell behind): every watcher must relist.
      for (const s of this.#subs) s.stream.fail(err);
    } finally {
      this.close();
    }
  }

  #receive(ev: WatchEvent): void {
    const rv = Number(ev.object.metadata.resourceVersion);
    if (ev.type === 'BOOKMARK') {
      for (const s of this.#subs) if (s.bookmarks && rv > s.after) s.stream.push(s.encode(ev));
      return;
    }
    const e: HubEvent = { type: ev.type, object: ev.object, rv };
    const capacity = this.#ring.length;
    if (capacity > 0) {
      if (this.#size === capacity) {
        this.#floor = this.#ring[this.#head]!.rv;
        this.#head = (this.#head + 1) % capacity;
        this.#size--;
      }
      this.#ring[(this.#head + this.#size) % capacity] = e;
      this.#size++;
    } else this.#floor = rv;
    for (const s of this.#subs) this.#deliver(s, e);
  }

  #deliver(s: Subscription, e: HubEvent): void {
    if (e.rv <= s.after) return;
    if (s.namespace !== undefined && e.object.metadata.namespace !== s.namespace) return;
    if (s.fields !== undefined && !s.fields.matches(e.object)) return;
    s.stream.push(s.encode(e));
  }

  /**
   * Adds a watcher that has seen everything up to `after`; replays what the ring holds past it. Returns false
   * (and adds nothing) when the ring no longer reaches back to `after`.
   */
  subscribe(sub: HubSubscriber, after: number): boolean {
    if (after < this.#floor || this.#abort.signal.aborted) return false;
    const s: Subscription = { ...sub, after };
    const capacity = this.#ring.length;
    for (let i = 0; i < this.#size; i++) this.#deliver(s, this.#ring[(this.#head + i) % capacity]!);
    this.#subs.add(s);
    sub.stream.signal.addEventListener(
      'abort',
      () => {
        this.#subs.delete(s);
        if (this.#subs.size === 0) this.close();
      },
      { once: true },
    );
    return true;
  }

  /** Stops the store watch; called when the last watcher left or the store watch ended. */
  close(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    this.#onClose();
  }
}
