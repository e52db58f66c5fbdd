/**
 * Field ownership (metadata.managedFields) for server-side apply, as the apiserver tracks it for custom
 * resources: every write through the API records which manager set which fields; an apply that changes a
 * field another manager set is refused with a 409 Conflict naming both (unless forced, which takes the field
 * over); fields an applier stops applying are removed unless someone else owns them.
 *
 * Simplified to what KubeVirt's CRDs need: lists are atomic (the CRDs declare no list keys), so a field is a
 * path of object keys; metadata contributes labels and annotations. Writes the engine's controllers make
 * straight to the store are not attributed (the apiserver would attribute them to the controllers).
 */
import type { KubeObject } from '@virtkit/engine';
import type { RequestContext } from './handler.ts';
import { ApiError, invalidField } from './status.ts';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
}

type Path = readonly string[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const keyOf = (p: Path): string => JSON.stringify(p);

/** Deep equality of JSON values; an undefined member counts as absent. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson(a[k], b[k]));
}

/** The fields an object sets, each with its value: leaves of nested objects; lists and `{}` are leaves. */
function leaves(obj: KubeObject): Map<string, { path: Path; value: unknown }> {
  const out = new Map<string, { path: Path; value: unknown }>();
  const walk = (v: unknown, path: string[]): void => {
    if (isObject(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) if (child !== null && child !== undefined) walk(child, [...path, k]);
      return;
    }
    out.set(keyOf(path), { path, value: v });
  };
  const o = obj as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status' || k === 'metadata' || v === null || v === undefined)
      continue;
    walk(v, [k]);
  }
  const meta = obj.metadata as Record<string, unknown>;
  for (const k of ['labels', 'annotations']) {
    const m = meta[k];
    if (isObject(m)) for (const [name, value] of Object.entries(m)) walk(value, ['metadata', k, name]);
  }
  return out;
}

/** One path contains the other (or they are equal): setting one changes the other. */
function overlaps(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fieldsOf(e: ManagedFieldsEntry): Path[] {
  const out: Path[] = [];
  const walk = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    const children = Object.keys(node).filter((k) => k.startsWith('f:'));
    if (children.length === 0 && path.length > 0) out.push(path);
    for (const k of children) walk(node[k], [...path, k.slice(2)]);
  };
  walk(e.fieldsV1, []);
  return out;
}

function fieldsV1Of(paths: Iterable<Path>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let node = root;
    for (const k of p) {
      const key = `f:${k}`;
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
  }
  return root;
}

const fieldText = (p: Path): string => `.${p.join('.')}`;

function entriesOf(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  const m = (obj?.metadata as { managedFields?: unknown } | undefined)?.managedFields;
  return Array.isArray(m)
    ? m.filter((e): e is ManagedFieldsEntry => isObject(e) && typeof e.manager === 'string' && isObject(e.fieldsV1))
    : [];
}

