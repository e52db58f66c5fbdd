// The API server under hostile clients, over real HTTPS on 127.0.0.1: no or bad credentials, oversized and
// malformed bodies, absurd nesting, wrong media types, path traversal, huge selectors, and clients that are
// slow or never finish. Each gets a Kubernetes Status (or a plain HTTP refusal where Node answers before the
// API does); nothing is stored; the server keeps serving everyone else.
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { KubeObject } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWithStalledHandshakes, type Harness, startServer, vm } from '../api/support.ts';

const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';
let h: Harness;

beforeAll(async () => {
  h = await startServer({ maxBodyBytes: 256 * 1024 });
  await h.store.create('VirtualMachine', vm('existing'));
});
afterAll(async () => {
  await h?.close();
});

interface Sent {
  method?: string;
  /** Sent as is: no URL normalisation on the client side. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length), in pieces of this size. */
  chunked?: number;
  anonymous?: boolean;
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(o: Sent): Promise<Got> {
  const u = new URL(h.server.url);
  const headers: Record<string, string> = { ...o.headers };
  if (!o.anonymous && !('authorization' in headers)) headers.authorization = `Bearer ${h.server.token}`;
  if (o.body !== undefined && !o.chunked) headers['content-length'] = String(Buffer.byteLength(o.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: u.hostname, port: u.port, path: o.path, method: o.method ?? 'GET', headers, ca: h.server.caCertificate },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined && o.chunked) {
      const b = Buffer.from(o.body);
      // The server may answer 413 and close before all is sent: that is the point.
      req.on('error', () => {});
      for (let i = 0; i < b.length; i += o.chunked) req.write(b.subarray(i, i + o.chunked));
      req.end();
    } else req.end(o.body);
  });
}

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  code: number;
  reason: string;
  message: string;
  details?: { causes?: { reason: string; field: string; message: string }[] };
}

/** The answer is a Kubernetes Failure Status with this code (and reason, when given). */
function status(r: Got, code: number, reason?: string): StatusBody {
  expect(r.status, r.text.slice(0, 300)).toBe(code);
  expect(r.headers['content-type']).toBe('application/json');
  const body = JSON.parse(r.text) as StatusBody;
  expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code });
  if (reason) expect(body.reason).toBe(reason);
  expect(body.message.length).toBeGreaterThan(0);
  return body;
}

const snapshot = async () => JSON.stringify((await h.store.list('VirtualMachine')).items);

const vmJson = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...vm(name), ...extra });

describe('credentials', () => {
  it('answers 401 to every missing, malformed or wrong token, on every kind of route', async () => {
    const before = await snapshot();
    const routes: Sent[] = [
      { path: VMS },
      { path: `${VMS}?watch=true` },
      { path: `${VMS}/existing` },
      { path: VMS, method: 'POST', body: vmJson('intruder'), headers: { 'content-type': 'application/json' } },
      { path: `${VMS}/existing`, method: 'DELETE' },
      { path: '/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/existing/start', method: 'PUT' },
      { path: '/api/v1/nodes' },
      { path: '/apis' },
    ];
    const tokens = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      `Bearer ${h.server.token}x`,
      `Bearer ${h.server.token!.slice(1)}`,
      `Bearer ${h.server.token} extra`,
      `Bearer ${'A'.repeat(8000)}`,
      `Token ${h.server.token}`,
    ];
    let n = 0;
    for (const r of routes)
      for (const t of tokens) {
        const headers = { ...r.headers, ...(t === undefined ? {} : { authorization: t }) };
        status(await send({ ...r, headers, anonymous: t === undefined }), 401, 'Unauthorized');
        n++;
      }
    expect(await snapshot()).toBe(before);
    console.log(`credentials: ${n} requests without a valid token, all 401`);
  });
});

