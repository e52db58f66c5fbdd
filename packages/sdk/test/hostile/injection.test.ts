// Injection through the front doors: hostile strings in names, namespaces, labels, annotations, cloud-init
// user data, image names, hostDisk paths, disk names, hostnames and kernel arguments, sent through the API
// server (HTTPS) and through the SDK's embedded mode. Each is either refused — a 400/422 Status or a typed
// InvalidSpecError whose causes name the field — or stored and read back exactly; both doors give the same
// verdict. Values that are carried go on into a running VM (simulated nodes) unchanged.
import type { VirtualMachine } from '@virtkit/engine';
import { connect, InvalidSpecError, type VirtkitClient, VirtkitError } from '@virtkit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { names } from '../../../engine/test/fuzz/specs.ts';
import { type Harness, raw, startServer, vm } from '../api/support.ts';

const MiB = 1024 * 1024;
const HOSTILE = [
  '<domain><name>x</name></domain>',
  `it's "quoted" & <tagged>`,
  ']]><!--',
  '$(reboot)',
  '`id`',
  'a;b',
  'a|b',
  '&& rm -rf /',
  '../../../../etc/passwd',
  '..',
  '/etc/shadow',
  'file:///etc/shadow',
  'C:\\Windows\\system32',
  'nul\u0000byte',
  'line\nbreak',
  'crlf\r\nx',
  'tab\tx',
  '\u202egnp.exe',
  'ünïcødé ☃ 𝄞',
  'lone \ud800',
  'x'.repeat(4096),
  'y'.repeat(MiB),
];
const SHORT = (v: string) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v);

type Obj = VirtualMachine & Record<string, unknown>;
const SPEC = 'spec.template.spec';

interface Placement {
  name: string;
  /** Puts `v` into a fresh VM named `name`; returns the namespace to use. */
  put(o: Obj, v: string): void;
  /** Where the value sits in the stored object. */
  get(o: Obj): unknown;
  /** The field a refusal must name. */
  field: string;
  namespace?: (v: string) => string;
}

const tspec = (o: Obj) => o.spec!.template!.spec!;
const segment = (v: string) => v.replaceAll('/', '_').replace(/^\.{1,2}$/, 'x');

const PLACEMENTS: Placement[] = [
  {
    name: 'metadata.name',
    put: (o, v) => {
      o.metadata.name = v;
    },
    get: (o) => o.metadata.name,
    field: 'metadata.name',
  },
  {
    name: 'namespace',
    put: () => {},
    get: (o) => o.metadata.namespace,
    field: 'metadata.namespace',
    namespace: (v) => v,
  },
  {
    name: 'label key',
    put: (o, v) => {
      o.metadata.labels = { [v]: 'x' };
    },
    get: (o) => Object.keys(o.metadata.labels ?? {})[0],
    field: 'metadata.labels',
  },
  {
    name: 'label value',
    put: (o, v) => {
      o.metadata.labels = { app: v };
    },
    get: (o) => o.metadata.labels?.app,
    field: 'metadata.labels',
  },
  {
    name: 'annotation key',
    put: (o, v) => {
      o.metadata.annotations = { [v]: 'x' };
    },
    get: (o) => Object.keys(o.metadata.annotations ?? {})[0],
    field: 'metadata.annotations',
  },
  {
    name: 'annotation value',
    put: (o, v) => {
      o.metadata.annotations = { note: v };
    },
    get: (o) => o.metadata.annotations?.note,
    field: 'metadata.annotations',
  },
  {
    name: 'cloud-init user data',
    put: (o, v) => {
      tspec(o).domain.devices!.disks!.push({ name: 'cloudinit', disk: { bus: 'virtio' } });
      tspec(o).volumes!.push({ name: 'cloudinit', cloudInitNoCloud: { userData: v } });
    },
    get: (o) => tspec(o).volumes?.[1]?.cloudInitNoCloud?.userData,
    field: `${SPEC}.volumes[1].cloudInitNoCloud.userData`,
  },
  {
    name: 'image',
    put: (o, v) => {
      tspec(o).volumes![0]!.containerDisk = { image: v };
    },
    get: (o) => tspec(o).volumes?.[0]?.containerDisk?.image,
    field: `${SPEC}.volumes[0].containerDisk.image`,
  },
  {
    name: 'hostDisk path',
    put: (o, v) => {
      tspec(o).domain.devices!.disks!.push({ name: 'host', disk: { bus: 'virtio' } });
      tspec(o).volumes!.push({ name: 'host', hostDisk: { path: v, type: 'Disk' } });
    },
    get: (o) => tspec(o).volumes?.[1]?.hostDisk?.path,
    field: `${SPEC}.volumes[1].hostDisk.path`,
  },
  {
    name: 'hostDisk path under /data',
    put: (o, v) => {
      tspec(o).domain.devices!.disks!.push({ name: 'host', disk: { bus: 'virtio' } });
      tspec(o).volumes!.push({ name: 'host', hostDisk: { path: `/data/${segment(v)}`, type: 'Disk' } });
    },
    get: (o) => tspec(o).volumes?.[1]?.hostDisk?.path,
    field: `${SPEC}.volumes[1].hostDisk.path`,
  },
  {
    name: 'disk name',
    put: (o, v) => {
      tspec(o).domain.devices!.disks![0]!.name = v;
      tspec(o).volumes![0]!.name = v;
    },
    get: (o) => tspec(o).domain.devices?.disks?.[0]?.name,
    field: `${SPEC}.domain.devices.disks[0].name`,
  },
  {
    name: 'hostname',
    put: (o, v) => {
      tspec(o).hostname = v;
    },
    get: (o) => tspec(o).hostname,
    field: `${SPEC}.hostname`,
  },
  {
    name: 'kernel arguments',
    put: (o, v) => {
      tspec(o).domain.firmware = {
        kernelBoot: { kernelArgs: v, container: { image: 'quay.io/virtkit/kernel:1', kernelPath: '/boot/vmlinuz' } },
      };
    },
    get: (o) => tspec(o).domain.firmware?.kernelBoot?.kernelArgs,
    field: `${SPEC}.domain.firmware.kernelBoot.kernelArgs`,
  },
];

