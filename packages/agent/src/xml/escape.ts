/** A value that would be unsafe in domain XML, a file name or a path. The driver reports it as `InvalidSpec`. */
export class UnsafeValueError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

// XML 1.0 forbids these code points even when escaped, so they are rejected rather than encoded.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
/** A UTF-16 surrogate without its pair: not a character at all, so XML (and UTF-8) cannot carry it. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Escapes text or an attribute value (either quote style) for XML; rejects characters XML cannot carry.
 * Tab, line feed and carriage return become character references: a parser turns them into spaces inside
 * attributes and turns CR into LF in text, so written literally they would not read back as written.
 */
export function xmlEscape(value: string, field = 'value'): string {
  if (XML_FORBIDDEN.test(value)) throw new UnsafeValueError(field, 'contains a control character');
  if (LONE_SURROGATE.test(value)) throw new UnsafeValueError(field, 'contains an unpaired UTF-16 surrogate');
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')
    .replaceAll('\t', '&#9;')
    .replaceAll('\n', '&#10;')
    .replaceAll('\r', '&#13;');
}

/** Inverse of `xmlEscape` plus numeric character references (libvirt may re-encode when it formats XML). */
export function xmlUnescape(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, ent: string) => {
    switch (ent) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(ent[1] === 'x' ? Number.parseInt(ent.slice(2), 16) : Number(ent.slice(1)));
    }
  });
}

/**
 * libvirt domain names: non-empty, at most 200 characters, no `/` (libvirt uses the name in file paths),
 * no control characters. Anything else is XML-escaped where it is written.
 */
export function checkDomainName(name: string): string {
  if (name.length === 0 || name.length > 200) throw new UnsafeValueError('name', 'must be 1-200 characters');
  if (name.includes('/')) throw new UnsafeValueError('name', 'must not contain "/"');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001F\u007F]/.test(name)) throw new UnsafeValueError('name', 'contains a control character');
  return name;
}

/**
 * A single path component derived from an identifier (the VMI uid): letters, digits, `.`, `_`, `-`,
 * not starting with `.` (so never `.` or `..`). Per-domain files live under such a directory, so a user's
 * name never becomes part of a path.
 */
export function checkPathComponent(value: string, field: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(value)) {
    throw new UnsafeValueError(field, `"${value.slice(0, 64)}" is not a safe path component`);
  }
  return value;
}

/** An absolute, normalised path (no `..` or `.` segments, no doubled slashes, no control characters). */
export function checkAbsolutePath(path: string, field: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (!path.startsWith('/') || /[\u0000-\u001F\u007F]/.test(path)) {
    throw new UnsafeValueError(field, 'must be an absolute path without control characters');
  }
  const segs = path.split('/').slice(1);
  if (path !== '/' && segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw new UnsafeValueError(field, `"${path}" is not a normalised absolute path`);
  }
  return path;
}
