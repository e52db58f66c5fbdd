import { DriverError } from '@virtkit/engine';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLibvirtUri } from '../../src/rpc/client.ts';
import {
  readDomain,
  readError,
  readTypedParam,
  type TypedParam,
  typedParamsToRecord,
  uuidFromBytes,
  uuidToBytes,
  writeDomain,
  writeError,
  writeTypedParam,
} from '../../src/rpc/codec.ts';
import { eventDetailName, eventName, stateName, stateReasonName } from '../../src/rpc/constants.ts';
import {
  driverErrorReason,
  LibvirtConnectionError,
  LibvirtError,
  type LibvirtErrorFields,
  toDriverError,
} from '../../src/rpc/errors.ts';
import {
  decodeHeader,
  encodePacket,
  KEEPALIVE_PROGRAM,
  MESSAGE_MAX,
  MessageStatus,
  MessageType,
  PacketSplitter,
  Proc,
  REMOTE_PROGRAM,
} from '../../src/rpc/protocol.ts';
import { XdrError, XdrReader, XdrWriter } from '../../src/rpc/xdr.ts';

const call = (serial: number, body?: (w: XdrWriter) => void) =>
  encodePacket(
    {
      program: REMOTE_PROGRAM,
      version: 1,
      procedure: Proc.DomainLookupByName,
      type: MessageType.Call,
      serial,
      status: MessageStatus.Ok,
    },
    body,
  );

describe('packet framing', () => {
  it('writes the length word, the 24-byte header and the payload', () => {
    const p = call(7, (w) => w.writeString('vm1'));
    expect(p.toString('hex')).toBe(
      [
        '00000024', // length 36 = 4 + 24 + 8, counting itself
        '20008086', // REMOTE_PROGRAM
        '00000001', // version
        '00000017', // procedure 23 = DOMAIN_LOOKUP_BY_NAME
        '00000000', // CALL
        '00000007', // serial
        '00000000', // OK
        '00000003', // string length
        '766d3100', // "vm1" + pad
      ].join(''),
    );
    const r = new XdrReader(p, 4);
    expect(decodeHeader(r)).toEqual({
      program: REMOTE_PROGRAM,
      version: 1,
      procedure: 23,
      type: 0,
      serial: 7,
      status: 0,
    });
    expect(r.readString()).toBe('vm1');
    r.expectEnd();
  });

  it('a keepalive PING is a bare 28-byte MESSAGE of program "keep"', () => {
    const p = encodePacket({
      program: KEEPALIVE_PROGRAM,
      version: 1,
      procedure: 1,
      type: MessageType.Message,
      serial: 0,
      status: 0,
    });
    expect(p.toString('hex')).toBe('0000001c6b65657000000001000000010000000200000000' + '00000000');
    expect(p.subarray(4, 8).toString('latin1')).toBe('keep');
  });

  it('splits a stream into packets whatever the chunking', () => {
    const packets = [call(1, (w) => w.writeString('a'.repeat(100))), call(2), call(3, (w) => w.writeInt(5))];
    const stream = Buffer.concat(packets);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const s = new PacketSplitter();
        const out: Buffer[] = [];
        let prev = 0;
        for (const c of [...points, stream.length]) {
          out.push(...s.push(stream.subarray(prev, c)));
          prev = c;
        }
        expect(out.map((b) => b.toString('hex'))).toEqual(packets.map((b) => b.toString('hex')));
      }),
    );
  });

  it('byte-by-byte feeding yields the same packets', () => {
    const packets = [call(1, (w) => w.writeString('xyz')), call(2)];
    const stream = Buffer.concat(packets);
    const s = new PacketSplitter();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...s.push(stream.subarray(i, i + 1)));
    expect(out.map((b) => b.toString('hex'))).toEqual(packets.map((b) => b.toString('hex')));
  });

  it('rejects impossible lengths instead of waiting forever', () => {
    expect(() => new PacketSplitter().push(Buffer.from('00000010', 'hex'))).toThrow(/bad packet length 16/);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MESSAGE_MAX + 1);
    expect(() => new PacketSplitter().push(huge)).toThrow(/bad packet length/);
  });

  it('refuses to encode a message larger than libvirt accepts', () => {
    expect(() => call(1, (w) => w.writeOpaque(Buffer.alloc(MESSAGE_MAX)))).toThrow(XdrError);
  });
});

