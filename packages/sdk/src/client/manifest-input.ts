import {
  InvalidSpecError,
  type Kind,
  type KindMap,
  parseManifests,
  RequestError,
  tooDeepMessage,
  tooDeepPath,
} from '@virtkit/engine';

/** Accepts an object or one YAML/JSON document of the expected kind; returns a private copy. */
export function parseManifestInput<K extends Kind>(input: KindMap[K] | string, kind: K): KindMap[K] {
  // Copying (and later defaulting) recurses: absurd nesting is refused first, naming where, as validation does.
  const deep = typeof input === 'string' ? undefined : tooDeepPath(input);
  if (deep !== undefined) {
    const name = typeof input === 'object' && input !== null ? String(input.metadata?.name ?? '') : '';
    throw new InvalidSpecError(kind, name, [{ field: deep, reason: 'FieldValueInvalid', message: tooDeepMessage() }]);
  }
  const docs = typeof input === 'string' ? parseManifests(input) : [structuredClone(input)];
  if (docs.length !== 1) throw new RequestError('BadRequest', `expected one ${kind} document, found ${docs.length}`);
  const obj: unknown = docs[0];
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new RequestError('BadRequest', `manifest must be an object of kind ${kind}`);
  }
  const o = obj as { kind?: unknown; metadata?: unknown };
  if (o.kind !== undefined && o.kind !== kind) {
    throw new RequestError('BadRequest', `manifest has kind "${String(o.kind)}", expected ${kind}`);
  }
  if (typeof o.metadata !== 'object' || o.metadata === null) o.metadata = {};
  return obj as KindMap[K];
}
