/**
 * Manifests in, objects out: multi-document YAML (`---`), JSON, arrays and `kind: List` wrappers are
 * flattened into a list of plain JSON objects, in order. Malformed input fails with a typed error that
 * names the document and, for YAML, the line and column.
 *
 * YAML is read the way Kubernetes reads it (sigs.k8s.io/yaml over go-yaml v2, i.e. YAML 1.1 scalars):
 * `yes`/`no`/`on`/`off` are booleans and `0644` is octal 420, so `defaultMode: 0644` means what it means
 * to kubectl. Timestamps, sexagesimal numbers and `!!binary`/`!!set` are left out, so every value is
 * plain JSON (a `creationTimestamp` stays a string). `toYaml` writes with the same rules, so
 * object → YAML → object is lossless.
 */
import {
  Document,
  type DocumentOptions,
  isScalar,
  type ParseOptions,
  parseAllDocuments,
  Scalar,
  type SchemaOptions,
  type Tags,
  visit,
} from 'yaml';
import { VirtkitError, type VirtkitErrorOptions } from '../errors.ts';
import { MAX_OBJECT_DEPTH, tooDeepPath } from './depth.ts';
import type { KubeObject } from './meta.ts';
import { describeType } from './quantity.ts';

/** Tags of the YAML 1.1 schema whose values are not JSON (Date, Uint8Array, Set, Map) or are surprising (1:20 = 80). */
const NON_JSON_TAGS = new Set([
  'tag:yaml.org,2002:timestamp',
  'tag:yaml.org,2002:binary',
  'tag:yaml.org,2002:omap',
  'tag:yaml.org,2002:pairs',
  'tag:yaml.org,2002:set',
]);

const jsonTags = (tags: Tags): Tags =>
  tags.filter((t) => typeof t === 'string' || (!NON_JSON_TAGS.has(t.tag) && t.format !== 'TIME'));

const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  customTags: jsonTags,
  merge: true,
  uniqueKeys: true,
};

/**
 * Options for the `yaml` package that read YAML as Kubernetes does (see above), for other readers of
 * Kubernetes YAML — e.g. the API server's request bodies — so `toYaml` output means the same everywhere.
 */
export const KUBERNETES_YAML_OPTIONS: Readonly<ParseOptions & DocumentOptions & SchemaOptions> = YAML_OPTIONS;

/** Alias expansion bound: stops "billion laughs" documents from exploding in memory. */
const MAX_ALIAS_COUNT = 100;

/** A manifest that cannot be parsed. `code` is `BadRequest` (HTTP 400), like a `RequestError`. */
export class ManifestParseError extends VirtkitError {
  static override readonly brandName = 'ManifestParseError';
  /** 0-based index of the offending document in the input (YAML documents or array entries). */
  readonly documentIndex: number;
  /** 1-based line and column in the whole input text, for YAML syntax errors. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(message: string, documentIndex: number, line?: number, column?: number, options?: VirtkitErrorOptions) {
    super('BadRequest', message, 400, options);
    this.documentIndex = documentIndex;
    this.line = line;
    this.column = column;
  }
}
// The inherited brand check would accept any VirtkitError; this class needs its own.
Object.defineProperty(ManifestParseError, Symbol.hasInstance, {
  value: (x: unknown) =>
    typeof x === 'object' &&
    x !== null &&
    (x as Record<symbol, unknown>)[Symbol.for('@virtkit/error:ManifestParseError')] === true,
});

export type ManifestInput = string | Uint8Array | object | readonly object[];

/**
 * Parses YAML or JSON text (or takes objects) and returns every resource in it, `List`s flattened.
 * Objects are deep-copied; the input is never modified. Empty documents are skipped. Each resource must
 * be an object with non-empty string `apiVersion` and `kind`; their contents are checked by validation.
 */
export function parseManifests(input: ManifestInput): KubeObject[] {
  if (input instanceof Uint8Array) return parseText(new TextDecoder('utf-8', { fatal: false }).decode(input));
  if (typeof input === 'string') return parseText(input);
  if (input === null || typeof input !== 'object')
    throw new ManifestParseError(`a manifest must be text or an object, got ${describeType(input)}`, 0);
  const docs: unknown[] = Array.isArray(input) ? input : [input];
  const out: KubeObject[] = [];
  docs.forEach((doc, i) => {
    collect(structuredCloneJson(doc, i), i, `manifest document ${i + 1}`, out);
  });
  return out;
}

function parseText(source: string): KubeObject[] {
  const trimmed = source.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    let ok = true;
    try {
      parsed = JSON.parse(source);
    } catch {
      ok = false; // not JSON after all (or broken JSON): YAML reports where, with line numbers
    }
    if (ok) {
      const docs = Array.isArray(parsed) ? parsed : [parsed];
      const out: KubeObject[] = [];
      docs.forEach((d, i) => {
        checkDepth(d, `manifest document ${i + 1}`, i);
        collect(d, i, `manifest document ${i + 1}`, out);
      });
      return out;
    }
  }
  const out: KubeObject[] = [];
  let documents: ReturnType<typeof parseAllDocuments>;
  try {
    documents = parseAllDocuments(source, YAML_OPTIONS);
  } catch (e) {
    // The YAML parser recurses per nesting level: absurd nesting overflows the stack.
    throw new ManifestParseError(`the manifest cannot be read: ${(e as Error).message}`, 0, undefined, undefined, {
      cause: e,
    });
  }
  // parseAllDocuments returns an EmptyStream (no documents) for empty input.
  const list = Array.isArray(documents) ? documents : [];
  list.forEach((doc, i) => {
    const where = `manifest document ${i + 1}`;
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const first = err.message.split('\n')[0] ?? err.message;
      throw new ManifestParseError(`${where} is not valid YAML: ${first}`, i, pos?.line, pos?.col, { cause: err });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      throw new ManifestParseError(`${where} cannot be read: ${(e as Error).message}`, i, undefined, undefined, {
        cause: e,
      });
    }
    if (value === null || value === undefined) return; // empty document, e.g. a trailing `---`
    checkDepth(value, where, i);
    checkJson(value, '', where, i);
    collect(value, i, where, out);
  });
  return out;
}

