/**
 * Kubernetes name syntax: DNS-1123 subdomains (object names), DNS-1123 labels (namespaces, KubeVirt
 * device and volume names), qualified names (label and annotation keys) and label values. Each check
 * returns the list of problems, empty when valid, worded as the Kubernetes apiserver words them so
 * clients see the messages they already know.
 */
import type { FieldCause } from '../errors.ts';

export const DNS1123_LABEL_MAX_LENGTH = 63;
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
export const QUALIFIED_NAME_MAX_LENGTH = 63;
export const LABEL_VALUE_MAX_LENGTH = 63;
/** Sum of the byte lengths of all annotation keys and values of one object. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;

const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const QUALIFIED_NAME_RE = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);

/** "<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')", Kubernetes' RegexError layout. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  const eg = examples.map((e) => `'${e}', `).join(' or ');
  return `${msg} (${eg ? `e.g. ${eg}` : ''}regex used for validation is '${fmt}')`;
}

const maxLenError = (n: number): string => `must be no more than ${n} characters`;

export const DNS1123_LABEL_MESSAGE = regexError(
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
  DNS1123_LABEL_FMT,
  'my-name',
  '123-abc',
);
export const DNS1123_SUBDOMAIN_MESSAGE = regexError(
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
  DNS1123_SUBDOMAIN_FMT,
  'example.com',
);
const QUALIFIED_NAME_PART_MESSAGE = regexError(
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
  QUALIFIED_NAME_FMT,
  'MyName',
  'my.name',
  '123-abc',
);
const LABEL_VALUE_MESSAGE = regexError(
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
  LABEL_VALUE_FMT,
  'MyValue',
  'my_value',
  '12345',
);

/** A DNS-1123 label: at most 63 characters of `[a-z0-9-]`, alphanumeric at both ends. */
export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!DNS1123_LABEL_RE.test(value)) errs.push(DNS1123_LABEL_MESSAGE);
  return errs;
}

/** A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels. */
export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!DNS1123_SUBDOMAIN_RE.test(value)) errs.push(DNS1123_SUBDOMAIN_MESSAGE);
  return errs;
}

/** A qualified name (label/annotation key): `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = value;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const e of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${e}`);
  } else {
    return [
      `a qualified name ${QUALIFIED_NAME_PART_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > QUALIFIED_NAME_MAX_LENGTH) errs.push(`name part ${maxLenError(QUALIFIED_NAME_MAX_LENGTH)}`);
  if (name.length > 0 && !QUALIFIED_NAME_RE.test(name)) errs.push(`name part ${QUALIFIED_NAME_PART_MESSAGE}`);
  return errs;
}

/** A label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`, alphanumeric at both ends. */
export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!LABEL_VALUE_RE.test(value)) errs.push(LABEL_VALUE_MESSAGE);
  return errs;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Label keys and values of `labels` (a map), as causes on `field` (e.g. `metadata.labels`). */
export function validateLabels(labels: unknown, field: string): FieldCause[] {
  if (labels === undefined || labels === null) return [];
  if (!isPlainObject(labels)) return [{ field, reason: 'FieldValueInvalid', message: 'must be a map of strings' }];
  const causes: FieldCause[] = [];
  for (const [k, v] of Object.entries(labels)) {
    for (const e of isQualifiedName(k))
      causes.push({ field, reason: 'FieldValueInvalid', message: `invalid label key ${JSON.stringify(k)}: ${e}` });
    if (typeof v !== 'string') {
      causes.push({
        field: `${field}[${k}]`,
        reason: 'FieldValueInvalid',
        message: `label value must be a string, got ${JSON.stringify(v)}`,
      });
      continue;
    }
    for (const e of isValidLabelValue(v))
      causes.push({
        field: `${field}[${k}]`,
        reason: 'FieldValueInvalid',
        message: `invalid label value ${JSON.stringify(v)}: ${e}`,
      });
  }
  return causes;
}

/** Annotation keys (qualified names, case-insensitively) and the 256 KiB total size limit. */
export function validateAnnotations(annotations: unknown, field: string): FieldCause[] {
  if (annotations === undefined || annotations === null) return [];
  if (!isPlainObject(annotations)) return [{ field, reason: 'FieldValueInvalid', message: 'must be a map of strings' }];
  const causes: FieldCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const e of isQualifiedName(k.toLowerCase()))
      causes.push({ field, reason: 'FieldValueInvalid', message: `invalid annotation key ${JSON.stringify(k)}: ${e}` });
    if (typeof v !== 'string') {
      causes.push({
        field: `${field}[${k}]`,
        reason: 'FieldValueInvalid',
        message: `annotation value must be a string, got ${JSON.stringify(v)}`,
      });
      continue;
    }
    size += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT)
    causes.push({
      field,
      reason: 'FieldValueTooLong',
      message: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes (annotations total ${size} bytes)`,
    });
  return causes;
}
