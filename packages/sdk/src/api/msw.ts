/**
 * In-process use of the API without a listening port: msw request handlers, and an interceptor that
 * answers every HTTP request to a base URL — whatever the client (node:http, global fetch, or undici as
 * `@kubernetes/client-node` 2.x uses it, which msw's own `setupServer` does not see).
 */
import { HttpRequestInterceptor } from '@mswjs/interceptors/http';
import { type HttpHandler, http } from 'msw';
import { fromFetchRequest, toFetchResponse } from './fetch.ts';
import { type ApiHandler, createApiHandler } from './handler.ts';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
import type { ApiHandlerOptions } from './types.ts';

/** The base URL in-process clients address when none is given. Nothing listens there. */
export const DEFAULT_IN_PROCESS_URL = 'http://virtkit.localhost:6443';

export interface InProcessOptions extends ApiHandlerOptions {
  /** Origin (scheme, host, port) the handlers answer for. Default `DEFAULT_IN_PROCESS_URL`. */
  baseUrl?: string;
}

function originOf(baseUrl: string | undefined): string {
  return new URL(baseUrl ?? DEFAULT_IN_PROCESS_URL).origin;
}

/**
 * msw handlers serving the API for `baseUrl`, for `setupServer(...)` (global fetch, node:http clients) or
 * any other msw integration. Authentication is off unless a `token` is given.
 */
export function createMswHandlers(options: InProcessOptions): HttpHandler[] {
  const handler = createApiHandler({ ...options, token: options.token ?? false });
  return [
    http.all(`${originOf(options.baseUrl)}/*`, async ({ request }) =>
      toFetchResponse(await handler.handleRequest(await fromFetchRequest(request))),
    ),
  ];
}

export interface InterceptedApi {
  /** The base URL clients should use. */
  readonly url: string;
  /** Bearer token clients must send; undefined when authentication is off (the default here). */
  readonly token: string | undefined;
  readonly handler: ApiHandler;
  /** Kubeconfig text for `url` (context `virtkit`); written (mode 0600) when a path is given. */
  kubeconfig(path?: string): Promise<string>;
  /** Stops intercepting; open watches end. */
  dispose(): void;
}

/**
 * Answers HTTP requests to `baseUrl` in-process until disposed; other requests pass through untouched.
 * Works with `@kubernetes/client-node` 2.x (undici), global fetch and node:http alike.
 */
export function interceptApi(options: InProcessOptions): InterceptedApi {
  const origin = originOf(options.baseUrl);
  const handler = createApiHandler({ ...options, token: options.token ?? false });
  const interceptor = new HttpRequestInterceptor();
  interceptor.on('request', async ({ request, controller }) => {
    if (new URL(request.url).origin !== origin) return;
    controller.respondWith(toFetchResponse(await handler.handleRequest(await fromFetchRequest(request))));
  });
  interceptor.apply();
  return {
    url: origin,
    token: handler.token,
    handler,
    kubeconfig: (path) =>
      path === undefined
        ? Promise.resolve(kubeconfigYaml({ server: origin, token: handler.token }))
        : writeKubeconfig(path, { server: origin, token: handler.token }),
    dispose() {
      handler.closeWatches();
      interceptor.dispose();
    },
  };
}
