// Valid objects of every kind, as fresh JSON each call, and helpers to mutate them by path.
import type { FieldCause, ValidationResult } from '@virtkit/engine';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function vmiSpec(): JsonObject {
  return {
    domain: {
      cpu: { cores: 2, sockets: 1, threads: 1 },
      memory: { guest: '128Mi' },
      resources: { requests: { memory: '128Mi', cpu: '500m' }, limits: { memory: '256Mi', cpu: '2' } },
      devices: {
        disks: [
          { name: 'root', disk: { bus: 'virtio' }, bootOrder: 1 },
          { name: 'cloudinit', disk: {} },
        ],
        interfaces: [{ name: 'default', masquerade: {} }],
      },
    },
    networks: [{ name: 'default', pod: {} }],
    volumes: [
      { name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:40' } },
      { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\npassword: x\n' } },
    ],
    terminationGracePeriodSeconds: 30,
  };
}

export function vmi(): JsonObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm1', namespace: 'default', labels: { app: 'web' }, annotations: { note: 'x' } },
    spec: vmiSpec(),
  };
}

export function vm(): JsonObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: 'vm1', namespace: 'default' },
    spec: { runStrategy: 'Always', template: { metadata: { labels: { app: 'web' } }, spec: vmiSpec() } },
  };
}

export function replicaSet(): JsonObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceReplicaSet',
    metadata: { name: 'rs1', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web', tier: 'front' } }, spec: vmiSpec() },
    },
  };
}

export function migration(): JsonObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name: 'mig1', namespace: 'default' },
    spec: { vmiName: 'vm1' },
  };
}

export function node(): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
    spec: { taints: [{ key: 'dedicated', value: 'vms', effect: 'NoSchedule' }] },
    status: { capacity: { cpu: '4', memory: '8Gi' }, allocatable: { cpu: '3500m', memory: '7Gi' } },
  };
}

/**
 * Sets `path` (dots; numeric parts index arrays) to `value` in `obj` and returns `obj`; `undefined`
 * deletes the field. Intermediate objects are created as needed.
 */
export function set(obj: JsonObject, path: string, value: Json | undefined): JsonObject {
  const parts = path.split('.');
  let cur: Json = obj;
  for (const part of parts.slice(0, -1)) {
    const container = cur as Record<string, Json>;
    if (container[part] === undefined || container[part] === null) container[part] = {};
    cur = container[part] as Json;
  }
  const last = parts[parts.length - 1] as string;
  const container = cur as Record<string, Json>;
  if (value === undefined) {
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else delete container[last];
  } else container[last] = value;
  return obj;
}

/** `field reason` of every cause, for compact assertions. */
export const summary = (r: ValidationResult): string[] => r.causes.map((c) => `${c.field} ${c.reason}`);

export function causeAt(r: ValidationResult, field: string): FieldCause | undefined {
  return r.causes.find((c) => c.field === field);
}
