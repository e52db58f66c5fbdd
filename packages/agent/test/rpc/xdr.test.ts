import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XdrError, XdrReader, XdrWriter } from '../../src/rpc/xdr.ts';

const hex = (b: Buffer) => b.toString('hex');
const bytes = (w: XdrWriter) => hex(w.finish());
const reader = (h: string) => new XdrReader(Buffer.from(h, 'hex'));

describe('XDR byte layouts (RFC 4506)', () => {
  it('encodes 32-bit integers big-endian', () => {
    expect(bytes(new XdrWriter().writeInt(1))).toBe('00000001');
    expect(bytes(new XdrWriter().writeInt(-1))).toBe('ffffffff');
    expect(bytes(new XdrWriter().writeInt(-2147483648))).toBe('80000000');
    expect(bytes(new XdrWriter().writeUint(0xdeadbeef))).toBe('deadbeef');
  });

  it('encodes hypers as 8 big-endian bytes', () => {
    expect(bytes(new XdrWriter().writeHyper(-2n))).toBe('fffffffffffffffe');
    expect(bytes(new XdrWriter().writeUhyper(2n ** 40n + 5n))).toBe('0000010000000005');
    expect(bytes(new XdrWriter().writeUhyper(9000000))).toBe('0000000000895440');
  });

  it('encodes doubles as IEEE 754 big-endian', () => {
    expect(bytes(new XdrWriter().writeDouble(1.5))).toBe('3ff8000000000000');
  });

  it('encodes bools as 0/1 ints', () => {
    expect(bytes(new XdrWriter().writeBool(true).writeBool(false))).toBe('0000000100000000');
  });

  it('pads strings and opaques with zeros to 4 bytes', () => {
    expect(bytes(new XdrWriter().writeString(''))).toBe('00000000');
    expect(bytes(new XdrWriter().writeString('abc'))).toBe('0000000361626300');
    expect(bytes(new XdrWriter().writeString('abcd'))).toBe('0000000461626364');
    expect(bytes(new XdrWriter().writeString('abcde'))).toBe('000000056162636465000000');
    // UTF-8 length, not code units: 'é' is two bytes.
    expect(bytes(new XdrWriter().writeString('é'))).toBe('00000002c3a90000');
    expect(bytes(new XdrWriter().writeOpaque(Buffer.from([1, 2])))).toBe('0000000201020000');
    expect(bytes(new XdrWriter().writeFixedOpaque(Buffer.from([1, 2, 3, 4, 5]), 5))).toBe('0102030405000000');
  });

  it('encodes optional data as a bool then the value', () => {
    const w = new XdrWriter();
    w.writeOptional('x', (x, v) => x.writeString(v)).writeOptional(undefined, (x, v: string) => x.writeString(v));
    expect(bytes(w)).toBe(`00000001${'00000001'}78000000${'00000000'}`);
  });

  it('encodes variable arrays as a count then the items', () => {
    expect(bytes(new XdrWriter().writeArray([7, 8], (x, v) => x.writeInt(v)))).toBe('000000020000000700000008');
  });

  it('grows its buffer past the initial size', () => {
    const w = new XdrWriter(4);
    for (let i = 0; i < 1000; i++) w.writeInt(i);
    const r = new XdrReader(w.finish());
    for (let i = 0; i < 1000; i++) expect(r.readInt()).toBe(i);
    r.expectEnd();
  });
});

