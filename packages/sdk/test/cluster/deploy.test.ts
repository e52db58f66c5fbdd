/**
 * deploy/: the committed CRDs are exactly what scripts/gen-crds.ts generates and are structural; every
 * manifest's fields exist in the Kubernetes API (checked against @kubernetes/client-node's generated
 * models, as strict field validation would); the real kubectl builds the kustomization and accepts every
 * object in a client-side dry run; the agent config the DaemonSet mounts is one the agent accepts. No
 * cluster here: kubectl's discovery is answered by a stub that only lists the API groups the manifests
 * use (client dry runs read nothing else).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { KINDS } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  buildCrds,
  type CustomResourceDefinition,
  crdYaml,
  parseAgentConfig,
  structuralProblems,
} from '../../src/cluster/index.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const DEPLOY = join(ROOT, 'deploy');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

function docs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Doc;
  });
}

const manifestFiles = () => [
  ...readdirSync(DEPLOY)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => join(DEPLOY, f)),
  ...readdirSync(join(DEPLOY, 'crds')).map((f) => join(DEPLOY, 'crds', f)),
];

/**
 * Unknown or mistyped fields, by the API's own types: client-node's models list every field of every
 * Kubernetes type (`attributeTypeMap`), as the apiserver's strict field validation knows them.
 */
