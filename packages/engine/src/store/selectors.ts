/**
 * Kubernetes label and field selectors: the string syntax (`app=web,tier!=db,env in (a,b),!canary`), the
 * `LabelSelector` object form (`matchLabels` / `matchExpressions`), matching, and canonical formatting.
 * Used by the store's list/watch and by controllers (replica sets, the scheduler, the API server).
 */
import { type FieldCause, RequestError } from '../errors.ts';
import type { LabelSelector, LabelSelectorRequirement } from '../resources/meta.ts';
import { isQualifiedName, isValidLabelValue } from '../resources/names.ts';

export type LabelOperator = 'Equals' | 'NotEquals' | 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** Sorted; one value for Equals/NotEquals/Gt/Lt, at least one for In/NotIn, none for Exists/DoesNotExist. */
  values: readonly string[];
}

/** A parsed label selector. Requirements are ANDed; an empty selector matches everything. */
export interface ParsedLabelSelector {
  readonly requirements: readonly LabelRequirement[];
  /** True for the selector that matches every object. */
  readonly empty: boolean;
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
  /** Canonical string form; parses back to an equivalent selector. `''` for the empty selector. */
  toString(): string;
}

// ---- validation of keys and values: the shared apimachinery checks, first problem only ----

/** Why `key` is not a valid label/annotation key (`[prefix/]name`), or undefined when it is. */
export function qualifiedNameProblem(key: string): string | undefined {
  return isQualifiedName(key)[0];
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  return isValidLabelValue(value)[0];
}

function badSelector(kind: 'label' | 'field', selector: string, reason: string): RequestError {
  return new RequestError('BadRequest', `invalid ${kind} selector ${JSON.stringify(selector)}: ${reason}`);
}

// ---- the matcher ----

function requirementMatches(r: LabelRequirement, labels: Readonly<Record<string, string>> | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'Equals':
      return has && value === r.values[0];
    case 'In':
      return has && r.values.includes(value!);
    case 'NotEquals':
      return !has || value !== r.values[0];
    case 'NotIn':
      return !has || !r.values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || !/^-?\d+$/.test(value!)) return false;
      const n = Number(value);
      const bound = Number(r.values[0]);
      return r.operator === 'Gt' ? n > bound : n < bound;
    }
  }
}

