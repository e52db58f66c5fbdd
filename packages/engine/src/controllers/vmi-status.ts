/** Pure helpers of the VMI controller: what a VMI status says, live-migratability, requests. */

import type { PersistedLifecycle } from '../lifecycle/persistence.ts';
import type { LifecycleSnapshot } from '../lifecycle/snapshot.ts';
import { migrationPhase, printableStatus, stateName } from '../lifecycle/status.ts';
import type { Node } from '../resources/core.ts';
import type { MigrationPhase, PrintableStatus, VirtualMachineInstance } from '../resources/kubevirt.ts';

/** The layout of `status.virtkit` on a VMI (written only by the VMI controller). */
export interface VmiVirtkitStatus {
  /** The lifecycle machine's leaf state, e.g. `running.ready`. */
  state: string;
  /** What a VM owning this VMI shows while it exists (`Running`, `Migrating`, `ErrorUnschedulable` ...). */
  printableStatus: PrintableStatus;
  lifecycle: PersistedLifecycle;
  /** Id of the last soft-reboot request acted on. */
  rebootHandled?: string;
  /** The current or last migration as the machine sees it. */
  migration?: { name: string; phase: MigrationPhase; reason?: string };
  /** A migration the machine refused (e.g. the VM was paused), for the migration controller to fail. */
  migrationRejected?: { name: string; message: string };
  /** The scheduler's last word while unschedulable. */
  unschedulable?: string;
}

export function virtkitOf(vmi: VirtualMachineInstance | undefined): Partial<VmiVirtkitStatus> | undefined {
  return vmi?.status?.virtkit as Partial<VmiVirtkitStatus> | undefined;
}

export function isFinalPhase(vmi: VirtualMachineInstance | undefined): boolean {
  const p = vmi?.status?.phase;
  return p === 'Succeeded' || p === 'Failed';
}

export function domainId(vmi: VirtualMachineInstance): string {
  return `${vmi.metadata.namespace}_${vmi.metadata.name}`;
}

/** Why the VMI cannot live-migrate (KubeVirt's LiveMigratable=False reasons), or undefined when it can. */
export function notMigratableReason(vmi: VirtualMachineInstance): { reason: string; message: string } | undefined {
  const spec = vmi.spec;
  for (const v of spec.volumes ?? []) {
    if (v.hostDisk && !v.hostDisk.shared) {
      return {
        reason: 'HostDiskNotLiveMigratable',
        message: `hostDisk volume ${v.name} is local to the node and not shared`,
      };
    }
  }
  const podNetworks = new Set((spec.networks ?? []).filter((n) => n.pod).map((n) => n.name));
  for (const i of spec.domain.devices.interfaces ?? []) {
    if (i.bridge && podNetworks.has(i.name)) {
      return {
        reason: 'InterfaceNotLiveMigratable',
        message: `cannot migrate VMI which does not use masquerade to connect to the pod network (${i.name})`,
      };
    }
    if (i.sriov) return { reason: 'InterfaceNotLiveMigratable', message: `SR-IOV interface ${i.name} cannot migrate` };
  }
  return undefined;
}

export function statusSummary(snapshot: LifecycleSnapshot) {
  const phase = migrationPhase(snapshot);
  return {
    state: stateName(snapshot),
    printableStatus: printableStatus(snapshot),
    migration:
      snapshot.context.migration && phase
        ? {
            name: snapshot.context.migration.name,
            phase,
            // Why it was aborted (a timeout, a cancel) says more than the driver's "aborted".
            ...((snapshot.context.migration.abortReason ?? snapshot.context.migration.failureReason) !== undefined
              ? {
                  reason: (snapshot.context.migration.abortReason ??
                    snapshot.context.migration.failureReason) as string,
                }
              : {}),
          }
        : undefined,
  };
}

export function nodeIsLost(node: Node | undefined): boolean {
  if (!node) return true;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready !== undefined && ready.status !== 'True';
}