describe('remote structures', () => {
  it('encodes a domain as name, 16 raw UUID bytes and id', () => {
    const w = new XdrWriter();
    writeDomain(w, { name: 'a', uuid: '00112233-4455-6677-8899-aabbccddeeff', id: -1 });
    expect(w.finish().toString('hex')).toBe('00000001' + '61000000' + '00112233445566778899aabbccddeeff' + 'ffffffff');
    expect(readDomain(new XdrReader(w.finish()))).toEqual({
      name: 'a',
      uuid: '00112233-4455-6677-8899-aabbccddeeff',
      id: -1,
    });
  });

  it('converts UUIDs both ways and rejects non-UUIDs', () => {
    const b = uuidToBytes('E66B517A-99B2-4778-9A50-061A1CEB307A');
    expect(b.length).toBe(16);
    expect(uuidFromBytes(b)).toBe('e66b517a-99b2-4778-9a50-061a1ceb307a');
    expect(() => uuidToBytes('not-a-uuid')).toThrow(XdrError);
    expect(() => uuidToBytes('e66b517a-99b2-4778-9a50-061a1ceb307')).toThrow(XdrError);
  });

  it('encodes typed parameters with their discriminant', () => {
    const w = new XdrWriter();
    writeTypedParam(w, { field: 'bandwidth', type: 'ullong', value: 8n });
    expect(w.finish().toString('hex')).toBe('00000009' + '62616e647769647468000000' + '00000004' + '0000000000000008');
  });

  it('round-trips every typed parameter kind', () => {
    const params: TypedParam[] = [
      { field: 'i', type: 'int', value: -3 },
      { field: 'u', type: 'uint', value: 4000000000 },
      { field: 'l', type: 'llong', value: -(2n ** 62n) },
      { field: 'ul', type: 'ullong', value: 2n ** 64n - 1n },
      { field: 'd', type: 'double', value: 0.25 },
      { field: 'b', type: 'boolean', value: true },
      { field: 'migrate_uri', type: 'string', value: 'tcp://127.0.0.1' },
    ];
    const w = new XdrWriter();
    w.writeArray(params, writeTypedParam);
    const r = new XdrReader(w.finish());
    expect(r.readArray(readTypedParam)).toEqual(params);
    r.expectEnd();
    expect(typedParamsToRecord(params)).toEqual({
      i: -3,
      u: 4000000000,
      l: -(2n ** 62n),
      ul: 2n ** 64n - 1n, // does not fit a number: stays bigint
      d: 0.25,
      b: true,
      migrate_uri: 'tcp://127.0.0.1',
    });
    expect(typedParamsToRecord([{ field: 'downtime', type: 'ullong', value: 112n }])).toEqual({ downtime: 112 });
  });

  it('rejects unknown typed parameter kinds and bad field names', () => {
    const w = new XdrWriter().writeString('x').writeInt(99);
    expect(() => readTypedParam(new XdrReader(w.finish()))).toThrow(/unknown typed parameter type 99/);
    expect(() => writeTypedParam(new XdrWriter(), { field: '', type: 'int', value: 1 })).toThrow(XdrError);
    expect(() => writeTypedParam(new XdrWriter(), { field: 'x'.repeat(80), type: 'int', value: 1 })).toThrow(XdrError);
  });

  it('decodes an error reply', () => {
    const fields: LibvirtErrorFields = {
      code: 42,
      domain: 10,
      message: "Domain not found: no domain with matching name 'x'",
      level: 2,
      str1: 'Domain not found',
      str2: undefined,
      str3: undefined,
      int1: 0,
      int2: -1,
    };
    const w = new XdrWriter();
    writeError(w, fields);
    const r = new XdrReader(w.finish());
    expect(readError(r)).toEqual(fields);
    r.expectEnd();
  });
});

