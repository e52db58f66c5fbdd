/**
 * XDR (RFC 4506) encoding and decoding as libvirt's RPC uses it: big-endian 4-byte units, variable
 * data prefixed by a 4-byte length and padded with zeros to a multiple of 4.
 *
 * Hypers (64-bit) are read as `bigint` (`readHyper`/`readUhyper`) or, where the value is a size or a
 * version that always fits 2^53, as `number` (`readHyperNumber`/`readUhyperNumber`, which throw when
 * precision would be lost rather than silently round).
 */

/** Malformed or oversized XDR data. */
export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

const pad = (n: number): number => (4 - (n & 3)) & 3;

/** Appends XDR items to a growing buffer. `finish()` returns the bytes written so far (no copy). */
export class XdrWriter {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;

  constructor(initialSize = 256) {
    this.#buf = Buffer.allocUnsafe(initialSize);
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  }

  get length(): number {
    return this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  writeInt(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new XdrError(`int out of range: ${v}`);
    this.#ensure(4);
    this.#view.setInt32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  writeUint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new XdrError(`unsigned int out of range: ${v}`);
    this.#ensure(4);
    this.#view.setUint32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  writeHyper(v: bigint | number): this {
    const b = BigInt(v);
    if (b < -(1n << 63n) || b >= 1n << 63n) throw new XdrError(`hyper out of range: ${v}`);
    this.#ensure(8);
    this.#view.setBigInt64(this.#pos, b);
    this.#pos += 8;
    return this;
  }

  writeUhyper(v: bigint | number): this {
    const b = BigInt(v);
    if (b < 0n || b >= 1n << 64n) throw new XdrError(`unsigned hyper out of range: ${v}`);
    this.#ensure(8);
    this.#view.setBigUint64(this.#pos, b);
    this.#pos += 8;
    return this;
  }

  writeDouble(v: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, v);
    this.#pos += 8;
    return this;
  }

  writeBool(v: boolean): this {
    return this.writeInt(v ? 1 : 0);
  }

  /**
   * A string<max>. libvirt's strings are C strings, so an embedded NUL would silently truncate the value
   * on the daemon's side: it is rejected here.
   */
  writeString(s: string, max = Number.POSITIVE_INFINITY): this {
    if (s.includes('\0')) throw new XdrError('string contains a NUL character');
    const n = Buffer.byteLength(s, 'utf8');
    if (n > max) throw new XdrError(`string of ${n} bytes exceeds its maximum of ${max}`);
    this.writeUint(n);
    this.#ensure(n + 3);
    this.#buf.write(s, this.#pos, n, 'utf8');
    this.#pos += n;
    this.#zeros(pad(n));
    return this;
  }

  /** opaque[n]: exactly `n` bytes, padded. */
  writeFixedOpaque(bytes: Uint8Array, n: number): this {
    if (bytes.length !== n) throw new XdrError(`fixed opaque needs ${n} bytes, got ${bytes.length}`);
    this.#ensure(n + 3);
    this.#buf.set(bytes, this.#pos);
    this.#pos += n;
    this.#zeros(pad(n));
    return this;
  }

  /** opaque<max>: length-prefixed bytes, padded. */
  writeOpaque(bytes: Uint8Array, max = Number.POSITIVE_INFINITY): this {
    if (bytes.length > max) throw new XdrError(`opaque of ${bytes.length} bytes exceeds its maximum of ${max}`);
    this.writeUint(bytes.length);
    return this.writeFixedOpaque(bytes, bytes.length);
  }

  /** An optional (`*`) item: a bool "present" followed by the item when present. */
  writeOptional<T>(v: T | null | undefined, write: (w: this, v: T) => void): this {
    if (v === null || v === undefined) return this.writeBool(false);
    this.writeBool(true);
    write(this, v);
    return this;
  }

  /** A variable-length array T<max>. */
  writeArray<T>(items: readonly T[], write: (w: this, v: T) => void, max = Number.POSITIVE_INFINITY): this {
    if (items.length > max) throw new XdrError(`array of ${items.length} items exceeds its maximum of ${max}`);
    this.writeUint(items.length);
    for (const it of items) write(this, it);
    return this;
  }

  /** Overwrites a 4-byte unsigned int at `offset` (used for the packet length once known). */
  patchUint(offset: number, v: number): void {
    this.#view.setUint32(offset, v);
  }

  #zeros(n: number): void {
    for (let i = 0; i < n; i++) this.#buf[this.#pos++] = 0;
  }

  /** The encoded bytes (a view on the internal buffer; do not keep writing after using it). */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Reads XDR items from a buffer; every read checks bounds and throws `XdrError` on truncated input. */
export class XdrReader {
  readonly #buf: Buffer;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#end) {
      throw new XdrError(`truncated XDR data: need ${n} bytes at offset ${this.#pos}, have ${this.#end - this.#pos}`);
    }
  }

  readInt(): number {
    this.#need(4);
    const v = this.#view.getInt32(this.#pos);
    this.#pos += 4;
    return v;
  }

  readUint(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  readHyper(): bigint {
    this.#need(8);
    const v = this.#view.getBigInt64(this.#pos);
    this.#pos += 8;
    return v;
  }

  readUhyper(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** A hyper as a number; throws when it does not fit 2^53 exactly. */
  readHyperNumber(): number {
    return toSafeNumber(this.readHyper());
  }

  /** An unsigned hyper as a number; throws when it does not fit 2^53 exactly. */
  readUhyperNumber(): number {
    return toSafeNumber(this.readUhyper());
  }

  readDouble(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** XDR bool: 0 or 1; anything else is malformed. */
  readBool(): boolean {
    const v = this.readInt();
    if (v !== 0 && v !== 1) throw new XdrError(`bad bool value ${v}`);
    return v === 1;
  }

  readString(max = Number.POSITIVE_INFINITY): string {
    const n = this.readUint();
    if (n > max) throw new XdrError(`string of ${n} bytes exceeds its maximum of ${max}`);
    this.#need(n + pad(n));
    const s = this.#buf.toString('utf8', this.#pos, this.#pos + n);
    this.#pos += n + pad(n);
    return s;
  }

  /** opaque[n]; returns a copy. */
  readFixedOpaque(n: number): Buffer {
    this.#need(n + pad(n));
    const b = Buffer.from(this.#buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n + pad(n);
    return b;
  }

  readOpaque(max = Number.POSITIVE_INFINITY): Buffer {
    const n = this.readUint();
    if (n > max) throw new XdrError(`opaque of ${n} bytes exceeds its maximum of ${max}`);
    return this.readFixedOpaque(n);
  }

  readOptional<T>(read: (r: this) => T): T | undefined {
    return this.readBool() ? read(this) : undefined;
  }

  readArray<T>(read: (r: this) => T, max = Number.POSITIVE_INFINITY): T[] {
    const n = this.readUint();
    if (n > max) throw new XdrError(`array of ${n} items exceeds its maximum of ${max}`);
    // Each item takes at least 4 bytes: a count beyond that is a lie, not a reason to allocate.
    if (n * 4 > this.remaining) throw new XdrError(`array count ${n} exceeds the remaining data`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  /** Throws unless every byte was consumed (catches layout mistakes early). */
  expectEnd(what = 'message'): void {
    if (this.#pos !== this.#end) throw new XdrError(`${this.#end - this.#pos} unexpected trailing bytes in ${what}`);
  }
}

function toSafeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new XdrError(`64-bit value ${v} does not fit a JavaScript number exactly`);
  }
  return Number(v);
}
