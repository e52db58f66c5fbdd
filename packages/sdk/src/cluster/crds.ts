/**
 * CustomResourceDefinitions (apiextensions.k8s.io/v1) for the kinds virtkit keeps on a cluster, generated
 * from the engine's supported-field table (KIND_SCHEMAS) so the cluster validates exactly what virtkit
 * understands. The schemas are structural: every field has a type, except where a value of any shape is
 * kept (`x-kubernetes-preserve-unknown-fields`). Every object keeps unknown fields, because virtkit keeps
 * KubeVirt fields it does not implement (it warns about them) instead of dropping them — the apiserver
 * would otherwise prune them.
 *
 * `scripts/gen-crds.ts` writes these to deploy/crds/; a test checks the committed files are current.
 */
import { type FieldSchema, KIND_SCHEMAS, KINDS, type Kind } from '@virtkit/engine';
import { stringify } from 'yaml';

/** JSON schema (OpenAPI v3 subset) as apiextensions.k8s.io/v1 accepts it. */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean' | 'number';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  enum?: string[];
  pattern?: string;
  anyOf?: JSONSchemaProps[];
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-int-or-string'?: true;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: true;
      storage: true;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: {
        name: string;
        type: string;
        jsonPath: string;
        priority?: number;
        description?: string;
      }[];
      selectableFields?: { jsonPath: string }[];
    }[];
  };
}

/**
 * A Kubernetes quantity: an integer, or a string such as `128Mi`, `1.5`, `500m`, `1e3`. The same grammar
 * as resource.Quantity (sign, decimal number, then a binary-SI, decimal-SI or exponent suffix).
 */
export const QUANTITY_PATTERN = '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$';

const KEEP = { 'x-kubernetes-preserve-unknown-fields': true } as const;

/** The OpenAPI schema for one entry of the supported-field table. */
export function openApiSchema(schema: FieldSchema): JSONSchemaProps {
  switch (schema.type) {
    case 'string':
      return schema.enum ? { type: 'string', enum: [...schema.enum] } : { type: 'string' };
    case 'integer':
      return { type: 'integer' };
    case 'boolean':
      return { type: 'boolean' };
    case 'quantity':
      return {
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: QUANTITY_PATTERN,
      };
    case 'any':
      return { ...KEEP };
    case 'array':
      return { type: 'array', items: openApiSchema(schema.items) };
    case 'map':
      return { type: 'object', additionalProperties: openApiSchema(schema.values) };
    case 'object': {
      const properties: Record<string, JSONSchemaProps> = {};
      for (const [k, v] of Object.entries(schema.fields)) properties[k] = openApiSchema(v);
      return Object.keys(properties).length ? { type: 'object', properties, ...KEEP } : { type: 'object', ...KEEP };
    }
  }
}

interface CrdSpec {
  /** The engine's kind whose schema and names are used. */
  kind: Kind;
  /** Served as another group/kind (HypervisorNode for the engine's Node). */
  served?: { group: string; kind: string; plural: string; singular: string; shortNames: string[] };
  printerColumns: CustomResourceDefinition['spec']['versions'][number]['additionalPrinterColumns'];
  /** Status fields typed in the schema (status is otherwise kept as is): needed by selectable fields. */
  statusFields?: Record<string, FieldSchema>;
  /** Fields usable in field selectors (Kubernetes ≥ 1.31), matching the store port's supported fields. */
  selectableFields?: string[];
}

const READY = (what: string) => ({
  name: 'Ready',
  type: 'string',
  jsonPath: ".status.conditions[?(@.type=='Ready')].status",
  description: `Whether the ${what} is ready`,
});
const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const str: FieldSchema = { type: 'string' };

const SPECS: CrdSpec[] = [
  {
    kind: 'VirtualMachine',
    printerColumns: [AGE, { name: 'Status', type: 'string', jsonPath: '.status.printableStatus' }, READY('VM')],
  },
  {
    kind: 'VirtualMachineInstance',
    printerColumns: [
      AGE,
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
      { name: 'NodeName', type: 'string', jsonPath: '.status.nodeName' },
      READY('VMI'),
    ],
    statusFields: { phase: str, nodeName: str },
    selectableFields: ['.status.phase', '.status.nodeName'],
  },
  {
    kind: 'VirtualMachineInstanceMigration',
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'VMI', type: 'string', jsonPath: '.spec.vmiName' },
      AGE,
    ],
    statusFields: { phase: str },
    selectableFields: ['.spec.vmiName', '.status.phase'],
  },
  {
    kind: 'VirtualMachineInstanceReplicaSet',
    printerColumns: [
      { name: 'Desired', type: 'integer', jsonPath: '.spec.replicas' },
      { name: 'Current', type: 'integer', jsonPath: '.status.replicas' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas' },
      AGE,
    ],
  },
  {
    kind: 'Node',
    served: {
      group: 'virtkit.io',
      kind: 'HypervisorNode',
      plural: 'hypervisornodes',
      singular: 'hypervisornode',
      shortNames: ['hvnode', 'hvnodes'],
    },
    printerColumns: [
      READY('node agent'),
      { name: 'Schedulable', type: 'string', jsonPath: ".metadata.labels['kubevirt\\.io/schedulable']" },
      { name: 'CPU', type: 'string', jsonPath: '.status.allocatable.cpu', priority: 1 },
      { name: 'Memory', type: 'string', jsonPath: '.status.allocatable.memory', priority: 1 },
      AGE,
    ],
    selectableFields: ['.spec.unschedulable'],
  },
];

