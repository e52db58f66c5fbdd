/** The registry of kinds the store and the API server know, with their REST names and scope. */
import type { Event, Lease, Node } from './core.ts';
import type {
  VirtualMachine,
  VirtualMachineInstance,
  VirtualMachineInstanceMigration,
  VirtualMachineInstanceReplicaSet,
} from './kubevirt.ts';

export interface KindMap {
  VirtualMachine: VirtualMachine;
  VirtualMachineInstance: VirtualMachineInstance;
  VirtualMachineInstanceMigration: VirtualMachineInstanceMigration;
  VirtualMachineInstanceReplicaSet: VirtualMachineInstanceReplicaSet;
  Node: Node;
  Event: Event;
  Lease: Lease;
}

export type Kind = keyof KindMap;

export interface KindInfo {
  kind: Kind;
  group: string;
  version: string;
  apiVersion: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Whether `status` is a subresource (written only through updateStatus). */
  hasStatus: boolean;
}

const k = (
  kind: Kind,
  group: string,
  plural: string,
  shortNames: string[],
  namespaced: boolean,
  hasStatus = true,
): KindInfo => ({
  kind,
  group,
  version: 'v1',
  apiVersion: group ? `${group}/v1` : 'v1',
  plural,
  singular: kind.toLowerCase(),
  shortNames,
  namespaced,
  hasStatus,
});

export const KINDS: Readonly<Record<Kind, KindInfo>> = {
  VirtualMachine: k('VirtualMachine', 'kubevirt.io', 'virtualmachines', ['vm', 'vms'], true),
  VirtualMachineInstance: k('VirtualMachineInstance', 'kubevirt.io', 'virtualmachineinstances', ['vmi', 'vmis'], true),
  VirtualMachineInstanceMigration: k(
    'VirtualMachineInstanceMigration',
    'kubevirt.io',
    'virtualmachineinstancemigrations',
    ['vmim', 'vmims'],
    true,
  ),
  VirtualMachineInstanceReplicaSet: k(
    'VirtualMachineInstanceReplicaSet',
    'kubevirt.io',
    'virtualmachineinstancereplicasets',
    ['vmirs', 'vmirss'],
    true,
  ),
  Node: k('Node', '', 'nodes', ['no'], false),
  Event: k('Event', '', 'events', ['ev'], true, false),
  Lease: k('Lease', 'coordination.k8s.io', 'leases', [], true, false),
};

export function kindInfo(kind: string): KindInfo | undefined {
  return Object.hasOwn(KINDS, kind) ? KINDS[kind as Kind] : undefined;
}
