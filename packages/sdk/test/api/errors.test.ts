// Error paths over real HTTPS: each failure is a Kubernetes Status naming what was wrong, and the store is untouched.
import type { KubeObject } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, raw, startServer, vm } from './support.ts';

const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';
let h: Harness;

beforeAll(async () => {
  h = await startServer({}, { historyLimit: 10 });
  await h.store.create('VirtualMachine', vm('existing'));
});
afterAll(async () => {
  await h.close();
});

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  reason: string;
  code: number;
  message: string;
  details?: {
    name?: string;
    kind?: string;
    group?: string;
    causes?: { field: string; reason: string; message: string }[];
  };
}

function status(
  r: { status: number; json(): unknown; headers: Record<string, unknown> },
  code: number,
  reason: string,
) {
  expect(r.status).toBe(code);
  expect(r.headers['content-type']).toBe('application/json');
  const body = r.json() as StatusBody;
  expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  return body;
}

/** The stored VM `existing`, to show a failed request changed nothing. */
const snapshot = async () => JSON.stringify(await h.store.get('VirtualMachine', 'default', 'existing'));

describe('authentication', () => {
  it('answers 401 without a token or with a wrong one', async () => {
    const none = await raw(h.server, VMS, { anonymous: true });
    expect(status(none, 401, 'Unauthorized').message).toContain('bearer token');
    status(await raw(h.server, VMS, { token: 'not-the-token' }), 401, 'Unauthorized');
    const before = await snapshot();
    const write = await raw(h.server, `${VMS}/existing`, {
      method: 'DELETE',
      anonymous: true,
    });
    status(write, 401, 'Unauthorized');
    expect(await snapshot()).toBe(before);
  });

  it('leaves health checks and /version open, like the apiserver', async () => {
    expect((await raw(h.server, '/healthz', { anonymous: true })).text).toBe('ok');
    const v = await raw(h.server, '/version', { anonymous: true });
    expect(v.status).toBe(200);
    expect(v.json()).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\.\d+/) });
  });

  it('generates a different random token per server', async () => {
    const other = await startServer();
    expect(other.server.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(other.server.token).not.toBe(h.server.token);
    status(await raw(other.server, VMS, { token: h.server.token! }), 401, 'Unauthorized');
    await other.close();
  });
});

