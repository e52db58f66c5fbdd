/**
 * Validation of submitted objects, as the Kubernetes apiserver and KubeVirt's admission webhooks do it,
 * reporting every problem at once as `FieldCause`s. Fields virtkit does not support are warnings (see
 * schema.ts), never errors and never removed. Validation reads its input and never changes it.
 *
 * Defaults are not applied first: an object that only becomes valid through defaulting (a VM with neither
 * `running` nor `runStrategy`, a disk without a bus) is valid.
 */
import { type FieldCause, InvalidSpecError } from '../errors.ts';
import { tooDeepMessage, tooDeepPath } from './depth.ts';
import { Findings, list, present, quantityOf, quote, rec, text } from './findings.ts';
import { KINDS } from './kinds.ts';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  validateAnnotations,
  validateLabels,
} from './names.ts';
import { type FieldSchema, KIND_SCHEMAS, VMI_SPEC_SCHEMA, walkSchema } from './schema.ts';
import { validateVMISpecRules } from './vmi-validation.ts';

export interface ValidationResult {
  /** Every problem found; the object is valid when empty. */
  causes: FieldCause[];
  /** Fields present but not supported by virtkit, each starting with its path. */
  warnings: string[];
}

/** apiVersions accepted for kubevirt.io kinds; older ones are stored as kubevirt.io/v1 (see defaults.ts). */
export const KUBEVIRT_API_VERSIONS = ['kubevirt.io/v1', 'kubevirt.io/v1alpha3'] as const;

const supportedValues = (values: readonly string[]): string => values.map((v) => quote(v)).join(', ');

function checkTypeMeta(o: Record<string, unknown>, kind: string, apiVersions: readonly string[], f: Findings): void {
  if (!present(o.apiVersion) || o.apiVersion === '') f.required('apiVersion', 'apiVersion is required');
  else if (typeof o.apiVersion !== 'string' || !apiVersions.includes(o.apiVersion))
    f.notSupported(
      'apiVersion',
      `Unsupported value: ${quote(o.apiVersion)}: supported values: ${supportedValues(apiVersions)}`,
    );
  if (!present(o.kind) || o.kind === '') f.required('kind', 'kind is required');
  else if (o.kind !== kind) f.invalid('kind', `${quote(o.kind)}: expected ${quote(kind)}`);
}

/** name (or generateName), namespace, labels and annotations of `metadata` at `path`. */
function checkObjectMeta(meta: unknown, path: string, namespaced: boolean, f: Findings): void {
  const m = rec(meta);
  if (!m) {
    if (!present(meta)) f.required(`${path}.name`, 'name or generateName is required');
    return;
  }
  const name = m.name;
  const generateName = m.generateName;
  if ((!present(name) || name === '') && (!present(generateName) || generateName === ''))
    f.required(`${path}.name`, 'name or generateName is required');
  if (typeof name === 'string') {
    for (const e of name === '' ? [] : isDNS1123Subdomain(name)) f.invalid(`${path}.name`, `${quote(name)}: ${e}`);
  } else if (present(name)) {
    f.invalid(`${path}.name`, 'must be a string');
  }
  if (typeof generateName === 'string') {
    // A prefix may end in '-': the random suffix follows it.
    const probe = generateName.replace(/-$/, 'a');
    for (const e of generateName === '' ? [] : isDNS1123Subdomain(probe))
      f.invalid(`${path}.generateName`, `${quote(generateName)}: ${e}`);
  } else if (present(generateName)) {
    f.invalid(`${path}.generateName`, 'must be a string');
  }
  const ns = m.namespace;
  if (typeof ns === 'string') {
    // A cluster-scoped object's namespace is cleared by the store, as the apiserver does.
    for (const e of !namespaced || ns === '' ? [] : isDNS1123Label(ns))
      f.invalid(`${path}.namespace`, `${quote(ns)}: ${e}`);
  } else if (present(ns)) {
    f.invalid(`${path}.namespace`, 'must be a string');
  }
  f.addAll(validateLabels(m.labels, `${path}.labels`));
  f.addAll(validateAnnotations(m.annotations, `${path}.annotations`));
}

