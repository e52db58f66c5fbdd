/**
 * Generated manifests for the fuzz tests (engine here, API server in packages/sdk/test/hostile):
 *
 * - `valid`: VirtualMachines, VMIs, migrations and replica sets that are valid by construction, built from
 *   the semantic rules (names that match between disks and volumes, one pod network, memory limits above
 *   requests, ...). Validation must accept every one of them.
 * - `mutated`: a valid object with one targeted fault — a wrong type at a field of KIND_SCHEMAS, a missing
 *   required field, a number out of range, a bad quantity, a bad name or label, an unknown field (possibly
 *   deeply nested or a huge array), a huge but valid array — and the field a rejection must name.
 * - `random`: objects drawn from KIND_SCHEMAS alone (every supported field, right type, arbitrary values),
 *   with no promise about validity: they exercise the validator where the hand-written rules do not look.
 */
import { type FieldSchema, KIND_SCHEMAS, MAX_OBJECT_DEPTH } from '@virtkit/engine';
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export const FUZZ_KINDS = [
  'VirtualMachine',
  'VirtualMachineInstance',
  'VirtualMachineInstanceMigration',
  'VirtualMachineInstanceReplicaSet',
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export const PLURALS: Record<FuzzKind, string> = {
  VirtualMachine: 'virtualmachines',
  VirtualMachineInstance: 'virtualmachineinstances',
  VirtualMachineInstanceMigration: 'virtualmachineinstancemigrations',
  VirtualMachineInstanceReplicaSet: 'virtualmachineinstancereplicasets',
};

export interface Specimen {
  kind: FuzzKind;
  family: 'valid' | 'mutated' | 'random';
  /** What was done: `valid`, `random`, or the mutation's name (`wrongType`, `badQuantity`, ...). */
  mutation: string;
  obj: JsonObject;
  /** A field some cause must name (exactly, or as the parent of the named field). */
  expectField?: string;
  /** Set when a field outside the schema was added: it must be warned about and preserved. */
  unknown?: { segments: (string | number)[]; path: string; value: Json };
}

// ---------------------------------------------------------------- paths

type Seg = string | number;

/** `spec.domain.devices.disks[0].name`, `spec.domain.resources.requests[cpu]`: the format causes use. */
export function pathText(segs: readonly Seg[], mapKeys: ReadonlySet<number> = new Set()): string {
  let out = '';
  segs.forEach((s, i) => {
    if (typeof s === 'number' || mapKeys.has(i)) out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  });
  return out;
}

export function getAt(obj: Json, segs: readonly Seg[]): Json | undefined {
  let cur: Json | undefined = obj;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, Json>)[s];
  }
  return cur;
}

/** Sets a value, creating objects on the way. */
export function setAt(obj: JsonObject, segs: readonly Seg[], value: Json): void {
  let cur: Record<string | number, Json> = obj;
  segs.slice(0, -1).forEach((s, i) => {
    const next = cur[s];
    if (next === null || typeof next !== 'object') {
      const created: Json = typeof segs[i + 1] === 'number' ? [] : {};
      cur[s] = created;
      cur = created as Record<string | number, Json>;
    } else cur = next as Record<string | number, Json>;
  });
  cur[segs.at(-1)!] = value;
}

export function deleteAt(obj: JsonObject, segs: readonly Seg[]): void {
  const parent = getAt(obj, segs.slice(0, -1));
  if (parent !== null && typeof parent === 'object' && !Array.isArray(parent)) delete parent[segs.at(-1) as string];
}

export interface TypedPath {
  segs: Seg[];
  text: string;
  schema: FieldSchema;
}

/** Every field of `obj` that KIND_SCHEMAS types (not `any`), with its schema. */
export function typedPaths(obj: Json, schema: FieldSchema): TypedPath[] {
  const out: TypedPath[] = [];
  const walk = (v: Json, s: FieldSchema, segs: Seg[], text: string): void => {
    if (s.type === 'object' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v)) {
        const fs = Object.hasOwn(s.fields, k) ? s.fields[k] : undefined;
        if (!fs || fs.type === 'any' || child === null) continue;
        const t = text === '' ? k : `${text}.${k}`;
        out.push({ segs: [...segs, k], text: t, schema: fs });
        walk(child, fs, [...segs, k], t);
      }
    } else if (s.type === 'map' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v)) {
        if (child === null) continue;
        const t = `${text}[${k}]`;
        out.push({ segs: [...segs, k], text: t, schema: s.values });
        walk(child, s.values, [...segs, k], t);
      }
    } else if (s.type === 'array' && Array.isArray(v)) {
      v.forEach((child, i) => {
        const t = `${text}[${i}]`;
        out.push({ segs: [...segs, i], text: t, schema: s.items });
        walk(child, s.items, [...segs, i], t);
      });
    }
  };
  walk(obj, schema, [], '');
  return out;
}