describe('request bodies', () => {
  it('answers 413 for a body over the limit and stores nothing', async () => {
    const small = await startServer({ maxBodyBytes: 2048 });
    const big = vm('big');
    big.metadata.annotations = { filler: 'x'.repeat(4096) };
    const r = await raw(small.server, VMS, {
      method: 'POST',
      body: JSON.stringify(big),
      headers: { 'content-type': 'application/json' },
    });
    expect(status(r, 413, 'RequestEntityTooLarge').message).toContain('2048 bytes');
    expect(await small.store.tryGet('VirtualMachine', 'default', 'big')).toBeUndefined();
    await small.close();
  });

  it('answers 413 above the default 3 MiB', async () => {
    const body = JSON.stringify({
      ...vm('huge'),
      metadata: { name: 'huge', annotations: { a: 'y'.repeat(3.5 * 1024 * 1024) } },
    });
    const r = await raw(h.server, VMS, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    status(r, 413, 'RequestEntityTooLarge');
    expect(await h.store.tryGet('VirtualMachine', 'default', 'huge')).toBeUndefined();
  });

  it('answers 400 for malformed JSON, saying where', async () => {
    const r = await raw(h.server, VMS, {
      method: 'POST',
      body: '{\n  "apiVersion": "kubevirt.io/v1",\n  "kind": VirtualMachine\n}',
      headers: { 'content-type': 'application/json' },
    });
    const body = status(r, 400, 'BadRequest');
    expect(body.message).toMatch(/^the request body is not valid JSON at line 3, column \d+/);
  });

  it('answers 400 for malformed YAML, saying where', async () => {
    const r = await raw(h.server, VMS, {
      method: 'POST',
      body: 'apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: [unclosed\n',
      headers: { 'content-type': 'application/yaml' },
    });
    expect(status(r, 400, 'BadRequest').message).toMatch(/^the request body is not valid YAML at line \d+, column \d+/);
  });

  it('accepts YAML bodies', async () => {
    const r = await raw(h.server, VMS, {
      method: 'POST',
      body: [
        'apiVersion: kubevirt.io/v1',
        'kind: VirtualMachine',
        'metadata:',
        '  name: from-yaml',
        'spec:',
        '  template:',
        '    spec:',
        '      domain:',
        '        devices: {}',
        '        memory: {guest: 64Mi}',
      ].join('\n'),
      headers: { 'content-type': 'application/yaml' },
    });
    expect(r.status).toBe(201);
    expect(await h.store.tryGet('VirtualMachine', 'default', 'from-yaml')).toBeDefined();
  });

  it('answers 400 for a body of the wrong shape, kind or namespace', async () => {
    const post = (body: unknown) =>
      raw(h.server, VMS, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    expect(status(await post([1, 2]), 400, 'BadRequest').message).toContain('expected a JSON object, got an array');
    const wrongKind = status(await post({ ...vm('k'), kind: 'VirtualMachineInstance' }), 400, 'BadRequest');
    expect(wrongKind.message).toContain('does not match the expected kind (VirtualMachine)');
    expect(wrongKind.details?.causes?.[0]?.field).toBe('kind');
    const wrongNs = status(await post(vm('n', 'elsewhere')), 400, 'BadRequest');
    expect(wrongNs.message).toContain('does not match the namespace sent on the request');
    const put = await raw(h.server, `${VMS}/existing`, {
      method: 'PUT',
      body: JSON.stringify(vm('other-name')),
      headers: { 'content-type': 'application/json' },
    });
    expect(status(put, 400, 'BadRequest').message).toContain('does not match the name on the URL');
  });

  it('answers 415 for an unknown patch type', async () => {
    const before = await snapshot();
    const r = await raw(h.server, `${VMS}/existing`, {
      method: 'PATCH',
      body: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(status(r, 415, 'UnsupportedMediaType').message).toContain('application/merge-patch+json');
    expect(await snapshot()).toBe(before);
  });
});

describe('not found, conflicts, gone', () => {
  it('answers 404 for unknown paths, resources and objects', async () => {
    status(await raw(h.server, '/apis/example.com/v1/widgets'), 404, 'NotFound');
    status(await raw(h.server, '/apis/kubevirt.io/v1/namespaces/default/widgets'), 404, 'NotFound');
    const obj = status(await raw(h.server, `${VMS}/missing`), 404, 'NotFound');
    expect(obj.message).toBe('virtualmachines.kubevirt.io "missing" not found');
    expect(obj.details).toMatchObject({ name: 'missing', group: 'kubevirt.io', kind: 'virtualmachines' });
    const node = status(await raw(h.server, '/api/v1/nodes/missing'), 404, 'NotFound');
    expect(node.message).toBe('nodes "missing" not found');
  });

  it('answers 405 where a verb does not apply', async () => {
    status(
      await raw(h.server, '/apis/kubevirt.io/v1/virtualmachines', { method: 'POST', body: '{}' }),
      405,
      'MethodNotAllowed',
    );
    status(await raw(h.server, '/apis/kubevirt.io/v1', { method: 'DELETE' }), 405, 'MethodNotAllowed');
  });

  it('answers 406 when no acceptable representation is asked for', async () => {
    const r = await raw(h.server, VMS, { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    status(r, 406, 'NotAcceptable');
  });

  it('answers 409 AlreadyExists and 409 Conflict without changing the stored object', async () => {
    const read = await snapshot();
    const current = await h.store.get('VirtualMachine', 'default', 'existing');
    await h.store.update('VirtualMachine', { ...current, metadata: { ...current.metadata, labels: { v: '2' } } });
    const before = await snapshot();
    const dup = await raw(h.server, VMS, {
      method: 'POST',
      body: JSON.stringify(vm('existing')),
      headers: { 'content-type': 'application/json' },
    });
    expect(status(dup, 409, 'AlreadyExists').message).toBe('virtualmachines.kubevirt.io "existing" already exists');
    const stale = JSON.parse(read) as KubeObject;
    (stale.spec as { runStrategy: string }).runStrategy = 'Always';
    const put = await raw(h.server, `${VMS}/existing`, {
      method: 'PUT',
      body: JSON.stringify(stale),
      headers: { 'content-type': 'application/json' },
    });
    expect(status(put, 409, 'Conflict').message).toContain('existing');
    const pre = await raw(h.server, `${VMS}/existing`, {
      method: 'DELETE',
      body: JSON.stringify({ preconditions: { uid: 'not-its-uid' } }),
      headers: { 'content-type': 'application/json' },
    });
    status(pre, 409, 'Conflict');
    // A merge patch naming an old resourceVersion is a precondition too.
    const patch = await raw(h.server, `${VMS}/existing`, {
      method: 'PATCH',
      body: JSON.stringify({
        metadata: { resourceVersion: stale.metadata.resourceVersion },
        spec: { runStrategy: 'Always' },
      }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    status(patch, 409, 'Conflict');
    expect(await snapshot()).toBe(before);
  });

  it('answers 410 Expired for a continue token whose snapshot was compacted', async () => {
    for (let i = 0; i < 3; i++) await h.store.create('VirtualMachine', vm(`page-${i}`, 'paging'));
    const first = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/paging/virtualmachines?limit=1');
    const token = (first.json() as { metadata: { continue: string } }).metadata.continue;
    expect(token).toBeTruthy();
    for (let i = 0; i < 12; i++) await h.store.create('Event', ev(`gone-${i}`));
    const r = await raw(
      h.server,
      `/apis/kubevirt.io/v1/namespaces/paging/virtualmachines?limit=1&continue=${encodeURIComponent(token)}`,
    );
    status(r, 410, 'Expired');
  });
});

describe('validation', () => {
  it('answers 422 Invalid with every cause, naming fields and reasons', async () => {
    const bad = vm('invalid') as unknown as Record<string, Record<string, unknown>>;
    bad.spec!.runStrategy = 'Sometimes';
    (bad.spec!.template as { spec: { domain: { memory: unknown } } }).spec.domain.memory = { guest: '-1Gi' };
    const r = await raw(h.server, VMS, {
      method: 'POST',
      body: JSON.stringify(bad),
      headers: { 'content-type': 'application/json' },
    });
    const body = status(r, 422, 'Invalid');
    expect(body.message).toMatch(/^VirtualMachine\.kubevirt\.io "invalid" is invalid: /);
    expect(body.details).toMatchObject({ name: 'invalid', group: 'kubevirt.io', kind: 'VirtualMachine' });
    const fields = body.details!.causes!.map((c) => `${c.field} ${c.reason}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        'spec.runStrategy FieldValueNotSupported',
        'spec.template.spec.domain.memory.guest FieldValueInvalid',
      ]),
    );
    expect(await h.store.tryGet('VirtualMachine', 'default', 'invalid')).toBeUndefined();
  });

  it('validates patched objects too, keeping the stored one', async () => {
    const before = await snapshot();
    const r = await raw(h.server, `${VMS}/existing`, {
      method: 'PATCH',
      body: JSON.stringify([{ op: 'replace', path: '/spec/runStrategy', value: 'Never' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(status(r, 422, 'Invalid').details?.causes?.[0]?.field).toBe('spec.runStrategy');
    const failedTest = await raw(h.server, `${VMS}/existing`, {
      method: 'PATCH',
      body: JSON.stringify([{ op: 'test', path: '/spec/runStrategy', value: 'Always' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(failedTest.status).toBe(422);
    const notArray = await raw(h.server, `${VMS}/existing`, {
      method: 'PATCH',
      body: '{"op":"remove"}',
      headers: { 'content-type': 'application/json-patch+json' },
    });
    status(notArray, 400, 'BadRequest');
    expect(await snapshot()).toBe(before);
  });

  it('answers 422 for bad DeleteOptions', async () => {
    const r = await raw(h.server, `${VMS}/existing`, {
      method: 'DELETE',
      body: JSON.stringify({ propagationPolicy: 'Sideways' }),
      headers: { 'content-type': 'application/json' },
    });
    const body = status(r, 422, 'Invalid');
    expect(body.details?.causes).toEqual([
      expect.objectContaining({ field: 'propagationPolicy', reason: 'FieldValueNotSupported' }),
    ]);
    expect(await h.store.tryGet('VirtualMachine', 'default', 'existing')).toBeDefined();
  });

  it('answers 400 for bad selectors and query parameters', async () => {
    const sel = status(await raw(h.server, `${VMS}?labelSelector=${encodeURIComponent('a in (b')}`), 400, 'BadRequest');
    expect(sel.message).toContain('label selector');
    const field = status(await raw(h.server, `${VMS}?fieldSelector=spec.nothing%3Dx`), 400, 'BadRequest');
    expect(field.message).toContain('spec.nothing');
    status(await raw(h.server, `${VMS}?watch=maybe`), 400, 'BadRequest');
    status(await raw(h.server, `${VMS}?limit=ten`), 400, 'BadRequest');
  });
});

function ev(name: string) {
  return {
    apiVersion: 'v1' as const,
    kind: 'Event' as const,
    metadata: { name, namespace: 'default' },
    involvedObject: { kind: 'Node', name: 'n' },
  };
}
