// @virtkit/sim/contract — the NodeDriver contract suite: scenarios as data, a runner for any pair of
// drivers, trace comparison, the simulator as a target and the golden trace recorded from the real agent.

export { compareContractTraces, type Divergence, formatDivergences, outcomeText } from './compare.ts';
export {
  CONTRACT_GUEST,
  CONTRACT_NAMESPACE,
  contractDefinition,
  contractDomainId,
  contractUid,
} from './definitions.ts';
export { goldenTrace, goldenTracePath } from './golden.ts';
export { collapseSamples, eventText, infoText, Naming } from './normalise.ts';
export { type RunContractOptions, runContract, stepLabel, UNKNOWN_NODE } from './runner.ts';
export {
  CONTRACT_DATA_DISK_BYTES,
  CONTRACT_DATA_DISK_IMAGE,
  CONTRACT_HOST_DISK_LINKS,
  CONTRACT_HOST_DISK_ROOT,
  CONTRACT_MAX_VMS,
  CONTRACT_SCENARIOS,
} from './scenarios.ts';
export { type SimContractTargetOptions, simContractTarget } from './sim-target.ts';
export { clockTime, virtualTime } from './time.ts';
export { formatContractTrace } from './trace-format.ts';
export {
  CONTRACT_TIMEOUT,
  type ContractGuest,
  type ContractHostDisk,
  type ContractNode,
  type ContractPair,
  type ContractScenario,
  type ContractStep,
  type ContractTarget,
  type ContractTargetNode,
  type ContractTime,
  type ContractTrace,
  type ContractVm,
  type DefinitionVariant,
  type EventRecord,
  type LifecycleText,
  type ScenarioTrace,
  type StepOutcome,
  type StepRecord,
  type WaitTarget,
} from './types.ts';