/** Objects inside `obj` with fixed fields (where an unknown key is unsupported), the root included. */
function objectPaths(obj: Json, schema: FieldSchema): { segs: Seg[]; text: string; schema: FieldSchema }[] {
  const root = { segs: [] as Seg[], text: '', schema };
  return [root, ...typedPaths(obj, schema).filter((p) => p.schema.type === 'object')].filter((p) => {
    const v = getAt(obj, p.segs);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
}

// ---------------------------------------------------------------- building blocks

const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
const lowerChar = fc.constantFrom(...alnum.split(''));
const lowerWord = (min: number, max: number) =>
  fc.array(lowerChar, { minLength: min, maxLength: max }).map((a) => a.join(''));

/** A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most `max` characters. */
export const dnsLabel = (max = 20): fc.Arbitrary<string> =>
  fc.oneof(
    lowerChar,
    fc
      .tuple(
        lowerChar,
        fc.array(fc.constantFrom(...`${alnum}-`.split('')), { maxLength: Math.max(0, max - 2) }),
        lowerChar,
      )
      .map(([a, mid, z]) => `${a}${mid.join('')}${z}`.slice(0, max).replace(/-+$/, '')),
  );

const dnsSubdomain = fc.array(dnsLabel(12), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));

const qualifiedNamePart = fc
  .tuple(
    fc.constantFrom(...'abcXYZ019'.split('')),
    fc.array(fc.constantFrom(...'abAB09-_.'.split('')), { maxLength: 10 }),
    fc.constantFrom(...'qrQR78'.split('')),
  )
  .map(([a, m, z]) => `${a}${m.join('')}${z}`);

/** A label or annotation key: `[prefix/]name`. */
export const qualifiedName = fc
  .tuple(fc.option(dnsSubdomain, { nil: undefined }), qualifiedNamePart)
  .map(([prefix, name]) => (prefix ? `${prefix}/${name}` : name));

const labelValue = fc.oneof(fc.constant(''), qualifiedNamePart);
const labels = fc.dictionary(qualifiedName, labelValue, { maxKeys: 4 });

/** Annotation values are free text: metacharacters of XML, shells and YAML included. */
const freeText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '<script>&amp;</script>',
    `"'\`$(reboot);|&`,
    '../../etc/passwd',
    'yes',
    'on',
    '0644',
    '1e3',
    '0o14',
    '~',
    'null',
    '- a',
    '{a: b}',
    '#comment',
    'multi\nline\n',
    '  padded  ',
    '\t',
  ),
);
const annotations = fc.dictionary(qualifiedName, freeText, { maxKeys: 4 });

const memoryQuantity = fc.oneof(
  fc.integer({ min: 1, max: 8192 }).map((n) => `${n}Mi`),
  fc.integer({ min: 1, max: 16 }).map((n) => `${n}Gi`),
  fc.integer({ min: 2, max: 4000 }).map((n) => `${n}M`),
  fc.constantFrom('1.5Gi', '0.5Gi', '1e9', '2G', 134217728),
);
const cpuQuantity = fc.oneof(
  fc.integer({ min: 1, max: 8000 }).map((n) => `${n}m`),
  fc.integer({ min: 1, max: 16 }).map(String),
  fc.constantFrom('0.5', '1.5', 2),
);
const capacity = fc.oneof(
  fc.integer({ min: 1, max: 100 }).map((n) => `${n}Gi`),
  fc.integer({ min: 1, max: 500 }).map((n) => `${n}Mi`),
);

const imageRef = fc
  .tuple(
    fc.constantFrom('quay.io', 'docker.io', 'registry.example.com:5000', 'localhost'),
    fc.array(dnsLabel(10), { minLength: 1, maxLength: 3 }),
    fc.option(
      fc.oneof(
        lowerWord(1, 8).map((t) => `:${t}`),
        fc.constant('@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'),
      ),
      { nil: undefined },
    ),
  )
  .map(([registry, path, tag]) => `${registry}/${path.join('/')}${tag ?? ''}`);

const absPath = fc
  .array(
    fc.oneof(
      dnsLabel(10),
      fc.constantFrom('<x>', 'a&b', "it's", 'a"b', '$(id)', '`id`', 'a;b', 'a|b', 'sp ace', 'ü', '..a', 'a..'),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => `/${parts.join('/')}`);

const tokenChars = 'AZaz09._-'.split('');
const token = fc.array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 20 }).map((a) => a.join(''));
const serial = fc
  .array(fc.constantFrom(...'AZaz09_.+-'.split('')), { minLength: 1, maxLength: 20 })
  .map((a) => a.join(''));
const mac = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
  .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const uuid = fc.uuid();
const portName = fc
  .tuple(fc.constantFrom(...'abcxyz'.split('')), lowerWord(0, 6), fc.option(lowerWord(1, 6), { nil: undefined }))
  .map(([a, b, c]) => (c ? `${a}${b}-${c}` : `${a}${b}`));
const base64 = fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('base64'));

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

/** Drops undefined members so the objects are plain JSON. */
function clean<T extends Record<string, unknown>>(o: T): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v as Json;
  return out;
}

// ---------------------------------------------------------------- valid objects

type VolumeKind =
  | 'containerDisk'
  | 'cloudInitNoCloud'
  | 'emptyDisk'
  | 'hostDisk'
  | 'persistentVolumeClaim'
  | 'dataVolume';

const volumeSource = (kind: VolumeKind): fc.Arbitrary<JsonObject> => {
  switch (kind) {
    case 'containerDisk':
      return fc
        .record({
          image: imageRef,
          imagePullPolicy: opt(fc.constantFrom('Always', 'IfNotPresent', 'Never')),
          path: opt(absPath),
        })
        .map(clean);
    case 'cloudInitNoCloud':
      return fc.oneof(
        fc
          .record({ userData: fc.oneof(freeText, fc.string({ maxLength: 400 })), networkData: opt(freeText) })
          .map(clean),
        fc.record({ userDataBase64: base64, networkDataBase64: opt(base64) }).map(clean),
      );
    case 'emptyDisk':
      return fc.record({ capacity }).map(clean);
    case 'hostDisk':
      return fc.oneof(
        fc.record({ path: absPath, type: fc.constant('Disk'), shared: opt(fc.boolean()) }).map(clean),
        fc.record({ path: absPath, type: fc.constant('DiskOrCreate'), capacity }).map(clean),
      );
    case 'persistentVolumeClaim':
      return fc.record({ claimName: dnsSubdomain, readOnly: opt(fc.boolean()) }).map(clean);
    case 'dataVolume':
      return fc.record({ name: dnsSubdomain }).map(clean);
  }
};

