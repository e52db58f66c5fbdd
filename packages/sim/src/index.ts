// @virtkit/sim — simulated nodes, timing, faults and console. Explicit exports only.

export { CALIBRATION, type CalibratedFigure, type Calibration, calibratedDist } from './calibration.ts';
export { type GuestIdentity, guestIdentity, userDataHostname } from './cloud-init.ts';
export { ConsoleLog } from './console-log.ts';
export {
  CONSOLE_BACKLOG_LINES,
  DEFAULT_CAPACITY,
  DEFAULT_DISK_BYTES,
  DEFAULT_IMAGES,
  DEFAULT_TIMING,
  DEFAULT_UNKNOWN_IMAGE,
  NO_IMAGE_GUEST,
  type SimImage,
  TEST_GUEST_IMAGE,
  type TimingProfile,
} from './defaults.ts';
export { centre, type Dist, sample, validateDist } from './distributions.ts';
export { CONTROL_PLANE, SimFabric, type SimFabricOptions } from './fabric.ts';
export {
  describeFault,
  type FaultKind,
  type FaultRecord,
  type FaultTiming,
  type MigrationPhase,
  type NodeFault,
} from './faults.ts';
export { bootScript, heartbeatLine, kernelStamp, panicLines, READY_PREFIX, readyLine } from './guest-script.ts';
export { GuestTimers } from './guest-timers.ts';
export { absolutePathError, type HostDiskLayout, type HostDiskOutcome, HostDisks } from './host-disks.ts';
export {
  canSwitchOver,
  dirtiedBytes,
  type PlannedRound,
  type PrecopyPlanInput,
  planPrecopy,
  sendMs,
} from './migration-model.ts';
export { cpuToMillis, formatBytes, memoryToBytes, parseQuantity } from './quantity.ts';
export { type DomainSize, domainSize, imageRepository, imagesOf } from './resources.ts';
export { Rng, type Seed } from './rng.ts';
export {
  type SimEngineHandle,
  type SimEngineWiring,
  SimEnv,
  type SimEnvNodeSpec,
  type SimEnvOptions,
  type SimNodeDefaults,
  type WaitOptions,
} from './sim-env.ts';
export { SIM_ANNOTATIONS, SIM_VERSION, SimNode, type SimNodeOptions } from './sim-node.ts';
export { formatOffset, Trace, type TraceEntry, type TraceKind, type TraceOptions } from './trace.ts';
