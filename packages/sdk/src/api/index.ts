// The Kubernetes-compatible API server: over node:http, or in-process through msw handlers / an interceptor.
export { DEFAULT_MAX_BODY_BYTES } from './body.ts';
export { VERSION_INFO } from './discovery.ts';
export { type ApiHandler, createApiHandler } from './handler.ts';
export { type KubeconfigOptions, kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
export {
  createMswHandlers,
  DEFAULT_IN_PROCESS_URL,
  type InProcessOptions,
  type InterceptedApi,
  interceptApi,
} from './msw.ts';
export { type ApiServer, type ApiServerOptions, createApiServer } from './server.ts';
export type { Status, StatusCause, StatusDetails } from './status.ts';
export { createServingCertificate, type ServingCertificate } from './tls.ts';
export type { ApiActions, ApiHandlerOptions, ApiRequest, ApiResponse, ObjectValidator } from './types.ts';
export { DEFAULT_WATCH_LIMITS, type WatchBufferLimits, WatchStream } from './watch-stream.ts';