const VOLUME_KINDS: readonly VolumeKind[] = [
  'containerDisk',
  'cloudInitNoCloud',
  'emptyDisk',
  'hostDisk',
  'persistentVolumeClaim',
  'dataVolume',
];
const volumeEntry = fc.oneof(...VOLUME_KINDS.map((kind) => volumeSource(kind).map((src) => ({ kind, src }))));
const diskTarget = fc.record({ bus: opt(fc.constantFrom('virtio', 'sata', 'scsi')), readonly: opt(fc.boolean()) });
const cdromTarget = fc.record({
  bus: opt(fc.constantFrom('sata', 'scsi')),
  readonly: opt(fc.boolean()),
  tray: opt(fc.constantFrom('open', 'closed')),
});
const lunTarget = fc.record({ bus: opt(fc.constantFrom('scsi', 'sata')) });

/** Volumes and their disks (one each, same names), boot orders unique. Built without `chain`: it is cheaper. */
const storage = fc
  .tuple(
    fc.uniqueArray(
      fc.record({
        name: dnsLabel(15),
        volume: volumeEntry,
        target: fc.constantFrom('none', 'disk', 'cdrom', 'lun'),
        disk: diskTarget,
        cdrom: cdromTarget,
        lun: lunTarget,
        boot: fc.boolean(),
        serial: opt(serial),
        cache: opt(fc.constantFrom('none', 'writethrough', 'writeback')),
      }),
      { maxLength: 4, selector: (e) => e.name },
    ),
    fc.nat(23),
  )
  .map(([entries, rotation]) => {
    const volumes: JsonObject[] = [];
    const disks: JsonObject[] = [];
    entries.forEach((e, i) => {
      volumes.push({ name: e.name, [e.volume.kind]: e.volume.src });
      const lunOk = e.volume.kind === 'persistentVolumeClaim' || e.volume.kind === 'dataVolume';
      const target = e.target === 'lun' && !lunOk ? 'disk' : e.target;
      disks.push(
        clean({
          name: e.name,
          ...(target === 'none' ? {} : { [target]: clean(e[target]) }),
          bootOrder: e.boot ? ((i + rotation) % entries.length) + 1 : undefined,
          serial: e.serial,
          cache: e.cache,
        }),
      );
    });
    return { volumes, disks };
  });

const interfaceExtras = fc.record({
  binding: fc.constantFrom('masquerade', 'bridge', 'sriov', 'none'),
  model: opt(fc.constantFrom('virtio', 'e1000', 'e1000e', 'rtl8139')),
  macAddress: opt(mac),
  ports: opt(
    fc.array(
      fc
        .record({
          name: opt(portName),
          port: fc.integer({ min: 1, max: 65535 }),
          protocol: opt(fc.constantFrom('TCP', 'UDP')),
        })
        .map(clean),
      { maxLength: 3 },
    ),
  ),
});

/** Networks and their interfaces: at most one pod network; masquerade only there, sriov only elsewhere. */
const networking = fc
  .tuple(
    fc.uniqueArray(fc.record({ name: dnsLabel(12), extras: interfaceExtras }), {
      maxLength: 3,
      selector: (e) => e.name,
    }),
    fc.integer({ min: -1, max: 2 }),
  )
  .map(([entries, podIndex]) => {
    const networks: JsonObject[] = [];
    const interfaces: JsonObject[] = [];
    entries.forEach(({ name, extras }, i) => {
      const pod = i === podIndex;
      networks.push(pod ? { name, pod: {} } : { name, multus: { networkName: `ns/${name}` } });
      let b = extras.binding;
      if (pod && b === 'sriov') b = 'bridge';
      if (!pod && b === 'masquerade') b = 'bridge';
      interfaces.push(
        clean({
          name,
          ...(b === 'none' ? {} : { [b]: {} }),
          model: extras.model,
          macAddress: extras.macAddress,
          ports: extras.ports,
        }),
      );
    });
    return { networks, interfaces };
  });

const toleration = fc.oneof(
  fc
    .record({
      key: qualifiedName,
      operator: fc.constant('Exists'),
      effect: opt(fc.constantFrom('NoSchedule', 'PreferNoSchedule', '')),
    })
    .map(clean),
  fc
    .record({
      key: qualifiedName,
      operator: opt(fc.constant('Equal')),
      value: labelValue,
      effect: opt(fc.constantFrom('NoSchedule', 'PreferNoSchedule')),
    })
    .map(clean),
  fc
    .record({
      key: qualifiedName,
      operator: fc.constant('Exists'),
      effect: fc.constant('NoExecute'),
      tolerationSeconds: fc.integer({ min: 0, max: 3600 }),
    })
    .map(clean),
  fc.constant({ operator: 'Exists' }),
);

const nodeRequirement = fc.oneof(
  fc.record({
    key: qualifiedName,
    operator: fc.constantFrom('In', 'NotIn'),
    values: fc.array(labelValue, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ key: qualifiedName, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  fc.record({
    key: qualifiedName,
    operator: fc.constantFrom('Gt', 'Lt'),
    values: fc.integer({ min: -100, max: 100 }).map((n) => [String(n)]),
  }),
);
const nodeSelectorTerm = fc.record({ matchExpressions: fc.array(nodeRequirement, { maxLength: 2 }) });
const affinity = fc
  .record(
    {
      required: fc.array(nodeSelectorTerm, { minLength: 1, maxLength: 2 }),
      preferred: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 100 }), preference: nodeSelectorTerm }), {
        maxLength: 2,
      }),
    },
    { requiredKeys: [] },
  )
  .map((a) => {
    const nodeAffinity: JsonObject = {};
    if (a.required)
      nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: a.required as Json };
    if (a.preferred) nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = a.preferred as Json;
    return { nodeAffinity };
  });

