/** The store's change history: a bounded ring of events in resourceVersion order. */
import type { Kind } from '../resources/kinds.ts';
import type { KubeObject } from '../resources/meta.ts';

/** One committed change. Objects are deep-frozen and shared; never hand them out without copying. */
export interface StoreEvent {
  /** The resourceVersion this change produced; consecutive events have consecutive versions. */
  rv: number;
  kind: Kind;
  /** `namespace/name` for namespaced kinds, `name` for cluster-scoped ones. */
  key: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object after the change; for DELETED, its last state carrying the deletion's resourceVersion. */
  object: KubeObject;
  /** The object before the change; undefined for ADDED. Lets filtered watches and paginated lists see the past. */
  prev: KubeObject | undefined;
}

/**
 * Holds the newest `capacity` events. Because every resourceVersion is exactly one event, the ring holds every
 * event with `rv > floor`, and an event's slot is computed, not searched.
 */
export class HistoryRing {
  readonly capacity: number;
  #buf: (StoreEvent | undefined)[];
  #start = 0;
  #size = 0;
  #floor: number;

  /** `floor`: the resourceVersion just before the first event this ring will hold. */
  constructor(capacity: number, floor: number) {
    this.capacity = capacity;
    this.#buf = new Array(Math.min(capacity, 1024));
    this.#floor = floor;
  }

  /** Every event with rv greater than this is retained. */
  get floor(): number {
    return this.#floor;
  }

  get size(): number {
    return this.#size;
  }

  push(event: StoreEvent): void {
    const expected = this.#floor + this.#size + 1;
    if (event.rv !== expected) {
      throw new Error(`history: event rv ${event.rv} does not follow ${expected - 1}`);
    }
    if (this.#size === this.capacity) {
      const oldest = this.#buf[this.#start]!;
      this.#buf[this.#start] = event;
      this.#start = (this.#start + 1) % this.#buf.length;
      this.#floor = oldest.rv;
      return;
    }
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#start + this.#size) % this.#buf.length] = event;
    this.#size++;
  }

  /** Events with rv greater than `after`, oldest first. `after` must be at least `floor`. */
  *since(after: number): Generator<StoreEvent> {
    const from = Math.max(0, after - this.#floor);
    for (let i = from; i < this.#size; i++) yield this.#buf[(this.#start + i) % this.#buf.length]!;
  }

  /** Same as `since` but newest first. */
  *sinceNewestFirst(after: number): Generator<StoreEvent> {
    const from = Math.max(0, after - this.#floor);
    for (let i = this.#size - 1; i >= from; i--) yield this.#buf[(this.#start + i) % this.#buf.length]!;
  }

  #grow(): void {
    const next = new Array<StoreEvent | undefined>(Math.min(this.capacity, this.#buf.length * 2));
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#start + i) % this.#buf.length];
    this.#buf = next;
    this.#start = 0;
  }
}