describe('bodies', () => {
  it('answers 413 to bodies over the limit, declared or chunked, and keeps serving', async () => {
    const before = await snapshot();
    const big = vmJson('big', { filler: 'x'.repeat(300 * 1024) });
    status(
      await send({ path: VMS, method: 'POST', body: big, headers: { 'content-type': 'application/json' } }),
      413,
      'RequestEntityTooLarge',
    );
    // No Content-Length: the limit is enforced while reading.
    status(
      await send({
        path: VMS,
        method: 'POST',
        body: big,
        chunked: 16 * 1024,
        headers: { 'content-type': 'application/json' },
      }),
      413,
      'RequestEntityTooLarge',
    );
    // A lying Content-Length (far more than is sent) is refused before anything is read.
    const lie = await send({
      path: VMS,
      method: 'POST',
      body: '{}',
      chunked: 2,
      headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
    }).catch((e: Error) => ({ status: 0, headers: {}, text: e.message }));
    expect([0, 400, 413]).toContain(lie.status);
    expect(await snapshot()).toBe(before);
    expect((await send({ path: `${VMS}/existing` })).status).toBe(200);
  });

  it('answers 400 with a Status to malformed JSON and YAML, quickly', async () => {
    const before = await snapshot();
    const cases: [string, string | Buffer][] = [
      ['application/json', '{"apiVersion": "kubevirt.io/v1",'],
      ['application/json', '{"a":1} trailing'],
      ['application/json', '\uFEFF{"kind":"VirtualMachine"}'],
      ['application/json', "{'single': 'quotes'}"],
      ['application/json', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0x7d])],
      ['application/json', 'NaN'],
      ['application/json', '['.repeat(200_000)],
      ['application/json', '{"a":'.repeat(50_000)],
      ['application/yaml', 'a: [1, 2\nb: }'],
      ['application/yaml', 'a: 1\na: 2\n'],
      ['application/yaml', 'a:\n\t- tab'],
      [
        'application/yaml',
        `${'a: &a [x]\n'}${Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`).join('\n')}\n`,
      ],
      ['application/yaml', `x: ${'['.repeat(100_000)}`],
      ['application/yaml', '--- !!binary\nAAAA\n'],
    ];
    for (const [type, body] of cases) {
      const started = performance.now();
      const r = await send({ path: VMS, method: 'POST', body, headers: { 'content-type': type } });
      const st = status(r, 400, 'BadRequest');
      expect(st.message).toMatch(/not valid (JSON|YAML)|expected a JSON object|nested more than/);
      expect(performance.now() - started, `${type} ${String(body).slice(0, 40)}`).toBeLessThan(10_000);
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses deeply nested objects with 400 naming the field, in JSON, YAML and patches', async () => {
    const before = await snapshot();
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    // 40,000 levels is 200 KB, inside the 256 KiB limit of this server.
    for (const levels of [101, 5_000, 40_000]) {
      const body = `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"deep"},"spec":{"x":${deep(levels)}}}`;
      const st = status(
        await send({ path: VMS, method: 'POST', body, headers: { 'content-type': 'application/json' } }),
        400,
      );
      expect(st.details?.causes?.[0]?.field).toMatch(/^spec\.x\.a\.a/);
    }
    const yaml = `apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: deep}\nspec: {x: ${'['.repeat(3000)}${']'.repeat(3000)}}\n`;
    status(await send({ path: VMS, method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } }), 400);
    // Merge and JSON patches carry the same bound.
    const merge = `{"spec":{"x":${deep(5_000)}}}`;
    status(
      await send({
        path: `${VMS}/existing`,
        method: 'PATCH',
        body: merge,
        headers: { 'content-type': 'application/merge-patch+json' },
      }),
      400,
    );
    const jsonPatch = `[{"op":"add","path":"/spec/x","value":${deep(5_000)}}]`;
    status(
      await send({
        path: `${VMS}/existing`,
        method: 'PATCH',
        body: jsonPatch,
        headers: { 'content-type': 'application/json-patch+json' },
      }),
      400,
    );
    // Patches that each stay shallow cannot stack up past the bound either: validation stops the object.
    let path = '/spec/x';
    let last: Got | undefined;
    for (let i = 0; i < 4; i++) {
      const value = deep(40);
      last = await send({
        path: `${VMS}/existing`,
        method: 'PATCH',
        body: `[{"op":"add","path":"${path}","value":${value}}]`,
        headers: { 'content-type': 'application/json-patch+json' },
      });
      if (last.status !== 200) break;
      path += '/a'.repeat(40);
    }
    const st = status(last!, 422, 'Invalid');
    expect(st.details?.causes?.some((c) => c.field.startsWith('spec.x.a'))).toBe(true);
    const stored = await h.store.get('VirtualMachine', 'default', 'existing');
    expect(JSON.stringify(stored).length).toBeLessThan(10_000);
    await h.store.update('VirtualMachine', { ...stored, spec: vm('existing').spec } as KubeObject as never);
    expect((await snapshot()).length).toBeGreaterThan(0);
    expect(before.length).toBeGreaterThan(0);
  });

  it('answers 415 to media types it does not read, and 400 to bodies that are not objects', async () => {
    const body = vmJson('typed');
    for (const type of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'image/png',
      ';;;',
    ])
      status(
        await send({ path: VMS, method: 'POST', body, headers: { 'content-type': type } }),
        415,
        'UnsupportedMediaType',
      );
    // A patch must say which kind of patch it is.
    for (const type of ['application/json', 'text/plain', ''])
      status(
        await send({
          path: `${VMS}/existing`,
          method: 'PATCH',
          body: '{"metadata":{}}',
          headers: { 'content-type': type },
        }),
        415,
        'UnsupportedMediaType',
      );
    for (const b of ['[]', '"a string"', '42', 'null', 'true'])
      status(
        await send({ path: VMS, method: 'POST', body: b, headers: { 'content-type': 'application/json' } }),
        400,
        'BadRequest',
      );
    expect(await h.store.tryGet('VirtualMachine', 'default', 'typed')).toBeUndefined();
  });

  it('names the field when the body contradicts the URL or the endpoint', async () => {
    const post = (obj: unknown, path = VMS) =>
      send({ path, method: 'POST', body: JSON.stringify(obj), headers: { 'content-type': 'application/json' } });
    const base = vm('mismatch') as unknown as Record<string, unknown>;
    const cases: [unknown, string][] = [
      [{ ...base, metadata: { name: 'mismatch', namespace: 'other' } }, 'metadata.namespace'],
      [{ ...base, metadata: { name: 'mismatch', namespace: 7 } }, 'metadata.namespace'],
      [{ ...base, apiVersion: 'kubevirt.io/v2' }, 'apiVersion'],
      [{ ...base, apiVersion: 3 }, 'apiVersion'],
      [{ ...base, kind: 'VirtualMachineInstance' }, 'kind'],
      [{ ...base, metadata: 'not an object' }, 'metadata'],
    ];
    for (const [obj, field] of cases) {
      const r = await post(obj);
      expect([400, 422]).toContain(r.status);
      const st = status(r, r.status);
      expect(
        st.details?.causes?.map((c) => c.field),
        st.message,
      ).toContain(field);
    }
    const r = await send({
      path: `${VMS}/existing`,
      method: 'PUT',
      body: JSON.stringify({ ...base, metadata: { name: 'another' } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(status(r, 400).details?.causes?.map((c) => c.field)).toContain('metadata.name');
  });
});

describe('paths', () => {
  it('never serves anything but the API for traversal, encoded separators, NUL and junk in the path', async () => {
    const before = await snapshot();
    const paths = [
      '/api/v1/namespaces/../..',
      '/api/v1/namespaces/../../../../etc/passwd',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/../../../../../../etc/passwd',
      '/apis/kubevirt.io/v1/namespaces/%2e%2e/virtualmachines',
      '/apis/kubevirt.io/v1/namespaces/..%2f..%2fetc/virtualmachines',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/..%2F..%2Fexisting',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/%2e%2e',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/existing%00',
      '/apis/kubevirt.io/v1/namespaces/default%00/virtualmachines',
      '/apis/kubevirt.io/v1/namespaces/%zz/virtualmachines',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/%E0%A4%A',
      '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/\\..\\..\\etc',
      '//apis//kubevirt.io//v1//namespaces//default//virtualmachines//nope',
      `/apis/kubevirt.io/v1/namespaces/default/virtualmachines/${'a'.repeat(6000)}`,
      '/apis/kubevirt.io/v1/namespaces/$(reboot)/virtualmachines/`id`',
      '/apis/kubevirt.io/v1/namespaces/<x>/virtualmachines/a&b',
      '/openapi/../../etc/passwd',
      '/version/../../etc/passwd',
      '/healthz/../apis/kubevirt.io/v1/namespaces/default/virtualmachines',
    ];
    for (const path of paths) {
      // URL parsing resolves `..` (RFC 3986), so `/healthz/../apis/...` is a real collection: no DELETE there.
      const methods = path.includes('/../') ? ['GET', 'PUT'] : ['GET', 'DELETE', 'PUT'];
      for (const method of methods) {
        const r = await send({
          path,
          method,
          ...(method === 'PUT' ? { body: vmJson('x'), headers: { 'content-type': 'application/json' } } : {}),
        });
        expect(r.status, `${method} ${path.slice(0, 120)}: ${r.text.slice(0, 200)}`).toBeGreaterThanOrEqual(200);
        expect(r.status, `${method} ${path.slice(0, 120)}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
        expect(r.text).not.toMatch(/root:.*:0:0:/);
        if (r.status >= 400) status(r, r.status);
      }
    }
    // Nothing was created, changed or deleted under a traversed name.
    expect(await snapshot()).toBe(before);
  });

  it('answers a request line too long for the server without a crash, then serves others', async () => {
    const r = await send({ path: `${VMS}?labelSelector=${'a'.repeat(64 * 1024)}` }).catch((e: Error) => ({
      status: 0,
      headers: {},
      text: e.message,
    }));
    expect([0, 431]).toContain(r.status);
    expect((await send({ path: `${VMS}/existing` })).status).toBe(200);
  });
});

