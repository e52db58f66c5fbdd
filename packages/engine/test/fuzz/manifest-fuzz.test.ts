// 10,000 generated manifests (valid, mutated, schema-random; see specs.ts) through validation, defaults,
// the YAML/JSON manifest round trip and the store: nothing throws or hangs, every rejection names a field
// with a reason, every valid object is stored as defaulted, unknown fields are warned about and kept.

import { isDeepStrictEqual } from 'node:util';
import {
  defaultObject,
  InvalidSpecError,
  type Kind,
  type KubeObject,
  MAX_OBJECT_DEPTH,
  ManifestParseError,
  MemoryStore,
  parseManifests,
  toYaml,
  validateObject,
  validateOrThrow,
} from '@virtkit/engine';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeSpecimen, preview, Tally } from './report.ts';
import {
  CAUSE_REASONS,
  getAt,
  type Json,
  type JsonObject,
  names,
  nest,
  type Specimen,
  specimens,
  validObject,
} from './specs.ts';

const SEED = 20_240_601;
const COUNT = 10_000;
/** A call that takes longer than this is treated as a hang (generous: the slowest honest call is ~100 ms). */
const CALL_BOUND_MS = 5_000;
/** YAML is slow to write and read; every Nth accepted specimen takes that round trip (all take JSON's). */
const YAML_EVERY = 4;
const YAML_MAX_CHARS = 16 * 1024;

const SERVER_FIELDS = ['uid', 'resourceVersion', 'creationTimestamp', 'generation'] as const;

/** The stored object with what the store adds removed, to compare with what was submitted. */
function withoutServerFields(o: KubeObject): KubeObject {
  const meta: Record<string, unknown> = { ...o.metadata };
  for (const f of SERVER_FIELDS) delete meta[f];
  return { ...o, metadata: meta } as KubeObject;
}