const memoryAndResources = fc
  .record({
    mib: fc.integer({ min: 1, max: 8192 }),
    guestForm: fc.constantFrom('guest', 'request', 'limit', 'guest+request', 'all'),
    headroom: fc.integer({ min: 0, max: 1024 }),
    cpuReq: opt(fc.integer({ min: 1, max: 4000 })),
    cpuExtra: opt(fc.integer({ min: 0, max: 4000 })),
    other: opt(
      fc.dictionary(fc.constantFrom('nvidia.com/gpu', 'hugepages-2Mi', 'example.com/fpga'), capacity, { maxKeys: 2 }),
    ),
    overcommit: opt(fc.boolean()),
    quantity: memoryQuantity,
  })
  .map((m) => {
    const q = `${m.mib}Mi`;
    const requests: JsonObject = {};
    const limits: JsonObject = {};
    const memory: JsonObject = {};
    switch (m.guestForm) {
      case 'guest':
        memory.guest = m.quantity;
        break;
      case 'request':
        requests.memory = q;
        break;
      case 'limit':
        limits.memory = q;
        break;
      case 'guest+request':
        memory.guest = q;
        requests.memory = q;
        break;
      case 'all':
        memory.guest = q;
        requests.memory = q;
        limits.memory = `${m.mib + m.headroom}Mi`;
        break;
    }
    if (m.cpuReq !== undefined) {
      requests.cpu = `${m.cpuReq}m`;
      if (m.cpuExtra !== undefined) limits.cpu = `${m.cpuReq + m.cpuExtra}m`;
    }
    if (m.other) Object.assign(requests, m.other);
    const resources: JsonObject = {};
    if (Object.keys(requests).length) resources.requests = requests;
    if (Object.keys(limits).length) resources.limits = limits;
    if (m.overcommit !== undefined) resources.overcommitGuestOverhead = m.overcommit;
    return {
      memory: Object.keys(memory).length ? memory : undefined,
      resources: Object.keys(resources).length ? resources : undefined,
    };
  });

const firmware = fc
  .record(
    {
      uuid,
      serial: token.filter((s) => /^[A-Za-z0-9_.+-]+$/.test(s)),
      bootloader: fc.oneof(
        fc.record({ bios: fc.record({ useSerial: opt(fc.boolean()) }).map(clean) }),
        fc.record({ efi: fc.record({ secureBoot: opt(fc.boolean()) }).map(clean) }),
      ),
      kernelBoot: fc
        .record({ kernelArgs: opt(freeText), image: imageRef, kernelPath: absPath, initrdPath: opt(absPath) })
        .map(({ kernelArgs, image, kernelPath, initrdPath }) =>
          clean({ kernelArgs, container: clean({ image, kernelPath, initrdPath }) }),
        ),
    },
    { requiredKeys: [] },
  )
  .map((f) => clean(f as Record<string, unknown>));

