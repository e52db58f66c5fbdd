// The 10,000 generated manifests of the engine's fuzz test (same generator, same seed) through the API
// server's create path: 800 over real HTTPS, the rest through the same handler in-process. Every answer comes
// within a bound; valid objects are created (201) and stored as defaulted, unknown fields kept and warned
// about; everything else is a 400/422 Status whose causes name a field with a reason.
import { isDeepStrictEqual } from 'node:util';
import { defaultObject, type Kind, type KubeObject, tooDeepPath, toYaml, validateObject } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSpecimen, preview, Tally } from '../../../engine/test/fuzz/report.ts';
import {
  getAt,
  type Json,
  type JsonObject,
  names,
  PLURALS,
  type Specimen,
  specimens,
} from '../../../engine/test/fuzz/specs.ts';
import type { ApiResponse } from '../../src/api/index.ts';
import { type Harness, raw, startServer } from '../api/support.ts';

const SEED = 20_240_601;
const COUNT = 10_000;
const OVER_HTTP = 800;
/** Every Nth specimen is sent as YAML (what `toYaml` writes), the rest as JSON. */
const YAML_EVERY = 10;
const CALL_BOUND_MS = 10_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface StatusBody {
  kind?: string;
  apiVersion?: string;
  status?: string;
  code?: number;
  reason?: string;
  message?: string;
  // StatusCause: Go's `Type` is serialised as `reason`.
  details?: { causes?: { reason?: string; field?: string; message?: string }[] };
}

let h: Harness;
beforeAll(async () => {
  h = await startServer();
});
afterAll(async () => {
  await h?.close();
});

function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_BOUND_MS} ms`)), CALL_BOUND_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The endpoint a client would post the object to: its own apiVersion's, its own namespace's when usable. */
function endpoint(s: Specimen): { path: string; version: string; namespace: string } {
  const meta = s.obj.metadata;
  const ns = meta && typeof meta === 'object' && !Array.isArray(meta) ? meta.namespace : undefined;
  // `.`, `..` and empty segments are resolved away by URL parsing; such namespaces are posted to "default".
  const namespace = typeof ns === 'string' && ns !== '' && ns !== '.' && ns !== '..' ? ns : 'default';
  const version = s.obj.apiVersion === 'kubevirt.io/v1alpha3' ? 'v1alpha3' : 'v1';
  return {
    path: `/apis/kubevirt.io/${version}/namespaces/${encodeURIComponent(namespace)}/${PLURALS[s.kind]}`,
    version,
    namespace,
  };
}

/** What the server must decide: the engine's verdict on the object as the endpoint admits it. */
function engineVerdict(s: Specimen, namespace: string): { ok: boolean; admitted: JsonObject } {
  // Too deep to copy (structuredClone overflows the stack); the engine rejects it whatever else it holds.
  if (tooDeepPath(s.obj) !== undefined) return { ok: false, admitted: s.obj };
  const admitted = structuredClone(s.obj);
  if (admitted.apiVersion === undefined) admitted.apiVersion = 'kubevirt.io/v1';
  if (admitted.kind === undefined) admitted.kind = s.kind;
  if (admitted.metadata === undefined) admitted.metadata = {};
  const meta = admitted.metadata;
  if (
    meta &&
    typeof meta === 'object' &&
    !Array.isArray(meta) &&
    (meta.namespace === undefined || meta.namespace === '')
  )
    meta.namespace = namespace;
  return { ok: validateObject(admitted).causes.length === 0, admitted };
}

async function post(s: Specimen, i: number, http: boolean): Promise<Answer> {
  const { path } = endpoint(s);
  const yaml = i % YAML_EVERY === 0 && tooDeepPath(s.obj) === undefined;
  const body = yaml ? toYaml(s.obj) : JSON.stringify(s.obj);
  const contentType = yaml ? 'application/yaml' : 'application/json';
  if (http) {
    const r = await bounded(
      'POST over HTTPS',
      raw(h.server, path, { method: 'POST', body, headers: { 'content-type': contentType } }),
    );
    return { status: r.status, headers: r.headers, text: r.text };
  }
  const r: ApiResponse = await bounded(
    'POST in-process',
    h.server.handleRequest({
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${h.server.token}`, 'content-type': contentType },
      body,
    }),
  );
  return { status: r.status, headers: r.headers, text: r.body ?? '' };
}

