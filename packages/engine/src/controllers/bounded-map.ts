/**
 * A map that forgets its oldest key once it holds more than `limit` (a key set again keeps its place, as in
 * a Map). Evicting through `map.keys().next()` looks cheap but is not: V8 leaves a deleted entry's slot in
 * place until the table is rebuilt, and a fresh iterator walks over every one of them, so a Map kept at its
 * limit that way pays thousands of steps per insert. The insertion order is kept in a queue of its own.
 */
export class BoundedMap<K, V> {
  readonly #limit: number;
  readonly #map = new Map<K, V>();
  #order: (K | undefined)[] = [];
  #head = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    if (!this.#map.has(key)) this.#order.push(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#limit) {
      const oldest = this.#order[this.#head] as K;
      this.#order[this.#head++] = undefined;
      this.#map.delete(oldest);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    return this;
  }
}