function crd(s: CrdSpec): CustomResourceDefinition {
  const info = KINDS[s.kind];
  const group = s.served?.group ?? info.group;
  const kind = s.served?.kind ?? info.kind;
  const plural = s.served?.plural ?? info.plural;
  const top = KIND_SCHEMAS[s.kind as keyof typeof KIND_SCHEMAS];
  if (top.type !== 'object') throw new Error(`${s.kind}: the top-level schema must be an object`);
  const spec = top.fields.spec;
  if (!spec) throw new Error(`${s.kind}: no spec schema`);
  const statusProps: Record<string, JSONSchemaProps> = {};
  for (const [k, v] of Object.entries(s.statusFields ?? {})) statusProps[k] = openApiSchema(v);
  const openAPIV3Schema: JSONSchemaProps = {
    type: 'object',
    description: `${kind}: a ${info.group || 'core'}/${info.version} ${info.kind} as virtkit implements it (fields virtkit does not know are kept).`,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      // Object metadata is the apiserver's; a CRD schema may not constrain more than name/generateName.
      metadata: { type: 'object' },
      spec: openApiSchema(spec),
      status: Object.keys(statusProps).length
        ? { type: 'object', properties: statusProps, ...KEEP }
        : { type: 'object', ...KEEP },
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'virtkit' } },
    spec: {
      group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: s.served?.singular ?? info.singular,
        shortNames: s.served?.shortNames ?? [...info.shortNames],
        categories: s.served ? ['virtkit'] : ['all', 'kubevirt'],
      },
      scope: info.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: info.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: s.printerColumns,
          ...(s.selectableFields ? { selectableFields: s.selectableFields.map((jsonPath) => ({ jsonPath })) } : {}),
        },
      ],
    },
  };
}

/** Every CRD virtkit needs on a cluster, with the file name it is kept under in deploy/crds/. */
export function buildCrds(): { file: string; crd: CustomResourceDefinition }[] {
  return SPECS.map((s) => {
    const c = crd(s);
    return { file: `${c.spec.names.plural}.${c.spec.group}.yaml`, crd: c };
  });
}

export const GENERATED_HEADER =
  "# Generated by scripts/gen-crds.ts from the engine's supported-field table (KIND_SCHEMAS). Do not edit.\n";

/** The YAML text of one CRD as written to deploy/crds/. */
export function crdYaml(c: CustomResourceDefinition): string {
  return GENERATED_HEADER + stringify(c, { lineWidth: 0 });
}

/**
 * Problems that make a schema non-structural (apiextensions.k8s.io/v1 refuses those): a field without a
 * type (unless it keeps anything or is int-or-string), a type next to int-or-string, properties together
 * with additionalProperties, constraints on metadata beyond name and generateName. Empty when structural.
 */
export function structuralProblems(schema: JSONSchemaProps, path = ''): string[] {
  const out: string[] = [];
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const keeps = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (!schema.type && !intOrString && !keeps) out.push(`${path || '<root>'}: no type`);
  if (schema.type && intOrString) out.push(`${path}: int-or-string must not have a type`);
  if (schema.anyOf && !intOrString) out.push(`${path}: anyOf is only used for int-or-string here`);
  if (schema.properties && schema.additionalProperties) {
    out.push(`${path}: properties and additionalProperties together`);
  }
  if ((schema.properties || schema.additionalProperties) && schema.type !== 'object') {
    out.push(`${path}: properties on a non-object`);
  }
  if (schema.items && schema.type !== 'array') out.push(`${path}: items on a non-array`);
  if (schema.type === 'array' && !schema.items) out.push(`${path}: an array without items`);
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const p = path ? `${path}.${k}` : k;
    if (p === 'metadata' && (v.properties || v.additionalProperties)) {
      const extra = Object.keys(v.properties ?? {}).filter((f) => f !== 'name' && f !== 'generateName');
      if (extra.length || v.additionalProperties) out.push(`metadata: only name and generateName may be specified`);
    }
    out.push(...structuralProblems(v, p));
  }
  if (schema.additionalProperties) out.push(...structuralProblems(schema.additionalProperties, `${path}[*]`));
  if (schema.items) out.push(...structuralProblems(schema.items, `${path}[]`));
  for (const a of schema.anyOf ?? []) {
    if (a.properties || a.items || a.additionalProperties) out.push(`${path}: anyOf may not declare fields`);
  }
  return out;
}