describe('selectors', () => {
  it('answers huge label and field selectors with 200 or 400, within a bound, over HTTPS and in-process', async () => {
    const many = Array.from({ length: 600 }, (_, i) => `k${i}`).join(',');
    const wide = `app in (${Array.from({ length: 1500 }, (_, i) => `v${i}`).join(',')})`;
    const selectors = [
      many,
      wide,
      `${'!'.repeat(5000)}a`,
      `${'a,'.repeat(3000)}`,
      `a in (${'('.repeat(3000)})`,
      `a=${'b'.repeat(10_000)}`,
      'a notin ()',
      `${'x.'.repeat(2000)}y=z`,
    ];
    for (const sel of selectors) {
      const started = performance.now();
      const q = encodeURIComponent(sel);
      const r = q.length < 14_000 ? await send({ path: `${VMS}?labelSelector=${q}` }) : undefined;
      if (r) expect([200, 400]).toContain(r.status);
      if (r && r.status === 400) status(r, 400, 'BadRequest');
      expect(performance.now() - started).toBeLessThan(10_000);
    }
    // In-process, past any header limit: a 1 MiB selector.
    for (const sel of [`a in (${'v,'.repeat(350_000)}v)`, `${'k,'.repeat(350_000)}k`, 'a'.repeat(1024 * 1024)]) {
      const started = performance.now();
      const r = await h.server.handleRequest({
        method: 'GET',
        path: VMS,
        query: { labelSelector: sel, fieldSelector: `metadata.name=${'n'.repeat(1000)}` },
        headers: { authorization: `Bearer ${h.server.token}` },
      });
      expect([200, 400]).toContain(r.status);
      expect(performance.now() - started).toBeLessThan(10_000);
      const w = await h.server.handleRequest({
        method: 'GET',
        path: VMS,
        query: { watch: 'true', labelSelector: sel },
        headers: { authorization: `Bearer ${h.server.token}` },
      });
      expect([200, 400]).toContain(w.status);
      w.stream?.cancel();
    }
    expect(h.server.handler.openWatches).toBe(0);
  });
});

