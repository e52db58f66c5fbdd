/**
 * libvirt's RPC wire format: every packet is a 4-byte big-endian length (counting itself), a 24-byte
 * header (program, version, procedure, type, serial, status) and an XDR payload. The numbers below are
 * facts of libvirt's protocol (stable across releases; new procedures only get appended).
 */
import { XdrError, type XdrReader, XdrWriter } from './xdr.ts';

/** The main ("remote") program: every virConnect/virDomain call. */
export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;
/** The keepalive program: PING/PONG messages, no payload. */
export const KEEPALIVE_PROGRAM = 0x6b656570;
export const KEEPALIVE_PROTOCOL_VERSION = 1;
export const KEEPALIVE_PROC_PING = 1;
export const KEEPALIVE_PROC_PONG = 2;

/** Largest packet libvirt accepts (length word included). */
export const MESSAGE_MAX = 33554432;
export const HEADER_SIZE = 24;
export const LENGTH_SIZE = 4;
/** Largest string libvirt's protocol allows (REMOTE_STRING_MAX). */
export const STRING_MAX = 4194304;
export const UUID_BYTES = 16;

export const MessageType = {
  Call: 0,
  Reply: 1,
  /** Asynchronous message in either direction: events, keepalive. */
  Message: 2,
  Stream: 3,
  CallWithFds: 4,
  ReplyWithFds: 5,
  StreamHole: 6,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MessageStatus = { Ok: 0, Error: 1, Continue: 2 } as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** Procedure numbers of the remote program used by this client (REMOTE_PROC_*). */
export const Proc = {
  ConnectOpen: 1,
  ConnectClose: 2,
  ConnectGetVersion: 4,
  NodeGetInfo: 6,
  ConnectGetCapabilities: 7,
  DomainGetXmlDesc: 14,
  DomainGetInfo: 16,
  DomainLookupByName: 23,
  DomainLookupByUuid: 24,
  DomainReboot: 27,
  DomainResume: 28,
  DomainSuspend: 34,
  ConnectGetHostname: 59,
  ConnectSupportsFeature: 60,
  AuthList: 66,
  AuthPolkit: 70,
  ConnectGetUri: 110,
  ConnectGetLibVersion: 157,
  DomainGetJobInfo: 163,
  DomainAbortJob: 164,
  DomainMigrateSetMaxDowntime: 166,
  DomainCreateWithFlags: 196,
  DomainMigrateSetMaxSpeed: 207,
  DomainGetState: 212,
  DomainUndefineFlags: 231,
  DomainReset: 245,
  DomainDestroyFlags: 234,
  DomainShutdownFlags: 258,
  ConnectListAllDomains: 273,
  DomainGetJobStats: 298,
  DomainMigratePerform3Params: 305,
  ConnectDomainEventCallbackRegisterAny: 316,
  ConnectDomainEventCallbackDeregisterAny: 317,
  DomainEventCallbackLifecycle: 318,
  DomainEventCallbackReboot: 319,
  ConnectGetDomainCapabilities: 342,
  DomainDefineXmlFlags: 350,
  DomainEventCallbackMigrationIteration: 359,
  DomainEventCallbackJobCompleted: 363,
  DomainMigrateGetMaxDowntime: 387,
} as const;

/** Feature numbers for CONNECT_SUPPORTS_FEATURE (VIR_DRV_FEATURE_*). */
export const DrvFeature = {
  MigrationP2P: 4,
  TypedParamString: 9,
  ProgramKeepalive: 10,
  MigrationParams: 13,
  RemoteEventCallback: 14,
} as const;

/** remote_auth_type. */
export const AuthType = { None: 0, Sasl: 1, Polkit: 2 } as const;

export interface MessageHeader {
  program: number;
  version: number;
  procedure: number;
  type: number;
  serial: number;
  status: number;
}

/**
 * Encodes one complete packet (length word, header, payload). `body` writes the payload into the same
 * buffer, so a call costs one allocation.
 */
export function encodePacket(header: MessageHeader, body?: (w: XdrWriter) => void, sizeHint = 128): Buffer {
  const w = new XdrWriter(sizeHint);
  w.writeUint(0); // length, patched below
  w.writeUint(header.program);
  w.writeUint(header.version);
  w.writeInt(header.procedure);
  w.writeInt(header.type);
  w.writeUint(header.serial);
  w.writeInt(header.status);
  body?.(w);
  if (w.length > MESSAGE_MAX) throw new XdrError(`message of ${w.length} bytes exceeds libvirt's ${MESSAGE_MAX}`);
  w.patchUint(0, w.length);
  return w.finish();
}

/** Reads the 24-byte header that follows the length word. */
export function decodeHeader(r: XdrReader): MessageHeader {
  return {
    program: r.readUint(),
    version: r.readUint(),
    procedure: r.readInt(),
    type: r.readInt(),
    serial: r.readUint(),
    status: r.readInt(),
  };
}

/**
 * Splits a byte stream into packets. Chunks are kept as received and joined only when a packet is
 * complete, so a large reply arriving in many chunks is copied once.
 */
export class PacketSplitter {
  #chunks: Buffer[] = [];
  #size = 0;
  #need = 0; // length of the packet being collected, 0 while the length word is unknown

  /** Feeds received bytes; returns the complete packets (each including its length word). */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.#need === 0) {
        if (this.#size < LENGTH_SIZE) break;
        const first = this.#chunks[0]!;
        const len = first.length >= LENGTH_SIZE ? first.readUInt32BE(0) : this.#peekLength();
        if (len < LENGTH_SIZE + HEADER_SIZE || len > MESSAGE_MAX) {
          throw new XdrError(`bad packet length ${len}`);
        }
        this.#need = len;
      }
      if (this.#size < this.#need) break;
      out.push(this.#take(this.#need));
      this.#need = 0;
    }
    return out;
  }

  #peekLength(): number {
    const head = Buffer.concat(this.#chunks, LENGTH_SIZE);
    return head.readUInt32BE(0);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let packet: Buffer;
    if (first.length >= n) {
      packet = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      packet = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(packet, off, 0, k);
        off += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#size -= n;
    return packet;
  }
}