function valueAt(obj: unknown, p: Path): unknown {
  let v = obj;
  for (const k of p) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

function withEntries(obj: KubeObject, entries: ManagedFieldsEntry[]): KubeObject {
  const metadata = { ...obj.metadata } as Record<string, unknown>;
  if (entries.length) metadata.managedFields = entries;
  else delete metadata.managedFields;
  return { ...obj, metadata } as KubeObject;
}

/**
 * The manager of a request: `fieldManager`, else the client's name from its User-Agent (`kubectl/v1.32...`
 * gives `kubectl`), as the apiserver does.
 */
export function managerOf(rc: RequestContext): string {
  const explicit = rc.query.get('fieldManager');
  if (explicit !== null && explicit !== '') {
    if (explicit.length > 128) {
      throw invalidField('PatchOptions', 'fieldManager', 'FieldValueTooLong', 'must be at most 128 characters');
    }
    return explicit;
  }
  const agent = rc.headers.get('user-agent') ?? '';
  const name = agent.split('/')[0]?.trim() ?? '';
  return name === '' ? 'unknown' : name.slice(0, 128);
}

interface Attribution {
  manager: string;
  apiVersion: string;
  time: string;
}

/** `after` with managedFields updated for a create, update or non-apply patch by `a.manager`. */
export function attributeUpdate(before: KubeObject | undefined, after: KubeObject, a: Attribution): KubeObject {
  const old = before ? leaves(before) : new Map<string, { path: Path; value: unknown }>();
  const now = leaves(after);
  const touched: Path[] = [];
  for (const [k, v] of now) if (!sameJson(old.get(k)?.value, v.value) || !old.has(k)) touched.push(v.path);
  for (const [k, v] of old) if (!now.has(k)) touched.push(v.path);
  const exists = (p: Path): boolean => [...now.values()].some((l) => overlaps(l.path, p) && l.path.length >= p.length);
  const entries: ManagedFieldsEntry[] = [];
  let own: Path[] = [];
  for (const e of entriesOf(before)) {
    const kept = fieldsOf(e).filter((p) => exists(p));
    if (e.manager === a.manager && e.operation === 'Update') {
      own = kept;
      continue;
    }
    const rest = kept.filter((p) => !touched.some((t) => overlaps(t, p)));
    if (rest.length) entries.push({ ...e, fieldsV1: fieldsV1Of(rest) });
  }
  const mine = new Map<string, Path>();
  for (const p of own) if (!touched.some((t) => overlaps(t, p))) mine.set(keyOf(p), p);
  for (const p of touched) if (now.has(keyOf(p))) mine.set(keyOf(p), p);
  if (mine.size) {
    entries.push({
      manager: a.manager,
      operation: 'Update',
      apiVersion: a.apiVersion,
      time: a.time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1Of(mine.values()),
    });
  }
  return withEntries(after, entries);
}

export interface ApplyPlan {
  /** Fields the applier applied before and no longer does, which nobody else owns: to be removed. */
  remove: Path[];
  /** The managedFields after the apply. */
  entries: ManagedFieldsEntry[];
}

/**
 * Checks an apply of `config` by `a.manager` against `live`'s owners: a field set to another value than
 * another manager's is a conflict (409) unless `force`, which takes it over.
 */
export function planApply(live: KubeObject | undefined, config: KubeObject, a: Attribution, force: boolean): ApplyPlan {
  const applied = leaves(config);
  const conflicts: { manager: string; path: Path }[] = [];
  const others: { entry: ManagedFieldsEntry; fields: Path[] }[] = [];
  let previous: Path[] = [];
  for (const e of entriesOf(live)) {
    const fields = fieldsOf(e);
    if (e.manager === a.manager && e.operation === 'Apply') {
      previous = fields;
      continue;
    }
    const taken = new Set<Path>();
    for (const { path, value } of applied.values()) {
      if (!fields.some((p) => overlaps(p, path))) continue;
      if (sameJson(valueAt(live, path), value)) continue;
      conflicts.push({ manager: e.manager, path });
      for (const p of fields) if (overlaps(p, path)) taken.add(p);
    }
    others.push({ entry: e, fields: force ? fields.filter((p) => !taken.has(p)) : fields });
  }
  if (conflicts.length && !force) throw conflictError(conflicts, a.apiVersion);
  const remove = previous.filter(
    (p) =>
      !applied.has(keyOf(p)) &&
      ![...applied.values()].some((l) => overlaps(l.path, p)) &&
      !others.some((o) => o.fields.some((q) => overlaps(q, p))),
  );
  const entries: ManagedFieldsEntry[] = others
    .filter((o) => o.fields.length > 0)
    .map((o) => ({ ...o.entry, fieldsV1: fieldsV1Of(o.fields) }));
  entries.push({
    manager: a.manager,
    operation: 'Apply',
    apiVersion: a.apiVersion,
    time: a.time,
    fieldsType: 'FieldsV1',
    fieldsV1: fieldsV1Of([...applied.values()].map((l) => l.path)),
  });
  return { remove, entries };
}

/** `obj` without the fields at `paths`, and with `entries` as its managedFields. */
export function finishApply(obj: KubeObject, plan: ApplyPlan): KubeObject {
  const out = structuredClone(obj) as unknown as Record<string, unknown>;
  for (const p of plan.remove) {
    const parent = valueAt(out, p.slice(0, -1));
    if (isObject(parent)) delete parent[p[p.length - 1]!];
  }
  return withEntries(out as unknown as KubeObject, plan.entries);
}

function conflictError(conflicts: { manager: string; path: Path }[], apiVersion: string): ApiError {
  const n = conflicts.length;
  const message =
    n === 1
      ? `Apply failed with 1 conflict: conflict with "${conflicts[0]!.manager}" using ${apiVersion}: ${fieldText(conflicts[0]!.path)}`
      : `Apply failed with ${n} conflicts: ${conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersion}: ${fieldText(c.path)}`).join('\n')}`;
  return new ApiError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${apiVersion}`,
      field: fieldText(c.path),
    })),
  });
}
