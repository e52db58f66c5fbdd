/** The transport-free request/response shapes of the API server, shared by node:http and msw handlers. */
import type { Clock, FieldCause, KubeObject, NodeDriverRegistry, ResourceStore } from '@virtkit/engine';
import type { WatchBufferLimits } from './watch-stream.ts';

export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. `/apis/kubevirt.io/v1/namespaces/default/virtualmachines`. */
  path: string;
  /** The query string (with or without `?`), parsed params, or a record. */
  query?: string | URLSearchParams | Record<string, string | undefined>;
  /** Header names in any case. */
  headers?: Record<string, string | string[] | undefined> | Headers;
  body?: string | Uint8Array;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** The full body (JSON or text). Absent for watches and empty responses. */
  body?: string;
  /**
   * A streamed body (a watch's newline-delimited JSON events, a console's lines), in batches, for as long as
   * it lasts. The transport must `cancel()` it when the client goes away.
   */
  stream?: ResponseStream;
}

/** A body produced over time and read at the client's pace. */
export interface ResponseStream {
  /** The next chunk (waiting for one), or `undefined` at the end. */
  next(): Promise<string | undefined>;
  /** The client went away: stop producing. */
  cancel(): void;
  /** Resolves if the stream gave up on a client that fell too far behind (it will not read its end). */
  readonly overflowed: Promise<void>;
}

/**
 * The VM verbs the subresources.kubevirt.io endpoints call; the engine's `VmActions` has this shape.
 * Each resolves once the request is recorded (not when the VM reached the new state), and throws
 * `IllegalTransitionError` when the VM's state does not allow it.
 */
export interface ApiActions {
  start(namespace: string, name: string, options?: { paused?: boolean }): Promise<unknown>;
  stop(namespace: string, name: string, options?: { gracePeriodSeconds?: number }): Promise<unknown>;
  restart(namespace: string, name: string, options?: { gracePeriodSeconds?: number }): Promise<unknown>;
  migrate(namespace: string, name: string, options?: { addedNodeSelector?: Record<string, string> }): Promise<unknown>;
  pause(namespace: string, name: string): Promise<unknown>;
  unpause(namespace: string, name: string): Promise<unknown>;
  softReboot(namespace: string, name: string): Promise<unknown>;
}

/**
 * Checks an object before it is stored: causes make the request fail with 422 Invalid (every cause listed);
 * warnings are sent back as `Warning` headers. The engine's `validateObject` has this shape.
 */
export type ObjectValidator = (obj: KubeObject) => { causes: FieldCause[]; warnings: string[] };

export interface ApiHandlerOptions {
  store: ResourceStore;
  actions?: ApiActions;
  /** The nodes' drivers, for the serial console subresource (absent: the console answers 503). */
  drivers?: NodeDriverRegistry;
  /** Bearer token clients must send. Absent: a random one. `false`: no authentication (tests, in-process use). */
  token?: string | false;
  /** Time for AGE columns and watch timeouts. Default: the real clock. */
  clock?: Clock;
  /** Largest accepted request body; larger ones get 413. Default 3 MiB, like the apiserver. */
  maxBodyBytes?: number;
  /** Per-watcher buffer bounds; a watcher that falls further behind is closed with 410. */
  watchLimits?: Partial<WatchBufferLimits>;
  /**
   * Recent events kept per kind by the shared watch (one store watch feeding all watchers of a kind);
   * watchers resuming within them are served from memory. Default 1024; 0 gives every watcher its own store
   * watch.
   */
  watchCacheEvents?: number;
  /** Validation on create/update/patch. Default: the engine's `validateObject`. `false`: none. */
  validate?: ObjectValidator | false;
  /** Apply KubeVirt's defaults on create/update/patch, as its mutating webhook does. Default true. */
  defaults?: boolean;
  /** `host:port` reported in `/api` (serverAddressByClientCIDRs). */
  serverAddress?: string;
}
