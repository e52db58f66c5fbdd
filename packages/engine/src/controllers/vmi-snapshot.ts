/** Reading a VMI's persisted lifecycle snapshot (for admission checks outside the VMI controller). */
import { restoreSnapshot } from '../lifecycle/persistence.ts';
import type { LifecycleSnapshot } from '../lifecycle/snapshot.ts';
import type { VirtualMachineInstance } from '../resources/kubevirt.ts';
import { virtkitOf } from './vmi-status.ts';

/** The VMI's machine as last persisted, or undefined when it has none (yet) or it is unreadable. */
export function snapshotFromStatus(vmi: VirtualMachineInstance): LifecycleSnapshot | undefined {
  const p = virtkitOf(vmi)?.lifecycle;
  if (!p) return undefined;
  try {
    return restoreSnapshot(p);
  } catch {
    return undefined;
  }
}
