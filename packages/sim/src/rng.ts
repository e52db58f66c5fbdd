/**
 * Seeded randomness for the simulator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * 128-bit state, passes PractRand to terabytes) seeded through a murmur3-style finaliser.
 *
 * `fork(label)` derives a child stream from this stream's *seed* and the label, never from how many
 * numbers were drawn so far. So `root.fork('node:a')` is the same stream whether or not node b exists
 * or drew first: adding a node or a domain does not shift anyone else's timings.
 */

const GOLDEN = 0x9e3779b9;

/** murmur3's fmix32: a cheap bijective avalanche on 32 bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes `label` into 32 bits, keyed by `key` so each of the four seed words differs. */
function hashLabel(label: string, key: number): number {
  let h = fmix32(key ^ Math.imul(label.length + 1, GOLDEN));
  for (let i = 0; i < label.length; i++) {
    h = fmix32((h ^ label.charCodeAt(i)) + Math.imul(i + 1, GOLDEN));
  }
  return h;
}

export type Seed = number | string;

export class Rng {
  /** The four words this stream was seeded with; forks derive from these. */
  readonly #key: readonly [number, number, number, number];
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  private constructor(key: readonly [number, number, number, number]) {
    this.#key = key;
    [this.#a, this.#b, this.#c, this.#d] = key;
    // A few rounds so nearby seeds decorrelate before the first draw.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A stream from a number or string seed. Equal seeds give equal streams. */
  static from(seed: Seed): Rng {
    const label = typeof seed === 'number' ? `n:${seed}` : `s:${seed}`;
    return new Rng([hashLabel(label, 1), hashLabel(label, 2), hashLabel(label, 3), hashLabel(label, 4)]);
  }

  /** An independent stream named `label`, a pure function of this stream's seed and the label. */
  fork(label: string): Rng {
    const k = this.#key;
    return new Rng([
      hashLabel(label, k[0]),
      hashLabel(label, k[1] ^ 0x5bd1e995),
      hashLabel(label, k[2]),
      hashLabel(label, k[3] ^ 0x27d4eb2f),
    ]);
  }

  /** Next 32-bit unsigned integer. */
  uint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.#c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal deviate (Box–Muller; one pair per call so draws stay aligned with calls). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
