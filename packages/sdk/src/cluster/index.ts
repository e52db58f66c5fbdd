// @virtkit/sdk/cluster — running virtkit on a Kubernetes cluster. Explicit exports only.

export { type Agent, type AgentOptions, startAgent } from './agent.ts';
export {
  AGENT_CONFIG_KIND,
  type AgentConfig,
  checkAgentConfig,
  parseAgentConfig,
  readAgentConfig,
} from './agent-config.ts';
export {
  AGENT_CERTIFICATE_ANNOTATION,
  AGENT_COMPONENT,
  AGENT_COMPONENT_LABEL,
  AGENT_ENDPOINT_ANNOTATION,
  AGENT_NODE_LABEL,
  AGENT_SELECTOR,
  AgentDirectory,
  type AgentDirectoryOptions,
  type AgentRegistration,
  type AgentRegistrationOptions,
  agentLeaseName,
  registerAgent,
} from './agent-registry.ts';
export { type Controller, type ControllerOptions, startController } from './controller.ts';
export {
  buildCrds,
  type CustomResourceDefinition,
  crdYaml,
  GENERATED_HEADER,
  type JSONSchemaProps,
  openApiSchema,
  QUANTITY_PATTERN,
  structuralProblems,
} from './crds.ts';
export { KubeApi, type KubeApiOptions, type KubeRequest, loadKubeConfig } from './kube-api.ts';
export {
  type ApiResource,
  CLUSTER_NODE_RESOURCE,
  KubernetesStore,
  type KubernetesStoreOptions,
} from './kubernetes-store.ts';
export { LeaderElector, type LeaderElectorOptions, microTime } from './leader-election.ts';
export {
  type NodeDriverServer,
  type NodeDriverServerOptions,
  serveNodeDriver,
} from './node-driver-server.ts';
export { CALL_METHODS, type CallMethod, fromWireError, toWireError, type WireError } from './node-rpc.ts';
export { type RemoteEndpoint, RemoteNodeDriver, type RemoteNodeDriverOptions } from './remote-node-driver.ts';
export { servingCertificate } from './serving-certificate.ts';