/** A valid VMI spec. `podNetwork`: whether an empty network section is allowed to get the default. */
export const validVMISpec: fc.Arbitrary<JsonObject> = fc
  .record({
    storage,
    networking,
    mem: memoryAndResources,
    cpu: opt(
      fc
        .record(
          {
            cores: fc.integer({ min: 1, max: 8 }),
            sockets: fc.integer({ min: 1, max: 4 }),
            threads: fc.integer({ min: 1, max: 2 }),
            model: fc.constantFrom('host-model', 'host-passthrough', 'Haswell-noTSX', 'qemu64'),
          },
          { requiredKeys: [] },
        )
        .map((c) => clean(c as Record<string, unknown>)),
    ),
    firmware: opt(firmware),
    machine: opt(fc.constantFrom('q35', 'pc', 'pc-q35-rhel9.2.0').map((type) => ({ type }))),
    features: opt(
      fc
        .record(
          {
            acpi: fc.record({ enabled: fc.boolean() }),
            apic: fc.record({ enabled: fc.boolean() }),
            smm: fc.record({ enabled: fc.boolean() }),
          },
          { requiredKeys: [] },
        )
        .map((f) => clean(f as Record<string, unknown>)),
    ),
    clock: opt(
      fc.oneof(
        fc.record({ utc: fc.record({ offsetSeconds: fc.integer({ min: -86400, max: 86400 }) }) }),
        fc.record({ timezone: fc.constantFrom('Europe/Paris', 'UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+3') }),
      ),
    ),
    autoattach: fc.record(
      {
        autoattachSerialConsole: fc.boolean(),
        autoattachGraphicsDevice: fc.boolean(),
        autoattachPodInterface: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    rng: opt(fc.constant({})),
    nodeSelector: opt(fc.dictionary(qualifiedName, labelValue, { maxKeys: 3 })),
    tolerations: opt(fc.array(toleration, { maxLength: 3 })),
    affinity: opt(affinity),
    evictionStrategy: opt(fc.constantFrom('None', 'LiveMigrate', 'LiveMigrateIfPossible', 'External')),
    terminationGracePeriodSeconds: opt(fc.integer({ min: 0, max: 3600 })),
    hostname: opt(dnsLabel(30)),
    subdomain: opt(dnsSubdomain),
  })
  .map((s) => {
    const devices = clean({
      disks: s.storage.disks.length ? s.storage.disks : undefined,
      interfaces: s.networking.interfaces.length ? s.networking.interfaces : undefined,
      rng: s.rng,
      ...s.autoattach,
    });
    const domain = clean({
      cpu: s.cpu,
      memory: s.mem.memory,
      resources: s.mem.resources,
      devices,
      firmware: s.firmware,
      machine: s.machine,
      features: s.features,
      clock: s.clock,
    });
    return clean({
      domain,
      volumes: s.storage.volumes.length ? s.storage.volumes : undefined,
      networks: s.networking.networks.length ? s.networking.networks : undefined,
      nodeSelector: s.nodeSelector,
      tolerations: s.tolerations,
      affinity: s.affinity,
      evictionStrategy: s.evictionStrategy,
      terminationGracePeriodSeconds: s.terminationGracePeriodSeconds,
      hostname: s.hostname,
      subdomain: s.subdomain,
    });
  });

const metadata = fc
  .record({ name: dnsSubdomain, namespace: opt(dnsLabel(20)), labels: opt(labels), annotations: opt(annotations) })
  .map(clean);

const apiVersion = fc.constantFrom('kubevirt.io/v1', 'kubevirt.io/v1', 'kubevirt.io/v1', 'kubevirt.io/v1alpha3');

export const validObject = (kind: FuzzKind): fc.Arbitrary<JsonObject> => {
  switch (kind) {
    case 'VirtualMachineInstance':
      return fc.record({ apiVersion, metadata, spec: validVMISpec }).map((o) => ({ kind, ...o }));
    case 'VirtualMachine':
      return fc
        .record({
          apiVersion,
          metadata,
          run: fc.oneof(
            fc
              .constantFrom('Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once')
              .map((runStrategy) => ({ runStrategy })),
            fc.boolean().map((running) => ({ running })),
            fc.constant({}),
          ),
          template: fc
            .record({
              metadata: opt(fc.record({ labels: opt(labels), annotations: opt(annotations) }).map(clean)),
              spec: validVMISpec,
            })
            .map(clean),
        })
        .map(({ apiVersion: av, metadata: m, run, template }) => ({
          apiVersion: av,
          kind,
          metadata: m,
          spec: { ...run, template },
        }));
    case 'VirtualMachineInstanceMigration':
      return fc
        .record({
          apiVersion,
          metadata,
          vmiName: dnsSubdomain,
          addedNodeSelector: opt(fc.dictionary(qualifiedName, labelValue, { maxKeys: 3 })),
        })
        .map(({ apiVersion: av, metadata: m, vmiName, addedNodeSelector }) => ({
          apiVersion: av,
          kind,
          metadata: m,
          spec: clean({ vmiName, addedNodeSelector }),
        }));
    case 'VirtualMachineInstanceReplicaSet':
      return fc
        .record({
          apiVersion,
          metadata,
          replicas: opt(fc.integer({ min: 0, max: 50 })),
          podLabels: fc.dictionary(qualifiedName, labelValue, { minKeys: 1, maxKeys: 4 }),
          useExpressions: fc.boolean(),
          paused: opt(fc.boolean()),
          spec: validVMISpec,
          annotations: opt(annotations),
        })
        .map((r) => {
          const [key, value] = Object.entries(r.podLabels)[0]!;
          const selector: JsonObject = r.useExpressions
            ? {
                matchExpressions: [
                  { key, operator: 'In', values: [value] },
                  { key: 'absent.example/key', operator: 'DoesNotExist' },
                ],
              }
            : { matchLabels: { [key]: value } };
          return {
            apiVersion: r.apiVersion,
            kind,
            metadata: r.metadata,
            spec: clean({
              replicas: r.replicas,
              selector,
              paused: r.paused,
              template: { metadata: clean({ labels: r.podLabels, annotations: r.annotations }), spec: r.spec },
            }),
          };
        });
  }
};

// ---------------------------------------------------------------- schema-random objects

/** Any value of the type `schema` describes; values are arbitrary within the type (`depth` bounds nesting). */
export function fromSchema(schema: FieldSchema, depth = 0): fc.Arbitrary<Json> {
  switch (schema.type) {
    case 'string':
      return schema.enum ? fc.constantFrom(...schema.enum) : fc.oneof(fc.string({ maxLength: 12 }), dnsLabel(12));
    case 'integer':
      return fc.oneof(fc.integer({ min: -5, max: 100 }), fc.maxSafeInteger());
    case 'boolean':
      return fc.boolean();
    case 'quantity':
      return fc.oneof(memoryQuantity, cpuQuantity, fc.constantFrom('0', '-1', '1Ki', '500m'));
    case 'any':
      return fc.oneof(
        fc.dictionary(qualifiedName, labelValue, { maxKeys: 2 }),
        fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>,
      );
    case 'map':
      return depth > 6
        ? fc.constant({})
        : fc.dictionary(fc.constantFrom('cpu', 'memory', 'x'), fromSchema(schema.values, depth + 1), { maxKeys: 2 });
    case 'array':
      return depth > 6 ? fc.constant([]) : fc.array(fromSchema(schema.items, depth + 1), { maxLength: 2 });
    case 'object': {
      if (depth > 6) return fc.constant({});
      const fields: Record<string, fc.Arbitrary<Json>> = {};
      for (const [k, s] of Object.entries(schema.fields)) fields[k] = fromSchema(s, depth + 1);
      return fc.record(fields, { requiredKeys: [] }).map((o) => o as JsonObject);
    }
  }
}

const randomObject = (kind: FuzzKind): fc.Arbitrary<JsonObject> =>
  fc
    .record({
      spec: fromSchema((KIND_SCHEMAS[kind] as Extract<FieldSchema, { type: 'object' }>).fields.spec!),
      meta: metadata,
      apiVersion,
    })
    .map(({ spec, meta, apiVersion: av }) => ({ apiVersion: av, kind, metadata: meta, spec }));

// ---------------------------------------------------------------- mutations

/** A value of another type than `schema` wants (or, for enums, a value outside the enum). */
function wrongValue(schema: FieldSchema): fc.Arbitrary<Json> {
  const str = fc.constantFrom('x', '', 'true', '12');
  const num = fc.constantFrom(0, -1, 7, 1.5);
  const bool = fc.boolean();
  const arr = fc.constantFrom<Json>([], [1], ['a']);
  const obj = fc.constantFrom<Json>({}, { a: 1 });
  switch (schema.type) {
    case 'string':
      return schema.enum
        ? fc.oneof(num, bool, arr, obj, fc.constantFrom('NotAnOption', 'always', ' '))
        : fc.oneof(num, bool, arr, obj);
    case 'integer':
      return fc.oneof(str, bool, arr, obj, fc.constantFrom(1.5, -0.25, 2 ** 53, 1e300));
    case 'boolean':
      return fc.oneof(str, num, arr, obj);
    case 'quantity':
      return fc.oneof(bool, arr, obj, fc.constantFrom('1.2.3Gi', 'Gi', '12XB', '', '1 Gi', 'NaN'));
    case 'object':
    case 'map':
      return fc.oneof(str, num, bool, arr);
    case 'array':
      return fc.oneof(str, num, bool, obj);
    case 'any':
      return fc.constant(null);
  }
}

/** Spec of the VMI inside an object of `kind` (where VMI rules apply), or undefined for migrations. */
function vmiSpecPath(kind: FuzzKind): string[] | undefined {
  if (kind === 'VirtualMachineInstance') return ['spec'];
  if (kind === 'VirtualMachineInstanceMigration') return undefined;
  return ['spec', 'template', 'spec'];
}

const BAD_DNS_NAMES = [
  'UpperCase',
  'under_score',
  '-leading',
  'trailing-',
  'a..b',
  '.dot',
  'a b',
  'a/b',
  '../../etc',
  '<x>',
  '$(reboot)',
  '`id`',
  'semi;colon',
  'pipe|x',
  'ünïcode',
  'nul\u0000byte',
  'new\nline',
  'x'.repeat(254),
];
const BAD_LABEL_NAMES = [...BAD_DNS_NAMES.filter((n) => n !== 'x'.repeat(254)), 'x'.repeat(64), 'dot.ted'];
/** Not qualified names (label and annotation keys), whatever their case. */
const BAD_KEYS = [
  '',
  '-lead',
  'trail-',
  'a b',
  'a/b/c',
  '/x',
  'x/',
  '<x>',
  '$(reboot)',
  '`id`',
  'semi;colon',
  'ünï',
  'nul\u0000',
  'new\nline',
  'x'.repeat(64),
  `${'d'.repeat(254)}/x`,
];
/** Not label values. */
const BAD_LABEL_VALUES = [
  '-lead',
  'trail-',
  '.dot',
  'a b',
  'a/b',
  '<x>',
  '$(reboot)',
  '`id`',
  'ünï',
  'nul\u0000',
  'new\nline',
  'x'.repeat(64),
];
const BAD_QUANTITIES = ['1.2.3Gi', 'Gi', '12XB', '1 Gi', 'NaN', 'ten', '0x10', '--1', '1e', '∞', '+', '.'];

type Mutator = (obj: JsonObject, kind: FuzzKind) => fc.Arbitrary<Omit<Specimen, 'kind' | 'family'>> | undefined;

const clone = (o: JsonObject): JsonObject => structuredClone(o);

const MUTATORS: Record<string, Mutator> = {
  wrongType(obj, kind) {
    const paths = typedPaths(obj, KIND_SCHEMAS[kind]);
    if (paths.length === 0) return undefined;
    return fc.constantFrom(...paths).chain((p) =>
      wrongValue(p.schema).map((v) => {
        const o = clone(obj);
        setAt(o, p.segs, v);
        return { mutation: 'wrongType', obj: o, expectField: p.text };
      }),
    );
  },

  removeRequired(obj, kind) {
    const vp = vmiSpecPath(kind);
    const choices: { segs: Seg[][]; field: string }[] = [
      { segs: [['apiVersion']], field: 'apiVersion' },
      { segs: [['kind']], field: 'kind' },
      { segs: [['metadata', 'name']], field: 'metadata.name' },
    ];
    if (kind !== 'VirtualMachineInstance') choices.push({ segs: [['spec']], field: 'spec' });
    if (kind === 'VirtualMachine' || kind === 'VirtualMachineInstanceReplicaSet') {
      choices.push({ segs: [['spec', 'template']], field: 'spec.template' });
      choices.push({ segs: [['spec', 'template', 'spec']], field: 'spec.template.spec' });
    }
    if (kind === 'VirtualMachineInstanceReplicaSet')
      choices.push({ segs: [['spec', 'selector']], field: 'spec.selector' });
    if (kind === 'VirtualMachineInstanceMigration')
      choices.push({ segs: [['spec', 'vmiName']], field: 'spec.vmiName' });
    if (vp) {
      choices.push({ segs: [[...vp, 'domain']], field: `${vp.join('.')}.domain` });
      const d = [...vp, 'domain'];
      choices.push({
        segs: [
          [...d, 'memory', 'guest'],
          [...d, 'resources', 'requests', 'memory'],
          [...d, 'resources', 'limits', 'memory'],
        ],
        field: `${vp.join('.')}.domain.memory.guest`,
      });
      const volumes = getAt(obj, [...vp, 'volumes']);
      if (Array.isArray(volumes)) {
        volumes.forEach((v, i) => {
          const vol = v as JsonObject;
          if (vol.containerDisk)
            choices.push({
              segs: [[...vp, 'volumes', i, 'containerDisk', 'image']],
              field: `${pathText([...vp, 'volumes', i])}.containerDisk.image`,
            });
          choices.push({
            segs: [[...vp, 'volumes', i, Object.keys(vol).find((k) => k !== 'name')!]],
            field: pathText([...vp, 'volumes', i]),
          });
        });
      }
    }
    return fc.constantFrom(...choices).map((c) => {
      const o = clone(obj);
      for (const s of c.segs) deleteAt(o, s);
      if (c.field === 'metadata.name') deleteAt(o, ['metadata', 'generateName']);
      return { mutation: 'removeRequired', obj: o, expectField: c.field };
    });
  },

  outOfRange(obj, kind) {
    const vp = vmiSpecPath(kind);
    const choices: { segs: Seg[]; values: Json[] }[] = [];
    if (kind === 'VirtualMachineInstanceReplicaSet') choices.push({ segs: ['spec', 'replicas'], values: [-1, -1000] });
    if (vp) {
      for (const k of ['cores', 'sockets', 'threads'])
        choices.push({ segs: [...vp, 'domain', 'cpu', k], values: [0, -1, -(2 ** 31), 1.5, 2 ** 53] });
      choices.push({ segs: [...vp, 'terminationGracePeriodSeconds'], values: [-1, -3600] });
      choices.push({ segs: [...vp, 'domain', 'memory', 'guest'], values: ['100Ki', '0', '-1Gi', '999k', 1000] });
      choices.push({
        segs: [...vp, 'affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', 0, 'weight'],
        values: [0, 101, -5],
      });
      const disks = getAt(obj, [...vp, 'domain', 'devices', 'disks']);
      if (Array.isArray(disks) && disks.length > 0)
        choices.push({ segs: [...vp, 'domain', 'devices', 'disks', 0, 'bootOrder'], values: [0, -1] });
      const itfs = getAt(obj, [...vp, 'domain', 'devices', 'interfaces']);
      if (Array.isArray(itfs) && itfs.length > 0)
        choices.push({
          segs: [...vp, 'domain', 'devices', 'interfaces', 0, 'ports'],
          values: [[{ port: 0 }], [{ port: 65536 }], [{ port: -80 }]],
        });
    }
    if (choices.length === 0) return undefined;
    return fc
      .constantFrom(...choices)
      .chain((c) => fc.constantFrom(...c.values).map((v) => ({ c, v })))
      .map(({ c, v }) => {
        const o = clone(obj);
        setAt(o, c.segs, v);
        let segs = c.segs;
        if (segs.includes('preferredDuringSchedulingIgnoredDuringExecution'))
          setAt(o, [...segs.slice(0, -1), 'preference'], { matchExpressions: [] });
        if (segs.at(-1) === 'ports') segs = [...segs, 0, 'port'];
        return { mutation: 'outOfRange', obj: o, expectField: pathText(segs) };
      });
  },

  badQuantity(obj, kind) {
    const vp = vmiSpecPath(kind);
    if (!vp) return undefined;
    const d = [...vp, 'domain'];
    const choices: { segs: Seg[]; mapKey?: number }[] = [
      { segs: [...d, 'memory', 'guest'] },
      { segs: [...d, 'resources', 'requests', 'cpu'], mapKey: d.length + 2 },
      { segs: [...d, 'resources', 'limits', 'memory'], mapKey: d.length + 2 },
    ];
    const volumes = getAt(obj, [...vp, 'volumes']);
    if (Array.isArray(volumes))
      volumes.forEach((v, i) => {
        if ((v as JsonObject).emptyDisk) choices.push({ segs: [...vp, 'volumes', i, 'emptyDisk', 'capacity'] });
      });
    return fc
      .record({
        c: fc.constantFrom(...choices),
        q: fc.oneof(
          fc.constantFrom(...BAD_QUANTITIES),
          lowerWord(1, 6).map((w) => `q${w}`),
        ),
      })
      .map(({ c, q }) => {
        const o = clone(obj);
        setAt(o, c.segs, q);
        return {
          mutation: 'badQuantity',
          obj: o,
          expectField: pathText(c.segs, new Set(c.mapKey === undefined ? [] : [c.mapKey])),
        };
      });
  },

  badName(obj, kind) {
    const vp = vmiSpecPath(kind);
    const choices: fc.Arbitrary<{ apply: (o: JsonObject) => void; field: string }>[] = [
      fc
        .constantFrom(...BAD_DNS_NAMES)
        .map((n) => ({ apply: (o: JsonObject) => setAt(o, ['metadata', 'name'], n), field: 'metadata.name' })),
      fc.constantFrom(...BAD_LABEL_NAMES).map((n) => ({
        apply: (o: JsonObject) => setAt(o, ['metadata', 'namespace'], n),
        field: 'metadata.namespace',
      })),
    ];
    if (kind === 'VirtualMachineInstanceMigration')
      choices.push(
        fc
          .constantFrom(...BAD_DNS_NAMES)
          .map((n) => ({ apply: (o: JsonObject) => setAt(o, ['spec', 'vmiName'], n), field: 'spec.vmiName' })),
      );
    if (vp) {
      choices.push(
        fc.constantFrom(...BAD_LABEL_NAMES).map((n) => ({
          apply: (o: JsonObject) => setAt(o, [...vp, 'hostname'], n),
          field: `${vp.join('.')}.hostname`,
        })),
      );
      const disks = getAt(obj, [...vp, 'domain', 'devices', 'disks']);
      if (Array.isArray(disks) && disks.length > 0)
        choices.push(
          fc.constantFrom(...BAD_LABEL_NAMES).map((n) => ({
            apply: (o: JsonObject) => {
              const old = (getAt(o, [...vp, 'domain', 'devices', 'disks', 0, 'name']) as string) ?? '';
              setAt(o, [...vp, 'domain', 'devices', 'disks', 0, 'name'], n);
              const vols = getAt(o, [...vp, 'volumes']);
              if (Array.isArray(vols))
                for (const v of vols) if ((v as JsonObject).name === old) (v as JsonObject).name = n;
            },
            field: pathText([...vp, 'domain', 'devices', 'disks', 0, 'name']),
          })),
        );
    }
    return fc.oneof(...choices).map(({ apply, field }) => {
      const o = clone(obj);
      apply(o);
      return { mutation: 'badName', obj: o, expectField: field };
    });
  },

  badLabels(obj) {
    return fc
      .oneof(
        fc
          .constantFrom(...BAD_KEYS)
          .map((k) => ({ at: 'labels', value: { [k]: 'v' } as Json, field: 'metadata.labels' })),
        fc
          .constantFrom(...BAD_LABEL_VALUES)
          .map((v) => ({ at: 'labels', value: { app: v } as Json, field: 'metadata.labels[app]' })),
        fc
          .constantFrom<Json>('app=web', ['app'], 5, { app: 5 }, { app: true })
          .map((value) => ({ at: 'labels', value, field: 'metadata.labels' })),
        fc
          .constantFrom(...BAD_KEYS)
          .map((k) => ({ at: 'annotations', value: { [k]: 'v' } as Json, field: 'metadata.annotations' })),
        fc
          .constantFrom<Json>(5, { note: 5 }, { note: { nested: 'x' } }, ['a'])
          .map((value) => ({ at: 'annotations', value, field: 'metadata.annotations' })),
        fc
          .integer({ min: 256 * 1024, max: 300 * 1024 })
          .map((n) => ({ at: 'annotations', value: { big: 'a'.repeat(n) } as Json, field: 'metadata.annotations' })),
      )
      .map(({ at, value, field }) => {
        const o = clone(obj);
        setAt(o, ['metadata', at], value);
        return { mutation: 'badLabels', obj: o, expectField: field };
      });
  },

  unknownField(obj, kind) {
    const places = objectPaths(obj, KIND_SCHEMAS[kind]);
    const key = lowerWord(2, 8).map((w) => `x${w[0]!.toUpperCase()}${w.slice(1)}`);
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }).filter((v) => v !== null) as fc.Arbitrary<Json> },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }).map((d) => nest(d)) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
      },
    );
    return fc.record({ place: fc.constantFrom(...places), key, value }).map(({ place, key: k, value: v }) => {
      const o = clone(obj);
      const segs = [...place.segs, k];
      setAt(o, segs, v);
      const path = place.text === '' ? k : `${place.text}.${k}`;
      return { mutation: 'unknownField', obj: o, unknown: { segments: segs, path, value: v } };
    });
  },

  tooDeep(obj) {
    // Far past the bound and past where structuredClone overflows (~1,600), short of where JSON.stringify does.
    return fc.integer({ min: MAX_OBJECT_DEPTH - 1, max: 4_000 }).map((d) => {
      const o = clone(obj);
      setAt(o, ['spec', 'xDeep'], nest(d));
      return { mutation: 'tooDeep', obj: o, expectField: 'spec.xDeep' };
    });
  },

  hugeArray(obj, kind) {
    const vp = vmiSpecPath(kind);
    if (!vp) return undefined;
    return fc
      .record({ n: fc.integer({ min: 500, max: 3000 }), what: fc.constantFrom('disks', 'tolerations', 'nodeSelector') })
      .map(({ n, what }) => {
        const o = clone(obj);
        if (what === 'disks') {
          const names = Array.from({ length: n }, (_, i) => `d${i}`);
          setAt(
            o,
            [...vp, 'domain', 'devices', 'disks'],
            names.map((name) => ({ name, disk: { bus: 'virtio' } })),
          );
          setAt(
            o,
            [...vp, 'volumes'],
            names.map((name) => ({ name, emptyDisk: { capacity: '1Gi' } })),
          );
        } else if (what === 'tolerations') {
          setAt(
            o,
            [...vp, 'tolerations'],
            Array.from({ length: n }, (_, i) => ({ key: `k${i}`, operator: 'Exists' })),
          );
        } else {
          setAt(
            o,
            [...vp, 'nodeSelector'],
            Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`])),
          );
        }
        return { mutation: `hugeArray:${what}`, obj: o };
      });
  },
};

/** `{a: {a: ... 1}}`, `depth` objects deep, built without recursion. */
export function nest(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

const MUTATION_WEIGHTS: Record<keyof typeof MUTATORS, number> = {
  wrongType: 8,
  removeRequired: 4,
  outOfRange: 4,
  badQuantity: 3,
  badName: 4,
  badLabels: 3,
  unknownField: 6,
  tooDeep: 1,
  hugeArray: 1,
};

const mutationName = fc.oneof(
  ...Object.entries(MUTATION_WEIGHTS).map(([name, weight]) => ({ weight, arbitrary: fc.constant(name) })),
);

/** Arbitraries are built once per kind: building them is most of the cost of drawing a value. */
function perKind(kind: FuzzKind): fc.Arbitrary<Specimen> {
  const valid = validObject(kind);
  const mutated = valid.chain((obj) =>
    mutationName.chain((name) =>
      (MUTATORS[name]!(obj, kind) ?? MUTATORS.wrongType!(obj, kind)!).map((m) => ({
        ...m,
        kind,
        family: 'mutated' as const,
      })),
    ),
  );
  return fc.oneof(
    { weight: 6, arbitrary: valid.map((obj): Specimen => ({ kind, family: 'valid', mutation: 'valid', obj })) },
    { weight: 11, arbitrary: mutated },
    {
      weight: 3,
      arbitrary: randomObject(kind).map((obj): Specimen => ({ kind, family: 'random', mutation: 'random', obj })),
    },
  );
}

const PER_KIND = FUZZ_KINDS.map(perKind);

/** Every specimen family over every kind: roughly 30% valid, 55% mutated, 15% schema-random. */
export const specimen: fc.Arbitrary<Specimen> = fc.oneof(...PER_KIND);

/** The specimens, generated deterministically (fixed seed): the same list in every test that asks. */
export function specimens(count: number, seed: number): Specimen[] {
  return fc.sample(specimen, { numRuns: count, seed });
}

/** Kubernetes cause types validation may report. */
export const CAUSE_REASONS = new Set([
  'FieldValueInvalid',
  'FieldValueRequired',
  'FieldValueNotSupported',
  'FieldValueDuplicate',
  'FieldValueForbidden',
  'FieldValueTooLong',
  'FieldValueTypeInvalid',
]);

/** Whether `field` is `expected` or lies under it. */
export function names(field: string, expected: string): boolean {
  return field === expected || field.startsWith(`${expected}.`) || field.startsWith(`${expected}[`);
}