/** What the placement puts where, for the comparison after a round trip. */
const expectedValue = (p: Placement, v: string): unknown =>
  p.name === 'hostDisk path under /data' ? `/data/${segment(v)}` : v;

let h: Harness;
let vk: VirtkitClient;
beforeAll(async () => {
  h = await startServer();
  vk = await connect({ mode: 'embedded', nodes: 2, seed: 11 });
});
afterAll(async () => {
  await vk?.close();
  await h?.close();
});

interface Verdict {
  accepted: boolean;
  fields: string[];
  stored?: Obj;
}

async function viaApi(p: Placement, v: string, name: string): Promise<Verdict> {
  const o = vm(name) as Obj;
  p.put(o, v);
  const ns = p.namespace ? p.namespace(v) : 'default';
  if (p.namespace) o.metadata.namespace = ns;
  let segment: string;
  try {
    segment = encodeURIComponent(ns);
  } catch {
    // A lone surrogate has no UTF-8 form; send the bytes a careless client would.
    segment = '%ED%A0%80';
  }
  const path = `/apis/kubevirt.io/v1/namespaces/${segment}/virtualmachines`;
  const sent = raw(h.server, path, {
    method: 'POST',
    body: JSON.stringify(o),
    headers: { 'content-type': 'application/json' },
  });
  // A namespace of a megabyte makes a request line Node refuses outright (431, connection closed).
  if (path.length > 16 * 1024) {
    const refusal = await sent.catch(() => ({ status: 431 }));
    expect(refusal.status).toBe(431);
    return { accepted: false, fields: [p.field] };
  }
  const r = await sent;
  if (r.status === 201) {
    const created = r.json() as Obj;
    const get = await raw(h.server, `${path}/${encodeURIComponent(created.metadata.name!)}`);
    expect(get.status).toBe(200);
    const stored = get.json() as Obj;
    await h.store.delete('VirtualMachine', stored.metadata.namespace, stored.metadata.name!);
    return { accepted: true, fields: [], stored };
  }
  // A namespace `..` cannot be named in a URL at all: URL parsing resolves it (even as %2E%2E) to another path.
  // Nor can a path segment that is not UTF-8: the route is not found (404), as in the apiserver.
  if (p.namespace && [404, 405].includes(r.status)) return { accepted: false, fields: [p.field] };
  expect([400, 404, 422], `${p.name} ${SHORT(v)}: ${r.text.slice(0, 300)}`).toContain(r.status);
  const st = r.json() as { kind: string; status: string; details?: { causes?: { field: string }[] } };
  expect(st).toMatchObject({ kind: 'Status', status: 'Failure' });
  return { accepted: false, fields: (st.details?.causes ?? []).map((c) => c.field) };
}