/** labels and annotations of a template's metadata (its name and namespace are ignored, as in KubeVirt). */
function checkTemplateMeta(meta: unknown, path: string, f: Findings): void {
  const m = rec(meta);
  if (!m) return;
  f.addAll(validateLabels(m.labels, `${path}.labels`));
  f.addAll(validateAnnotations(m.annotations, `${path}.annotations`));
}

function run(
  obj: unknown,
  kind: string,
  apiVersions: readonly string[],
  schema: FieldSchema | undefined,
  namespaced: boolean,
  rules: (o: Record<string, unknown>, f: Findings) => void,
): ValidationResult {
  const f = new Findings();
  const o = rec(obj);
  if (!o) {
    f.invalid('', `a ${kind} must be a JSON object, got ${Array.isArray(obj) ? 'an array' : quote(obj)}`);
    return { causes: f.causes, warnings: f.warnings };
  }
  // Before anything walks it: defaulting and storing recurse, and overflow the stack on absurd nesting.
  const deep = tooDeepPath(o);
  if (deep !== undefined) f.invalid(deep, tooDeepMessage());
  checkTypeMeta(o, kind, apiVersions, f);
  if (schema) walkSchema(o, schema, '', f);
  checkObjectMeta(o.metadata, 'metadata', namespaced, f);
  rules(o, f);
  return { causes: f.causes, warnings: f.warnings };
}

function requireSpec(o: Record<string, unknown>, f: Findings): Record<string, unknown> | undefined {
  if (!present(o.spec)) f.required('spec', 'spec is required');
  return rec(o.spec);
}

/** Validates the semantic rules of a VMI spec found at `path`, e.g. in a builder before it creates anything. */
export function validateVirtualMachineInstanceSpec(spec: unknown, path = 'spec'): ValidationResult {
  const f = new Findings();
  walkSchema(spec, VMI_SPEC_SCHEMA, path, f);
  validateVMISpecRules(spec, path, f);
  return { causes: f.causes, warnings: f.warnings };
}

export function validateVirtualMachineInstance(obj: unknown): ValidationResult {
  return run(obj, 'VirtualMachineInstance', KUBEVIRT_API_VERSIONS, KIND_SCHEMAS.VirtualMachineInstance, true, (o, f) =>
    validateVMISpecRules(o.spec, 'spec', f),
  );
}

export function validateVirtualMachine(obj: unknown): ValidationResult {
  return run(obj, 'VirtualMachine', KUBEVIRT_API_VERSIONS, KIND_SCHEMAS.VirtualMachine, true, (o, f) => {
    const spec = requireSpec(o, f);
    if (!spec) return;
    if (present(spec.running) && present(spec.runStrategy))
      f.invalid('spec.running', 'Running and RunStrategy are mutually exclusive');
    if (present(spec.running))
      f.warnings.push('spec.running: deprecated, use spec.runStrategy (true means Always, false means Halted)');
    if (!present(spec.template)) {
      f.required('spec.template', 'missing virtual machine template.');
      return;
    }
    const template = rec(spec.template);
    if (!template) return;
    checkTemplateMeta(template.metadata, 'spec.template.metadata', f);
    validateVMISpecRules(template.spec, 'spec.template.spec', f);
  });
}

export function validateVirtualMachineInstanceMigration(obj: unknown): ValidationResult {
  return run(
    obj,
    'VirtualMachineInstanceMigration',
    KUBEVIRT_API_VERSIONS,
    KIND_SCHEMAS.VirtualMachineInstanceMigration,
    true,
    (o, f) => {
      const spec = requireSpec(o, f);
      if (!spec) return;
      const vmiName = spec.vmiName;
      if (!present(vmiName) || vmiName === '') f.required('spec.vmiName', 'vmiName is required');
      else if (typeof vmiName === 'string')
        for (const e of isDNS1123Subdomain(vmiName)) f.invalid('spec.vmiName', `${quote(vmiName)}: ${e}`);
      f.addAll(validateLabels(spec.addedNodeSelector, 'spec.addedNodeSelector'));
    },
  );
}