let slowest = { ms: 0, what: '' };
const phaseMs = new Map<string, number>();
function timed<T>(what: string, f: () => T): T {
  const start = performance.now();
  const result = f();
  const ms = performance.now() - start;
  if (ms > slowest.ms) slowest = { ms, what };
  const phase = what.split(' ')[0]!;
  phaseMs.set(phase, (phaseMs.get(phase) ?? 0) + ms);
  if (ms > CALL_BOUND_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms: treated as a hang`);
  return result;
}

describe('manifest fuzzing (fast-check, fixed seed)', () => {
  it(`validates, defaults, round-trips and stores ${COUNT} generated manifests`, async () => {
    const genStart = performance.now();
    const all = specimens(COUNT, SEED);
    phaseMs.set('generation', performance.now() - genStart);
    const tally = new Tally();
    const store = new MemoryStore();
    for (const [i, s] of all.entries()) {
      const where = () => describeSpecimen(s, i, SEED);
      try {
        await check(s, store, tally);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n  counterexample: ${where()}`, { cause: err });
      }
    }
    await store.close();
    console.log(
      `manifest fuzz: ${all.length} specimens (${tally.get('family:valid')} valid, ${tally.get('family:mutated')} mutated, ` +
        `${tally.get('family:random')} schema-random); accepted ${tally.get('accepted')}, rejected ${tally.get('rejected')} ` +
        `with ${tally.get('causes')} causes; ${tally.get('warned')} with warnings; ${tally.get('yaml')} YAML and ` +
        `${tally.get('stored')} store round trips; slowest call ${slowest.ms.toFixed(0)} ms (${slowest.what})\n  ${tally}\n  ms per phase: ${[...phaseMs].map(([k, v]) => `${k}=${v.toFixed(0)}`).join(' ')}`,
    );
    expect(tally.get('accepted') + tally.get('rejected')).toBe(COUNT);
    // Both outcomes are well represented, or the generator has drifted.
    expect(tally.get('accepted')).toBeGreaterThan(COUNT / 4);
    expect(tally.get('rejected')).toBeGreaterThan(COUNT / 4);
  }, 120_000);

  it('accepts every valid-by-construction object, shrinking any counterexample (property)', () => {
    const kinds = fc.constantFrom(
      'VirtualMachine',
      'VirtualMachineInstance',
      'VirtualMachineInstanceMigration',
      'VirtualMachineInstanceReplicaSet',
    ) as fc.Arbitrary<Specimen['kind']>;
    fc.assert(
      fc.property(
        kinds.chain((k) => validObject(k)),
        (obj) => {
          expect(validateObject(obj).causes).toEqual([]);
          expect(validateObject(defaultObject(obj as unknown as KubeObject)).causes).toEqual([]);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('reports a manifest nested too deeply as a parse error, in text and in objects', () => {
    const levels = 20_000;
    const inputs = [
      { apiVersion: 'v1', kind: 'X', deep: nest(levels) },
      `{"apiVersion":"v1","kind":"X","deep":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`,
      `[{"apiVersion":"v1","kind":"X","deep":${'['.repeat(levels)}${']'.repeat(levels)}}]`,
      `apiVersion: v1\nkind: X\ndeep: ${'['.repeat(levels)}${']'.repeat(levels)}\n`,
      `apiVersion: v1\nkind: X\ndeep:\n${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')} 1\n`,
    ];
    for (const input of inputs) expect(() => parseManifests(input as never)).toThrow(ManifestParseError);
    // At the bound itself the manifest is fine.
    const ok = { apiVersion: 'v1', kind: 'X', deep: nest(MAX_OBJECT_DEPTH - 1) };
    expect(parseManifests(ok)).toEqual([ok]);
    expect(parseManifests(JSON.stringify(ok))).toEqual([ok]);
    expect(parseManifests(toYaml(ok))).toEqual([ok]);
    // Validation draws the same line: the object is level 1, `spec` 2, so `spec.x` holds 98 more.
    const vmi = (x: Json) => ({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'deep' },
      spec: { domain: { memory: { guest: '64Mi' } }, x },
    });
    expect(validateObject(vmi(nest(MAX_OBJECT_DEPTH - 2))).causes).toEqual([]);
    const causes = validateObject(vmi(nest(MAX_OBJECT_DEPTH - 1))).causes;
    expect(causes.map((c) => [c.field.slice(0, 12), c.reason])).toEqual([['spec.x.a.a.a', 'FieldValueInvalid']]);
    // The path leads to the first object too deep: one step per level below the root.
    expect(causes[0]!.field.split('.').length).toBe(MAX_OBJECT_DEPTH);
  });
});

/** Deep equality (vitest's toEqual is too slow for 10,000 objects), failing with both sides shown. */
function same(actual: unknown, expected: unknown): void {
  // Through JSON, where -0 and 0 are one number.
  const json = (v: unknown) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
  const equal = timed(
    'compare',
    () => isDeepStrictEqual(actual, expected) || isDeepStrictEqual(json(actual), json(expected)),
  );
  if (!equal) throw new Error(`not equal:\n  actual:   ${preview(actual)}\n  expected: ${preview(expected)}`);
}

async function check(s: Specimen, store: MemoryStore, tally: Tally): Promise<void> {
  tally.add(`family:${s.family}`);
  tally.add(`mutation:${s.mutation}`);
  const before = s.mutation === 'tooDeep' ? undefined : JSON.stringify(s.obj);
  const r = timed(`validate ${s.mutation}`, () => validateObject(s.obj));
  if (before !== undefined && JSON.stringify(s.obj) !== before) throw new Error('validation changed its input');

  for (const c of r.causes) {
    if (typeof c.field !== 'string' || c.field === '') throw new Error(`a cause names no field: ${preview(c)}`);
    if (!CAUSE_REASONS.has(c.reason)) throw new Error(`a cause has an unknown reason: ${preview(c)}`);
    if (typeof c.message !== 'string' || c.message === '') throw new Error(`a cause has no message: ${preview(c)}`);
  }
  for (const w of r.warnings) if (!/^[^:\s]+: /.test(w)) throw new Error(`a warning names no path: ${w}`);

  if (s.family === 'valid' && r.causes.length > 0) throw new Error(`a valid object was rejected: ${preview(r.causes)}`);
  if (s.expectField !== undefined && !r.causes.some((c) => names(c.field, s.expectField!)))
    throw new Error(`no cause names ${s.expectField}; causes: ${preview(r.causes)}`);
  if (s.unknown) {
    if (r.causes.length > 0) throw new Error(`an unknown field made a valid object invalid: ${preview(r.causes)}`);
    if (!r.warnings.some((w) => w.startsWith(`${s.unknown!.path}: `)))
      throw new Error(`no warning for ${s.unknown.path}: ${preview(r.warnings)}`);
  }

  if (r.causes.length > 0) {
    tally.add('rejected');
    tally.add('causes', r.causes.length);
    let thrown: unknown;
    try {
      validateOrThrow(s.obj);
    } catch (e) {
      thrown = e;
    }
    if (!(thrown instanceof InvalidSpecError) || thrown.code !== 'Invalid' || thrown.httpStatus !== 422)
      throw new Error(`validateOrThrow did not throw a 422 InvalidSpecError: ${String(thrown)}`);
    same(thrown.causes, r.causes);
    // Servers default before they validate: defaulting must take any shape, and must not hide a fault.
    if (s.mutation !== 'tooDeep') {
      const d = timed('defaultObject', () => defaultObject(s.obj as unknown as KubeObject));
      if (JSON.stringify(s.obj) !== before) throw new Error('defaulting changed its input');
      const after = timed('validate', () => validateObject(d)).causes;
      if (after.length === 0)
        throw new Error(`defaulting made an invalid object valid; causes were ${preview(r.causes)}`);
      if (s.expectField !== undefined && !after.some((c) => names(c.field, s.expectField!)))
        throw new Error(`after defaulting no cause names ${s.expectField}: ${preview(after)}`);
      tally.add('defaulted-invalid');
    }
    return;
  }

  tally.add('accepted');
  if (r.warnings.length > 0) tally.add('warned');
  const defaulted = timed('defaultObject', () => defaultObject(s.obj as unknown as KubeObject));
  if (JSON.stringify(s.obj) !== before) throw new Error('defaulting changed its input');
  const again = validateObject(defaulted);
  if (again.causes.length > 0) throw new Error(`defaulting made a valid object invalid: ${preview(again.causes)}`);
  same(defaultObject(defaulted), defaulted);
  if (s.unknown) same(getAt(defaulted as unknown as Json, s.unknown.segments), s.unknown.value);

  // JSON text, objects and (for a share) YAML all come back as the same object.
  const text = JSON.stringify(defaulted);
  const json = JSON.parse(text) as JsonObject;
  same(json, defaulted);
  same(
    timed('parseManifests(json)', () => parseManifests(text)),
    [json],
  );
  same(
    timed('parseManifests(object)', () => parseManifests(defaulted)),
    [json],
  );
  // YAML of huge arrays costs seconds; those go through JSON only.
  if ((tally.get('accepted') % YAML_EVERY === 0 || s.unknown) && text.length < YAML_MAX_CHARS) {
    const yaml = timed('toYaml', () => toYaml(defaulted));
    same(
      timed('parseManifests(yaml)', () => parseManifests(yaml)),
      [json],
    );
    tally.add('yaml');
  }

  // The store keeps it as given, adding only its own bookkeeping.
  const kind = s.kind as Kind;
  const storeStart = performance.now();
  const created = (await store.create(kind, defaulted as never)) as KubeObject;
  const ns = (defaulted.metadata as { namespace?: string }).namespace || 'default';
  const expectedMeta: JsonObject = { ...(json.metadata as JsonObject), namespace: ns };
  const expected = { ...json, metadata: expectedMeta };
  // Empty maps in metadata are dropped, as JSON omitempty does in Kubernetes.
  for (const f of ['labels', 'annotations']) {
    const m = expectedMeta[f];
    if (m && typeof m === 'object' && Object.keys(m).length === 0) delete expectedMeta[f];
  }
  same(withoutServerFields(created), expected);
  const read = (await store.get(kind, ns, created.metadata.name!)) as KubeObject;
  same(read, created);
  await store.delete(kind, ns, created.metadata.name!);
  phaseMs.set('store', (phaseMs.get('store') ?? 0) + performance.now() - storeStart);
  tally.add('stored');
}
