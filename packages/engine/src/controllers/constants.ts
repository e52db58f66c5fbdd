/** Names of finalizers, labels, annotations and condition types the controllers read and write. */

/** On VMs: the VM controller cleans up its VMI before the VM goes. (KubeVirt's name.) */
export const VM_FINALIZER = 'kubevirt.io/virtualMachineControllerFinalize';
/** On VMIs: the domain is destroyed and undefined on its node(s) before the VMI goes. (KubeVirt's name.) */
export const VMI_FINALIZER = 'foregroundDeleteVirtualMachine';

/** Node label: whether VMIs may be scheduled there (KubeVirt's virt-handler sets it). */
export const LABEL_SCHEDULABLE = 'kubevirt.io/schedulable';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
/** VMI label naming the node it runs on (KubeVirt's). */
export const LABEL_NODE_NAME = 'kubevirt.io/nodeName';
/** Node annotation present when the node can only run guests under TCG software emulation; value: why. */
export const ANNOTATION_SOFTWARE_EMULATION = 'virtkit.io/software-emulation';
/** Node annotation: a drain was requested at this time (the drain is level-triggered from it). */
export const ANNOTATION_DRAIN = 'virtkit.io/drain-requested';

/** VMI annotation: `'true'` while the user wants the guest paused. */
export const ANNOTATION_PAUSE = 'virtkit.io/pause-requested';
/** VMI annotation: id of the latest soft-reboot request; handled once per id. */
export const ANNOTATION_SOFT_REBOOT = 'virtkit.io/soft-reboot-requested';
/** VMI annotation: the VM's metadata.generation the VMI was made from (KubeVirt's name). */
export const ANNOTATION_VM_GENERATION = 'kubevirt.io/vm-generation';
/** VMI annotation: the VMI was evicted (drain) and its VM should start it again elsewhere. */
export const ANNOTATION_EVICTED = 'virtkit.io/evicted';

/** Taints the node controller keeps in step with the Ready condition (as Kubernetes' node lifecycle controller). */
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** Condition types. */
export const COND_READY = 'Ready';
export const COND_PAUSED = 'Paused';
export const COND_LIVE_MIGRATABLE = 'LiveMigratable';
export const COND_SOFTWARE_EMULATION = 'SoftwareEmulation';
/** VMI condition mirroring the virt-launcher pod's PodScheduled (Unschedulable reason carries the message). */
export const COND_POD_SCHEDULED = 'PodScheduled';
/** Set on a VMI whose finalizer was released without confirming the domain is gone (dead node). */
export const COND_DOMAIN_CLEANUP = 'DomainCleanupSkipped';
export const COND_FAILURE = 'Failure';
/** VM condition: the template changed while a VMI made from an older one runs. */
export const COND_RESTART_REQUIRED = 'RestartRequired';
