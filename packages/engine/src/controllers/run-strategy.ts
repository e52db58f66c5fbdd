/**
 * KubeVirt's run-strategy rules, as pure functions: what a VM's runStrategy and its pending state-change
 * requests mean for its VMI. Shared by the VM controller (acting) and the actions (admission).
 */
import type {
  RunStrategy,
  VirtualMachine,
  VirtualMachineInstance,
  VirtualMachineStateChangeRequest,
} from '../resources/kubevirt.ts';

/** `spec.runStrategy`, else the deprecated `spec.running` (true = Always, false = Halted), else Halted. */
export function runStrategyOf(vm: VirtualMachine): RunStrategy {
  if (vm.spec.runStrategy) return vm.spec.runStrategy;
  if (vm.spec.running === true) return 'Always';
  return 'Halted';
}

export function isFinal(vmi: VirtualMachineInstance | undefined): boolean {
  const p = vmi?.status?.phase;
  return p === 'Succeeded' || p === 'Failed';
}

export function firstRequest(vm: VirtualMachine): VirtualMachineStateChangeRequest | undefined {
  return vm.status?.stateChangeRequests?.[0];
}

export function hasStartRequest(vm: VirtualMachine): boolean {
  return firstRequest(vm)?.action === 'Start';
}

export function hasStopRequestFor(vm: VirtualMachine, vmi: VirtualMachineInstance): boolean {
  const r = firstRequest(vm);
  return r?.action === 'Stop' && r.uid !== undefined && r.uid === vmi.metadata.uid;
}

export type RunDecision =
  | { action: 'none' }
  | { action: 'start' }
  | { action: 'stop'; vmi: VirtualMachineInstance; restartAfter: boolean };

/**
 * KubeVirt's syncRunStrategy: given the VM and its VMI (if any), whether to create a VMI, delete the one
 * there is, or leave things be. `restartAfter` marks a deletion after which a start request is added
 * (RerunOnFailure after a failure), so the VM comes back even though its strategy starts nothing by itself.
 */
export function decide(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): RunDecision {
  const strategy = runStrategyOf(vm);
  const deleting = vmi?.metadata.deletionTimestamp !== undefined;
  switch (strategy) {
    case 'Always':
      if (vmi) {
        if (!deleting && (hasStopRequestFor(vm, vmi) || isFinal(vmi)))
          return { action: 'stop', vmi, restartAfter: false };
        return { action: 'none' };
      }
      return { action: 'start' };
    case 'RerunOnFailure':
      if (vmi) {
        const failed = vmi.status?.phase === 'Failed';
        const succeeded = vmi.status?.phase === 'Succeeded';
        if (!deleting && (hasStopRequestFor(vm, vmi) || failed || succeeded)) {
          return { action: 'stop', vmi, restartAfter: failed && !hasStopRequestFor(vm, vmi) };
        }
        return { action: 'none' };
      }
      // Started when asked to, or when the VM just came here from another strategy.
      if (!hasStartRequest(vm) && vm.status?.runStrategy === strategy) return { action: 'none' };
      return { action: 'start' };
    case 'Manual':
      if (vmi) {
        if (!deleting && hasStopRequestFor(vm, vmi)) return { action: 'stop', vmi, restartAfter: false };
        return { action: 'none' };
      }
      return hasStartRequest(vm) ? { action: 'start' } : { action: 'none' };
    case 'Halted':
      if (vmi) return deleting ? { action: 'none' } : { action: 'stop', vmi, restartAfter: false };
      return { action: 'none' };
    case 'Once':
      return vmi ? { action: 'none' } : { action: 'start' };
    default:
      return { action: 'none' };
  }
}

/** Requests that have been carried out and can be dropped from the head of the list (KubeVirt's rules). */
export function settledRequests(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): number {
  const reqs = vm.status?.stateChangeRequests ?? [];
  let n = 0;
  for (const r of reqs) {
    if (r.action === 'Stop') {
      // Done once that VMI is gone (or another one runs now).
      if (!vmi || (r.uid !== undefined && r.uid !== vmi.metadata.uid)) {
        n++;
        continue;
      }
      break;
    }
    // Start: done once a live VMI exists.
    if (
      vmi &&
      !vmi.metadata.deletionTimestamp &&
      !isFinal(vmi) &&
      !reqs.slice(0, n).some((x) => x.action === 'Start')
    ) {
      n++;
      continue;
    }
    break;
  }
  return n;
}