function requirementToString(r: LabelRequirement): string {
  switch (r.operator) {
    case 'Equals':
      return `${r.key}=${r.values[0]}`;
    case 'NotEquals':
      return `${r.key}!=${r.values[0]}`;
    case 'In':
      return `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Gt':
      return `${r.key}>${r.values[0]}`;
    case 'Lt':
      return `${r.key}<${r.values[0]}`;
  }
}

class Selector implements ParsedLabelSelector {
  readonly requirements: readonly LabelRequirement[];
  readonly #nothing: boolean;

  constructor(requirements: LabelRequirement[], nothing = false) {
    // Sorted by key (stable) like apimachinery, so the canonical string is independent of input order.
    this.requirements = Object.freeze(
      requirements
        .map((r) => Object.freeze({ ...r, values: Object.freeze([...new Set(r.values)].sort()) }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    );
    this.#nothing = nothing;
  }

  get empty(): boolean {
    return !this.#nothing && this.requirements.length === 0;
  }

  matches(labels: Readonly<Record<string, string>> | undefined): boolean {
    if (this.#nothing) return false;
    for (const r of this.requirements) if (!requirementMatches(r, labels)) return false;
    return true;
  }

  toString(): string {
    return this.requirements.map(requirementToString).join(',');
  }
}

/** The selector matching every object. */
export const EVERYTHING: ParsedLabelSelector = new Selector([]);
/** The selector matching no object (what an absent `LabelSelector` means in Kubernetes). */
export const NOTHING: ParsedLabelSelector = new Selector([], true);

// ---- string syntax ----

type Token =
  | { t: 'id'; v: string; at: number }
  | { t: '!' | '!=' | '=' | '==' | '(' | ')' | ',' | '<' | '>' | 'in' | 'notin' | 'end'; at: number };

const SPECIAL = new Set([' ', '\t', '\n', '\r', ',', '=', '!', '(', ')', '<', '>']);

function lex(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const at = i;
    if (c === '!' && input[i + 1] === '=') {
      out.push({ t: '!=', at });
      i += 2;
    } else if (c === '=' && input[i + 1] === '=') {
      out.push({ t: '==', at });
      i += 2;
    } else if (c === '!' || c === '=' || c === '(' || c === ')' || c === ',' || c === '<' || c === '>') {
      out.push({ t: c, at });
      i++;
    } else {
      let j = i;
      while (j < input.length && !SPECIAL.has(input[j]!)) j++;
      const word = input.slice(i, j);
      if (word === 'in' || word === 'notin') out.push({ t: word, at });
      else out.push({ t: 'id', v: word, at });
      i = j;
    }
  }
  out.push({ t: 'end', at: input.length });
  return out;
}

function describe(tok: Token): string {
  if (tok.t === 'end') return 'end of input';
  if (tok.t === 'id') return `"${tok.v}"`;
  return `"${tok.t}"`;
}

/**
 * Parses the Kubernetes label selector string syntax: comma-separated requirements, each one of
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>n`, `key<n`.
 * An empty or blank string selects everything. Throws `RequestError` ('BadRequest') naming the problem.
 */
export function parseLabelSelector(selector: string): ParsedLabelSelector {
  if (typeof selector !== 'string') {
    throw new RequestError('BadRequest', `invalid label selector: expected a string, got ${typeof selector}`);
  }
  const toks = lex(selector);
  let pos = 0;
  const peek = () => toks[pos]!;
  const next = () => toks[pos++]!;
  const fail = (tok: Token, expected: string) =>
    badSelector('label', selector, `expected ${expected} at position ${tok.at}, found ${describe(tok)}`);
  const reqs: LabelRequirement[] = [];
  if (peek().t === 'end') return EVERYTHING;

  const readKey = (): string => {
    const tok = next();
    if (tok.t !== 'id') throw fail(tok, 'a label key');
    const problem = qualifiedNameProblem(tok.v);
    if (problem) throw badSelector('label', selector, `key "${tok.v}": ${problem}`);
    return tok.v;
  };
  const checkValue = (key: string, value: string) => {
    const problem = labelValueProblem(value);
    if (problem) throw badSelector('label', selector, `value "${value}" for key "${key}": ${problem}`);
  };
  // A value may be empty (`key=` selects the empty value), so an absent identifier reads as ''.
  const readValue = (key: string): string => {
    const tok = peek();
    if (tok.t === 'id') {
      pos++;
      checkValue(key, tok.v);
      return tok.v;
    }
    // `in`/`notin` are keywords only where an operator is expected; as values they are plain words.
    if (tok.t === 'in' || tok.t === 'notin') {
      pos++;
      return tok.t;
    }
    if (tok.t === ',' || tok.t === 'end' || tok.t === ')') return '';
    throw fail(tok, 'a label value');
  };

  for (;;) {
    const first = peek();
    if (first.t === '!') {
      pos++;
      reqs.push({ key: readKey(), operator: 'DoesNotExist', values: [] });
    } else {
      const key = readKey();
      const op = next();
      switch (op.t) {
        case ',':
        case 'end':
          pos--;
          reqs.push({ key, operator: 'Exists', values: [] });
          break;
        case '=':
        case '==':
          reqs.push({ key, operator: 'Equals', values: [readValue(key)] });
          break;
        case '!=':
          reqs.push({ key, operator: 'NotEquals', values: [readValue(key)] });
          break;
        case '<':
        case '>': {
          const tok = next();
          if (tok.t !== 'id' || !/^-?\d+$/.test(tok.v)) throw fail(tok, 'an integer');
          reqs.push({ key, operator: op.t === '<' ? 'Lt' : 'Gt', values: [tok.v] });
          break;
        }
        case 'in':
        case 'notin': {
          const open = next();
          if (open.t !== '(') throw fail(open, `"(" after "${op.t}"`);
          const values: string[] = [];
          for (;;) {
            values.push(readValue(key));
            const sep = next();
            if (sep.t === ')') break;
            if (sep.t !== ',') throw fail(sep, '"," or ")"');
          }
          if (values.length === 1 && values[0] === '' && toks[pos - 2]?.t === '(') {
            throw badSelector('label', selector, `"${op.t}" needs at least one value for key "${key}"`);
          }
          reqs.push({ key, operator: op.t === 'in' ? 'In' : 'NotIn', values });
          break;
        }
        default:
          throw fail(op, 'an operator (=, ==, !=, in, notin, <, >), "," or end of input');
      }
    }
    const sep = next();
    if (sep.t === 'end') break;
    if (sep.t !== ',') throw fail(sep, '"," or end of input');
  }
  return new Selector(reqs);
}

const OBJECT_OPERATORS: Record<LabelSelectorRequirement['operator'], LabelOperator> = {
  In: 'In',
  NotIn: 'NotIn',
  Exists: 'Exists',
  DoesNotExist: 'DoesNotExist',
};

/**
 * Problems with a `LabelSelector` object, as field causes under `fieldPath` (e.g. `spec.selector`), for
 * callers that validate a spec and report every problem at once. Empty when valid.
 */
export function validateLabelSelector(selector: unknown, fieldPath: string): FieldCause[] {
  const causes: FieldCause[] = [];
  const add = (field: string, reason: string, message: string) => causes.push({ field, reason, message });
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) {
    add(fieldPath, 'FieldValueInvalid', 'must be an object with matchLabels and/or matchExpressions');
    return causes;
  }
  const { matchLabels, matchExpressions } = selector as Record<string, unknown>;
  if (matchLabels !== undefined) {
    if (typeof matchLabels !== 'object' || matchLabels === null || Array.isArray(matchLabels)) {
      add(`${fieldPath}.matchLabels`, 'FieldValueInvalid', 'must be a map of label keys to values');
    } else {
      for (const [k, v] of Object.entries(matchLabels)) {
        const kp = qualifiedNameProblem(k);
        if (kp) add(`${fieldPath}.matchLabels`, 'FieldValueInvalid', `key "${k}": ${kp}`);
        if (typeof v !== 'string') add(`${fieldPath}.matchLabels.${k}`, 'FieldValueInvalid', 'must be a string');
        else {
          const vp = labelValueProblem(v);
          if (vp) add(`${fieldPath}.matchLabels.${k}`, 'FieldValueInvalid', `value "${v}": ${vp}`);
        }
      }
    }
  }
  if (matchExpressions !== undefined) {
    if (!Array.isArray(matchExpressions)) {
      add(`${fieldPath}.matchExpressions`, 'FieldValueInvalid', 'must be a list of requirements');
    } else {
      matchExpressions.forEach((e: unknown, i) => {
        const p = `${fieldPath}.matchExpressions[${i}]`;
        if (typeof e !== 'object' || e === null) {
          add(p, 'FieldValueInvalid', 'must be an object with key, operator and values');
          return;
        }
        const { key, operator, values } = e as Record<string, unknown>;
        if (typeof key !== 'string') add(`${p}.key`, 'FieldValueRequired', 'must be a label key');
        else {
          const kp = qualifiedNameProblem(key);
          if (kp) add(`${p}.key`, 'FieldValueInvalid', kp);
        }
        if (typeof operator !== 'string' || !Object.hasOwn(OBJECT_OPERATORS, operator)) {
          add(`${p}.operator`, 'FieldValueNotSupported', 'must be one of In, NotIn, Exists, DoesNotExist');
          return;
        }
        if (values !== undefined && !(Array.isArray(values) && values.every((v) => typeof v === 'string'))) {
          add(`${p}.values`, 'FieldValueInvalid', 'must be a list of strings');
          return;
        }
        const vs = (values ?? []) as string[];
        if ((operator === 'In' || operator === 'NotIn') && vs.length === 0) {
          add(`${p}.values`, 'FieldValueRequired', `must be specified when operator is ${operator}`);
        }
        if ((operator === 'Exists' || operator === 'DoesNotExist') && vs.length > 0) {
          add(`${p}.values`, 'FieldValueForbidden', `may not be specified when operator is ${operator}`);
        }
        for (const v of vs) {
          const vp = labelValueProblem(v);
          if (vp) add(`${p}.values`, 'FieldValueInvalid', `value "${v}": ${vp}`);
        }
      });
    }
  }
  return causes;
}

/**
 * Converts a `LabelSelector` object to a matcher. `{}` matches everything; `undefined`/`null` matches nothing
 * (Kubernetes' convention for an absent selector). Throws `RequestError` ('BadRequest') naming the field.
 */
export function labelSelectorFromObject(selector: LabelSelector | null | undefined): ParsedLabelSelector {
  if (selector === undefined || selector === null) return NOTHING;
  const causes = validateLabelSelector(selector, 'selector');
  if (causes.length > 0) {
    throw new RequestError(
      'BadRequest',
      `invalid label selector: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`,
    );
  }
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    reqs.push({ key, operator: 'Equals', values: [value] });
  }
  for (const e of selector.matchExpressions ?? []) {
    reqs.push({ key: e.key, operator: OBJECT_OPERATORS[e.operator], values: e.values ?? [] });
  }
  return new Selector(reqs);
}