function fieldProblems(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => fieldProblems(v, arr[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map`];
    return Object.entries(value).flatMap(([k, v]) => fieldProblems(v, map[1]!, `${path}[${k}]`));
  }
  switch (type) {
    case 'string':
    case 'Date':
      return typeof value === 'string' ? [] : [`${path}: expected a string`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean`];
    case 'IntOrString':
      return typeof value === 'number' || typeof value === 'string' ? [] : [`${path}: expected int or string`];
    case 'any':
    case 'object':
      return [];
  }
  const model = (
    k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>
  )[type];
  if (!model?.getAttributeTypeMap) return [`${path}: no model for type ${type}`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected an object (${type})`];
  const attrs = model.getAttributeTypeMap();
  return Object.entries(value).flatMap(([k, v]) => {
    const a = attrs.find((x) => x.baseName === k);
    return a ? fieldProblems(v, a.type, path ? `${path}.${k}` : k) : [`${path ? `${path}.` : ''}${k}: unknown field`];
  });
}

describe('deploy/ CRDs', () => {
  it('are exactly what scripts/gen-crds.ts generates from the supported-field table', () => {
    const generated = buildCrds();
    expect(readdirSync(join(DEPLOY, 'crds')).sort()).toEqual(generated.map((g) => g.file).sort());
    for (const { file, crd } of generated) {
      expect(readFileSync(join(DEPLOY, 'crds', file), 'utf8'), `${file} is stale: run scripts/gen-crds.ts`).toBe(
        crdYaml(crd),
      );
    }
  });

  it('are structural, keep unknown fields, and have status subresources, names and printer columns', () => {
    const byKind = new Map<string, CustomResourceDefinition>();
    for (const file of readdirSync(join(DEPLOY, 'crds'))) {
      const [crd] = docs(join(DEPLOY, 'crds', file)) as unknown as CustomResourceDefinition[];
      byKind.set(crd!.spec.names.kind, crd!);
      const version = crd!.spec.versions[0]!;
      expect(structuralProblems(version.schema.openAPIV3Schema), file).toEqual([]);
      expect(version.subresources).toEqual({ status: {} });
      expect(version.schema.openAPIV3Schema.properties?.spec?.['x-kubernetes-preserve-unknown-fields']).toBe(true);
    }
    const columns = (kind: string) =>
      byKind
        .get(kind)!
        .spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)
        .sort();
    expect(columns('VirtualMachine')).toEqual(['Age', 'Ready', 'Status']);
    expect(columns('VirtualMachineInstance')).toEqual(['Age', 'IP', 'NodeName', 'Phase', 'Ready']);
    for (const kind of [
      'VirtualMachine',
      'VirtualMachineInstance',
      'VirtualMachineInstanceMigration',
      'VirtualMachineInstanceReplicaSet',
    ] as const) {
      const crd = byKind.get(kind)!;
      expect(crd.metadata.name).toBe(`${KINDS[kind].plural}.kubevirt.io`);
      expect(crd.spec.scope).toBe('Namespaced');
    }
    expect(byKind.get('VirtualMachine')!.spec.names.shortNames).toContain('vm');
    expect(byKind.get('VirtualMachineInstance')!.spec.names.shortNames).toContain('vmi');
    expect(byKind.get('VirtualMachineInstanceMigration')!.spec.names.shortNames).toContain('vmim');
    expect(byKind.get('VirtualMachineInstanceReplicaSet')!.spec.names.shortNames).toContain('vmirs');
    expect(byKind.get('HypervisorNode')!.spec.scope).toBe('Cluster');
    // Typed where the table types: a VM's memory is a quantity, its run strategy an enum.
    const vmSpec = byKind.get('VirtualMachine')!.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    const domain = vmSpec.properties!.template!.properties!.spec!.properties!.domain!;
    expect(domain.properties!.memory!.properties!.guest).toMatchObject({ 'x-kubernetes-int-or-string': true });
    expect(vmSpec.properties!.runStrategy!.enum).toContain('Always');
  });

  it('the structural check finds what the apiserver would refuse', () => {
    expect(structuralProblems({ type: 'object', properties: { a: {} } })).toEqual(['a: no type']);
    expect(
      structuralProblems({ type: 'object', properties: { a: { type: 'string', 'x-kubernetes-int-or-string': true } } }),
    ).toEqual(['a: int-or-string must not have a type']);
    expect(
      structuralProblems({
        type: 'object',
        properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } },
      }),
    ).toEqual(['metadata: only name and generateName may be specified']);
  });
});

describe('deploy/ manifests', () => {
  it('use only fields the Kubernetes API has (client-node models), CRDs included', () => {
    const seen: string[] = [];
    for (const file of manifestFiles()) {
      for (const d of docs(file)) {
        seen.push(`${d.kind}/${d.metadata.name}`);
        const problems = fieldProblems(d, `V1${d.kind}`, '');
        expect(problems, `${file}: ${d.kind} ${d.metadata.name}`).toEqual([]);
      }
    }
    expect(seen.sort()).toEqual(
      [
        'ClusterRole/virtkit-controller',
        'ClusterRoleBinding/virtkit-controller',
        'ConfigMap/virtkit-agent-config',
        'CustomResourceDefinition/hypervisornodes.virtkit.io',
        'CustomResourceDefinition/virtualmachineinstancemigrations.kubevirt.io',
        'CustomResourceDefinition/virtualmachineinstancereplicasets.kubevirt.io',
        'CustomResourceDefinition/virtualmachineinstances.kubevirt.io',
        'CustomResourceDefinition/virtualmachines.kubevirt.io',
        'DaemonSet/virtkit-agent',
        'Deployment/virtkit-controller',
        'Namespace/virtkit-system',
        'Role/virtkit-agent',
        'Role/virtkit-controller',
        'RoleBinding/virtkit-agent',
        'RoleBinding/virtkit-controller',
        'ServiceAccount/virtkit-agent',
        'ServiceAccount/virtkit-controller',
      ].sort(),
    );
    // The check is able to fail.
    expect(fieldProblems({ spec: { replica: 2 } }, 'V1Deployment', '')).toEqual(['spec.replica: unknown field']);
  });

  it('deploy the controller with 2 replicas and the agent as a privileged DaemonSet with the host paths', () => {
    const [deployment] = docs(join(DEPLOY, 'controller.yaml')) as unknown as k8s.V1Deployment[];
    expect(deployment!.spec!.replicas).toBe(2);
    expect(deployment!.spec!.template.spec!.containers[0]!.args).toEqual(['controller']);
    const [ds] = docs(join(DEPLOY, 'agent.yaml')) as unknown as k8s.V1DaemonSet[];
    const pod = ds!.spec!.template.spec!;
    expect(pod.containers[0]!.securityContext?.privileged).toBe(true);
    expect(pod.volumes!.map((v) => v.hostPath?.path).filter(Boolean)).toEqual([
      '/var/run/libvirt',
      '/var/lib/virtkit',
      '/dev/kvm',
    ]);
  });

  it('give the agent its config: the ConfigMap mounted read-only, passed with --config, and accepted by the agent', () => {
    const [ds] = docs(join(DEPLOY, 'agent.yaml')) as unknown as k8s.V1DaemonSet[];
    const pod = ds!.spec!.template.spec!;
    const container = pod.containers[0]!;
    const arg = container.args?.find((a) => a.startsWith('--config='));
    expect(arg).toBe('--config=/etc/virtkit/agent.yaml');
    const volume = pod.volumes!.find((v) => v.configMap);
    expect(volume?.configMap?.name).toBe('virtkit-agent-config');
    const mount = container.volumeMounts!.find((m) => m.name === volume?.name);
    expect(mount).toEqual({ name: volume?.name, mountPath: '/etc/virtkit', readOnly: true });

    const [cm] = docs(join(DEPLOY, 'agent-config.yaml')) as unknown as k8s.V1ConfigMap[];
    expect(cm!.metadata!.name).toBe('virtkit-agent-config');
    expect(cm!.metadata!.namespace).toBe(ds!.metadata!.namespace);
    // The file the flag names is a key of the mounted ConfigMap.
    const path = arg!.slice('--config='.length);
    const key = path.slice(`${mount!.mountPath}/`.length);
    expect(Object.keys(cm!.data ?? {})).toEqual([key]);
    const text = cm!.data![key]!;
    // The shipped default: only public direct URLs, no hostDisk roots, one commented example translation.
    expect(parseAgentConfig(text, path)).toStrictEqual({
      directImageUrls: 'public',
      imageTranslations: [
        {
          prefix: 'images.virtkit.local',
          translations: [
            { name: 'cirros', url: 'https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img' },
            {
              regexp: 'cirros/(\\d+\\.\\d+\\.\\d+)',
              url: 'https://download.cirros-cloud.net/$1/cirros-$1-x86_64-disk.img',
            },
          ],
        },
      ],
      hostDiskRoots: [],
    });
    // Its commented-out settings are valid too, once an operator uncomments them.
    const uncommented = text.replace(/^# (\w+:.*?)(\s+#.*)?$/gm, '$1').replace(/^# {2,}(\S.*?)(\s+#.*)?$/gm, '  $1');
    expect(parseAgentConfig(uncommented, path)).toMatchObject({
      hypervisor: 'auto',
      reserved: { cpuMillis: 500, memoryBytes: 1073741824 },
      maxVms: 110,
      labels: { 'virtkit.io/rack': 'r1' },
    });
  });

  it('are built by the real kubectl (kustomize) and accepted object by object in a client dry run', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('kubectl', args, { timeout: 30_000, env: { ...process.env, KUBECONFIG: '/nonexistent' } }, (e, o, s) =>
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: o, stderr: s }),
        );
      });
    const built = await run(['kustomize', DEPLOY]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(parseAllDocuments(built.stdout)).toHaveLength(17);

    const server = await discoveryStub();
    try {
      const applied = await run([
        `--server=${server.url}`,
        'apply',
        '--dry-run=client',
        '--validate=false',
        '-k',
        DEPLOY,
      ]);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      const lines = applied.stdout.trim().split('\n');
      expect(lines).toHaveLength(17);
      for (const l of lines) expect(l).toMatch(/ created \(dry run\)$/);
      expect(lines).toContain(
        'customresourcedefinition.apiextensions.k8s.io/virtualmachines.kubevirt.io created (dry run)',
      );
      expect(lines).toContain('daemonset.apps/virtkit-agent created (dry run)');
      expect(lines).toContain('configmap/virtkit-agent-config created (dry run)');
    } finally {
      await server.close();
    }
  });
});

/** Answers kubectl's discovery for the groups deploy/ uses; every other request is 404. */
async function discoveryStub(): Promise<{ url: string; close(): Promise<void> }> {
  const groups: Record<string, [string, string, boolean][]> = {
    'apiextensions.k8s.io/v1': [['customresourcedefinitions', 'CustomResourceDefinition', false]],
    'rbac.authorization.k8s.io/v1': [
      ['clusterroles', 'ClusterRole', false],
      ['clusterrolebindings', 'ClusterRoleBinding', false],
      ['roles', 'Role', true],
      ['rolebindings', 'RoleBinding', true],
    ],
    'apps/v1': [
      ['deployments', 'Deployment', true],
      ['daemonsets', 'DaemonSet', true],
    ],
  };
  const core: [string, string, boolean][] = [
    ['namespaces', 'Namespace', false],
    ['serviceaccounts', 'ServiceAccount', true],
    ['configmaps', 'ConfigMap', true],
  ];
  const resourceList = (groupVersion: string, rs: [string, string, boolean][]) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: rs.map(([name, kind, namespaced]) => ({
      name,
      singularName: '',
      namespaced,
      kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    })),
  });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    let body: unknown;
    if (path === '/api') body = { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    else if (path === '/api/v1') body = resourceList('v1', core);
    else if (path === '/apis') {
      body = {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: Object.keys(groups).map((gv) => {
          const [name, version] = gv.split('/') as [string, string];
          return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
        }),
      };
    } else if (path.startsWith('/apis/') && groups[path.slice(6)])
      body = resourceList(path.slice(6), groups[path.slice(6)]!);
    const status = body === undefined ? 404 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        body ?? {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: 'not found',
        },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