/** A watch response is a WatchStream, which says whether it still takes events. */
const isOpen = (stream: unknown): boolean => (stream as { open?: boolean } | undefined)?.open === true;

describe('watch parameters', () => {
  it('keeps a watch with an enormous timeoutSeconds open, and refuses nonsense ones', async () => {
    // 46 days: past the 2^31 ms a single Node timer can hold (it would fire after 1 ms instead).
    const r = await h.server.handleRequest({
      method: 'GET',
      path: VMS,
      query: { watch: 'true', timeoutSeconds: '4000000', resourceVersion: h.store.currentResourceVersion() },
      headers: { authorization: `Bearer ${h.server.token}` },
    });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 200));
    expect(isOpen(r.stream)).toBe(true);
    await h.store.create('VirtualMachine', vm('long-watch'));
    const batch = await r.stream!.next();
    expect(batch).toContain('"long-watch"');
    r.stream!.cancel();
    await h.store.delete('VirtualMachine', 'default', 'long-watch');
    // Pods (derived from VMIs) take the parameter by the same rule as every other watch.
    const verdicts: Record<string, number[]> = {};
    for (const path of [VMS, '/api/v1/namespaces/default/pods']) {
      for (const t of ['-1', '1.5', 'abc', '1e3', '', '99999999999999999999999']) {
        const w = await h.server.handleRequest({
          method: 'GET',
          path,
          query: { watch: 'true', timeoutSeconds: t, resourceVersion: h.store.currentResourceVersion() },
          headers: { authorization: `Bearer ${h.server.token}` },
        });
        expect([200, 400], `${path} timeoutSeconds=${t}`).toContain(w.status);
        verdicts[t] = [...(verdicts[t] ?? []), w.status];
        if (w.status === 200) {
          await new Promise((res) => setTimeout(res, 50));
          expect(isOpen(w.stream), `${path} timeoutSeconds=${t}`).toBe(true);
        }
        w.stream?.cancel();
      }
    }
    expect(verdicts['-1']).toEqual([400, 400]);
    for (const [t, [vms, pods]] of Object.entries(verdicts)) expect(pods, `timeoutSeconds=${t}`).toBe(vms);
  });
});

