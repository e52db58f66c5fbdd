/** Validation of object metadata the store is responsible for (apimachinery's ValidateObjectMeta subset). */
import type { FieldCause } from '../errors.ts';
import { isDNS1123Label, isDNS1123Subdomain, validateAnnotations, validateLabels } from '../resources/names.ts';
import { isJsonObject } from './json.ts';
import { qualifiedNameProblem } from './selectors.ts';

/** Why `name` is not a valid object name (a lowercase RFC 1123 subdomain), or undefined. */
export function objectNameProblem(name: string): string | undefined {
  return isDNS1123Subdomain(name)[0];
}

/** Why `ns` is not a valid namespace name (a lowercase RFC 1123 label), or undefined. */
export function namespaceProblem(ns: string): string | undefined {
  return isDNS1123Label(ns)[0];
}

const cause = (field: string, reason: string, message: string): FieldCause => ({ field, reason, message });

/**
 * Problems with the user-settable parts of `metadata` (labels, annotations, finalizers, ownerReferences,
 * generateName). Name and namespace are checked by the caller, which knows the kind's scope.
 */
export function validateMetadata(meta: Record<string, unknown>): FieldCause[] {
  const causes: FieldCause[] = [
    ...validateLabels(meta.labels, 'metadata.labels'),
    ...validateAnnotations(meta.annotations, 'metadata.annotations'),
  ];
  const fin = meta.finalizers;
  if (fin !== undefined) {
    if (!Array.isArray(fin)) {
      causes.push(cause('metadata.finalizers', 'FieldValueInvalid', 'must be a list of strings'));
    } else {
      fin.forEach((f: unknown, i) => {
        if (typeof f !== 'string') {
          causes.push(cause(`metadata.finalizers[${i}]`, 'FieldValueInvalid', 'must be a string'));
          return;
        }
        const p = qualifiedNameProblem(f);
        if (p) causes.push(cause(`metadata.finalizers[${i}]`, 'FieldValueInvalid', `"${f}": ${p}`));
      });
    }
  }
  const refs = meta.ownerReferences;
  if (refs !== undefined) {
    if (!Array.isArray(refs)) {
      causes.push(cause('metadata.ownerReferences', 'FieldValueInvalid', 'must be a list of owner references'));
    } else {
      let controllers = 0;
      refs.forEach((r: unknown, i) => {
        const p = `metadata.ownerReferences[${i}]`;
        if (!isJsonObject(r)) {
          causes.push(cause(p, 'FieldValueInvalid', 'must be an object'));
          return;
        }
        for (const f of ['apiVersion', 'kind', 'name', 'uid'] as const) {
          if (typeof r[f] !== 'string' || r[f] === '') {
            causes.push(cause(`${p}.${f}`, 'FieldValueRequired', 'must be a non-empty string'));
          }
        }
        for (const f of ['controller', 'blockOwnerDeletion'] as const) {
          if (r[f] !== undefined && typeof r[f] !== 'boolean') {
            causes.push(cause(`${p}.${f}`, 'FieldValueInvalid', 'must be a boolean'));
          }
        }
        if (r.controller === true) controllers++;
      });
      if (controllers > 1) {
        causes.push(
          cause('metadata.ownerReferences', 'FieldValueInvalid', 'only one reference can have controller set to true'),
        );
      }
    }
  }
  if (meta.generateName !== undefined && typeof meta.generateName !== 'string') {
    causes.push(cause('metadata.generateName', 'FieldValueInvalid', 'must be a string'));
  }
  return causes;
}
