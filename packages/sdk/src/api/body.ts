/**
 * Request bodies: media types, size limit, and decoding JSON or YAML into a plain object with errors a
 * person can act on (what was wrong, where).
 */
import { KUBERNETES_YAML_OPTIONS, MAX_OBJECT_DEPTH, tooDeepMessage, tooDeepPath } from '@virtkit/engine';
import { parseDocument } from 'yaml';
import { ApiError, badRequest } from './status.ts';

/** The apiserver's own default limit for a request body. */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

/** Parses an Accept or Content-Type value into media ranges (lower-cased type, params kept). */
export function parseMediaTypes(header: string | undefined): MediaRange[] {
  if (!header) return [];
  const out: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [type, ...rest] = part.split(';');
    const t = (type ?? '').trim().toLowerCase();
    if (!t) continue;
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0)
        params[p.slice(0, eq).trim().toLowerCase()] = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '');
    }
    out.push({ type: t, params });
  }
  return out;
}

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit} bytes`);
}

export function bodyText(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

export function bodySize(body: string | Uint8Array | undefined): number {
  if (body === undefined) return 0;
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line}, column ${col}`;
}

/**
 * Offset of the first syntax error in `text` (which JSON.parse rejected). V8 names the position for most
 * errors but not all (`Unexpected token 'x'`), so the text is scanned again to say where it went wrong.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) {
      if (text[i + k] !== word[k]) {
        i += k;
        fail();
      }
    }
    i += word.length;
  };
  const string = () => {
    if (text[i] !== '"') fail();
    i++;
    for (;;) {
      const c = text.charCodeAt(i);
      if (i >= text.length || c < 0x20) fail();
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          i++;
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) fail();
          i += 4;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === '}') {
          i++;
          return;
        }
        if (text[i] !== ',') fail();
        i++;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ']') {
          i++;
          return;
        }
        if (text[i] !== ',') fail();
        i++;
      }
    }
    if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail();
      else i += m[0].length;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
  return text.length;
}

/**
 * Refuses bodies nested deeper than MAX_OBJECT_DEPTH: JSON.parse takes any depth, but defaulting, storing and
 * encoding recurse and would overflow the stack (a 500) long before a 3 MiB body runs out of brackets.
 */
function checkDepth(value: unknown): unknown {
  const field = tooDeepPath(value);
  if (field !== undefined)
    throw badRequest(`the request body is nested more than ${MAX_OBJECT_DEPTH} levels deep at ${field}`, [
      { reason: 'FieldValueInvalid', field, message: tooDeepMessage() },
    ]);
  return value;
}

/** Parses JSON; a syntax error becomes 400 BadRequest saying where. */
export function decodeJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).replace(/ in JSON at position \d+.*$/, '');
    let where: string;
    try {
      where = ` at ${lineCol(text, jsonErrorOffset(text))}`;
    } catch {
      // The scanner recurses per nesting level: malformed JSON nested deeper than the stack has no position.
      where = '';
    }
    throw badRequest(`the request body is not valid JSON${where}: ${msg}`);
  }
  return checkDepth(value);
}

/** Parses one YAML document (JSON is valid YAML); errors become 400 BadRequest with the position. */
export function decodeYaml(text: string): unknown {
  let doc: ReturnType<typeof parseDocument>;
  try {
    // Kubernetes' YAML (1.1 scalars: `yes` is true, `0o14` a string), as kubectl and `toYaml` mean it.
    doc = parseDocument(text, KUBERNETES_YAML_OPTIONS);
  } catch (e) {
    // The parser recurses per nesting level; absurd nesting overflows its stack.
    throw badRequest(`the request body is not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const what = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw badRequest(`the request body is not valid YAML${where}: ${what}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw badRequest(`the request body is not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  return checkDepth(value);
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'application/apply-patch+yaml']);

/** Decodes a body by its Content-Type (JSON when absent); empty bodies are `undefined`. */
export function decodeBody(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') return undefined;
  const declared = contentType?.trim();
  // Absent means JSON; a header that names no media type at all (`;;`) is not a format we read.
  const type = declared ? (parseMediaTypes(declared)[0]?.type ?? declared) : 'application/json';
  if (YAML_TYPES.has(type)) return decodeYaml(text);
  if (type === 'application/json' || type.endsWith('+json')) return decodeJson(text);
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format: ${type}`);
}

/** The body must be a JSON object, e.g. a resource or DeleteOptions. */
export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === undefined ? 'an empty body' : Array.isArray(value) ? 'an array' : typeof value;
    throw badRequest(`${what}: expected a JSON object, got ${got}`);
  }
  return value as Record<string, unknown>;
}