/** Canonical selector string for a `LabelSelector` object (e.g. for a replica set's `status.labelSelector`). */
export function labelSelectorToString(selector: LabelSelector): string {
  return labelSelectorFromObject(selector).toString();
}

/**
 * Whether `labels` satisfy `selector`: a string (label selector syntax), a `LabelSelector` object, or an
 * already parsed selector. Invalid selectors throw `RequestError` ('BadRequest').
 */
export function matchesLabelSelector(
  selector: string | LabelSelector | ParsedLabelSelector | null | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (typeof selector === 'string') return parseLabelSelector(selector).matches(labels);
  if (selector instanceof Selector) return selector.matches(labels);
  return labelSelectorFromObject(selector as LabelSelector | null | undefined).matches(labels);
}

// ---- field selectors ----

/** Fields a field selector may name. Absent fields compare as the empty string. */
export const SUPPORTED_FIELDS: readonly string[] = Object.freeze([
  'metadata.name',
  'metadata.namespace',
  'status.phase',
  'status.nodeName',
  'spec.nodeName',
  'spec.vmiName',
  'spec.unschedulable',
  'involvedObject.name',
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.uid',
  // kubectl events --for=kind/name selects on these too, as the apiserver allows for Events.
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reportingComponent',
  'reason',
  'type',
]);
const FIELD_SET = new Set(SUPPORTED_FIELDS);