describe('names as virsh prints them', () => {
  it('maps states, reasons, events and details', () => {
    expect(stateName(1)).toBe('running');
    expect(stateName(5)).toBe('shutoff');
    expect(stateReasonName(5, 2)).toBe('destroyed');
    expect(stateReasonName(1, 2)).toBe('migrated');
    expect(stateReasonName(3, 1)).toBe('user');
    expect(eventName(2)).toBe('Started');
    expect(eventDetailName(2, 0)).toBe('Booted');
    expect(eventDetailName(5, 1)).toBe('Destroyed');
    expect(eventDetailName(6, 2)).toBe('Host');
    expect(eventDetailName(1, 0)).toBe('Removed');
  });

  it('names numbers from newer daemons instead of failing', () => {
    expect(eventName(42)).toBe('Unknown42');
    expect(eventDetailName(2, 17)).toBe('Unknown17');
    expect(stateReasonName(1, 99)).toBe('unknown');
  });
});

describe('libvirt errors → DriverError reasons', () => {
  const err = (code: number, message = 'm') =>
    new LibvirtError({ code, domain: 10, message, level: 2, int1: 0, int2: 0 }, Proc.DomainCreateWithFlags);

  it('maps the codes the engine relies on', () => {
    expect(driverErrorReason(err(42))).toBe('DomainNotFound');
    expect(driverErrorReason(err(55))).toBe('InvalidState');
    expect(driverErrorReason(err(28))).toBe('DomainExists');
    expect(driverErrorReason(err(9, "operation failed: domain 'x' already exists with uuid 1234"))).toBe(
      'DomainExists',
    );
    expect(driverErrorReason(err(9, 'operation failed: something else'))).toBe('Internal');
    expect(driverErrorReason(err(27))).toBe('InvalidSpec');
    expect(driverErrorReason(err(35))).toBe('InvalidSpec');
    expect(driverErrorReason(err(67))).toBe('InvalidSpec');
    expect(driverErrorReason(err(84))).toBe('Unsupported');
    expect(driverErrorReason(err(39))).toBe('NodeUnreachable');
    expect(driverErrorReason(err(1))).toBe('Internal');
    expect(driverErrorReason(new LibvirtConnectionError('gone'))).toBe('NodeUnreachable');
    expect(driverErrorReason(new Error('x'))).toBe('Internal');
  });

  it('reads codes in a migration as migration outcomes', () => {
    expect(driverErrorReason(err(78), 'migrate')).toBe('MigrationAborted');
    expect(driverErrorReason(err(1, 'Attempt to migrate guest to the same host'), 'migrate')).toBe('MigrationFailed');
    expect(driverErrorReason(err(9), 'migrate')).toBe('MigrationFailed');
    expect(driverErrorReason(err(42), 'migrate')).toBe('DomainNotFound');
    expect(driverErrorReason(err(55), 'migrate')).toBe('InvalidState');
    expect(driverErrorReason(new LibvirtConnectionError('gone'), 'migrate')).toBe('NodeUnreachable');
  });

  it('wraps into DriverError with the node and the original as cause', () => {
    const e = err(42, "Domain not found: no domain with matching name 'vm'");
    const d = toDriverError(e, 'node-a');
    expect(d).toBeInstanceOf(DriverError);
    expect(d.reason).toBe('DomainNotFound');
    expect(d.node).toBe('node-a');
    expect(d.message).toBe("node node-a: Domain not found: no domain with matching name 'vm'");
    expect(d.cause).toBe(e);
    expect(toDriverError(d, 'other')).toBe(d);
  });
});

describe('libvirt URIs', () => {
  it('splits transport and host from what the daemon opens', () => {
    expect(parseLibvirtUri('qemu:///system')).toEqual({ uri: 'qemu:///system' });
    expect(parseLibvirtUri('qemu+tcp://127.0.0.1:16510/system')).toEqual({
      host: '127.0.0.1',
      port: 16510,
      uri: 'qemu:///system',
    });
    expect(parseLibvirtUri('qemu+tcp://[::1]/system')).toEqual({ host: '::1', port: 16509, uri: 'qemu:///system' });
    expect(parseLibvirtUri('qemu+unix:///system?socket=/tmp/a/libvirt-sock')).toEqual({
      socketPath: '/tmp/a/libvirt-sock',
      uri: 'qemu:///system',
    });
  });

  it('rejects what it cannot connect to', () => {
    expect(() => parseLibvirtUri('qemu+ssh://host/system')).toThrow(/transport 'ssh' is not supported/);
    expect(() => parseLibvirtUri('qemu://host/system')).toThrow(/needs a transport/);
    expect(() => parseLibvirtUri('not a uri')).toThrow(/not a libvirt URI/);
  });
});
