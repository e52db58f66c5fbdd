import {
  InvalidSpecError,
  validateNode,
  validateObject,
  validateOrThrow,
  validateVirtualMachine,
  validateVirtualMachineInstanceMigration,
  validateVirtualMachineInstanceReplicaSet,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { causeAt, type Json, type JsonObject, migration, node, replicaSet, set, summary, vm } from './fixtures.ts';

const edit = (obj: JsonObject, edits: Record<string, Json | undefined>): JsonObject => {
  for (const [path, value] of Object.entries(edits)) set(obj, path, value);
  return obj;
};

describe('VirtualMachine', () => {
  const check = (edits: Record<string, Json | undefined>) => validateVirtualMachine(edit(vm(), edits));

  it('accepts a valid VM with every run strategy', () => {
    for (const runStrategy of ['Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once']) {
      expect(check({ 'spec.runStrategy': runStrategy })).toEqual({ causes: [], warnings: [] });
    }
  });

  it('rejects an unknown run strategy, listing the supported ones', () => {
    const r = check({ 'spec.runStrategy': 'Sometimes' });
    expect(summary(r)).toEqual(['spec.runStrategy FieldValueNotSupported']);
    expect(r.causes[0]?.message).toBe(
      'Unsupported value: "Sometimes": supported values: "Always", "Halted", "Manual", "RerunOnFailure", "Once"',
    );
  });

  it('rejects running together with runStrategy, with KubeVirt message, and warns that running is deprecated', () => {
    const r = check({ 'spec.running': true });
    expect(r.causes).toEqual([
      { field: 'spec.running', reason: 'FieldValueInvalid', message: 'Running and RunStrategy are mutually exclusive' },
    ]);
    const alias = check({ 'spec.running': false, 'spec.runStrategy': undefined });
    expect(alias.causes).toEqual([]);
    expect(alias.warnings).toEqual([
      'spec.running: deprecated, use spec.runStrategy (true means Always, false means Halted)',
    ]);
    expect(summary(check({ 'spec.running': 'yes', 'spec.runStrategy': undefined }))).toEqual([
      'spec.running FieldValueInvalid',
    ]);
  });

  it('accepts neither running nor runStrategy (defaulted to Halted)', () => {
    expect(check({ 'spec.runStrategy': undefined }).causes).toEqual([]);
  });

  it('requires a spec and a template', () => {
    expect(summary(check({ spec: undefined }))).toEqual(['spec FieldValueRequired']);
    const r = check({ 'spec.template': undefined });
    expect(r.causes).toEqual([
      { field: 'spec.template', reason: 'FieldValueRequired', message: 'missing virtual machine template.' },
    ]);
    expect(summary(check({ 'spec.template.spec': undefined }))).toEqual(['spec.template.spec FieldValueRequired']);
  });

  it('validates the template spec and metadata under spec.template', () => {
    const r = check({
      'spec.template.spec.domain.devices.disks.0.disk.bus': 'usb',
      'spec.template.spec.domain.memory.guest': '1Ki',
      'spec.template.metadata.labels': { 'kubevirt.io/vm': 'Bad Value' },
      'spec.template.spec.domain.features': { hyperv: {} },
    });
    expect(summary(r)).toEqual([
      'spec.template.spec.domain.devices.disks[0].disk.bus FieldValueNotSupported',
      'spec.template.metadata.labels[kubevirt.io/vm] FieldValueInvalid',
      'spec.template.spec.domain.memory.guest FieldValueInvalid',
    ]);
    expect(r.warnings).toEqual([
      'spec.template.spec.domain.features.hyperv: not supported by virtkit; kept in the stored object but has no effect',
    ]);
  });

  it('warns about instancetypes, preferences and data volume templates', () => {
    const r = check({
      'spec.instancetype': { name: 'u1.medium' },
      'spec.preference': { name: 'fedora' },
      'spec.dataVolumeTemplates': [],
    });
    expect(r.causes).toEqual([]);
    expect(r.warnings.map((w) => w.slice(0, w.indexOf(':')))).toEqual([
      'spec.instancetype',
      'spec.preference',
      'spec.dataVolumeTemplates',
    ]);
  });
});

describe('VirtualMachineInstanceMigration', () => {
  const check = (edits: Record<string, Json | undefined>) =>
    validateVirtualMachineInstanceMigration(edit(migration(), edits));

  it('accepts a valid migration', () => {
    expect(check({})).toEqual({ causes: [], warnings: [] });
    expect(check({ 'spec.addedNodeSelector': { 'topology.kubernetes.io/zone': 'b' } }).causes).toEqual([]);
  });

  it('requires spec.vmiName, a DNS-1123 subdomain', () => {
    expect(summary(check({ 'spec.vmiName': undefined }))).toEqual(['spec.vmiName FieldValueRequired']);
    expect(summary(check({ 'spec.vmiName': '' }))).toEqual(['spec.vmiName FieldValueRequired']);
    expect(summary(check({ 'spec.vmiName': 'VM_1' }))).toEqual(['spec.vmiName FieldValueInvalid']);
    expect(summary(check({ spec: undefined }))).toEqual(['spec FieldValueRequired']);
  });

  it('checks addedNodeSelector as labels and warns about unknown fields', () => {
    const r = check({ 'spec.addedNodeSelector': { zone: 'not ok' }, 'spec.sendTo': { connectURL: 'x' } });
    expect(summary(r)).toEqual(['spec.addedNodeSelector[zone] FieldValueInvalid']);
    expect(r.warnings).toEqual(['spec.sendTo: not supported by virtkit; kept in the stored object but has no effect']);
  });
});

describe('VirtualMachineInstanceReplicaSet', () => {
  const check = (edits: Record<string, Json | undefined>) =>
    validateVirtualMachineInstanceReplicaSet(edit(replicaSet(), edits));

  it('accepts a valid replica set', () => {
    expect(check({})).toEqual({ causes: [], warnings: [] });
    expect(check({ 'spec.replicas': 0 }).causes).toEqual([]);
  });

  it('requires replicas >= 0', () => {
    expect(summary(check({ 'spec.replicas': -1 }))).toEqual(['spec.replicas FieldValueInvalid']);
    expect(summary(check({ 'spec.replicas': '3' }))).toEqual(['spec.replicas FieldValueInvalid']);
  });

  it('requires a selector that matches the template labels', () => {
    expect(summary(check({ 'spec.selector': undefined }))).toEqual(['spec.selector FieldValueRequired']);
    expect(summary(check({ 'spec.selector': {} }))).toEqual(['spec.selector FieldValueInvalid']);
    const mismatch = check({ 'spec.selector.matchLabels.app': 'db' });
    expect(summary(mismatch)).toEqual(['spec.selector FieldValueInvalid']);
    expect(causeAt(mismatch, 'spec.selector')?.message).toMatch(/^selector does not match labels/);
    expect(summary(check({ 'spec.template.metadata': undefined }))).toEqual(['spec.selector FieldValueInvalid']);
  });

  it('evaluates matchExpressions like Kubernetes', () => {
    const expr = (matchExpressions: Json) => check({ 'spec.selector': { matchExpressions } });
    expect(expr([{ key: 'app', operator: 'In', values: ['web', 'api'] }]).causes).toEqual([]);
    expect(expr([{ key: 'tier', operator: 'NotIn', values: ['back'] }]).causes).toEqual([]);
    expect(expr([{ key: 'app', operator: 'Exists' }]).causes).toEqual([]);
    expect(expr([{ key: 'gpu', operator: 'DoesNotExist' }]).causes).toEqual([]);
    expect(summary(expr([{ key: 'tier', operator: 'NotIn', values: ['front'] }]))).toEqual([
      'spec.selector FieldValueInvalid',
    ]);
    expect(summary(expr([{ key: 'app', operator: 'In' }]))).toEqual([
      'spec.selector.matchExpressions[0].values FieldValueRequired',
    ]);
    expect(summary(expr([{ key: 'app', operator: 'Exists', values: ['x'] }]))).toEqual([
      'spec.selector.matchExpressions[0].values FieldValueForbidden',
    ]);
    expect(summary(expr([{ key: 'app', operator: 'Gt', values: ['1'] }]))).toEqual([
      'spec.selector.matchExpressions[0].operator FieldValueNotSupported',
    ]);
    expect(summary(expr([{ operator: 'Exists' }]))).toEqual([
      'spec.selector.matchExpressions[0].key FieldValueRequired',
    ]);
  });

  it('requires and validates the template', () => {
    expect(summary(check({ 'spec.template': undefined }))).toEqual(['spec.template FieldValueRequired']);
    expect(summary(check({ 'spec.template.spec.volumes': [] }))).toEqual([
      'spec.template.spec.domain.devices.disks[0].name FieldValueInvalid',
      'spec.template.spec.domain.devices.disks[1].name FieldValueInvalid',
    ]);
  });
});

describe('Node', () => {
  const check = (edits: Record<string, Json | undefined>) => validateNode(edit(node(), edits));

  it('accepts a valid node; a namespace is ignored on a cluster-scoped kind', () => {
    expect(check({})).toEqual({ causes: [], warnings: [] });
    expect(check({ 'metadata.namespace': 'Whatever' }).causes).toEqual([]);
  });

  it('checks apiVersion and name', () => {
    expect(summary(check({ apiVersion: 'kubevirt.io/v1', 'metadata.name': 'Node_1' }))).toEqual([
      'apiVersion FieldValueNotSupported',
      'metadata.name FieldValueInvalid',
    ]);
  });

  it('checks taints', () => {
    const r = check({
      'spec.taints': [
        { key: 'a', effect: 'NoSchedule' },
        { key: 'a', effect: 'NoSchedule' },
        { key: 'b' },
        { effect: 'NoExecute' },
        { key: 'c', effect: 'Maybe', value: '-bad-' },
      ],
    });
    expect(summary(r)).toEqual([
      'spec.taints[4].effect FieldValueNotSupported',
      'spec.taints[1] FieldValueDuplicate',
      'spec.taints[2].effect FieldValueRequired',
      'spec.taints[3].key FieldValueRequired',
      'spec.taints[4].value FieldValueInvalid',
    ]);
  });

  it('checks capacity and allocatable quantities and warns about unsupported spec fields', () => {
    const r = check({
      'status.capacity.memory': '8 GB',
      'status.allocatable.cpu': '-1',
      'spec.podCIDR': '10.0.0.0/24',
    });
    expect(summary(r)).toEqual([
      'status.capacity[memory] FieldValueInvalid',
      'status.allocatable[cpu] FieldValueInvalid',
    ]);
    expect(r.warnings).toEqual(['spec.podCIDR: not supported by virtkit; kept in the stored object but has no effect']);
  });
});

describe('validateObject and validateOrThrow', () => {
  it('dispatch on kind', () => {
    expect(validateObject(vm()).causes).toEqual([]);
    expect(validateObject(node()).causes).toEqual([]);
    expect(
      validateObject({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e.1' }, involvedObject: {} }).causes,
    ).toEqual([]);
    expect(
      summary(validateObject({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'Bad_Lease' } })),
    ).toEqual(['metadata.name FieldValueInvalid']);
  });

  it('reject unknown or missing kinds', () => {
    const r = validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } });
    expect(summary(r)).toEqual(['kind FieldValueNotSupported']);
    expect(r.causes[0]?.message).toMatch(/^Unsupported value: "Pod": supported values: "VirtualMachine", /);
    expect(summary(validateObject({ metadata: { name: 'p' } }))).toEqual(['kind FieldValueRequired']);
    expect(summary(validateObject(null))).toEqual(['kind FieldValueRequired']);
  });

  it('validate against an expected kind when one is given', () => {
    expect(summary(validateObject(vm(), 'VirtualMachineInstance'))).toContain('kind FieldValueInvalid');
    expect(() => validateOrThrow(vm(), 'VirtualMachineInstanceMigration')).toThrow(InvalidSpecError);
  });

  it('name the kind and object in the thrown error', () => {
    const obj = edit(vm(), { 'spec.runStrategy': 'Nope' });
    expect(() => validateOrThrow(obj)).toThrow(
      'VirtualMachine "vm1" is invalid: spec.runStrategy: Unsupported value: "Nope": supported values: "Always", "Halted", "Manual", "RerunOnFailure", "Once"',
    );
  });
});