describe('XDR decoding', () => {
  it('reads what it is given', () => {
    const r = reader(
      'ffffffff' + 'deadbeef' + 'fffffffffffffffe' + '0000010000000005' + '0000000361626300' + '00000001',
    );
    expect(r.readInt()).toBe(-1);
    expect(r.readUint()).toBe(0xdeadbeef);
    expect(r.readHyper()).toBe(-2n);
    expect(r.readUhyper()).toBe(2n ** 40n + 5n);
    expect(r.readString()).toBe('abc');
    expect(r.readBool()).toBe(true);
    r.expectEnd();
  });

  it('round-trips every primitive (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.double({ noNaN: true }),
        fc.boolean(),
        fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\0')),
        fc.uint8Array({ maxLength: 40 }),
        fc.option(
          fc.string().filter((s) => !s.includes('\0')),
          { nil: undefined },
        ),
        fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 10 }),
        (i, u, h, uh, d, b, s, op, opt, arr) => {
          const w = new XdrWriter(8);
          w.writeInt(i).writeUint(u).writeHyper(h).writeUhyper(uh).writeDouble(d).writeBool(b).writeString(s);
          w.writeOpaque(op).writeOptional(opt, (x, v) => x.writeString(v));
          w.writeArray(arr, (x, v) => x.writeInt(v));
          const buf = w.finish();
          expect(buf.length % 4).toBe(0);
          const r = new XdrReader(buf);
          expect(r.readInt()).toBe(i);
          expect(r.readUint()).toBe(u);
          expect(r.readHyper()).toBe(h);
          expect(r.readUhyper()).toBe(uh);
          expect(Object.is(r.readDouble(), d)).toBe(true);
          expect(r.readBool()).toBe(b);
          expect(r.readString()).toBe(s);
          expect(Buffer.compare(r.readOpaque(), Buffer.from(op))).toBe(0);
          expect(r.readOptional((x) => x.readString())).toBe(opt);
          expect(r.readArray((x) => x.readInt())).toEqual(arr);
          r.expectEnd();
        },
      ),
    );
  });

  it('rejects truncated input', () => {
    expect(() => reader('000000').readInt()).toThrow(XdrError);
    expect(() => reader('00000000000000').readHyper()).toThrow(XdrError);
    expect(() => reader('0000000561626364').readString()).toThrow(/truncated/);
    // Padding is part of the item: a string whose padding is missing is truncated too.
    expect(() => reader('00000003616263').readString()).toThrow(/truncated/);
  });

  it('rejects counts beyond the remaining data and beyond their maximum', () => {
    expect(() => reader('7fffffff00000000').readArray((x) => x.readInt())).toThrow(/exceeds the remaining/);
    expect(() => reader('00000003000000010000000200000003').readArray((x) => x.readInt(), 2)).toThrow(/maximum of 2/);
    expect(() => reader('0000000361626300').readString(2)).toThrow(/maximum of 2/);
  });

  it('rejects a bool that is neither 0 nor 1', () => {
    expect(() => reader('00000002').readBool()).toThrow(/bad bool/);
  });

  it('reports trailing bytes', () => {
    const r = reader('0000000100000002');
    r.readInt();
    expect(() => r.expectEnd('reply')).toThrow(/4 unexpected trailing bytes in reply/);
  });

  it('converts hypers to numbers only when exact', () => {
    expect(reader('001fffffffffffff').readUhyperNumber()).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => reader('0020000000000000').readUhyperNumber()).toThrow(/does not fit/);
    expect(reader('ffffffffffffffff').readHyperNumber()).toBe(-1);
  });
});

describe('XDR encoding refuses what libvirt would misread', () => {
  it('rejects out-of-range integers', () => {
    expect(() => new XdrWriter().writeInt(2 ** 31)).toThrow(XdrError);
    expect(() => new XdrWriter().writeInt(1.5)).toThrow(XdrError);
    expect(() => new XdrWriter().writeUint(-1)).toThrow(XdrError);
    expect(() => new XdrWriter().writeHyper(2n ** 63n)).toThrow(XdrError);
    expect(() => new XdrWriter().writeUhyper(-1n)).toThrow(XdrError);
  });

  it('rejects NUL in strings (C strings would be truncated by the daemon)', () => {
    expect(() => new XdrWriter().writeString('vm\0evil')).toThrow(/NUL/);
  });

  it('enforces maximum lengths', () => {
    expect(() => new XdrWriter().writeString('abc', 2)).toThrow(/maximum/);
    expect(() => new XdrWriter().writeOpaque(Buffer.alloc(3), 2)).toThrow(/maximum/);
    expect(() => new XdrWriter().writeArray([1, 2, 3], (x, v) => x.writeInt(v), 2)).toThrow(/maximum/);
    expect(() => new XdrWriter().writeFixedOpaque(Buffer.alloc(3), 16)).toThrow(/needs 16 bytes/);
  });
});
