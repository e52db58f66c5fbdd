/**
 * Kubernetes Events for notable transitions. Repeats of the same (object, type, reason, message) update one
 * Event's `count` and `lastTimestamp` instead of adding objects, as the Kubernetes event recorder does.
 * Writing an event never fails the caller: events are best-effort records.
 */

import { NotFoundError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';
import { isoTime } from '../ports/clock.ts';
import type { ResourceStore } from '../ports/resource-store.ts';
import type { Event } from '../resources/core.ts';
import type { KubeObject } from '../resources/meta.ts';
import { BoundedMap } from './bounded-map.ts';

export type EventType = 'Normal' | 'Warning';

export const EVENT_COMPONENT = 'virtkit-controller';

export class EventRecorder {
  readonly #store: ResourceStore;
  readonly #clock: Clock;
  readonly #component: string;
  /** Aggregation key → stored event name, and a chain serialising writes of one key. */
  /** Bounded like the Kubernetes recorder's LRU: forgetting an entry only starts a fresh Event. */
  #names = new BoundedMap<string, string>(4096);
  #chains = new Map<string, Promise<void>>();
  #seq = 0;
  #inflight = 0;

  constructor(store: ResourceStore, clock: Clock, component = EVENT_COMPONENT) {
    this.#store = store;
    this.#clock = clock;
    this.#component = component;
  }

  get busy(): boolean {
    return this.#inflight > 0;
  }

  /** Records an event about `obj`; resolves when stored (callers need not wait). */
  record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const ns = obj.metadata.namespace || 'default';
    const aggKey = `${obj.kind}\u0000${ns}\u0000${obj.metadata.name}\u0000${obj.metadata.uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const prev = this.#chains.get(aggKey) ?? Promise.resolve();
    this.#inflight++;
    const next = prev
      .then(() => this.#write(aggKey, obj, ns, type, reason, message))
      .catch(() => {})
      .finally(() => {
        this.#inflight--;
        if (this.#chains.get(aggKey) === next) this.#chains.delete(aggKey);
      });
    this.#chains.set(aggKey, next);
    return next;
  }

  async #write(aggKey: string, obj: KubeObject, ns: string, type: EventType, reason: string, message: string) {
    const now = isoTime(this.#clock.now());
    const existingName = this.#names.get(aggKey);
    if (existingName) {
      const ev = await this.#store.tryGet('Event', ns, existingName);
      if (ev) {
        try {
          await this.#store.update(
            'Event',
            { ...ev, count: (ev.count ?? 1) + 1, lastTimestamp: now },
            { shared: true },
          );
          return;
        } catch (err) {
          // Expired (deleted by its TTL) between the read and the write: the occurrence starts a fresh Event.
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    }
    const stamp = (BigInt(this.#clock.now()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16);
    const name = `${obj.metadata.name}.${stamp}`;
    const event: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name ?? '',
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.#component },
    };
    // The stored event is not read back: no copy of it is needed.
    await this.#store.create('Event', event, { shared: true });
    this.#names.set(aggKey, name);
  }
}