export function validateVirtualMachineInstanceReplicaSet(obj: unknown): ValidationResult {
  return run(
    obj,
    'VirtualMachineInstanceReplicaSet',
    KUBEVIRT_API_VERSIONS,
    KIND_SCHEMAS.VirtualMachineInstanceReplicaSet,
    true,
    (o, f) => {
      const spec = requireSpec(o, f);
      if (!spec) return;
      const replicas = spec.replicas;
      if (typeof replicas === 'number' && replicas < 0)
        f.invalid('spec.replicas', `${replicas}: must be greater than or equal to 0`);
      const selectorOk = checkLabelSelector(spec.selector, 'spec.selector', f);
      if (!present(spec.template)) {
        f.required('spec.template', 'missing virtual machine instance template.');
        return;
      }
      const template = rec(spec.template);
      if (!template) return;
      checkTemplateMeta(template.metadata, 'spec.template.metadata', f);
      validateVMISpecRules(template.spec, 'spec.template.spec', f);
      const selector = rec(spec.selector);
      if (selectorOk && selector) {
        const labels = rec(rec(template.metadata)?.labels) ?? {};
        if (!selectorMatches(selector, labels))
          f.invalid(
            'spec.selector',
            `selector does not match labels: spec.template.metadata.labels ${quote(labels)} are not selected by spec.selector`,
          );
      }
    },
  );
}

/** Checks a LabelSelector; true when it is well-formed (so it can be evaluated). */
function checkLabelSelector(raw: unknown, sp: string, f: Findings): boolean {
  if (!present(raw)) {
    f.required(sp, 'selector is required');
    return false;
  }
  const sel = rec(raw);
  if (!sel) return false;
  const before = f.causes.length;
  f.addAll(validateLabels(sel.matchLabels, `${sp}.matchLabels`));
  const expressions = list(sel.matchExpressions);
  expressions.forEach((r, i) => {
    const req = rec(r);
    if (!req) return;
    const rp = `${sp}.matchExpressions[${i}]`;
    const key = text(req.key);
    if (!present(req.key) || key === '') f.required(`${rp}.key`, 'key is required');
    for (const e of key ? isQualifiedName(key) : []) f.invalid(`${rp}.key`, `${quote(key)}: ${e}`);
    const op = text(req.operator);
    if (!present(req.operator)) f.required(`${rp}.operator`, 'operator is required');
    const values = list(req.values);
    if ((op === 'In' || op === 'NotIn') && values.length === 0)
      f.required(`${rp}.values`, `must be specified when operator is ${op}`);
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
      f.forbidden(`${rp}.values`, `may not be specified when operator is ${op}`);
    values.forEach((v, j) => {
      if (typeof v === 'string')
        for (const e of isValidLabelValue(v)) f.invalid(`${rp}.values[${j}]`, `${quote(v)}: ${e}`);
    });
  });
  const matchLabels = rec(sel.matchLabels);
  if (Object.keys(matchLabels ?? {}).length === 0 && expressions.length === 0)
    f.invalid(sp, 'empty selector is invalid: it would select every VirtualMachineInstance in the namespace');
  // The schema walk reports wrong types under the selector; only evaluate a clean one.
  return f.causes.length === before && f.causes.every((c) => !c.field.startsWith(sp));
}