function collect(value: unknown, index: number, where: string, out: KubeObject[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ManifestParseError(
      `${where} must be an object (a Kubernetes resource), got ${describeType(value)}`,
      index,
    );
  const o = value as Record<string, unknown>;
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
    o.items.forEach((item, j) => {
      collect(item, index, `${where}, items[${j}]`, out);
    });
    return;
  }
  for (const k of ['apiVersion', 'kind'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new ManifestParseError(`${where}: ${k} is required`, index);
  }
  out.push(o as KubeObject);
}

/** Rejects values JSON cannot carry (NaN and infinities from `.nan`/`.inf`, or anything exotic). */
function checkJson(value: unknown, path: string, where: string, index: number): void {
  const fail = (what: string) => {
    throw new ManifestParseError(`${where}: ${path || 'the document'} ${what}, which JSON cannot represent`, index);
  };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(`is ${value}`);
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((v, i) => {
          checkJson(v, `${path}[${i}]`, where, index);
        });
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
        fail(`is a ${(value as object).constructor?.name ?? 'non-plain object'}`);
      for (const [k, v] of Object.entries(value)) checkJson(v, path ? `${path}.${k}` : k, where, index);
      return;
    default:
      fail(`is a ${typeof value}`);
  }
}

/** Refuses absurd nesting before anything recursive (checkJson, JSON.stringify, validation) walks it. */
function checkDepth(value: unknown, where: string, index: number): void {
  const path = tooDeepPath(value);
  if (path !== undefined)
    throw new ManifestParseError(`${where}: ${path} is nested more than ${MAX_OBJECT_DEPTH} levels deep`, index);
}

/** Deep copy of caller-provided objects through JSON, rejecting what JSON cannot carry. */
function structuredCloneJson(value: unknown, index: number): unknown {
  checkDepth(value, `manifest document ${index + 1}`, index);
  checkJson(value, '', `manifest document ${index + 1}`, index);
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/**
 * Writes objects as YAML documents separated by `---`, readable back by `parseManifests` into equal
 * objects. Long strings are not folded; multi-line strings become block scalars.
 */
export function toYaml(objects: unknown | readonly unknown[]): string {
  const docs = Array.isArray(objects) ? objects : [objects];
  return docs
    .map((d) => {
      const doc = new Document(d, { ...YAML_OPTIONS, aliasDuplicateObjects: false });
      // A plain `<<` key would be read back as a merge key; quote it so it stays an ordinary key.
      visit(doc, {
        Pair(_, pair) {
          const key = isScalar(pair.key) ? pair.key.value : pair.key;
          if (key !== '<<') return;
          const quoted = new Scalar('<<');
          quoted.type = 'QUOTE_DOUBLE';
          quoted.tag = 'tag:yaml.org,2002:str';
          pair.key = quoted;
        },
      });
      return doc.toString({ lineWidth: 0, minContentWidth: 0 });
    })
    .join('---\n');
}
