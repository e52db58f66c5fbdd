/** Core v1 kinds the engine stores: Node, Event, and coordination.k8s.io Lease. */
import type { Condition, KubeObject } from './meta.ts';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface NodeSpec {
  unschedulable?: boolean;
  taints?: Taint[];
  providerID?: string;
}

export interface NodeStatus {
  /** Quantities, e.g. `{ cpu: '4', memory: '8Gi', 'devices.kubevirt.io/kvm': '1k' }`. */
  capacity?: Record<string, string>;
  allocatable?: Record<string, string>;
  conditions?: Condition[];
  nodeInfo?: Record<string, string>;
  addresses?: { type: string; address: string }[];
}

export interface Node extends KubeObject {
  apiVersion: 'v1';
  kind: 'Node';
  spec?: NodeSpec;
  status?: NodeStatus;
}

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface Event extends KubeObject {
  apiVersion: 'v1';
  kind: 'Event';
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  type?: 'Normal' | 'Warning';
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  /** MicroTime of the occurrence, set by events.k8s.io/v1 writers instead of the timestamps above. */
  eventTime?: string;
  source?: { component?: string; host?: string };
}

export interface Lease extends KubeObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}
