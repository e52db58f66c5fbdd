/**
 * XDR layouts of the remote protocol's shared structures: domains, UUIDs, typed parameters, errors.
 */
import { TypedParamType } from './constants.ts';
import type { LibvirtErrorFields } from './errors.ts';
import { STRING_MAX, UUID_BYTES } from './protocol.ts';
import { XdrError, type XdrReader, type XdrWriter } from './xdr.ts';

/** A domain handle as libvirt returns it. The daemon identifies the domain by `uuid` (and `name`). */
export interface Domain {
  name: string;
  /** Canonical lower-case 8-4-4-4-12 form. */
  uuid: string;
  /** Runtime id while the domain runs; -1 when it is shut off. */
  id: number;
}

const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

export function uuidToBytes(uuid: string): Buffer {
  if (!UUID_RE.test(uuid)) throw new XdrError(`not a UUID: ${JSON.stringify(uuid)}`);
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

export function uuidFromBytes(b: Uint8Array): string {
  const h = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function writeDomain(w: XdrWriter, d: Domain): void {
  w.writeString(d.name, STRING_MAX);
  w.writeFixedOpaque(uuidToBytes(d.uuid), UUID_BYTES);
  w.writeInt(d.id);
}

export function readDomain(r: XdrReader): Domain {
  const name = r.readString(STRING_MAX);
  const uuid = uuidFromBytes(r.readFixedOpaque(UUID_BYTES));
  const id = r.readInt();
  return { name, uuid, id };
}

/** remote_string: an optional string. */
export function writeOptString(w: XdrWriter, s: string | undefined | null): void {
  w.writeOptional(s, (x, v) => x.writeString(v, STRING_MAX));
}

export function readOptString(r: XdrReader): string | undefined {
  return r.readOptional((x) => x.readString(STRING_MAX));
}

/**
 * One typed parameter (virTypedParameter). 64-bit integers are `bigint` so nothing is lost; use
 * `typedParamsToRecord` for a plain object with numbers where they fit.
 */
export type TypedParam =
  | { field: string; type: 'int'; value: number }
  | { field: string; type: 'uint'; value: number }
  | { field: string; type: 'llong'; value: bigint }
  | { field: string; type: 'ullong'; value: bigint }
  | { field: string; type: 'double'; value: number }
  | { field: string; type: 'boolean'; value: boolean }
  | { field: string; type: 'string'; value: string };

/** Longest field name libvirt accepts (VIR_TYPED_PARAM_FIELD_LENGTH minus the NUL). */
export const TYPED_PARAM_FIELD_MAX = 79;

export function writeTypedParam(w: XdrWriter, p: TypedParam): void {
  if (p.field.length === 0 || Buffer.byteLength(p.field) > TYPED_PARAM_FIELD_MAX) {
    throw new XdrError(`typed parameter field name must be 1..${TYPED_PARAM_FIELD_MAX} bytes: ${p.field}`);
  }
  w.writeString(p.field, STRING_MAX);
  switch (p.type) {
    case 'int':
      w.writeInt(TypedParamType.Int).writeInt(p.value);
      break;
    case 'uint':
      w.writeInt(TypedParamType.UInt).writeUint(p.value);
      break;
    case 'llong':
      w.writeInt(TypedParamType.LLong).writeHyper(p.value);
      break;
    case 'ullong':
      w.writeInt(TypedParamType.ULLong).writeUhyper(p.value);
      break;
    case 'double':
      w.writeInt(TypedParamType.Double).writeDouble(p.value);
      break;
    case 'boolean':
      w.writeInt(TypedParamType.Boolean).writeInt(p.value ? 1 : 0);
      break;
    case 'string':
      w.writeInt(TypedParamType.String).writeString(p.value, STRING_MAX);
      break;
  }
}

export function readTypedParam(r: XdrReader): TypedParam {
  const field = r.readString(STRING_MAX);
  const type = r.readInt();
  switch (type) {
    case TypedParamType.Int:
      return { field, type: 'int', value: r.readInt() };
    case TypedParamType.UInt:
      return { field, type: 'uint', value: r.readUint() };
    case TypedParamType.LLong:
      return { field, type: 'llong', value: r.readHyper() };
    case TypedParamType.ULLong:
      return { field, type: 'ullong', value: r.readUhyper() };
    case TypedParamType.Double:
      return { field, type: 'double', value: r.readDouble() };
    case TypedParamType.Boolean:
      // libvirt sends an int; any non-zero is true.
      return { field, type: 'boolean', value: r.readInt() !== 0 };
    case TypedParamType.String:
      return { field, type: 'string', value: r.readString(STRING_MAX) };
    default:
      throw new XdrError(`unknown typed parameter type ${type} for field ${field}`);
  }
}

/** Typed parameters as a plain object; 64-bit values become numbers when exact, else stay bigint. */
export function typedParamsToRecord(params: readonly TypedParam[]): Record<string, number | bigint | boolean | string> {
  const out: Record<string, number | bigint | boolean | string> = {};
  for (const p of params) {
    if (typeof p.value === 'bigint') {
      const n = Number(p.value);
      out[p.field] = Number.isSafeInteger(n) ? n : p.value;
    } else {
      out[p.field] = p.value;
    }
  }
  return out;
}

/** virNetMessageError (remote_error). */
export function readError(r: XdrReader): LibvirtErrorFields {
  const code = r.readInt();
  const domain = r.readInt();
  const message = readOptString(r) ?? '';
  const level = r.readInt();
  r.readOptional(readDomain); // dom: unused by libvirt
  const str1 = readOptString(r);
  const str2 = readOptString(r);
  const str3 = readOptString(r);
  const int1 = r.readInt();
  const int2 = r.readInt();
  // net: unused by libvirt; a nonnull network is name + uuid.
  r.readOptional((x) => {
    x.readString(STRING_MAX);
    x.readFixedOpaque(UUID_BYTES);
  });
  return { code, domain, message, level, str1, str2, str3, int1, int2 };
}

/** Encoder for tests and a fake daemon: the same layout `readError` reads. */
export function writeError(w: XdrWriter, e: LibvirtErrorFields): void {
  w.writeInt(e.code).writeInt(e.domain);
  writeOptString(w, e.message);
  w.writeInt(e.level);
  w.writeBool(false);
  writeOptString(w, e.str1);
  writeOptString(w, e.str2);
  writeOptString(w, e.str3);
  w.writeInt(e.int1).writeInt(e.int2);
  w.writeBool(false);
}