function checkStatus(s: Specimen, a: Answer): StatusBody {
  const st = JSON.parse(a.text) as StatusBody;
  const problems: string[] = [];
  if (st.kind !== 'Status' || st.apiVersion !== 'v1' || st.status !== 'Failure') problems.push('not a Failure Status');
  if (st.code !== a.status) problems.push(`code ${st.code} differs from HTTP ${a.status}`);
  if (!st.reason) problems.push('no reason');
  if (!st.message) problems.push('no message');
  const causes = st.details?.causes ?? [];
  if (causes.length === 0) problems.push('no causes');
  for (const c of causes)
    if (!c.field || !c.reason || !c.message) problems.push(`a cause without field, type or message: ${preview(c)}`);
  if (s.expectField !== undefined && !causes.some((c) => c.field !== undefined && names(c.field, s.expectField!)))
    problems.push(`no cause names ${s.expectField}`);
  if (problems.length > 0) throw new Error(`${problems.join('; ')}: ${preview(st)}`);
  return st;
}

/** Empty metadata maps are dropped by the store (omitempty). */
function dropEmptyMeta(o: JsonObject): JsonObject {
  const meta = { ...(o.metadata as JsonObject) };
  for (const f of ['labels', 'annotations']) {
    const v = meta[f];
    if (v && typeof v === 'object' && Object.keys(v).length === 0) delete meta[f];
  }
  return { ...o, metadata: meta };
}

function withoutServerFields(o: JsonObject): JsonObject {
  const meta = { ...(o.metadata as JsonObject) };
  for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields']) delete meta[f];
  return { ...o, metadata: meta };
}

function same(actual: unknown, expected: unknown, what: string): void {
  const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
  if (!isDeepStrictEqual(actual, expected) && !isDeepStrictEqual(json(actual), json(expected)))
    throw new Error(`${what} differs:\n  actual:   ${preview(actual)}\n  expected: ${preview(expected)}`);
}

async function checkCreated(s: Specimen, a: Answer, admitted: JsonObject, version: string): Promise<void> {
  const created = JSON.parse(a.text) as JsonObject;
  const meta = created.metadata as JsonObject;
  const stored = (await h.store.get(s.kind as Kind, meta.namespace as string, meta.name as string)) as KubeObject;
  // What was stored is the admitted object, defaulted (served in the endpoint's version).
  const expected = dropEmptyMeta(
    defaultObject({ ...admitted, apiVersion: 'kubevirt.io/v1' } as unknown as KubeObject) as unknown as JsonObject,
  );
  same(withoutServerFields(stored as unknown as JsonObject), expected, 'the stored object');
  same(
    withoutServerFields(created),
    { ...expected, apiVersion: `kubevirt.io/${version}` },
    'the created object in the response',
  );
  if (s.unknown) {
    same(getAt(stored as unknown as Json, s.unknown.segments), s.unknown.value, `unknown field ${s.unknown.path}`);
    const warning = String(a.headers.warning ?? '');
    const shown = warning.split(/, (?=299 )/).length;
    if (shown < 25 && !warning.includes(`299 - "${s.unknown.path}: `))
      throw new Error(`no Warning header for ${s.unknown.path}: ${warning.slice(0, 400)}`);
  }
  await h.store.delete(s.kind as Kind, meta.namespace as string, meta.name as string);
}

describe('API server create path under generated manifests', () => {
  it(`answers ${COUNT} generated creates (${OVER_HTTP} over HTTPS) with 201 or a Status naming the field`, async () => {
    const all = specimens(COUNT, SEED);
    const tally = new Tally();
    for (const [i, s] of all.entries()) {
      const http = i < OVER_HTTP;
      try {
        const { version, namespace } = endpoint(s);
        const verdict = engineVerdict(s, namespace);
        const a = await post(s, i, http);
        tally.add(`http:${a.status}`);
        tally.add(http ? 'transport:https' : 'transport:in-process');
        if (a.status === 201) {
          if (!verdict.ok)
            throw new Error(
              `created although the engine rejects it: ${preview(validateObject(verdict.admitted).causes)}`,
            );
          await checkCreated(s, a, verdict.admitted, version);
          tally.add('created');
        } else if (a.status === 400 || a.status === 422) {
          const st = checkStatus(s, a);
          if (verdict.ok) throw new Error(`rejected although the engine accepts it: ${preview(st)}`);
          tally.add('rejected');
          tally.add('causes', st.details?.causes?.length ?? 0);
        } else {
          throw new Error(`unexpected HTTP ${a.status}: ${a.text.slice(0, 600)}`);
        }
      } catch (err) {
        throw new Error(`${(err as Error).message}\n  counterexample: ${describeSpecimen(s, i, SEED)}`, { cause: err });
      }
    }
    console.log(
      `API create fuzz: ${COUNT} specimens; created ${tally.get('created')}, rejected ${tally.get('rejected')} with ${tally.get('causes')} causes\n  ${tally}`,
    );
    expect(tally.get('created') + tally.get('rejected')).toBe(COUNT);
    expect(tally.get('transport:https')).toBe(OVER_HTTP);
    expect((await h.store.list('VirtualMachine')).items).toEqual([]);
  }, 300_000);
});