async function viaEmbedded(p: Placement, v: string, name: string): Promise<Verdict> {
  const o = vm(name) as Obj;
  p.put(o, v);
  const namespace = p.namespace ? p.namespace(v) : 'default';
  if (p.namespace) o.metadata.namespace = namespace;
  try {
    const created = (await vk.vms.create(o, { namespace })) as Obj;
    const stored = (await vk.vms.get(created.metadata.name!, { namespace })) as Obj;
    await vk.vms.delete(created.metadata.name!, { namespace });
    return { accepted: true, fields: [], stored };
  } catch (e) {
    expect(e, `${p.name} ${SHORT(v)}`).toBeInstanceOf(VirtkitError);
    if (e instanceof InvalidSpecError) return { accepted: false, fields: e.causes.map((c) => c.field) };
    // A namespace that is not a namespace name is refused before there is an object to name.
    expect((e as VirtkitError).code, `${p.name} ${SHORT(v)}: ${(e as Error).message}`).toMatch(
      /Invalid|BadRequest|NotFound/,
    );
    return { accepted: false, fields: [p.field] };
  }
}

describe('hostile strings through the API server and the embedded SDK', () => {
  it('refuses each naming the field, or stores it exactly — the same verdict through both', async () => {
    let carried = 0;
    let refused = 0;
    const carriedCases: { p: Placement; v: string }[] = [];
    for (const p of PLACEMENTS)
      for (const [i, v] of HOSTILE.entries()) {
        const name = `inj-${i}`;
        const label = `${p.name} = ${SHORT(v)}`;
        const api = await viaApi(p, v, name);
        const emb = await viaEmbedded(p, v, name);
        expect(
          emb.accepted,
          `${label}: API ${api.accepted ? 'accepted' : `refused (${api.fields})`}, embedded differs`,
        ).toBe(api.accepted);
        for (const verdict of [api, emb]) {
          if (verdict.accepted) {
            expect(p.get(verdict.stored!), label).toEqual(expectedValue(p, v));
          } else {
            expect(
              verdict.fields.some((f) => names(f, p.field) || f === p.field),
              `${label}: causes ${verdict.fields}`,
            ).toBe(true);
          }
        }
        if (api.accepted) {
          carried++;
          carriedCases.push({ p, v });
        } else refused++;
      }
    console.log(
      `injection: ${PLACEMENTS.length * HOSTILE.length} cases through 2 doors: ${carried} carried exactly, ${refused} refused naming the field`,
    );
    expect(carried).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(100);

    // Carried values go on into the VMI the engine creates, unchanged (simulated nodes, virtual time).
    // A few of each placement (virtual time makes each run cheap).
    const perPlacement = new Map<string, number>();
    const run = carriedCases.filter(({ p }) => {
      if (['metadata.name', 'namespace', 'label key', 'annotation key'].includes(p.name)) return false;
      perPlacement.set(p.name, (perPlacement.get(p.name) ?? 0) + 1);
      return perPlacement.get(p.name)! <= 6;
    });
    const phases: Record<string, number> = {};
    for (const [i, { p, v }] of run.entries()) {
      const o = vm(`run-${i}`) as Obj;
      p.put(o, v);
      o.spec!.runStrategy = 'Always';
      await vk.vms.create(o);
      const vmi = (await vk.vmis.waitFor(
        `run-${i}`,
        (x) => x?.status?.phase === 'Running' || x?.status?.phase === 'Failed',
        {
          timeoutMs: 600_000,
        },
      )) as unknown as Obj;
      const inVmi =
        p.name.startsWith('annotation') || p.name.startsWith('label')
          ? p.get(o)
          : p.get({ ...o, spec: { template: { spec: vmi.spec } } } as unknown as Obj);
      expect(inVmi, `${p.name} ${SHORT(v)} in the VMI`).toEqual(expectedValue(p, v));
      const phase = String((vmi.status as { phase?: string } | undefined)?.phase);
      phases[phase] = (phases[phase] ?? 0) + 1;
      await vk.vms.delete(`run-${i}`);
    }
    console.log(`injection: ${run.length} carried values run in a VMI unchanged (phases ${JSON.stringify(phases)})`);
  }, 300_000);

  it('validates patches and refuses absurd nesting through both doors alike', async () => {
    const bad = { spec: { template: { spec: { domain: { memory: { guest: 'bogus' }, cpu: { cores: -1 } } } } } };
    await vk.vms.create(vm('patched') as Obj);
    // Created through the API too, so both stored objects are defaulted alike.
    const created = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/default/virtualmachines', {
      method: 'POST',
      body: JSON.stringify(vm('patched')),
      headers: { 'content-type': 'application/json' },
    });
    expect(created.status).toBe(201);
    const emb = await vk.transport.patch('VirtualMachine', 'default', 'patched', 'merge', bad).catch((e: unknown) => e);
    expect(emb).toBeInstanceOf(InvalidSpecError);
    const embFields = (emb as InvalidSpecError).causes.map((c) => c.field).sort();
    const api = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/default/virtualmachines/patched', {
      method: 'PATCH',
      body: JSON.stringify(bad),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(api.status).toBe(422);
    const apiFields = (api.json() as { details: { causes: { field: string }[] } }).details.causes
      .map((c) => c.field)
      .sort();
    expect(embFields).toEqual(apiFields);
    expect(embFields).toEqual([`${SPEC}.domain.cpu.cores`, `${SPEC}.domain.memory.guest`]);
    // Nothing was stored by either.
    expect(tspec((await vk.vms.get('patched')) as Obj).domain.memory?.guest).toBe('128Mi');
    expect(tspec((await h.store.get('VirtualMachine', 'default', 'patched')) as Obj).domain.memory?.guest).toBe(
      '128Mi',
    );
    // A valid patch still applies, and is defaulted like a create.
    await vk.transport.patch('VirtualMachine', 'default', 'patched', 'merge', { spec: { runStrategy: 'Manual' } });
    expect((await vk.vms.get('patched')).spec?.runStrategy).toBe('Manual');

    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 5000; i++) deep = { a: deep };
    const o = { ...vm('deep'), spec: { ...vm('deep').spec, x: deep } } as Obj;
    const e = await vk.vms.create(o).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidSpecError);
    expect((e as InvalidSpecError).causes[0]?.field).toMatch(/^spec\.x\.a\.a/);
    const r = await raw(h.server, '/apis/kubevirt.io/v1/namespaces/default/virtualmachines', {
      method: 'POST',
      body: `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"deep"},"spec":{"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json())).toContain('"field":"spec.x.a.a');
  });

  it('reads bytes that are not UTF-8 as U+FFFD, as the Kubernetes apiserver does, and validates the result', async () => {
    const body = (field: 'label' | 'annotation' | 'userData' | 'name') => {
      const o = vm(`bytes-${field.toLowerCase()}`) as Obj;
      if (field === 'label') o.metadata.labels = { app: 'MARK' };
      if (field === 'annotation') o.metadata.annotations = { note: 'MARK' };
      if (field === 'name') o.metadata.name = 'MARK';
      if (field === 'userData') {
        tspec(o).domain.devices!.disks!.push({ name: 'ci', disk: { bus: 'virtio' } });
        tspec(o).volumes!.push({ name: 'ci', cloudInitNoCloud: { userData: 'MARK' } });
      }
      const [a, b] = JSON.stringify(o).split('MARK') as [string, string];
      return Buffer.concat([Buffer.from(a), Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x62]), Buffer.from(b)]);
    };
    const post = (b: Buffer) =>
      raw(h.server, '/apis/kubevirt.io/v1/namespaces/default/virtualmachines', {
        method: 'POST',
        body: b,
        headers: { 'content-type': 'application/json' },
      });
    const decoded = Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x62]).toString('utf8');
    expect(decoded).toBe('a\ufffd\ufffd\ufffd(b');
    for (const field of ['label', 'name'] as const) {
      const r = await post(body(field));
      expect(r.status).toBe(422);
      expect(JSON.stringify(r.json())).toContain(field === 'label' ? 'metadata.labels' : 'metadata.name');
    }
    const a = await post(body('annotation'));
    expect(a.status).toBe(201);
    expect((a.json() as Obj).metadata.annotations?.note).toBe(decoded);
    const u = await post(body('userData'));
    expect(u.status).toBe(201);
    expect(tspec(u.json() as Obj).volumes?.[1]?.cloudInitNoCloud?.userData).toBe(decoded);
  });
});
