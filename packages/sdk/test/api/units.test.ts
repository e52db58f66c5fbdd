// The API server's pure parts: ages, JSON error positions, the self-signed certificate, negotiation, routing, kubeconfig.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonErrorOffset } from '../../src/api/body.ts';
import { negotiate } from '../../src/api/encode.ts';
import { kubeconfigYaml } from '../../src/api/kubeconfig.ts';
import { parseRoute } from '../../src/api/routes.ts';
import { humanDuration } from '../../src/api/table.ts';
import { createServingCertificate } from '../../src/api/tls.ts';

describe('humanDuration', () => {
  it('formats ages like kubectl shows them', () => {
    const s = 1000;
    const m = 60 * s;
    const hr = 60 * m;
    const d = 24 * hr;
    const cases: [number, string][] = [
      [-5 * s, '<invalid>'],
      [-500, '0s'],
      [0, '0s'],
      [119 * s, '119s'],
      [2 * m, '2m'],
      [3 * m + 20 * s, '3m20s'],
      [10 * m, '10m'],
      [179 * m, '179m'],
      [3 * hr, '3h'],
      [7 * hr + 59 * m, '7h59m'],
      [8 * hr + 30 * m, '8h'],
      [47 * hr, '47h'],
      [2 * d, '2d'],
      [3 * d + 5 * hr, '3d5h'],
      [8 * d, '8d'],
      [400 * d, '400d'],
      [2 * 365 * d, '2y'],
      [3 * 365 * d + 45 * d, '3y45d'],
      [9 * 365 * d, '9y'],
    ];
    for (const [ms, want] of cases) expect(humanDuration(ms), `${ms}`).toBe(want);
  });
});

describe('jsonErrorOffset', () => {
  it('finds where JSON goes wrong, agreeing with JSON.parse on what is valid', () => {
    const bad: [string, number][] = [
      ['{"a": x}', 6],
      ['{"a":1,}', 7],
      ['[1,2', 4],
      ['{"a" 1}', 5],
      ['{"a":"b\nc"}', 7],
      ['{"a":tru}', 8],
      ['"\\q"', 2],
      ['{} {}', 3],
      ['', 0],
      ['-', 0],
    ];
    for (const [text, at] of bad) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(jsonErrorOffset(text), text).toBe(at);
    }
    for (const ok of ['{"a":[1,-2.5e3,true,false,null,"\\u00e9\\n"]}', ' [ ] ', '0']) {
      expect(() => JSON.parse(ok)).not.toThrow();
      expect(jsonErrorOffset(ok)).toBe(ok.length);
    }
  });
});

describe('createServingCertificate', () => {
  it('is a valid self-signed certificate for 127.0.0.1, ::1 and localhost', () => {
    const { cert, key } = createServingCertificate();
    const x = new X509Certificate(cert);
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkIP('::1')).toBe('::1');
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkHost('example.com')).toBeUndefined();
    expect(x.ca).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBeGreaterThan(364 * 86_400_000);
    expect(createServingCertificate().cert).not.toBe(cert);
  });
});

describe('negotiate', () => {
  it('picks the first representation it can produce', () => {
    expect(negotiate(undefined)).toEqual({ as: 'json' });
    expect(negotiate('application/json, */*')).toEqual({ as: 'json' });
    expect(
      negotiate(
        'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      ),
    ).toEqual({
      as: 'table',
      apiVersion: 'meta.k8s.io/v1',
    });
    expect(negotiate('application/vnd.kubernetes.protobuf,application/json')).toEqual({ as: 'json' });
    expect(negotiate('application/json;as=Table;v=v2;g=meta.k8s.io,application/json')).toEqual({ as: 'json' });
    expect(() => negotiate('application/vnd.kubernetes.protobuf')).toThrow(/only the following media types/);
  });
});

describe('parseRoute', () => {
  it('resolves resource paths as the apiserver does', () => {
    expect(parseRoute('/apis/kubevirt.io/v1/namespaces/ns1/virtualmachines/vm1/status')).toMatchObject({
      type: 'resource',
      namespace: 'ns1',
      name: 'vm1',
      subresource: 'status',
      watchPrefix: false,
      resource: { plural: 'virtualmachines', kind: 'VirtualMachine' },
    });
    expect(parseRoute('/apis/kubevirt.io/v1/watch/virtualmachines')).toMatchObject({
      type: 'resource',
      watchPrefix: true,
    });
    expect(parseRoute('/api/v1/namespaces/default')).toMatchObject({
      type: 'resource',
      name: 'default',
      resource: { plural: 'namespaces' },
    });
    expect(parseRoute('/api/v1/namespaces/default/events')).toMatchObject({
      type: 'resource',
      namespace: 'default',
      name: undefined,
    });
    expect(parseRoute('/api/v1/nodes/n1')).toMatchObject({ type: 'resource', name: 'n1', namespace: undefined });
    // Cluster-scoped kinds have no namespaced path; namespaced ones have no cluster-wide item path.
    expect(parseRoute('/api/v1/namespaces/default/nodes/n1')).toEqual({ type: 'notFound' });
    expect(parseRoute('/apis/kubevirt.io/v1/virtualmachines/vm1')).toEqual({ type: 'notFound' });
    expect(parseRoute('/apis/subresources.kubevirt.io/v1/namespaces/d/virtualmachines/vm1/start')).toEqual({
      type: 'action',
      resource: 'virtualmachines',
      namespace: 'd',
      name: 'vm1',
      action: 'start',
    });
    expect(parseRoute('/apis/subresources.kubevirt.io/v1/namespaces/d/virtualmachines/vm1/pause')).toEqual({
      type: 'notFound',
    });
    expect(parseRoute('/apis/kubevirt.io/v1/namespaces/d/virtualmachines/a%2Fb')).toMatchObject({ name: 'a/b' });
    expect(parseRoute('/apis/kubevirt.io/v1/namespaces/d/virtualmachines/%E0%A4%A')).toEqual({ type: 'notFound' });
  });
});

describe('kubeconfigYaml', () => {
  it('points context virtkit at the server with the token and CA', () => {
    const doc = parse(
      kubeconfigYaml({ server: 'https://127.0.0.1:6443', token: 't0k', caCertificate: 'PEM' }),
    ) as Record<string, never>;
    expect(doc).toMatchObject({
      'current-context': 'virtkit',
      contexts: [{ name: 'virtkit', context: { cluster: 'virtkit', user: 'virtkit', namespace: 'default' } }],
      clusters: [
        { name: 'virtkit', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'UEVN' } },
      ],
      users: [{ name: 'virtkit', user: { token: 't0k' } }],
    });
    const plain = parse(kubeconfigYaml({ server: 'http://virtkit.test', token: undefined })) as {
      clusters: { cluster: Record<string, unknown> }[];
      users: { user: Record<string, unknown> }[];
    };
    expect(plain.clusters[0]!.cluster['insecure-skip-tls-verify']).toBe(true);
    expect(plain.users[0]!.user).toEqual({});
  });
});