describe('list and watch positions', () => {
  it('answers forged resourceVersions, limits and continue tokens with a 4xx Status or a normal answer, never 500', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const rvs = [
      '-1',
      'abc',
      '1e3',
      '99999999999999999999999',
      '9007199254740993',
      ' 1',
      '1 ',
      '0x10',
      `${'9'.repeat(5000)}`,
    ];
    const conts = [
      'garbage',
      '',
      '%%%',
      b64({}),
      b64({ rv: -1 }),
      b64({ rv: 'x', start: { $gt: '' } }),
      b64([1, 2]),
      b64('s'),
      'e30',
    ];
    const limits = ['-5', '0', '1', '1e9', '99999999999999999999', 'NaN', '1.5'];
    const seen = new Set<number>();
    const check = async (query: string) => {
      const r = await h.server.handleRequest({
        method: 'GET',
        path: VMS,
        query,
        headers: { authorization: `Bearer ${h.server.token}` },
      });
      seen.add(r.status);
      expect(r.status, `${query.slice(0, 80)}: ${r.body?.slice(0, 200)}`).toBeLessThan(500);
      if (r.status >= 400) expect(JSON.parse(r.body!)).toMatchObject({ kind: 'Status', code: r.status });
      r.stream?.cancel();
    };
    for (const rv of rvs) {
      await check(`resourceVersion=${encodeURIComponent(rv)}`);
      await check(`watch=true&resourceVersion=${encodeURIComponent(rv)}`);
      await check(`resourceVersion=${encodeURIComponent(rv)}&resourceVersionMatch=Exact`);
    }
    for (const c of conts) await check(`limit=1&continue=${encodeURIComponent(c)}`);
    for (const l of limits) await check(`limit=${encodeURIComponent(l)}`);
    expect(h.server.handler.openWatches).toBe(0);
    expect([...seen].some((s) => s >= 400)).toBe(true);
  });
});

describe('slow and abandoned clients', () => {
  it('closes promptly while connections never finished (or never started) their TLS handshake', async () => {
    const other = await startServer();
    expect(await closeWithStalledHandshakes(other.server.url, () => other.close())).toBeLessThan(5_000);
  });

  const quick = async (n: number) => {
    const started = performance.now();
    const rs = await Promise.all(Array.from({ length: n }, () => send({ path: `${VMS}/existing` })));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    return performance.now() - started;
  };

  it('keeps serving while connections idle before TLS, stall inside the headers, or stall inside a body', async () => {
    const u = new URL(h.server.url);
    const opened: { destroy(): void }[] = [];
    // TCP only, never a TLS handshake.
    for (let i = 0; i < 20; i++) opened.push(netConnect(Number(u.port), u.hostname).on('error', () => {}));
    // Half a request line, then nothing (slowloris).
    for (let i = 0; i < 20; i++) {
      const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca: h.server.caCertificate });
      s.on('error', () => {});
      s.once('secureConnect', () => s.write(`GET ${VMS} HTTP/1.1\r\nHost: x\r\nAuthor`));
      opened.push(s);
    }
    // Headers complete, a body promised and never sent.
    for (let i = 0; i < 20; i++) {
      const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca: h.server.caCertificate });
      s.on('error', () => {});
      s.once('secureConnect', () =>
        s.write(
          `POST ${VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.server.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"apiVersion":`,
        ),
      );
      opened.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    try {
      const ms = await quick(20);
      expect(ms).toBeLessThan(10_000);
      console.log(`60 stalled connections open: 20 requests from others answered in ${ms.toFixed(0)} ms`);
    } finally {
      for (const s of opened) s.destroy();
    }
  });
});