/** Kubernetes label selector semantics: every matchLabels pair and every expression must hold. */
function selectorMatches(sel: Record<string, unknown>, labels: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(rec(sel.matchLabels) ?? {})) if (labels[k] !== v) return false;
  for (const r of list(sel.matchExpressions)) {
    const req = rec(r) ?? {};
    const key = String(req.key);
    const has = Object.hasOwn(labels, key);
    const values = list(req.values);
    switch (req.operator) {
      case 'In':
        if (!has || !values.includes(labels[key])) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function validateNode(obj: unknown): ValidationResult {
  return run(obj, 'Node', ['v1'], KIND_SCHEMAS.Node, false, (o, f) => {
    const spec = rec(o.spec);
    const seen = new Set<string>();
    list(spec?.taints).forEach((raw, i) => {
      const t = rec(raw);
      if (!t) return;
      const tp = `spec.taints[${i}]`;
      const key = text(t.key);
      if (!present(t.key) || key === '') f.required(`${tp}.key`, 'key is required');
      for (const e of key ? isQualifiedName(key) : []) f.invalid(`${tp}.key`, `${quote(key)}: ${e}`);
      const value = text(t.value);
      if (value !== undefined)
        for (const e of isValidLabelValue(value)) f.invalid(`${tp}.value`, `${quote(value)}: ${e}`);
      if (!present(t.effect)) f.required(`${tp}.effect`, 'effect is required');
      const id = `${key}:${String(t.effect)}`;
      if (seen.has(id)) f.duplicate(tp, `taint with key ${quote(key)} and effect ${quote(t.effect)} is already set`);
      seen.add(id);
    });
    const status = rec(o.status);
    for (const part of ['capacity', 'allocatable'] as const) {
      const m = rec(status?.[part]);
      for (const [name, value] of Object.entries(m ?? {})) {
        const field = `status.${part}[${name}]`;
        const q = quantityOf(value);
        if (!q) f.invalid(field, `invalid quantity ${quote(value)}`);
        else if (q.nanos < 0n) f.invalid(field, `'${q.text}': must be greater than or equal to 0`);
      }
    }
  });
}

const metadataOnly = (kind: string, apiVersion: string, namespaced: boolean) => (obj: unknown) =>
  run(obj, kind, [apiVersion], undefined, namespaced, () => {});

const VALIDATORS: Readonly<Record<string, (obj: unknown) => ValidationResult>> = {
  VirtualMachine: validateVirtualMachine,
  VirtualMachineInstance: validateVirtualMachineInstance,
  VirtualMachineInstanceMigration: validateVirtualMachineInstanceMigration,
  VirtualMachineInstanceReplicaSet: validateVirtualMachineInstanceReplicaSet,
  Node: validateNode,
  Event: metadataOnly('Event', KINDS.Event.apiVersion, true),
  Lease: metadataOnly('Lease', KINDS.Lease.apiVersion, true),
};

/** Validates any object of a kind virtkit stores, chosen by its `kind` (or `expectedKind` when given). */
export function validateObject(obj: unknown, expectedKind?: string): ValidationResult {
  const kind = expectedKind ?? text(rec(obj)?.kind);
  const validator = kind !== undefined && Object.hasOwn(VALIDATORS, kind) ? VALIDATORS[kind] : undefined;
  if (!validator) {
    const given = rec(obj)?.kind;
    return {
      causes: [
        present(given) || kind !== undefined
          ? {
              field: 'kind',
              reason: 'FieldValueNotSupported',
              message: `Unsupported value: ${quote(kind ?? given)}: supported values: ${supportedValues(Object.keys(VALIDATORS))}`,
            }
          : { field: 'kind', reason: 'FieldValueRequired', message: 'kind is required' },
      ],
      warnings: [],
    };
  }
  return validator(obj);
}

/**
 * Validates `obj` and throws `InvalidSpecError` (code `Invalid`, HTTP 422) carrying every cause when it is
 * invalid; otherwise returns the warnings for fields virtkit does not support.
 */
export function validateOrThrow(obj: unknown, expectedKind?: string): { warnings: string[] } {
  const r = validateObject(obj, expectedKind);
  if (r.causes.length > 0) {
    const o = rec(obj);
    const meta = rec(o?.metadata);
    const kind = expectedKind ?? text(o?.kind) ?? 'Object';
    const name = text(meta?.name) || text(meta?.generateName) || '';
    throw new InvalidSpecError(kind, name, r.causes);
  }
  return { warnings: r.warnings };
}