export interface FieldRequirement {
  field: string;
  operator: 'Equals' | 'NotEquals';
  value: string;
}

export interface ParsedFieldSelector {
  readonly requirements: readonly FieldRequirement[];
  readonly empty: boolean;
  matches(obj: unknown): boolean;
  toString(): string;
}

/** The value of a supported field on an object, as a field selector compares it. */
export function fieldValue(obj: unknown, field: string): string {
  let v: unknown = obj;
  for (const part of field.split('.')) {
    if (typeof v !== 'object' || v === null) return '';
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

const escapeFieldValue = (v: string) => v.replace(/[\\,=]/g, (c) => `\\${c}`);

class FieldSelector implements ParsedFieldSelector {
  readonly requirements: readonly FieldRequirement[];
  constructor(reqs: FieldRequirement[]) {
    this.requirements = Object.freeze(reqs.map((r) => Object.freeze(r)));
  }
  get empty(): boolean {
    return this.requirements.length === 0;
  }
  matches(obj: unknown): boolean {
    for (const r of this.requirements) {
      const equal = fieldValue(obj, r.field) === r.value;
      if (equal !== (r.operator === 'Equals')) return false;
    }
    return true;
  }
  toString(): string {
    return this.requirements
      .map((r) => `${r.field}${r.operator === 'Equals' ? '=' : '!='}${escapeFieldValue(r.value)}`)
      .join(',');
  }
}

/**
 * Parses a field selector: comma-separated `field=value`, `field==value` or `field!=value`; `\,`, `\=` and `\\`
 * escape those characters in values. Only `SUPPORTED_FIELDS` may be named. Throws `RequestError` ('BadRequest').
 */
export function parseFieldSelector(selector: string): ParsedFieldSelector {
  if (typeof selector !== 'string') {
    throw new RequestError('BadRequest', `invalid field selector: expected a string, got ${typeof selector}`);
  }
  if (selector.trim() === '') return new FieldSelector([]);
  // Split on unescaped commas, keeping escapes for the value pass.
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i]!;
    if (c === '\\') {
      cur += c + (selector[i + 1] ?? '');
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else cur += c;
  }
  terms.push(cur);
  const reqs: FieldRequirement[] = [];
  for (const term of terms) {
    const m = /^([^!=]*?)\s*(!=|==|=)(.*)$/s.exec(term);
    if (!m) throw badSelector('field', selector, `"${term}" is not of the form field=value or field!=value`);
    const field = m[1]!.trim();
    if (field === '') throw badSelector('field', selector, `"${term}" has an empty field name`);
    if (!FIELD_SET.has(field)) {
      throw badSelector(
        'field',
        selector,
        `field label not supported: "${field}" (supported: ${SUPPORTED_FIELDS.join(', ')})`,
      );
    }
    let value = '';
    const raw = m[3]!;
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c === '\\') {
        const n = raw[i + 1];
        if (n !== '\\' && n !== ',' && n !== '=') {
          throw badSelector('field', selector, `invalid escape sequence in value of "${field}"`);
        }
        value += n;
        i++;
      } else if (c === '=') {
        throw badSelector('field', selector, `unescaped "=" in value of "${field}"`);
      } else value += c;
    }
    reqs.push({ field, operator: m[2] === '!=' ? 'NotEquals' : 'Equals', value });
  }
  return new FieldSelector(reqs);
}

/** Whether `obj` satisfies a field selector (string or parsed). */
export function matchesFieldSelector(selector: string | ParsedFieldSelector, obj: unknown): boolean {
  return (typeof selector === 'string' ? parseFieldSelector(selector) : selector).matches(obj);
}
